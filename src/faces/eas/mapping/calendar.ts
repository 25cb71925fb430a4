import ICAL from 'ical.js';
import { limits } from '../../../core/limits.js';
import { costlyPart, type JcalComponent } from '../../../kinds/vcard-icalendar.js';
import { child, children, el, text, type WbxmlElement } from '../wbxml/element.js';
import { bodyAfter, bodyFromEas, bodyToEas, cleanText, keptRtfProperty, type ItemBody } from './body.js';
import type { EasVersion, FromEasContext, ItemMapper, ToEasOptions } from './item-mapper.js';
import {
  easToRrule, parseRecurrence, recurrenceElement, rruleToEas, sameRecurrence, type EasRecurrence, type RecurrenceCodec,
} from './recurrence.js';
import {
  decodeTimeZoneBlob, encodeTimeZoneBlob, hasDst, ianaVtimezone, ianaZoneForInfo, offsetsOf, rulesMeant, sameRules, syntheticTzid,
  timeZoneInfoFromVtimezone, utcInfo, vtimezoneFromInfo, wallTimeIn, type TimeZoneInfo,
} from './timezone-blob.js';

/**
 * Calendar items: an iCalendar VEVENT (with its RECURRENCE-ID overrides) ↔ the ActiveSync Calendar class
 * (MS-ASCAL).
 *
 * Toward the client every field is read from the hub's item. From the client, an edit (Change) starts from
 * the hub's current item and compares each field the client sent with what this mapper would send for that
 * item: an unchanged field leaves its iCalendar properties exactly as they were (parameters, X- properties,
 * other alarms, attendees' extra parameters, a rule ActiveSync cannot express, VTIMEZONE details); a changed
 * field is rewritten; a field the client left out is removed (the Sync command first fills in, from this
 * mapper's own output, the fields a client left out that mean "unchanged": sync.ts leftOutMeansUnchanged,
 * docs/eas.md). What ActiveSync cannot carry at all is never touched. Occurrence edits of protocol 16.x
 * (InstanceId) go through OccurrenceEdits below.
 *
 * Choices where the specification leaves room:
 * - Times are sent as UTC instants with the Timezone blob of the event's zone (its VTIMEZONE, or the IANA
 *   zone from timezones-ical-library). UTC events, floating events (read as UTC) and all-day events send
 *   the UTC blob; an all-day event's StartTime/EndTime are midnight UTC of its dates. An all-day event from
 *   the client takes its dates from local midnight under the rules its blob stands for (midnight UTC and,
 *   failing both, the day containing the start and the day after the end are accepted too).
 * - From the client, a blob with the rules of the existing zone keeps the item's zone (TZID and VTIMEZONE
 *   untouched), and so does a blob without daylight saving rules that names a zone with those rules; a
 *   missing or undecodable blob keeps it too (the instants are exact), or gives UTC for a new item; any
 *   other blob gets the IANA zone ianaZoneForInfo chooses (timezone-blob.ts; docs/eas.md, "Time zones"),
 *   else becomes a VTIMEZONE built from the blob. A UTC blob gives UTC times.
 * - Recurrence: see recurrence.ts. A rule that cannot be sent, RDATEs and further RRULEs are kept as they
 *   are while the client sends back the pattern it was sent (or none, if none was sent).
 * - Reminder is the first DISPLAY or AUDIO VALARM triggered at or before the start; others are untouched.
 * - BusyStatus: TRANSP TRANSPARENT is free; X-MICROSOFT-CDO-BUSYSTATUS gives tentative, away and elsewhere.
 *   Sensitivity: CLASS PUBLIC/PRIVATE/CONFIDENTIAL, and X-PERSONAL for "personal" (read as private
 *   by other iCalendar clients, as RFC 5545 asks for unknown classes).
 * - MeetingStatus: an event with attendees or an organizer is a meeting; STATUS:CANCELLED is the cancelled
 *   bit. Whether the user organizes it cannot be read from the item (the account's address is not known
 *   here), so a meeting is sent as received (3) unless the client said it organizes it, which is kept in
 *   X-EAS-MEETINGSTATUS. A client leaving MeetingStatus out changes nothing.
 * - OrganizerName/OrganizerEmail left out by the client keep the ORGANIZER (protocol 16 forbids clients to
 *   send them). AttendeeStatus/AttendeeType left out keep the attendee's PARTSTAT and ROLE/CUTYPE.
 * - Exceptions: Deleted ↔ EXDATE, others ↔ override VEVENTs (a new one is a copy of the master). An
 *   exception's field sent only when it differs from the master; StartTime and EndTime always. In protocol
 *   16, where clients may not send Exceptions, a Change without them keeps the item's exceptions unless the
 *   pattern or the series' times changed (then they go, as the specification says).
 */

// ---------------------------------------------------------------------------------------------------
// Helpers shared with the task mapper

export const prodId = '-//Syncpoint//ActiveSync//EN';
const dayMs = 86_400_000;

export function parseItem(data: string, what: string): ICAL.Component {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(data);
  } catch (err) {
    throw new Error(`cannot parse the existing ${what}: ${(err as Error).message}`);
  }
  if (!Array.isArray(jcal) || jcal[0] !== 'vcalendar') throw new Error(`the existing ${what} is not one VCALENDAR`);
  // An item stored before the content cost rules (docs/architecture.md) is refused here as it would be
  // on the way in, before ical.js spends seconds on it: the device is not sent it, and its health says why.
  const costly = costlyPart(jcal as unknown as JcalComponent);
  if (costly) throw new Error(`the existing ${what} would cost too much to convert: ${costly}`);
  return new ICAL.Component(jcal);
}

/** RFC 5545 text: ical.js leaves off the CRLF that ends the last line. */
export function serializeItem(calendar: ICAL.Component): string {
  return `${calendar.toString()}\r\n`;
}

export function newCalendar(): ICAL.Component {
  const calendar = new ICAL.Component('vcalendar');
  calendar.addPropertyWithValue('version', '2.0');
  calendar.addPropertyWithValue('prodid', prodId);
  return calendar;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Compact DateTime (MS-ASDTYPE 2.7.2): 20261122T090000Z. */
export function compactDate(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
}

/** dateTime (MS-ASDTYPE 2.3): 2026-11-22T09:00:00.000Z. */
export function dashedDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}

/** Reads either date form (clients mix them up); throws an Error naming `field` for anything else. */
export function parseEasDate(value: string, field: string): number {
  const v = value.trim();
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?$/.exec(v) ??
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,7})?Z?$/.exec(v);
  if (!m) throw new Error(`${field} ${JSON.stringify(v.slice(0, 40))} is not a date-time`);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > ICAL.Time.daysInMonth(mo, y) || h > 23 || mi > 59 || s > 59) {
    throw new Error(`${field} ${JSON.stringify(v)} is not a valid date-time`);
  }
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

export const compactCodec: RecurrenceCodec = { formatDate: compactDate, parseDate: parseEasDate };

