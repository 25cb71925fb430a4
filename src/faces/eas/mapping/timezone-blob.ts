import ICAL from 'ical.js';
import { tzlib_get_ical_block, tzlib_get_timezones } from 'timezones-ical-library';
import { limits } from '../../../core/limits.js';
import { RuleBudget, withinRuleBudget } from '../../../content/recurrence-budget.js';
import { ianaZoneGroups, type IanaZoneGroup } from './iana-zone-groups.js';
import { windowsZones } from './windows-zones.js';

/**
 * The ActiveSync time zone (MS-ASDTYPE "TimeZone", the Calendar Timezone element): a base64 blob laid out
 * like Windows' TIME_ZONE_INFORMATION, 172 bytes, little-endian:
 *
 *   Bias (LONG) · StandardName (32 WCHAR) · StandardDate (SYSTEMTIME) · StandardBias (LONG) ·
 *   DaylightName (32 WCHAR) · DaylightDate (SYSTEMTIME) · DaylightBias (LONG)
 *
 * Biases are minutes with UTC = local + bias. A transition date uses the SYSTEMTIME "day in month" form:
 * year 0, the month, the weekday (0 Sunday), the week (1-4, 5 = the last one), and the local time of the
 * change (StandardDate in daylight time, DaylightDate in standard time, the same convention as a VTIMEZONE
 * observance's DTSTART). A month of 0 means the zone has no daylight saving time.
 *
 * This module converts that structure to and from VTIMEZONE components (always through ical.js) and can
 * name the IANA zone whose current rules a blob describes.
 */

