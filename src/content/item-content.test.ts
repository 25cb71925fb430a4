import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkItemContent } from './item-content.js';

const event = (...lines: string[]) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'BEGIN:VEVENT', 'UID:e1', 'DTSTAMP:20260101T000000Z', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

test('a recurring event is indexed up to its last instance', () => {
  const check = checkItemContent('events', event('DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=3'));
  assert.ok(check.ok);
  assert.equal(check.index.startMs, Date.UTC(2026, 0, 5, 9));
  assert.equal(check.index.endMs, Date.UTC(2026, 0, 19, 10));
});

// Without the budget this never returns, and the test run hangs.
test('a rule that never matches is cut off by the step budget and counts as open-ended, instead of hanging the server', () => {
  const check = checkItemContent('events', event('DTSTART:20240101T090000Z', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30'));
  assert.ok(check.ok);
  assert.equal(check.index.endMs, null);
});
