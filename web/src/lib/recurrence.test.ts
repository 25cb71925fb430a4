import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent, parseCalendar, readEvent, type EventFields } from './ical-event.js';
import {
  deleteOccurrence, expandOccurrences, occurrencesPerRangeMax, readOccurrence, updateOccurrence, type Occurrence,
} from './recurrence.js';
import { instantFromWall, parseWall, wallDate, wallDateTime } from './timezone.js';

const berlin = 'Europe/Berlin';

function item(lines: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:series', 'DTSTAMP:20240101T000000Z',
    'SUMMARY:Series', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
}

function expand(text: string, from: string, to: string, zone = berlin): Occurrence[] {
  return expandOccurrences(parseCalendar(text), parseWall(from), parseWall(to), zone).sort((a, b) => a.start - b.start);
}

const starts = (occurrences: Occurrence[]) => occurrences.map((o) => wallDateTime(o.start));

test('a weekly BYDAY rule with COUNT', () => {
  const text = item(['DTSTART:20240304T100000Z', 'DTEND:20240304T110000Z', 'RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5']);
  assert.deepEqual(starts(expand(text, '2024-03-01', '2024-05-01', 'UTC')), [
    '2024-03-04T10:00', '2024-03-07T10:00', '2024-03-11T10:00', '2024-03-14T10:00', '2024-03-18T10:00',
  ]);
  const [first] = expand(text, '2024-03-01', '2024-05-01', 'UTC');
  assert.equal(first?.end, parseWall('2024-03-04T11:00'));
  assert.equal(first?.series, true);
});

test('UNTIL ends the series; only the range is returned', () => {
  const text = item(['DTSTART;VALUE=DATE:20240101', 'RRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20240115']);
  assert.deepEqual(starts(expand(text, '2024-01-01', '2024-12-31')).map((s) => s.slice(0, 10)),
    ['2024-01-01', '2024-01-04', '2024-01-07', '2024-01-10', '2024-01-13']);
  assert.deepEqual(starts(expand(text, '2024-01-05', '2024-01-11')).map((s) => s.slice(0, 10)), ['2024-01-07', '2024-01-10']);
});

test('an occurrence that started before the range and runs into it is included', () => {
  const text = item(['DTSTART;VALUE=DATE:20240101', 'DTEND;VALUE=DATE:20240104', 'RRULE:FREQ=WEEKLY']);
  assert.deepEqual(starts(expand(text, '2024-01-09', '2024-01-10')), ['2024-01-08T00:00']);
});

test('EXDATE skips an occurrence, in whatever zone it is written', () => {
  const text = item([
    'DTSTART;TZID=Europe/Berlin:20240304T090000', 'RRULE:FREQ=DAILY;COUNT=4',
    'EXDATE;TZID=Europe/Berlin:20240305T090000', 'EXDATE:20240306T080000Z',
  ]);
  assert.deepEqual(starts(expand(text, '2024-03-01', '2024-03-31')), ['2024-03-04T09:00', '2024-03-07T09:00']);
});

test('an override moves its occurrence, also into the range from outside it', () => {
  const text = [
    'BEGIN:VCALENDAR', 'VERSION:2.0',
    'BEGIN:VEVENT', 'UID:s', 'DTSTART:20240304T090000Z', 'DURATION:PT1H', 'RRULE:FREQ=WEEKLY;COUNT=3', 'SUMMARY:Weekly', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:s', 'RECURRENCE-ID:20240311T090000Z', 'DTSTART:20240312T150000Z', 'DTEND:20240312T160000Z',
    'SUMMARY:Moved', 'END:VEVENT',
    'END:VCALENDAR', '',
  ].join('\r\n');
  const all = expand(text, '2024-03-01', '2024-04-01', 'UTC');
  assert.deepEqual(all.map((o) => `${wallDateTime(o.start)} ${o.summary}`),
    ['2024-03-04T09:00 Weekly', '2024-03-12T15:00 Moved', '2024-03-18T09:00 Weekly']);
  assert.equal(all[1]?.recurrenceId, '2024-03-11T09:00:00Z');
  assert.equal(all[1]?.series, true);
  assert.deepEqual(starts(expand(text, '2024-03-12', '2024-03-13', 'UTC')), ['2024-03-12T15:00']);
  assert.deepEqual(starts(expand(text, '2024-03-11', '2024-03-12', 'UTC')), []);
});

