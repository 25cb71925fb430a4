import ICAL from 'ical.js';
import { RuleBudget, RuleBudgetExceeded, withinRuleBudget } from '../content/recurrence-budget.js';
import { mergeProperties, sameProperties } from '../content/merge.js';
import { carriedByXml } from '../content/utf8.js';
import type { StatusCode } from '../protocol/errors.js';
import { limits } from '../core/limits.js';
import { normalizeEmail, normalizeName, normalizePhone } from '../core/twins.js';
import type { ContentCheck, ItemFormat } from './kind.js';

/**
 * The vCard and iCalendar formats of the built-in kinds (kinds/contacts.ts, events.ts, tasks.ts,
 * notes.ts): validation and indexing. The original text is what the hub stores and serves, byte for
 * byte; this module only decides whether it is acceptable and extracts the few fields the hub indexes
 * (UID, a title, and the time span used by date-range filters).
 */

type CalendarKind = 'events' | 'tasks' | 'notes';

const componentOfKind: Record<CalendarKind, string> = {
  events: 'vevent',
  tasks: 'vtodo',
  notes: 'vjournal',
};

function reject(status: StatusCode, message: string): ContentCheck {
  return { ok: false, status, message };
}

/**
 * What a parse or date error says to the client: ical.js's own complaints (they quote the client's
 * value) are shown; a JavaScript error from inside it (a TypeError on a malformed rule) is internal
 * text, never sent (docs/dav.md § Writes and conflicts).
 */
function complaint(err: unknown): string {
  return err instanceof Error && (err.constructor === Error || err.name === 'ParserError') ? err.message : 'a value is malformed';
}

/**
 * `kinds`: what the collection holds; several calendar kinds for a calendar that holds events and tasks
 * (docs/dav.md § Calendars made without a component set). `budget`: what ical.js may spend evaluating dates and rules, shared by every
 * item of one request (RuleBudget.forRequest); an item checked on its own gets a request's budget for its size.
 * The registry (kinds/registry.ts) has refused data over limits.itemBytesMax before.
 */
function checkText(kinds: readonly string[], data: string, budget: RuleBudget | undefined): ContentCheck {
  // Never valid in vCard/iCalendar text either.
  if (!carriedByXml(data)) return reject('invalidItem', 'item contains control characters or characters XML cannot carry');
  let lineStart = 0;
  for (let i = data.indexOf('\n'); ; i = data.indexOf('\n', i + 1)) {
    const end = i === -1 ? data.length : i;
    // A UTF-16 unit is at most 3 UTF-8 bytes, so only long lines need their bytes counted.
    if ((end - lineStart) * 3 > limits.itemLineBytesMax && Buffer.byteLength(data.slice(lineStart, end), 'utf8') > limits.itemLineBytesMax) {
      return reject('invalidItem', `a line is longer than ${limits.itemLineBytesMax} bytes`);
    }
    if (i === -1) break;
    lineStart = i + 1;
  }
  let jcal: unknown;
  try {
    jcal = ICAL.parse(data);
  } catch (err) {
    return reject('invalidItem', `cannot parse: ${complaint(err)}`);
  }
  if (!Array.isArray(jcal) || typeof jcal[0] !== 'string') {
    return reject('invalidItem', 'expected exactly one vCard or VCALENDAR object');
  }
  const costly = costlyPart(jcal as unknown as JcalComponent);
  if (costly) return reject('invalidItem', costly);
  const root = new ICAL.Component(jcal as unknown as [string, unknown[], unknown[]]);
  const calendarKinds = kinds.filter((k): k is CalendarKind => k in componentOfKind);
  return calendarKinds.length === 0 ? checkVcard(root) : checkCalendar(root, calendarKinds, budget ?? RuleBudget.forRequest(Buffer.byteLength(data, 'utf8')));
}

type JcalProperty = [string, Record<string, unknown>, string, ...unknown[]];
export type JcalComponent = [string, JcalProperty[], JcalComponent[]];

const durationPattern = /^[+-]?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Seconds of an RFC 5545 duration, read without ical.js (which normalizes it month by month). */
function durationSeconds(text: string): number {
  const m = durationPattern.exec(text);
  if (!m) return 0; // not a duration ical.js reads either: its own parse error decides
  const [w, d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number];
  return w * 604_800 + d * 86_400 + h * 3600 + min * 60 + s;
}

const yearOf = (value: unknown): number => (typeof value === 'string' && /^\d{4}/.test(value) ? Number(value.slice(0, 4)) : 0);
const timeTypes = new Set(['date', 'date-time', 'period']);
const observances = new Set(['standard', 'daylight']);
/** The rule parts a VTIMEZONE observance may use: real zones change on one day of one month a year. */
const observanceParts = new Set(['freq', 'interval', 'count', 'until', 'wkst', 'bymonth', 'byday', 'bymonthday', 'bysetpos']);

