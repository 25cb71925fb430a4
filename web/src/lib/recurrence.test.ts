import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent, parseCalendar, readEvent, type EventFields } from './ical-event.js';
import {
  deleteOccurrence, expandOccurrences, occurrencesPerRangeMax, readOccurrence, updateOccurrence, updateSeries, type Occurrence,
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

// "All events": a weekly Monday 09:00 Berlin series of five (4 March – 1 April, across the 31 March DST
// change) with 11 March deleted (once as written here, once again in UTC) and 18 March edited in place.
const weeklyFive = ['BEGIN:VCALENDAR', 'VERSION:2.0',
  'BEGIN:VEVENT', 'UID:w5', 'DTSTAMP:20240101T000000Z', 'SUMMARY:Series',
  'DTSTART;TZID=Europe/Berlin:20240304T090000', 'DTEND;TZID=Europe/Berlin:20240304T100000', 'RRULE:FREQ=WEEKLY;COUNT=5',
  'EXDATE;TZID=Europe/Berlin:20240311T090000', 'EXDATE:20240311T080000Z', 'X-KEEP:master', 'END:VEVENT',
  'BEGIN:VEVENT', 'UID:w5', 'DTSTAMP:20240101T000000Z', 'RECURRENCE-ID;TZID=Europe/Berlin:20240318T090000',
  'DTSTART;TZID=Europe/Berlin:20240318T090000', 'DTEND;TZID=Europe/Berlin:20240318T100000', 'SUMMARY:Edited',
  'X-KEEP:override', 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:-PT5M', 'DESCRIPTION:x', 'END:VALARM', 'END:VEVENT',
  'END:VCALENDAR', ''].join('\r\n');

const shown = (text: string, zone = berlin) => expand(text, '2024-02-01', '2024-06-01', zone).map((o) => `${wallDateTime(o.start)} ${o.summary}`);
const series = (text: string, change: Partial<EventFields>) => updateSeries(text, { ...readEvent(text, berlin), ...change }, berlin);

test('moving all events by an hour moves the deleted and the edited occurrences with them', () => {
  assert.deepEqual(shown(weeklyFive), ['2024-03-04T09:00 Series', '2024-03-18T09:00 Edited', '2024-03-25T09:00 Series', '2024-04-01T09:00 Series']);
  const text = series(weeklyFive, { start: '2024-03-04T10:00', end: '2024-03-04T11:00' });
  assert.deepEqual(shown(text), ['2024-03-04T10:00 Series', '2024-03-18T10:00 Edited', '2024-03-25T10:00 Series', '2024-04-01T10:00 Series']);
  // Each EXDATE keeps the form it was written in.
  assert.match(text, /^EXDATE;TZID=Europe\/Berlin:20240311T100000\r$/m);
  assert.match(text, /^EXDATE:20240311T090000Z\r$/m);
  assert.match(text, /^RECURRENCE-ID;TZID=Europe\/Berlin:20240318T100000\r$/m);
  assert.match(text, /^DTSTART;TZID=Europe\/Berlin:20240318T100000\r$/m);
  assert.match(text, /^DTEND;TZID=Europe\/Berlin:20240318T110000\r$/m);
  // Nothing else of the exceptions changes.
  assert.match(text, /^X-KEEP:master\r$/m);
  assert.match(text, /SUMMARY:Edited\r\nX-KEEP:override\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\n/);
  assert.equal(text.match(/^DTSTAMP:20240101T000000Z\r$/gm)?.length, 1);
  // Seen from another zone the series still has no extra or revived occurrence.
  assert.equal(shown(text, 'America/New_York').length, 4);
});

test('moving all events by a day moves the deleted and the edited occurrences to the new days', () => {
  const text = series(weeklyFive, { start: '2024-03-05T09:00', end: '2024-03-05T10:00' });
  assert.deepEqual(shown(text), ['2024-03-05T09:00 Series', '2024-03-19T09:00 Edited', '2024-03-26T09:00 Series', '2024-04-02T09:00 Series']);
  assert.match(text, /^EXDATE;TZID=Europe\/Berlin:20240312T090000\r$/m);
  assert.match(text, /^EXDATE:20240312T080000Z\r$/m);
  assert.deepEqual(readEvent(text, berlin).overrides.map((o) => o.start), ['2024-03-19T09:00']);
});

test('an occurrence moved on its own keeps its time when all events move', () => {
  const id = '2024-03-18T09:00:00';
  const own = updateOccurrence(weeklyFive, id, { ...readOccurrence(weeklyFive, id, berlin), start: '2024-03-20T14:00', end: '2024-03-20T15:00' }, berlin);
  for (const [start, end] of [['2024-03-04T10:00', '2024-03-04T11:00'], ['2024-03-05T09:00', '2024-03-05T10:00']] as const) {
    const text = series(own, { start, end });
    assert.match(text, /^DTSTART;TZID=Europe\/Berlin:20240320T140000\r$/m);
    const days = shown(text);
    assert.equal(days.length, 4);
    assert.ok(days.includes('2024-03-20T14:00 Edited'));
    assert.ok(!days.some((day) => day.startsWith('2024-03-18') || day.startsWith('2024-03-19')));
  }
});

test('a shorter COUNT or UNTIL drops the exceptions past the new end', () => {
  const withLast = deleteOccurrence(weeklyFive, '2024-04-01T09:00:00')!;
  const readRule = readEvent(withLast, berlin).rrule!;
  const two = series(withLast, { rrule: { ...readRule, count: 2 } });
  assert.deepEqual(shown(two), ['2024-03-04T09:00 Series']);
  assert.doesNotMatch(two, /RECURRENCE-ID|20240401/);
  // 11 March is still one of the two, so it stays deleted.
  assert.match(two, /^EXDATE;TZID=Europe\/Berlin:20240311T090000\r$/m);
  const until = series(withLast, { rrule: { ...readRule, count: null, until: '2024-03-12' } });
  assert.deepEqual(shown(until), ['2024-03-04T09:00 Series']);
  assert.doesNotMatch(until, /RECURRENCE-ID/);
});

test('new weekdays drop the exceptions that are no longer occurrences and keep the others', () => {
  let text = item(['DTSTART;TZID=Europe/Berlin:20240304T090000', 'DTEND;TZID=Europe/Berlin:20240304T100000',
    'RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6']);
  const edit = (id: string, summary: string) => { text = updateOccurrence(text, id, { ...readOccurrence(text, id, berlin), summary }, berlin); };
  text = deleteOccurrence(text, '2024-03-07T09:00:00')!; // Thursday
  text = deleteOccurrence(text, '2024-03-11T09:00:00')!; // Monday
  edit('2024-03-14T09:00:00', 'Thursday');
  edit('2024-03-18T09:00:00', 'Monday');
  const rrule = readEvent(text, berlin).rrule!;
  const updated = series(text, { rrule: { ...rrule, count: null, until: '2024-03-24', byday: ['MO', 'WE'] } });
  assert.deepEqual(shown(updated), ['2024-03-04T09:00 Series', '2024-03-06T09:00 Series', '2024-03-13T09:00 Series',
    '2024-03-18T09:00 Monday', '2024-03-20T09:00 Series']);
  assert.doesNotMatch(updated, /20240307|20240314|Thursday/);
  assert.match(updated, /^EXDATE;TZID=Europe\/Berlin:20240311T090000\r$/m);
});

test('an all-day flip rewrites the exceptions as dates, and back', () => {
  const allDay = series(weeklyFive, { allDay: true, start: '2024-03-04', end: '2024-03-05' });
  assert.deepEqual(shown(allDay), ['2024-03-04T00:00 Series', '2024-03-18T00:00 Edited', '2024-03-25T00:00 Series', '2024-04-01T00:00 Series']);
  assert.match(allDay, /^EXDATE;VALUE=DATE:20240311\r$/m);
  assert.match(allDay, /^RECURRENCE-ID;VALUE=DATE:20240318\r$/m);
  assert.ok(expand(allDay, '2024-02-01', '2024-06-01').every((o) => o.allDay));
  const timed = series(allDay, { allDay: false, start: '2024-03-04T08:00', end: '2024-03-04T08:30' });
  assert.deepEqual(shown(timed), ['2024-03-04T08:00 Series', '2024-03-18T08:00 Edited', '2024-03-25T08:00 Series', '2024-04-01T08:00 Series']);
  assert.match(timed, /^RECURRENCE-ID;TZID=Europe\/Berlin:20240318T080000\r$/m);
});

test('an edit that moves nothing leaves the exceptions as they are', () => {
  const text = series(weeklyFive, { summary: 'Renamed', end: '2024-03-04T10:30' });
  const exceptions = (t: string) => t.split('\r\n').filter((line) => /^(EXDATE|RECURRENCE-ID)/.test(line));
  assert.deepEqual(exceptions(text), exceptions(weeklyFive));
  assert.deepEqual(shown(text), ['2024-03-04T09:00 Renamed', '2024-03-18T09:00 Edited', '2024-03-25T09:00 Renamed', '2024-04-01T09:00 Renamed']);
});
