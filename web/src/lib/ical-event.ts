import ICAL from 'ical.js';
import {
  dayMs, instantFromWall, isFloating, parseWall, registerMissingZones, vtimezoneFor, wallDate, wallDateTime, wallOfTime,
} from './timezone.js';

/**
 * One calendar item (a VCALENDAR holding one UID: a master VEVENT and its RECURRENCE-ID overrides) as the
 * editor sees it, and the edits back. An edit rewrites only the properties whose value changed, inside the
 * parsed component, so alarms, attendees, X- properties and anything else the editor does not know survive.
 */

export const frequencies = ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'] as const;
export type Frequency = (typeof frequencies)[number];
export const weekdays = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
export type Weekday = (typeof weekdays)[number];

export interface Repeat {
  freq: Frequency;
  interval: number;
  /** At most one of count and until is set; neither means the series never ends. */
  count: number | null;
  /** Last day of the series, 'YYYY-MM-DD', inclusive. */
  until: string | null;
  /** Weekly only; empty means the weekday of the start. */
  byday: Weekday[];
}

/** What the editor edits. Times are wall times in the user's zone: 'YYYY-MM-DDTHH:MM', or 'YYYY-MM-DD' all day. */
export interface EventFields {
  summary: string;
  location: string;
  description: string;
  allDay: boolean;
  start: string;
  /** Exclusive: an all-day event on 4 March ends on '…-03-05'. */
  end: string;
  rrule: Repeat | null;
}

export interface EventModel extends EventFields {
  uid: string;
  /** The zone the item writes its times in: a TZID, 'UTC', or null for dates and floating times. */
  tzid: string | null;
  /** The RRULE says more than `rrule` shows (BYMONTHDAY, HOURLY, two rules…); it is kept unless Repeat changes. */
  repeatCustom: boolean;
  exdates: string[];
  overrides: Array<EventFields & { recurrenceId: string }>;
}

const prodId = '-//Syncpoint//Web calendar//EN';

/** RFC 5545 text: ical.js leaves off the CRLF that ends the last line. */
export function serializeCalendar(calendar: ICAL.Component): string {
  return `${calendar.toString()}\r\n`;
}

export function parseCalendar(text: string): ICAL.Component {
  const jcal = ICAL.parse(text) as unknown;
  if (!Array.isArray(jcal) || jcal[0] !== 'vcalendar') throw new Error('not one VCALENDAR');
  registerMissingZones(jcal as Parameters<typeof registerMissingZones>[0]);
  return new ICAL.Component(jcal);
}

/** The VEVENT without RECURRENCE-ID; null when the item only holds overrides (an invitation to one occurrence). */
export function masterEvent(calendar: ICAL.Component): ICAL.Component | null {
  return calendar.getAllSubcomponents('vevent').find((vevent) => !vevent.hasProperty('recurrence-id')) ?? null;
}

function textValue(vevent: ICAL.Component, name: string): string {
  const value = vevent.getFirstPropertyValue(name);
  return typeof value === 'string' ? value : '';
}

export function readFields(vevent: ICAL.Component, zone: string): EventFields {
  const event = new ICAL.Event(vevent);
  const start = event.startDate;
  if (!start) throw new Error('VEVENT without DTSTART');
  const end = event.endDate ?? start;
  const format = start.isDate ? wallDate : wallDateTime;
  return {
    summary: event.summary ?? '',
    location: textValue(vevent, 'location'),
    description: textValue(vevent, 'description'),
    allDay: start.isDate,
    start: format(wallOfTime(start, zone)),
    end: format(Math.max(wallOfTime(end, zone), wallOfTime(start, zone))),
    rrule: readRepeat(vevent, zone).repeat,
  };
}

function readRepeat(vevent: ICAL.Component, zone: string): { repeat: Repeat | null; custom: boolean } {
  const rules = vevent.getAllProperties('rrule');
  const recur = rules[0]?.getFirstValue();
  if (!(recur instanceof ICAL.Recur)) return { repeat: null, custom: rules.length > 0 || vevent.hasProperty('rdate') };
  const freq = frequencies.find((f) => f === recur.freq);
  if (!freq) return { repeat: null, custom: true };
  const byday = recur.parts.BYDAY ?? [];
  const plainDays = byday.filter((day): day is Weekday => (weekdays as readonly string[]).includes(day));
  const custom = rules.length > 1 || vevent.hasProperty('rdate')
    || Object.keys(recur.parts).some((part) => part !== 'BYDAY')
    || (byday.length > 0 && (freq !== 'WEEKLY' || plainDays.length !== byday.length));
  const count = recur.count ?? null;
  // UNTIL is UTC for zoned series; the last day is the day the user sees.
  const until = recur.until && !count ? wallDate(wallOfTime(recur.until, zone)) : null;
  return { repeat: { freq, interval: recur.interval || 1, count, until, byday: plainDays }, custom };
}

