import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent, readEvent, updateEvent, type EventFields } from './ical-event.js';

const berlin = 'Europe/Berlin';
const fields: EventFields = {
  summary: 'Planning', location: 'Room 1', description: '', allDay: false,
  start: '2024-03-18T09:00', end: '2024-03-18T10:30', rrule: null,
};

test('a new timed event gets a UID, a DTSTAMP and the user zone with its VTIMEZONE', () => {
  const text = createEvent(fields, berlin, 'uid-1', new Date('2024-03-01T12:00:00Z'));
  assert.match(text, /^UID:uid-1\r$/m);
  assert.match(text, /^DTSTAMP:20240301T120000Z\r$/m);
  assert.match(text, /^DTSTART;TZID=Europe\/Berlin:20240318T090000\r$/m);
  assert.match(text, /^DTEND;TZID=Europe\/Berlin:20240318T103000\r$/m);
  assert.match(text, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin\r\n/);
  assert.ok(text.indexOf('BEGIN:VTIMEZONE') < text.indexOf('BEGIN:VEVENT'));
  assert.doesNotMatch(text, /^DESCRIPTION/m);
  assert.match(createEvent(fields, berlin, 'given-uid'), /^UID:given-uid\r$/m);
});

test('a zone alias is written under the canonical name the library gives', () => {
  const text = createEvent(fields, 'Asia/Calcutta', 'uid-2', new Date());
  assert.match(text, /^DTSTART;TZID=Asia\/Kolkata:20240318T090000\r$/m);
  assert.match(text, /^TZID:Asia\/Kolkata\r$/m);
});

test('a user in UTC gets UTC times', () => {
  const text = createEvent(fields, 'UTC', 'uid-3', new Date());
  assert.match(text, /^DTSTART:20240318T090000Z\r$/m);
  assert.doesNotMatch(text, /VTIMEZONE/);
});

test('an all-day event is a DATE with DTEND the day after, in every zone', () => {
  const text = createEvent({ ...fields, allDay: true, start: '2024-03-04', end: '2024-03-05' }, berlin, 'uid-4', new Date());
  assert.match(text, /^DTSTART;VALUE=DATE:20240304\r$/m);
  assert.match(text, /^DTEND;VALUE=DATE:20240305\r$/m);
  for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', berlin]) {
    const model = readEvent(text, zone);
    assert.equal(model.allDay, true);
    assert.equal(model.start, '2024-03-04');
    assert.equal(model.end, '2024-03-05');
  }
});

test('an all-day event without DTEND lasts one day, and an end not after the start is mended', () => {
  const text = createEvent({ ...fields, allDay: true, start: '2024-03-04', end: '2024-03-04' }, berlin, 'uid-5', new Date());
  assert.match(text, /^DTEND;VALUE=DATE:20240305\r$/m);
  const bare = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20240304\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
  assert.equal(readEvent(bare, berlin).end, '2024-03-05');
});

const foreign = [
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Other//Client//EN', 'X-WR-CALNAME:Work',
  'BEGIN:VTIMEZONE', 'TZID:America/New_York',
  'BEGIN:DAYLIGHT', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'TZNAME:EDT', 'DTSTART:19700308T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'TZNAME:EST', 'DTSTART:19701101T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU', 'END:STANDARD', 'END:VTIMEZONE',
  'BEGIN:VEVENT', 'UID:foreign-1', 'DTSTAMP:20240101T000000Z', 'SUMMARY;LANGUAGE=en:Review',
  'DTSTART;TZID=America/New_York:20240315T090000', 'DURATION:PT1H',
  'RRULE:FREQ=MONTHLY;BYMONTHDAY=15', 'ORGANIZER;CN=Ann:mailto:ann@example.com',
  'ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@example.com', 'X-CUSTOM-THING;X-PARAM=1:keep me',
  'CATEGORIES:a,b', 'SEQUENCE:4',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Reminder', 'TRIGGER:-PT15M', 'END:VALARM',
  'END:VEVENT', 'END:VCALENDAR', '',
].join('\r\n');

