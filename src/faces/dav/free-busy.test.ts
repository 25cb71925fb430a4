import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleBudget } from '../../content/recurrence-budget.js';
import { limits } from '../../core/limits.js';
import type { Range } from './time-range.js';
import { FreeBusy, merged } from './free-busy.js';

const ms = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15));
const event = (lines: string[]) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20260101T000000Z\r\n${lines.map((l) => `${l}\r\n`).join('')}END:VEVENT\r\nEND:VCALENDAR\r\n`;
const periods = (text: string) => [...text.replace(/\r\n /g, '').matchAll(/FREEBUSY;FBTYPE=([A-Z-]+):([^\r\n]+)/g)].map((m) => `${m[1]} ${m[2]}`);
/** The answer for `items`, added one by one as the route does. */
function freeBusy(items: string[], range: Range, budget: RuleBudget, nowMs: number): string {
  const busy = new FreeBusy(range, budget);
  for (const data of items) busy.add(data);
  return busy.text(nowMs);
}
const day = { startMs: ms('20260301T000000Z'), endMs: ms('20260302T000000Z') };

test('merged joins overlapping and touching periods, and keeps the others apart', () => {
  assert.deepEqual(merged([[5, 7], [1, 3], [3, 4], [6, 9], [11, 12]]), [[1, 4], [5, 9], [11, 12]]);
});

test('periods are clipped to the range; DTSTAMP comes from the clock given', () => {
  const text = freeBusy([event(['DTSTART:20260228T230000Z', 'DTEND:20260301T010000Z'])], day, new RuleBudget(limits.ruleStepsBase), ms('20260215T120000Z'));
  assert.deepEqual(periods(text), ['BUSY 20260301T000000Z/20260301T010000Z']);
  assert.match(text, /DTSTAMP:20260215T120000Z/);
});

test('a series the budget cannot walk is busy from where the walk stopped to the end of the range', () => {
  const since2020 = event(['DTSTART:20200101T100000Z', 'DTEND:20200101T110000Z', 'RRULE:FREQ=DAILY']);
  assert.deepEqual(periods(freeBusy([since2020], day, new RuleBudget(100), 0)), ['BUSY 20260301T000000Z/20260302T000000Z']);
  assert.deepEqual(periods(freeBusy([since2020], day, new RuleBudget(limits.ruleStepsRequestMax), 0)), ['BUSY 20260301T100000Z/20260301T110000Z']);
});
