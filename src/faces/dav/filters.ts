import ICAL from 'ical.js';
import { limits } from '../../core/limits.js';
import { RuleBudgetExceeded, withinRuleBudget, type RuleBudget } from '../../content/recurrence-budget.js';
import type { XmlElement } from '../../protocol/xml.js';
import { contentLines, type ContentLine } from './content-lines.js';
import { compileTextMatch, FilterError, type TextTest } from './text-match.js';
import { alarmInRange, instanceOverlaps, plainEventTiming, readTimeRange, seriesOverlaps, valueInRange, type Range } from './time-range.js';

export { FilterError } from './text-match.js';

/**
 * The filters of addressbook-query (RFC 6352 §10.5) and calendar-query (RFC 4791 §9.7), read once per
 * request (text-matches compiled, time ranges parsed), then applied to each item: a vCard as one pass
 * over its lines that keeps the properties the filters name (content-lines.ts), an iCalendar object as
 * ical.js parses it. Nothing is compiled per item; the cost is linear in the item, plus the instances a
 * time range walks, charged to the request's RuleBudget (docs/dav.md § Queries).
 *
 * A prop-filter looks at every property of its name: a text-match passes when some value of one of them
 * matches (then `negate-condition` inverts it), a param-filter when one of them has the parameter (with a
 * value that matches), `is-not-defined` when there is none. CardDAV combines a prop-filter's tests, and
 * the prop-filters, as their `test` says (`anyof` by default); in CalDAV every condition must hold.
 */

export interface ParamFilter {
  /** Lower-case, as ical.js names parameters. */
  name: string;
  isNotDefined: boolean;
  textMatch?: TextTest;
}

export interface PropFilter {
  /** Lower-case, without a vCard group, as ical.js names properties. */
  name: string;
  isNotDefined: boolean;
  test: 'anyof' | 'allof';
  textMatches: TextTest[];
  params: ParamFilter[];
  timeRange?: Range;
}

export interface CompFilter {
  /** Lower-case. */
  name: string;
  isNotDefined: boolean;
  timeRange?: Range;
  props: PropFilter[];
  comps: CompFilter[];
}

export interface CardQuery {
  test: 'anyof' | 'allof';
  props: PropFilter[];
  /** The upper-case names the prop-filters look at. */
  names: Set<string>;
}

const cardCollation = 'i;unicode-casemap';
const calendarCollation = 'i;ascii-casemap';

/** Counts filter elements (comp-, prop- and param-filters, text-matches, time-ranges) against limits.davFiltersMax, before any is applied. */
class FilterCount {
  private n = 0;
  constructor(private readonly namespace: string) {}
  take(): void {
    this.n += 1;
    if (this.n > limits.davFiltersMax) throw new FilterError(`more than ${limits.davFiltersMax} filter elements in one query`, this.namespace);
  }
}

const children = (el: XmlElement | undefined, namespace: string, name: string) => (el?.children ?? []).filter((c) => c.ns === namespace && c.name === name);
const testOf = (el: XmlElement | undefined): 'anyof' | 'allof' => (el?.attrs.test === 'allof' ? 'allof' : 'anyof');

function readPropFilter(el: XmlElement, namespace: string, collation: string, count: FilterCount, test: 'anyof' | 'allof'): PropFilter {
  count.take();
  const textMatches = children(el, namespace, 'text-match').map((tm) => {
    count.take();
    return compileTextMatch(tm, namespace, collation);
  });
  const params = children(el, namespace, 'param-filter').map((pf): ParamFilter => {
    count.take();
    const tm = children(pf, namespace, 'text-match')[0];
    if (tm) count.take();
    return { name: (pf.attrs.name ?? '').toLowerCase(), isNotDefined: children(pf, namespace, 'is-not-defined').length > 0, ...(tm ? { textMatch: compileTextMatch(tm, namespace, collation) } : {}) };
  });
  const range = children(el, namespace, 'time-range')[0];
  if (range) count.take();
  return {
    name: (el.attrs.name ?? '').toLowerCase(),
    isNotDefined: children(el, namespace, 'is-not-defined').length > 0,
    test,
    textMatches,
    params,
    ...(range ? { timeRange: readTimeRange(range, namespace) } : {}),
  };
}

