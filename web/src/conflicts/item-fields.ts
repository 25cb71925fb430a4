import ICAL from 'ical.js';
import { memoByText } from '../lib/parse-cache.js';

type Component = InstanceType<typeof ICAL.Component>;
type Property = InstanceType<typeof ICAL.Property>;

/** One property of a vCard or iCalendar item, as a person reads it. */
export interface Field {
  /** Where it sits (component, RECURRENCE-ID, property name, occurrence), to pair it with the other version's. */
  key: string;
  label: string;
  value: string;
  /** The property's content line, parameters included: two fields differ when these do. */
  raw: string;
}

export interface FieldPair {
  key: string;
  label: string;
  /** Null where that version has no such property. */
  mine: string | null;
  current: string | null;
  differs: boolean;
}

const names: Record<string, string> = {
  fn: 'Name',
  n: 'Name parts',
  nickname: 'Nickname',
  email: 'Email',
  tel: 'Phone',
  adr: 'Address',
  org: 'Organization',
  title: 'Job title',
  role: 'Role',
  bday: 'Birthday',
  anniversary: 'Anniversary',
  url: 'Web page',
  note: 'Note',
  photo: 'Photo',
  categories: 'Categories',
  uid: 'UID',
  rev: 'Revised',
  summary: 'Summary',
  description: 'Description',
  location: 'Location',
  dtstart: 'Start',
  dtend: 'End',
  due: 'Due',
  duration: 'Duration',
  rrule: 'Repeats',
  rdate: 'Extra dates',
  exdate: 'Skipped dates',
  status: 'Status',
  priority: 'Priority',
  'percent-complete': 'Percent complete',
  completed: 'Completed',
  class: 'Access class',
  transp: 'Shows as',
  organizer: 'Organizer',
  attendee: 'Attendee',
  trigger: 'Reminder',
  action: 'Reminder type',
  'related-to': 'Related to',
  sequence: 'Sequence',
  dtstamp: 'Time stamp',
  created: 'Created',
  'last-modified': 'Last modified',
};

/** Format lines that say nothing about the item itself; an override's RECURRENCE-ID is in its rows' label. */
const hidden = new Set(['version', 'prodid', 'calscale', 'method', 'recurrence-id']);
/** Properties that may embed a file (base64 or a data: URI), which no one reads as text. */
const embedded = new Set(['photo', 'logo', 'sound', 'key', 'attach']);
const longValueMax = 300;

/** The root component of one vCard or VCALENDAR, or null if the text does not parse. */
function parseItem(text: string): Component | null {
  try {
    const parsed: unknown = ICAL.parse(text);
    // Several objects in one text parse to a list of them; an item holds one.
    const first = Array.isArray(parsed) && Array.isArray(parsed[0]) ? parsed[0] : parsed;
    return new ICAL.Component(first as unknown[]);
  } catch {
    return null;
  }
}

/**
 * What the conflicts page shows of one text, worked out once per text rather than on every render
 * (each push notice re-renders the page). The results are shared: read-only.
 */
const readItem = memoByText((text: string): { fields: readonly Field[]; summary: string | null } | null => {
  const root = parseItem(text);
  return root && { fields: fieldsOf(root), summary: summaryOf(root) };
});

/** The item's properties in reading order, or null if the text is not a vCard or iCalendar object. */
export function readFields(text: string): readonly Field[] | null {
  return readItem(text)?.fields ?? null;
}

function fieldsOf(root: Component): Field[] {
  const fields: Field[] = [];
  if (root.name === 'vcard') addProperties(root, '', '', fields);
  else addComponents(root, '', '', fields);
  return fields;
}

function addComponents(parent: Component, keyPrefix: string, labelPrefix: string, fields: Field[]): void {
  const seen = new Map<string, number>();
  const count = (name: string) => parent.getAllSubcomponents(name).length;
  for (const child of parent.getAllSubcomponents()) {
    if (child.name === 'vtimezone') continue;
    const occurrence = child.getFirstProperty('recurrence-id');
    const base = occurrence ? `${child.name}@${occurrence.toICALString()}` : child.name;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    let label = labelPrefix;
    if (occurrence) label += `Occurrence ${valueOf(occurrence)}: `;
    else if (child.name === 'valarm') label += count('valarm') > 1 ? `Reminder ${n + 1}: ` : 'Reminder: ';
    const key = `${keyPrefix}${base}#${n}/`;
    addProperties(child, key, label, fields);
    addComponents(child, key, label, fields);
  }
}

function addProperties(component: Component, keyPrefix: string, labelPrefix: string, fields: Field[]): void {
  const seen = new Map<string, number>();
  for (const property of component.getAllProperties()) {
    const name = property.name;
    if (hidden.has(name)) continue;
    const n = seen.get(name) ?? 0;
    seen.set(name, n + 1);
    fields.push({ key: `${keyPrefix}${name}#${n}`, label: labelPrefix + labelOf(property), value: valueOf(property), raw: property.toICALString() });
  }
}

function labelOf(property: Property): string {
  const name = names[property.name] ?? property.name.toUpperCase();
  const type = property.getParameter('type');
  const types = (Array.isArray(type) ? type : type ? [type] : []).filter((t) => t.toLowerCase() !== 'pref');
  return types.length > 0 ? `${name} (${types.join(', ').toLowerCase()})` : name;
}

function valueOf(property: Property): string {
  const tzid = property.getParameter('tzid');
  const text = property
    .getValues()
    .map((value: unknown) => {
      if (Array.isArray(value)) return value.map(String).filter((part) => part !== '').join('; ');
      if (value instanceof ICAL.Time) return value.toString().replace('T', ' ').replace(/Z$/, ' UTC');
      return String(value);
    })
    .join(', ');
  if (embedded.has(property.name) && text.length > longValueMax) return `(embedded file, ${text.length} characters)`;
  const shown = typeof tzid === 'string' ? `${text} (${tzid})` : text;
  return shown.length > longValueMax ? `${shown.slice(0, longValueMax)}… (${shown.length} characters)` : shown;
}

/** Pairs the fields of two versions, so they can be read side by side and the differences marked. */
export function pairFields(mine: readonly Field[], current: readonly Field[]): FieldPair[] {
  const currentByKey = new Map(current.map((field) => [field.key, field]));
  const pairs: FieldPair[] = mine.map((field) => {
    const other = currentByKey.get(field.key);
    return { key: field.key, label: field.label, mine: field.value, current: other?.value ?? null, differs: other?.raw !== field.raw };
  });
  const mineKeys = new Set(mine.map((field) => field.key));
  for (const field of current) {
    if (!mineKeys.has(field.key)) pairs.push({ key: field.key, label: field.label, mine: null, current: field.value, differs: true });
  }
  return pairs;
}

/** What a person calls the item: a contact's name, an event's, task's or note's summary. */
export function itemSummary(text: string): string | null {
  return readItem(text)?.summary ?? null;
}

function summaryOf(root: Component): string | null {
  if (root.name === 'vcard') return textOf(root.getFirstPropertyValue('fn'));
  const parts = root.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  const main = parts.find((c) => !c.hasProperty('recurrence-id')) ?? parts[0];
  return main ? textOf(main.getFirstPropertyValue('summary')) : null;
}

function textOf(value: unknown): string | null {
  const text = typeof value === 'string' ? value.trim() : '';
  return text === '' ? null : text;
}
