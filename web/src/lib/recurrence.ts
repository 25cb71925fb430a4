import ICAL from 'ical.js';
import { RuleBudgetExceeded, withinRuleBudget } from '../../../src/content/recurrence-budget.js';
import { applyFields, masterEvent, parseCalendar, readFields, serializeCalendar, type EventFields } from './ical-event.js';
import { dayMs, parseWall, wallDate, wallDateTime, wallOfTime, type WallTime } from './timezone.js';

/**
 * Occurrences of calendar items for the views, and the per-occurrence edits. Expansion is ical.js's
 * (RecurExpansion: RRULE, RDATE, EXDATE); this module bounds it, applies the overrides and converts to
 * wall times in the user's zone.
 */

export interface Occurrence {
  uid: string;
  summary: string;
  location: string;
  allDay: boolean;
  /** Wall times in the user's zone; `end` is exclusive (an all-day event on 4 March ends on 5 March 00:00). */
  start: WallTime;
  end: WallTime;
  /** The occurrence's RECURRENCE-ID (its original start, in the master's zone); null for a lone event. */
  recurrenceId: string | null;
  /** One of a recurring master's occurrences, so "this event" and "all events" differ. */
  series: boolean;
}

/** Occurrences one item may yield per expanded range; a rule past it is cut off there. */
export const occurrencesPerRangeMax = 5_000;
/** Masters whose rule once ran out of budget: shown as their first occurrence from then on. */
const runaway = new WeakSet<ICAL.Component>();

/** Key under which an occurrence and the RECURRENCE-ID that replaces it meet, whatever zone each is written in. */
function occurrenceKey(time: ICAL.Time): string {
  return time.isDate ? `date:${time.toString()}` : String(time.toUnixTime());
}

function overlaps(start: WallTime, end: WallTime, rangeStart: WallTime, rangeEnd: WallTime): boolean {
  return start < rangeEnd && (end > rangeStart || start >= rangeStart);
}

function occurrenceOf(vevent: ICAL.Component, start: ICAL.Time, end: ICAL.Time, zone: string): Occurrence {
  const summary = vevent.getFirstPropertyValue('summary');
  const location = vevent.getFirstPropertyValue('location');
  const startWall = wallOfTime(start, zone);
  return {
    uid: String(vevent.getFirstPropertyValue('uid') ?? ''),
    summary: typeof summary === 'string' ? summary : '',
    location: typeof location === 'string' ? location : '',
    allDay: start.isDate,
    start: startWall,
    end: Math.max(startWall, wallOfTime(end, zone)),
    recurrenceId: null,
    series: false,
  };
}

/** Occurrences of one item overlapping [rangeStart, rangeEnd), wall times in `zone`, unsorted. */
export function expandOccurrences(calendar: ICAL.Component, rangeStart: WallTime, rangeEnd: WallTime, zone: string): Occurrence[] {
  const found: Occurrence[] = [];
  const master = masterEvent(calendar);
  const overridden = new Set<string>();
  for (const vevent of calendar.getAllSubcomponents('vevent')) {
    const recurrenceId = vevent.getFirstPropertyValue('recurrence-id');
    if (vevent === master || !(recurrenceId instanceof ICAL.Time)) continue;
    overridden.add(occurrenceKey(recurrenceId));
    const event = new ICAL.Event(vevent);
    if (!event.startDate) continue;
    const occurrence = occurrenceOf(vevent, event.startDate, event.endDate ?? event.startDate, zone);
    if (overlaps(occurrence.start, occurrence.end, rangeStart, rangeEnd)) {
      found.push({ ...occurrence, recurrenceId: recurrenceId.toString(), series: master !== null });
    }
  }
  if (!master) return found;
  const event = new ICAL.Event(master);
  const dtstart = event.startDate;
  if (!dtstart) return found;
  const duration = (event.endDate ?? dtstart).subtractDate(dtstart);
  const occurrenceAt = (start: ICAL.Time) => {
    const end = start.clone();
    end.addDuration(duration);
    return occurrenceOf(master, start, end, zone);
  };
  if (!event.isRecurring() || runaway.has(master)) {
    const occurrence = occurrenceAt(dtstart);
    if (overlaps(occurrence.start, occurrence.end, rangeStart, rangeEnd)) found.push(occurrence);
    return found;
  }
  const spanMs = wallOfTime(event.endDate ?? dtstart, zone) - wallOfTime(dtstart, zone);
  try {
    withinRuleBudget(() => {
      const expansion = new ICAL.RecurExpansion({ component: master, dtstart: fastForward(master, dtstart, rangeStart - spanMs) });
      for (let n = 0; n < occurrencesPerRangeMax; n++) {
        const start = expansion.next();
        if (!start) break;
        const occurrence = occurrenceAt(start);
        // Occurrences come in order of time; a day of slack covers a DST change's hour and zone shifts.
        if (occurrence.start >= rangeEnd + dayMs) break;
        if (overridden.has(occurrenceKey(start)) || !overlaps(occurrence.start, occurrence.end, rangeStart, rangeEnd)) continue;
        found.push({ ...occurrence, recurrenceId: start.toString(), series: true });
      }
    });
  } catch (err) {
    // A rule ical.js cannot evaluate, or one past its budget: keep what was found.
    if (err instanceof RuleBudgetExceeded) runaway.add(master);
  }
  return found;
}

