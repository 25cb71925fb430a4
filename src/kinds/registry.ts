import { limits } from '../core/limits.js';
import type { RuleBudget } from '../content/recurrence-budget.js';
import { kindNamePattern, kindNameRule } from '../protocol/collections.js';
import { contactsKind } from './contacts.js';
import { eventsKind } from './events.js';
import type { ContentCheck, Kind } from './kind.js';
import { mailKind } from './mail.js';
import { notesKind } from './notes.js';
import { tasksKind } from './tasks.js';

/**
 * The kinds this server holds (docs/design.md § Kinds). The hub and the faces reach a kind only through
 * here, so a new kind is a module registered at start-up, with no change to the hub: the store keeps any
 * registered kind's name, and a collection can be made of it as soon as it is registered.
 */

const registered = new Map<string, Kind>();

/** Adds a kind; its name must be new and a valid kind name (protocol/collections.ts kindNamePattern). */
export function registerKind(kind: Kind): void {
  if (!kindNamePattern.test(kind.name)) throw new Error(`kind name ${JSON.stringify(kind.name)}: ${kindNameRule}`);
  if (registered.has(kind.name)) throw new Error(`a kind named ${kind.name} is already registered`);
  registered.set(kind.name, kind);
}

for (const kind of [contactsKind, eventsKind, tasksKind, notesKind, mailKind]) registerKind(kind);

/** The kind of that name, or undefined when none is registered (a collection made while a kind's module was, say). */
export const findKind = (name: string): Kind | undefined => registered.get(name);

/** The kind of that name; for names a collection row carries, which were registered when it was made. */
export function kindOf(name: string): Kind {
  const kind = registered.get(name);
  if (kind === undefined) throw new Error(`no kind named ${name} is registered`);
  return kind;
}

/** Every registered kind's name, in the order they were registered. */
export const kindNames = (): string[] => [...registered.keys()];

/**
 * Whether `data` is acceptable as an item of one of `kinds` (a collection's kind, or the kinds of the
 * collections one CalDAV calendar holds), and its index. The size cap holds for every kind and is
 * checked before any parsing; the rest is the kinds' format's (they must share one).
 */
export function checkItem(kinds: string | readonly string[], data: string, budget?: RuleBudget): ContentCheck {
  const names = typeof kinds === 'string' ? [kinds] : kinds;
  const bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > limits.itemBytesMax) return { ok: false, status: 'itemTooLarge', message: `item is ${bytes} bytes; the limit is ${limits.itemBytesMax}` };
  const missing = names.find((n) => !registered.has(n));
  if (missing !== undefined) return { ok: false, status: 'wrongKind', message: `this server holds no kind named ${missing}` };
  const format = kindOf(names[0] as string).format;
  if (names.some((n) => kindOf(n).format !== format)) throw new Error(`kinds ${names.join(', ')} do not share one format`);
  return format.check(names, data, budget);
}
