import ICAL from 'ical.js';
import { checkItem } from '../../../kinds/registry.js';
import type { CollectionKind } from '../../../protocol/collections.js';
import { child, children, el, type WbxmlElement } from '../wbxml/element.js';
import { bodyAfter, bodyFromEas, bodyToEas, cleanText, keptRtfProperty, textOf, type ItemBody } from './body.js';
import type { FromEasContext, ItemMapper, ToEasOptions } from './item-mapper.js';

/**
 * Contacts: the hub's vCard 3.0/4.0 ⇄ the ActiveSync Contact class ([MS-ASCNTC], Contacts and Contacts2
 * code pages, with the AirSyncBase Body).
 *
 * A client's Change is applied to the hub's card line by line: each vCard property the mapping carries is
 * kept byte for byte when the client sent the same value back, rewritten (keeping its parameters and
 * group) when the value changed, and removed when the client left the field out. Every other line — X-
 * extensions, GEO, KEY, RELATED, a fourth e-mail address, a phone of a type ActiveSync has no field
 * for, a photo too large for ActiveSync, group labels such as item1.X-ABLabel — stays exactly as it was.
 *
 * Where the vCard standards leave the choice open, the mapping is:
 * - FileAs ⇄ FN. A client that sends no FileAs gets FN composed from the name parts, else NickName,
 *   an e-mail address, CompanyName or a phone number.
 * - N ⇄ LastName;FirstName;MiddleName;Title;Suffix. ORG ⇄ CompanyName;Department (further units kept).
 * - Email1Address..Email3Address ⇄ the first three EMAIL properties in order; `"Name" <addr>` from a
 *   client is stored as `addr`. As a card lists them without numbers, a client's Email2Address without
 *   an Email1Address comes back as Email1Address (likewise IMAddress2/3, Business2/Home2PhoneNumber).
 * - TEL, by TYPE, first free field wins, in the order the card lists them:
 *   X-ASSISTANT → AssistantPhoneNumber, X-RADIO → RadioPhoneNumber, X-COMPANY-MAIN →
 *   CompanyMainPhone, X-MMS → MMS, PAGER → PagerNumber, CAR → CarPhoneNumber, FAX+HOME →
 *   HomeFaxNumber, other FAX → BusinessFaxNumber, CELL (or IPHONE) → MobilePhoneNumber, WORK →
 *   BusinessPhoneNumber then Business2PhoneNumber, HOME or no type (only VOICE/PREF, no group) →
 *   HomePhoneNumber then Home2PhoneNumber. Evolution's X-EVOLUTION-ASSISTANT/RADIO/COMPANY are read too.
 *   A TEL of any other type (TEXT, VIDEO, OTHER, MAIN, ...) or beyond the free fields is not carried.
 * - ADR TYPE=WORK → Business*, HOME → Home*, OTHER or untyped (no group) → Other*; only the first of
 *   each. Street ⇄ the street component (a list of streets is joined by line breaks); the post office
 *   box and extended address are kept.
 * - Birthday ⇄ BDAY, Anniversary ⇄ ANNIVERSARY (4.0) or X-ANNIVERSARY (3.0); X-MS-ANNIVERSARY and
 *   X-EVOLUTION-ANNIVERSARY are read too. Sent as YYYY-MM-DDT00:00:00.000Z; a client's date-time is
 *   rounded to the nearest UTC midnight (a client that sends local midnight as UTC keeps its date), so
 *   a date without a year (--MMDD) is not carried.
 * - WebPage ⇄ the first URL. NickName ⇄ NICKNAME. Categories ⇄ every CATEGORIES value. Body ⇄ NOTE, and an
 *   RTF body the server cannot read ⇄ X-SYNCPOINT-EAS-RTF beside it (bodyField; body.ts bodyAfter).
 * - Picture ⇄ the first PHOTO when it is an inline JPEG of at most 48 KB in base64 (3.0 ENCODING=b or a
 *   data: URI); a larger, non-JPEG or linked photo is not sent and stays on the hub, and a picture from
 *   the client replaces it. Written as the card's version writes photos.
 * - IMAddress..IMAddress3 ⇄ the first three IMPP; the client sees the address without an im: or xmpp:
 *   scheme, and an address without a scheme is stored with im: (or the scheme the property had).
 * - Spouse ⇄ X-MS-SPOUSE, AssistantName ⇄ X-MS-ASSISTANT, ManagerName ⇄ X-MS-MANAGER (Outlook's vCard
 *   names; Evolution's X-EVOLUTION-* and KAddressBook's X-KADDRESSBOOK-X-* are read and kept), Children ⇄
 *   one X-MS-CHILD per child, OfficeLocation ⇄ X-MS-OFFICE-LOCATION (X-EVOLUTION-OFFICE read), Alias ⇄
 *   X-MS-ALIAS, CustomerId ⇄ X-MS-CUSTOMER-ID, GovernmentId ⇄ X-MS-GOVERNMENT-ID, AccountName ⇄
 *   X-MS-ACCOUNT-NAME.
 * - YomiFirstName/YomiLastName/YomiCompanyName ⇄ X-PHONETIC-FIRST-NAME / X-PHONETIC-LAST-NAME /
 *   X-PHONETIC-ORG (what Apple and Android write; SORT-AS is about sorting, not reading).
 */