/** An addressbook-query's `filter`; no filter matches every card. */
export function readCardQuery(filter: XmlElement | undefined): CardQuery {
  const namespace = 'urn:ietf:params:xml:ns:carddav';
  const count = new FilterCount(namespace);
  const props = children(filter, namespace, 'prop-filter').map((pf) => readPropFilter(pf, namespace, cardCollation, count, testOf(pf)));
  return { test: testOf(filter), props, names: new Set(props.map((p) => p.name.toUpperCase())) };
}

/** A calendar-query's `filter`: its comp-filter (VCALENDAR); none matches every object. */
export function readCalendarQuery(filter: XmlElement | undefined): CompFilter | undefined {
  const namespace = 'urn:ietf:params:xml:ns:caldav';
  const count = new FilterCount(namespace);
  const read = (el: XmlElement): CompFilter => {
    count.take();
    const range = children(el, namespace, 'time-range')[0];
    if (range) count.take();
    return {
      name: (el.attrs.name ?? '').toLowerCase(),
      isNotDefined: children(el, namespace, 'is-not-defined').length > 0,
      ...(range ? { timeRange: readTimeRange(range, namespace) } : {}),
      props: children(el, namespace, 'prop-filter').map((pf) => readPropFilter(pf, namespace, calendarCollation, count, 'allof')),
      comps: children(el, namespace, 'comp-filter').map(read),
    };
  };
  const top = children(filter, namespace, 'comp-filter')[0];
  return top && read(top);
}

/**
 * The range an item's indexed span must meet for the query to match it, when the query has a VEVENT
 * time range: the index holds a series' first start to its last end, so it narrows the items read
 * (docs/dav.md § Queries). Task and alarm ranges cannot use it (a task's span ignores its RRULE; an alarm
 * may ring before its event).
 */
export function indexedRange(query: CompFilter | undefined): Range | undefined {
  if (!query || query.isNotDefined || query.name !== 'vcalendar') return undefined;
  return query.comps.find((c) => c.name === 'vevent' && !c.isNotDefined && c.timeRange)?.timeRange;
}


/** A property's values as text: structured parts joined by ';', list items by ','. */
function textOf(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => (Array.isArray(v) ? v.join(',') : String(v))).join(';');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/** One property as the filters see it: a vCard's content line, or an iCalendar property as ical.js reads it. */
interface PropertyView {
  values: string[];
  param(name: string): string[] | undefined;
  /** The first value as ical.js reads it (a time, for a prop-filter's time range). */
  first(): unknown;
}

const ofLine = (line: ContentLine): PropertyView => ({ values: line.values, param: (name) => line.params.get(name), first: () => undefined });

/** An iCalendar property attached to its component, so that a TZID finds its VTIMEZONE. */
const ofProperty = (p: ICAL.Property): PropertyView => ({
  values: p.jCal.slice(3).map(textOf),
  param: (name) => {
    const v = p.getParameter(name);
    return v === undefined || v === null ? undefined : (Array.isArray(v) ? v : [v]).map(String);
  },
  first: () => p.getFirstValue(),
});

function textMatches(tm: TextTest, found: PropertyView[]): boolean {
  return found.some((p) => p.values.some((v) => tm.matches(v))) !== tm.negate;
}

function paramMatches(pf: ParamFilter, found: PropertyView[]): boolean {
  const values = found.map((p) => p.param(pf.name)).filter((v) => v !== undefined);
  if (pf.isNotDefined) return values.length === 0;
  if (!pf.textMatch) return values.length > 0;
  const tm = pf.textMatch;
  return values.some((v) => v.some((one) => tm.matches(one))) !== tm.negate;
}