/**
 * What in an item would cost ical.js more than its size suggests, found in one pass over the parsed tree
 * before anything is evaluated (docs/protocol.md §10.4), or null. The costs: durations are added month by
 * month; RDATE/EXDATE values and BY* values multiply the work of each candidate date; a VTIMEZONE rule is
 * expanded from its DTSTART to five years past the latest year the item uses (ical.js also reads the clock
 * for that horizon); deep nesting would overflow recursive walks.
 */
export function costlyPart(root: JcalComponent): string | null {
  let dates = 0;
  let latestYear = new Date().getUTCFullYear();
  const observanceStarts: number[] = [];
  const stack: Array<{ c: JcalComponent; depth: number; parent: string }> = [{ c: root, depth: 1, parent: '' }];
  while (stack.length > 0) {
    const { c, depth, parent } = stack.pop() as { c: JcalComponent; depth: number; parent: string };
    if (depth > limits.componentDepthMax) return `components nest deeper than ${limits.componentDepthMax}`;
    const [name, props, children] = c;
    let rules = 0;
    let startYear = 0;
    for (const [propName, , type, ...values] of props) {
      if (type === 'duration' || type === 'period') {
        for (const v of values) {
          const duration = type === 'duration' ? v : Array.isArray(v) ? v[1] : undefined;
          if (typeof duration === 'string' && durationSeconds(duration) > limits.durationSecondsMax) {
            return `${propName.toUpperCase()} ${duration.slice(0, 40)} is longer than ${limits.durationSecondsMax / 86_400} days`;
          }
        }
      }
      // Only time values: a UID or SUMMARY may well start with four digits.
      if (timeTypes.has(type)) for (const v of values) latestYear = Math.max(latestYear, yearOf(Array.isArray(v) ? v[0] : v));
      if (propName === 'rdate' || propName === 'exdate') dates += values.length;
      if (propName === 'dtstart') startYear = yearOf(values[0]);
      if (type !== 'recur') continue;
      if (++rules > limits.recurrenceRulesMax) return `a component has more than ${limits.recurrenceRulesMax} recurrence rules`;
      const rule = (values[0] ?? {}) as Record<string, unknown>;
      const byValues = Object.entries(rule).reduce((n, [part, v]) => n + (part.startsWith('by') ? (Array.isArray(v) ? v.length : 1) : 0), 0);
      if (byValues > limits.ruleByValuesMax) return `a recurrence rule has more than ${limits.ruleByValuesMax} BY values`;
      latestYear = Math.max(latestYear, yearOf(rule.until));
      if (observances.has(name) && parent === 'vtimezone') {
        const unusual = Object.keys(rule).find((part) => !observanceParts.has(part));
        const single = (part: string) => !Array.isArray(rule[part]) || (rule[part] as unknown[]).length <= 1;
        if (rule.freq !== 'YEARLY' || unusual || !single('bymonth') || !single('byday') || !single('bysetpos')) {
          return `a VTIMEZONE observance may only repeat yearly, on one day of one month (got ${Object.entries(rule).map(([k, v]) => `${k.toUpperCase()}=${String(v)}`).join(';').slice(0, 80)})`;
        }
        observanceStarts.push(startYear);
      }
    }
    if (dates > limits.recurrenceDatesMax) return `more than ${limits.recurrenceDatesMax} RDATE and EXDATE values`;
    for (const child of children) stack.push({ c: child, depth: depth + 1, parent: name });
  }
  const horizon = latestYear + 5;
  const years = observanceStarts.reduce((n, year) => n + Math.max(0, horizon - year + 1), 0);
  if (years > limits.timezoneRuleYearsMax) {
    return `the VTIMEZONE rules span ${years} years up to ${horizon} (from their DTSTART); at most ${limits.timezoneRuleYearsMax} are expanded`;
  }
  return null;
}

function checkVcard(card: ICAL.Component): ContentCheck {
  if (card.name !== 'vcard') return reject('wrongKind', `a contacts collection holds vCards, not ${card.name.toUpperCase()}`);
  const version = card.getFirstPropertyValue('version');
  if (version !== '3.0' && version !== '4.0') return reject('invalidItem', 'vCard VERSION must be 3.0 or 4.0');
  const fn = card.getFirstPropertyValue('fn');
  if (typeof fn !== 'string') return reject('invalidItem', 'vCard has no FN property');
  const uid = card.getFirstPropertyValue('uid');
  const contactKeys = [
    ...card.getAllProperties('email').map((p) => normalizeEmail(String(p.getFirstValue() ?? ''))),
    ...card.getAllProperties('tel').map((p) => normalizePhone(String(p.getFirstValue() ?? ''))),
  ].filter((k): k is string => k !== null);
  const index = { uid: typeof uid === 'string' && uid !== '' ? uid : null, title: fn, startMs: null, endMs: null };
  return { ok: true, kind: 'contacts', index: { ...index, name: normalizeName(fn), contactKeys: [...new Set(contactKeys)] } };
}

