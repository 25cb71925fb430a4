import ICAL from 'ical.js';
import { limits } from '../../core/limits.js';
import { RuleBudget, RuleBudgetExceeded } from '../../content/recurrence-budget.js';
import type { XmlElement } from '../../protocol/xml.js';
import { unfoldedLines } from './content-lines.js';
import { FilterError } from './text-match.js';

/**
 * CalDAV time ranges (RFC 4791 §9.9), applied to each instance of a recurring component: an event,
 * a task or a journal entry matches when one of its instances does, by the rules of §9.9 for its kind;
 * an alarm when one of its triggers, in any instance of the component it belongs to, falls in the range.
 * Instances come from ical.js, charged to the request's RuleBudget (src/content/recurrence-budget.ts).
 * When the budget or limits.recurrenceInstancesMax runs out before a series is decided, the series
 * counts as matching: a query may then list an item too many, never miss one (docs/dav.md § Queries).
 */

/**
 * A REPORT's recurrence budget: what RuleBudget.forRequest grants for the bytes of the items the request
 * reads (not of its small body), granted as they are read, up to limits.ruleStepsRequestMax in all.
 */
export class ReadBudget extends RuleBudget {
  private granted = limits.ruleStepsBase;

  constructor() {
    super(limits.ruleStepsBase);
  }

  read(bytes: number): void {
    const more = Math.min(limits.ruleStepsRequestMax - this.granted, Math.ceil(bytes / 1024) * limits.ruleStepsPerKiB);
    this.granted += more;
    this.stepsLeft += more;
  }
}

export interface Range {
  startMs: number;
  endMs: number;
}

/** The bounds of an open range: a Date holds ±8.64e15 ms. */
const openStartMs = -8.64e15;
const openEndMs = 8.64e15;
const dayMs = 86_400_000;

/** A `time-range` element: UTC start and end, either may be absent (open), start before end. */
export function readTimeRange(el: XmlElement, namespace: string): Range {
  const startMs = el.attrs.start !== undefined ? utcMs(el.attrs.start) : openStartMs;
  const endMs = el.attrs.end !== undefined ? utcMs(el.attrs.end) : openEndMs;
  if (Number.isNaN(startMs) || Number.isNaN(endMs) || endMs <= startMs) throw new FilterError('a time-range needs UTC date-times, start before end', namespace, 'valid-filter');
  return { startMs, endMs };
}

/** 20260110T100000Z -> epoch ms; NaN if it is not a UTC date-time. */
function utcMs(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : Number.NaN;
}

/** Epoch ms of a time; a floating time (no zone) is read as UTC, there being no calendar zone to read it in. */
export const msOf = (t: ICAL.Time) => t.toUnixTime() * 1000;

const timeOf = (c: ICAL.Component, name: string) => {
  const v = c.getFirstPropertyValue(name);
  return v instanceof ICAL.Time ? v : undefined;
};

/** The times §9.9 looks at, of one instance: that of `component` starting at `start` (its own DTSTART when undefined). */
export interface Timing {
  start?: number;
  isDate: boolean;
  end?: number;
  durationMs?: number;
  due?: number;
  completed?: number;
  created?: number;
}

export function timingOf(component: ICAL.Component, start?: ICAL.Time): Timing {
  const dtstart = timeOf(component, 'dtstart');
  const from = start ?? dtstart;
  // DTEND and DUE move with the instance; COMPLETED and CREATED are moments of the whole task.
  const shift = start && dtstart ? msOf(start) - msOf(dtstart) : 0;
  const shifted = (name: string) => {
    const t = timeOf(component, name);
    return t === undefined ? undefined : msOf(t) + shift;
  };
  const duration = component.getFirstPropertyValue('duration');
  const at = (name: string) => {
    const t = timeOf(component, name);
    return t === undefined ? undefined : msOf(t);
  };
  const timing: Timing = { isDate: from?.isDate ?? false };
  if (from) timing.start = msOf(from);
  const end = shifted('dtend');
  if (end !== undefined) timing.end = end;
  if (duration instanceof ICAL.Duration) timing.durationMs = duration.toSeconds() * 1000;
  const due = shifted('due');
  if (due !== undefined) timing.due = due;
  const completed = at('completed');
  if (completed !== undefined) timing.completed = completed;
  const created = at('created');
  if (created !== undefined) timing.created = created;
  return timing;
}