export interface TransitionDate {
  /** 0 in the usual "nth weekday of the month" form; a year makes it a one-time absolute date. */
  year: number;
  /** 1-12. */
  month: number;
  /** 0 Sunday … 6 Saturday. */
  dayOfWeek: number;
  /** The week of the month, 1-4 or 5 for the last (with year 0), else the day of the month. */
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface TimeZoneInfo {
  /** Minutes; UTC = local + bias. */
  bias: number;
  standardName: string;
  /** Null when the zone has no daylight saving time. */
  standardDate: TransitionDate | null;
  standardBias: number;
  daylightName: string;
  daylightDate: TransitionDate | null;
  daylightBias: number;
}

const blobBytes = 172;

/** -x without a negative zero, so equal blobs compare equal. */
function negate(x: number): number {
  return x === 0 ? 0 : -x;
}
const nameChars = 32;

/** The blob of a zone without daylight saving time at `offsetMinutes` east of UTC. */
export function fixedOffsetInfo(offsetMinutes: number, name = ''): TimeZoneInfo {
  return {
    bias: negate(offsetMinutes), standardName: name, standardDate: null, standardBias: 0,
    daylightName: name, daylightDate: null, daylightBias: 0,
  };
}

export const utcInfo: TimeZoneInfo = fixedOffsetInfo(0, 'UTC');

/** Whether the zone observes daylight saving time (both transition dates set). */
export function hasDst(info: TimeZoneInfo): boolean {
  return info.standardDate !== null && info.daylightDate !== null;
}

/** Minutes east of UTC in standard time and in daylight time. */
export function offsetsOf(info: TimeZoneInfo): { standard: number; daylight: number } {
  if (!hasDst(info)) return { standard: negate(info.bias), daylight: negate(info.bias) };
  return { standard: negate(info.bias + info.standardBias), daylight: negate(info.bias + info.daylightBias) };
}

// ---------------------------------------------------------------------------------------------------
// Binary form

function writeName(buf: Buffer, offset: number, name: string): void {
  // 31 UTF-16 units at most, so the array always ends in a NUL as Windows expects.
  let units = name.slice(0, nameChars - 1);
  if (/[\ud800-\udbff]$/.test(units)) units = units.slice(0, -1);
  buf.write(units, offset, 'utf16le');
}

function readName(buf: Buffer, offset: number): string {
  const raw = buf.toString('utf16le', offset, offset + nameChars * 2);
  const nul = raw.indexOf('\u0000');
  return (nul === -1 ? raw : raw.slice(0, nul)).trim();
}

function writeSystemTime(buf: Buffer, offset: number, date: TransitionDate | null): void {
  if (!date) return; // all zeros
  const fields = [date.year, date.month, date.dayOfWeek, date.day, date.hour, date.minute, date.second, 0];
  fields.forEach((v, i) => buf.writeUInt16LE(v, offset + i * 2));
}

function readSystemTime(buf: Buffer, offset: number, which: string): TransitionDate | null {
  const f = Array.from({ length: 8 }, (_, i) => buf.readUInt16LE(offset + i * 2));
  const [year, month, dayOfWeek, day, hour, minute, second] = f as [number, number, number, number, number, number, number];
  if (month === 0) return null;
  const bad = (what: string) => new Error(`Timezone blob: ${which} has an invalid ${what}`);
  if (month > 12) throw bad(`month ${month}`);
  if (hour > 23) throw bad(`hour ${hour}`);
  if (minute > 59) throw bad(`minute ${minute}`);
  if (second > 59) throw bad(`second ${second}`);
  if (year === 0) {
    if (dayOfWeek > 6) throw bad(`day of week ${dayOfWeek}`);
    if (day < 1 || day > 5) throw bad(`week of month ${day}`);
  } else if (day < 1 || day > ICAL.Time.daysInMonth(month, year)) {
    throw bad(`day ${day}`);
  }
  return { year, month, dayOfWeek: year === 0 ? dayOfWeek : weekdayOf(year, month, day), day, hour, minute, second };
}

export function encodeTimeZoneBlob(info: TimeZoneInfo): string {
  const buf = Buffer.alloc(blobBytes);
  buf.writeInt32LE(info.bias, 0);
  writeName(buf, 4, info.standardName);
  writeSystemTime(buf, 68, hasDst(info) ? info.standardDate : null);
  buf.writeInt32LE(hasDst(info) ? info.standardBias : 0, 84);
  writeName(buf, 88, info.daylightName);
  writeSystemTime(buf, 152, hasDst(info) ? info.daylightDate : null);
  buf.writeInt32LE(hasDst(info) ? info.daylightBias : 0, 168);
  return buf.toString('base64');
}

/** Decodes a client's blob; throws an Error saying what is wrong with a malformed one. */
export function decodeTimeZoneBlob(base64: string): TimeZoneInfo {
  const known = decodedBlobs.get(base64);
  if (known) return known;
  const info = Object.freeze(decodeBlob(base64));
  if (base64.length > blobKeyLengthMax) return info;
  if (decodedBlobs.size >= decodedBlobsMax) decodedBlobs.clear();
  decodedBlobs.set(base64, info);
  return info;
}

/**
 * Blobs decoded lately: a phone sends its zone with every event. A few are in use at a time, so a small
 * bound that starts over; only blobs of their usual length (172 bytes in base64, 232 characters, and a
 * little room for line breaks) are kept, so padding cannot make the memory large.
 */
const blobKeyLengthMax = 256;
const decodedBlobs = new Map<string, TimeZoneInfo>();
const decodedBlobsMax = 256;

function decodeBlob(base64: string): TimeZoneInfo {
  const compact = base64.replace(/\s+/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/.test(compact)) {
    throw new Error('Timezone is not valid base64');
  }
  const buf = Buffer.from(compact, 'base64');
  if (buf.length !== blobBytes) throw new Error(`Timezone blob is ${buf.length} bytes; expected ${blobBytes}`);
  const bias = buf.readInt32LE(0);
  const standardBias = buf.readInt32LE(84);
  const daylightBias = buf.readInt32LE(168);
  for (const [what, v] of [['Bias', bias], ['StandardBias', standardBias], ['DaylightBias', daylightBias]] as const) {
    if (Math.abs(v) > 24 * 60) throw new Error(`Timezone blob: ${what} ${v} is out of range`);
  }
  let standardDate = readSystemTime(buf, 68, 'StandardDate');
  let daylightDate = readSystemTime(buf, 152, 'DaylightDate');
  // One transition without the other describes no usable rule: read it as a zone without DST.
  if (!standardDate || !daylightDate) standardDate = daylightDate = null;
  const info: TimeZoneInfo = {
    bias, standardName: readName(buf, 4), standardDate, standardBias: standardDate ? standardBias : 0,
    daylightName: readName(buf, 88), daylightDate, daylightBias: daylightDate ? daylightBias : 0,
  };
  const { standard, daylight } = offsetsOf(info);
  if (Math.abs(standard) > 18 * 60 || Math.abs(daylight) > 18 * 60) throw new Error('Timezone blob: UTC offset out of range');
  return info;
}

// ---------------------------------------------------------------------------------------------------
// Comparing

function sameDate(a: TransitionDate | null, b: TransitionDate | null): boolean {
  if (!a || !b) return a === b;
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute &&
    a.second === b.second && (a.year !== 0 || a.dayOfWeek === b.dayOfWeek);
}

/** Whether two blobs describe the same rules (names are ignored). */
export function sameRules(a: TimeZoneInfo, b: TimeZoneInfo): boolean {
  const oa = offsetsOf(a);
  const ob = offsetsOf(b);
  if (oa.standard !== ob.standard || hasDst(a) !== hasDst(b)) return false;
  if (!hasDst(a)) return true;
  return oa.daylight === ob.daylight && sameDate(a.standardDate, b.standardDate) && sameDate(a.daylightDate, b.daylightDate);
}

// ---------------------------------------------------------------------------------------------------
// VTIMEZONE → blob

const icalDays = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'] as const;

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** The day of the month of the `week`th (5: last) `dayOfWeek` of a month. */
export function nthWeekdayOfMonth(year: number, month: number, dayOfWeek: number, week: number): number {
  const first = 1 + ((dayOfWeek - weekdayOf(year, month, 1) + 7) % 7);
  const last = ICAL.Time.daysInMonth(month, year);
  let day = first + (Math.min(week, 5) - 1) * 7;
  while (day > last) day -= 7;
  return day;
}

interface Observance {
  kind: 'standard' | 'daylight';
  component: ICAL.Component;
  offsetFrom: number;
  offsetTo: number;
  name: string;
}

function offsetMinutes(component: ICAL.Component, name: string): number | null {
  const value = component.getFirstPropertyValue(name);
  return value instanceof ICAL.UtcOffset ? Math.round(value.toSeconds() / 60) : null;
}

function observancesOf(vtimezone: ICAL.Component): Observance[] {
  const out: Observance[] = [];
  for (const component of vtimezone.getAllSubcomponents()) {
    if (component.name !== 'standard' && component.name !== 'daylight') continue;
    const offsetTo = offsetMinutes(component, 'tzoffsetto');
    if (offsetTo === null || !(component.getFirstPropertyValue('dtstart') instanceof ICAL.Time)) continue;
    const offsetFrom = offsetMinutes(component, 'tzoffsetfrom') ?? offsetTo;
    const tzname = component.getFirstPropertyValue('tzname');
    out.push({ kind: component.name, component, offsetFrom, offsetTo, name: typeof tzname === 'string' ? tzname : '' });
  }
  return out;
}

/**
 * The onset of a plain yearly rule (FREQ=YEARLY, one BYMONTH, and one ordinal BYDAY, or one BYMONTHDAY,
 * or a weekday within a BYMONTHDAY range) in `year`, computed directly: expanding such a rule from a
 * DTSTART in 1970 takes ical.js a test per day. Undefined for any other rule, null when it has no onset
 * that year.
 */
function yearlyOnset(rule: ICAL.Recur, dtstart: ICAL.Time, year: number): ICAL.Time | null | undefined {
  const parts = rule.parts;
  const keys = Object.keys(parts).filter((k) => (parts[k as keyof typeof parts]?.length ?? 0) > 0);
  if (rule.freq !== 'YEARLY' || (rule.interval || 1) !== 1 || rule.count) return undefined;
  if (keys.some((k) => k !== 'BYMONTH' && k !== 'BYDAY' && k !== 'BYMONTHDAY')) return undefined;
  const months = parts.BYMONTH ?? [dtstart.month];
  if (months.length !== 1) return undefined;
  const month = months[0] as number;
  const byday = parts.BYDAY ?? [];
  const bymonthday = parts.BYMONTHDAY ?? [];
  const last = ICAL.Time.daysInMonth(month, year);
  let day: number;
  if (byday.length === 0) {
    if (bymonthday.length > 1) return undefined;
    day = bymonthday[0] ?? dtstart.day;
    if (day < 0) day = last + 1 + day;
    if (day < 1 || day > last) return null;
  } else {
    const match = byday.length === 1 ? /^([+-]?\d)?(SU|MO|TU|WE|TH|FR|SA)$/.exec(byday[0] as string) : null;
    if (!match) return undefined;
    const weekday = icalDays.indexOf(match[2] as (typeof icalDays)[number]);
    const ordinal = match[1] ? Number(match[1]) : 0;
    if (ordinal !== 0 && bymonthday.length === 0) {
      if (ordinal < -1 || ordinal > 5 || ordinal === 0) return undefined;
      day = ordinal === -1 ? nthWeekdayOfMonth(year, month, weekday, 5) : nthWeekdayOfMonth(year, month, weekday, 1) + (ordinal - 1) * 7;
      if (day > last) return null;
    } else if (ordinal === 0 && bymonthday.length > 0) {
      const days = bymonthday.map((d) => (d < 0 ? last + 1 + d : d)).filter((d) => d >= 1 && d <= last).sort((a, b) => a - b);
      const found = days.find((d) => weekdayOf(year, month, d) === weekday);
      if (found === undefined) return null;
      day = found;
    } else {
      return undefined;
    }
  }
  const onset = ICAL.Time.fromData({ year, month, day, hour: dtstart.hour, minute: dtstart.minute, second: dtstart.second });
  if (onset.compare(dtstart) < 0) return null;
  if (rule.until && onset.compare(rule.until) > 0) return null;
  return onset;
}

/** The local onset times of an observance up to and including `lastYear`: DTSTART, RDATEs and the first RRULE's. */
function onsets(obs: Observance, lastYear: number): ICAL.Time[] {
  const dtstart = obs.component.getFirstPropertyValue('dtstart') as ICAL.Time;
  const out: ICAL.Time[] = [];
  if (dtstart.year <= lastYear) out.push(dtstart);
  for (const prop of obs.component.getAllProperties('rdate')) {
    for (const v of prop.getValues()) {
      const t = v instanceof ICAL.Period ? v.start : v;
      if (t instanceof ICAL.Time && t.year <= lastYear) out.push(t);
    }
  }
  const rrule = obs.component.getFirstPropertyValue('rrule');
  if (!(rrule instanceof ICAL.Recur) || dtstart.year > lastYear) return out;
  // The latest onset before mid-year lies in lastYear or the year before.
  const direct = [lastYear - 1, lastYear].map((y) => yearlyOnset(rrule, dtstart, y));
  if (direct.every((t) => t !== undefined)) {
    for (const t of direct) if (t && t.compare(dtstart) > 0) out.push(t);
    return out;
  }
  try {
    withinRuleBudget(() => {
      const it = rrule.iterator(dtstart);
      for (let n = 0; n < 3000; n++) {
        const next = it.next();
        if (!next || next.year > lastYear) break;
        out.push(next);
      }
    }, new RuleBudget(limits.ruleStepsBase));
  } catch {
    // A rule that cannot be expanded contributes only its DTSTART.
  }
  return out;
}

function weekOfMonth(t: ICAL.Time, rule: ICAL.Recur | null): number {
  const last = ICAL.Time.daysInMonth(t.month, t.year);
  if (rule) {
    const byday = rule.parts.BYDAY ?? [];
    const bymonthday = rule.parts.BYMONTHDAY ?? [];
    const bysetpos = rule.parts.BYSETPOS ?? [];
    if (byday.some((d) => d.startsWith('-1')) || bysetpos.includes(-1)) return 5;
    if (bymonthday.length > 0 && (bymonthday.every((d) => d < 0) || Math.max(...bymonthday) >= last)) return 5;
  }
  return Math.min(5, Math.ceil(t.day / 7));
}

function transitionOf(t: ICAL.Time, rule: ICAL.Recur | null): TransitionDate {
  const fields = { month: t.month, hour: t.hour, minute: t.minute, second: t.second };
  if (!rule) return { year: t.year, day: t.day, dayOfWeek: weekdayOf(t.year, t.month, t.day), ...fields };
  return { year: 0, day: weekOfMonth(t, rule), dayOfWeek: weekdayOf(t.year, t.month, t.day), ...fields };
}

/**
 * The blob for a VTIMEZONE as its rules stand in `year`: the standard and daylight onsets of that year give
 * the two transition dates; a year with no change gives a fixed offset (the one in effect at mid-year).
 * `name` (the TZID, usually) fills StandardName and DaylightName when given.
 */
export function timeZoneInfoFromVtimezone(vtimezone: ICAL.Component, year: number, name?: string): TimeZoneInfo {
  const observances = observancesOf(vtimezone);
  if (observances.length === 0) return fixedOffsetInfo(0, name ?? '');
  const inYear = observances.map((obs) => ({ obs, times: onsets(obs, year).filter((t) => t.year === year) }));
  const std = inYear.find((o) => o.obs.kind === 'standard' && o.times.length > 0);
  const dst = inYear.find((o) => o.obs.kind === 'daylight' && o.times.length > 0);
  if (std && dst && dst.obs.offsetTo !== std.obs.offsetTo) {
    const ruleOf = (obs: Observance) => {
      const rule = obs.component.getFirstPropertyValue('rrule');
      return rule instanceof ICAL.Recur ? rule : null;
    };
    const stdTime = std.times[0] as ICAL.Time;
    const dstTime = dst.times[0] as ICAL.Time;
    return {
      bias: negate(std.obs.offsetTo),
      standardName: name ?? std.obs.name,
      standardDate: transitionOf(stdTime, ruleOf(std.obs)),
      standardBias: 0,
      daylightName: name ?? dst.obs.name,
      daylightDate: transitionOf(dstTime, ruleOf(dst.obs)),
      daylightBias: negate(dst.obs.offsetTo - std.obs.offsetTo),
    };
  }
  // No change in that year: the observance whose latest onset is the last one before mid-year.
  const midYear = ICAL.Time.fromData({ year, month: 7, day: 1, hour: 0, minute: 0, second: 0, isDate: false });
  let current: { obs: Observance; at: ICAL.Time } | null = null;
  for (const obs of observances) {
    for (const t of onsets(obs, year)) {
      if (t.compare(midYear) <= 0 && (!current || t.compare(current.at) > 0)) current = { obs, at: t };
    }
  }
  if (!current) {
    // Every observance starts later: the offset before the first of them.
    const first = observances.reduce((a, b) =>
      (b.component.getFirstPropertyValue('dtstart') as ICAL.Time).compare(a.component.getFirstPropertyValue('dtstart') as ICAL.Time) < 0 ? b : a);
    return fixedOffsetInfo(first.offsetFrom, name ?? first.name);
  }
  return fixedOffsetInfo(current.obs.offsetTo, name ?? current.obs.name);
}

/**
 * The wall time of an instant in a zone. ical.js's convertToZone looks the offset up with the UTC clock
 * reading taken as local time, which is wrong for up to the zone's offset after each transition; this
 * takes the offset that maps the wall time back to the instant.
 */
export function wallTimeIn(ms: number, tz: ICAL.Timezone): ICAL.Time {
  const fieldsAt = (t: number) => {
    const d = new Date(t);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
  };
  const offsetOf = (fields: ReturnType<typeof fieldsAt>) => tz.utcOffset(ICAL.Time.fromData(fields));
  const day = 86_400_000;
  const candidates = [...new Set([ms, ms - day, ms + day].map((t) => offsetOf(fieldsAt(t))))];
  for (const o of [...candidates]) candidates.push(offsetOf(fieldsAt(ms + o * 1000)));
  // The offset whose wall time maps back to the instant. Before a spring-forward gap ical.js also maps a
  // wall time inside the gap back, under the later (larger) offset: the smaller one is right. In the hour
  // a fall-back repeats none maps back; the instant lies in the first pass, under the larger offset.
  const consistent = candidates.filter((o) => offsetOf(fieldsAt(ms + o * 1000)) === o);
  const offset = consistent.length > 0 ? Math.min(...consistent) : Math.max(...candidates);
  return ICAL.Time.fromData(fieldsAt(ms + offset * 1000), tz);
}

// ---------------------------------------------------------------------------------------------------
// blob → VTIMEZONE

function utcOffset(minutes: number): ICAL.UtcOffset {
  return ICAL.UtcOffset.fromSeconds(minutes * 60);
}

function observance(kind: 'standard' | 'daylight', from: number, to: number, date: TransitionDate | null, tzname: string): ICAL.Component {
  const component = new ICAL.Component(kind);
  if (tzname) component.addPropertyWithValue('tzname', tzname);
  component.addPropertyWithValue('tzoffsetfrom', utcOffset(from));
  component.addPropertyWithValue('tzoffsetto', utcOffset(to));
  if (!date) {
    component.addPropertyWithValue('dtstart', ICAL.Time.fromData({ year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0 }));
    return component;
  }
  const time = { hour: date.hour, minute: date.minute, second: date.second };
  if (date.year !== 0) {
    component.addPropertyWithValue('dtstart', ICAL.Time.fromData({ year: date.year, month: date.month, day: date.day, ...time }));
    return component;
  }
  const day = nthWeekdayOfMonth(1970, date.month, date.dayOfWeek, date.day);
  component.addPropertyWithValue('dtstart', ICAL.Time.fromData({ year: 1970, month: date.month, day, ...time }));
  const ordinal = date.day >= 5 ? -1 : date.day;
  component.addPropertyWithValue('rrule', ICAL.Recur.fromData({
    freq: 'YEARLY', bymonth: [date.month], byday: [`${ordinal}${icalDays[date.dayOfWeek]}`],
  }));
  return component;
}

/** A VTIMEZONE with one STANDARD (and one DAYLIGHT, for a zone with DST) observance holding the blob's rules. */
export function vtimezoneFromInfo(info: TimeZoneInfo, tzid: string): ICAL.Component {
  const vtimezone = new ICAL.Component('vtimezone');
  vtimezone.addPropertyWithValue('tzid', tzid);
  const { standard, daylight } = offsetsOf(info);
  const name = (n: string) => (n && n !== tzid ? n : '');
  if (!hasDst(info)) {
    vtimezone.addSubcomponent(observance('standard', standard, standard, null, name(info.standardName)));
    return vtimezone;
  }
  vtimezone.addSubcomponent(observance('standard', daylight, standard, info.standardDate, name(info.standardName)));
  vtimezone.addSubcomponent(observance('daylight', standard, daylight, info.daylightDate, name(info.daylightName)));
  return vtimezone;
}

/** A TZID for a blob that names no known zone: its StandardName, or its offset. */
export function syntheticTzid(info: TimeZoneInfo): string {
  if (info.standardName) return info.standardName;
  const { standard } = offsetsOf(info);
  const abs = Math.abs(standard);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `UTC${standard < 0 ? '-' : '+'}${hhmm}${hasDst(info) ? ' with DST' : ''}`;
}

// ---------------------------------------------------------------------------------------------------
// IANA zones

let zoneNames: Set<string> | null = null;

function ianaNames(): Set<string> {
  zoneNames ??= new Set(tzlib_get_timezones() as string[]);
  return zoneNames;
}

const blockCache = new Map<string, string | null>();

/**
 * The VTIMEZONE of an IANA zone from timezones-ical-library (its current rules), or null for an unknown name.
 * The component's TZID may be the zone's canonical name (UTC gives Etc/UTC). Callers get a fresh copy.
 */
export function ianaVtimezone(tzid: string): ICAL.Component | null {
  // Checked first: the library logs to the console when asked for a zone it lacks, and only the
  // library's own names are cached, so clients' made-up TZIDs cannot grow the cache.
  if (!ianaNames().has(tzid)) return null;
  if (!blockCache.has(tzid)) {
    const block = tzlib_get_ical_block(tzid);
    blockCache.set(tzid, Array.isArray(block) && block[0] ? block[0] : null);
  }
  const text = blockCache.get(tzid);
  return text ? new ICAL.Component(ICAL.parse(text) as unknown as unknown[]) : null;
}

/**
 * Zones to try first when a blob's rules fit several zones and its names identify none of them: the
 * zones most calendars use, each standing for the others with the same rules.
 */
const commonZones = [
  'Etc/UTC', 'Europe/London', 'Atlantic/Reykjavik', 'Europe/Berlin', 'Europe/Paris', 'Europe/Budapest', 'Europe/Warsaw',
  'Europe/Chisinau', 'Europe/Kiev', 'Europe/Bucharest', 'Europe/Moscow', 'Europe/Istanbul', 'Asia/Jerusalem',
  'Africa/Johannesburg', 'Africa/Cairo', 'Asia/Dubai', 'Asia/Riyadh', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Bangkok',
  'Asia/Shanghai', 'Asia/Singapore', 'Asia/Tokyo', 'Asia/Seoul', 'Australia/Sydney', 'Australia/Brisbane',
  'Australia/Adelaide', 'Australia/Perth', 'Pacific/Auckland', 'America/New_York', 'America/Chicago', 'America/Denver',
  'America/Phoenix', 'America/Los_Angeles', 'America/Anchorage', 'Pacific/Honolulu', 'America/Halifax',
  'America/St_Johns', 'America/Sao_Paulo', 'America/Buenos_Aires', 'America/Mexico_City',
];

/** Windows names by lower case, with the one StandardName Windows spells apart from its zone's key name. */
let windowsByName: Map<string, string> | null = null;

function windowsZoneNamed(name: string): string | undefined {
  windowsByName ??= new Map([
    ...Object.entries(windowsZones).map(([windows, iana]) => [windows.toLowerCase(), iana] as const),
    ['coordinated universal time', 'Etc/UTC'],
  ]);
  return windowsByName.get(name.toLowerCase());
}

/** The IANA zones a blob's names identify: a name that is an IANA zone, or a Windows name (through CLDR). */
function zonesNamedBy(info: TimeZoneInfo): string[] {
  const out = new Set<string>();
  for (const name of [info.standardName, info.daylightName]) {
    if (!name) continue;
    if (ianaNames().has(name)) out.add(name);
    const windows = windowsZoneNamed(name);
    if (windows && ianaNames().has(windows)) out.add(windows);
  }
  return [...out];
}

/** Each zone of the table of zone groups → its group. */
let groupByZone: Map<string, number> | null = null;

function groupOf(tzid: string): number | undefined {
  groupByZone ??= new Map(ianaZoneGroups.flatMap((group, i) => group.zones.map((zone) => [zone, i] as const)));
  return groupByZone.get(tzid);
}

/**
 * Whether a zone's rules can have these standard and daylight offsets (equal for a zone without DST): every
 * offset timeZoneInfoFromVtimezone gives is one its observances go from or to, which the table lists. A zone
 * the table lacks may have any.
 */
function mayHaveOffsets(tzid: string, offsets: { standard: number; daylight: number }): boolean {
  const group = groupOf(tzid);
  if (group === undefined) return true;
  const listed = (ianaZoneGroups[group] as IanaZoneGroup).offsets;
  return listed.includes(offsets.standard) && listed.includes(offsets.daylight);
}

/** A group's rules (named after its first zone) by group and year: zones with the same observances share them. */
const groupRulesCache = new Map<string, TimeZoneInfo | null>();

/** How many times a library zone's rules were computed (each a parse and an expansion): the measure of a lookup's cost. */
let ruleComputations = 0;

export function ianaRuleComputations(): number {
  return ruleComputations;
}

/** A library zone's rules in `year`, named after it. */
function ianaInfo(tzid: string, year: number): TimeZoneInfo | null {
  const group = groupOf(tzid);
  const source = group === undefined ? tzid : (ianaZoneGroups[group] as IanaZoneGroup).zones[0] as string;
  const key = `${source} ${year}`;
  if (!groupRulesCache.has(key)) {
    ruleComputations++;
    const vtimezone = ianaVtimezone(source);
    groupRulesCache.set(key, vtimezone ? timeZoneInfoFromVtimezone(vtimezone, year, source) : null);
  }
  const rules = groupRulesCache.get(key);
  return rules ? { ...rules, standardName: tzid, daylightName: tzid } : null;
}

/** The zones named after a region (not Etc/… or a bare abbreviation), alphabetically: the last resort. */
let sortedRegionZones: string[] | null = null;

/**
 * The IANA zone a blob stands for, or undefined (docs/eas.md, "Time zones"):
 *
 * 1. a zone the blob's names identify (an IANA name, as this server writes them, or a Windows name, as
 *    Outlook and TbSync write them) whose rules are the blob's;
 * 2. when the blob carries no daylight saving rules (TbSync 4.17 on Thunderbird 140 sends Europe/Berlin
 *    that way), a zone its names identify whose standard offset is the blob's: the client left the rules
 *    out, and reading the blob as a fixed offset would move every summer occurrence by an hour;
 * 3. a zone whose rules are the blob's: the common zones first, then the zones CLDR names for Windows
 *    zones, then any zone, alphabetically. Only the zones whose observances have the blob's offsets are
 *    computed (iana-zone-groups.ts), once per group of zones with the same observances: a few, not 600.
 */
export function ianaZoneForInfo(info: TimeZoneInfo, year = new Date().getUTCFullYear()): string | undefined {
  const offsets = offsetsOf(info);
  const matches = (tzid: string) => {
    if (!mayHaveOffsets(tzid, offsets)) return false;
    const candidate = ianaInfo(tzid, year);
    return candidate !== null && sameRules(candidate, info);
  };
  const named = zonesNamedBy(info);
  for (const tzid of named) if (matches(tzid)) return tzid;
  if (!hasDst(info)) {
    for (const tzid of named) {
      const candidate = ianaInfo(tzid, year);
      if (candidate && offsetsOf(candidate).standard === offsets.standard) return tzid;
    }
  }
  for (const tzid of [...commonZones, ...Object.values(windowsZones)]) if (ianaNames().has(tzid) && matches(tzid)) return tzid;
  sortedRegionZones ??= [...ianaNames()].filter((tzid) => tzid.includes('/') && !tzid.startsWith('Etc/')).sort();
  for (const tzid of sortedRegionZones) if (matches(tzid)) return tzid;
  return undefined;
}

/**
 * The rules a client's blob stands for: those of the IANA zone it identifies (ianaZoneForInfo: a blob
 * without daylight saving rules may name a zone that has them), else its own.
 */
export function rulesMeant(info: TimeZoneInfo, year = new Date().getUTCFullYear()): TimeZoneInfo {
  // A phone sends the same blob with every event (decodeTimeZoneBlob gives the same object for it), and
  // finding its zone tries up to every IANA zone.
  const known = meantByInfo.get(info);
  if (known?.year === year) return known.meant;
  const tzid = ianaZoneForInfo(info, year);
  const meant = (tzid && ianaInfo(tzid, year)) || info;
  meantByInfo.set(info, { year, meant });
  return meant;
}

const meantByInfo = new WeakMap<TimeZoneInfo, { year: number; meant: TimeZoneInfo }>();
