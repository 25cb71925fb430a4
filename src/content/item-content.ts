import ICAL from 'ical.js';
import { RuleBudgetExceeded, withinRuleBudget } from './recurrence-budget.js';
import type { CollectionKind } from '../protocol/collections.js';
import type { StatusCode } from '../protocol/errors.js';
import { limits } from '../core/limits.js';
import { normalizeEmail, normalizeName, normalizePhone, type MatchKeys } from '../core/twins.js';

/**
 * Validation and indexing of vCard and iCalendar objects. The original text is what the hub stores and
 * serves, byte for byte; this module only decides whether it is acceptable and extracts the few fields
 * the hub indexes (UID, a title, and the time span used by date-range filters).
 */

export interface ItemIndex extends MatchKeys {
  uid: string | null;
  title: string;
  /** Epoch ms span for events/tasks/notes; null bounds mean "open". Contacts have none. */
  startMs: number | null;
  endMs: number | null;
}

export type ContentCheck = { ok: true; index: ItemIndex } | { ok: false; status: StatusCode; message: string };

const componentOfKind: Record<Exclude<CollectionKind, 'contacts'>, string> = {
  events: 'vevent',
  tasks: 'vtodo',
  notes: 'vjournal',
};

// Control characters other than TAB, LF and CR are never valid in vCard/iCalendar text and cannot be
// carried in XML 1.0 either; nor can U+FFFE, U+FFFF or an unpaired surrogate (which also could not be
// stored as UTF-8 byte for byte). A JSON client could otherwise store an item no XML client can sync.
const forbiddenControls = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function reject(status: StatusCode, message: string): ContentCheck {
  return { ok: false, status, message };
}

export function checkItemContent(kind: CollectionKind, data: string): ContentCheck {
  const bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > limits.itemBytesMax) return reject('itemTooLarge', `item is ${bytes} bytes; the limit is ${limits.itemBytesMax}`);
  if (forbiddenControls.test(data)) return reject('invalidItem', 'item contains control characters or characters XML cannot carry');
  let lineStart = 0;
  for (let i = data.indexOf('\n'); ; i = data.indexOf('\n', i + 1)) {
    const end = i === -1 ? data.length : i;
    // A UTF-16 unit is at most 3 UTF-8 bytes, so only long lines need their bytes counted.
    if ((end - lineStart) * 3 > limits.itemLineBytesMax && Buffer.byteLength(data.slice(lineStart, end), 'utf8') > limits.itemLineBytesMax) {
      return reject('invalidItem', `a line is longer than ${limits.itemLineBytesMax} bytes`);
    }
    if (i === -1) break;
    lineStart = i + 1;
  }
  let jcal: unknown;
  try {
    jcal = ICAL.parse(data);
  } catch (err) {
    return reject('invalidItem', `cannot parse: ${(err as Error).message}`);
  }
  if (!Array.isArray(jcal) || typeof jcal[0] !== 'string') {
    return reject('invalidItem', 'expected exactly one vCard or VCALENDAR object');
  }
  const root = new ICAL.Component(jcal as unknown as [string, unknown[], unknown[]]);
  return kind === 'contacts' ? checkVcard(root) : checkCalendar(root, componentOfKind[kind]);
}

function checkVcard(card: ICAL.Component): ContentCheck {
  if (card.name !== 'vcard') return reject('wrongKind', `a contacts collection holds vCards, not ${card.name.toUpperCase()}`);
  const version = card.getFirstPropertyValue('version');
  if (version !== '3.0' && version !== '4.0') return reject('invalidItem', 'vCard VERSION must be 3.0 or 4.0');
  const fn = card.getFirstPropertyValue('fn');
  if (typeof fn !== 'string') return reject('invalidItem', 'vCard has no FN property');
  const uid = card.getFirstPropertyValue('uid');
  const contactKeys = [
    ...card.getAllProperties('email').map((p) => normalizeEmail(String(p.getFirstValue() ?? ''))),
    ...card.getAllProperties('tel').map((p) => normalizePhone(String(p.getFirstValue() ?? ''))),
  ].filter((k): k is string => k !== null);
  const index = { uid: typeof uid === 'string' && uid !== '' ? uid : null, title: fn, startMs: null, endMs: null };
  return { ok: true, index: { ...index, name: normalizeName(fn), contactKeys: [...new Set(contactKeys)] } };
}

function checkCalendar(calendar: ICAL.Component, wanted: string): ContentCheck {
  if (calendar.name !== 'vcalendar') return reject('wrongKind', `expected VCALENDAR, got ${calendar.name.toUpperCase()}`);
  const components = calendar.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  if (components.length === 0) return reject('invalidItem', 'VCALENDAR holds no component');
  const names = new Set(components.map((c) => c.name));
  if (names.size !== 1 || !names.has(wanted)) {
    return reject('wrongKind', `this collection holds ${wanted.toUpperCase()}, got ${[...names].join(', ').toUpperCase()}`);
  }
  const uids = new Set(components.map((c) => c.getFirstPropertyValue('uid')));
  const uid = [...uids][0];
  if (uids.size !== 1 || typeof uid !== 'string' || uid === '') {
    return reject('invalidItem', 'every component of one object must carry the same non-empty UID');
  }
  // Overrides (RECURRENCE-ID) travel with their master; index the master, or the first component.
  const master = components.find((c) => !c.hasProperty('recurrence-id')) ?? (components[0] as ICAL.Component);
  const title = master.getFirstPropertyValue('summary');
  let span: { startMs: number | null; endMs: number | null };
  try {
    span = wanted === 'vevent' ? eventSpan(master) : pointSpan(master, wanted);
  } catch (err) {
    return reject('invalidItem', `bad date or recurrence: ${(err as Error).message}`);
  }
  return { ok: true, index: { uid, title: typeof title === 'string' ? title : '', ...span, name: null, contactKeys: [] } };
}

function eventSpan(vevent: ICAL.Component): { startMs: number | null; endMs: number | null } {
  const event = new ICAL.Event(vevent);
  if (!event.startDate) return { startMs: null, endMs: null };
  const startMs = event.startDate.toJSDate().getTime();
  const durationMs = event.endDate ? event.endDate.toJSDate().getTime() - startMs : 0;
  if (!event.isRecurring()) return { startMs, endMs: startMs + Math.max(durationMs, 0) };
  // Walk the series to its last instance, bounded: a series past the cap, or whose rule needs too many
  // steps to find its instances, counts as open-ended.
  const iterator = event.iterator();
  let last: ICAL.Time | null = null;
  try {
    return withinRuleBudget(() => {
      for (let n = 0; n < limits.recurrenceInstancesMax; n++) {
        const next = iterator.next();
        if (!next) return { startMs, endMs: (last ? last.toJSDate().getTime() : startMs) + Math.max(durationMs, 0) };
        last = next;
      }
      return { startMs, endMs: null };
    });
  } catch (err) {
    if (err instanceof RuleBudgetExceeded) return { startMs, endMs: null };
    throw err;
  }
}

function pointSpan(component: ICAL.Component, name: string): { startMs: number | null; endMs: number | null } {
  const start = component.getFirstPropertyValue('dtstart');
  const end = component.getFirstPropertyValue(name === 'vtodo' ? 'due' : 'dtstart');
  const ms = (v: unknown) => (v instanceof ICAL.Time ? v.toJSDate().getTime() : null);
  const startMs = ms(start) ?? ms(end);
  const endMs = ms(end) ?? startMs;
  return { startMs, endMs };
}