test('a weekly 09:00 Europe/Berlin event stays 09:00 local across the March DST change', () => {
  const weekly: EventFields = {
    summary: 'Standup', location: '', description: '', allDay: false, start: '2024-03-18T09:00', end: '2024-03-18T09:15',
    rrule: { freq: 'WEEKLY', interval: 1, count: null, until: null, byday: [] },
  };
  const text = createEvent(weekly, berlin, 'dst', new Date());
  const occurrences = expand(text, '2024-03-15', '2024-04-10');
  assert.deepEqual(starts(occurrences), ['2024-03-18T09:00', '2024-03-25T09:00', '2024-04-01T09:00', '2024-04-08T09:00']);
  // The instants differ by an hour: 08:00Z before 31 March, 07:00Z after.
  assert.equal(new Date(instantFromWall(occurrences[0]!.start, berlin)).toISOString(), '2024-03-18T08:00:00.000Z');
  assert.equal(new Date(instantFromWall(occurrences[2]!.start, berlin)).toISOString(), '2024-04-01T07:00:00.000Z');
  // Seen from New York (which changed on 10 March), the same meeting moves by an hour.
  assert.deepEqual(starts(expand(text, '2024-03-15', '2024-04-02', 'America/New_York')), ['2024-03-18T04:00', '2024-03-25T04:00', '2024-04-01T03:00']);
});

test('all-day occurrences are never shifted by the viewer\'s zone', () => {
  const text = item(['DTSTART;VALUE=DATE:20240304', 'DTEND;VALUE=DATE:20240306', 'RRULE:FREQ=YEARLY;COUNT=3']);
  for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
    const occurrences = expand(text, '2024-01-01', '2033-01-01', zone);
    assert.deepEqual(occurrences.map((o) => `${wallDate(o.start)}/${wallDate(o.end)}`),
      ['2024-03-04/2024-03-06', '2025-03-04/2025-03-06', '2026-03-04/2026-03-06']);
    assert.ok(occurrences.every((o) => o.allDay));
  }
});

test('a long-running series still reaches today, on the same days as a full expansion', () => {
  const cases: Array<[string, string, string[]]> = [
    // 1 January 2000 was a Saturday; 2024-01-13 lies 1,254 weeks later, so its weekend is one of them.
    ['DTSTART;TZID=Europe/Berlin:20000101T070000', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU',
      ['2024-01-13T07:00', '2024-01-14T07:00', '2024-01-27T07:00', '2024-01-28T07:00']],
    ['DTSTART;TZID=Europe/Berlin:19900101T120000', 'FREQ=DAILY;BYDAY=MO', ['2024-01-08T12:00', '2024-01-15T12:00', '2024-01-22T12:00']],
    ['DTSTART;TZID=Europe/Berlin:20100105T120000', 'FREQ=DAILY;INTERVAL=9', ['2024-01-04T12:00', '2024-01-13T12:00', '2024-01-22T12:00']],
  ];
  for (const [dtstart, rule, expected] of cases) {
    assert.deepEqual(starts(expand(item([dtstart, `RRULE:${rule}`]), '2024-01-03', '2024-01-29')), expected, rule);
    // With COUNT the expansion cannot skip ahead and walks from DTSTART.
    assert.deepEqual(starts(expand(item([dtstart, `RRULE:${rule};COUNT=4000`]), '2024-01-03', '2024-01-29')), expected, rule);
  }
});

