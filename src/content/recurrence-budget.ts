import ICAL from 'ical.js';

/**
 * ical.js tests candidate dates against a rule's BY* parts inside a single `next()` with no bound, so a
 * rule that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) would spin there forever, out of reach of
 * any cap on the loop around `next()`. `withinRuleBudget` counts those tests while `expand` runs and
 * throws RuleBudgetExceeded past the budget. The server (indexing an item) and the web app (drawing a
 * calendar) both expand through it.
 */
export class RuleBudgetExceeded extends Error {
  override name = 'RuleBudgetExceeded';
}

/** Candidate dates one expansion may test: far above what any real rule needs per instance cap. */
export const ruleStepsMax = 20_000;

let stepsLeft = Infinity;
const prototype = ICAL.RecurIterator.prototype as unknown as { check_contracting_rules(): boolean };
const checkContractingRules = prototype.check_contracting_rules;
prototype.check_contracting_rules = function (this: unknown) {
  if (--stepsLeft < 0) throw new RuleBudgetExceeded(`the recurrence rule needs more than ${ruleStepsMax} steps`);
  return checkContractingRules.call(this);
};

/** Runs `expand` with a fresh budget; expansions never nest (ical.js is synchronous). */
export function withinRuleBudget<T>(expand: () => T, steps = ruleStepsMax): T {
  stepsLeft = steps;
  try {
    return expand();
  } finally {
    stepsLeft = Infinity;
  }
}