function timeZoneId(time: ICAL.Time): string | null {
  if (time.isDate || isFloating(time)) return null;
  return time.zone === ICAL.Timezone.utcTimezone ? 'UTC' : time.zone.tzid;
}

export function readEvent(text: string, zone: string): EventModel {
  const calendar = parseCalendar(text);
  const vevents = calendar.getAllSubcomponents('vevent');
  const master = masterEvent(calendar) ?? vevents[0];
  if (!master) throw new Error('VCALENDAR without VEVENT');
  const start = new ICAL.Event(master).startDate;
  return {
    ...readFields(master, zone),
    uid: textValue(master, 'uid'),
    tzid: start ? timeZoneId(start) : null,
    repeatCustom: readRepeat(master, zone).custom,
    exdates: master.getAllProperties('exdate').flatMap((prop) => prop.getValues().map(String)),
    overrides: vevents.filter((vevent) => vevent !== master && vevent.hasProperty('recurrence-id')).map((vevent) => ({
      ...readFields(vevent, zone),
      recurrenceId: String(vevent.getFirstPropertyValue('recurrence-id')),
    })),
  };
}

export function createEvent(fields: EventFields, zone: string, uid: string, now = new Date()): string {
  const calendar = new ICAL.Component('vcalendar');
  calendar.addPropertyWithValue('version', '2.0');
  calendar.addPropertyWithValue('prodid', prodId);
  const vevent = new ICAL.Component('vevent');
  vevent.addPropertyWithValue('uid', uid);
  vevent.addPropertyWithValue('created', utcTime(now));
  // Added after the fields, so the VTIMEZONE they bring comes first, as most clients write it.
  applyFields(calendar, vevent, fields, null, zone, now);
  calendar.addSubcomponent(vevent);
  return serializeCalendar(calendar);
}

/**
 * Patches the master in place, leaving its EXDATEs and overrides as they are: for "edit all events" of a
 * series use updateSeries (recurrence.ts), which moves them along with DTSTART and its rule.
 */
export function updateEvent(text: string, fields: EventFields, zone: string, now = new Date()): string {
  const calendar = parseCalendar(text);
  const master = masterEvent(calendar);
  if (!master) throw new Error('the item has no master VEVENT');
  applyFields(calendar, master, fields, readFields(master, zone), zone, now);
  return serializeCalendar(calendar);
}

function utcTime(date: Date): ICAL.Time {
  return ICAL.Time.fromJSDate(new Date(Math.floor(date.getTime() / 1000) * 1000), true);
}

/**
 * Writes `fields` into `vevent`. With `previous` (the fields as read before the edit) only what changed is
 * rewritten; without it (a new event or a new override) every field is written.
 */
export function applyFields(
  calendar: ICAL.Component, vevent: ICAL.Component, fields: EventFields, previous: EventFields | null, zone: string, now: Date,
): void {
  for (const name of ['summary', 'location', 'description'] as const) {
    if (previous?.[name] === fields[name]) continue;
    if (fields[name] === '') vevent.removeAllProperties(name);
    else vevent.updatePropertyWithValue(name, fields[name]);
  }
  const timesChanged = !previous || previous.allDay !== fields.allDay || previous.start !== fields.start
    || previous.end !== fields.end;
  const event = new ICAL.Event(vevent);
  if (timesChanged) {
    const writeZone = zoneToWrite(calendar, event.startDate, fields.allDay, zone);
    const start = toIcalTime(fields.start, fields.allDay, zone, writeZone);
    let end = toIcalTime(fields.end, fields.allDay, zone, writeZone);
    if (end.compare(start) < 0 || (fields.allDay && end.compare(start) === 0)) {
      end = start.clone();
      if (fields.allDay) end.adjust(1, 0, 0, 0);
    }
    vevent.removeAllProperties('duration');
    event.startDate = start;
    event.endDate = end;
  }
  const repeatChanged = !previous || !sameRepeat(previous.rrule, fields.rrule) || previous.allDay !== fields.allDay;
  if (repeatChanged) {
    vevent.removeAllProperties('rrule');
    if (fields.rrule) vevent.addPropertyWithValue('rrule', toRecur(fields.rrule, event.startDate, zone));
  }
  vevent.updatePropertyWithValue('dtstamp', utcTime(now));
  if (!previous) return;
  vevent.updatePropertyWithValue('last-modified', utcTime(now));
  if (timesChanged || repeatChanged) {
    // RFC 5545 §3.8.7.4: a change of time or recurrence is a new revision.
    const sequence = vevent.getFirstPropertyValue('sequence');
    vevent.updatePropertyWithValue('sequence', (typeof sequence === 'number' ? sequence : 0) + 1);
  }
}

