import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { RuleBudget, withinRuleBudget } from './recurrence-budget.js';

/** The first `count` dates (YYYY-MM-DD) of `rule` from DTSTART 2026-01-01 10:00 UTC, under a budget. */
function firstDates(rule: string, count: number): string[] {
  return withinRuleBudget(() => {
    const iterator = ICAL.Recur.fromString(rule).iterator(ICAL.Time.fromDateTimeString('2026-01-01T10:00:00Z'));
    const out: string[] = [];
    for (let next = iterator.next(); next && out.length < count; next = iterator.next()) out.push(next.toString().slice(0, 10));
    return out;
  }, new RuleBudget(100_000));
}

test('the candidate test skips only what a rule does not restrict: week numbers, weekdays and month days still count', () => {
  // What ical.js's own test gives (DTSTART is always the first instance); ISO week 20 of 2026 is 11 to 17 May.
  assert.deepEqual(firstDates('FREQ=DAILY;BYWEEKNO=20', 9), ['2026-01-01', '2026-05-11', '2026-05-12', '2026-05-13', '2026-05-14', '2026-05-15', '2026-05-16', '2026-05-17', '2027-05-17']);
  assert.deepEqual(firstDates('FREQ=DAILY;BYMONTH=2;BYDAY=SA', 6), ['2026-01-01', '2026-02-07', '2026-02-14', '2026-02-21', '2026-02-28', '2027-02-06']);
  assert.deepEqual(firstDates('FREQ=DAILY;BYMONTHDAY=31;BYMONTH=1,3', 4), ['2026-01-01', '2026-01-31', '2026-03-31', '2027-01-31']);
});

test("ical.js's memory of week numbers lasts one expansion, so rules walking ever new dates cannot grow it", () => {
  const weekNumbers = ICAL.Time as unknown as { _wnCache: Record<number, number> };
  firstDates('FREQ=DAILY;BYWEEKNO=20', 7);
  assert.ok(Object.keys(weekNumbers._wnCache).length > 100, 'the walk to week 20 remembered its days');
  firstDates('FREQ=DAILY;COUNT=3', 3);
  assert.equal(Object.keys(weekNumbers._wnCache).length, 0);
});
