import ICAL from 'ical.js';
import { limits } from '../core/limits.js';

/**
 * ical.js tests candidate dates against a rule's BY* parts inside a single `next()` with no bound, so a
 * rule that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) would spin there forever, out of reach of
 * any cap on the loop around `next()`; and it expands a VTIMEZONE's rules from their DTSTART on the first
 * conversion of a time in that zone, with no bound either. Both go through `check_contracting_rules`, once
 * per candidate date: `withinRuleBudget` counts those tests while `expand` runs and throws
 * RuleBudgetExceeded when its budget is spent. The server (indexing items) and the web app (drawing a
 * calendar) both expand through it. See docs/architecture.md ("Calendar content has a cost budget").
 */
export class RuleBudgetExceeded extends Error {
  override name = 'RuleBudgetExceeded';
}

/**
 * Steps left: one is about 2 µs of ical.js work, the test of one candidate date of a DAILY rule. The server gives one budget to a whole request, shared by all its items
 * (`forRequest`), so many small items cost no more than one large one; the web app takes a fresh
 * `RuleBudget()` per expansion.
 */
export class RuleBudget {
  constructor(public stepsLeft: number) {}

  /** A request's budget: linear in the bytes it carries, with a floor for small requests and a hard cap. */
  static forRequest(bytes: number): RuleBudget {
    return new RuleBudget(Math.min(limits.ruleStepsRequestMax, limits.ruleStepsBase + Math.ceil(bytes / 1024) * limits.ruleStepsPerKiB));
  }

  /** Takes `steps` for work ical.js does without testing candidates (see kinds/vcard-icalendar.ts); throws when they are not left. */
  spend(steps: number): void {
    this.stepsLeft -= steps;
    if (this.stepsLeft < 0) throw new RuleBudgetExceeded('the recurrence budget of this request is spent');
  }
}

/** The web app's budget for one expansion (a calendar range); far above what any real rule needs there. */
export const expansionStepsMax = 20_000;

let current: RuleBudget | null = null;
const weekNumbers = ICAL.Time as unknown as { _wnCache: Record<number, number> };
/** A YEARLY rule lays out the whole year's days for its candidates: each costs ical.js about five others. */
const yearlyCandidateSteps = 5;
interface Iterator {
  rule: { freq: string; wkst: number };
  by_data: Record<string, unknown>;
  last: ICAL.Time;
  check_contract_restriction(part: string, value: number | string): boolean;
  check_contracting_rules(): boolean;
}
const prototype = ICAL.RecurIterator.prototype as unknown as Iterator;
const icalDay = (ICAL.Recur as unknown as { numericDayToIcalDay(day: number): string }).numericDayToIcalDay;
/**
 * ical.js's own test of a candidate, in the same order, but it works out the day of the week, the week
 * number and the day of the year only for a rule that restricts them: it computed all three for every
 * candidate, and the week number alone made each test cost several times the rest. A restriction the
 * rule does not have passes whatever the value, so skipping the value changes no answer.
 */
prototype.check_contracting_rules = function (this: Iterator) {
  current?.spend(this.rule.freq === 'YEARLY' ? yearlyCandidateSteps : 1);
  const last = this.last;
  const restricts = (part: string) => part in this.by_data;
  return (
    this.check_contract_restriction('BYSECOND', last.second) &&
    this.check_contract_restriction('BYMINUTE', last.minute) &&
    this.check_contract_restriction('BYHOUR', last.hour) &&
    (!restricts('BYDAY') || this.check_contract_restriction('BYDAY', icalDay(last.dayOfWeek()))) &&
    (!restricts('BYWEEKNO') || this.check_contract_restriction('BYWEEKNO', last.weekNumber(this.rule.wkst))) &&
    this.check_contract_restriction('BYMONTHDAY', last.day) &&
    this.check_contract_restriction('BYMONTH', last.month) &&
    (!restricts('BYYEARDAY') || this.check_contract_restriction('BYYEARDAY', last.dayOfYear()))
  );
};

// ical.js expands a zone again each time a later year is asked for, appending every transition again to
// the ones it has: memory and time would grow with the square of the years a series walks through.
const timezone = ICAL.Timezone.prototype as unknown as { changes: unknown[]; expandedUntilYear: number; _ensureCoverage(year: number): void };
const ensureCoverage = timezone._ensureCoverage;
timezone._ensureCoverage = function (this: typeof timezone, year: number) {
  if (this.changes.length > 0 && this.expandedUntilYear < year) this.changes = [];
  ensureCoverage.call(this, year);
};

/** Runs `expand` charging `budget` (a fresh one of `expansionStepsMax` by default); expansions never nest (ical.js is synchronous). */
export function withinRuleBudget<T>(expand: () => T, budget: RuleBudget = new RuleBudget(expansionStepsMax)): T {
  const outer = current;
  current = budget;
  // ical.js remembers the week number of every date it is asked about, for good: a fresh memory per
  // expansion keeps it within the budget, where rules walking ever new dates would grow it without end.
  if (outer === null) weekNumbers._wnCache = {};
  try {
    return expand();
  } finally {
    current = outer;
  }
}
