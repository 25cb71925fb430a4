import { limits } from '../../core/limits.js';
import type { XmlElement } from '../../protocol/xml.js';

/**
 * Property filters of addressbook-query (RFC 6352 §10.5) and calendar-query (RFC 4791 §9.7.2), read once
 * per request into plain lower-cased strings, then matched against each item in one pass over its lines:
 * nothing is compiled per item, and the cost is linear in the item (docs/dav.md § Queries).
 *
 * A prop-filter matches when a property of its name contains each of its text-matches (case-insensitive;
 * `negate-condition="yes"` inverts one), or, without a text-match, when the property is present.
 * `match-type`, collations and `is-not-defined` are not read yet; they belong here when they are.
 */

export interface TextMatch {
  /** Lower-cased once, here. */
  text: string;
  negate: boolean;
}

export interface PropFilter {
  /** Upper-case property name, without a group. */
  name: string;
  textMatches: TextMatch[];
}

export interface PropFilters {
  combine: 'anyof' | 'allof';
  filters: PropFilter[];
}

/** A query past a bound: answered 403 with the protocol's `supported-filter` precondition. */
export class FilterError extends Error {
  constructor(
    message: string,
    readonly namespace: string,
  ) {
    super(message);
  }
}

/** The prop-filters directly inside `scope`, in `namespace`; refuses more than limits.davFiltersMax of them (text-matches included). */
export function readPropFilters(scope: XmlElement | undefined, namespace: string, combine: 'anyof' | 'allof'): PropFilters {
  const filters: PropFilter[] = [];
  let count = 0;
  for (const pf of scope?.children ?? []) {
    if (pf.ns !== namespace || pf.name !== 'prop-filter') continue;
    const textMatches: TextMatch[] = [];
    for (const tm of pf.children) {
      if (tm.ns !== namespace || tm.name !== 'text-match') continue;
      const text = tm.text.trim();
      if (text.length > limits.davMatchTextCharsMax) throw new FilterError(`a text-match is longer than ${limits.davMatchTextCharsMax} characters`, namespace);
      textMatches.push({ text: text.toLowerCase(), negate: tm.attrs['negate-condition'] === 'yes' });
      count += 1;
    }
    count += 1;
    if (count > limits.davFiltersMax) throw new FilterError(`more than ${limits.davFiltersMax} prop-filters and text-matches in one query`, namespace);
    filters.push({ name: (pf.attrs.name ?? '').toUpperCase(), textMatches });
  }
  return { combine, filters };
}

/** Whether the vCard or iCalendar text `data` passes the filters. */
export function matchesPropFilters({ combine, filters }: PropFilters, data: string): boolean {
  if (filters.length === 0) return true;
  const wanted = new Set(filters.map((f) => f.name));
  // One pass: the lower-cased values of the properties some filter names, by name.
  const values = new Map<string, string[]>();
  for (const line of data.replace(/\r?\n[ \t]/g, '').split(/\r?\n/)) {
    const end = nameEnd(line);
    if (end <= 0) continue;
    const head = line.slice(0, end);
    const name = head.slice(head.indexOf('.') + 1).toUpperCase();
    if (!wanted.has(name)) continue;
    const colon = line.indexOf(':', end);
    const list = values.get(name) ?? [];
    list.push(colon < 0 ? '' : line.slice(colon + 1).toLowerCase());
    values.set(name, list);
  }
  const one = (f: PropFilter) => {
    const found = values.get(f.name) ?? [];
    if (f.textMatches.length === 0) return found.length > 0;
    return f.textMatches.every((tm) => found.some((v) => v.includes(tm.text)) !== tm.negate);
  };
  return combine === 'allof' ? filters.every(one) : filters.some(one);
}

/** Where a content line's name (with its group) ends: at the first ';' or ':'; -1 if neither. */
function nameEnd(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x3a || c === 0x3b) return i;
  }
  return -1;
}