function propMatches(f: PropFilter, found: PropertyView[]): boolean {
  if (f.isNotDefined) return found.length === 0;
  if (found.length === 0) return false;
  const tests: Array<() => boolean> = [
    ...f.textMatches.map((tm) => () => textMatches(tm, found)),
    ...f.params.map((pf) => () => paramMatches(pf, found)),
    ...(f.timeRange ? [() => found.some((p) => valueInRange(p.first(), f.timeRange as Range))] : []),
  ];
  if (tests.length === 0) return true;
  return f.test === 'allof' ? tests.every((t) => t()) : tests.some((t) => t());
}

/** Whether the vCard `data` passes the query. */
export function matchesCard(query: CardQuery, data: string): boolean {
  if (query.props.length === 0) return true;
  const lines = contentLines(data, query.names);
  const one = (f: PropFilter) => propMatches(f, (lines.get(f.name.toUpperCase()) ?? []).map(ofLine));
  return query.test === 'allof' ? query.props.every(one) : query.props.some(one);
}

/**
 * Whether the iCalendar `data` passes the query. Time ranges walk instances within `budget`, shared by
 * the whole request; when it runs out, the item matches (docs/dav.md § Queries).
 */
export function matchesCalendar(query: CompFilter | undefined, data: string, budget: RuleBudget): boolean {
  if (!query) return true;
  // The calendar view's query (a VEVENT time range and nothing else) over a plain event needs no parse.
  const range = eventRangeOnly(query);
  const plain = range && plainEventTiming(data);
  if (range && plain) return instanceOverlaps('vevent', plain, range);
  const jcal = parse(data);
  if (!jcal) return false;
  const root = new ICAL.Component(jcal);
  try {
    return withinRuleBudget(() => compMatches(query, root.name === query.name ? [root] : [], budget), budget);
  } catch (err) {
    if (err instanceof RuleBudgetExceeded) return true;
    throw err;
  }
}

/** The time range of a query that is VCALENDAR > VEVENT with a time-range and no other condition. */
function eventRangeOnly(query: CompFilter): Range | undefined {
  const event = query.comps[0];
  const bare = (f: CompFilter) => !f.isNotDefined && f.props.length === 0;
  if (query.name !== 'vcalendar' || !bare(query) || query.timeRange || query.comps.length !== 1 || !event) return undefined;
  return event.name === 'vevent' && bare(event) && event.comps.length === 0 ? event.timeRange : undefined;
}

function compMatches(f: CompFilter, list: ICAL.Component[], budget: RuleBudget): boolean {
  if (f.isNotDefined) return list.length === 0;
  if (list.length === 0) return false;
  if (f.timeRange && !inRange(f.name, list, f.timeRange, budget)) return false;
  return list.some((c) => f.props.every((p) => propMatches(p, c.getAllProperties(p.name).map(ofProperty))) && f.comps.every((sub) => compMatches(sub, c.getAllSubcomponents(sub.name), budget)));
}

/** A comp-filter's time-range: per instance of the series for events, tasks and journal entries, per trigger for alarms. */
function inRange(name: string, list: ICAL.Component[], range: Range, budget: RuleBudget): boolean {
  const parent = list[0]?.parent;
  if (!parent) return false;
  if (name === 'vevent' || name === 'vtodo' || name === 'vjournal') return seriesOverlaps(parent, name, range, budget);
  if (name === 'valarm') return list.some((alarm) => alarmInRange(alarm, parent, parent.parent?.getAllSubcomponents(parent.name) ?? [parent], range, budget));
  return false;
}

/** Stored items were parsed when written; one that no longer parses matches nothing. */
function parse(data: string): [string, unknown[], unknown[]] | undefined {
  try {
    const jcal = ICAL.parse(data) as unknown;
    return Array.isArray(jcal) && typeof jcal[0] === 'string' ? (jcal as [string, unknown[], unknown[]]) : undefined;
  } catch {
    return undefined;
  }
}