function checkCalendar(calendar: ICAL.Component, kinds: readonly CalendarKind[], budget: RuleBudget): ContentCheck {
  if (calendar.name !== 'vcalendar') return reject('wrongKind', `expected VCALENDAR, got ${calendar.name.toUpperCase()}`);
  const components = calendar.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  if (components.length === 0) return reject('invalidItem', 'VCALENDAR holds no component');
  const names = new Set(components.map((c) => c.name));
  const kind = kinds.find((k) => names.size === 1 && names.has(componentOfKind[k]));
  if (kind === undefined) {
    return reject('wrongKind', `this collection holds ${kinds.map((k) => componentOfKind[k].toUpperCase()).join(' or ')}, got ${[...names].join(', ').toUpperCase()}`);
  }
  const wanted = componentOfKind[kind];
  const uids = new Set(components.map((c) => c.getFirstPropertyValue('uid')));
  const uid = [...uids][0];
  if (uids.size !== 1 || typeof uid !== 'string' || uid === '') {
    return reject('invalidItem', 'every component of one object must carry the same non-empty UID');
  }
  // Overrides (RECURRENCE-ID) travel with their master; index the master, or the first component.
  const master = components.find((c) => !c.hasProperty('recurrence-id')) ?? (components[0] as ICAL.Component);
  const title = master.getFirstPropertyValue('summary');
  let span: Span;
  try {
    span = withinRuleBudget(() => (wanted === 'vevent' ? eventSpan(master, budget) : pointSpan(master, wanted)), budget);
  } catch (err) {
    // The request's budget was spent before even the start could be placed: the item counts as open
    // at both ends, so date-range filters always include it (docs/architecture.md).
    if (err instanceof RuleBudgetExceeded) span = { startMs: null, endMs: null };
    else return reject('invalidItem', `bad date or recurrence: ${complaint(err)}`);
  }
  return { ok: true, kind, index: { uid, title: typeof title === 'string' ? title : '', ...span, name: null, contactKeys: [] } };
}

type Span = { startMs: number | null; endMs: number | null };

