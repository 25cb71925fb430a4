import ICAL from 'ical.js';
import { tzlib_get_ical_block, tzlib_get_timezones } from 'timezones-ical-library';

/**
 * Time zones for the calendar. Views work in "wall time": the user's local date and clock time encoded as
 * milliseconds as if it were UTC, so day arithmetic never meets a DST change and formatting is done with
 * timeZone 'UTC'. Instants are converted to and from the user's zone with Intl; times inside an iCalendar
 * object are converted with the object's own VTIMEZONE through ical.js.
 */
export type WallTime = number;

export const dayMs = 86_400_000;

/** The zone the browser runs in; the calendar shows every time in it. */
export function userTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const partFormatters = new Map<string, Intl.DateTimeFormat>();

function partFormatter(zone: string): Intl.DateTimeFormat {
  let formatter = partFormatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    partFormatters.set(zone, formatter);
  }
  return formatter;
}

export function wallFromInstant(instantMs: number, zone: string): WallTime {
  const fields: Record<string, number> = {};
  for (const part of partFormatter(zone).formatToParts(new Date(instantMs))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const wall = Date.UTC(fields.year ?? 1970, (fields.month ?? 1) - 1, fields.day ?? 1,
    fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0);
  return wall + (((instantMs % 1000) + 1000) % 1000);
}

/**
 * The instant a wall time names in a zone. A time skipped by a DST change (02:30 on the spring-forward day)
 * lands after the gap, as RFC 5545 §3.3.5 asks; a repeated one takes its first occurrence.
 */
export function instantFromWall(wall: WallTime, zone: string): number {
  const offsetAt = (instant: number) => wallFromInstant(instant, zone) - instant;
  const guess = wall - offsetAt(wall);
  return wall - offsetAt(guess);
}

/** 'YYYY-MM-DD' of a wall time. */
export function wallDate(wall: WallTime): string {
  return new Date(wall).toISOString().slice(0, 10);
}

/** 'YYYY-MM-DDTHH:MM' of a wall time, the value of a datetime-local input. */
export function wallDateTime(wall: WallTime): string {
  return new Date(wall).toISOString().slice(0, 16);
}

/** Reads 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM[:SS]'; NaN when it is neither. */
export function parseWall(text: string): WallTime {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (!match) return NaN;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
}

/** Midnight of the wall time's day. */
export function startOfDay(wall: WallTime): WallTime {
  return Math.floor(wall / dayMs) * dayMs;
}

/** The wall time of an iCalendar time, shown in `zone`. Dates and floating times are never shifted. */
export function wallOfTime(time: ICAL.Time, zone: string): WallTime {
  const fields = Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second);
  if (time.isDate || isFloating(time)) return fields;
  return wallFromInstant(time.toUnixTime() * 1000, zone);
}

export function isFloating(time: ICAL.Time): boolean {
  return !time.zone || time.zone === ICAL.Timezone.localTimezone || time.zone.tzid === 'floating';
}

let knownZones: Set<string> | null = null;

/**
 * A VTIMEZONE for an IANA zone from timezones-ical-library, or null when the library does not know it.
 * Its TZID may be the zone's canonical name (Asia/Calcutta gives Asia/Kolkata).
 */
export function vtimezoneFor(tzid: string): ICAL.Component | null {
  // Checked first: the library logs to the console when asked for a zone it lacks.
  knownZones ??= new Set(tzlib_get_timezones() as string[]);
  if (!knownZones.has(tzid)) return null;
  const block = tzlib_get_ical_block(tzid);
  if (!Array.isArray(block) || !block[0]) return null;
  return new ICAL.Component(ICAL.parse(block[0]) as unknown as unknown[]);
}

type JcalComponent = [string, JcalProperty[], JcalComponent[]];
type JcalProperty = [string, Record<string, unknown>, ...unknown[]];

/**
 * Some clients write TZID=Europe/Berlin without a VTIMEZONE. ical.js then falls back to its
 * TimezoneService; register the zones the item names but does not define, so those times are not
 * read as floating. Runs on the raw jCal, before ical.js reads any time value.
 */
export function registerMissingZones(jcal: JcalComponent): void {
  const defined = new Set<string>();
  for (const sub of jcal[2]) {
    if (sub[0] !== 'vtimezone') continue;
    const tzid = sub[1].find((prop) => prop[0] === 'tzid')?.[3];
    if (typeof tzid === 'string') defined.add(tzid);
  }
  const visit = (component: JcalComponent) => {
    if (component[0] === 'vtimezone') return;
    for (const prop of component[1]) {
      const tzid = prop[1].tzid;
      if (typeof tzid !== 'string' || defined.has(tzid) || ICAL.TimezoneService.has(tzid)) continue;
      const vtimezone = vtimezoneFor(tzid);
      if (vtimezone) ICAL.TimezoneService.register(new ICAL.Timezone({ component: vtimezone, tzid }), tzid);
    }
    component[2].forEach(visit);
  };
  visit(jcal);
}