type Params = Record<string, string | string[]>;
export type JProp = [string, Params, string, ...unknown[]];
export type DesignSet = ReturnType<typeof ICAL.design.getDesignSet>;

export const prodId = '-//Syncpoint//ActiveSync//EN';

// ---------------------------------------------------------------------------------------------------
// Content lines: the item as the lines it is stored as, so that what is not edited is kept byte for byte.
// ---------------------------------------------------------------------------------------------------

/** One logical line: its physical lines as stored (without line ends) and its unfolded text. */
export interface ContentLine {
  raw: string[];
  text: string;
}

/** The logical lines of a vCard or iCalendar text, split and unfolded the way ical.js reads them. */
export function contentLines(data: string): ContentLine[] {
  const out: ContentLine[] = [];
  for (const physical of data.split('\n')) {
    const line = physical.endsWith('\r') ? physical.slice(0, -1) : physical;
    const last = out[out.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last.raw.push(line);
      last.text += line.slice(1);
    } else if (line !== '') {
      out.push({ raw: [line], text: line });
    }
  }
  return out;
}

/** An item opened for editing one of its components (the vCard, or a VJOURNAL inside a VCALENDAR). */
export interface Doc {
  lines: ContentLine[];
  /** The properties directly inside the edited component, by line index, in order. */
  props: Map<number, JProp>;
  design: DesignSet;
  /** The index of the edited component's END line. */
  end: number;
}

const beginEnd = /^(BEGIN|END):(.*)$/i;

/**
 * Opens `data` (already parsed once by ICAL.parse, so known to be well formed) for editing the first
 * component at `path` (lower-case names from the root) that `accept` takes, else the first one. Each
 * property line of it is read with ical.js; a line ical.js cannot read alone is simply kept.
 */
export function openDoc(data: string, path: string[], design: DesignSet, accept: (props: JProp[]) => boolean = () => true): Doc {
  const lines = contentLines(data);
  const stack: string[] = [];
  const blocks: Array<{ lines: number[]; end: number }> = [];
  let current: { lines: number[]; end: number } | undefined;
  const atPath = () => stack.length === path.length && stack.every((s, i) => s === path[i]);
  lines.forEach((line, i) => {
    const m = beginEnd.exec(line.text);
    if (m) {
      const name = (m[2] as string).trim().toLowerCase();
      if ((m[1] as string).toUpperCase() === 'BEGIN') {
        stack.push(name);
        if (atPath()) current = { lines: [], end: -1 };
      } else {
        if (atPath() && current) {
          current.end = i;
          blocks.push(current);
          current = undefined;
        }
        stack.pop();
      }
    } else if (current && atPath()) {
      current.lines.push(i);
    }
  });
  const opened = blocks.map((block) => {
    const props = new Map<number, JProp>();
    for (const i of block.lines) {
      try {
        const prop = ICAL.parse.property((lines[i] as ContentLine).text, design) as JProp | undefined;
        if (Array.isArray(prop)) props.set(i, prop);
      } catch {
        // kept as it is
      }
    }
    return { lines, props, design, end: block.end };
  });
  const chosen = opened.find((d) => accept([...d.props.values()])) ?? opened[0];
  if (!chosen) throw new Error(`no ${path[path.length - 1]?.toUpperCase()} component to edit`);
  return chosen;
}

/**
 * A property as a (folded) content line; URI values are written as they are (ical.js would escape
 * commas). Only text values can hold a line break (escaped), so in any other one a break becomes a space.
 */
export function writeProp(input: JProp, design: DesignSet): string {
  const prop: JProp = input[2] === 'text' ? input : [input[0], input[1], input[2], ...input.slice(3).map((v) => (typeof v === 'string' ? v.replace(/[\r\n]+/g, ' ') : v))];
  const group = prop[1]['group'];
  // ical.js writes a group in upper case; it is kept as the card spelled it (item1.X-ABLabel names it so).
  const spelled = (line: string) => (typeof group === 'string' && line.startsWith(`${group.toUpperCase()}.`) ? group + line.slice(group.length) : line);
  if (prop[2] === 'uri' && typeof prop[3] === 'string' && prop.length === 4) {
    return ICAL.helpers.foldline(spelled(ICAL.stringify.property([prop[0], prop[1], 'uri', ''], design, true)) + prop[3]);
  }
  return ICAL.helpers.foldline(spelled(ICAL.stringify.property(prop, design, true)));
}

/**
 * What one field of the mapping carries: `key` names the ActiveSync field (or group of fields), `value`
 * is what the client sees, normalized so that the same value compares equal, and `lines` are the item's
 * lines it came from. A `weak` slot is a line the client never sees (a photo ActiveSync cannot take):
 * the client's value replaces it, but leaving the field out keeps it.
 */
export interface Slot {
  key: string;
  value: string[];
  lines: number[];
  weak?: boolean;
}