/** Where an event instance ends (§9.9: DTEND, or DTSTART+DURATION, or a day for a date, or its start). */
export function eventEnd(t: Timing & { start: number }): number {
  return t.end ?? (t.durationMs !== undefined ? t.start + t.durationMs : t.isDate ? t.start + dayMs : t.start);
}

/** Whether an instance of a VEVENT, VTODO or VJOURNAL with these times overlaps `r`, by the tables of RFC 4791 §9.9. */
export function instanceOverlaps(name: string, t: Timing, r: Range): boolean {
  const { startMs: rs, endMs: re } = r;
  if (name === 'vevent') {
    if (t.start === undefined) return false;
    const end = eventEnd({ ...t, start: t.start });
    return end > t.start ? rs < end && re > t.start : rs <= t.start && re > t.start;
  }
  if (name === 'vjournal') {
    if (t.start === undefined) return false;
    return t.isDate ? rs < t.start + dayMs && re > t.start : rs <= t.start && re > t.start;
  }
  if (name !== 'vtodo') return false;
  if (t.start !== undefined && t.durationMs !== undefined) {
    const end = t.start + t.durationMs;
    return rs <= end && (re > t.start || re >= end);
  }
  if (t.start !== undefined && t.due !== undefined) return (rs < t.due || rs <= t.start) && (re > t.start || re >= t.due);
  if (t.start !== undefined) return rs <= t.start && re > t.start;
  if (t.due !== undefined) return rs < t.due && re >= t.due;
  if (t.completed !== undefined && t.created !== undefined) return (rs <= t.created || rs <= t.completed) && (re >= t.created || re >= t.completed);
  if (t.completed !== undefined) return rs <= t.completed && re >= t.completed;
  if (t.created !== undefined) return re > t.created;
  return true;
}

const recurrenceIdMs = (c: ICAL.Component) => {
  const id = timeOf(c, 'recurrence-id');
  return id === undefined ? undefined : msOf(id);
};

const isRecurring = (c: ICAL.Component) => c.hasProperty('rrule') || c.hasProperty('rdate');

/** One instance: the component that describes it (the master or an override), its start, and the RECURRENCE-ID that names it (none for a single component). */
export interface Instance {
  component: ICAL.Component;
  start: ICAL.Time | undefined;
  recurrenceId: ICAL.Time | undefined;
}

/**
 * Visits every instance of a series: each override in `overrides`, then the master's own instances
 * in order of their start, skipping those whose start is in `skipMs` (overridden), until `visit`
 * answers false or an instance starts after `lastStartMs`. Answers 'exhausted' when the budget or
 * limits.recurrenceInstancesMax ran out first. Runs inside withinRuleBudget(budget).
 */
export function forEachInstance(
  master: ICAL.Component | undefined,
  overrides: ICAL.Component[],
  skipMs: Set<number>,
  budget: RuleBudget,
  lastStartMs: number,
  visit: (instance: Instance) => boolean,
): 'done' | 'exhausted' {
  try {
    for (const o of overrides) if (!visit({ component: o, start: undefined, recurrenceId: timeOf(o, 'recurrence-id') })) return 'done';
    if (!master) return 'done';
    if (!isRecurring(master) || !timeOf(master, 'dtstart')) {
      visit({ component: master, start: undefined, recurrenceId: undefined });
      return 'done';
    }
    const dates = master.getAllProperties().reduce((n, p) => n + (p.name === 'rdate' || p.name === 'exdate' ? p.getValues().length : 0), 0);
    budget.spend(dates * limits.recurrenceDateSteps);
    const iterator = new ICAL.Event(master).iterator();
    for (let n = 0; n < limits.recurrenceInstancesMax; n++) {
      budget.spend(limits.recurrenceInstanceSteps);
      const next = iterator.next();
      if (!next) return 'done';
      const ms = msOf(next);
      if (ms > lastStartMs) return 'done';
      if (skipMs.has(ms)) continue;
      if (!visit({ component: master, start: next, recurrenceId: next })) return 'done';
    }
    return 'exhausted';
  } catch (err) {
    if (err instanceof RuleBudgetExceeded) return 'exhausted';
    throw err;
  }
}

