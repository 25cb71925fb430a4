import { z } from 'zod';
import { limits } from '../core/limits.js';
import { ProtocolError } from './errors.js';

/**
 * The one bounded path every JSON (and decoded XML) request body takes before the hub sees it
 * (docs/protocol.md §12.2). Validation stops at the first `limits.errorIssuesMax` problems and
 * checks each list's length against its schema's cap before looking at its entries, so an invalid
 * body costs no more than a valid one of the same size, and the error body stays small whatever the
 * input: issues are paths and fixed messages, clipped, never the input's values.
 */

export interface Issue {
  path: string;
  message: string;
}

type AnySchema = z.ZodType;
type Def = Record<string, unknown> & { type: string; checks?: Array<{ _zod: { def: Record<string, unknown> } }> };
const defOf = (schema: AnySchema) => (schema as unknown as { def: Def }).def;

/** Cuts a message or path that could carry client text (a key, a token of bad JSON) to a fixed size. */
export function clip(text: string): string {
  return text.length <= limits.errorTextCharsMax ? text : `${text.slice(0, limits.errorTextCharsMax)}…`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Strips optional/default/nullable wrappers; undefined when the value is one the wrapper itself decides (absent or null). */
function core(schema: AnySchema, value: unknown): AnySchema | undefined {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (def.type !== 'optional' && def.type !== 'default' && def.type !== 'nullable') return s;
    if (value === undefined || (value === null && def.type === 'nullable')) return undefined;
    s = def.innerType as AnySchema;
  }
}

/** Whether a schema holds a list somewhere below it (then it is validated piece by piece). */
function holdsList(schema: AnySchema): boolean {
  const def = defOf(schema);
  if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') return holdsList(def.innerType as AnySchema);
  if (def.type === 'array') return true;
  if (def.type === 'object' && (def.checks ?? []).length === 0) return Object.values(def.shape as Record<string, AnySchema>).some(holdsList);
  return false;
}

/** An object schema whose list-holding fields accept anything: those fields were validated already. */
const shallowOf = new WeakMap<AnySchema, AnySchema>();
function shallow(schema: AnySchema, keys: readonly string[]): AnySchema {
  let s = shallowOf.get(schema);
  if (!s) {
    s = (schema as z.ZodObject).extend(Object.fromEntries(keys.map((k) => [k, z.any().optional()])));
    shallowOf.set(schema, s);
  }
  return s;
}

/** An array schema with the same length checks whose entries accept anything: they were validated already. */
const entriesCheckedOf = new WeakMap<AnySchema, AnySchema>();
function entriesChecked(schema: AnySchema, def: Def): AnySchema {
  let s = entriesCheckedOf.get(schema);
  if (!s) {
    s = z.array(z.any()).check(...((def.checks ?? []) as never[]));
    entriesCheckedOf.set(schema, s);
  }
  return s;
}

function lengthCap(def: Def): number | undefined {
  for (const check of def.checks ?? []) if (check._zod.def.check === 'max_length') return check._zod.def.maximum as number;
  return undefined;
}

class Budget {
  readonly issues: Issue[] = [];
  get full(): boolean {
    return this.issues.length >= limits.errorIssuesMax;
  }
  add(path: readonly PropertyKey[], message: string): void {
    if (!this.full) this.issues.push({ path: clip(path.map(String).join('.')), message: clip(message) });
  }
}

function walk(schema: AnySchema, value: unknown, path: readonly PropertyKey[], budget: Budget): unknown {
  const s = core(schema, value);
  const def = s && defOf(s);
  if (s && def?.type === 'array' && Array.isArray(value)) {
    const cap = lengthCap(def);
    // The cap is checked before any entry is looked at: a list too long costs one comparison.
    if (cap !== undefined && value.length > cap) {
      budget.add(path, `Too big: at most ${cap} entries, got ${value.length}`);
      return undefined;
    }
    const out: unknown[] = [];
    for (let i = 0; i < value.length && !budget.full; i++) out.push(walk(def.element as AnySchema, value[i], [...path, i], budget));
    if (budget.full) return undefined;
    return leaf(entriesChecked(s, def), out, path, budget);
  }
  if (s && def?.type === 'object' && isRecord(value) && holdsList(s)) {
    const shape = def.shape as Record<string, AnySchema>;
    const keys = Object.keys(shape).filter((k) => holdsList(shape[k] as AnySchema));
    const parts: Record<string, unknown> = {};
    for (const k of keys) {
      if (budget.full) return undefined;
      const part = walk(shape[k] as AnySchema, value[k], [...path, k], budget);
      if (part !== undefined) parts[k] = part;
    }
    // The remaining fields, with the list-holding ones already checked; checked once each.
    const rest = leaf(shallow(s, keys), value, path, budget) as Record<string, unknown> | undefined;
    return rest && { ...rest, ...parts };
  }
  return leaf(schema, value, path, budget);
}

function leaf(schema: AnySchema, value: unknown, path: readonly PropertyKey[], budget: Budget): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    if (budget.full) break;
    budget.add([...path, ...issue.path], issue.message);
  }
  return undefined;
}

/**
 * Validates `value` against `schema` within a fixed budget. Throws invalidRequest naming the first
 * problems (at most limits.errorIssuesMax, with `issuesTruncated` when validation stopped there).
 */
export function validate<S extends AnySchema>(schema: S, value: unknown, rootName: string): z.infer<S> {
  const budget = new Budget();
  const out = walk(schema, value, [], budget);
  if (budget.issues.length === 0) return out as z.infer<S>;
  const first = budget.issues[0] as Issue;
  throw new ProtocolError('invalidRequest', `invalid ${rootName}: ${first.path || '(root)'}: ${first.message}`, {
    issues: budget.issues,
    ...(budget.full ? { issuesTruncated: true } : {}),
  });
}

/**
 * One pass over JSON text before it is parsed: refuses a list longer than any the protocol has
 * (limits.bodyListItemsMax) or nesting deeper than limits.jsonDepthMax, so a body of millions of tiny
 * entries is refused without building them. Strings are skipped whole; malformed text is left to
 * JSON.parse to report.
 */
function scanJson(text: string): void {
  const open: number[] = []; // per open container: commas seen so far in an array, -1 for an object
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A quote ends the string unless an odd run of backslashes escapes it.
      for (let j = i + 1; ; j++) {
        j = text.indexOf('"', j);
        if (j < 0) return;
        let slashes = 0;
        while (text.charCodeAt(j - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) {
          i = j;
          break;
        }
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (open.length >= limits.jsonDepthMax) throw new ProtocolError('invalidRequest', `invalid body: JSON nested deeper than ${limits.jsonDepthMax} levels`);
      open.push(c === 0x5b ? 0 : -1);
    } else if (c === 0x5d || c === 0x7d) {
      open.pop();
    } else if (c === 0x2c && open.length > 0) {
      const top = open.length - 1;
      const commas = open[top] as number;
      if (commas < 0) continue;
      if (commas + 1 >= limits.bodyListItemsMax) {
        throw new ProtocolError('invalidRequest', `invalid body: a list has more than ${limits.bodyListItemsMax} entries (at character ${i})`);
      }
      open[top] = commas + 1;
    }
  }
}

/** JSON.parse, after scanJson, whose error names the problem without quoting the body back. */
export function parseJson(text: string): unknown {
  scanJson(text);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProtocolError('invalidRequest', `malformed JSON: ${clip((err as Error).message)}`);
  }
}
