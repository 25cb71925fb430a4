/**
 * The properties of a vCard that an addressbook-query names, read in one pass over its content lines
 * (RFC 6350 §3.3) without building the rest: a lines whose name no filter names costs one scan to its
 * first ';' or ':'. Parameters and values are decoded only for the lines kept. This keeps a query over
 * an address book near the cost of reading it (docs/dav.md § Queries).
 */

export interface ContentLine {
  /** Parameter values by lower-case name; a bare parameter (vCard 2.1 `;WORK`) is a TYPE. */
  params: Map<string, string[]>;
  /** The value's parts, unescaped: a list-valued property (CATEGORIES, NICKNAME) split at its commas. */
  values: string[];
}

const listValued = new Set(['CATEGORIES', 'NICKNAME']);
const escaped = /\\([\\;,nN])/g;
const unescape = (s: string) => (s.includes('\\') ? s.replace(escaped, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c)) : s);

/** The content lines of a vCard or iCalendar text, unfolded, without their line breaks. */
export function* unfoldedLines(data: string): Generator<string> {
  // Unfold only when the text is folded (a line break followed by a space or tab).
  const text = /\n[ \t]/.test(data) ? data.replace(/\r?\n[ \t]/g, '') : data;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    yield text.charCodeAt(end - 1) === 0x0d ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
  }
}

/** The lines named in `wanted` (upper-case, without a group), by name. */
export function contentLines(data: string, wanted: ReadonlySet<string>): Map<string, ContentLine[]> {
  const found = new Map<string, ContentLine[]>();
  for (const line of unfoldedLines(data)) {
    const nameEnd = delimiter(line, 0);
    if (nameEnd <= 0) continue;
    const head = line.slice(0, nameEnd);
    const name = head.slice(head.indexOf('.') + 1).toUpperCase();
    if (!wanted.has(name)) continue;
    const parsed = parseRest(line, nameEnd, listValued.has(name));
    const list = found.get(name);
    if (list) list.push(parsed);
    else found.set(name, [parsed]);
  }
  return found;
}

/** The first ';' or ':' at or after `from`, outside double quotes; -1 if none. */
function delimiter(line: string, from: number): number {
  let quoted = false;
  for (let i = from; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (!quoted && (c === 0x3a || c === 0x3b)) return i;
  }
  return -1;
}

function parseRest(line: string, at: number, isList: boolean): ContentLine {
  const params = new Map<string, string[]>();
  let i = at;
  while (i >= 0 && line.charCodeAt(i) === 0x3b) {
    const next = delimiter(line, i + 1);
    const param = line.slice(i + 1, next < 0 ? line.length : next);
    const eq = param.indexOf('=');
    const key = eq < 0 ? 'type' : param.slice(0, eq).toLowerCase();
    const raw = eq < 0 ? param : param.slice(eq + 1);
    const values = params.get(key) ?? [];
    for (const v of splitOutsideQuotes(raw)) values.push(v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
    params.set(key, values);
    i = next;
  }
  const value = i < 0 ? '' : line.slice(i + 1);
  return { params, values: isList ? splitUnescaped(value).map(unescape) : [unescape(value)] };
}

function splitOutsideQuotes(s: string): string[] {
  if (!s.includes(',')) return [s];
  const out: string[] = [];
  let quoted = false;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x2c && !quoted) {
      out.push(s.slice(from, i));
      from = i + 1;
    }
  }
  out.push(s.slice(from));
  return out;
}

/** Splits at commas not escaped by a backslash. */
function splitUnescaped(s: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2c) {
      out.push(s.slice(from, i));
      from = i + 1;
    }
  }
  out.push(s.slice(from));
  return out;
}