/** The components named `name` of a calendar, as one series: its master (if any) and its overrides. */
export function seriesOf(calendar: ICAL.Component, name: string): { master: ICAL.Component | undefined; overrides: ICAL.Component[]; overridden: Set<number> } {
  const all = calendar.getAllSubcomponents(name);
  const overrides = all.filter((c) => c.hasProperty('recurrence-id'));
  const overridden = new Set(overrides.map(recurrenceIdMs).filter((ms): ms is number => ms !== undefined));
  return { master: all.find((c) => !c.hasProperty('recurrence-id')), overrides, overridden };
}

/** Whether some instance of the calendar's `name` components overlaps `r`; an undecided series matches. */
export function seriesOverlaps(calendar: ICAL.Component, name: string, r: Range, budget: RuleBudget): boolean {
  const { master, overrides, overridden } = seriesOf(calendar, name);
  const steady = name === 'vevent' && master && overrides.length === 0 ? fixedStepSeries(master) : undefined;
  if (steady) return fixedStepOverlaps(steady, r);
  let found = false;
  const result = forEachInstance(master, overrides, overridden, budget, r.endMs, ({ component, start }) => {
    found = instanceOverlaps(name, timingOf(component, start), r);
    return !found;
  });
  return found || result === 'exhausted';
}

/** A series whose instances start a fixed number of ms apart (fixedStepSeries). */
export interface FixedStep {
  firstMs: number;
  /** Each instance's end minus its start, as eventEnd places it (0 or less: a moment). */
  lengthMs: number;
  stepMs: number;
  /** How many instances there are (Infinity without COUNT or UNTIL). */
  instances: number;
}

/**
 * The instances of an event series, as arithmetic, when its one RRULE is DAILY, or WEEKLY on its
 * own weekday, with no other BY part, no RDATE or EXDATE, and a DTSTART in UTC or floating (or a date):
 * then each instance starts INTERVAL days or weeks after the one before, in wall-clock time that has no
 * daylight-saving shifts, so the instance that decides a time range is found by division instead of a
 * walk from the first (docs/dav.md § Queries). Any other series answers undefined and is walked.
 */
export function fixedStepSeries(master: ICAL.Component): FixedStep | undefined {
  const rules = master.getAllProperties('rrule');
  if (rules.length !== 1 || master.hasProperty('rdate') || master.hasProperty('exdate')) return undefined;
  const dtstart = timeOf(master, 'dtstart');
  if (!dtstart || (dtstart.zone !== ICAL.Timezone.utcTimezone && dtstart.zone !== ICAL.Timezone.localTimezone)) return undefined;
  const rule = rules[0]?.getFirstValue();
  if (!(rule instanceof ICAL.Recur)) return undefined;
  const days = rule.freq === 'DAILY' ? 1 : rule.freq === 'WEEKLY' ? 7 : 0;
  if (days === 0 || !Number.isInteger(rule.interval) || rule.interval < 1) return undefined;
  // ical.js itself fills in BYDAY of a WEEKLY rule with the DTSTART's weekday, which changes nothing.
  const ownDay = ICAL.Recur.numericDayToIcalDay(dtstart.dayOfWeek());
  for (const [part, values] of Object.entries(rule.parts)) {
    const harmless = days === 7 && part === 'BYDAY' && Array.isArray(values) && values.length === 1 && values[0] === ownDay;
    if (!harmless) return undefined;
  }
  // ical.js reads a COUNT of 0 as no COUNT; anything but a positive integer is left to it.
  const count = rule.count ?? 0;
  if (!Number.isInteger(count) || count < 0) return undefined;
  const firstMs = msOf(dtstart);
  const stepMs = rule.interval * days * dayMs;
  // An instance after UNTIL ends the series (even the first).
  const untilMs = rule.until ? msOf(rule.until) : undefined;
  const untilInstances = untilMs === undefined ? Infinity : Math.max(0, Math.floor((untilMs - firstMs) / stepMs) + 1);
  const timing = timingOf(master);
  return { firstMs, lengthMs: eventEnd({ ...timing, start: firstMs }) - firstMs, stepMs, instances: Math.min(count === 0 ? Infinity : count, untilInstances) };
}

