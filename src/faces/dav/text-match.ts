import { limits } from '../../core/limits.js';
import type { XmlElement } from '../../protocol/xml.js';

/**
 * `text-match` of CalDAV and CardDAV queries (RFC 4791 §9.7.5, RFC 6352 §10.5.4): a collation, a
 * match-type and `negate-condition`, read once per request into a function of one value. The text is
 * folded once, here; each value is folded once per test, and compared without any pattern compiled
 * (docs/dav.md § Queries).
 */

/** A query past a bound or naming what the server does not support: answered 403 with `condition` in the protocol's namespace. */
export class FilterError extends Error {
  constructor(
    message: string,
    readonly namespace: string,
    readonly condition: 'supported-filter' | 'supported-collation' | 'valid-filter' = 'supported-filter',
  ) {
    super(message);
  }
}

/** Whether a value matches the text, before `negate-condition`, which applies to the whole test (docs/dav.md § Queries). */
export interface TextTest {
  matches: (value: string) => boolean;
  negate: boolean;
}

const asciiUpper = /[A-Z]+/g;

/**
 * The collations (RFC 4790 §9.2, §9.3; RFC 5051): `i;octet` compares as is; `i;ascii-casemap` folds
 * A–Z only; `i;unicode-casemap` folds after compatibility decomposition (NFKD), as upper then lower
 * case so that ß and SS meet. RFC 5051's full titlecase table is approximated by JavaScript's case
 * mappings (docs/dav.md § Queries).
 */
const collations: Record<string, (s: string) => string> = {
  'i;octet': (s) => s,
  'i;ascii-casemap': (s) => s.replace(asciiUpper, (m) => m.toLowerCase()),
  'i;unicode-casemap': (s) => s.normalize('NFKD').toUpperCase().toLowerCase(),
};

const matchTypes: Record<string, (value: string, text: string) => boolean> = {
  equals: (v, t) => v === t,
  contains: (v, t) => v.includes(t),
  'starts-with': (v, t) => v.startsWith(t),
  'ends-with': (v, t) => v.endsWith(t),
};

/**
 * Reads one `text-match` element. `defaultCollation` is the protocol's: `i;ascii-casemap` for CalDAV
 * (RFC 4791 §7.5.1), `i;unicode-casemap` for CardDAV (RFC 6352 §8.3). `match-type` (CardDAV) is read in
 * CalDAV queries too, where it is absent and means `contains`.
 */
export function compileTextMatch(el: XmlElement, namespace: string, defaultCollation: string): TextTest {
  const text = el.text.trim();
  if (text.length > limits.davMatchTextCharsMax) throw new FilterError(`a text-match is longer than ${limits.davMatchTextCharsMax} characters`, namespace);
  const collationName = el.attrs.collation ?? defaultCollation;
  const fold = collations[collationName];
  if (!fold) throw new FilterError(`the collation ${collationName.slice(0, 64)} is not supported (i;octet, i;ascii-casemap, i;unicode-casemap are)`, namespace, 'supported-collation');
  const matchTypeName = el.attrs['match-type'] ?? 'contains';
  const match = matchTypes[matchTypeName];
  if (!match) throw new FilterError(`the match-type ${matchTypeName.slice(0, 64)} is not supported (equals, contains, starts-with, ends-with are)`, namespace);
  const folded = fold(text);
  return { matches: (value) => match(fold(value), folded), negate: el.attrs['negate-condition'] === 'yes' };
}
