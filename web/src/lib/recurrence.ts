import ICAL from 'ical.js';
import { RuleBudgetExceeded, withinRuleBudget } from '../../../src/content/recurrence-budget.js';
import { applyFields, masterEvent, parseCalendar, readFields, serializeCalendar, type EventFields } from './ical-event.js';
import { dayMs, isFloating, parseWall, wallDate, wallDateTime, wallOfTime, type WallTime } from './timezone.js';

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
  writeLikeStart(master, property, [time]);
  return property;
}

/** Sets a RECURRENCE-ID's or EXDATE's values, in one form, with the TZID of the master's DTSTART. */
function writeLikeStart(master: ICAL.Component, property: ICAL.Property, times: ICAL.Time[]): void {
  const tzid = master.getFirstProperty('dtstart')?.getFirstParameter('tzid');
  const first = times[0];
  if (tzid && first && !first.isDate && first.zone !== ICAL.Timezone.utcTimezone) property.setParameter('tzid', tzid);
  else property.removeParameter('tzid');
  if (property.isMultiValue) property.setValues(times);
  else if (first) property.setValue(first);
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

/**
 * "Edit all events": patches the master like updateEvent, and keeps its exceptions on the occurrences they
 * belong to. When DTSTART moves by a wall-clock duration d, every EXDATE and RECURRENCE-ID moves by d too
 * (each in the zone and DATE/DATE-TIME form it is written in; in the master's new form when all-day flips),
 * and an override still at its occurrence's time moves with it, while one moved on its own keeps its time.
 * After a move or a new rule, exceptions that no longer name an occurrence of the series are dropped, so
 * nothing deleted comes back and no edited occurrence lingers past the end or off the rule's days.
 */
export function updateSeries(text: string, fields: EventFields, zone: string, now = new Date()): string {
  const calendar = parseCalendar(text);
  const master = masterEvent(calendar);
  if (!master) throw new Error('the item has no master VEVENT');
  const oldStart = startOf(master);
  const oldRule = ruleText(master);
  applyFields(calendar, master, fields, readFields(master, zone), zone, now);
  const newStart = startOf(master);
  if (!oldStart || !newStart) return serializeCalendar(calendar);
  const flipped = oldStart.isDate !== newStart.isDate;
  const shift = wallIn(newStart, zoneOf(newStart), newStart) - wallIn(oldStart, zoneOf(oldStart), oldStart);
  if (shift === 0 && !flipped && ruleText(master) === oldRule) return serializeCalendar(calendar);
  if (shift !== 0 || flipped) moveExceptions(calendar, master, { oldStart, newStart, shift, flipped });
  dropStaleExceptions(calendar, master);
  return serializeCalendar(calendar);
}

/** Moves every EXDATE and RECURRENCE-ID by the master's shift, and the overrides still at their occurrence with them. */
function moveExceptions(
  calendar: ICAL.Component, master: ICAL.Component,
  { oldStart, newStart, shift, flipped }: { oldStart: ICAL.Time; newStart: ICAL.Time; shift: number; flipped: boolean },
): void {
  const oldZone = zoneOf(oldStart);
  const newZone = zoneOf(newStart);
  // The time an exception names once the series has moved: in its own form, or the master's after a flip.
  const moved = (time: ICAL.Time) =>
    timeLike(wallIn(time, oldZone, oldStart) + shift, flipped ? newStart : time, flipped ? newZone : oldZone);
  for (const property of master.getAllProperties('exdate')) {
    const values = property.getValues();
    if (!values.every((value): value is ICAL.Time => value instanceof ICAL.Time)) continue;
    if (flipped) writeLikeStart(master, property, values.map((value) => moved(value)));
    else property.setValues(values.map((value) => moved(value)));
  }
  const duration = (new ICAL.Event(master).endDate ?? newStart).subtractDate(newStart);
  for (const override of overridesOf(calendar, master)) {
    const property = override.getFirstProperty('recurrence-id');
    const recurrenceId = property?.getFirstValue();
    if (!property || !(recurrenceId instanceof ICAL.Time)) continue;
    const event = new ICAL.Event(override);
    const ownStart = event.startDate;
    const atOccurrence = ownStart !== null && occurrenceKey(ownStart) === occurrenceKey(recurrenceId);
    if (flipped) writeLikeStart(master, property, [moved(recurrenceId)]);
    else property.setValue(moved(recurrenceId));
    if (!atOccurrence) continue;
    if (flipped) {
      // A DATE and a DATE-TIME do not shift into each other: the occurrence takes the series' new times.
      const start = moved(recurrenceId);
      const end = start.clone();
      end.addDuration(duration);
      override.removeAllProperties('duration');
      event.startDate = start;
      event.endDate = end;
      continue;
    }
    for (const name of ['dtstart', 'dtend']) {
      const own = override.getFirstProperty(name);
      const value = own?.getFirstValue();
      if (own && value instanceof ICAL.Time) own.setValue(moved(value));
    }
  }
}

function startOf(vevent: ICAL.Component): ICAL.Time | null {
  const start = vevent.getFirstPropertyValue('dtstart');
  return start instanceof ICAL.Time ? start.clone() : null;
}

/** What decides the series' occurrences besides DTSTART: its RRULE and RDATE lines as written. */
function ruleText(master: ICAL.Component): string {
  return ['rrule', 'rdate'].flatMap((name) => master.getAllProperties(name).map((property) => property.toICALString())).join('\n');
}

function overridesOf(calendar: ICAL.Component, master: ICAL.Component): ICAL.Component[] {
  return calendar.getAllSubcomponents('vevent').filter((vevent) => vevent !== master && vevent.hasProperty('recurrence-id'));
}

/** The zone a series' wall clock runs in: null for dates and floating times, which are read as written. */
function zoneOf(start: ICAL.Time): ICAL.Timezone | null {
  return start.isDate || isFloating(start) ? null : start.zone;
}

/** A time's clock reading in `zone` (as written when either is null or floating); a DATE at `series`' time of day. */
function wallIn(time: ICAL.Time, zone: ICAL.Timezone | null, series: ICAL.Time): WallTime {
  const local = zone && !time.isDate && !isFloating(time) && time.zone !== zone ? time.convertToZone(zone) : time;
  const clock = local.isDate ? series : local;
  return Date.UTC(local.year, local.month - 1, local.day, clock.hour, clock.minute, clock.second);
}

/** A wall time written as `form` is: a DATE, a floating time, or a time in form's zone read from `zone`'s clock. */
function timeLike(wall: WallTime, form: ICAL.Time, zone: ICAL.Timezone | null): ICAL.Time {
  const date = new Date(wall);
  const day = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
  if (form.isDate) return new ICAL.Time({ ...day, isDate: true }, ICAL.Timezone.localTimezone);
  const fields = { ...day, hour: date.getUTCHours(), minute: date.getUTCMinutes(), second: date.getUTCSeconds(), isDate: false };
  if (isFloating(form)) return new ICAL.Time(fields, ICAL.Timezone.localTimezone);
  const time = new ICAL.Time(fields, zone ?? form.zone);
  return time.zone === form.zone ? time : time.convertToZone(form.zone);
}

/**
 * Removes the EXDATE values and overrides that name no occurrence of the master's RRULE and RDATE. The
 * series is expanded as far as the last exception, bounded like expandOccurrences; an exception the
 * expansion did not get to (a cap, a rule past its budget, a rule ical.js rejects) is kept.
 */
function dropStaleExceptions(calendar: ICAL.Component, master: ICAL.Component): void {
  const overrides = overridesOf(calendar, master);
  const exdates = master.getAllProperties('exdate');
  const named: ICAL.Time[] = [];
  for (const override of overrides) {
    const value = override.getFirstPropertyValue('recurrence-id');
    if (value instanceof ICAL.Time) named.push(value);
  }
  for (const property of exdates) {
    for (const value of property.getValues()) if (value instanceof ICAL.Time) named.push(value);
  }
  if (named.length === 0) return;
  const { instants, days, complete } = occurrencesUpTo(calendar, master, Math.max(...named.map((time) => time.toUnixTime())));
  if (!complete) return;
  // An EXDATE written as a DATE removes a timed series' occurrences on that day (as ical.js reads it).
  const stale = (time: ICAL.Time, exdate: boolean) => !instants.has(occurrenceKey(time)) && !(exdate && time.isDate && days.has(time.toString()));
  for (const override of overrides) {
    const value = override.getFirstPropertyValue('recurrence-id');
    if (value instanceof ICAL.Time && stale(value, false)) calendar.removeSubcomponent(override);
  }
  for (const property of exdates) {
    const values = property.getValues();
    const kept = values.filter((value) => !(value instanceof ICAL.Time && stale(value, true)));
    if (kept.length === values.length) continue;
    if (kept.length === 0) master.removeProperty(property);
    else property.setValues(kept);
  }
}

/**
 * The occurrence keys of the master's RRULE and RDATE (EXDATE left out) from DTSTART until past `lastUnix`,
 * and whether the expansion got that far; timed occurrences also by their day in the master's zone.
 */
function occurrencesUpTo(calendar: ICAL.Component, master: ICAL.Component, lastUnix: number): { instants: Set<string>; days: Set<string>; complete: boolean } {
  const instants = new Set<string>();
  const days = new Set<string>();
  // A copy without EXDATE, under the calendar so its TZIDs find their VTIMEZONE (it is not added to it).
  const probe = new ICAL.Component(structuredClone(master.jCal), calendar);
  probe.removeAllProperties('exdate');
  const dtstart = probe.getFirstPropertyValue('dtstart');
  if (!(dtstart instanceof ICAL.Time)) return { instants, days, complete: false };
  // A day of slack either side covers DATE values (read as UTC) against zoned occurrences.
  const endUnix = lastUnix + dayMs / 1000;
  try {
    return withinRuleBudget(() => {
      const expansion = new ICAL.RecurExpansion({ component: probe, dtstart });
      for (let n = 0; n < occurrencesPerRangeMax; n++) {
        const start = expansion.next();
        if (!start || start.toUnixTime() > endUnix) return { instants, days, complete: true };
        instants.add(occurrenceKey(start));
        if (!start.isDate) days.add(new ICAL.Time({ year: start.year, month: start.month, day: start.day, isDate: true }, ICAL.Timezone.localTimezone).toString());
      }
      return { instants, days, complete: false };
    });
  } catch {
    // Past the budget, or a rule ical.js cannot evaluate: nothing is known to be stale.
    return { instants, days, complete: false };
  }
}