/**
 * Whether an instance of `s` overlaps `r` by §9.9, as seriesOverlaps would answer it by walking: the
 * first instance that ends after the range starts (or, for a moment, starts at or after it) decides;
 * when none does, a walk would have stopped at the first instance starting after the range, and a
 * series whose walk would pass limits.recurrenceInstancesMax first counts as matching there too.
 */
export function fixedStepOverlaps(s: FixedStep, r: Range): boolean {
  const { firstMs, lengthMs, stepMs, instances } = s;
  const first = lengthMs > 0 ? (r.startMs - lengthMs < firstMs ? 0 : Math.floor((r.startMs - lengthMs - firstMs) / stepMs) + 1) : r.startMs <= firstMs ? 0 : Math.ceil((r.startMs - firstMs) / stepMs);
  if (first < instances && firstMs + first * stepMs < r.endMs) return true;
  const walked = Math.min(instances, r.endMs < firstMs ? 0 : Math.floor((r.endMs - firstMs) / stepMs) + 1);
  return walked >= limits.recurrenceInstancesMax;
}

/**
 * Whether a trigger of `alarm` (TRIGGER, then REPEAT more every DURATION) falls in `r` (§9.9:
 * start <= trigger < end), in some instance of `parent`: its own if it overrides an instance or does
 * not recur, else each of its instances but those that `siblings` override.
 */
export function alarmInRange(alarm: ICAL.Component, parent: ICAL.Component, siblings: ICAL.Component[], r: Range, budget: RuleBudget): boolean {
  const trigger = alarm.getFirstProperty('trigger');
  const value = trigger?.getFirstValue();
  if (!(value instanceof ICAL.Duration) && !(value instanceof ICAL.Time)) return false;
  const repeat = Math.max(0, Number(alarm.getFirstPropertyValue('repeat') ?? 0) || 0);
  const every = alarm.getFirstPropertyValue('duration');
  const everyMs = every instanceof ICAL.Duration ? every.toSeconds() * 1000 : 0;
  /** Whether first, first+every, … first+repeat×every meets [rs, re), without walking the repeats. */
  const hits = (first: number) => {
    if (everyMs <= 0 || repeat === 0) return r.startMs <= first && first < r.endMs;
    const k = Math.min(repeat, Math.max(0, Math.ceil((r.startMs - first) / everyMs)));
    const t = first + k * everyMs;
    return r.startMs <= t && t < r.endMs;
  };
  if (value instanceof ICAL.Time) return hits(msOf(value));
  const offsetMs = value.toSeconds() * 1000;
  const fromEnd = String(trigger?.getParameter('related') ?? '').toUpperCase() === 'END';
  const base = (t: Timing) => {
    if (t.start === undefined) return fromEnd ? t.due : undefined;
    if (!fromEnd) return t.start;
    return parent.name === 'vtodo' ? (t.due ?? (t.durationMs !== undefined ? t.start + t.durationMs : undefined)) : eventEnd({ ...t, start: t.start });
  };
  const isOverride = parent.hasProperty('recurrence-id');
  const skip = isOverride ? new Set<number>() : overriddenIn(siblings);
  let found = false;
  // A trigger comes at most |offset| before its instance starts: later instances cannot reach back into the range.
  const lastStartMs = r.endMs - Math.min(offsetMs, 0);
  const result = forEachInstance(isOverride ? undefined : parent, isOverride ? [parent] : [], skip, budget, lastStartMs, ({ component, start }) => {
    const at = base(timingOf(component, start));
    found = at !== undefined && hits(at + offsetMs);
    return !found;
  });
  return found || result === 'exhausted';
}