test('a zoned event from another client reads in the user zone', () => {
  const model = readEvent(foreign, berlin);
  // 15 March 2024: New York is already on EDT (UTC-4), Berlin still on CET (UTC+1).
  assert.equal(model.start, '2024-03-15T14:00');
  assert.equal(model.end, '2024-03-15T15:00');
  assert.equal(model.tzid, 'America/New_York');
  assert.equal(model.summary, 'Review');
  assert.deepEqual(model.rrule, { freq: 'MONTHLY', interval: 1, count: null, until: null, byday: [] });
  assert.equal(model.repeatCustom, true);
});

test('an edit rewrites only what changed and keeps what the editor does not know', () => {
  const before = readEvent(foreign, berlin);
  const text = updateEvent(foreign, { ...before, summary: 'Design review' }, berlin, new Date('2024-03-02T00:00:00Z'));
  const lines = (t: string) => t.split('\r\n').filter((line) => !/^(SUMMARY|DTSTAMP|LAST-MODIFIED)[;:]/.test(line));
  assert.deepEqual(lines(text), lines(foreign));
  assert.match(text, /^SUMMARY;LANGUAGE=en:Design review\r$/m);
  assert.match(text, /^DTSTAMP:20240302T000000Z\r$/m);
  assert.match(text, /^RRULE:FREQ=MONTHLY;BYMONTHDAY=15\r$/m);
});

test('new times stay in the event\'s own zone, a new rule replaces a custom one, and SEQUENCE goes up', () => {
  const before = readEvent(foreign, berlin);
  const text = updateEvent(foreign, {
    ...before, start: '2024-03-15T16:00', end: '2024-03-15T17:30',
    rrule: { freq: 'WEEKLY', interval: 2, count: 3, until: null, byday: ['FR'] },
  }, berlin);
  assert.match(text, /^DTSTART;TZID=America\/New_York:20240315T110000\r$/m);
  assert.match(text, /^DTEND;TZID=America\/New_York:20240315T123000\r$/m);
  assert.doesNotMatch(text, /^DURATION/m);
  assert.match(text, /^RRULE:FREQ=WEEKLY;(?=.*INTERVAL=2)(?=.*COUNT=3)(?=.*BYDAY=FR).*\r$/m);
  assert.match(text, /^SEQUENCE:5\r$/m);
  assert.match(text, /^X-CUSTOM-THING;X-PARAM=1:keep me\r$/m);
  assert.match(text, /BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM/);
});

test('UNTIL is the last day the user sees, written in UTC for a zoned series and as a DATE all day', () => {
  const weekly = { freq: 'WEEKLY' as const, interval: 1, count: null, until: '2024-04-30', byday: [] };
  const timed = createEvent({ ...fields, rrule: weekly }, berlin, 'u', new Date());
  assert.match(timed, /UNTIL=20240430T215959Z/);
  assert.equal(readEvent(timed, berlin).rrule?.until, '2024-04-30');
  const allDay = createEvent({ ...fields, allDay: true, start: '2024-03-04', end: '2024-03-05', rrule: weekly }, berlin, 'u', new Date());
  assert.match(allDay, /UNTIL=20240430(;|\r)/);
  assert.equal(readEvent(allDay, berlin).rrule?.until, '2024-04-30');
});

test('UTC, floating and TZID-without-VTIMEZONE times read correctly', () => {
  const wrap = (line: string) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n${line}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
  assert.equal(readEvent(wrap('DTSTART:20240701T080000Z'), berlin).start, '2024-07-01T10:00');
  assert.equal(readEvent(wrap('DTSTART:20240701T080000'), 'America/New_York').start, '2024-07-01T08:00');
  assert.equal(readEvent(wrap('DTSTART;TZID=Asia/Tokyo:20240701T170000'), berlin).start, '2024-07-01T10:00');
  assert.equal(readEvent(wrap('DTSTART:20240701T080000'), berlin).tzid, null);
});

test('an edit of a floating event keeps it floating', () => {
  const text = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240701T080000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
  const updated = updateEvent(text, { ...readEvent(text, berlin), start: '2024-07-02T09:00', end: '2024-07-02T10:00' }, berlin);
  assert.match(updated, /^DTSTART:20240702T090000\r$/m);
});
