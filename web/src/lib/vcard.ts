import ICAL from 'ical.js';

/**
 * vCard 3.0/4.0 ⇄ the contact form's model. Editing works on the card's own properties: only the fields
 * the user changed are rewritten, in the card's own version, and every other property (and parameter)
 * stays as it was, so a card made by a richer client survives an edit here.
 */

export type CardVersion = '3.0' | '4.0';

export interface TypedValue {
  value: string;
  /** 'home', 'work', 'cell' (phones) or '' (none of these). */
  type: string;
  /** Index of the property this came from among the card's properties of its name. */
  key?: number;
}

export interface Address {
  type: string;
  street: string;
  city: string;
  region: string;
  postcode: string;
  country: string;
  key?: number;
}

export interface Contact {
  version: CardVersion;
  uid: string;
  fullName: string;
  name: { family: string; given: string; additional: string; prefix: string; suffix: string };
  emails: TypedValue[];
  phones: TypedValue[];
  addresses: Address[];
  org: string;
  note: string;
  /** YYYY-MM-DD, or '' (none, or one this form cannot show, such as a birthday without a year). */
  birthday: string;
  groups: string[];
  /** A data: URI or a URL. */
  photo: string | null;
}

/** The version new cards are written in: the one every CardDAV client reads. */
export const newCardVersion: CardVersion = '3.0';

export const emailTypes = ['home', 'work'] as const;
export const phoneTypes = ['cell', 'home', 'work'] as const;
export const addressTypes = ['home', 'work'] as const;

type Params = Record<string, string | string[]>;
type JProp = [string, Params, string, ...unknown[]];
type JCard = ['vcard', JProp[], unknown[]];

export function emptyContact(uid: string): Contact {
  return {
    version: newCardVersion,
    uid,
    fullName: '',
    name: { family: '', given: '', additional: '', prefix: '', suffix: '' },
    emails: [],
    phones: [],
    addresses: [],
    org: '',
    note: '',
    birthday: '',
    groups: [],
    photo: null,
  };
}

function parseCard(text: string): JCard {
  const parsed = ICAL.parse(text) as unknown;
  if (!Array.isArray(parsed) || parsed[0] !== 'vcard') throw new Error('not a single vCard');
  return parsed as JCard;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(str).join(',') : v == null ? '' : String(v));
const component = (v: unknown, i: number): string => (Array.isArray(v) ? str(v[i]) : i === 0 ? str(v) : '');
const propsNamed = (card: JCard, name: string): JProp[] => card[1].filter((p) => p[0] === name);
const first = (card: JCard, name: string): JProp | undefined => card[1].find((p) => p[0] === name);

function typesOf(params: Params): string[] {
  const t = params['type'];
  return (Array.isArray(t) ? t : t ? t.split(',') : []).map((x) => x.toLowerCase());
}

function kindOf(params: Params, kinds: readonly string[]): string {
  return typesOf(params).find((t) => kinds.includes(t)) ?? '';
}

/**
 * The photo as a data: URI the page can show, or null. Only inline raster images count: a URL in a
 * card (anyone can send one) would make the browser fetch it, and an SVG can carry script. A photo
 * that is not shown stays in the card untouched unless the user picks another.
 */
function photoOf(prop: JProp | undefined): string | null {
  if (!prop) return null;
  const value = str(prop[3]);
  const inline = prop[2] === 'binary' ? `data:${mediaOf(str(prop[1]['type']))};base64,${value.replace(/\s+/g, '')}` : value;
  return /^data:image\/(jpeg|png|gif|webp);base64,[A-Za-z0-9+/=]+$/.test(inline) ? inline : null;
}

function mediaOf(type: string): string {
  const media = type.toLowerCase() || 'jpeg';
  return media.includes('/') ? media : `image/${media}`;
}

function birthdayOf(prop: JProp | undefined): string {
  const value = prop ? str(prop[3]) : '';
  const m = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
}

export function parseContact(text: string): Contact {
  return contactOf(parseCard(text));
}

function contactOf(card: JCard): Contact {
  const version: CardVersion = str(first(card, 'version')?.[3]) === '4.0' ? '4.0' : '3.0';
  const n = first(card, 'n')?.[3];
  return {
    version,
    uid: str(first(card, 'uid')?.[3]),
    fullName: str(first(card, 'fn')?.[3]),
    name: { family: component(n, 0), given: component(n, 1), additional: component(n, 2), prefix: component(n, 3), suffix: component(n, 4) },
    emails: propsNamed(card, 'email').map((p, key) => ({ value: str(p[3]), type: kindOf(p[1], emailTypes), key })),
    phones: propsNamed(card, 'tel').map((p, key) => ({ value: str(p[3]).replace(/^tel:/i, ''), type: kindOf(p[1], phoneTypes), key })),
    addresses: propsNamed(card, 'adr').map((p, key) => ({
      type: kindOf(p[1], addressTypes),
      street: component(p[3], 2),
      city: component(p[3], 3),
      region: component(p[3], 4),
      postcode: component(p[3], 5),
      country: component(p[3], 6),
      key,
    })),
    org: component(first(card, 'org')?.[3], 0),
    note: str(first(card, 'note')?.[3]),
    birthday: birthdayOf(first(card, 'bday')),
    groups: propsNamed(card, 'categories').flatMap((p) => p.slice(3).map(str)).filter((g) => g !== ''),
    photo: photoOf(first(card, 'photo')),
  };
}

