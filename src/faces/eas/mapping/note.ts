import ICAL from 'ical.js';
import { child, children, el, type WbxmlElement } from '../wbxml/element.js';
import { bodyToEas, cleanText, textOf } from './body.js';
import { applyFields, assertValidItem, bodyField, openDoc, prodId, slotBody, writeProp, type Field, type JProp, type Slot } from './contact.js';
import type { FromEasContext, ItemMapper, ToEasOptions } from './item-mapper.js';

/**
 * Notes: the hub's VJOURNAL (inside a VCALENDAR) ⇄ the ActiveSync Note class ([MS-ASNOTE], protocol
 * 14.0 and later).
 *
 * Subject ⇄ SUMMARY, Body ⇄ DESCRIPTION (the first one; an RTF body the server cannot read is kept beside it,
 * contact.ts bodyField), Categories ⇄ every CATEGORIES value.
 * LastModifiedDate is sent from LAST-MODIFIED (else DTSTAMP) and never taken from the client: every write
 * sets LAST-MODIFIED and DTSTAMP to the time of the write. MessageClass is always IPM.StickyNote.
 * A Change edits the note's master VJOURNAL line by line, like contacts (see contact.ts): everything else
 * in the VCALENDAR — DTSTART, CLASS, ATTACH, X- properties, other components — is kept byte for byte.
 * A new note gets VERSION, PRODID, UID, CREATED, DTSTAMP and LAST-MODIFIED; it has no DTSTART, which makes
 * it a note rather than a journal entry for clients that tell them apart.
 */

const N = 'Notes';
const messageClass = 'IPM.StickyNote';

interface NoteCtx {
  /** The time of this write, as jCal writes a UTC date-time: 2024-01-02T03:04:05Z. */
  now: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(str).join(',') : v == null ? '' : String(v));
const norm = (s: string) => cleanText(s).trim();
const design = ICAL.design.getDesignSet('icalendar');

function propsNamed(props: Map<number, JProp>, name: string): Array<[number, JProp]> {
  return [...props].filter(([, p]) => p[0] === name);
}

const summary: Field<NoteCtx> = {
  names: ['summary'],
  read(doc) {
    const [first] = propsNamed(doc.props, 'summary');
    const v = first ? norm(str(first[1][3])) : '';
    return first && v !== '' ? [{ key: 'Subject', value: [v], lines: [first[0]] }] : [];
  },
  fromEas(ad) {
    const v = norm(textOf(child(ad, 'Subject', N)));
    return v === '' ? [] : [{ key: 'Subject', value: [v], lines: [] }];
  },
  write: (slot, old) => [['summary', old?.[1] ?? {}, 'text', slot.value[0] as string]],
};

const description = bodyField<NoteCtx>('description');

const categories: Field<NoteCtx> = {
  names: ['categories'],
  read(doc) {
    const found = propsNamed(doc.props, 'categories');
    const values = [...new Set(found.flatMap(([, p]) => p.slice(3).map((v) => norm(str(v)))).filter((v) => v !== ''))];
    return values.length > 0 ? [{ key: 'Categories', value: values, lines: found.map(([i]) => i) }] : [];
  },
  fromEas(ad) {
    const values = [...new Set(children(child(ad, 'Categories', N), 'Category', N).map((e) => norm(textOf(e))).filter((v) => v !== ''))];
    return values.length > 0 ? [{ key: 'Categories', value: values, lines: [] }] : [];
  },
  write: (slot, old) => [['categories', old?.[1] ?? {}, 'text', ...slot.value]],
};

/** DTSTAMP or LAST-MODIFIED: set to the time of every write. */
function stamp(name: string): Field<NoteCtx> {
  return {
    names: [name],
    read(doc) {
      const [first] = propsNamed(doc.props, name);
      return first ? [{ key: name, value: [str(first[1][3])], lines: [first[0]] }] : [];
    },
    fromEas: (_ad, ctx) => [{ key: name, value: [ctx.now], lines: [] }],
    write: (slot: Slot) => [[name, {}, 'date-time', slot.value[0] as string]],
  };
}

const noteFields: Array<Field<NoteCtx>> = [stamp('dtstamp'), stamp('last-modified'), summary, description, categories];

/** A jCal UTC date-time (2024-01-02T03:04:05Z) as a Compact DateTime ([MS-ASDTYPE] 2.7.2): 20240102T030405Z. */
function compactDateTime(v: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(v);
  return m ? `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}Z` : undefined;
}

const isMaster = (props: JProp[]) => !props.some((p) => p[0] === 'recurrence-id');

function openNote(data: string) {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(data);
  } catch (err) {
    throw new Error(`the note is not a readable iCalendar object: ${(err as Error).message}`);
  }
  if (!Array.isArray(jcal) || jcal[0] !== 'vcalendar') throw new Error('the note is not a single VCALENDAR');
  return openDoc(data, ['vcalendar', 'vjournal'], design, isMaster);
}

export const noteMapper: ItemMapper = {
  toEas(data: string, options: ToEasOptions): WbxmlElement[] {
    const doc = openNote(data);
    const ctx: NoteCtx = { now: '' };
    const first = (f: Field<NoteCtx>) => f.read(doc, ctx)[0];
    const subject = first(summary);
    const body = bodyToEas(slotBody(first(description)), options.bodyPreference);
    const modified = compactDateTime(first(stamp('last-modified'))?.value[0] ?? first(stamp('dtstamp'))?.value[0] ?? '');
    const cats = first(categories)?.value ?? [];
    return [
      ...(subject ? [el(N, 'Subject', subject.value[0] as string)] : []),
      ...(body ? [body] : []),
      el(N, 'MessageClass', messageClass),
      ...(modified ? [el(N, 'LastModifiedDate', modified)] : []),
      ...(cats.length > 0 ? [el(N, 'Categories', ...cats.map((c) => el(N, 'Category', c)))] : []),
    ];
  },

  fromEas(applicationData: WbxmlElement, existing: string | undefined, context: FromEasContext): string {
    const now = new Date(context.now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    let base = existing;
    if (base === undefined) {
      const line = (p: JProp) => writeProp(p, design);
      base = [
        'BEGIN:VCALENDAR', 'VERSION:2.0', `PRODID:${prodId}`, 'BEGIN:VJOURNAL',
        line(['uid', {}, 'text', context.newUid()]), line(['created', {}, 'date-time', now]),
        'END:VJOURNAL', 'END:VCALENDAR', '',
      ].join('\r\n');
    }
    const doc = openNote(base);
    return assertValidItem('notes', applyFields(doc, noteFields, applicationData, { now }));
  },
};