export interface Field<C> {
  /** The property names (lower case) the field reads; new lines go after the last of them. */
  names: readonly string[];
  read(doc: Doc, ctx: C): Slot[];
  /** The client's slots; `old` are the item's (from `read`), for a field whose value joins what the item has. */
  fromEas(applicationData: WbxmlElement, ctx: C, old: Slot[]): Slot[];
  /** The properties for a slot; `old` is the property of the line the slot replaces, if any. */
  write(slot: Slot, old: JProp | undefined, ctx: C): JProp[];
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Applies the client's fields to the document: per field, an unchanged value keeps its lines, a changed
 * one is rewritten where it was, a new one goes after the field's other lines (else before the
 * component's END), and one the client left out is removed. Every other line is kept as it is.
 */
export function applyFields<C>(doc: Doc, fields: ReadonlyArray<Field<C>>, applicationData: WbxmlElement, ctx: C): string {
  const replace = new Map<number, string[]>();
  const remove = new Set<number>();
  const insert = new Map<number, string[]>();
  for (const field of fields) {
    const old = field.read(doc, ctx);
    const wanted = field.fromEas(applicationData, ctx, old);
    const used = new Set<Slot>();
    const added: string[] = [];
    for (const w of wanted) {
      const o = old.find((s) => !used.has(s) && s.key === w.key);
      const lines = (old?: JProp) => field.write(w, old, ctx).map((p) => writeProp(p, doc.design));
      if (!o) {
        added.push(...lines());
        continue;
      }
      used.add(o);
      if (!o.weak && same(o.value, w.value)) continue;
      const [first, ...rest] = o.lines;
      if (first === undefined) continue;
      replace.set(first, lines(doc.props.get(first)));
      for (const l of rest) remove.add(l);
    }
    for (const o of old) if (!used.has(o) && !o.weak) for (const l of o.lines) remove.add(l);
    if (added.length > 0) {
      let anchor = Math.max(-1, ...old.flatMap((s) => s.lines));
      if (anchor === -1) for (const [i, p] of doc.props) if (field.names.includes(p[0])) anchor = Math.max(anchor, i);
      if (anchor === -1) anchor = doc.end - 1;
      insert.set(anchor, [...(insert.get(anchor) ?? []), ...added]);
    }
  }
  const out: string[] = [];
  doc.lines.forEach((line, i) => {
    const replacement = replace.get(i);
    if (replacement) out.push(...replacement);
    else if (!remove.has(i)) out.push(...line.raw);
    const inserted = insert.get(i);
    if (inserted) out.push(...inserted);
  });
  return out.join('\r\n') + '\r\n';
}

/** Throws unless the hub would accept `data` for a collection of `kind`. */
export function assertValidItem(kind: CollectionKind, data: string): string {
  const check = checkItem(kind, data);
  if (!check.ok) throw new Error(`the item built from the client's data is not acceptable: ${check.message}`);
  return data;
}

// ---------------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------------

const str = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(str).join(',') : v == null ? '' : String(v));
/** Client or card text as compared and sent: storable, line breaks as LF, no surrounding white space. */
const norm = (s: string): string => cleanText(s).trim();
/** The values of a property (a multi-valued one, like a 3.0 NOTE with commas, joined by commas). */
const valueOf = (p: JProp): string => p.slice(3).map(str).join(',');
/** The components of a structured value (N, ADR, ORG); a component listing several values is joined by `sep`. */
function componentsOf(p: JProp, sep: string): string[] {
  const v = p[3];
  const list = Array.isArray(v) ? v : [v];
  return list.map((c) => (Array.isArray(c) ? c.map(str).join(sep) : str(c)));
}

function typesOf(p: JProp): Set<string> {
  const t = p[1]['type'];
  const list = Array.isArray(t) ? t : t ? [t] : [];
  return new Set(list.flatMap((x) => x.split(',')).map((x) => x.trim().toLowerCase()).filter((x) => x !== ''));
}

const isGrouped = (p: JProp) => typeof p[1]['group'] === 'string' && p[1]['group'] !== '';

/** The client's text of a field, normalized; undefined when absent or empty. */
function easText(ad: WbxmlElement, ns: string, name: string): string | undefined {
  const v = norm(textOf(child(ad, name, ns)));
  return v === '' ? undefined : v;
}

/** A short, printable quote of client text for an error message. */
const quote = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** YYYY-MM-DD of a vCard date (1990-05-17, 19900517, with or without a time), or undefined. */
function vcardDate(value: string): string | undefined {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?![\d])/.exec(value.trim());
  if (!m) return undefined;
  return validDate(+m[1]!, +m[2]!, +m[3]!);
}

function validDate(y: number, mo: number, d: number): string | undefined {
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return undefined;
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/**
 * The date of a client's dateTime (1990-05-17T00:00:00.000Z, also compact or date-only forms). The time
 * is rounded to the nearest UTC midnight, so local midnight sent as UTC keeps its date.
 */
export function easDate(value: string, field: string): string {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,]\d{1,9})?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i.exec(value.trim());
  const bad = () => new Error(`Contacts:${field} is not a date: ${quote(value)}`);
  if (!m) throw bad();
  const date = validDate(+m[1]!, +m[2]!, +m[3]!);
  if (!date || (m[4] !== undefined && (+m[4] > 23 || +m[5]! > 59 || +(m[6] ?? 0) > 59))) throw bad();
  if (m[4] === undefined) return date;
  let ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4], +m[5]!, +(m[6] ?? 0));
  const zone = m[7];
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!z) throw bad();
    ms -= (z[1] === '-' ? -1 : 1) * (+z[2]! * 60 + +(z[3] ?? 0)) * 60_000;
  }
  const rounded = new Date(ms + 12 * 3_600_000);
  return validDate(rounded.getUTCFullYear(), rounded.getUTCMonth() + 1, rounded.getUTCDate()) ?? date;
}

