import ICAL from 'ical.js';

/**
 * One occurrence of a recurring event, named the way ActiveSync 16 names it (AirSyncBase InstanceId:
 * the occurrence's original start, in UTC): deleted as an EXDATE on the series, or replaced by an
 * override VEVENT (RECURRENCE-ID) in the same item, so the series and every other occurrence stay as
 * they are.
 */

/** An InstanceId (2026-01-05T09:00:00.000Z, or the compact 20260105T090000Z) as an ical.js UTC time. */
export function parseInstanceId(value: string): ICAL.Time {
  const compact = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  const ms = compact ? Date.UTC(+compact[1]!, +compact[2]! - 1, +compact[3]!, +compact[4]!, +compact[5]!, +compact[6]!) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`InstanceId ${JSON.stringify(value.slice(0, 40))} is not a date-time`);
  return ICAL.Time.fromJSDate(new Date(ms), true);
}

function parse(data: string): { calendar: ICAL.Component; master: ICAL.Component } {
  const calendar = new ICAL.Component(ICAL.parse(data) as unknown[]);
  const master = calendar.getAllSubcomponents('vevent').find((e) => !e.hasProperty('recurrence-id'));
  if (!master?.hasProperty('rrule') && !master?.hasProperty('rdate')) throw new Error('the item is not a recurring event');
  return { calendar, master };
}

const sameInstant = (a: ICAL.Time, b: ICAL.Time) => a.toUnixTime() === b.toUnixTime();

function dropOverride(calendar: ICAL.Component, instance: ICAL.Time): void {
  for (const e of calendar.getAllSubcomponents('vevent')) {
    const id = e.getFirstPropertyValue('recurrence-id');
    if (id instanceof ICAL.Time && sameInstant(id, instance)) calendar.removeSubcomponent(e);
  }
}

/** The item without that occurrence: an EXDATE on the series, and no override for it. */
export function withoutOccurrence(data: string, instance: ICAL.Time): string {
  const { calendar, master } = parse(data);
  dropOverride(calendar, instance);
  const exdate = new ICAL.Property('exdate', master);
  exdate.setValue(instance);
  master.addProperty(exdate);
  return calendar.toString();
}

/**
 * The item with that occurrence replaced by the single event in `occurrence` (as the calendar mapper
 * made it from the client's ApplicationData): it joins the series under its UID and RECURRENCE-ID,
 * without rules of its own; a time zone it uses that the item lacks comes along.
 */
export function withOccurrence(data: string, instance: ICAL.Time, occurrence: string): string {
  const { calendar, master } = parse(data);
  const source = new ICAL.Component(ICAL.parse(occurrence) as unknown[]);
  const event = source.getFirstSubcomponent('vevent');
  if (!event) throw new Error('the occurrence has no event');
  for (const name of ['uid', 'rrule', 'rdate', 'exdate', 'recurrence-id']) event.removeAllProperties(name);
  event.addPropertyWithValue('uid', master.getFirstPropertyValue('uid') as string);
  const id = new ICAL.Property('recurrence-id', event);
  id.setValue(instance);
  event.addProperty(id);
  dropOverride(calendar, instance);
  const zones = new Set(calendar.getAllSubcomponents('vtimezone').map((z) => z.getFirstPropertyValue('tzid')));
  for (const zone of source.getAllSubcomponents('vtimezone')) if (!zones.has(zone.getFirstPropertyValue('tzid'))) calendar.addSubcomponent(zone);
  calendar.addSubcomponent(event);
  return calendar.toString();
}