/** Structural equality of plain values (undefined members are ignored). */
export function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function textProp(c: ICAL.Component, name: string): string | undefined {
  const v = c.getFirstPropertyValue(name);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The body of a VEVENT or VTODO: DESCRIPTION, and the RTF body kept beside it (body.ts). */
export function readBody(c: ICAL.Component): ItemBody | undefined {
  const text = textProp(c, 'description');
  const rtf = textProp(c, keptRtfProperty);
  return text === undefined && rtf === undefined ? undefined : { ...(text !== undefined ? { text } : {}), ...(rtf !== undefined ? { rtf } : {}) };
}

export function writeBody(c: ICAL.Component, v: ItemBody | undefined): void {
  setText(c, 'description', v?.text);
  setText(c, keptRtfProperty, v?.rtf);
}

/** Sets a text property, keeping the existing one's parameters; undefined or '' removes it. */
export function setText(c: ICAL.Component, name: string, value: string | undefined): void {
  if (value === undefined || value === '') {
    c.removeAllProperties(name);
    return;
  }
  const prop = c.getFirstProperty(name);
  if (prop) prop.setValue(value);
  else c.addPropertyWithValue(name, value);
}

export function readCategories(c: ICAL.Component): string[] {
  return c.getAllProperties('categories').flatMap((p) => p.getValues().filter((v): v is string => typeof v === 'string' && v !== ''));
}

export function writeCategories(c: ICAL.Component, list: string[] | undefined): void {
  c.removeAllProperties('categories');
  if (!list || list.length === 0) return;
  const prop = new ICAL.Property('categories', c);
  prop.setValues(list);
  c.addProperty(prop);
}

const classes = ['PUBLIC', 'X-PERSONAL', 'PRIVATE', 'CONFIDENTIAL'] as const;

export function readSensitivity(c: ICAL.Component): number {
  const v = (textProp(c, 'class') ?? 'PUBLIC').toUpperCase();
  const i = (classes as readonly string[]).indexOf(v);
  return i === -1 ? 2 : i; // RFC 5545: an unknown class is treated as PRIVATE
}

export function writeSensitivity(c: ICAL.Component, s: number | undefined): void {
  setText(c, 'class', s === undefined ? undefined : classes[s] ?? 'PRIVATE');
}

/** An optional integer element; a malformed value is an Error. */
export function intElement(parent: WbxmlElement, name: string, ns: string, field = name): number | undefined {
  const v = text(child(parent, name, ns));
  if (v === undefined || v.trim() === '') return undefined;
  if (!/^\s*-?\d{1,9}\s*$/.test(v)) throw new Error(`${field}: ${JSON.stringify(v.slice(0, 20))} is not a number`);
  return Number(v);
}

/** An optional text element, cleaned of what an item cannot hold; '' when present but empty. */
export function textElement(parent: WbxmlElement, name: string, ns: string): string | undefined {
  const e = child(parent, name, ns);
  return e ? cleanText(text(e)) : undefined;
}

export function categoriesElement(ns: string, list: string[] | undefined): WbxmlElement | undefined {
  if (list === undefined) return undefined;
  return el(ns, 'Categories', ...list.map((c) => el(ns, 'Category', c)));
}

export function parseCategories(parent: WbxmlElement, ns: string): string[] | undefined {
  const e = child(parent, 'Categories', ns);
  if (!e) return undefined;
  return children(e, 'Category', ns).map((c) => cleanText(text(c)).trim()).filter((c) => c !== '');
}

function isReminderAlarm(alarm: ICAL.Component): boolean {
  const action = String(alarm.getFirstPropertyValue('action') ?? '').toUpperCase();
  return action === 'DISPLAY' || action === 'AUDIO';
}

export function reminderAlarms(c: ICAL.Component): ICAL.Component[] {
  return c.getAllSubcomponents('valarm').filter(isReminderAlarm);
}

export function newDisplayAlarm(trigger: ICAL.Duration | ICAL.Time): ICAL.Component {
  const alarm = new ICAL.Component('valarm');
  alarm.addPropertyWithValue('action', 'DISPLAY');
  alarm.addPropertyWithValue('description', 'Reminder');
  alarm.addPropertyWithValue('trigger', trigger);
  return alarm;
}

// ---------------------------------------------------------------------------------------------------
// Zones and times

type Zone =
  | { kind: 'utc' }
  /** Floating times, or times in a TZID nothing defines (kept as written, read as UTC). */
  | { kind: 'floating'; tzid?: string }
  | { kind: 'tz'; tzid: string; tz: ICAL.Timezone; vtimezone: ICAL.Component };

const utcZone: Zone = { kind: 'utc' };
const floatingZone: Zone = { kind: 'floating' };

/** The zones an item's TZIDs name: its own VTIMEZONEs, else timezones-ical-library's. */
class Zones {
  private readonly cache = new Map<string, Zone>();
  constructor(private readonly calendar: ICAL.Component) {}

  get(tzid: string): Zone {
    let zone = this.cache.get(tzid);
    if (zone) return zone;
    const own = this.calendar.getAllSubcomponents('vtimezone').find((v) => v.getFirstPropertyValue('tzid') === tzid);
    if (own) {
      zone = { kind: 'tz', tzid, tz: new ICAL.Timezone({ component: own, tzid }), vtimezone: own };
    } else {
      const library = ianaVtimezone(tzid);
      if (library) {
        library.updatePropertyWithValue('tzid', tzid);
        zone = { kind: 'tz', tzid, tz: new ICAL.Timezone({ component: library, tzid }), vtimezone: library };
      } else {
        zone = { kind: 'floating', tzid };
      }
    }
    this.cache.set(tzid, zone);
    return zone;
  }

  /** A zone for a client's blob. */
  fromInfo(info: TimeZoneInfo): Zone {
    // A rule-less blob at offset 0 may still name a zone with summer time (TbSync's Europe/London).
    const meant = rulesMeant(info);
    if (!hasDst(meant) && offsetsOf(meant).standard === 0) return utcZone;
    const iana = ianaZoneForInfo(info);
    if (iana) {
      const library = ianaVtimezone(iana);
      const tzid = String(library?.getFirstPropertyValue('tzid') ?? iana);
      return this.get(tzid);
    }
    const tzid = syntheticTzid(info);
    const own = this.calendar.getAllSubcomponents('vtimezone').find((v) => v.getFirstPropertyValue('tzid') === tzid);
    if (own) return this.get(tzid);
    const vtimezone = vtimezoneFromInfo(info, tzid);
    const zone: Zone = { kind: 'tz', tzid, tz: new ICAL.Timezone({ component: vtimezone, tzid }), vtimezone };
    this.cache.set(tzid, zone);
    return zone;
  }
}

function fieldsOf(t: ICAL.Time) {
  return { year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second };
}

interface Resolved {
  time: ICAL.Time;
  /** null for a DATE value. */
  zone: Zone | null;
}

/** A DATE or DATE-TIME value of `prop` with its zone resolved; undefined for anything else. */
function resolveValue(prop: ICAL.Property, zones: Zones, value?: unknown): Resolved | undefined {
  const v = value ?? prop.getFirstValue();
  if (!(v instanceof ICAL.Time)) return undefined;
  if (v.isDate) return { time: v, zone: null };
  if (v.zone === ICAL.Timezone.utcTimezone) return { time: v, zone: utcZone };
  const tzid = prop.getParameter('tzid');
  if (typeof tzid === 'string' && tzid !== '') {
    const zone = zones.get(tzid);
    if (zone.kind === 'tz') return { time: ICAL.Time.fromData(fieldsOf(v), zone.tz), zone };
    return { time: ICAL.Time.fromData(fieldsOf(v)), zone };
  }
  return { time: ICAL.Time.fromData(fieldsOf(v)), zone: floatingZone };
}

/** Epoch ms of a resolved time: DATE and floating values as UTC. */
function msOf(r: Resolved): number {
  const t = r.time;
  if (t.isDate) return Date.UTC(t.year, t.month - 1, t.day);
  if (r.zone?.kind === 'tz') return t.toUnixTime() * 1000;
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
}

/** The wall time of an instant in a zone (floating zones read instants as UTC). */
function wallOf(ms: number, zone: Zone): ICAL.Time {
  if (zone.kind === 'tz') return wallTimeIn(ms, zone.tz);
  const utc = ICAL.Time.fromJSDate(new Date(ms), true);
  if (zone.kind === 'utc') return utc;
  return ICAL.Time.fromData(fieldsOf(utc));
}

/** The instant of a wall time in a zone. */
function instantOf(wall: { year: number; month: number; day: number; hour: number; minute: number; second: number }, zone: Zone): number {
  if (zone.kind === 'tz') return ICAL.Time.fromData({ ...wall }, zone.tz).toUnixTime() * 1000;
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

function dateValue(ms: number): ICAL.Time {
  const d = new Date(ms);
  return ICAL.Time.fromData({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), isDate: true });
}

/** Writes a DATE (`zone` null) or DATE-TIME value into `prop`, with the TZID parameter the zone needs. */
function setTimeValues(prop: ICAL.Property, values: ICAL.Time[], zone: Zone | null): void {
  prop.removeParameter('tzid');
  prop.removeParameter('value');
  // resetType clears the values, so it goes first.
  prop.resetType(zone === null ? 'date' : 'date-time');
  if (values.length === 1) prop.setValue(values[0] as ICAL.Time);
  else prop.setValues(values);
  if (zone?.kind === 'tz') prop.setParameter('tzid', zone.tzid);
  else if (zone?.kind === 'floating' && zone.tzid) prop.setParameter('tzid', zone.tzid);
}

/** The value of an instant (or, with `zone` null, of the UTC date of `ms`) as written in a zone. */
function timeValue(ms: number, zone: Zone | null): ICAL.Time {
  return zone === null ? dateValue(ms) : wallOf(ms, zone);
}

function setTimeProp(c: ICAL.Component, name: string, ms: number, zone: Zone | null): void {
  const props = c.getAllProperties(name);
  props.slice(1).forEach((p) => c.removeProperty(p));
  let prop = props[0];
  if (!prop) {
    prop = new ICAL.Property(name, c);
    c.addProperty(prop);
  }
  setTimeValues(prop, [timeValue(ms, zone)], zone);
}

interface Times {
  allDay: boolean;
  start: number;
  end: number;
}

function readTimes(c: ICAL.Component, zones: Zones): { times?: Times; start?: Resolved } {
  const sp = c.getFirstProperty('dtstart');
  const start = sp && resolveValue(sp, zones);
  if (!start) return {};
  const startMs = msOf(start);
  let end: number;
  const ep = c.getFirstProperty('dtend');
  const endResolved = ep && resolveValue(ep, zones);
  const duration = c.getFirstPropertyValue('duration');
  if (endResolved) {
    end = msOf(endResolved);
  } else if (duration instanceof ICAL.Duration) {
    const t = start.time.clone();
    t.addDuration(duration);
    end = msOf({ time: t, zone: start.zone });
  } else {
    end = start.time.isDate ? startMs + dayMs : startMs;
  }
  return { times: { allDay: start.time.isDate, start: startMs, end: Math.max(end, startMs) }, start };
}

// ---------------------------------------------------------------------------------------------------
// The fields of one VEVENT (master or override)

interface ComponentFields {
  subject?: string;
  location?: string;
  body?: ItemBody;
  categories?: string[];
  sensitivity?: number;
  busyStatus?: number;
  reminder?: number;
  meetingStatus?: number;
}

const fieldNames = ['subject', 'location', 'body', 'categories', 'sensitivity', 'busyStatus', 'reminder', 'meetingStatus'] as const;
type FieldName = (typeof fieldNames)[number];

const cdoBusy = ['FREE', 'TENTATIVE', 'BUSY', 'OOF', 'WORKINGELSEWHERE'] as const;
const meetingStatusProp = 'x-eas-meetingstatus';

function readBusy(c: ICAL.Component): number {
  const cdo = textProp(c, 'x-microsoft-cdo-busystatus')?.toUpperCase();
  const i = cdo ? (cdoBusy as readonly string[]).indexOf(cdo) : -1;
  if (i !== -1) return i;
  return textProp(c, 'transp')?.toUpperCase() === 'TRANSPARENT' ? 0 : 2;
}

function writeBusy(c: ICAL.Component, v: number | undefined): void {
  c.removeAllProperties('x-microsoft-cdo-busystatus');
  if (v === undefined) {
    c.removeAllProperties('transp');
    return;
  }
  setText(c, 'transp', v === 0 ? 'TRANSPARENT' : 'OPAQUE');
  if (v === 1 || v === 3 || v === 4) c.addPropertyWithValue('x-microsoft-cdo-busystatus', cdoBusy[v]);
}

function readMeetingStatus(c: ICAL.Component): number {
  if (!c.hasProperty('attendee') && !c.hasProperty('organizer')) return 0;
  const stored = Number(textProp(c, meetingStatusProp));
  const received = Number.isInteger(stored) && stored > 0 ? stored & 2 : 2;
  const cancelled = textProp(c, 'status')?.toUpperCase() === 'CANCELLED' ? 4 : 0;
  return 1 | received | cancelled;
}

function writeMeetingStatus(c: ICAL.Component, v: number | undefined): void {
  if (v === undefined) return;
  const cancelled = (v & 4) !== 0;
  const status = textProp(c, 'status')?.toUpperCase();
  if (cancelled && status !== 'CANCELLED') setText(c, 'status', 'CANCELLED');
  if (!cancelled && status === 'CANCELLED') c.removeAllProperties('status');
  c.removeAllProperties(meetingStatusProp);
  // Only a meeting the user organizes differs from what the item itself says.
  if ((v & 1) !== 0 && (v & 2) === 0) c.addPropertyWithValue(meetingStatusProp, String(v & 7));
}

/** The first DISPLAY or AUDIO alarm triggered at or before the start, and its lead in minutes. */
function findReminder(c: ICAL.Component): { alarm: ICAL.Component; minutes: number } | undefined {
  for (const alarm of reminderAlarms(c)) {
    const trigger = alarm.getFirstProperty('trigger');
    const v = trigger?.getFirstValue();
    if (!trigger || !(v instanceof ICAL.Duration)) continue;
    if (String(trigger.getParameter('related') ?? 'START').toUpperCase() !== 'START') continue;
    const seconds = v.toSeconds();
    if (seconds > 0) continue;
    return { alarm, minutes: Math.round(-seconds / 60) };
  }
  return undefined;
}

function writeReminder(c: ICAL.Component, minutes: number | undefined): void {
  const found = findReminder(c);
  if (minutes === undefined) {
    if (found) c.removeSubcomponent(found.alarm);
    return;
  }
  const trigger = ICAL.Duration.fromSeconds(-minutes * 60);
  if (found) found.alarm.updatePropertyWithValue('trigger', trigger);
  else c.addSubcomponent(newDisplayAlarm(trigger));
}

function readFields(c: ICAL.Component): ComponentFields {
  return {
    subject: textProp(c, 'summary'),
    location: textProp(c, 'location'),
    body: readBody(c),
    categories: readCategories(c),
    sensitivity: readSensitivity(c),
    busyStatus: readBusy(c),
    reminder: findReminder(c)?.minutes,
    meetingStatus: readMeetingStatus(c),
  };
}

const writers: Record<FieldName, (c: ICAL.Component, v: never) => void> = {
  subject: (c, v: string | undefined) => setText(c, 'summary', v),
  location: (c, v: string | undefined) => setText(c, 'location', v),
  body: writeBody,
  categories: writeCategories,
  sensitivity: writeSensitivity,
  busyStatus: writeBusy,
  reminder: writeReminder,
  meetingStatus: writeMeetingStatus,
};

/** A field's value for comparison: absent and empty are alike, and so are absent and the default. */
function norm(name: FieldName, v: unknown): unknown {
  switch (name) {
    case 'categories': return (v as string[] | undefined) ?? [];
    case 'sensitivity': return v ?? 0;
    case 'busyStatus': return v ?? 2;
    case 'body': {
      const body = v as ItemBody | undefined;
      const text = body?.text?.replace(/\r\n?/g, '\n') || undefined;
      return text === undefined && body?.rtf === undefined ? undefined : { text, rtf: body?.rtf };
    }
    default: return v === '' ? undefined : v;
  }
}

/** Rewrites the fields of `c` whose value differs between what was sent (`prev`) and what came back. */
function applyFields(c: ICAL.Component, prev: ComponentFields, next: ComponentFields): void {
  for (const name of fieldNames) {
    if (name === 'meetingStatus' && next.meetingStatus === undefined) continue;
    // The body: what the client sent joins the kept RTF body as body.ts says.
    const value = name === 'body' ? bodyAfter(prev.body, next.body) : next[name];
    if (name === 'body' ? value === prev.body : same(norm(name, prev[name]), norm(name, value))) continue;
    (writers[name] as (c: ICAL.Component, v: unknown) => void)(c, value);
  }
}

// ---------------------------------------------------------------------------------------------------
// Organizer and attendees

interface Organizer {
  email?: string;
  name?: string;
}

interface Attendee {
  email: string;
  name: string;
  status: number;
  type: number;
}

const partstats: Record<string, number> = { TENTATIVE: 2, ACCEPTED: 3, DECLINED: 4, 'NEEDS-ACTION': 5 };
const statusToPartstat: Record<number, string> = { 2: 'TENTATIVE', 3: 'ACCEPTED', 4: 'DECLINED', 5: 'NEEDS-ACTION' };

function addressOf(prop: ICAL.Property): string | undefined {
  const v = prop.getFirstValue();
  if (typeof v !== 'string') return undefined;
  if (/^mailto:/i.test(v)) return v.slice(7);
  return v.includes('@') && !v.includes(':') ? v : undefined;
}

function param(prop: ICAL.Property, name: string): string | undefined {
  const v = prop.getParameter(name);
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

function readOrganizer(c: ICAL.Component): Organizer | undefined {
  const prop = c.getFirstProperty('organizer');
  if (!prop) return undefined;
  const email = addressOf(prop);
  const name = param(prop, 'cn');
  return email || name ? { email, name } : undefined;
}

function writeOrganizer(c: ICAL.Component, prev: Organizer | undefined, next: Organizer): void {
  if (same(prev, next)) return;
  const prop = c.getFirstProperty('organizer');
  if (next.email) {
    if (!prop || addressOf(prop)?.toLowerCase() !== next.email.toLowerCase()) {
      c.removeAllProperties('organizer');
      const fresh = new ICAL.Property('organizer', c);
      fresh.setValue(`mailto:${next.email}`);
      if (next.name) fresh.setParameter('cn', next.name);
      c.addProperty(fresh);
      return;
    }
  }
  if (!prop) return; // a name without an address cannot make an ORGANIZER
  if (next.name) prop.setParameter('cn', next.name);
  else prop.removeParameter('cn');
}

function attendeeType(prop: ICAL.Property): number {
  const cutype = param(prop, 'cutype')?.toUpperCase();
  if (cutype === 'RESOURCE' || cutype === 'ROOM') return 3;
  const role = param(prop, 'role')?.toUpperCase();
  return role === 'OPT-PARTICIPANT' || role === 'NON-PARTICIPANT' ? 2 : 1;
}

function readAttendees(c: ICAL.Component): Attendee[] {
  const out: Attendee[] = [];
  for (const prop of c.getAllProperties('attendee')) {
    const email = addressOf(prop);
    if (!email) continue; // not an address ActiveSync can carry: left alone
    out.push({
      email,
      name: param(prop, 'cn') ?? email,
      status: partstats[param(prop, 'partstat')?.toUpperCase() ?? ''] ?? 0,
      type: attendeeType(prop),
    });
  }
  return out;
}

function setAttendeeParams(prop: ICAL.Property, a: Attendee): void {
  if (a.name && a.name !== a.email) prop.setParameter('cn', a.name);
  else prop.removeParameter('cn');
  const partstat = statusToPartstat[a.status];
  if (partstat) prop.setParameter('partstat', partstat);
  else prop.removeParameter('partstat');
  if (attendeeType(prop) === a.type) return;
  const cutype = param(prop, 'cutype')?.toUpperCase();
  if (a.type === 3) {
    prop.setParameter('cutype', 'RESOURCE');
    return;
  }
  if (cutype === 'RESOURCE' || cutype === 'ROOM') prop.removeParameter('cutype');
  if (attendeeType(prop) !== a.type) prop.setParameter('role', a.type === 2 ? 'OPT-PARTICIPANT' : 'REQ-PARTICIPANT');
}

function writeAttendees(c: ICAL.Component, prev: Attendee[], next: Attendee[]): void {
  if (same(prev, next)) return;
  const existing = new Map<string, ICAL.Property>();
  for (const prop of c.getAllProperties('attendee')) {
    const email = addressOf(prop);
    if (email) existing.set(email.toLowerCase(), prop);
  }
  const prevByEmail = new Map(prev.map((a) => [a.email.toLowerCase(), a]));
  const kept = new Set<string>();
  for (const a of next) {
    const key = a.email.toLowerCase();
    kept.add(key);
    const prop = existing.get(key);
    if (prop) {
      if (!same(prevByEmail.get(key), a)) setAttendeeParams(prop, a);
      continue;
    }
    const fresh = new ICAL.Property('attendee', c);
    fresh.setValue(`mailto:${a.email}`);
    setAttendeeParams(fresh, a);
    c.addProperty(fresh);
  }
  for (const [key, prop] of existing) if (!kept.has(key)) c.removeProperty(prop);
}

// ---------------------------------------------------------------------------------------------------
// The item as ActiveSync sees it

interface EasException extends ComponentFields {
  /** The occurrence's original start (ExceptionStartTime / InstanceId). */
  key: number;
  deleted: boolean;
  allDay?: boolean;
  start?: number;
  end?: number;
}

interface EasEvent {
  timezone?: TimeZoneInfo;
  times?: Times;
  dtStamp?: number;
  uid?: string;
  fields: ComponentFields;
  organizer?: Organizer;
  attendees?: Attendee[];
  recurrence?: EasRecurrence;
  exceptions?: EasException[];
}

interface EventView {
  calendar: ICAL.Component;
  master: ICAL.Component;
  overrides: ICAL.Component[];
  zones: Zones;
  /** The master's DTSTART, resolved. */
  start?: Resolved;
  event: EasEvent;
}

const exceptionsMax = 256;

function splitEvents(calendar: ICAL.Component): { master: ICAL.Component; overrides: ICAL.Component[] } {
  const vevents = calendar.getAllSubcomponents('vevent');
  const master = vevents.find((v) => !v.hasProperty('recurrence-id')) ?? vevents[0];
  if (!master) throw new Error('the item holds no VEVENT');
  return { master, overrides: vevents.filter((v) => v !== master && v.hasProperty('recurrence-id')) };
}

/** The occurrence key of a RECURRENCE-ID or EXDATE value: its instant, or midnight UTC for an all-day series. */
function occurrenceKey(r: Resolved, allDay: boolean): number {
  if (allDay) return Date.UTC(r.time.year, r.time.month - 1, r.time.day);
  return msOf(r);
}

function untilToEas(until: ICAL.Time, start: Resolved): number {
  const s = start.time;
  if (s.isDate) return Date.UTC(until.year, until.month - 1, until.day);
  const zone = start.zone ?? utcZone;
  const time = { hour: s.hour, minute: s.minute, second: s.second };
  let u: number;
  if (until.isDate) u = instantOf({ year: until.year, month: until.month, day: until.day, ...time }, zone);
  else if (until.zone === ICAL.Timezone.utcTimezone) u = Date.UTC(until.year, until.month - 1, until.day, until.hour, until.minute, until.second);
  else u = instantOf(fieldsOf(until), zone);
  // The last occurrence starts on UNTIL's local day, or the day before when UNTIL is earlier in the day.
  const wall = wallOf(u, zone);
  const day = ICAL.Time.fromData({ year: wall.year, month: wall.month, day: wall.day, isDate: true });
  if (wall.hour * 3600 + wall.minute * 60 + wall.second < s.hour * 3600 + s.minute * 60 + s.second) day.adjust(-1, 0, 0, 0);
  return instantOf({ year: day.year, month: day.month, day: day.day, ...time }, zone);
}

function viewEvent(calendar: ICAL.Component): EventView {
  const { master, overrides } = splitEvents(calendar);
  const zones = new Zones(calendar);
  const { times, start } = readTimes(master, zones);
  const rrules = master.getAllProperties('rrule');
  const recurring = rrules.length > 0 || master.hasProperty('rdate');
  let year = start ? start.time.year : new Date().getUTCFullYear();
  if (recurring) year = Math.max(year, new Date().getUTCFullYear());
  const zone = start?.zone;
  const dtstamp = master.getFirstProperty('dtstamp');
  const stamp = dtstamp && resolveValue(dtstamp, zones);
  const uid = master.getFirstPropertyValue('uid');
  const event: EasEvent = {
    timezone: zone?.kind === 'tz' ? timeZoneInfoFromVtimezone(zone.vtimezone, year, zone.tzid) : utcInfo,
    times,
    dtStamp: stamp ? msOf(stamp) : undefined,
    uid: typeof uid === 'string' ? uid : undefined,
    fields: readFields(master),
    organizer: readOrganizer(master),
    attendees: readAttendees(master),
  };
  const rule = rrules[0]?.getFirstValue();
  if (start && rule instanceof ICAL.Recur) {
    event.recurrence = rruleToEas(rule, start.time, (until) => untilToEas(until, start))?.recurrence;
  }
  const view: EventView = { calendar, master, overrides, zones, start, event };
  if (event.recurrence && times) event.exceptions = readExceptions(view, times);
  return view;
}

/** The series' exceptions by original start: at most `max` of them (those sent to clients), the earliest first. */
function readExceptions(view: EventView, times: Times, max = exceptionsMax): EasException[] {
  const { master, overrides, zones, event } = view;
  const byKey = new Map<number, EasException>();
  for (const prop of master.getAllProperties('exdate')) {
    for (const value of prop.getValues()) {
      const r = resolveValue(prop, zones, value);
      if (r) byKey.set(occurrenceKey(r, times.allDay), { key: occurrenceKey(r, times.allDay), deleted: true });
    }
  }
  for (const override of overrides) {
    const rid = override.getFirstProperty('recurrence-id');
    const r = rid && resolveValue(rid, zones);
    const own = readTimes(override, zones).times;
    if (!r || !own) continue;
    const key = occurrenceKey(r, times.allDay);
    if (byKey.has(key)) continue; // EXDATE wins
    const fields = readFields(override);
    const exception: EasException = { key, deleted: false, start: own.start, end: own.end };
    if (own.allDay !== times.allDay) exception.allDay = own.allDay;
    for (const name of fieldNames) {
      if (same(norm(name, fields[name]), norm(name, event.fields[name]))) continue;
      // A subject or location the override lacks is sent empty; a missing body or reminder cannot be said.
      const value = fields[name] ?? (name === 'subject' || name === 'location' ? '' : name === 'categories' ? [] : undefined);
      if (value !== undefined) (exception as unknown as Record<string, unknown>)[name] = value;
    }
    byKey.set(key, exception);
  }
  return [...byKey.values()].sort((a, b) => a.key - b.key).slice(0, max);
}

// ---------------------------------------------------------------------------------------------------
// toEas

const calEl = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Calendar', name, ...kids);

function is16(version: EasVersion): boolean {
  return version.startsWith('16');
}

function locationElement(value: string | undefined, version: EasVersion): WbxmlElement | undefined {
  if (value === undefined) return undefined;
  if (is16(version)) return el('AirSyncBase', 'Location', el('AirSyncBase', 'DisplayName', value));
  return calEl('Location', value);
}

function num(name: string, v: number | undefined): WbxmlElement | undefined {
  return v === undefined ? undefined : calEl(name, String(v));
}

function exceptionElement(x: EasException, masterAllDay: boolean, options: ToEasOptions): WbxmlElement {
  const id = is16(options.version) ? el('AirSyncBase', 'InstanceId', compactDate(x.key)) : calEl('ExceptionStartTime', compactDate(x.key));
  if (x.deleted) return calEl('Exception', calEl('Deleted', '1'), id);
  return calEl('Exception',
    id,
    x.subject !== undefined && calEl('Subject', x.subject),
    x.start !== undefined && calEl('StartTime', compactDate(x.start)),
    x.end !== undefined && calEl('EndTime', compactDate(x.end)),
    x.body !== undefined && bodyToEas(x.body, options.bodyPreference),
    locationElement(x.location, options.version),
    categoriesElement('Calendar', x.categories),
    num('Sensitivity', x.sensitivity),
    num('BusyStatus', x.busyStatus),
    x.allDay !== undefined && x.allDay !== masterAllDay && calEl('AllDayEvent', x.allDay ? '1' : '0'),
    num('Reminder', x.reminder),
    num('MeetingStatus', x.meetingStatus));
}

function eventElements(event: EasEvent, options: ToEasOptions): WbxmlElement[] {
  const { version } = options;
  const f = event.fields;
  const times = event.times;
  const attendees = event.attendees ?? [];
  const firstDayOfWeek = !['12.0', '12.1', '14.0'].includes(version);
  const out: Array<WbxmlElement | undefined | false> = [
    event.timezone && calEl('Timezone', encodeTimeZoneBlob(event.timezone)),
    event.dtStamp !== undefined && calEl('DtStamp', compactDate(event.dtStamp)),
    times && calEl('StartTime', compactDate(times.start)),
    f.subject !== undefined && calEl('Subject', f.subject),
    event.uid !== undefined && calEl('UID', event.uid),
    event.organizer?.name !== undefined && calEl('OrganizerName', event.organizer.name),
    event.organizer?.email !== undefined && calEl('OrganizerEmail', event.organizer.email),
    attendees.length > 0 && calEl('Attendees', ...attendees.map((a) => calEl('Attendee',
      calEl('Email', a.email), calEl('Name', a.name), calEl('AttendeeStatus', String(a.status)), calEl('AttendeeType', String(a.type))))),
    locationElement(f.location, version),
    times && calEl('EndTime', compactDate(times.end)),
    event.recurrence && recurrenceElement(event.recurrence, 'Calendar', compactCodec, { firstDayOfWeek }),
    bodyToEas(f.body, options.bodyPreference),
    num('Sensitivity', f.sensitivity),
    num('BusyStatus', f.busyStatus),
    times && calEl('AllDayEvent', times.allDay ? '1' : '0'),
    num('Reminder', f.reminder),
    event.exceptions && event.exceptions.length > 0 &&
      calEl('Exceptions', ...event.exceptions.map((x) => exceptionElement(x, times?.allDay ?? false, options))),
    num('MeetingStatus', f.meetingStatus),
    f.categories && f.categories.length > 0 && categoriesElement('Calendar', f.categories),
  ];
  return out.filter((e): e is WbxmlElement => e !== undefined && e !== false);
}

// ---------------------------------------------------------------------------------------------------
// Parsing what the client sent

interface Incoming extends EasEvent {
  allDay: boolean;
  rawStart?: number;
  rawEnd?: number;
  /** The client sent a Timezone we could not read. */
  badTimezone: boolean;
  meetingStatusSent: boolean;
}

function location(parent: WbxmlElement): string | undefined {
  const asb = child(parent, 'Location', 'AirSyncBase');
  if (asb) return cleanText(text(child(asb, 'DisplayName', 'AirSyncBase')) ?? '');
  return textElement(parent, 'Location', 'Calendar');
}

function enumValue(parent: WbxmlElement, name: string, allowed: number, fallback: number): number | undefined {
  const v = intElement(parent, name, 'Calendar');
  if (v === undefined) return undefined;
  return v >= 0 && v <= allowed ? v : fallback;
}

function flag(parent: WbxmlElement, name: string): boolean | undefined {
  const v = intElement(parent, name, 'Calendar');
  return v === undefined ? undefined : v !== 0;
}

function dateElement(parent: WbxmlElement, name: string, ns = 'Calendar'): number | undefined {
  const v = text(child(parent, name, ns));
  return v === undefined || v.trim() === '' ? undefined : parseEasDate(v, name);
}

function parseReminder(parent: WbxmlElement): number | undefined {
  const v = intElement(parent, 'Reminder', 'Calendar');
  if (v === undefined) return undefined;
  if (v < 0) throw new Error(`Reminder ${v} is negative`);
  return v;
}

function parseFields(parent: WbxmlElement): ComponentFields {
  return {
    subject: textElement(parent, 'Subject', 'Calendar'),
    location: location(parent),
    body: bodyFromEas(parent),
    categories: parseCategories(parent, 'Calendar'),
    sensitivity: enumValue(parent, 'Sensitivity', 3, 2),
    busyStatus: enumValue(parent, 'BusyStatus', 4, 2),
    reminder: parseReminder(parent),
    meetingStatus: enumValue(parent, 'MeetingStatus', 15, 1),
  };
}

function parseIncoming(app: WbxmlElement): Incoming {
  let timezone: TimeZoneInfo | undefined;
  let badTimezone = false;
  const blob = text(child(app, 'Timezone', 'Calendar'));
  if (blob !== undefined && blob.trim() !== '') {
    try {
      timezone = decodeTimeZoneBlob(blob);
    } catch {
      badTimezone = true; // times are UTC instants: the item stays right, only its zone is unknown
    }
  }
  const attendeesElement = child(app, 'Attendees', 'Calendar');
  let attendees: Attendee[] | undefined;
  if (attendeesElement) {
    attendees = [];
    for (const a of children(attendeesElement, 'Attendee', 'Calendar')) {
      const email = textElement(a, 'Email', 'Calendar')?.trim().replace(/^mailto:/i, '');
      if (!email) continue;
      const status = intElement(a, 'AttendeeStatus', 'Calendar');
      const type = intElement(a, 'AttendeeType', 'Calendar');
      attendees.push({
        email,
        name: textElement(a, 'Name', 'Calendar')?.trim() || email,
        // -1: left out, filled in from the item below
        status: status === undefined ? -1 : [0, 2, 3, 4, 5].includes(status) ? status : 0,
        type: type === undefined ? -1 : type >= 1 && type <= 3 ? type : 1,
      });
    }
  }
  const organizerEmail = textElement(app, 'OrganizerEmail', 'Calendar')?.trim().replace(/^mailto:/i, '');
  const organizerName = textElement(app, 'OrganizerName', 'Calendar')?.trim();
  const recurrenceElementIn = child(app, 'Recurrence', 'Calendar');
  const exceptionsElement = child(app, 'Exceptions', 'Calendar');
  const uid = textElement(app, 'UID', 'Calendar')?.trim() || textElement(app, 'ClientUid', 'Calendar')?.trim();
  const fields = parseFields(app);
  const incoming: Incoming = {
    timezone,
    badTimezone,
    allDay: flag(app, 'AllDayEvent') ?? false,
    rawStart: dateElement(app, 'StartTime'),
    rawEnd: dateElement(app, 'EndTime'),
    dtStamp: dateElement(app, 'DtStamp'),
    uid: uid || undefined,
    fields,
    meetingStatusSent: fields.meetingStatus !== undefined,
    organizer: organizerEmail || organizerName ? { email: organizerEmail || undefined, name: organizerName || undefined } : undefined,
    attendees,
    recurrence: recurrenceElementIn ? parseRecurrence(recurrenceElementIn, 'Calendar', compactCodec) : undefined,
  };
  if (exceptionsElement) {
    const exceptions = children(exceptionsElement, 'Exception', 'Calendar');
    // Each exception is matched against every override and EXDATE: checked before that quadratic work.
    if (exceptions.length > exceptionsMax) throw new Error(`more than ${exceptionsMax} Exceptions`);
    incoming.exceptions = exceptions.map((x) => {
      const key = dateElement(x, 'ExceptionStartTime') ?? dateElement(x, 'InstanceId', 'AirSyncBase');
      if (key === undefined) throw new Error('Exception without ExceptionStartTime');
      const exception: EasException = { key, deleted: flag(x, 'Deleted') ?? false, ...parseFields(x) };
      const allDay = flag(x, 'AllDayEvent');
      if (allDay !== undefined) exception.allDay = allDay;
      const start = dateElement(x, 'StartTime');
      const end = dateElement(x, 'EndTime');
      if (start !== undefined) exception.start = start;
      if (end !== undefined) exception.end = end;
      return exception;
    });
  }
  return incoming;
}

// ---------------------------------------------------------------------------------------------------
// fromEas

/** Dates of all-day times the client sent: local midnight in its blob, else midnight UTC, else the day containing it. */
class DayReader {
  /** Built on first use: most events are not all-day, and building a zone costs more than converting one. */
  private zone: ICAL.Timezone | null | undefined;
  constructor(private readonly info: TimeZoneInfo | undefined) {}

  private get tz(): ICAL.Timezone | null {
    this.zone ??= this.info ? new ICAL.Timezone({ component: vtimezoneFromInfo(this.info, 'client'), tzid: 'client' }) : null;
    return this.zone;
  }

  /** Midnight UTC of the date `ms` falls on (`end`: the date an exclusive end closes). */
  day(ms: number, end = false): number {
    const tz = this.tz;
    if (tz) {
      const wall = wallTimeIn(ms, tz);
      if (wall.hour === 0 && wall.minute === 0 && wall.second === 0) return Date.UTC(wall.year, wall.month - 1, wall.day);
    }
    if (ms % dayMs === 0) return ms;
    if (!tz) return Math.round(ms / dayMs) * dayMs;
    const wall = wallTimeIn(ms, tz);
    return Date.UTC(wall.year, wall.month - 1, wall.day) + (end ? dayMs : 0);
  }
}

function cloneComponent(c: ICAL.Component): ICAL.Component {
  return new ICAL.Component(JSON.parse(JSON.stringify(c.toJSON())) as unknown[]);
}

function referencedTzids(calendar: ICAL.Component): Set<string> {
  const out = new Set<string>();
  const visit = (c: ICAL.Component) => {
    if (c.name === 'vtimezone') return;
    for (const p of c.getAllProperties()) {
      const tzid = p.getParameter('tzid');
      if (typeof tzid === 'string') out.add(tzid);
    }
    c.getAllSubcomponents().forEach(visit);
  };
  visit(calendar);
  return out;
}

function zoneKeyOf(zone: Zone | null): string {
  if (!zone) return 'date';
  return zone.kind === 'utc' ? 'utc' : `${zone.kind}:${zone.tzid ?? ''}`;
}

function zoneKey(r: Resolved | undefined): string {
  return r ? zoneKeyOf(r.zone) : 'none';
}

function fromEas(app: WbxmlElement, existing: string | undefined, ctx: FromEasContext): string {
  const incoming = parseIncoming(app);
  const calendar = existing === undefined ? newCalendar() : parseItem(existing, 'event');
  let prevView: EventView | undefined;
  if (existing !== undefined) {
    prevView = viewEvent(calendar);
  } else {
    const vevent = new ICAL.Component('vevent');
    calendar.addSubcomponent(vevent);
  }
  const tzidsBefore = referencedTzids(calendar);
  const { master } = splitEvents(calendar);
  const zones = prevView?.zones ?? new Zones(calendar);
  const prev: EasEvent = prevView?.event ?? { fields: {} };
  // The rules the client's blob stands for (a rule-less blob may name a zone with summer time; TbSync sends
  // a summer day's local midnight with one).
  const clientRules = incoming.timezone && rulesMeant(incoming.timezone);
  const days = new DayReader(clientRules);

  // UID and DTSTAMP
  if (!prevView) master.addPropertyWithValue('uid', incoming.uid ?? ctx.newUid());
  const stamp = incoming.dtStamp ?? ctx.now;
  if (!prevView || prev.dtStamp !== stamp) setTimeProp(master, 'dtstamp', Math.floor(stamp / 1000) * 1000, utcZone);

  // The zone the series is written in.
  const oldStart = prevView?.start;
  let zone: Zone;
  if (oldStart?.zone && (clientRules === undefined || sameRules(clientRules, prev.timezone ?? utcInfo))) {
    zone = oldStart.zone;
  } else {
    zone = incoming.timezone ? zones.fromInfo(incoming.timezone) : utcZone;
  }

  // StartTime, EndTime, AllDayEvent
  let times: Times | undefined;
  if (incoming.rawStart !== undefined) {
    const allDay = incoming.allDay;
    let start = incoming.rawStart;
    let end = incoming.rawEnd ?? (allDay ? start + dayMs : start);
    if (allDay) {
      start = days.day(start);
      end = Math.max(days.day(end, true), start + dayMs);
    }
    times = { allDay, start, end: Math.max(end, start) };
  } else if (!prevView) {
    throw new Error('StartTime is required for a new event');
  } else {
    times = prev.times; // left out of a change: kept
  }
  const writtenZone = times?.allDay ? null : zone;
  const startChanged = !!times && (!same(prev.times, times) || (!times.allDay && zoneKey(oldStart) !== zoneKeyOf(zone)));
  if (times && startChanged) {
    setTimeProp(master, 'dtstart', times.start, writtenZone);
    master.removeAllProperties('duration');
    if (times.end !== times.start || times.allDay) setTimeProp(master, 'dtend', times.end, writtenZone);
    else master.removeAllProperties('dtend');
  }
  const start = master.getFirstProperty('dtstart');
  const newStart = start ? resolveValue(start, zones) : undefined;

  // Recurrence ids and excluded dates follow the master's form of DTSTART.
  if (prevView && newStart && zoneKey(oldStart) !== zoneKey(newStart)) rezone(calendar, master, zones, newStart);

  // Plain fields
  const attendeesIn = incoming.attendees?.map((a) => {
    const before = prev.attendees?.find((p) => p.email.toLowerCase() === a.email.toLowerCase());
    return { ...a, status: a.status === -1 ? before?.status ?? 0 : a.status, type: a.type === -1 ? before?.type ?? 1 : a.type };
  });
  if (incoming.organizer) writeOrganizer(master, prev.organizer, incoming.organizer);
  writeAttendees(master, prev.attendees ?? [], attendeesIn ?? []);
  applyFields(master, prev.fields, incoming.fields);

  // Recurrence
  const allDay = times?.allDay ?? false;
  const untilKey = (ms: number) => (allDay ? String(days.day(ms)) : wallOf(ms, zone).toString().slice(0, 10));
  const recurrenceSame = incoming.recurrence && prev.recurrence
    ? sameRecurrence(prev.recurrence, incoming.recurrence, untilKey) && (prev.times?.allDay ?? false) === allDay
    : !incoming.recurrence && !prev.recurrence;
  if (!recurrenceSame) {
    master.removeAllProperties('rrule');
    master.removeAllProperties('rdate');
    master.removeAllProperties('exrule');
    if (incoming.recurrence && newStart) {
      const startTime = newStart.time;
      const rule = easToRrule(incoming.recurrence, startTime, (ms) => {
        if (allDay) return dateValue(days.day(ms));
        const wall = wallOf(ms, zone);
        const sameDay = instantOf({ year: wall.year, month: wall.month, day: wall.day, hour: startTime.hour, minute: startTime.minute, second: startTime.second }, zone);
        const until = Math.max(ms, sameDay);
        return zone.kind === 'floating' ? wallOf(until, zone) : ICAL.Time.fromJSDate(new Date(until), true);
      });
      master.addPropertyWithValue('rrule', rule);
    }
  }

  // Exceptions
  const isSixteen = is16(ctx.version);
  if (!incoming.recurrence && !recurrenceSame) {
    removeAllExceptions(calendar, master);
  } else if (incoming.exceptions === undefined && isSixteen) {
    if (!recurrenceSame || startChanged) removeAllExceptions(calendar, master);
  } else if (incoming.recurrence && newStart && times) {
    if ((prev.times && prev.times.allDay !== times.allDay) || (!recurrenceSame && !prev.recurrence)) {
      // The occurrences changed form, or the rule the client replaces was never sent with its exceptions:
      // the client's list replaces the item's.
      removeAllExceptions(calendar, master);
      prev.exceptions = [];
    }
    applyExceptions({
      calendar, master, zones, prev, exceptions: incoming.exceptions ?? [], times, zone: writtenZone, days,
      masterFields: incoming.fields,
    });
  }

  // VTIMEZONEs: add the ones now referenced and missing, drop the ones nothing refers to any more.
  const tzidsAfter = referencedTzids(calendar);
  const defined = new Set(calendar.getAllSubcomponents('vtimezone').map((v) => String(v.getFirstPropertyValue('tzid'))));
  const added: ICAL.Component[] = [];
  for (const tzid of tzidsAfter) {
    if (defined.has(tzid)) continue;
    const z = tzid === (zone.kind === 'tz' ? zone.tzid : '') ? zone : zones.get(tzid);
    if (z.kind === 'tz' && !tzidsBefore.has(tzid)) added.push(z.vtimezone);
  }
  for (const v of calendar.getAllSubcomponents('vtimezone')) {
    const tzid = String(v.getFirstPropertyValue('tzid'));
    if (tzidsBefore.has(tzid) && !tzidsAfter.has(tzid)) calendar.removeSubcomponent(v);
  }
  if (added.length > 0) {
    const rest = [...calendar.getAllSubcomponents()];
    calendar.removeAllSubcomponents();
    const firstEvent = rest.findIndex((c) => c.name !== 'vtimezone');
    const at = firstEvent === -1 ? rest.length : firstEvent;
    [...rest.slice(0, at), ...added, ...rest.slice(at)].forEach((c) => calendar.addSubcomponent(c));
  }
  return serializeItem(calendar);
}

function removeAllExceptions(calendar: ICAL.Component, master: ICAL.Component): void {
  master.removeAllProperties('exdate');
  for (const v of calendar.getAllSubcomponents('vevent')) if (v !== master && v.hasProperty('recurrence-id')) calendar.removeSubcomponent(v);
}

/** Rewrites EXDATE, RDATE and every RECURRENCE-ID in the form of the master's new DTSTART. */
function rezone(calendar: ICAL.Component, master: ICAL.Component, zones: Zones, start: Resolved): void {
  const target = start.zone;
  const convert = (prop: ICAL.Property) => {
    const values = prop.getValues();
    const out: ICAL.Time[] = [];
    for (const v of values) {
      const r = resolveValue(prop, zones, v);
      if (!r) return; // a PERIOD: left alone
      if (target === null) {
        const local = r.time;
        out.push(ICAL.Time.fromData({ year: local.year, month: local.month, day: local.day, isDate: true }));
      } else if (r.time.isDate) {
        const s = start.time;
        out.push(wallOf(instantOf({ year: r.time.year, month: r.time.month, day: r.time.day, hour: s.hour, minute: s.minute, second: s.second }, target), target));
      } else {
        out.push(wallOf(msOf(r), target));
      }
    }
    setTimeValues(prop, out, target);
  };
  for (const name of ['exdate', 'rdate']) master.getAllProperties(name).forEach(convert);
  for (const v of calendar.getAllSubcomponents('vevent')) {
    const rid = v !== master ? v.getFirstProperty('recurrence-id') : null;
    if (rid) convert(rid);
  }
}

interface ExceptionState {
  calendar: ICAL.Component;
  master: ICAL.Component;
  zones: Zones;
  prev: EasEvent;
  /** Every exception the series is to have: those of `prev` left out are removed. */
  exceptions: EasException[];
  /** `prev.exceptions` lists every exception of the item (not only those a client is sent). */
  complete?: boolean;
  /** The overrides by occurrence key, kept up to date here (built from the item when not given). */
  index?: Map<number, ICAL.Component>;
  times: Times;
  zone: Zone | null;
  days: DayReader;
  masterFields: ComponentFields;
}

interface Effective {
  fields: ComponentFields;
  times: Times;
}

function effective(x: EasException, masterFields: ComponentFields, masterTimes: Times | undefined): Effective {
  const fields: ComponentFields = {};
  for (const name of fieldNames) {
    const v = x[name] !== undefined ? x[name] : masterFields[name];
    if (v !== undefined) (fields as Record<string, unknown>)[name] = v;
  }
  const duration = masterTimes ? masterTimes.end - masterTimes.start : 0;
  const start = x.start ?? x.key;
  return { fields, times: { allDay: x.allDay ?? masterTimes?.allDay ?? false, start, end: Math.max(x.end ?? start + duration, start) } };
}

/** The overrides of a series by occurrence key (the first one, should two name the same occurrence). */
function indexOverrides(calendar: ICAL.Component, master: ICAL.Component, zones: Zones, allDay: boolean): Map<number, ICAL.Component> {
  const index = new Map<number, ICAL.Component>();
  for (const v of calendar.getAllSubcomponents('vevent')) {
    const rid = v !== master ? v.getFirstProperty('recurrence-id') : null;
    const r = rid && resolveValue(rid, zones);
    if (!r) continue;
    const key = occurrenceKey(r, allDay);
    if (!index.has(key)) index.set(key, v);
  }
  return index;
}

function applyExceptions(s: ExceptionState): void {
  const { calendar, master, zones, prev, times, days } = s;
  const allDay = times.allDay;
  const keyOf = (r: Resolved) => occurrenceKey(r, allDay);
  const normalized = s.exceptions.map((x) => {
    const key = allDay ? days.day(x.key) : x.key;
    const own = x.allDay ?? allDay;
    const out: EasException = { ...x, key };
    if (own && x.start !== undefined) out.start = days.day(x.start);
    if (own && x.end !== undefined) out.end = Math.max(days.day(x.end, true), (out.start ?? key) + dayMs);
    return out;
  });
  const prevByKey = new Map((prev.exceptions ?? []).map((x) => [x.key, x]));
  const nextByKey = new Map(normalized.map((x) => [x.key, x]));

  const index = s.index ?? indexOverrides(calendar, master, zones, allDay);
  const overrideFor = (key: number) => index.get(key);
  const dropOverride = (key: number) => {
    const override = index.get(key);
    if (override) calendar.removeSubcomponent(override);
    index.delete(key);
  };
  const removeExdate = (key: number) => {
    for (const prop of master.getAllProperties('exdate')) {
      const values = prop.getValues();
      const keep = values.filter((v) => {
        const r = resolveValue(prop, zones, v);
        return !r || keyOf(r) !== key;
      });
      if (keep.length === values.length) continue;
      if (keep.length === 0) master.removeProperty(prop);
      else prop.setValues(keep);
    }
  };

  // Exceptions sent before and left out now are gone.
  for (const key of prevByKey.keys()) {
    if (nextByKey.has(key)) continue;
    removeExdate(key);
    dropOverride(key);
  }
  // An exception as it was, of a series whose fields and times are as they were, is as it was: left
  // alone, so an edit of one occurrence costs one override's work, not the whole series'.
  const seriesSame = same(s.masterFields, prev.fields) && same(times, prev.times);
  for (const x of normalized) {
    const before = prevByKey.get(x.key);
    if (seriesSame && before && same(before, x)) continue;
    if (x.deleted) {
      if (before?.deleted) continue;
      dropOverride(x.key);
      const prop = new ICAL.Property('exdate', master);
      setTimeValues(prop, [timeValue(x.key, s.zone)], s.zone);
      master.addProperty(prop);
      continue;
    }
    // Only a deleted occurrence has an EXDATE (one past the exceptions listed may, unless all are).
    if (before ? before.deleted : !s.complete) removeExdate(x.key);
    const wanted = effective(x, s.masterFields, times);
    let override = overrideFor(x.key);
    let was: Effective;
    if (override && before && !before.deleted) {
      was = effective(before, prev.fields, prev.times);
    } else {
      if (!override) {
        override = cloneComponent(master);
        for (const name of ['rrule', 'rdate', 'exdate', 'exrule', 'recurrence-id']) override.removeAllProperties(name);
        const rid = new ICAL.Property('recurrence-id', override);
        setTimeValues(rid, [timeValue(x.key, s.zone)], s.zone);
        override.addProperty(rid);
        calendar.addSubcomponent(override);
        index.set(x.key, override);
      }
      was = { fields: readFields(override), times: readTimes(override, zones).times ?? wanted.times };
      was.times = { ...was.times, start: Number.NaN };
    }
    applyFields(override, was.fields, wanted.fields);
    if (!same(was.times, wanted.times)) {
      const z = wanted.times.allDay ? null : s.zone ?? utcZone;
      setTimeProp(override, 'dtstart', wanted.times.start, z);
      override.removeAllProperties('duration');
      setTimeProp(override, 'dtend', wanted.times.end, z);
    }
  }
}

/**
 * Occurrence edits and deletes of protocol 16.x (a Sync Change or Delete naming an AirSyncBase
 * InstanceId: the occurrence's original start), applied in turn to one series: each deletes its
 * occurrence (an EXDATE, and no override) or edits it (an override), and leaves everything else as it
 * was. An edit starts from the occurrence as it is: its override, else the series at that time
 * (location, alarms, attendees and every property ActiveSync cannot carry come along). What the client
 * leaves out stays as it is (16.x ghosting, MS-ASCAL 3.1.5.3), so an edit carrying only a Subject
 * changes the title of that one occurrence; StartTime and EndTime each default to the occurrence's own.
 * The series is parsed once for all of them, and each costs the work of its own occurrence.
 */
export class OccurrenceEdits {
  private readonly calendar: ICAL.Component;
  private readonly view: EventView;
  private readonly times: Times;
  /** Every exception of the series (EXDATEs and overrides), by occurrence key. */
  private readonly exceptions: Map<number, EasException>;
  private readonly index: Map<number, ICAL.Component>;
  /** The serialized item's size, kept as edits go (each override's own size), to refuse one that would pass `itemBytesMax`. */
  private bytes: number;

  constructor(existing: string) {
    this.calendar = parseItem(existing, 'event');
    this.view = viewEvent(this.calendar);
    const { master, zones, event } = this.view;
    if (!event.times || (!master.hasProperty('rrule') && !master.hasProperty('rdate'))) throw new Error('the item is not a recurring event');
    this.times = event.times;
    this.exceptions = new Map(readExceptions(this.view, this.times, Number.POSITIVE_INFINITY).map((x) => [x.key, x]));
    this.index = indexOverrides(this.calendar, master, zones, this.times.allDay);
    this.bytes = Buffer.byteLength(existing);
  }

  /** Deletes (`app` undefined) or edits one occurrence; a bad edit throws a plain Error and changes nothing. Its occurrence key, for `override`. */
  apply(instanceId: string, app: WbxmlElement | undefined): number {
    const { calendar, master, zones, event } = this.view;
    const times = this.times;
    let days = new DayReader(undefined);
    const edit: Partial<EasException> = {};
    if (app) {
      const blob = text(child(app, 'Timezone', 'Calendar'));
      if (blob !== undefined && blob.trim() !== '') {
        try {
          days = new DayReader(decodeTimeZoneBlob(blob));
        } catch {
          // Times are UTC instants; only all-day dates fall back to midnight UTC.
        }
      }
      const sent: Partial<EasException> = { ...parseFields(app), allDay: flag(app, 'AllDayEvent'), start: dateElement(app, 'StartTime'), end: dateElement(app, 'EndTime') };
      for (const [name, v] of Object.entries(sent)) if (v !== undefined) (edit as Record<string, unknown>)[name] = v;
    }
    const raw = parseEasDate(instanceId, 'InstanceId');
    const key = times.allDay ? days.day(raw) : raw;
    const before = this.exceptions.get(key);
    const x: EasException = app ? { ...(before && !before.deleted ? before : { key, deleted: false }), ...edit, key, deleted: false } : { key, deleted: true };
    const old = this.index.get(key);
    const oldBytes = old ? Buffer.byteLength(old.toString()) : 0;
    // An edit's override is its old one or a copy of the series, with what the client sent.
    const estimate = this.bytes - oldBytes + (app ? Buffer.byteLength((old ?? master).toString()) + Buffer.byteLength(JSON.stringify(edit)) : 64);
    if (estimate > limits.itemBytesMax) throw new Error(`the item would be larger than ${limits.itemBytesMax} bytes`);
    applyExceptions({
      calendar, master, zones, prev: { ...event, exceptions: before ? [before] : [] }, exceptions: [x], complete: true, index: this.index, times,
      zone: times.allDay ? null : this.view.start?.zone ?? utcZone, days, masterFields: event.fields,
    });
    this.exceptions.set(key, x);
    const now = this.index.get(key);
    this.bytes += (now ? Buffer.byteLength(now.toString()) : 64) - oldBytes;
    return key;
  }

  /** The override VEVENT of the occurrence `apply` named by this key, when it has one (an edited occurrence, not a deleted one). */
  override(key: number): ICAL.Component | undefined {
    return this.index.get(key);
  }

  toString(): string {
    return serializeItem(this.calendar);
  }
}

// ---------------------------------------------------------------------------------------------------
// An invitation's event, for the Email class's MeetingRequest (email.ts)

/** What a meeting request shows of its event (MS-ASEMAIL 2.2.2.48), read as a calendar item is read for Sync. */
export interface MeetingFacts {
  times?: Times;
  dtStamp?: number;
  timezone: TimeZoneInfo;
  uid?: string;
  location?: string;
  organizer?: { email?: string; name?: string };
  sensitivity: number;
  busyStatus: number;
  reminder?: number;
  recurrence?: EasRecurrence;
  /** The original start of the one occurrence the invitation is for (its VEVENT has a RECURRENCE-ID). */
  recurrenceId?: number;
  /** X-MICROSOFT-DISALLOW-COUNTER: the organizer takes no proposal of another time. */
  disallowNewTime: boolean;
  /** SEQUENCE: 0 for the first request, more for each update of it. */
  sequence: number;
}

/** The event of an invitation's iCalendar object (content/mail/item.ts MailInvitation); throws for one that cannot be read or would cost too much. */
export function meetingFacts(text: string): MeetingFacts {
  const view = viewEvent(parseItem(text, 'invitation'));
  const { event, master, zones } = view;
  const rid = master.getFirstProperty('recurrence-id');
  const occurrence = rid && resolveValue(rid, zones);
  return {
    ...(event.times ? { times: event.times } : {}),
    ...(event.dtStamp !== undefined ? { dtStamp: event.dtStamp } : {}),
    timezone: event.timezone ?? utcInfo,
    ...(event.uid !== undefined ? { uid: event.uid } : {}),
    ...(event.fields.location !== undefined ? { location: event.fields.location } : {}),
    ...(event.organizer ? { organizer: event.organizer } : {}),
    sensitivity: event.fields.sensitivity ?? 0,
    busyStatus: event.fields.busyStatus ?? 2,
    ...(event.fields.reminder !== undefined ? { reminder: event.fields.reminder } : {}),
    ...(event.recurrence && !occurrence ? { recurrence: event.recurrence } : {}),
    ...(occurrence ? { recurrenceId: msOf(occurrence) } : {}),
    disallowNewTime: textProp(master, 'x-microsoft-disallow-counter')?.toUpperCase() === 'TRUE',
    sequence: Number(master.getFirstPropertyValue('sequence')) || 0,
  };
}

export const calendarMapper: ItemMapper = {
  toEas(data: string, options: ToEasOptions): WbxmlElement[] {
    const calendar = parseItem(data, 'event');
    return eventElements(viewEvent(calendar).event, options);
  },
  fromEas,
};