const easDateTime = (date: string) => `${date}T00:00:00.000Z`;

// ---------------------------------------------------------------------------------------------------
// Contact fields
// ---------------------------------------------------------------------------------------------------

type Version = '3.0' | '4.0';

interface Ctx {
  version: Version;
  doc: Doc;
}

interface ContactField extends Field<Ctx> {
  toEas(slot: Slot, options: ToEasOptions): WbxmlElement[];
}

const C = 'Contacts';
const C2 = 'Contacts2';

/** TYPE values as each version writes them: upper case in 3.0 (as most 3.0 writers do), lower in 4.0. */
const typeParam = (version: Version, types: string[]): string | string[] => {
  const t = types.map((x) => (version === '3.0' ? x.toUpperCase() : x));
  return t.length === 1 ? (t[0] as string) : t;
};

/** The properties named `names`, in the order of the card. */
function propsNamed(doc: Doc, names: readonly string[]): Array<[number, JProp]> {
  return [...doc.props].filter(([, p]) => names.includes(p[0]));
}

/** A field of one text value: the first property named in `names` (the first name is the one written). */
function textField(ns: string, key: string, names: string[], valueType = 'text'): ContactField {
  return {
    names,
    read(doc) {
      for (const [i, p] of propsNamed(doc, names)) {
        const v = norm(valueOf(p));
        if (v !== '') return [{ key, value: [v], lines: [i] }];
      }
      return [];
    },
    fromEas(ad) {
      const v = easText(ad, ns, key);
      return v === undefined ? [] : [{ key, value: [v], lines: [] }];
    },
    write(slot, old) {
      return [[old?.[0] ?? (names[0] as string), old?.[1] ?? {}, valueType, slot.value[0] as string]];
    },
    toEas: (slot) => [el(ns, key, slot.value[0] as string)],
  };
}

function composedName(ad: WbxmlElement): string {
  const parts = ['Title', 'FirstName', 'MiddleName', 'LastName', 'Suffix'].map((n) => easText(ad, C, n)).filter((s) => s !== undefined);
  if (parts.length > 0) return parts.join(' ');
  const fallbacks: Array<[string, string]> = [
    [C2, 'NickName'], [C, 'Email1Address'], [C, 'Email2Address'], [C, 'Email3Address'], [C, 'CompanyName'],
    ...phoneKinds.map((k): [string, string] => [k.ns, k.key]),
  ];
  for (const [ns, name] of fallbacks) {
    const v = easText(ad, ns, name);
    if (v !== undefined) return name.startsWith('Email') ? emailAddress(v) : v;
  }
  return '';
}

const fileAs: ContactField = {
  names: ['fn'],
  read(doc) {
    const [first] = propsNamed(doc, ['fn']);
    return first ? [{ key: 'FileAs', value: [norm(valueOf(first[1]))], lines: [first[0]] }] : [];
  },
  fromEas: (ad) => [{ key: 'FileAs', value: [easText(ad, C, 'FileAs') ?? composedName(ad)], lines: [] }],
  write: (slot, old) => [['fn', old?.[1] ?? {}, 'text', slot.value[0] as string]],
  toEas: (slot) => (slot.value[0] ? [el(C, 'FileAs', slot.value[0])] : []),
};

const nameParts = ['LastName', 'FirstName', 'MiddleName', 'Title', 'Suffix'] as const;
const structuredName: ContactField = {
  names: ['n'],
  read(doc) {
    const [first] = propsNamed(doc, ['n']);
    if (!first) return [];
    const parts = componentsOf(first[1], ' ').map(norm);
    return [{ key: 'N', value: nameParts.map((_, i) => parts[i] ?? ''), lines: [first[0]] }];
  },
  fromEas(ad, ctx) {
    const value = nameParts.map((n) => easText(ad, C, n) ?? '');
    // vCard 3.0 requires N; a 4.0 card gets one only with a name (or when it had one).
    const keep = ctx.version === '3.0' || propsNamed(ctx.doc, ['n']).length > 0 || value.some((v) => v !== '');
    return keep ? [{ key: 'N', value, lines: [] }] : [];
  },
  write: (slot, old) => [['n', old?.[1] ?? {}, 'text', [...slot.value]]],
  toEas: (slot) => nameParts.flatMap((n, i) => (slot.value[i] ? [el(C, n, slot.value[i] as string)] : [])),
};

const organization: ContactField = {
  names: ['org'],
  read(doc) {
    const [first] = propsNamed(doc, ['org']);
    if (!first) return [];
    const parts = componentsOf(first[1], ',').map(norm);
    const value = [parts[0] ?? '', parts[1] ?? ''];
    return value.some((v) => v !== '') ? [{ key: 'ORG', value, lines: [first[0]] }] : [];
  },
  fromEas(ad) {
    const value = [easText(ad, C, 'CompanyName') ?? '', easText(ad, C, 'Department') ?? ''];
    return value.some((v) => v !== '') ? [{ key: 'ORG', value, lines: [] }] : [];
  },
  write(slot, old) {
    const units = old ? (Array.isArray(old[3]) ? (old[3] as unknown[]).slice(2) : []) : [];
    const value: unknown[] = [...slot.value, ...units];
    while (value.length > 1 && str(value[value.length - 1]) === '') value.pop();
    return [['org', old?.[1] ?? {}, 'text', value]];
  },
  toEas: (slot) => [
    ...(slot.value[0] ? [el(C, 'CompanyName', slot.value[0])] : []),
    ...(slot.value[1] ? [el(C, 'Department', slot.value[1])] : []),
  ],
};

