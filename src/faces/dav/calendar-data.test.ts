import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleBudget } from '../../content/recurrence-budget.js';
import { limits } from '../../core/limits.js';
import { expand, limitRecurrenceSet } from './calendar-data.js';

const berlin =
  'BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n' +
  'BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n';
const weekly = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n${berlin}BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260320T090000\r\nDTEND;TZID=Europe/Berlin:20260320T093000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const ms = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15));

test('expand: instances across a daylight saving change keep their local time, in UTC, with a RECURRENCE-ID and no rules or zones', () => {
  const out = expand(weekly, { startMs: ms('20260325T000000Z'), endMs: ms('20260405T000000Z') }, new RuleBudget(limits.ruleStepsBase));
  assert.equal(out.split('BEGIN:VEVENT').length - 1, 2, out);
  // 09:00 in Berlin is 08:00 UTC before 29 March and 07:00 UTC after.
  assert.match(out, /DTSTART:20260327T080000Z\r\nDTEND:20260327T083000Z\r\n[\s\S]*RECURRENCE-ID:20260327T080000Z\r\n/);
  assert.match(out, /DTSTART:20260403T070000Z\r\nDTEND:20260403T073000Z\r\n[\s\S]*RECURRENCE-ID:20260403T070000Z\r\n/);
  assert.doesNotMatch(out, /RRULE|VTIMEZONE|TZID/);
  assert.match(out, /BEGIN:VALARM/, 'alarms come with their instance');
});

test('expand: a single event in range stays one, without a RECURRENCE-ID; without budget the object is served as stored', () => {
  const single = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260110T100000Z\r\nDTEND:20260110T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
  const out = expand(single, { startMs: ms('20260110T000000Z'), endMs: ms('20260111T000000Z') }, new RuleBudget(limits.ruleStepsBase));
  assert.match(out, /DTSTART:20260110T100000Z/);
  assert.doesNotMatch(out, /RECURRENCE-ID/);
  assert.equal(expand(weekly, { startMs: ms('20260325T000000Z'), endMs: ms('20260405T000000Z') }, new RuleBudget(0)), weekly);
});

test('limit-recurrence-set: an object without overrides out of range is served byte for byte', () => {
  assert.equal(limitRecurrenceSet(weekly, { startMs: ms('20260325T000000Z'), endMs: ms('20260405T000000Z') }, new RuleBudget(limits.ruleStepsBase)), weekly);
});