function sameRepeat(a: Repeat | null, b: Repeat | null): boolean {
  if (!a || !b) return a === b;
  return a.freq === b.freq && a.interval === b.interval && a.count === b.count && a.until === b.until
    && a.byday.join() === b.byday.join();
}

type WriteZone = { kind: 'floating' } | { kind: 'utc' } | { kind: 'zone'; zone: ICAL.Timezone };

/**
 * The zone new times are written in: the event's own when it has one (an event made in New York stays in
 * New York when edited from Berlin), else the user's with its VTIMEZONE, else UTC.
 */
function zoneToWrite(calendar: ICAL.Component, current: ICAL.Time | null, allDay: boolean, zone: string): WriteZone {
  if (allDay) return { kind: 'floating' };
  if (current && !current.isDate) {
    if (current.zone === ICAL.Timezone.utcTimezone) return { kind: 'utc' };
    if (isFloating(current)) return { kind: 'floating' };
    return { kind: 'zone', zone: current.zone };
  }
  if (zone === 'UTC' || zone === 'Etc/UTC') return { kind: 'utc' };
  const defined = (tzid: unknown) => calendar.getAllSubcomponents('vtimezone').find((vtz) => vtz.getFirstPropertyValue('tzid') === tzid);
  let vtimezone = defined(zone) ?? vtimezoneFor(zone);
  if (!vtimezone) return { kind: 'utc' };
  const tzid = String(vtimezone.getFirstPropertyValue('tzid'));
  if (!vtimezone.parent) vtimezone = defined(tzid) ?? calendar.addSubcomponent(vtimezone);
  return { kind: 'zone', zone: new ICAL.Timezone({ component: vtimezone, tzid }) };
}

/** A wall time in the user's zone as an iCalendar time in `target`. */
function toIcalTime(value: string, allDay: boolean, zone: string, target: WriteZone): ICAL.Time {
  const wall = parseWall(value);
  if (Number.isNaN(wall)) throw new Error(`not a date or time: ${value}`);
  const date = new Date(wall);
  const fields = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
  if (allDay) return new ICAL.Time({ ...fields, isDate: true }, ICAL.Timezone.localTimezone);
  if (target.kind === 'floating') {
    return new ICAL.Time({ ...fields, hour: date.getUTCHours(), minute: date.getUTCMinutes(), second: date.getUTCSeconds(), isDate: false },
      ICAL.Timezone.localTimezone);
  }
  const utc = ICAL.Time.fromJSDate(new Date(instantFromWall(wall, zone)), true);
  return target.kind === 'utc' ? utc : utc.convertToZone(target.zone);
}

function toRecur(repeat: Repeat, start: ICAL.Time, zone: string): ICAL.Recur {
  const recur = new ICAL.Recur({ freq: repeat.freq, interval: Math.max(1, Math.floor(repeat.interval)) });
  if (repeat.count) {
    recur.count = Math.max(1, Math.floor(repeat.count));
  } else if (repeat.until) {
    // RFC 5545 §3.3.10: UNTIL is a DATE for all-day series, UTC for zoned ones, floating for floating ones.
    const lastDay = parseWall(repeat.until);
    if (start.isDate) {
      recur.until = toIcalTime(repeat.until, true, zone, { kind: 'floating' });
    } else if (isFloating(start)) {
      recur.until = toIcalTime(wallDateTime(lastDay + dayMs - 60_000), false, zone, { kind: 'floating' });
    } else {
      recur.until = ICAL.Time.fromJSDate(new Date(instantFromWall(lastDay + dayMs - 1000, zone)), true);
    }
  }
  if (repeat.freq === 'WEEKLY' && repeat.byday.length > 0) recur.setComponent('BYDAY', [...repeat.byday]);
  return recur;
}