/**
 * Where to start expanding so a long-running series does not spend the budget before the range: a DAILY
 * or WEEKLY rule without COUNT repeats every INTERVAL days or weeks, so starting a whole number of
 * periods later yields the same dates. The start stays two days before the range, out of view, because
 * that shifted start is returned as an occurrence even when the rule's BYDAY would skip it.
 */
function fastForward(master: ICAL.Component, dtstart: ICAL.Time, before: WallTime): ICAL.Time {
  const rules = master.getAllProperties('rrule');
  const recur = rules[0]?.getFirstValue();
  if (rules.length !== 1 || master.hasProperty('rdate') || !(recur instanceof ICAL.Recur) || recur.count) return dtstart;
  const periodDays = (recur.freq === 'DAILY' ? 1 : recur.freq === 'WEEKLY' ? 7 : 0) * (recur.interval || 1);
  if (periodDays === 0) return dtstart;
  const startDay = Date.UTC(dtstart.year, dtstart.month - 1, dtstart.day);
  const daysBehind = Math.floor((before - 2 * dayMs - startDay) / dayMs);
  const periods = Math.floor(daysBehind / periodDays);
  if (periods <= 0) return dtstart;
  const shifted = dtstart.clone();
  shifted.adjust(periods * periodDays, 0, 0, 0);
  return shifted;
}

/** The master's occurrence start `recurrenceId` names, in the master's zone. */
function occurrenceTime(master: ICAL.Component, recurrenceId: string): ICAL.Time {
  return ICAL.Time.fromString(recurrenceId, master.getFirstProperty('dtstart'));
}

function findOverride(calendar: ICAL.Component, key: string): ICAL.Component | undefined {
  return calendar.getAllSubcomponents('vevent').find((vevent) => {
    const value = vevent.getFirstPropertyValue('recurrence-id');
    return value instanceof ICAL.Time && occurrenceKey(value) === key;
  });
}

/** A time property written like the master's DTSTART (same TZID), for RECURRENCE-ID and EXDATE. */
function likeStart(master: ICAL.Component, name: string, time: ICAL.Time): ICAL.Property {
  const property = new ICAL.Property(name);
  const tzid = master.getFirstProperty('dtstart')?.getFirstParameter('tzid');
  if (tzid && !time.isDate && time.zone !== ICAL.Timezone.utcTimezone) property.setParameter('tzid', tzid);
  property.setValue(time);
  return property;
}

function keyOf(calendar: ICAL.Component, recurrenceId: string): { master: ICAL.Component | null; key: string; time: ICAL.Time | null } {
  const master = masterEvent(calendar);
  if (master) {
    const time = occurrenceTime(master, recurrenceId);
    return { master, key: occurrenceKey(time), time };
  }
  const override = calendar.getAllSubcomponents('vevent')
    .find((vevent) => String(vevent.getFirstPropertyValue('recurrence-id')) === recurrenceId);
  const value = override?.getFirstPropertyValue('recurrence-id');
  return { master: null, key: value instanceof ICAL.Time ? occurrenceKey(value) : '', time: null };
}

/** The editor's starting point for "this event": its override, or the master moved to the occurrence. */
export function readOccurrence(text: string, recurrenceId: string, zone: string): EventFields {
  const calendar = parseCalendar(text);
  const { master, key, time } = keyOf(calendar, recurrenceId);
  const override = findOverride(calendar, key);
  if (override) return { ...readFields(override, zone), rrule: null };
  if (!master || !time) throw new Error(`no occurrence ${recurrenceId}`);
  const fields = readFields(master, zone);
  const format = time.isDate ? wallDate : wallDateTime;
  const start = wallOfTime(time, zone);
  return { ...fields, start: format(start), end: format(start + parseWall(fields.end) - parseWall(fields.start)), rrule: null };
}

/** "Edit this occurrence": patches its RECURRENCE-ID override, or adds one copied from the master. */
export function updateOccurrence(text: string, recurrenceId: string, fields: EventFields, zone: string, now = new Date()): string {
  const calendar = parseCalendar(text);
  const { master, key, time } = keyOf(calendar, recurrenceId);
  const single = { ...fields, rrule: null };
  const override = findOverride(calendar, key);
  if (override) {
    applyFields(calendar, override, single, readFields(override, zone), zone, now);
    return serializeCalendar(calendar);
  }
  if (!master || !time) throw new Error(`no occurrence ${recurrenceId}`);
  // The copy keeps the master's alarms, attendees and other properties for this occurrence.
  const copy = new ICAL.Component(structuredClone(master.jCal));
  for (const name of ['rrule', 'rdate', 'exdate']) copy.removeAllProperties(name);
  copy.addProperty(likeStart(master, 'recurrence-id', time));
  calendar.addSubcomponent(copy);
  applyFields(calendar, copy, single, null, zone, now);
  return serializeCalendar(calendar);
}

/** "Delete this occurrence": an EXDATE on the master, and its override gone. Null: nothing is left of the item. */
export function deleteOccurrence(text: string, recurrenceId: string): string | null {
  const calendar = parseCalendar(text);
  const { master, key, time } = keyOf(calendar, recurrenceId);
  const override = findOverride(calendar, key);
  if (override) calendar.removeSubcomponent(override);
  if (master && time) master.addProperty(likeStart(master, 'exdate', time));
  return calendar.getAllSubcomponents('vevent').length === 0 ? null : serializeCalendar(calendar);
}