/** `addr` out of `"Name" <addr>` (or the text as it is). */
function emailAddress(v: string): string {
  const m = /<([^<>]*)>\s*$/.exec(v);
  return (m ? (m[1] as string) : v).trim().replace(/^mailto:/i, '');
}

const emailKeys = ['Email1Address', 'Email2Address', 'Email3Address'];
const emails: ContactField = {
  names: ['email'],
  read(doc) {
    const slots: Slot[] = [];
    for (const [i, p] of propsNamed(doc, ['email'])) {
      const v = norm(valueOf(p)).replace(/^mailto:/i, '');
      if (v === '' || slots.length === emailKeys.length) continue;
      slots.push({ key: emailKeys[slots.length] as string, value: [v], lines: [i] });
    }
    return slots;
  },
  fromEas(ad) {
    return emailKeys.flatMap((key) => {
      const v = easText(ad, C, key);
      const address = v === undefined ? '' : norm(emailAddress(v));
      return address === '' ? [] : [{ key, value: [address], lines: [] }];
    });
  },
  write: (slot, old, ctx) => [['email', old?.[1] ?? (ctx.version === '3.0' ? { type: 'INTERNET' } : {}), 'text', slot.value[0] as string]],
  toEas: (slot) => [el(C, slot.key, slot.value[0] as string)],
};

interface PhoneKind {
  key: string;
  ns: string;
  /** The TYPE a new number of this kind is written with. */
  types: string[];
}

const phoneKinds: PhoneKind[] = [
  { key: 'BusinessPhoneNumber', ns: C, types: ['work', 'voice'] },
  { key: 'Business2PhoneNumber', ns: C, types: ['work', 'voice'] },
  { key: 'HomePhoneNumber', ns: C, types: ['home', 'voice'] },
  { key: 'Home2PhoneNumber', ns: C, types: ['home', 'voice'] },
  { key: 'MobilePhoneNumber', ns: C, types: ['cell', 'voice'] },
  { key: 'BusinessFaxNumber', ns: C, types: ['work', 'fax'] },
  { key: 'HomeFaxNumber', ns: C, types: ['home', 'fax'] },
  { key: 'PagerNumber', ns: C, types: ['pager'] },
  { key: 'CarPhoneNumber', ns: C, types: ['car', 'voice'] },
  { key: 'RadioPhoneNumber', ns: C, types: ['x-radio'] },
  { key: 'AssistantPhoneNumber', ns: C, types: ['x-assistant'] },
  { key: 'CompanyMainPhone', ns: C2, types: ['work', 'x-company-main'] },
  { key: 'MMS', ns: C2, types: ['x-mms'] },
];

/** The fields a TEL can fill, in order of preference (see the module comment). */
function phoneCandidates(p: JProp): string[] {
  const t = typesOf(p);
  const has = (...names: string[]) => names.some((n) => t.has(n));
  if (has('x-assistant', 'x-evolution-assistant')) return ['AssistantPhoneNumber'];
  if (has('x-radio', 'x-evolution-radio')) return ['RadioPhoneNumber'];
  if (has('x-company-main', 'x-evolution-company')) return ['CompanyMainPhone'];
  if (has('x-mms')) return ['MMS'];
  if (has('pager')) return ['PagerNumber'];
  if (has('car')) return ['CarPhoneNumber'];
  if (has('fax')) return has('home') ? ['HomeFaxNumber'] : ['BusinessFaxNumber'];
  if (has('cell', 'mobile', 'iphone')) return ['MobilePhoneNumber'];
  if (has('work')) return ['BusinessPhoneNumber', 'Business2PhoneNumber'];
  if (has('home')) return ['HomePhoneNumber', 'Home2PhoneNumber'];
  const generic = [...t].every((x) => x === 'voice' || x === 'pref');
  return generic && !isGrouped(p) ? ['HomePhoneNumber', 'Home2PhoneNumber'] : [];
}

const phones: ContactField = {
  names: ['tel'],
  read(doc) {
    const taken = new Set<string>();
    const slots: Slot[] = [];
    for (const [i, p] of propsNamed(doc, ['tel'])) {
      const v = norm(valueOf(p).replace(/^tel:/i, ''));
      if (v === '') continue;
      const key = phoneCandidates(p).find((k) => !taken.has(k));
      if (!key) continue;
      taken.add(key);
      slots.push({ key, value: [v], lines: [i] });
    }
    return slots;
  },
  fromEas(ad) {
    return phoneKinds.flatMap((k) => {
      const v = easText(ad, k.ns, k.key);
      return v === undefined ? [] : [{ key: k.key, value: [v], lines: [] }];
    });
  },
  write(slot, old, ctx) {
    const kind = phoneKinds.find((k) => k.key === slot.key) as PhoneKind;
    // 4.0: ical.js's default TEL type is uri, so a number written with it gets no VALUE parameter, which
    // RFC 6350 reads as free text.
    return [['tel', old?.[1] ?? { type: typeParam(ctx.version, kind.types) }, ctx.version === '4.0' ? 'uri' : 'phone-number', slot.value[0] as string]];
  },
  toEas(slot) {
    const kind = phoneKinds.find((k) => k.key === slot.key) as PhoneKind;
    return [el(kind.ns, kind.key, slot.value[0] as string)];
  },
};