/** The name to show and to write as FN when the form left "Full name" empty. */
export function displayName(c: Contact): string {
  const fromParts = [c.name.prefix, c.name.given, c.name.additional, c.name.family, c.name.suffix].filter((s) => s.trim()).join(' ');
  return c.fullName.trim() || fromParts || c.org.trim() || c.emails[0]?.value.trim() || c.phones[0]?.value.trim() || '';
}

/**
 * The card for `contact`: `original` (the card it was parsed from) with the changed fields rewritten,
 * or a new card. Entries of a list that kept their `key` keep their property and its parameters.
 */
export function serializeContact(contact: Contact, original?: string): string {
  const card: JCard = original ? parseCard(original) : ['vcard', [['version', {}, 'text', contact.version]], []];
  const before = original ? contactOf(card) : emptyContact('');
  // An edited card keeps its version: everything in it is written the way that version says.
  const version = original ? before.version : contact.version;
  const upper = (s: string) => (version === '3.0' ? s.toUpperCase() : s);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const fullName = displayName(contact);

  if (!original) {
    card[1].push(['prodid', {}, 'text', '-//Syncpoint//Web//EN']);
  }
  if (contact.uid && contact.uid !== before.uid) setSingle(card, 'uid', ['uid', {}, 'text', contact.uid]);
  if (fullName !== before.fullName) setSingle(card, 'fn', ['fn', {}, 'text', fullName]);
  if (!same(contact.name, before.name)) {
    const { family, given, additional, prefix, suffix } = contact.name;
    setSingle(card, 'n', ['n', {}, 'text', [family, given, additional, prefix, suffix]]);
  }
  const originals = (name: string) => propsNamed(card, name);
  if (!same(strip(contact.emails), strip(before.emails))) {
    const old = originals('email');
    replaceAll(card, 'email', contact.emails.filter((e) => e.value.trim()).map((e) => typedProp('email', e, old, before.emails, emailTypes, upper, 'text')));
  }
  if (!same(strip(contact.phones), strip(before.phones))) {
    const old = originals('tel');
    replaceAll(card, 'tel', contact.phones.filter((p) => p.value.trim()).map((p) => typedProp('tel', p, old, before.phones, phoneTypes, upper, version === '4.0' ? 'text' : 'phone-number')));
  }
  if (!same(strip(contact.addresses), strip(before.addresses))) {
    const old = originals('adr');
    replaceAll(
      card,
      'adr',
      contact.addresses
        .filter((a) => [a.street, a.city, a.region, a.postcode, a.country].some((s) => s.trim()))
        .map((a) => {
          const source = a.key !== undefined ? old[a.key] : undefined;
          const was = a.key !== undefined ? before.addresses[a.key] : undefined;
          if (source && was && same(strip([a]), strip([was]))) return source;
          const keep = Array.isArray(source?.[3]) ? (source[3] as unknown[]) : [];
          const value = [str(keep[0]), str(keep[1]), a.street, a.city, a.region, a.postcode, a.country];
          return ['adr', withKind(source?.[1] ?? {}, a.type, addressTypes, upper), 'text', value] as JProp;
        }),
    );
  }
  if (contact.org !== before.org) {
    const old = first(card, 'org');
    const units = Array.isArray(old?.[3]) ? (old[3] as unknown[]).slice(1).map(str) : [];
    setSingle(card, 'org', contact.org.trim() ? ['org', old?.[1] ?? {}, 'text', [contact.org, ...units]] : null);
  }
  if (contact.note !== before.note) setSingle(card, 'note', contact.note ? ['note', first(card, 'note')?.[1] ?? {}, 'text', contact.note] : null);
  if (contact.birthday !== before.birthday) {
    setSingle(card, 'bday', contact.birthday ? ['bday', {}, version === '4.0' ? 'date-and-or-time' : 'date', contact.birthday] : null);
  }
  if (!same(contact.groups, before.groups)) {
    const groups = contact.groups.map((g) => g.trim()).filter((g) => g !== '');
    replaceAll(card, 'categories', groups.length > 0 ? [['categories', {}, 'text', ...groups]] : []);
  }
  if (contact.photo !== before.photo) replaceAll(card, 'photo', contact.photo ? [photoProp(contact.photo, version)] : []);
  return stringifyCard(card, version);
}

