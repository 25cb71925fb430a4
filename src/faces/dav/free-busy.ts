import ICAL from 'ical.js';
import { RuleBudgetExceeded, withinRuleBudget, type RuleBudget } from '../../content/recurrence-budget.js';
import { eventEnd, forEachInstance, seriesOf, timingOf, type Range } from './time-range.js';

/**
 * free-busy-query (RFC 4791 §7.10): one VFREEBUSY for the range, with a FREEBUSY period for each stretch
 * of time some event instance makes busy, overlapping periods merged. A transparent (TRANSP:TRANSPARENT)
 * or cancelled event makes no time busy; a tentative one makes it BUSY-TENTATIVE, any other BUSY (RFC 5545
 * §3.2.9). Instances are charged to the request's RuleBudget; a series whose instances the budget cannot
 * walk counts as busy from where the walk stopped to the end of the range (docs/dav.md § free-busy-query).
 */
type FbType = 'BUSY' | 'BUSY-TENTATIVE';

export class FreeBusy {
  private readonly busy: Record<FbType, Array<[number, number]>> = { BUSY: [], 'BUSY-TENTATIVE': [] };

  /** Events are added one at a time as they are read, so a calendar is never held whole (routes.ts, freeBusyReport). */
  constructor(
    private readonly range: Range,
    private readonly budget: RuleBudget,
  ) {}

  /** The busy time of one calendar item (an event series with its overrides); unreadable data adds none. */
  add(data: string): void {
    let calendar: ICAL.Component;
    try {
      calendar = new ICAL.Component(ICAL.parse(data) as unknown[]);
    } catch {
      return;
    }
    let walked = this.range.startMs;
    let result: 'done' | 'exhausted';
    try {
      result = withinRuleBudget(() => {
        const { master, overrides, overridden } = seriesOf(calendar, 'vevent');
        return forEachInstance(master, overrides, overridden, this.budget, this.range.endMs, ({ component, start }) => {
          const t = timingOf(component, start);
          if (t.start === undefined) return true;
          if (component === master) walked = Math.max(walked, t.start);
          const transparent = String(component.getFirstPropertyValue('transp') ?? '').toUpperCase() === 'TRANSPARENT';
          const status = String(component.getFirstPropertyValue('status') ?? '').toUpperCase();
          if (!transparent && status !== 'CANCELLED') this.period(status === 'TENTATIVE' ? 'BUSY-TENTATIVE' : 'BUSY', t.start, eventEnd({ ...t, start: t.start }));
          return true;
        });
      }, this.budget);
    } catch (err) {
      if (!(err instanceof RuleBudgetExceeded)) throw err;
      result = 'exhausted';
    }
    if (result === 'exhausted') this.period('BUSY', walked, this.range.endMs);
  }

  /** The VCALENDAR answer: one VFREEBUSY, stamped `nowMs`. */
  text(nowMs: number): string {
    const utc = (ms: number) => ICAL.Time.fromJSDate(new Date(ms), true);
    const calendar = new ICAL.Component('vcalendar');
    calendar.addPropertyWithValue('version', '2.0');
    calendar.addPropertyWithValue('prodid', '-//Syncpoint//free-busy//EN');
    const vfreebusy = new ICAL.Component('vfreebusy');
    vfreebusy.addPropertyWithValue('dtstamp', utc(nowMs));
    vfreebusy.addPropertyWithValue('dtstart', utc(this.range.startMs));
    vfreebusy.addPropertyWithValue('dtend', utc(this.range.endMs));
    for (const type of ['BUSY', 'BUSY-TENTATIVE'] as const) {
      for (const [s, e] of merged(this.busy[type])) {
        const p = new ICAL.Property('freebusy');
        p.setParameter('fbtype', type);
        p.setValue(ICAL.Period.fromData({ start: utc(s), end: utc(e), duration: undefined as unknown as ICAL.Duration }));
        vfreebusy.addProperty(p);
      }
    }
    calendar.addSubcomponent(vfreebusy);
    return calendar.toString();
  }

  private period(type: FbType, start: number, end: number): void {
    const s = Math.max(start, this.range.startMs);
    const e = Math.min(end, this.range.endMs);
    if (e > s) this.busy[type].push([s, e]);
  }
}

/** Periods sorted and joined where they overlap or touch. */
export function merged(periods: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of [...periods].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}