const addressKinds = [
  { key: 'Business', type: 'work' },
  { key: 'Home', type: 'home' },
  { key: 'Other', type: 'other' },
] as const;
const addressParts = ['Street', 'City', 'State', 'PostalCode', 'Country'] as const;

function addressKind(p: JProp): string | undefined {
  const t = typesOf(p);
  if (t.has('work')) return 'Business';
  if (t.has('home')) return 'Home';
  if (t.has('other')) return 'Other';
  const generic = [...t].every((x) => ['pref', 'postal', 'parcel', 'dom', 'intl'].includes(x));
  return generic && !isGrouped(p) ? 'Other' : undefined;
}

const addresses: ContactField = {
  names: ['adr'],
  read(doc) {
    const slots: Slot[] = [];
    for (const [i, p] of propsNamed(doc, ['adr'])) {
      const key = addressKind(p);
      if (!key || slots.some((s) => s.key === key)) continue;
      const c = componentsOf(p, '\n').map(norm);
      const value = [2, 3, 4, 5, 6].map((n) => c[n] ?? '');
      if (value.every((v) => v === '')) continue;
      slots.push({ key, value, lines: [i] });
    }
    return slots;
  },
  fromEas(ad) {
    return addressKinds.flatMap(({ key }) => {
      const value = addressParts.map((part) => easText(ad, C, `${key}Address${part}`) ?? '');
      return value.some((v) => v !== '') ? [{ key, value, lines: [] }] : [];
    });
  },
  write(slot, old, ctx) {
    const kind = addressKinds.find((k) => k.key === slot.key) as (typeof addressKinds)[number];
    const before = old && Array.isArray(old[3]) ? (old[3] as unknown[]) : [];
    return [['adr', old?.[1] ?? { type: typeParam(ctx.version, [kind.type]) }, 'text', [before[0] ?? '', before[1] ?? '', ...slot.value]]];
  },
  toEas: (slot) => addressParts.flatMap((part, i) => (slot.value[i] ? [el(C, `${slot.key}Address${part}`, slot.value[i] as string)] : [])),
};

function dateField(key: string, names: string[], newName: (v: Version) => string): ContactField {
  return {
    names,
    read(doc) {
      for (const [i, p] of propsNamed(doc, names)) {
        const d = vcardDate(valueOf(p));
        if (d) return [{ key, value: [d], lines: [i] }];
      }
      return [];
    },
    fromEas(ad) {
      const v = easText(ad, C, key);
      return v === undefined ? [] : [{ key, value: [easDate(v, key)], lines: [] }];
    },
    write(slot, old, ctx) {
      const name = old?.[0] ?? newName(ctx.version);
      // 4.0 BDAY/ANNIVERSARY are date-and-or-time (written 19900517); 3.0 and X- ones are written as text,
      // 1990-05-17, the form 3.0 readers know best.
      const type = ctx.version === '4.0' && (name === 'bday' || name === 'anniversary') ? 'date-and-or-time' : 'text';
      return [[name, old?.[1] ?? {}, type, slot.value[0] as string]];
    },
    toEas: (slot) => [el(C, key, easDateTime(slot.value[0] as string))],
  };
}

/** Base64 as the EAS Picture limit counts it: 48 KB of base64 text. */
export const pictureMaxChars = 48 * 1024;
const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

function imageKind(b64: string): { v3: string; media: string } | undefined {
  const head = Buffer.from(b64.slice(0, 12), 'base64');
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { v3: 'JPEG', media: 'image/jpeg' };
  if (head.subarray(0, 4).toString('latin1') === '\x89PNG') return { v3: 'PNG', media: 'image/png' };
  if (head.subarray(0, 3).toString('latin1') === 'GIF') return { v3: 'GIF', media: 'image/gif' };
  return undefined;
}

/** The base64 data of an inline photo (3.0 ENCODING=b, or a data: URI in either version). */
function photoData(p: JProp): string | undefined {
  const v = str(p[3]);
  if (p[2] === 'binary') return v.replace(/\s+/g, '');
  const m = /^data:[^,]*?;base64\\?,/i.exec(v);
  return m ? v.slice(m[0].length).replace(/\s+/g, '') : undefined;
}