/** The model without the bookkeeping keys, for "did the user change this list?". */
function strip<T extends { key?: number }>(list: T[]): Array<Omit<T, 'key'>> {
  return list.map(({ key: _key, ...rest }) => rest);
}

function typedProp(
  name: string,
  entry: TypedValue,
  old: JProp[],
  before: TypedValue[],
  kinds: readonly string[],
  upper: (s: string) => string,
  valueType: string,
): JProp {
  const source = entry.key !== undefined ? old[entry.key] : undefined;
  const was = entry.key !== undefined ? before[entry.key] : undefined;
  if (source && was && was.value === entry.value && was.type === entry.type) return source;
  const sameValue = source && was && was.value === entry.value;
  return [name, withKind(source?.[1] ?? {}, entry.type, kinds, upper), sameValue ? source[2] : valueType, sameValue ? source[3] : entry.value.trim()];
}

/** The parameters with the home/work/cell part of TYPE set to `kind`; other types (PREF, VOICE…) stay. */
function withKind(params: Params, kind: string, kinds: readonly string[], upper: (s: string) => string): Params {
  const { type: _type, ...rest } = params;
  const current = params['type'];
  const others = (Array.isArray(current) ? current : current ? current.split(',') : []).filter((t) => !kinds.includes(t.toLowerCase()));
  const types = [...(kind ? [upper(kind)] : []), ...others];
  return types.length === 0 ? rest : { ...rest, type: types.length === 1 ? (types[0] as string) : types };
}

function photoProp(photo: string, version: CardVersion): JProp {
  const data = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(photo);
  if (version === '3.0' && data?.[2]) {
    const subtype = (data[1] ?? 'image/jpeg').split('/')[1] ?? 'jpeg';
    return ['photo', { encoding: 'b', type: subtype.toUpperCase() }, 'binary', data[3] as string];
  }
  return ['photo', {}, 'uri', photo];
}

/** Replaces the first property of that name (or appends it), dropping any others; null removes them. */
function setSingle(card: JCard, name: string, prop: JProp | null): void {
  replaceAll(card, name, prop ? [prop] : []);
}

/** Puts `props` where the first property of that name was (or at the end), dropping all of that name. */
function replaceAll(card: JCard, name: string, props: JProp[]): void {
  const at = card[1].findIndex((p) => p[0] === name);
  const rest = card[1].filter((p) => p[0] !== name);
  const index = at === -1 ? rest.length : card[1].slice(0, at).filter((p) => p[0] !== name).length;
  rest.splice(index, 0, ...props);
  card[1] = rest;
}

/**
 * ical.js writes the card, except that a URI value is written as is: ical.js would escape its commas,
 * which turns a data: URI into one other clients cannot read. VERSION goes first, as 4.0 requires.
 */
function stringifyCard(card: JCard, version: CardVersion): string {
  const props = [...card[1]];
  const v = props.findIndex((p) => p[0] === 'version');
  const [versionProp] = v === -1 ? [['version', {}, 'text', version] as JProp] : props.splice(v, 1);
  props.unshift(versionProp as JProp);
  const design = ICAL.design.getDesignSet(version === '4.0' ? 'vcard' : 'vcard3');
  const lines = props.map((p) => {
    if (p[2] !== 'uri' || typeof p[3] !== 'string' || p.length !== 4) return ICAL.stringify.property(p, design, false);
    return ICAL.helpers.foldline(ICAL.stringify.property([p[0], p[1], p[2], ''], design, true) + p[3]);
  });
  return `BEGIN:VCARD\r\n${lines.join('\r\n')}\r\nEND:VCARD\r\n`;
}

/** Lower-cased text the contact list search looks in: names, emails, phones (also digits only), org. */
export function searchText(c: Contact): string {
  const phones = c.phones.map((p) => `${p.value} ${p.value.replace(/\D/g, '')}`);
  return [displayName(c), c.name.given, c.name.family, c.org, ...c.emails.map((e) => e.value), ...phones].join(' ').toLowerCase();
}

/**
 * Compares the names the contact list shows (see displayName), in the reader's language, ignoring case
 * and accents. One collator for every comparison: localeCompare with options builds one each call.
 */
export const nameOrder = new Intl.Collator(undefined, { sensitivity: 'base' });

/** Orders contacts by the name the list shows. To sort many, compare their precomputed displayName with nameOrder. */
export function compareContacts(a: Contact, b: Contact): number {
  return nameOrder.compare(displayName(a), displayName(b));
}
