import ICAL from 'ical.js';
import { child, el, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * The ActiveSync recurrence pattern (MS-ASCAL and MS-ASTASK Recurrence) and its RRULE equivalent, shared by
 * events and tasks. Only the pattern lives here; dates (Until, the task's Start) are instants whose text form
 * and zone handling belong to the caller, which passes converters.
 *
 * Type: 0 daily, 1 weekly, 2 monthly on a day, 3 monthly on the nth weekday, 5 yearly on a day, 6 yearly on
 * the nth weekday. DayOfWeek is a bitmask (1 Sunday, 2 Monday … 64 Saturday; 127 "day"), WeekOfMonth 1-4 or
 * 5 for the last. FirstDayOfWeek is 0 (Sunday) … 6.
 *
 * Rules ActiveSync cannot express (BYSETPOS lists, BYHOUR, BYWEEKNO, BYYEARDAY, several BYMONTH or BYMONTHDAY
 * values, HOURLY and finer) give no pattern at all: a device showing the first occurrence alone is better than
 * one showing wrong dates. A "fifth weekday" rule is sent as "last weekday", the closest form, marked inexact.
 */

export interface EasRecurrence {
  type: number;
  interval: number;
  occurrences?: number;
  /** Epoch ms, as the caller's date converter reads and writes it. */
  until?: number;
  dayOfWeek?: number;
  dayOfMonth?: number;
  weekOfMonth?: number;
  monthOfYear?: number;
  firstDayOfWeek?: number;
  calendarType?: number;
  isLeapMonth?: boolean;
  /** Tasks: when the series starts (epoch ms, caller's convention). */
  start?: number;
  /** Tasks: the next occurrence is made when one is completed. */
  regenerate?: boolean;
  /** Tasks: the last occurrence has been made. */
  deadOccur?: boolean;
}

export const easTypes = [0, 1, 2, 3, 5, 6] as const;
const icalDays = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'] as const;
const everyDay = 127;

function maskOf(days: number[]): number {
  return days.reduce((mask, d) => mask | (1 << d), 0);
}

function daysOf(mask: number): number[] {
  return [0, 1, 2, 3, 4, 5, 6].filter((d) => mask & (1 << d));
}

/** 0 Sunday … 6 Saturday of an ICAL.Time's own date. */
function weekdayOf(t: ICAL.Time): number {
  return t.dayOfWeek() - 1;
}

interface ByDay {
  ordinal: number;
  day: number;
}

function parseByDay(value: string): ByDay | undefined {
  const match = /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/.exec(value.toUpperCase());
  if (!match) return undefined;
  return { ordinal: match[1] ? Number(match[1]) : 0, day: icalDays.indexOf(match[2] as (typeof icalDays)[number]) };
}

type InMonth = { kind: 'day'; day: number } | { kind: 'nth'; dayOfWeek: number; weekOfMonth: number; exact: boolean };

/** The day-in-month part of a MONTHLY or YEARLY rule. */
function inMonth(days: ByDay[], bysetpos: number[], bymonthday: number[], dtstart: ICAL.Time): InMonth | undefined {
  if (days.length === 0) {
    if (bysetpos.length > 0) return undefined;
    const d = bymonthday[0] ?? dtstart.day;
    if (d >= 1 && d <= 31) return { kind: 'day', day: d };
    if (d === -1) return { kind: 'nth', dayOfWeek: everyDay, weekOfMonth: 5, exact: true };
    return undefined;
  }
  if (bymonthday.length > 0) return undefined;
  const week = (ordinal: number): { weekOfMonth: number; exact: boolean } | undefined => {
    if (ordinal >= 1 && ordinal <= 4) return { weekOfMonth: ordinal, exact: true };
    if (ordinal === -1) return { weekOfMonth: 5, exact: true };
    if (ordinal === 5) return { weekOfMonth: 5, exact: false };
    return undefined;
  };
  if (days.length === 1 && bysetpos.length === 0) {
    const [only] = days as [ByDay];
    const w = week(only.ordinal);
    return w && { kind: 'nth', dayOfWeek: maskOf([only.day]), ...w };
  }
  if (bysetpos.length === 1 && days.every((d) => d.ordinal === 0)) {
    const w = week(bysetpos[0] as number);
    return w && { kind: 'nth', dayOfWeek: maskOf(days.map((d) => d.day)), ...w };
  }
  return undefined;
}

/**
 * The ActiveSync pattern for an RRULE whose series starts at `dtstart` (its wall time), or undefined when
 * the rule has no ActiveSync form. `exact` is false when the pattern only approximates the rule.
 */
export function rruleToEas(
  rule: ICAL.Recur, dtstart: ICAL.Time, untilToEas: (until: ICAL.Time) => number,
): { recurrence: EasRecurrence; exact: boolean } | undefined {
  const parts = rule.parts;
  const list = <T>(v: T[] | undefined): T[] => v ?? [];
  for (const unsupported of ['BYSECOND', 'BYMINUTE', 'BYHOUR', 'BYWEEKNO', 'BYYEARDAY'] as const) {
    if (list(parts[unsupported]).length > 0) return undefined;
  }
  const bymonth = list(parts.BYMONTH);
  const bymonthday = list(parts.BYMONTHDAY);
  const bysetpos = list(parts.BYSETPOS);
  const days = list(parts.BYDAY).map(parseByDay);
  if (days.some((d) => d === undefined) || bymonth.length > 1 || bymonthday.length > 1 || bysetpos.length > 1) return undefined;
  const byday = days as ByDay[];
  const base: EasRecurrence = { type: 0, interval: Math.max(1, rule.interval || 1) };
  if (rule.count) base.occurrences = rule.count;
  else if (rule.until) base.until = untilToEas(rule.until);
  let exact = true;
  let out: EasRecurrence;
  switch (rule.freq) {
    case 'DAILY':
      if (bymonth.length || bymonthday.length || bysetpos.length) return undefined;
      if (byday.length === 0) {
        out = { ...base, type: 0 };
      } else if (base.interval === 1 && byday.every((d) => d.ordinal === 0)) {
        // Every listed weekday: the weekly pattern says the same.
        out = { ...base, type: 1, dayOfWeek: maskOf(byday.map((d) => d.day)), firstDayOfWeek: rule.wkst - 1 };
      } else {
        return undefined;
      }
      break;
    case 'WEEKLY':
      if (bymonth.length || bymonthday.length || bysetpos.length || byday.some((d) => d.ordinal !== 0)) return undefined;
      out = {
        ...base, type: 1,
        dayOfWeek: byday.length ? maskOf(byday.map((d) => d.day)) : maskOf([weekdayOf(dtstart)]),
        firstDayOfWeek: rule.wkst - 1,
      };
      break;
    case 'MONTHLY': {
      if (bymonth.length) return undefined;
      const m = inMonth(byday, bysetpos, bymonthday, dtstart);
      if (!m) return undefined;
      if (m.kind === 'day') {
        out = { ...base, type: 2, dayOfMonth: m.day };
      } else {
        out = { ...base, type: 3, dayOfWeek: m.dayOfWeek, weekOfMonth: m.weekOfMonth };
        exact = m.exact;
      }
      break;
    }
    case 'YEARLY': {
      // Without BYMONTH an ordinal BYDAY counts weeks of the year, which ActiveSync cannot say.
      if (bymonth.length === 0 && (byday.length > 0 || bysetpos.length > 0)) return undefined;
      const month = bymonth[0] ?? dtstart.month;
      const m = inMonth(byday, bysetpos, bymonthday, dtstart);
      if (!m) return undefined;
      if (m.kind === 'day') {
        out = { ...base, type: 5, monthOfYear: month, dayOfMonth: m.day };
      } else {
        out = { ...base, type: 6, monthOfYear: month, dayOfWeek: m.dayOfWeek, weekOfMonth: m.weekOfMonth };
        exact = m.exact;
      }
      break;
    }
    default:
      return undefined;
  }
  return { recurrence: out, exact };
}

/** The nth-weekday parts of an RRULE (types 3 and 6). */
function nthParts(mask: number, week: number): { byday?: string[]; bysetpos?: number[]; bymonthday?: number[] } {
  const ordinal = week >= 5 ? -1 : week;
  if (mask === everyDay) return { bymonthday: [ordinal] };
  const days = daysOf(mask);
  if (days.length === 1) return { byday: [`${ordinal}${icalDays[days[0] as number]}`] };
  return { byday: days.map((d) => icalDays[d] as string), bysetpos: [ordinal] };
}

/**
 * The RRULE for an ActiveSync pattern of a series starting at `dtstart` (its wall time). Missing parts come
 * from `dtstart` (the weekday for a weekly pattern, the day for a monthly one …). Throws an Error for a
 * pattern that is not valid; an Interval of 0 reads as 1.
 */
export function easToRrule(r: EasRecurrence, dtstart: ICAL.Time, untilToIcal: (ms: number) => ICAL.Time): ICAL.Recur {
  validate(r);
  const weekday = weekdayOf(dtstart);
  const mask = r.dayOfWeek && r.dayOfWeek > 0 ? r.dayOfWeek : maskOf([weekday]);
  const week = r.weekOfMonth ?? Math.min(5, Math.ceil(dtstart.day / 7));
  const data: Parameters<typeof ICAL.Recur.fromData>[0] = {};
  switch (r.type) {
    case 0:
      data.freq = 'DAILY';
      if (r.dayOfWeek && r.dayOfWeek !== everyDay) data.byday = daysOf(r.dayOfWeek).map((d) => icalDays[d] as string);
      break;
    case 1:
      data.freq = 'WEEKLY';
      data.byday = daysOf(mask).map((d) => icalDays[d] as string);
      break;
    case 2:
      data.freq = 'MONTHLY';
      data.bymonthday = [r.dayOfMonth ?? dtstart.day];
      break;
    case 3:
      data.freq = 'MONTHLY';
      Object.assign(data, nthParts(mask, week));
      break;
    case 5:
      data.freq = 'YEARLY';
      data.bymonth = [r.monthOfYear ?? dtstart.month];
      data.bymonthday = [r.dayOfMonth ?? dtstart.day];
      break;
    case 6:
      data.freq = 'YEARLY';
      data.bymonth = [r.monthOfYear ?? dtstart.month];
      Object.assign(data, nthParts(mask, week));
      break;
  }
  if (r.interval > 1) data.interval = r.interval;
  if (r.occurrences !== undefined && r.occurrences > 0) data.count = r.occurrences;
  else if (r.until !== undefined) data.until = untilToIcal(r.until);
  if (r.firstDayOfWeek !== undefined && r.type === 1) data.wkst = (r.firstDayOfWeek + 1) as ICAL.Recur['wkst'];
  return ICAL.Recur.fromData(data);
}

function validate(r: EasRecurrence): void {
  const bad = (what: string) => new Error(`Recurrence ${what}`);
  if (!(easTypes as readonly number[]).includes(r.type)) throw bad(`Type ${r.type} is not supported`);
  if (!Number.isInteger(r.interval) || r.interval < 0 || r.interval > 999) throw bad(`Interval ${r.interval} is out of range`);
  if (r.occurrences !== undefined && (r.occurrences < 0 || r.occurrences > 999)) throw bad(`Occurrences ${r.occurrences} is out of range`);
  if (r.dayOfWeek !== undefined && (r.dayOfWeek < 0 || r.dayOfWeek > everyDay)) throw bad(`DayOfWeek ${r.dayOfWeek} is out of range`);
  if (r.dayOfMonth !== undefined && (r.dayOfMonth < 1 || r.dayOfMonth > 31)) throw bad(`DayOfMonth ${r.dayOfMonth} is out of range`);
  if (r.weekOfMonth !== undefined && (r.weekOfMonth < 1 || r.weekOfMonth > 5)) throw bad(`WeekOfMonth ${r.weekOfMonth} is out of range`);
  if (r.monthOfYear !== undefined && (r.monthOfYear < 1 || r.monthOfYear > 12)) throw bad(`MonthOfYear ${r.monthOfYear} is out of range`);
  if (r.firstDayOfWeek !== undefined && (r.firstDayOfWeek < 0 || r.firstDayOfWeek > 6)) throw bad(`FirstDayOfWeek ${r.firstDayOfWeek} is out of range`);
  if (r.type === 1 && r.dayOfWeek === 0) throw bad('DayOfWeek 0 names no day');
}

// ---------------------------------------------------------------------------------------------------
// WBXML

export type RecurrenceNamespace = 'Calendar' | 'Tasks';

export interface RecurrenceCodec {
  /** The text form of Until (and a task's Start). */
  formatDate(ms: number): string;
  /** Reads that text form; throws an Error naming `field` for a bad value. */
  parseDate(value: string, field: string): number;
}

function integer(value: string, field: string): number {
  if (!/^\s*-?\d{1,9}\s*$/.test(value)) throw new Error(`Recurrence ${field}: "${value}" is not a number`);
  return Number(value);
}

/**
 * The Recurrence element: of a calendar item, a task, or a meeting request (the Email namespace, MS-ASEMAIL
 * 2.2.2.59, whose calendar type, leap month and first day of the week are Email2's). FirstDayOfWeek is
 * left out before protocol 14.1.
 */
export function recurrenceElement(
  r: EasRecurrence, ns: RecurrenceNamespace | 'Email', codec: RecurrenceCodec, options: { firstDayOfWeek: boolean },
): WbxmlElement {
  const e = (name: string, value: number | string | undefined) => (value === undefined ? undefined : el(ns, name, String(value)));
  const flag = (name: string, value: boolean | undefined) => (value === undefined ? undefined : el(ns, name, value ? '1' : '0'));
  const until = r.until === undefined ? undefined : codec.formatDate(r.until);
  const dow = r.dayOfWeek;
  const fdow = options.firstDayOfWeek ? r.firstDayOfWeek : undefined;
  if (ns === 'Email') {
    const e2 = (name: string, value: string | undefined) => (value === undefined ? undefined : el('Email2', name, value));
    return el(ns, 'Recurrence',
      e('Type', r.type), e('Until', until), e('Occurrences', r.occurrences), e('Interval', r.interval), e('DayOfWeek', dow),
      e('DayOfMonth', r.dayOfMonth), e('WeekOfMonth', r.weekOfMonth), e('MonthOfYear', r.monthOfYear),
      e2('CalendarType', r.calendarType?.toString()), e2('IsLeapMonth', r.isLeapMonth === undefined ? undefined : r.isLeapMonth ? '1' : '0'),
      e2('FirstDayOfWeek', fdow?.toString()));
  }
  if (ns === 'Calendar') {
    return el(ns, 'Recurrence',
      e('Type', r.type), e('Occurrences', r.occurrences), e('Interval', r.interval), e('WeekOfMonth', r.weekOfMonth),
      e('DayOfWeek', dow), e('MonthOfYear', r.monthOfYear), e('Until', until), e('DayOfMonth', r.dayOfMonth),
      e('CalendarType', r.calendarType), flag('IsLeapMonth', r.isLeapMonth), e('FirstDayOfWeek', fdow));
  }
  return el(ns, 'Recurrence',
    e('Type', r.type), e('Start', r.start === undefined ? undefined : codec.formatDate(r.start)), e('Until', until),
    e('Occurrences', r.occurrences), e('Interval', r.interval), e('DayOfWeek', dow), e('DayOfMonth', r.dayOfMonth),
    e('WeekOfMonth', r.weekOfMonth), e('MonthOfYear', r.monthOfYear), flag('Regenerate', r.regenerate),
    flag('DeadOccur', r.deadOccur), e('CalendarType', r.calendarType), flag('IsLeapMonth', r.isLeapMonth), e('FirstDayOfWeek', fdow));
}

/** Reads a Recurrence element; throws an Error for a missing Type or a value that is not a number or date. */
export function parseRecurrence(e: WbxmlElement, ns: RecurrenceNamespace, codec: RecurrenceCodec): EasRecurrence {
  const value = (name: string) => {
    const v = text(child(e, name, ns));
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const num = (name: string) => {
    const v = value(name);
    return v === undefined ? undefined : integer(v, name);
  };
  const flag = (name: string) => {
    const v = num(name);
    return v === undefined ? undefined : v !== 0;
  };
  const type = num('Type');
  if (type === undefined) throw new Error('Recurrence has no Type');
  const r: EasRecurrence = { type, interval: num('Interval') ?? 1 };
  if (r.interval === 0) r.interval = 1;
  const set = <K extends keyof EasRecurrence>(key: K, v: EasRecurrence[K] | undefined) => {
    if (v !== undefined) r[key] = v;
  };
  set('occurrences', num('Occurrences'));
  const until = value('Until');
  if (until !== undefined) r.until = codec.parseDate(until, 'Recurrence Until');
  set('dayOfWeek', num('DayOfWeek'));
  set('dayOfMonth', num('DayOfMonth'));
  set('weekOfMonth', num('WeekOfMonth'));
  set('monthOfYear', num('MonthOfYear'));
  set('firstDayOfWeek', num('FirstDayOfWeek'));
  set('calendarType', num('CalendarType'));
  set('isLeapMonth', flag('IsLeapMonth'));
  if (ns === 'Tasks') {
    const start = value('Start');
    if (start !== undefined) r.start = codec.parseDate(start, 'Recurrence Start');
    set('regenerate', flag('Regenerate'));
    set('deadOccur', flag('DeadOccur'));
  }
  validate(r);
  return r;
}

/**
 * Whether two patterns describe the same series. Until values compare through `untilKey` (a series has at
 * most one occurrence a day, so the caller passes the local date of the instant). FirstDayOfWeek only
 * matters for a weekly pattern repeating every few weeks; Start, Regenerate and DeadOccur are not compared.
 */
export function sameRecurrence(a: EasRecurrence, b: EasRecurrence, untilKey: (ms: number) => string): boolean {
  return JSON.stringify(canonical(a, untilKey)) === JSON.stringify(canonical(b, untilKey)) &&
    !(a.type === 1 && Math.max(1, a.interval) > 1 && a.firstDayOfWeek !== undefined && b.firstDayOfWeek !== undefined &&
      a.firstDayOfWeek !== b.firstDayOfWeek);
}

function canonical(r: EasRecurrence, untilKey: (ms: number) => string): unknown[] {
  const uses = (...types: number[]) => types.includes(r.type);
  const occurrences = r.occurrences && r.occurrences > 0 ? r.occurrences : null;
  return [
    r.type, Math.max(1, r.interval), occurrences,
    occurrences === null && r.until !== undefined ? untilKey(r.until) : null,
    uses(1, 3, 6) || (r.type === 0 && r.dayOfWeek !== everyDay) ? r.dayOfWeek ?? null : null,
    uses(2, 5) ? r.dayOfMonth ?? null : null,
    uses(3, 6) ? r.weekOfMonth ?? null : null,
    uses(5, 6) ? r.monthOfYear ?? null : null,
  ];
}