const photo: ContactField = {
  names: ['photo'],
  read(doc) {
    const [first] = propsNamed(doc, ['photo']);
    if (!first) return [];
    const data = photoData(first[1]);
    const carried = data !== undefined && data.length <= pictureMaxChars && base64.test(data) && imageKind(data)?.v3 === 'JPEG';
    return [{ key: 'Picture', value: carried ? [data] : [], lines: [first[0]], weak: !carried }];
  },
  fromEas(ad) {
    const e = child(ad, 'Picture', C);
    if (!e) return [];
    const bytes = e.children.filter((c): c is Uint8Array => c instanceof Uint8Array);
    const data = bytes.length > 0 ? Buffer.concat(bytes).toString('base64') : textOf(e).replace(/\s+/g, '');
    if (data === '') return [];
    if (!base64.test(data) || data.length % 4 === 1) throw new Error('Contacts:Picture is not base64');
    if (data.length > pictureMaxChars) throw new Error(`Contacts:Picture is ${data.length} characters of base64; the limit is 48 KB`);
    return [{ key: 'Picture', value: [data], lines: [] }];
  },
  write(slot, _old, ctx) {
    const data = slot.value[0] as string;
    const kind = imageKind(data) ?? { v3: 'JPEG', media: 'image/jpeg' };
    if (ctx.version === '3.0') return [['photo', { encoding: 'b', type: kind.v3 }, 'binary', data]];
    return [['photo', {}, 'uri', `data:${kind.media};base64,${data}`]];
  },
  toEas: (slot) => (slot.weak ? [] : [el(C, 'Picture', slot.value[0] as string)]),
};

/** A list field: every value of every property named `name` (CATEGORIES; X-MS-CHILD, one per line). */
function listField(container: string, item: string, name: string, onePerLine: boolean): ContactField {
  return {
    names: [name],
    read(doc) {
      const found = propsNamed(doc, [name]);
      const values = [...new Set(found.flatMap(([, p]) => p.slice(3).map((v) => norm(str(v)))).filter((v) => v !== ''))];
      return values.length > 0 ? [{ key: container, value: values, lines: found.map(([i]) => i) }] : [];
    },
    fromEas(ad) {
      const values = [...new Set(children(child(ad, container, C), item, C).map((e) => norm(textOf(e))).filter((v) => v !== ''))];
      return values.length > 0 ? [{ key: container, value: values, lines: [] }] : [];
    },
    write(slot, old) {
      const params = old?.[1] ?? {};
      return onePerLine ? slot.value.map((v): JProp => [name, params, 'text', v]) : [[name, params, 'text', ...slot.value]];
    },
    toEas: (slot) => [el(C, container, ...slot.value.map((v) => el(C, item, v)))],
  };
}

/** The body a Body slot holds (its value is the text and the kept RTF body, '' for none). */
export function slotBody(slot: Slot | undefined): ItemBody | undefined {
  const [text = '', rtf = ''] = slot?.value ?? [];
  return text === '' && rtf === '' ? undefined : { ...(text !== '' ? { text } : {}), ...(rtf !== '' ? { rtf } : {}) };
}

/**
 * The Body field on property `name` (vCard NOTE, VJOURNAL DESCRIPTION): the first such property, and the
 * RTF body kept beside it (body.ts); the client's body joins them as bodyAfter says.
 */
export function bodyField<C>(name: string): Field<C> {
  const slotOf = (body: ItemBody | undefined, lines: number[]): Slot[] => (body ? [{ key: 'Body', value: [body.text ?? '', body.rtf ?? ''], lines }] : []);
  return {
    names: [name, keptRtfProperty],
    read(doc) {
      const [text] = propsNamed(doc, [name]);
      const [rtf] = propsNamed(doc, [keptRtfProperty]);
      const found = [text, rtf].filter((p) => p !== undefined);
      const value = (p: [number, JProp] | undefined, clean: (s: string) => string) => (p ? clean(valueOf(p[1])) : '');
      return slotOf(slotBody({ key: 'Body', value: [value(text, cleanText), value(rtf, (s) => s.trim())], lines: [] }), found.map(([i]) => i));
    },
    fromEas: (ad, _ctx, old) => slotOf(bodyAfter(slotBody(old[0]), bodyFromEas(ad)), []),
    write(slot, old) {
      const body = slotBody(slot);
      const out: JProp[] = [];
      if (body?.text !== undefined) out.push([name, old?.[0] === name ? old[1] : {}, 'text', body.text]);
      if (body?.rtf !== undefined) out.push([keptRtfProperty, {}, 'unknown', body.rtf]);
      return out;
    },
  };
}

const note: ContactField = {
  ...bodyField<Ctx>('note'),
  toEas(slot, options) {
    const body = bodyToEas(slotBody(slot), options.bodyPreference);
    return body ? [body] : [];
  },
};

const imKeys = ['IMAddress', 'IMAddress2', 'IMAddress3'];
const imScheme = /^(im|xmpp):/i;
const ims: ContactField = {
  names: ['impp'],
  read(doc) {
    const slots: Slot[] = [];
    for (const [i, p] of propsNamed(doc, ['impp'])) {
      const v = norm(valueOf(p).replace(imScheme, ''));
      if (v === '' || slots.length === imKeys.length) continue;
      slots.push({ key: imKeys[slots.length] as string, value: [v], lines: [i] });
    }
    return slots;
  },
  fromEas(ad) {
    return imKeys.flatMap((key) => {
      const v = easText(ad, C2, key);
      return v === undefined ? [] : [{ key, value: [v], lines: [] }];
    });
  },
  write(slot, old) {
    const v = slot.value[0] as string;
    const scheme = (old ? imScheme.exec(str(old[3]))?.[0] : undefined) ?? 'im:';
    return [['impp', old?.[1] ?? {}, 'uri', /^[a-z][a-z0-9+.-]*:/i.test(v) ? v : `${scheme}${v}`]];
  },
  toEas: (slot) => [el(C2, slot.key, slot.value[0] as string)],
};