function overriddenIn(siblings: ICAL.Component[]): Set<number> {
  return new Set(siblings.map(recurrenceIdMs).filter((ms): ms is number => ms !== undefined));
}

/** Lines that make a VEVENT more than its one DTSTART-to-DTEND instance, or place it otherwise. */
const notPlain = new Set(['RRULE', 'RDATE', 'EXDATE', 'EXRULE', 'RECURRENCE-ID', 'DURATION']);

/**
 * Whether the iCalendar text `data` holds one event with one instance, and where: a VCALENDAR holding
 * nothing but one VEVENT (no alarm, no time zone), with a DTSTART and at most one DTEND written as UTC
 * date-times without parameters, and no RRULE, RDATE, EXDATE, EXRULE, RECURRENCE-ID or DURATION. Read from
 * the text in one pass, without ical.js: most events a calendar-query reads are such, and parsing them
 * cost more than the rest of the query (docs/dav.md § Queries). Anything else, or any doubt (a date out of
 * range, a name in another case, a parameter), answers undefined and the object is parsed.
 */
export function plainEventTiming(data: string): Timing | undefined {
  let depth = 0;
  let components = 0;
  let start: number | undefined;
  let end: number | undefined;
  for (const line of unfoldedLines(data)) {
    let nameEnd = 0;
    while (nameEnd < line.length && line[nameEnd] !== ':' && line[nameEnd] !== ';') nameEnd++;
    const name = line.slice(0, nameEnd).toUpperCase();
    if (name === 'BEGIN') {
      // The VCALENDAR, then the one VEVENT in it; nothing else.
      const expected = components === 0 ? 'BEGIN:VCALENDAR' : components === 1 && depth === 1 ? 'BEGIN:VEVENT' : undefined;
      if (line.toUpperCase() !== expected) return undefined;
      components += 1;
      depth += 1;
    } else if (name === 'END') {
      depth -= 1;
    } else if (notPlain.has(name)) {
      return undefined;
    } else if (name === 'DTSTART' || name === 'DTEND') {
      const ms = depth === 2 && (name === 'DTSTART' ? start : end) === undefined ? utcLineMs(line, nameEnd) : undefined;
      if (ms === undefined) return undefined;
      if (name === 'DTSTART') start = ms;
      else end = ms;
    }
  }
  if (components !== 2 || depth !== 0 || start === undefined) return undefined;
  return end === undefined ? { start, isDate: false } : { start, end, isDate: false };
}

/** `NAME:20260110T100000Z` -> epoch ms; undefined for anything else, or a date that does not exist. */
function utcLineMs(line: string, nameEnd: number): number | undefined {
  if (line.length !== nameEnd + 17 || line[nameEnd] !== ':' || line[nameEnd + 9] !== 'T' || line[nameEnd + 16] !== 'Z') return undefined;
  const digits = (from: number, count: number) => {
    let n = 0;
    for (let i = nameEnd + 1 + from; i < nameEnd + 1 + from + count; i++) {
      const c = line.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return Number.NaN;
      n = n * 10 + c;
    }
    return n;
  };
  const [year, month, day, hour, minute, second] = [digits(0, 4), digits(4, 2), digits(6, 2), digits(9, 2), digits(11, 2), digits(13, 2)];
  // A value Date would roll over (February 30th, 24:00) or read otherwise (a year before 100) is left to ical.js.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= monthDays && hour <= 23 && minute <= 59 && second <= 59)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** Whether a DATE or DATE-TIME property value lies in `r` (a prop-filter's time-range): start <= value < end. */
export function valueInRange(value: unknown, r: Range): boolean {
  if (!(value instanceof ICAL.Time)) return false;
  const ms = msOf(value);
  return r.startMs <= ms && ms < r.endMs;
}
