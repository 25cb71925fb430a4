import ICAL from 'ical.js';
import { RuleBudgetExceeded, withinRuleBudget, type RuleBudget } from '../../content/recurrence-budget.js';
import type { XmlElement } from '../../protocol/xml.js';
import { forEachInstance, instanceOverlaps, readTimeRange, seriesOf, timingOf, type Range } from './time-range.js';

/**
 * What a REPORT's `calendar-data` asks of each object (RFC 4791 §9.6): `expand` (§9.6.5), every instance
 * in the range as a component of its own, with a RECURRENCE-ID and all times in UTC, no rules and no
 * VTIMEZONE; or `limit-recurrence-set` (§9.6.6), the master with only the overrides in the range.
 * Without either, the object is served byte for byte. Instances are charged to the request's RuleBudget;
 * an object whose instances it cannot afford is served as stored (docs/dav.md § Queries).
 */
export type CalendarDataTransform = (data: string) => string;

const caldav = 'urn:ietf:params:xml:ns:caldav';
const kinds = ['vevent', 'vtodo', 'vjournal'];

/** The transform a `calendar-data` element asks for, if any. */
export function readCalendarData(el: XmlElement | undefined, budget: RuleBudget): CalendarDataTransform | undefined {
  const option = el?.children.find((c) => c.ns === caldav && (c.name === 'expand' || c.name === 'limit-recurrence-set'));
  if (!option) return undefined;
  const range = readTimeRange(option, caldav);
  return option.name === 'expand' ? (data) => expand(data, range, budget) : (data) => limitRecurrenceSet(data, range, budget);
}

function guarded(data: string, budget: RuleBudget, change: (calendar: ICAL.Component) => string | undefined): string {
  try {
    const calendar = new ICAL.Component(ICAL.parse(data) as unknown[]);
    return withinRuleBudget(() => change(calendar), budget) ?? data;
  } catch (err) {
    if (err instanceof RuleBudgetExceeded) return data;
    throw err;
  }
}

export function expand(data: string, range: Range, budget: RuleBudget): string {
  return guarded(data, budget, (calendar) => {
    const out = new ICAL.Component('vcalendar');
    for (const p of calendar.getAllProperties()) out.addProperty(ICAL.Property.fromString(p.toICALString()));
    for (const name of kinds) {
      const { master, overrides, overridden } = seriesOf(calendar, name);
      const recurring = master !== undefined && (master.hasProperty('rrule') || master.hasProperty('rdate'));
      const instances: ICAL.Component[] = [];
      const result = forEachInstance(master, overrides, overridden, budget, range.endMs, ({ component, start, recurrenceId }) => {
        if (instanceOverlaps(name, timingOf(component, start), range)) instances.push(instanceOf(component, start, recurring || component !== master ? recurrenceId : undefined));
        return true;
      });
      if (result === 'exhausted') return undefined;
      for (const c of instances) out.addSubcomponent(c);
    }
    return out.toString();
  });
}

/** A copy of `component` as the instance starting at `start` (its own start when undefined): times in UTC, no rules. */
function instanceOf(component: ICAL.Component, start: ICAL.Time | undefined, recurrenceId: ICAL.Time | undefined): ICAL.Component {
  const copy = inUtc(component, start);
  for (const name of ['rrule', 'rdate', 'exdate', 'exrule']) copy.removeAllProperties(name);
  if (recurrenceId && !copy.hasProperty('recurrence-id')) copy.addPropertyWithValue('recurrence-id', utc(recurrenceId));
  return copy;
}

const utc = (t: ICAL.Time) => (t.isDate || t.zone === ICAL.Timezone.localTimezone ? t.clone() : t.clone().convertToZone(ICAL.Timezone.utcTimezone));

/**
 * A copy of `component` (and its alarms) whose zoned date-times are in UTC, read from the original, where
 * the zones are known; moved to start at `start`, DTEND and DUE as long after it as they were (in elapsed
 * time, whatever daylight saving does in between). Dates and floating times stay as they are.
 */
function inUtc(component: ICAL.Component, start: ICAL.Time | undefined): ICAL.Component {
  const copy = new ICAL.Component(component.name);
  const dtstart = component.getFirstPropertyValue('dtstart');
  for (const p of component.getAllProperties()) {
    const moves = start !== undefined && dtstart instanceof ICAL.Time && (p.name === 'dtstart' || p.name === 'dtend' || p.name === 'due');
    const out = ICAL.Property.fromString(p.toICALString());
    if (p.type === 'date-time' || p.type === 'date') {
      const values = p.getValues().map((v) => {
        if (!(v instanceof ICAL.Time)) return v;
        if (!moves) return utc(v);
        const t = utc(start);
        t.addDuration(v.subtractDateTz(dtstart));
        return t;
      });
      out.removeParameter('tzid');
      if (values.length === 1) out.setValue(values[0] as ICAL.Time);
      else out.setValues(values as ICAL.Time[]);
    }
    copy.addProperty(out);
  }
  for (const sub of component.getAllSubcomponents()) copy.addSubcomponent(inUtc(sub, undefined));
  return copy;
}

export function limitRecurrenceSet(data: string, range: Range, budget: RuleBudget): string {
  return guarded(data, budget, (calendar) => {
    let dropped = false;
    for (const name of kinds) {
      for (const o of seriesOf(calendar, name).overrides) {
        const id = o.getFirstPropertyValue('recurrence-id');
        const idInRange = id instanceof ICAL.Time && instanceOverlaps(name, { ...timingOf(o, id), start: id.toUnixTime() * 1000 }, range);
        if (idInRange || instanceOverlaps(name, timingOf(o), range)) continue;
        calendar.removeSubcomponent(o);
        dropped = true;
      }
    }
    return dropped ? calendar.toString() : undefined;
  });
}
