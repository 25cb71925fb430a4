/**
 * Property-level three-way merge of vCard and iCalendar objects: when two sync points edited different
 * properties of the same contact, event or task since their common version, both edits survive.
 *
 * It works on content lines, so every property it does not touch stays byte for byte as its writer sent
 * it. The unit of merging is a property name (all EMAIL lines together, say), compared as raw text. An
 * iCalendar object merges only when it has exactly one main component; everything around that
 * component's own properties (time zones, alarms, overrides) must then be unchanged on one side. When
 * a property changed differently on both sides, there is no clean merge and the caller falls back to
 * device priority.
 */

/** Stamps every writer bumps; they never conflict, the incoming side's value is taken. */
const stamps = new Set(['REV', 'DTSTAMP', 'LAST-MODIFIED', 'SEQUENCE', 'PRODID']);

interface Split {
  /** Property name (with any group prefix) → its raw lines, folded continuations and line ends included. */
  props: Map<string, string>;
  order: string[];
}

/** Split an object into its mergeable properties, or undefined when its shape does not allow merging. */
function split(text: string): Split | undefined {
  const lines: string[] = [];
  for (const physical of text.split(/(?<=\n)/)) {
    if ((physical.startsWith(' ') || physical.startsWith('\t')) && lines.length > 0) lines[lines.length - 1] += physical;
    else lines.push(physical);
  }
  const name = (line: string) => (/^[^:;]*/.exec(line)?.[0] ?? '').toUpperCase();
  const mains = lines.filter((l) => /^BEGIN:(VCARD|VEVENT|VTODO|VJOURNAL)\r?\n?$/i.test(l));
  if (mains.length !== 1) return undefined;
  const start = lines.indexOf(mains[0] as string) + 1;
  // The component's own properties run until its first nested component or its end.
  let end = start;
  while (end < lines.length && !/^(BEGIN|END):/i.test(lines[end] as string)) end++;
  const props = new Map<string, string>([
    ['@before', lines.slice(0, start).join('')],
    ['@after', lines.slice(end).join('')],
  ]);
  const order = ['@before'];
  for (const line of lines.slice(start, end)) {
    const key = name(line);
    if (!props.has(key)) order.push(key);
    props.set(key, (props.get(key) ?? '') + line);
  }
  order.push('@after');
  return { props, order };
}

/**
 * Whether two objects hold the same properties with the same values, in whatever order (a server that
 * re-serializes what it stores, as Radicale does, moves lines about): each property name's lines, and
 * everything around the main component, compared as raw text.
 */
export function sameProperties(a: string, b: string): boolean {
  const [x, y] = [split(a), split(b)];
  if (!x || !y || x.props.size !== y.props.size) return false;
  for (const [key, value] of x.props) if (y.props.get(key) !== value) return false;
  return true;
}

/** The merged object, or null when the two sides changed the same property differently. */
export function mergeProperties(base: string, incoming: string, truth: string): string | null {
  const [b, m, t] = [split(base), split(incoming), split(truth)];
  if (!b || !m || !t) return null;
  // Incoming's order, then what only the truth has; the component's end comes last.
  const keys = [...m.order.filter((k) => k !== '@after'), ...t.order.filter((k) => !m.props.has(k)), '@after'];
  const merged = new Map<string, string | undefined>();
  for (const key of keys) {
    const [bv, mv, tv] = [b.props.get(key), m.props.get(key), t.props.get(key)];
    if (mv === tv || tv === bv || stamps.has(key)) merged.set(key, mv);
    else if (mv === bv) merged.set(key, tv);
    else return null;
  }
  return keys.map((k) => merged.get(k) ?? '').join('');
}