test('a hostile rule is cut off instead of hanging the page', () => {
  const never = item(['DTSTART:20240101T090000Z', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30']);
  let started = Date.now();
  expand(never, '2024-01-01', '2025-01-01');
  expand(never, '2025-01-01', '2026-01-01');
  assert.ok(Date.now() - started < 2_000);
  const secondly = item(['DTSTART:20240101T000000Z', 'RRULE:FREQ=SECONDLY']);
  started = Date.now();
  assert.equal(expand(secondly, '2024-01-01', '2024-01-08').length, occurrencesPerRangeMax);
  assert.ok(Date.now() - started < 2_000);
  const malformed = item(['DTSTART:20240101T090000Z', 'RRULE:FREQ=WEEKLY;BYMONTHDAY=3']);
  assert.doesNotThrow(() => expand(malformed, '2024-01-01', '2024-02-01'));
});

const weeklyZoned = item(['DTSTART;TZID=Europe/Berlin:20240304T090000', 'DTEND;TZID=Europe/Berlin:20240304T100000',
  'RRULE:FREQ=WEEKLY;COUNT=4', 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:-PT5M', 'DESCRIPTION:x', 'END:VALARM']);

test('editing one occurrence adds a RECURRENCE-ID override copied from the master', () => {
  const [, second] = expand(weeklyZoned, '2024-03-01', '2024-04-01');
  const id = second!.recurrenceId!;
  assert.equal(id, '2024-03-11T09:00:00');
  const fields = readOccurrence(weeklyZoned, id, berlin);
  assert.equal(fields.start, '2024-03-11T09:00');
  assert.equal(fields.end, '2024-03-11T10:00');
  const text = updateOccurrence(weeklyZoned, id, { ...fields, summary: 'Special', start: '2024-03-12T14:00', end: '2024-03-12T15:00' }, berlin);
  assert.match(text, /^RECURRENCE-ID;TZID=Europe\/Berlin:20240311T090000\r$/m);
  assert.equal(text.match(/BEGIN:VALARM/g)?.length, 2);
  assert.equal(text.match(/^RRULE/gm)?.length, 1);
  assert.deepEqual(expand(text, '2024-03-01', '2024-04-01').map((o) => `${wallDateTime(o.start)} ${o.summary}`),
    ['2024-03-04T09:00 Series', '2024-03-12T14:00 Special', '2024-03-18T09:00 Series', '2024-03-25T09:00 Series']);
  // A second edit patches the same override.
  const again = updateOccurrence(text, id, { ...readOccurrence(text, id, berlin), location: 'Café' }, berlin);
  assert.equal(again.match(/^RECURRENCE-ID/gm)?.length, 1);
  assert.equal(readEvent(again, berlin).overrides[0]?.location, 'Café');
});

test('deleting one occurrence adds an EXDATE and drops its override', () => {
  const [, second, third] = expand(weeklyZoned, '2024-03-01', '2024-04-01');
  const withOverride = updateOccurrence(weeklyZoned, third!.recurrenceId!, { ...readOccurrence(weeklyZoned, third!.recurrenceId!, berlin), summary: 'x' }, berlin);
  let text = deleteOccurrence(withOverride, second!.recurrenceId!)!;
  text = deleteOccurrence(text, third!.recurrenceId!)!;
  assert.match(text, /^EXDATE;TZID=Europe\/Berlin:20240311T090000\r$/m);
  assert.doesNotMatch(text, /RECURRENCE-ID/);
  assert.deepEqual(starts(expand(text, '2024-03-01', '2024-04-01')), ['2024-03-04T09:00', '2024-03-25T09:00']);
  assert.deepEqual(readEvent(text, berlin).exdates, ['2024-03-11T09:00:00', '2024-03-18T09:00:00']);
});

test('an item holding only an override shows it, and deleting it leaves nothing', () => {
  const text = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:o', 'RECURRENCE-ID:20240311T090000Z',
    'DTSTART:20240311T100000Z', 'SUMMARY:Invited once', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
  const [only] = expand(text, '2024-03-01', '2024-04-01', 'UTC');
  assert.equal(only?.series, false);
  assert.equal(only?.recurrenceId, '2024-03-11T09:00:00Z');
  assert.equal(deleteOccurrence(text, only!.recurrenceId!), null);
  assert.match(updateOccurrence(text, only!.recurrenceId!, { ...readOccurrence(text, only!.recurrenceId!, 'UTC'), summary: 'Renamed' }, 'UTC'),
    /^SUMMARY:Renamed\r$/m);
});