/** Epoch ms of a time, or null past what a Date holds (a series with a huge INTERVAL walks there). */
function msOf(t: ICAL.Time): number | null {
  const ms = t.toJSDate().getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** Runs inside the request's budget (checkCalendar). */
function eventSpan(vevent: ICAL.Component, budget: RuleBudget): Span {
  const event = new ICAL.Event(vevent);
  if (!event.startDate) return { startMs: null, endMs: null };
  const startMs = msOf(event.startDate);
  if (startMs === null) return { startMs: null, endMs: null };
  const durationMs = event.endDate ? (msOf(event.endDate) ?? startMs) - startMs : 0;
  if (!event.isRecurring()) return { startMs, endMs: startMs + Math.max(durationMs, 0) };
  const plain = plainSeriesLast(vevent, event.startDate);
  if (plain === 'open') return { startMs, endMs: null };
  if (plain) {
    const lastMs = msOf(plain);
    return { startMs, endMs: lastMs === null ? null : lastMs + Math.max(durationMs, 0) };
  }
  // Walk the series to its last instance, bounded: a series past the cap, or whose rule needs more steps
  // than the request has left to find its instances, counts as open-ended.
  try {
    const dates = vevent.getAllProperties().reduce((n, p) => n + (p.name === 'rdate' || p.name === 'exdate' ? p.getValues().length : 0), 0);
    budget.spend(dates * limits.recurrenceDateSteps);
    const iterator = event.iterator();
    let last: ICAL.Time | null = null;
    for (let n = 0; n < limits.recurrenceInstancesMax; n++) {
      // Each instance costs a few steps beyond the candidates its rule tests (comparisons, zone offsets).
      budget.spend(limits.recurrenceInstanceSteps);
      const next = iterator.next();
      if (!next) {
        const lastMs = last ? msOf(last) : startMs;
        return { startMs, endMs: lastMs === null ? null : lastMs + Math.max(durationMs, 0) };
      }
      last = next;
    }
    return { startMs, endMs: null };
  } catch (err) {
    if (err instanceof RuleBudgetExceeded) return { startMs, endMs: null };
    throw err;
  }
}

/** Days from one instance to the next of a plain rule of INTERVAL 1; months and years on average. */
const plainPeriodDays: Record<string, number> = { DAILY: 1, WEEKLY: 7, MONTHLY: 30.436875, YEARLY: 365.2425 };
const weekdays = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
/** Whether a BY part only says what DTSTART already does (BYDAY=SA on a Saturday weekly, as ActiveSync writes it): ical.js fills it in from DTSTART when absent. */
function restatesStart(freq: string, part: string, values: unknown[], start: ICAL.Time): boolean {
  if (values.length !== 1) return false;
  const value = String(values[0]);
  if (part === 'BYDAY') return freq === 'WEEKLY' && value === weekdays[start.dayOfWeek() - 1];
  if (part === 'BYMONTHDAY') return (freq === 'MONTHLY' || freq === 'YEARLY') && value === String(start.day);
  if (part === 'BYMONTH') return freq === 'YEARLY' && value === String(start.month);
  return false;
}

/** Days a plain series' arithmetic may move its start; past it (huge INTERVALs) the budgeted walk decides, as ical.js adds days month by month. */
const plainSpanDaysMax = 36_525;

/**
 * The start of the last instance of a series with one plain rule, found by arithmetic instead of walking
 * the rule (most series are plain: every week, month or year from DTSTART, ending by COUNT or UNTIL or
 * never): 'open' when it has as many instances as the index walks or more (or never ends), undefined when
 * the rule is not plain and must be walked. Plain: one RRULE with no BY parts but those that restate
 * DTSTART (restatesStart), no EXRULE, RDATE or EXDATE;
 * MONTHLY on days 1–28 and YEARLY on any day but 29 February, so every period holds its instance. The
 * result is exactly what walking it with ical.js gives (vcard-icalendar.test.ts compares the two).
 */
function plainSeriesLast(vevent: ICAL.Component, start: ICAL.Time): ICAL.Time | 'open' | undefined {
  let rule: ICAL.Recur | undefined;
  for (const p of vevent.getAllProperties()) {
    if (p.name === 'exrule' || p.name === 'rdate' || p.name === 'exdate' || (p.name === 'rrule' && rule)) return undefined;
    if (p.name === 'rrule') rule = p.getFirstValue() as ICAL.Recur;
  }
  if (!rule || plainPeriodDays[rule.freq] === undefined || !Object.entries(rule.parts).every(([part, values]) => restatesStart(rule.freq, part, values, start))) return undefined;
  if ((rule.freq === 'MONTHLY' && start.day > 28) || (rule.freq === 'YEARLY' && start.month === 2 && start.day === 29)) return undefined;
  const interval = rule.interval > 0 ? rule.interval : 1;
  const daysPerPeriod = (plainPeriodDays[rule.freq] as number) * interval;
  const nth = (k: number): ICAL.Time | undefined => {
    if (k * daysPerPeriod > plainSpanDaysMax) return undefined;
    const t = start.clone();
    if (rule.freq === 'DAILY' || rule.freq === 'WEEKLY') t.adjust(Math.round(k * daysPerPeriod), 0, 0, 0);
    else {
      const months = start.month - 1 + k * interval * (rule.freq === 'YEARLY' ? 12 : 1);
      t.year = start.year + Math.floor(months / 12);
      t.month = (months % 12) + 1;
    }
    return t;
  };
  const instancesMax = limits.recurrenceInstancesMax;
  if (rule.count) return rule.count >= instancesMax ? 'open' : nth(rule.count - 1);
  if (!rule.until) return 'open';
  // The last k whose instance is not after UNTIL (ical.js compares the two as UTC times): guessed from
  // the span, then corrected by a step or two (daylight saving time moves instances by an hour).
  const untilS = rule.until.toUnixTime();
  const startS = start.toUnixTime();
  if (untilS < startS) return undefined;
  let k = Math.floor((untilS - startS) / (daysPerPeriod * 86_400));
  if (k > instancesMax) return 'open';
  for (let tries = 0; tries < 4; tries++) {
    const here = nth(k);
    const after = nth(k + 1);
    if (!here || !after) return undefined;
    if (here.toUnixTime() > untilS) k--;
    else if (after.toUnixTime() <= untilS) k++;
    else return k + 1 >= instancesMax ? 'open' : here;
  }
  return undefined;
}

function pointSpan(component: ICAL.Component, name: string): Span {
  const start = component.getFirstPropertyValue('dtstart');
  const end = component.getFirstPropertyValue(name === 'vtodo' ? 'due' : 'dtstart');
  const ms = (v: unknown) => (v instanceof ICAL.Time ? msOf(v) : null);
  const startMs = ms(start) ?? ms(end);
  const endMs = ms(end) ?? startMs;
  return { startMs, endMs };
}

/** vCard 3.0 and 4.0: the contacts kind. */
export const vcardFormat: ItemFormat = { check: checkText, merge: mergeProperties, same: sameProperties };
/** iCalendar, one object per item: the events, tasks and notes kinds (a VEVENT, VTODO or VJOURNAL with its overrides and time zones). */
export const icalendarFormat: ItemFormat = { check: checkText, merge: mergeProperties, same: sameProperties };