/** Properties read as text here (X- names are of unknown type to ical.js, which would keep them escaped). */
const textProperties = [
  'x-ms-spouse', 'x-evolution-spouse', 'x-kaddressbook-x-spousesname',
  'x-ms-assistant', 'x-evolution-assistant', 'x-kaddressbook-x-assistantsname',
  'x-ms-manager', 'x-evolution-manager', 'x-kaddressbook-x-managersname',
  'x-ms-office-location', 'x-evolution-office', 'x-kaddressbook-x-office',
  'x-ms-alias', 'x-ms-customer-id', 'x-ms-government-id', 'x-ms-account-name', 'x-ms-child',
  'x-phonetic-first-name', 'x-phonetic-last-name', 'x-phonetic-org',
  'x-anniversary', 'x-ms-anniversary', 'x-evolution-anniversary',
];

const contactFields: ContactField[] = [
  fileAs,
  structuredName,
  organization,
  textField(C, 'JobTitle', ['title']),
  emails,
  phones,
  addresses,
  dateField('Birthday', ['bday'], () => 'bday'),
  dateField('Anniversary', ['anniversary', 'x-anniversary', 'x-ms-anniversary', 'x-evolution-anniversary'], (v) =>
    v === '4.0' ? 'anniversary' : 'x-anniversary'),
  textField(C, 'WebPage', ['url'], 'uri'),
  listField('Categories', 'Category', 'categories', false),
  note,
  listField('Children', 'Child', 'x-ms-child', true),
  textField(C, 'Spouse', ['x-ms-spouse', 'x-evolution-spouse', 'x-kaddressbook-x-spousesname']),
  textField(C, 'AssistantName', ['x-ms-assistant', 'x-evolution-assistant', 'x-kaddressbook-x-assistantsname']),
  textField(C, 'OfficeLocation', ['x-ms-office-location', 'x-evolution-office', 'x-kaddressbook-x-office']),
  textField(C, 'YomiFirstName', ['x-phonetic-first-name']),
  textField(C, 'YomiLastName', ['x-phonetic-last-name']),
  textField(C, 'YomiCompanyName', ['x-phonetic-org']),
  textField(C, 'Alias', ['x-ms-alias']),
  photo,
  textField(C2, 'NickName', ['nickname']),
  textField(C2, 'ManagerName', ['x-ms-manager', 'x-evolution-manager', 'x-kaddressbook-x-managersname']),
  textField(C2, 'CustomerId', ['x-ms-customer-id']),
  textField(C2, 'GovernmentId', ['x-ms-government-id']),
  textField(C2, 'AccountName', ['x-ms-account-name']),
  ims,
];

const designs = new Map<Version, DesignSet>();
/** ical.js's vCard design, with the X- properties above as text, 3.0 IMPP as a URI and 3.0 dates as text. */
function designFor(version: Version): DesignSet {
  let design = designs.get(version);
  if (!design) {
    const base = ICAL.design.getDesignSet(version === '4.0' ? 'vcard' : 'vcard3');
    const extra: Record<string, object> = Object.fromEntries(textProperties.map((n) => [n, { defaultType: 'text' }]));
    if (version === '3.0') Object.assign(extra, { impp: { defaultType: 'uri' }, bday: { defaultType: 'text' }, anniversary: { defaultType: 'text' } });
    design = { ...base, property: { ...base.property, ...extra } } as DesignSet;
    designs.set(version, design);
  }
  return design;
}

function openCard(data: string): Ctx {
  let jcard: unknown;
  try {
    jcard = ICAL.parse(data);
  } catch (err) {
    throw new Error(`the contact is not a readable vCard: ${(err as Error).message}`);
  }
  if (!Array.isArray(jcard) || jcard[0] !== 'vcard' || !Array.isArray(jcard[1])) throw new Error('the contact is not a single vCard');
  const version: Version = (jcard[1] as unknown[][]).some((p) => p[0] === 'version' && p[3] === '4.0') ? '4.0' : '3.0';
  return { version, doc: openDoc(data, ['vcard'], designFor(version)) };
}

export const contactMapper: ItemMapper = {
  toEas(data: string, options: ToEasOptions): WbxmlElement[] {
    const ctx = openCard(data);
    return contactFields.flatMap((f) => f.read(ctx.doc, ctx).filter((s) => !s.weak).flatMap((s) => f.toEas(s, options)));
  },

  fromEas(applicationData: WbxmlElement, existing: string | undefined, context: FromEasContext): string {
    let base = existing;
    if (base === undefined) {
      const design = designFor('3.0');
      base = ['BEGIN:VCARD', 'VERSION:3.0', `PRODID:${prodId}`, writeProp(['uid', {}, 'text', context.newUid()], design), 'END:VCARD', ''].join('\r\n');
    }
    const ctx = openCard(base);
    return assertValidItem('contacts', applyFields(ctx.doc, contactFields, applicationData, ctx));
  },
};
