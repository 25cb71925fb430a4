import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkItem } from '../../../kinds/registry.js';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { child, children, el, text, type WbxmlElement } from '../wbxml/element.js';
import { calendarMapper, compactCodec, OccurrenceEdits } from './calendar.js';
import type { EasVersion } from './item-mapper.js';
import { mapperHarness, throwsClearly } from './mapper-harness.js';
import { parseRecurrence } from './recurrence.js';
import {
  decodeTimeZoneBlob, encodeTimeZoneBlob, fixedOffsetInfo, ianaVtimezone, sameRules, timeZoneInfoFromVtimezone,
} from './timezone-blob.js';

// ---------------------------------------------------------------------------------------------------
// Helpers

const crlf = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;
const cal = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Calendar', name, ...kids);
const asb = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('AirSyncBase', name, ...kids);

const { ctx, wire, toEas, fromEas, canonical, fuzzFromEas } = mapperHarness(calendarMapper, 'events', { uid: 'new-uid@test', now: Date.UTC(2026, 5, 1, 12) });

function value(app: WbxmlElement, name: string, ns = 'Calendar'): string | undefined {
  return text(child(app, name, ns));
}

function without(app: WbxmlElement, ...names: string[]): WbxmlElement {
  return { ...app, children: app.children.filter((c) => typeof c === 'string' || c instanceof Uint8Array || !names.includes(c.name)) };
}

function replacing(app: WbxmlElement, ...replacements: WbxmlElement[]): WbxmlElement {
  const names = replacements.map((r) => r.name);
  return { ...app, children: [...without(app, ...names).children, ...replacements] };
}

function vevents(ics: string): ICAL.Component[] {
  return new ICAL.Component(ICAL.parse(ics) as unknown as unknown[]).getAllSubcomponents('vevent');
}

function master(ics: string): ICAL.Component {
  return vevents(ics).find((v) => !v.hasProperty('recurrence-id')) as ICAL.Component;
}

function propLine(c: ICAL.Component, name: string): string | undefined {
  return c.getFirstProperty(name)?.toICALString();
}

/** Asserts a clear Error (not a TypeError) whose message matches. */
function berlinBlob(): string {
  return encodeTimeZoneBlob(timeZoneInfoFromVtimezone(ianaVtimezone('Europe/Berlin') as ICAL.Component, 2026, 'Europe/Berlin'));
}

/** The blob Outlook writes for Berlin: Windows names, laid out by hand. */
function outlookBerlinBlob(): string {
  const buf = Buffer.alloc(172);
  buf.writeInt32LE(-60, 0);
  buf.write('W. Europe Standard Time', 4, 'utf16le');
  [0, 10, 0, 5, 3, 0, 0, 0].forEach((v, i) => buf.writeUInt16LE(v, 68 + i * 2));
  buf.write('W. Europe Daylight Time', 88, 'utf16le');
  [0, 3, 0, 5, 2, 0, 0, 0].forEach((v, i) => buf.writeUInt16LE(v, 152 + i * 2));
  buf.writeInt32LE(-60, 168);
  return buf.toString('base64');
}

function newYorkBlob(): string {
  return encodeTimeZoneBlob(timeZoneInfoFromVtimezone(ianaVtimezone('America/New_York') as ICAL.Component, 2026, ''));
}

// ---------------------------------------------------------------------------------------------------
// Fixtures

const berlinVtimezone = [
  'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'TZNAME:CEST', 'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'TZNAME:CET', 'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'END:STANDARD',
  'END:VTIMEZONE',
];

/** A weekly meeting in Berlin with one deleted and one moved occurrence, and much ActiveSync cannot carry. */
const berlinMeeting = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN', 'CALSCALE:GREGORIAN',
  ...berlinVtimezone,
  'BEGIN:VEVENT',
  'UID:standup-1@example.com',
  'DTSTAMP:20260101T120000Z',
  'CREATED:20251201T080000Z',
  'LAST-MODIFIED:20260101T120000Z',
  'SEQUENCE:2',
  'DTSTART;TZID=Europe/Berlin:20260302T090000',
  'DTEND;TZID=Europe/Berlin:20260302T093000',
  'SUMMARY;LANGUAGE=en:Standup',
  'LOCATION:Room 1',
  'DESCRIPTION:Daily sync\\nBring notes',
  'RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE',
  'EXDATE;TZID=Europe/Berlin:20260304T090000',
  'ORGANIZER;CN=Alice Example:mailto:alice@example.com',
  'ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com',
  'ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE:mailto:carol@example.com',
  'ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;CN=Room 1:mailto:room1@ex.com',
  'ATTENDEE;PARTSTAT=DECLINED;SCHEDULE-STATUS=2.0:mailto:dave@example.com',
  'ATTENDEE;CUTYPE=GROUP:urn:uuid:team-42',
  'CATEGORIES:Work,Team',
  'CLASS:PRIVATE',
  'TRANSP:OPAQUE',
  'X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE',
  'URL:https://example.com/standup',
  'GEO:52.52;13.405',
  'COMMENT:keep me',
  'ATTACH;FMTTYPE=text/plain:https://example.com/agenda.txt',
  'CONFERENCE;FEATURE=VIDEO;VALUE=URI:https://meet.example.com/standup',
  'X-FOO;X-PARAM=a:bar',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Standup soon', 'TRIGGER:-PT15M', 'X-WR-ALARMUID:a1', 'END:VALARM',
  'BEGIN:VALARM', 'ACTION:AUDIO', 'TRIGGER;RELATED=START:-PT1H', 'X-KEEP:1', 'END:VALARM',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:standup-1@example.com',
  'DTSTAMP:20260101T120000Z',
  'RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000',
  'DTSTART;TZID=Europe/Berlin:20260309T110000',
  'DTEND;TZID=Europe/Berlin:20260309T113000',
  'SUMMARY;LANGUAGE=en:Standup (moved)',
  'LOCATION:Room 1',
  'DESCRIPTION:Daily sync\\nBring notes',
  'ORGANIZER;CN=Alice Example:mailto:alice@example.com',
  'ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com',
  'CATEGORIES:Work,Team',
  'CLASS:PRIVATE',
  'X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE',
  'X-OVERRIDE-ONLY:1',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Standup soon', 'TRIGGER:-PT15M', 'END:VALARM',
  'END:VEVENT',
  'END:VCALENDAR',
);

const allDayTrip = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:trip@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART;VALUE=DATE:20261224', 'DTEND;VALUE=DATE:20261227',
  'SUMMARY:Holidays', 'TRANSP:TRANSPARENT', 'X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC',
  'END:VEVENT', 'END:VCALENDAR',
);

const monthlyNewYork = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  ...(ianaVtimezone('America/New_York') as ICAL.Component).toString().split('\r\n'),
  'BEGIN:VEVENT', 'UID:board@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART;TZID=America/New_York:20260113T170000', 'DTEND;TZID=America/New_York:20260113T183000',
  'SUMMARY:Board meeting', 'RRULE:FREQ=MONTHLY;UNTIL=20261208T220000Z;BYDAY=2TU',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Board', 'TRIGGER:-P1D', 'END:VALARM',
  'END:VEVENT', 'END:VCALENDAR',
);

const yearlyBirthday = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:birthday@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART;VALUE=DATE:19900517', 'DTEND;VALUE=DATE:19900518', 'SUMMARY:Birthday',
  'RRULE:FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=17', 'CATEGORIES:Birthday', 'TRANSP:TRANSPARENT',
  'END:VEVENT', 'END:VCALENDAR',
);

const yearlyNthUntilDate = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:thanksgiving@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART;VALUE=DATE:20261126', 'SUMMARY:Thanksgiving',
  'RRULE:FREQ=YEARLY;UNTIL=20301128;BYMONTH=11;BYDAY=4TH',
  'EXDATE;VALUE=DATE:20271125',
  'END:VEVENT', 'END:VCALENDAR',
);

const utcEvent = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:utc@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART:20261122T090000Z', 'DTEND:20261122T100000Z', 'SUMMARY:Call with UTC folks',
  'ORGANIZER:mailto:ops@example.com', 'ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com',
  'STATUS:CONFIRMED',
  'END:VEVENT', 'END:VCALENDAR',
);

const floatingEvent = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:floating@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART:20261122T070000', 'DURATION:PT1H30M', 'SUMMARY:Morning run', 'CLASS:CONFIDENTIAL',
  'END:VEVENT', 'END:VCALENDAR',
);

const inexpressible = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:odd@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'SUMMARY:First and last Monday or Friday',
  'RRULE:FREQ=MONTHLY;COUNT=12;BYDAY=MO,FR;BYSETPOS=1,-1', 'RDATE:20260615T090000Z',
  'EXDATE:20260202T090000Z',
  'END:VEVENT',
  'BEGIN:VEVENT', 'UID:odd@example.com', 'DTSTAMP:20260101T120000Z', 'RECURRENCE-ID:20260130T090000Z',
  'DTSTART:20260130T140000Z', 'DTEND:20260130T150000Z', 'SUMMARY:First and last Monday or Friday (later)',
  'END:VEVENT', 'END:VCALENDAR',
);

const kolkataNoVtimezone = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VEVENT', 'UID:kolkata@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART;TZID=Asia/Kolkata:20260310T100000', 'DTEND;TZID=Asia/Kolkata:20260310T110000',
  'SUMMARY:Sync with Bangalore', 'RRULE:FREQ=DAILY;INTERVAL=2;COUNT=5',
  'END:VEVENT', 'END:VCALENDAR',
);

const sydneyWithExceptions = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  ...(ianaVtimezone('Australia/Sydney') as ICAL.Component).toString().split('\r\n'),
  'BEGIN:VEVENT', 'UID:sydney@example.com', 'DTSTAMP:20260101T120000Z',
  'DTSTART;TZID=Australia/Sydney:20260930T083000', 'DTEND;TZID=Australia/Sydney:20260930T090000',
  'SUMMARY:Coffee', 'RRULE:FREQ=DAILY;COUNT=10', 'EXDATE;TZID=Australia/Sydney:20261003T083000',
  'END:VEVENT',
  'BEGIN:VEVENT', 'UID:sydney@example.com', 'DTSTAMP:20260101T120000Z',
  'RECURRENCE-ID;TZID=Australia/Sydney:20261004T083000',
  'DTSTART;VALUE=DATE:20261004', 'DTEND;VALUE=DATE:20261005', 'SUMMARY:Coffee all day',
  'END:VEVENT', 'END:VCALENDAR',
);

const fixtures: Record<string, string> = {
  'a timed Berlin meeting with exceptions and attendees': berlinMeeting,
  'an all-day multi-day event': allDayTrip,
  'a monthly nth-weekday series with UNTIL in New York': monthlyNewYork,
  'a yearly all-day series': yearlyBirthday,
  'a yearly nth-weekday all-day series with a DATE UNTIL and EXDATE': yearlyNthUntilDate,
  'a UTC event': utcEvent,
  'a floating event with DURATION': floatingEvent,
  'a rule ActiveSync cannot express, with RDATE and an override': inexpressible,
  'an IANA TZID without VTIMEZONE': kolkataNoVtimezone,
  'a Sydney series across the DST change with an all-day override': sydneyWithExceptions,
};

// ---------------------------------------------------------------------------------------------------
// (2) hub → EAS → hub, with the original as the existing item: nothing changes

for (const [name, ics] of Object.entries(fixtures)) {
  for (const version of ['14.0', '14.1', '16.1'] as const) {
    test(`round trip hub → EAS ${version} → hub keeps ${name} unchanged`, () => {
      assert.ok(checkItem('events', ics).ok, 'the fixture itself is valid');
      const back = fromEas(toEas(ics, version), ics, version);
      assert.equal(back, canonical(ics));
    });
  }
}

test('fixtures are in ical.js serialization, so "unchanged" above means byte for byte', () => {
  for (const ics of Object.values(fixtures)) {
    assert.equal(canonical(ics), ics);
  }
});

// ---------------------------------------------------------------------------------------------------
// What each field looks like toward the client

test('the Berlin meeting, field by field', () => {
  const app = toEas(berlinMeeting, '14.1');
  const tz = decodeTimeZoneBlob(value(app, 'Timezone') as string);
  assert.equal(tz.standardName, 'Europe/Berlin');
  assert.ok(sameRules(tz, decodeTimeZoneBlob(berlinBlob())));
  assert.equal(value(app, 'DtStamp'), '20260101T120000Z');
  assert.equal(value(app, 'StartTime'), '20260302T080000Z');
  assert.equal(value(app, 'EndTime'), '20260302T083000Z');
  assert.equal(value(app, 'AllDayEvent'), '0');
  assert.equal(value(app, 'Subject'), 'Standup');
  assert.equal(value(app, 'Location'), 'Room 1');
  assert.equal(value(asb('x', child(app, 'Body', 'AirSyncBase')), 'Body', 'AirSyncBase') !== undefined, true);
  assert.equal(value(child(app, 'Body', 'AirSyncBase') as WbxmlElement, 'Data', 'AirSyncBase'), 'Daily sync\r\nBring notes');
  assert.equal(value(app, 'UID'), 'standup-1@example.com');
  assert.equal(value(app, 'OrganizerName'), 'Alice Example');
  assert.equal(value(app, 'OrganizerEmail'), 'alice@example.com');
  const attendees = children(child(app, 'Attendees', 'Calendar'), 'Attendee', 'Calendar').map((a) =>
    ['Email', 'Name', 'AttendeeStatus', 'AttendeeType'].map((n) => value(a, n)));
  assert.deepEqual(attendees, [
    ['bob@example.com', 'Bob', '3', '1'],
    ['carol@example.com', 'carol@example.com', '2', '2'],
    ['room1@ex.com', 'Room 1', '5', '3'],
    ['dave@example.com', 'dave@example.com', '4', '1'],
  ]);
  assert.deepEqual(children(child(app, 'Categories', 'Calendar'), 'Category', 'Calendar').map((c) => text(c)), ['Work', 'Team']);
  assert.equal(value(app, 'Sensitivity'), '2');
  assert.equal(value(app, 'BusyStatus'), '1');
  assert.equal(value(app, 'Reminder'), '15');
  assert.equal(value(app, 'MeetingStatus'), '3');
  const recurrence = parseRecurrence(child(app, 'Recurrence', 'Calendar') as WbxmlElement, 'Calendar', {
    formatDate: () => '', parseDate: () => 0,
  });
  assert.deepEqual(recurrence, { type: 1, interval: 1, occurrences: 10, dayOfWeek: 2 | 8, firstDayOfWeek: 1 });
  const exceptions = children(child(app, 'Exceptions', 'Calendar'), 'Exception', 'Calendar');
  assert.equal(exceptions.length, 2);
  assert.equal(value(exceptions[0] as WbxmlElement, 'Deleted'), '1');
  assert.equal(value(exceptions[0] as WbxmlElement, 'ExceptionStartTime'), '20260304T080000Z');
  const moved = exceptions[1] as WbxmlElement;
  assert.equal(value(moved, 'ExceptionStartTime'), '20260309T080000Z');
  assert.equal(value(moved, 'StartTime'), '20260309T100000Z');
  assert.equal(value(moved, 'EndTime'), '20260309T103000Z');
  assert.equal(value(moved, 'Subject'), 'Standup (moved)');
  // Same as the master: not repeated.
  assert.equal(child(moved, 'Location', 'Calendar'), undefined);
  assert.equal(child(moved, 'Reminder', 'Calendar'), undefined);
  assert.equal(child(moved, 'Categories', 'Calendar'), undefined);
  // The override has no meeting attendees but Bob; its meeting status is that of a received meeting too.
  assert.equal(child(moved, 'MeetingStatus', 'Calendar'), undefined);
});

test('protocol differences: FirstDayOfWeek from 14.1, AirSyncBase Location and InstanceId in 16.x', () => {
  const old = toEas(berlinMeeting, '14.0');
  assert.equal(child(child(old, 'Recurrence', 'Calendar'), 'FirstDayOfWeek', 'Calendar'), undefined);
  const v16 = toEas(berlinMeeting, '16.1');
  assert.equal(child(v16, 'Location', 'Calendar'), undefined);
  assert.equal(value(child(v16, 'Location', 'AirSyncBase') as WbxmlElement, 'DisplayName', 'AirSyncBase'), 'Room 1');
  const exception = children(child(v16, 'Exceptions', 'Calendar'), 'Exception', 'Calendar')[1] as WbxmlElement;
  assert.equal(value(exception, 'InstanceId', 'AirSyncBase'), '20260309T080000Z');
  assert.equal(child(exception, 'ExceptionStartTime', 'Calendar'), undefined);
});

test('all-day, UTC, floating and IANA-only events toward the client', () => {
  const trip = toEas(allDayTrip);
  assert.equal(value(trip, 'AllDayEvent'), '1');
  assert.equal(value(trip, 'StartTime'), '20261224T000000Z');
  assert.equal(value(trip, 'EndTime'), '20261227T000000Z');
  assert.equal(value(trip, 'BusyStatus'), '0');
  assert.equal(decodeTimeZoneBlob(value(trip, 'Timezone') as string).bias, 0);
  const birthday = toEas(yearlyBirthday);
  const rec = child(birthday, 'Recurrence', 'Calendar') as WbxmlElement;
  assert.deepEqual([value(rec, 'Type'), value(rec, 'MonthOfYear'), value(rec, 'DayOfMonth')], ['5', '5', '17']);
  const thanksgiving = toEas(yearlyNthUntilDate);
  const rec2 = child(thanksgiving, 'Recurrence', 'Calendar') as WbxmlElement;
  assert.deepEqual([value(rec2, 'Type'), value(rec2, 'MonthOfYear'), value(rec2, 'WeekOfMonth'), value(rec2, 'DayOfWeek'), value(rec2, 'Until')],
    ['6', '11', '4', '16', '20301128T000000Z']);
  assert.equal(value(thanksgiving, 'EndTime'), '20261127T000000Z');
  const monthly = toEas(monthlyNewYork);
  const rec3 = child(monthly, 'Recurrence', 'Calendar') as WbxmlElement;
  // UNTIL 22:00Z is after the 17:00 (EST) occurrence of 8 December: the last occurrence is that one.
  assert.deepEqual([value(rec3, 'Type'), value(rec3, 'WeekOfMonth'), value(rec3, 'DayOfWeek'), value(rec3, 'Until')],
    ['3', '2', '4', '20261208T220000Z']);
  assert.equal(value(monthly, 'Reminder'), '1440');
  assert.equal(value(monthly, 'StartTime'), '20260113T220000Z');
  const utc = toEas(utcEvent);
  assert.equal(value(utc, 'StartTime'), '20261122T090000Z');
  assert.equal(decodeTimeZoneBlob(value(utc, 'Timezone') as string).bias, 0);
  assert.equal(value(utc, 'OrganizerEmail'), 'ops@example.com');
  assert.equal(value(utc, 'OrganizerName'), undefined);
  const floating = toEas(floatingEvent);
  assert.equal(value(floating, 'StartTime'), '20261122T070000Z');
  assert.equal(value(floating, 'EndTime'), '20261122T083000Z');
  assert.equal(value(floating, 'Sensitivity'), '3');
  const kolkata = toEas(kolkataNoVtimezone);
  assert.equal(value(kolkata, 'StartTime'), '20260310T043000Z');
  assert.equal(decodeTimeZoneBlob(value(kolkata, 'Timezone') as string).bias, -330);
  const odd = toEas(inexpressible);
  assert.equal(child(odd, 'Recurrence', 'Calendar'), undefined);
  assert.equal(child(odd, 'Exceptions', 'Calendar'), undefined);
  const sydney = toEas(sydneyWithExceptions);
  // 08:30 AEST on 30 September, AEDT from 4 October.
  assert.equal(value(sydney, 'StartTime'), '20260929T223000Z');
  const sx = children(child(sydney, 'Exceptions', 'Calendar'), 'Exception', 'Calendar');
  assert.deepEqual(sx.map((x) => value(x, 'ExceptionStartTime')), ['20261002T223000Z', '20261003T213000Z']);
  assert.equal(value(sx[1] as WbxmlElement, 'AllDayEvent'), '1');
  assert.equal(value(sx[1] as WbxmlElement, 'StartTime'), '20261004T000000Z');
});

// ---------------------------------------------------------------------------------------------------
// (1) EAS → hub → EAS keeps every field

function clientMeeting(version: EasVersion): WbxmlElement[] {
  const is16 = version.startsWith('16');
  return [
    cal('Timezone', outlookBerlinBlob()),
    cal('DtStamp', '20260210T101500Z'),
    cal('StartTime', '20260302T080000Z'),
    cal('EndTime', '20260302T090000Z'),
    cal('Subject', 'Planning'),
    is16 ? cal('ClientUid', 'client-uid-1') : cal('UID', 'client-uid-1'),
    cal('OrganizerName', 'Me Myself'),
    cal('OrganizerEmail', 'me@example.com'),
    cal('Attendees',
      cal('Attendee', cal('Email', 'bob@example.com'), cal('Name', 'Bob'), cal('AttendeeStatus', '3'), cal('AttendeeType', '1')),
      cal('Attendee', cal('Email', 'carol@example.com'), cal('Name', 'Carol'), cal('AttendeeStatus', '0'), cal('AttendeeType', '2')),
      cal('Attendee', cal('Email', 'room@example.com'), cal('Name', 'Big room'), cal('AttendeeStatus', '5'), cal('AttendeeType', '3')),
      cal('Attendee', cal('Email', 'dave@example.com'), cal('Name', 'Dave'), cal('AttendeeStatus', '4'), cal('AttendeeType', '1')),
      cal('Attendee', cal('Email', 'erin@example.com'), cal('Name', 'Erin'), cal('AttendeeStatus', '2'), cal('AttendeeType', '1'))),
    is16 ? asb('Location', asb('DisplayName', 'Room 7')) : cal('Location', 'Room 7'),
    cal('Recurrence', cal('Type', '1'), cal('Interval', '2'), cal('DayOfWeek', '2'), cal('Until', '20260629T070000Z'),
      ...(version === '14.0' ? [] : [cal('FirstDayOfWeek', '1')])),
    asb('Body', asb('Type', '1'), asb('Data', 'Agenda:\r\n1. Plans')),
    cal('Sensitivity', '1'),
    cal('BusyStatus', '3'),
    cal('AllDayEvent', '0'),
    cal('Reminder', '10'),
    cal('Exceptions',
      cal('Exception', cal('Deleted', '1'), is16 ? asb('InstanceId', '20260316T080000Z') : cal('ExceptionStartTime', '20260316T080000Z')),
      cal('Exception', is16 ? asb('InstanceId', '20260330T070000Z') : cal('ExceptionStartTime', '20260330T070000Z'),
        cal('Subject', 'Planning (moved)'), cal('StartTime', '20260331T120000Z'), cal('EndTime', '20260331T130000Z'),
        is16 ? asb('Location', asb('DisplayName', 'Room 9')) : cal('Location', 'Room 9'),
        cal('Reminder', '30'), cal('BusyStatus', '2'), cal('Categories', cal('Category', 'Moved')))),
    cal('MeetingStatus', '1'),
    cal('Categories', cal('Category', 'Planning'), cal('Category', 'Q2')),
  ];
}

/** An element with its children in name order (same-named ones keep theirs): element order carries no meaning. */
function sorted(e: WbxmlElement | undefined): WbxmlElement | undefined {
  if (!e) return e;
  const kids = e.children.map((c) => (typeof c === 'string' || c instanceof Uint8Array ? c : sorted(c) as WbxmlElement));
  const name = (c: (typeof kids)[number]) => (typeof c === 'string' || c instanceof Uint8Array ? '' : c.name);
  return { ...e, children: [...kids].sort((a, b) => name(a).localeCompare(name(b))) };
}

/** The client's elements and ours, compared field by field. */
function assertSameFields(sent: WbxmlElement, got: WbxmlElement, fields: string[]): void {
  for (const name of fields) {
    const a = child(sent, name, 'Calendar') ?? child(sent, name, 'AirSyncBase');
    const b = child(got, name, 'Calendar') ?? child(got, name, 'AirSyncBase');
    if (name === 'Recurrence' && a && b) {
      // Optional parts spelled out (Interval 1) compare as the pattern they describe.
      assert.deepEqual(parseRecurrence(b, 'Calendar', compactCodec), parseRecurrence(a, 'Calendar', compactCodec), name);
      continue;
    }
    assert.deepEqual(sorted(b), sorted(a), name);
  }
}

for (const version of ['14.0', '14.1', '16.1'] as const) {
  test(`EAS ${version} → hub → EAS keeps each field of a recurring meeting`, () => {
    const sent = wire(clientMeeting(version));
    const hub = fromEas(sent, undefined, version);
    const got = toEas(hub, version);
    assert.ok(sameRules(decodeTimeZoneBlob(value(got, 'Timezone') as string), decodeTimeZoneBlob(outlookBerlinBlob())));
    assertSameFields(sent, got, [
      'DtStamp', 'StartTime', 'EndTime', 'Subject', 'OrganizerName', 'OrganizerEmail', 'Attendees', 'Location',
      'Recurrence', 'Sensitivity', 'BusyStatus', 'AllDayEvent', 'Reminder', 'Exceptions', 'MeetingStatus', 'Categories',
    ]);
    assert.equal(value(got, 'UID'), 'client-uid-1');
    assert.equal(value(child(got, 'Body', 'AirSyncBase') as WbxmlElement, 'Data', 'AirSyncBase'), 'Agenda:\r\n1. Plans');
    // The hub item: the Outlook blob became Europe/Berlin, with its VTIMEZONE.
    const m = master(hub);
    assert.equal(m.getFirstProperty('dtstart')?.getParameter('tzid'), 'Europe/Berlin');
    assert.match(hub, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin/);
    assert.equal(String(m.getFirstPropertyValue('rrule')), 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;UNTIL=20260629T070000Z');
    assert.equal(m.getFirstPropertyValue('class'), 'X-PERSONAL');
    assert.equal(m.getFirstPropertyValue('x-microsoft-cdo-busystatus'), 'OOF');
    assert.equal(propLine(m, 'exdate'), 'EXDATE;TZID=Europe/Berlin:20260316T090000');
    const override = vevents(hub).find((v) => v.hasProperty('recurrence-id')) as ICAL.Component;
    assert.equal(propLine(override, 'recurrence-id'), 'RECURRENCE-ID;TZID=Europe/Berlin:20260330T090000');
    assert.equal(propLine(override, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260331T140000');
    assert.equal(override.getFirstPropertyValue('summary'), 'Planning (moved)');
    assert.equal(override.getFirstPropertyValue('uid'), 'client-uid-1');
    // And once more through the hub: stable.
    assert.equal(fromEas(got, hub, version), hub);
  });
}

test('EAS → hub → EAS: an all-day event from a client in Berlin', () => {
  const sent = wire([
    cal('Timezone', outlookBerlinBlob()), cal('StartTime', '20261223T230000Z'), cal('EndTime', '20261226T230000Z'),
    cal('AllDayEvent', '1'), cal('Subject', 'Holidays'), cal('BusyStatus', '0'), cal('Reminder', '0'),
    cal('Recurrence', cal('Type', '5'), cal('MonthOfYear', '12'), cal('DayOfMonth', '24'), cal('Occurrences', '3')),
    cal('Exceptions', cal('Exception', cal('Deleted', '1'), cal('ExceptionStartTime', '20271223T230000Z'))),
  ]);
  const hub = fromEas(sent);
  const m = master(hub);
  assert.equal(propLine(m, 'dtstart'), 'DTSTART;VALUE=DATE:20261224');
  assert.equal(propLine(m, 'dtend'), 'DTEND;VALUE=DATE:20261227');
  assert.equal(propLine(m, 'exdate'), 'EXDATE;VALUE=DATE:20271224');
  assert.equal(m.getFirstPropertyValue('transp'), 'TRANSPARENT');
  assert.equal(String(m.getFirstPropertyValue('rrule')), 'FREQ=YEARLY;COUNT=3;BYMONTH=12;BYMONTHDAY=24');
  assert.doesNotMatch(hub, /VTIMEZONE/);
  const got = toEas(hub);
  // Sent back as midnight UTC with the UTC blob: the same dates.
  assert.equal(value(got, 'StartTime'), '20261224T000000Z');
  assert.equal(value(got, 'EndTime'), '20261227T000000Z');
  assert.equal(value(got, 'AllDayEvent'), '1');
  assert.equal(value(got, 'Reminder'), '0');
  assertSameFields(sent, got, ['Subject', 'BusyStatus', 'Recurrence']);
  assert.equal(value(children(child(got, 'Exceptions', 'Calendar'), 'Exception', 'Calendar')[0] as WbxmlElement, 'ExceptionStartTime'), '20271224T000000Z');
  // A client that echoes our UTC times with its own blob keeps the dates.
  assert.equal(fromEas(replacing(got, cal('Timezone', outlookBerlinBlob())), hub), hub);
});

test('EAS → hub → EAS: a UTC blob gives UTC times, an unknown rule a VTIMEZONE of its own', () => {
  const utc = fromEas(wire([cal('Timezone', encodeTimeZoneBlob({
    bias: 0, standardName: '', standardDate: null, standardBias: 0, daylightName: '', daylightDate: null, daylightBias: 0,
  })), cal('StartTime', '20261122T090000Z'), cal('EndTime', '20261122T093000Z'), cal('Subject', 'UTC')]));
  assert.equal(propLine(master(utc), 'dtstart'), 'DTSTART:20261122T090000Z');
  assert.doesNotMatch(utc, /VTIMEZONE/);
  assert.equal(master(utc).getFirstPropertyValue('uid'), 'new-uid@test');
  // A zone no IANA zone matches: 90 minutes ahead, one hour more from the 2nd Sunday of April to the last of September.
  const odd = {
    bias: -90, standardName: 'Odd Standard Time', standardBias: 0, daylightName: 'Odd Daylight Time', daylightBias: -60,
    standardDate: { year: 0, month: 9, dayOfWeek: 0, day: 5, hour: 3, minute: 0, second: 0 },
    daylightDate: { year: 0, month: 4, dayOfWeek: 0, day: 2, hour: 2, minute: 0, second: 0 },
  };
  const sent = wire([cal('Timezone', encodeTimeZoneBlob(odd)), cal('StartTime', '20260701T073000Z'), cal('EndTime', '20260701T083000Z'), cal('Subject', 'Odd')]);
  const hub = fromEas(sent);
  assert.equal(propLine(master(hub), 'dtstart'), 'DTSTART;TZID=Odd Standard Time:20260701T100000');
  const got = toEas(hub);
  assert.ok(sameRules(decodeTimeZoneBlob(value(got, 'Timezone') as string), odd));
  assertSameFields(sent, got, ['StartTime', 'EndTime', 'Subject']);
});

// ---------------------------------------------------------------------------------------------------
// (3) A Change: omitted fields are removed, changed ones rewritten, the rest untouched

test('a Change leaving fields out removes them and keeps what ActiveSync cannot carry', () => {
  const app = without(toEas(berlinMeeting),
    'Subject', 'Location', 'Body', 'Categories', 'Reminder', 'Sensitivity', 'BusyStatus', 'Attendees', 'Recurrence', 'Exceptions',
    'OrganizerName', 'OrganizerEmail', 'MeetingStatus');
  const out = fromEas(app, berlinMeeting);
  const events = vevents(out);
  assert.equal(events.length, 1, 'overrides went with the recurrence');
  const m = events[0] as ICAL.Component;
  for (const gone of ['summary', 'location', 'description', 'categories', 'class', 'transp', 'x-microsoft-cdo-busystatus', 'rrule', 'exdate']) {
    assert.equal(m.hasProperty(gone), false, gone);
  }
  // Attendees ActiveSync carries are gone; the group addressed by URN is not an address it carries.
  assert.deepEqual(m.getAllProperties('attendee').map((p) => p.toICALString()), ['ATTENDEE;CUTYPE=GROUP:urn:uuid:team-42']);
  // The first alarm was the reminder; the other one stays as it was.
  assert.deepEqual(m.getAllSubcomponents('valarm').map((a) => a.toString()), ['BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER;RELATED=START:-PT1H\r\nX-KEEP:1\r\nEND:VALARM']);
  // Kept: UID, the organizer (clients may not send it), and everything ActiveSync has no field for.
  for (const kept of ['UID:standup-1@example.com', 'ORGANIZER;CN=Alice Example:mailto:alice@example.com', 'CREATED:20251201T080000Z',
    'SEQUENCE:2', 'URL:https://example.com/standup', 'GEO:52.52;13.405', 'COMMENT:keep me',
    'ATTACH;FMTTYPE=text/plain:https://example.com/agenda.txt', 'CONFERENCE;FEATURE=VIDEO;VALUE=URI:https://meet.example.com/standup',
    'X-FOO;X-PARAM=a:bar', 'DTSTART;TZID=Europe/Berlin:20260302T090000']) {
    assert.ok(out.includes(`\r\n${kept}\r\n`), kept);
  }
  assert.match(out, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin/);
});

test('a Change rewrites only the fields that changed', () => {
  const sent = toEas(berlinMeeting);
  const attendees = child(sent, 'Attendees', 'Calendar') as WbxmlElement;
  const changedAttendees = cal('Attendees',
    ...children(attendees, 'Attendee', 'Calendar')
      .filter((a) => value(a, 'Email') !== 'dave@example.com')
      .map((a) => (value(a, 'Email') === 'carol@example.com'
        ? cal('Attendee', cal('Email', 'carol@example.com'), cal('Name', 'Carol C'), cal('AttendeeStatus', '3'), cal('AttendeeType', '1'))
        : a)),
    cal('Attendee', cal('Email', 'frank@example.com'), cal('Name', 'Frank'), cal('AttendeeType', '2')));
  const exceptions = children(child(sent, 'Exceptions', 'Calendar'), 'Exception', 'Calendar');
  const app = replacing(sent,
    cal('Subject', 'Standup v2'),
    cal('Reminder', '5'),
    changedAttendees,
    cal('Recurrence', cal('Type', '1'), cal('Interval', '1'), cal('DayOfWeek', '10'), cal('Occurrences', '20'), cal('FirstDayOfWeek', '1')),
    cal('Exceptions',
      ...exceptions.map((x) => (value(x, 'Deleted') === '1' ? x : replacing(x, cal('Subject', 'Moved again'), cal('Location', 'Room 2')))),
      cal('Exception', cal('Deleted', '1'), cal('ExceptionStartTime', '20260311T080000Z')),
      cal('Exception', cal('ExceptionStartTime', '20260316T080000Z'), cal('StartTime', '20260316T120000Z'), cal('EndTime', '20260316T123000Z'))),
  );
  const out = fromEas(app, berlinMeeting);
  const m = master(out);
  assert.equal(propLine(m, 'summary'), 'SUMMARY;LANGUAGE=en:Standup v2');
  // The reminder alarm keeps its description and X- property; only the trigger moved.
  assert.equal(m.getAllSubcomponents('valarm')[0]?.toString(),
    'BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Standup soon\r\nTRIGGER:-PT5M\r\nX-WR-ALARMUID:a1\r\nEND:VALARM');
  assert.deepEqual(m.getAllProperties('attendee').map((p) => p.toICALString()), [
    'ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com',
    'ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Carol C:mailto:carol@example.com',
    'ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;CN=Room 1:mailto:room1@ex.com',
    'ATTENDEE;CUTYPE=GROUP:urn:uuid:team-42',
    'ATTENDEE;CN=Frank;ROLE=OPT-PARTICIPANT:mailto:frank@example.com',
  ]);
  assert.equal(String(m.getFirstPropertyValue('rrule')), 'FREQ=WEEKLY;COUNT=20;BYDAY=MO,WE');
  assert.deepEqual(m.getAllProperties('exdate').map((p) => p.toICALString()),
    ['EXDATE;TZID=Europe/Berlin:20260304T090000', 'EXDATE;TZID=Europe/Berlin:20260311T090000']);
  const overrides = vevents(out).filter((v) => v.hasProperty('recurrence-id'));
  assert.equal(overrides.length, 2);
  const moved = overrides[0] as ICAL.Component;
  assert.equal(propLine(moved, 'summary'), 'SUMMARY;LANGUAGE=en:Moved again');
  assert.equal(moved.getFirstPropertyValue('location'), 'Room 2');
  assert.equal(moved.getFirstPropertyValue('x-override-only'), '1');
  assert.equal(propLine(moved, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260309T110000');
  // A new override is a copy of the master with the occurrence's own values.
  const added = overrides[1] as ICAL.Component;
  assert.equal(propLine(added, 'recurrence-id'), 'RECURRENCE-ID;TZID=Europe/Berlin:20260316T090000');
  assert.equal(propLine(added, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260316T130000');
  assert.equal(propLine(added, 'dtend'), 'DTEND;TZID=Europe/Berlin:20260316T133000');
  assert.equal(propLine(added, 'summary'), 'SUMMARY;LANGUAGE=en:Standup v2');
  assert.equal(added.getFirstPropertyValue('x-foo'), 'bar');
  assert.equal(added.hasProperty('rrule') || added.hasProperty('exdate'), false);
  // Untouched: the rest of the master.
  for (const kept of ['LOCATION:Room 1', 'CLASS:PRIVATE', 'CATEGORIES:Work,Team', 'X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE']) {
    assert.ok(m.toString().includes(`\r\n${kept}\r\n`), kept);
  }
  // What the client sent, it gets back.
  const again = toEas(out);
  assert.equal(value(again, 'Subject'), 'Standup v2');
  assert.equal(value(again, 'Reminder'), '5');
  assert.equal(children(child(again, 'Exceptions', 'Calendar'), 'Exception', 'Calendar').length, 4);
});

test('a Change to another time zone moves DTSTART, EXDATE and RECURRENCE-ID into it', () => {
  const sent = toEas(berlinMeeting);
  const out = fromEas(replacing(sent, cal('Timezone', newYorkBlob())), berlinMeeting);
  const m = master(out);
  // The same instants (08:00Z; 09:00 in Berlin), written in New York time.
  assert.equal(propLine(m, 'dtstart'), 'DTSTART;TZID=America/New_York:20260302T030000');
  assert.equal(propLine(m, 'dtend'), 'DTEND;TZID=America/New_York:20260302T033000');
  assert.equal(propLine(m, 'exdate'), 'EXDATE;TZID=America/New_York:20260304T030000');
  const override = vevents(out).find((v) => v.hasProperty('recurrence-id')) as ICAL.Component;
  assert.equal(propLine(override, 'recurrence-id'), 'RECURRENCE-ID;TZID=America/New_York:20260309T040000');
  assert.match(out, /BEGIN:VTIMEZONE\r\nTZID:America\/New_York/);
  assert.ok(out.includes('\r\nRRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE\r\n'));
  // The override's own DTSTART is left in the zone it was written in, so Berlin's VTIMEZONE stays.
  assert.equal(propLine(override, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260309T110000');
  assert.match(out, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin/);
});

test('a Change to an event whose rule ActiveSync cannot express keeps the rule while the client sends none', () => {
  const sent = toEas(inexpressible);
  const out = fromEas(replacing(sent, cal('Subject', 'Renamed')), inexpressible);
  assert.ok(out.includes('\r\nRRULE:FREQ=MONTHLY;COUNT=12;BYDAY=MO,FR;BYSETPOS=1,-1\r\nRDATE:20260615T090000Z\r\nEXDATE:20260202T090000Z\r\n'));
  assert.equal(vevents(out).length, 2);
  // A pattern set on the device replaces it.
  const replaced = fromEas(replacing(sent, cal('Recurrence', cal('Type', '0'), cal('Interval', '1'))), inexpressible);
  assert.equal(String(master(replaced).getFirstPropertyValue('rrule')), 'FREQ=DAILY');
  assert.equal(master(replaced).hasProperty('rdate'), false);
  assert.equal(vevents(replaced).length, 1);
});

test('protocol 16: a Change without Exceptions keeps them, unless the series changed', () => {
  const sent = without(toEas(berlinMeeting, '16.1'), 'Exceptions');
  const kept = fromEas(sent, berlinMeeting, '16.1');
  assert.equal(kept, canonical(berlinMeeting));
  const moved = fromEas(replacing(sent, cal('StartTime', '20260302T090000Z'), cal('EndTime', '20260302T093000Z')), berlinMeeting, '16.1');
  assert.equal(vevents(moved).length, 1);
  assert.equal(master(moved).hasProperty('exdate'), false);
  assert.equal(propLine(master(moved), 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260302T100000');
});

/** Occurrence edits (with ApplicationData) or deletes as the Sync command makes them, checked as the hub would check the result. */
function occurrences(existing: string, ...edits: Array<[string, WbxmlElement?]>): string {
  const series = new OccurrenceEdits(existing);
  for (const [instanceId, app] of edits) series.apply(instanceId, app);
  const out = series.toString();
  const check = checkItem('events', out);
  assert.ok(check.ok, `checkItem: ${check.ok ? '' : check.message}\n${out}`);
  return out;
}

const occurrence = (existing: string, instanceId: string, app?: WbxmlElement) => occurrences(existing, [instanceId, app]);

const overrideAt = (ics: string, rid: string) => vevents(ics).filter((v) => propLine(v, 'recurrence-id') === rid);

test('protocol 16 occurrence edit (InstanceId): a new override is the series at that time with only the sent fields changed', () => {
  // Wednesday 11 March, 09:00 in Berlin (CET) is 08:00 UTC.
  const out = occurrence(berlinMeeting, '2026-03-11T08:00:00.000Z', wire([cal('Subject', 'Retro')]));
  const [o, ...more] = overrideAt(out, 'RECURRENCE-ID;TZID=Europe/Berlin:20260311T090000');
  assert.ok(o && more.length === 0, out);
  assert.equal(propLine(o, 'summary'), 'SUMMARY;LANGUAGE=en:Retro');
  assert.equal(propLine(o, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260311T090000');
  assert.equal(propLine(o, 'dtend'), 'DTEND;TZID=Europe/Berlin:20260311T093000');
  for (const name of ['location', 'description', 'organizer', 'categories', 'class', 'x-microsoft-cdo-busystatus', 'url', 'geo', 'conference', 'x-foo']) {
    assert.equal(propLine(o, name), propLine(master(berlinMeeting), name), name);
  }
  assert.equal(o.getAllProperties('attendee').length, 5);
  assert.deepEqual(o.getAllSubcomponents('valarm').map((a) => a.toString()), master(berlinMeeting).getAllSubcomponents('valarm').map((a) => a.toString()));
  for (const name of ['rrule', 'exdate', 'rdate']) assert.equal(o.hasProperty(name), false, name);
  // The series and the other override are as they were.
  assert.equal(master(out).toString(), master(berlinMeeting).toString());
  assert.equal(overrideAt(out, 'RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000')[0]?.toString(), overrideAt(berlinMeeting, 'RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000')[0]?.toString());
  // The compact form names the same occurrence; times move it, in the series' zone.
  const moved = occurrence(berlinMeeting, '20260311T080000Z', wire([cal('StartTime', '20260311T130000Z'), cal('EndTime', '20260311T140000Z')]));
  const m = overrideAt(moved, 'RECURRENCE-ID;TZID=Europe/Berlin:20260311T090000')[0] as ICAL.Component;
  assert.equal(propLine(m, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260311T140000');
  assert.equal(propLine(m, 'summary'), 'SUMMARY;LANGUAGE=en:Standup');
  assert.equal(propLine(m, 'location'), 'LOCATION:Room 1');
});

test('protocol 16 occurrence edit of a moved occurrence keeps what the edit leaves out', () => {
  const out = occurrence(berlinMeeting, '2026-03-09T08:00:00.000Z', wire([cal('Reminder', '5')]));
  const [o, ...more] = overrideAt(out, 'RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000');
  assert.ok(o && more.length === 0, out);
  assert.equal(propLine(o, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260309T110000');
  assert.equal(propLine(o, 'summary'), 'SUMMARY;LANGUAGE=en:Standup (moved)');
  assert.equal(propLine(o, 'x-override-only'), 'X-OVERRIDE-ONLY:1');
  assert.equal(o.getAllProperties('attendee').length, 1);
  assert.deepEqual(o.getAllSubcomponents('valarm').map((a) => String(a.getFirstPropertyValue('trigger'))), ['-PT5M']);
  // Editing a deleted occurrence brings it back.
  const back = occurrence(berlinMeeting, '2026-03-04T08:00:00.000Z', wire([cal('Subject', 'Back')]));
  assert.equal(master(back).hasProperty('exdate'), false);
  assert.equal(propLine(overrideAt(back, 'RECURRENCE-ID;TZID=Europe/Berlin:20260304T090000')[0] as ICAL.Component, 'summary'), 'SUMMARY;LANGUAGE=en:Back');
});

test('protocol 16 occurrence delete (InstanceId): an EXDATE in the form of the series\' start, and no override', () => {
  const out = occurrence(berlinMeeting, '2026-03-09T08:00:00.000Z');
  assert.equal(vevents(out).length, 1);
  assert.deepEqual(master(out).getAllProperties('exdate').map((p) => p.toICALString()), ['EXDATE;TZID=Europe/Berlin:20260304T090000', 'EXDATE;TZID=Europe/Berlin:20260309T090000']);
  const birthday = occurrence(yearlyBirthday, '20270517T000000Z');
  assert.equal(propLine(master(birthday), 'exdate'), 'EXDATE;VALUE=DATE:20270517');
  const edited = occurrence(yearlyBirthday, '20280517T000000Z', wire([cal('Subject', 'Party')]));
  const [o] = overrideAt(edited, 'RECURRENCE-ID;VALUE=DATE:20280517');
  assert.equal(propLine(o as ICAL.Component, 'dtstart'), 'DTSTART;VALUE=DATE:20280517');
  assert.equal(propLine(o as ICAL.Component, 'categories'), 'CATEGORIES:Birthday');
});

test('protocol 16 occurrence edits in a row build on each other, and a bad one changes nothing', () => {
  const series = new OccurrenceEdits(berlinMeeting);
  series.apply('2026-03-11T08:00:00.000Z', wire([cal('Subject', 'Retro')]));
  series.apply('2026-03-16T08:00:00.000Z', undefined);
  throwsClearly(() => series.apply('2026-03-11T08:00:00.000Z', wire([cal('Reminder', '-5')])), /Reminder -5 is negative/);
  series.apply('2026-03-11T08:00:00.000Z', wire([asb('Location', asb('DisplayName', 'Room 2'))]));
  const out = series.toString();
  const o = overrideAt(out, 'RECURRENCE-ID;TZID=Europe/Berlin:20260311T090000')[0] as ICAL.Component;
  assert.equal(propLine(o, 'summary'), 'SUMMARY;LANGUAGE=en:Retro');
  assert.equal(propLine(o, 'location'), 'LOCATION:Room 2');
  assert.deepEqual(master(out).getAllProperties('exdate').map((p) => p.toICALString()), ['EXDATE;TZID=Europe/Berlin:20260304T090000', 'EXDATE;TZID=Europe/Berlin:20260316T090000']);
  assert.equal(vevents(out).length, 3);
});

test('protocol 16 occurrence edits: clear Errors for a single event or an InstanceId that is no date', () => {
  throwsClearly(() => new OccurrenceEdits(allDayTrip), /not a recurring event/);
  throwsClearly(() => new OccurrenceEdits(berlinMeeting).apply('next monday', undefined), /InstanceId "next monday" is not a date-time/);
});

test('AttendeeStatus and AttendeeType left out keep the attendee as it is', () => {
  const sent = toEas(berlinMeeting);
  const bare = cal('Attendees', ...children(child(sent, 'Attendees', 'Calendar'), 'Attendee', 'Calendar')
    .map((a) => cal('Attendee', child(a, 'Email', 'Calendar'), child(a, 'Name', 'Calendar'))));
  assert.equal(fromEas(replacing(sent, bare), berlinMeeting), canonical(berlinMeeting));
});

test('MeetingStatus: cancelling sets STATUS:CANCELLED, organizing is remembered, leaving it out changes nothing', () => {
  const sent = toEas(berlinMeeting);
  const cancelled = fromEas(replacing(sent, cal('MeetingStatus', '7')), berlinMeeting);
  assert.equal(master(cancelled).getFirstPropertyValue('status'), 'CANCELLED');
  assert.equal(value(toEas(cancelled), 'MeetingStatus'), '7');
  const organizer = fromEas(replacing(sent, cal('MeetingStatus', '1')), berlinMeeting);
  assert.equal(value(toEas(organizer), 'MeetingStatus'), '1');
  assert.equal(fromEas(without(sent, 'MeetingStatus'), berlinMeeting), canonical(berlinMeeting));
  const plain = fromEas(wire([cal('StartTime', '20260302T080000Z'), cal('Subject', 'x'), cal('MeetingStatus', '0')]));
  assert.equal(value(toEas(plain), 'MeetingStatus'), '0');
});

// ---------------------------------------------------------------------------------------------------
// (6) Malformed client input

test('malformed input: clear Errors where nothing sane can be made', () => {
  const base = [cal('StartTime', '20260302T080000Z'), cal('EndTime', '20260302T090000Z'), cal('Subject', 'x')];
  throwsClearly(() => calendarMapper.fromEas(wire([cal('StartTime', 'next tuesday')]), undefined, ctx()), /StartTime "next tuesday" is not a date-time/);
  throwsClearly(() => calendarMapper.fromEas(wire([cal('StartTime', '20261332T250000Z')]), undefined, ctx()), /StartTime "20261332T250000Z" is not a valid date-time/);
  throwsClearly(() => calendarMapper.fromEas(wire([cal('Subject', 'no start')]), undefined, ctx()), /StartTime is required/);
  throwsClearly(() => calendarMapper.fromEas(wire([...base, cal('Recurrence', cal('Type', '4'))]), undefined, ctx()), /Recurrence Type 4 is not supported/);
  throwsClearly(() => calendarMapper.fromEas(wire([...base, cal('Recurrence', cal('Type', '1'), cal('Until', 'soon'))]), undefined, ctx()), /Recurrence Until "soon"/);
  throwsClearly(() => calendarMapper.fromEas(wire([...base, cal('Recurrence', cal('Type', '0')), cal('Exceptions', cal('Exception', cal('Deleted', '1')))]), undefined, ctx()),
    /Exception without ExceptionStartTime/);
  throwsClearly(() => calendarMapper.fromEas(wire([...base, cal('Reminder', '-5')]), undefined, ctx()), /Reminder -5 is negative/);
  throwsClearly(() => calendarMapper.fromEas(wire([...base, cal('Reminder', 'soon')]), undefined, ctx()), /Reminder: "soon" is not a number/);
  throwsClearly(() => calendarMapper.fromEas(wire(base), 'not an icalendar', ctx()), /cannot parse the existing event/);
  throwsClearly(() => calendarMapper.fromEas(wire(base), crlf('BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x', 'END:VCALENDAR'), ctx()), /no VEVENT/);
  throwsClearly(() => calendarMapper.toEas('BEGIN:VCARD\r\nEND:VCARD\r\n', { version: '14.1' }), /not one VCALENDAR/);
});

test('malformed input: sane items where one can be made', () => {
  const base = [cal('StartTime', '20260302T080000Z'), cal('EndTime', '20260302T090000Z'), cal('Subject', 'x')];
  // A Timezone that is not base64, or not 172 bytes: UTC for a new item …
  for (const blob of ['%%%not-base64%%%', 'AAAA', Buffer.alloc(100).toString('base64')]) {
    const out = fromEas(wire([cal('Timezone', blob), ...base]));
    assert.equal(propLine(master(out), 'dtstart'), 'DTSTART:20260302T080000Z');
  }
  // … and the item's own zone for a change (the instants are exact either way).
  const changed = fromEas(replacing(toEas(berlinMeeting), cal('Timezone', 'AAAA'), cal('Subject', 'Renamed')), berlinMeeting);
  assert.equal(propLine(master(changed), 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260302T090000');
  // Interval 0 reads as 1; out-of-range enumerations fall back to their defaults.
  const odd = fromEas(wire([...base, cal('Recurrence', cal('Type', '0'), cal('Interval', '0')), cal('Sensitivity', '9'), cal('BusyStatus', '17')]));
  assert.equal(String(master(odd).getFirstPropertyValue('rrule')), 'FREQ=DAILY');
  assert.equal(master(odd).getFirstPropertyValue('class'), 'PRIVATE');
  assert.equal(value(toEas(odd), 'BusyStatus'), '2');
  // An attendee without Email is skipped; one without Name gets the address.
  const people = fromEas(wire([...base, cal('Attendees', cal('Attendee', cal('Name', 'Nobody')), cal('Attendee', cal('Email', 'x@example.com')))]));
  assert.deepEqual(master(people).getAllProperties('attendee').map((p) => p.toICALString()), ['ATTENDEE:mailto:x@example.com']);
  // An all-day event with times that are not midnight: the day of the start to the day after the end.
  const allDay = fromEas(wire([cal('Timezone', outlookBerlinBlob()), cal('StartTime', '20260302T103000Z'), cal('EndTime', '20260303T153000Z'), cal('AllDayEvent', '1'), cal('Subject', 'x')]));
  assert.equal(propLine(master(allDay), 'dtstart'), 'DTSTART;VALUE=DATE:20260302');
  assert.equal(propLine(master(allDay), 'dtend'), 'DTEND;VALUE=DATE:20260304');
  // No blob at all: the nearest midnight UTC.
  const noBlob = fromEas(wire([cal('StartTime', '20260301T230000Z'), cal('EndTime', '20260302T230000Z'), cal('AllDayEvent', '1'), cal('Subject', 'x')]));
  assert.equal(propLine(master(noBlob), 'dtstart'), 'DTSTART;VALUE=DATE:20260302');
  assert.equal(propLine(master(noBlob), 'dtend'), 'DTEND;VALUE=DATE:20260303');
  // An end before the start is read as the start.
  const backwards = fromEas(wire([cal('StartTime', '20260302T080000Z'), cal('EndTime', '20260301T080000Z'), cal('Subject', 'x')]));
  assert.equal(master(backwards).hasProperty('dtend'), false);
  // Control characters a client slipped in are dropped.
  const dirty = fromEas(el('AirSync', 'ApplicationData', ...base.slice(0, 2), cal('Subject', 'bell\u0007 and\u0000 nul'), cal('Location', 'tab\there')));
  assert.equal(master(dirty).getFirstPropertyValue('summary'), 'bell and nul');
  assert.equal(master(dirty).getFirstPropertyValue('location'), 'tab\there');
});

test('random client input never gives a TypeError or an item the hub would refuse', () => {
  const date = fc.oneof(
    fc.date({ min: new Date('1990-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString().replace(/[-:]|\.\d{3}/g, '')),
    fc.date({ min: new Date('1990-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom('20260302T080000Z', '20260302T000000Z', 'garbage', '', '99999999T999999Z'));
  const num = fc.oneof(fc.integer({ min: -3, max: 140 }).map(String), fc.constantFrom('', 'x', '1.5', '99999999999'));
  const str = fc.string({ maxLength: 12 });
  const blob = fc.oneof(
    fc.constantFrom('', 'AAAA', '!!!', berlinBlob(), encodeTimeZoneBlob(fixedOffsetInfo(-345))),
    fc.uint8Array({ minLength: 172, maxLength: 172 }).map((b) => Buffer.from(b).toString('base64')));
  const recurrence = fc.array(fc.oneof(
    ...['Type', 'Interval', 'Occurrences', 'DayOfWeek', 'DayOfMonth', 'WeekOfMonth', 'MonthOfYear', 'FirstDayOfWeek']
      .map((n) => num.map((v) => cal(n, v))),
    fc.constantFrom('0', '1', '2', '3', '5', '6').map((v) => cal('Type', v)),
    date.map((v) => cal('Until', v))), { maxLength: 6 }).map((k) => cal('Recurrence', ...k));
  const attendees = fc.array(fc.array(fc.oneof(
    ...['Email', 'Name'].map((n) => str.map((v) => cal(n, v))),
    ...['AttendeeStatus', 'AttendeeType'].map((n) => num.map((v) => cal(n, v)))), { maxLength: 4 })
    .map((k) => cal('Attendee', ...k)), { maxLength: 3 }).map((k) => cal('Attendees', ...k));
  const exceptions = fc.array(fc.array(fc.oneof(
    ...['ExceptionStartTime', 'StartTime', 'EndTime'].map((n) => date.map((v) => cal(n, v))),
    ...['Deleted', 'AllDayEvent', 'Reminder', 'BusyStatus'].map((n) => num.map((v) => cal(n, v))),
    str.map((v) => cal('Subject', v))), { maxLength: 5 }).map((k) => cal('Exception', ...k)), { maxLength: 3 })
    .map((k) => cal('Exceptions', ...k));
  const field = fc.oneof(
    blob.map((v) => cal('Timezone', v)),
    ...['StartTime', 'EndTime', 'DtStamp'].map((n) => date.map((v) => cal(n, v))),
    ...['AllDayEvent', 'Sensitivity', 'BusyStatus', 'Reminder', 'MeetingStatus'].map((n) => num.map((v) => cal(n, v))),
    ...['Subject', 'Location', 'UID', 'OrganizerName', 'OrganizerEmail'].map((n) => str.map((v) => cal(n, v))),
    recurrence, attendees, exceptions,
    fc.array(str, { maxLength: 3 }).map((v) => cal('Categories', ...v.map((c) => cal('Category', c)))));
  fuzzFromEas(field, [undefined, berlinMeeting, allDayTrip]);
});

// Each exception is matched against every override and EXDATE made so far: thousands cost seconds.
test('random occurrence edits in a row never give a TypeError, and the series stays an item the hub takes', () => {
  const instance = fc.oneof(
    fc.constantFrom('2026-03-02T08:00:00.000Z', '20260309T080000Z', '20260311T080000Z', '20260304T080000Z', '20270517T000000Z', '20280517T000000Z', 'garbage', ''),
    fc.date({ min: new Date('1990-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()));
  const date = fc.oneof(fc.constantFrom('20260311T130000Z', '20280518T000000Z', 'garbage', ''),
    fc.date({ min: new Date('1990-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()));
  const num = fc.oneof(fc.integer({ min: -3, max: 140 }).map(String), fc.constantFrom('', 'x', '99999999999'));
  const field = fc.oneof(
    ...['StartTime', 'EndTime'].map((n) => date.map((v) => cal(n, v))),
    ...['AllDayEvent', 'Sensitivity', 'BusyStatus', 'Reminder', 'MeetingStatus'].map((n) => num.map((v) => cal(n, v))),
    fc.string({ maxLength: 12 }).map((v) => cal('Subject', v)),
    fc.string({ maxLength: 12 }).map((v) => asb('Location', asb('DisplayName', v))),
    fc.constantFrom('', '!!!', berlinBlob()).map((v) => cal('Timezone', v)));
  const edit = fc.tuple(instance, fc.option(fc.array(field, { maxLength: 6 }), { nil: undefined }));
  fc.assert(fc.property(fc.constantFrom(berlinMeeting, yearlyBirthday), fc.array(edit, { minLength: 1, maxLength: 6 }), (item, edits) => {
    const series = new OccurrenceEdits(item);
    for (const [instanceId, kids] of edits) {
      try {
        series.apply(instanceId, kids && wire(kids));
      } catch (err) {
        assert.equal((err as Error).constructor, Error, String(err));
      }
    }
    const out = series.toString();
    const check = checkItem('events', out);
    assert.ok(check.ok, check.ok ? '' : `${check.message}\n${out}`);
    calendarMapper.toEas(out, { version: '16.1' });
  }), { numRuns: 150 });
});

test('more Exceptions than the mapper sends are refused before they are matched', () => {
  const base = [cal('StartTime', '20260302T080000Z'), cal('EndTime', '20260302T090000Z'), cal('Subject', 'x'), cal('Recurrence', cal('Type', '0'))];
  const day = (i: number) => new Date(Date.UTC(2026, 2, 3 + i, 8)).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const exceptions = (n: number) => cal('Exceptions', ...Array.from({ length: n }, (_, i) => cal('Exception', cal('ExceptionStartTime', day(i)), cal('Subject', `moved ${i}`))));
  throwsClearly(() => calendarMapper.fromEas(wire([...base, exceptions(257)]), undefined, ctx()), /more than 256 Exceptions/);
  assert.equal(vevents(calendarMapper.fromEas(wire([...base, exceptions(256)]), undefined, ctx())).length, 257);
});

test('an event stored before the cost rules (a billion-week DURATION) is refused before ical.js works on it, not converted for seconds', () => {
  const stored = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'BEGIN:VEVENT', 'UID:long', 'DTSTAMP:20260101T000000Z', 'DTSTART:20260101T000000Z', 'DURATION:P1000000000W', 'SUMMARY:Forever', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
  const started = process.cpuUsage();
  throwsClearly(() => calendarMapper.toEas(stored, { version: '16.1' }), /would cost too much to convert: DURATION P1000000000W/);
  const { user, system } = process.cpuUsage(started);
  assert.ok((user + system) / 1000 < 500, `${(user + system) / 1000} ms of CPU`);
});

test('an RTF body the server cannot read is kept as sent in X-SYNCPOINT-EAS-RTF, beside the DESCRIPTION, and sent back to clients that ask for RTF (issue 13 D5)', () => {
  const base = [cal('StartTime', '20260302T080000Z'), cal('EndTime', '20260302T090000Z'), cal('Subject', 'Rich')];
  for (const version of ['14.1', '16.1'] as const) mapperHarness(calendarMapper, 'events', { uid: 'new-uid@test', now: Date.UTC(2026, 5, 1, 12) }).keptRtf(base, version);
});

test('an Exception whose RTF body cannot be read keeps the series and its own body, as sent (issue 13 D5)', () => {
  const rtf = (data: string) => asb('Body', asb('Type', '3'), asb('Data', data));
  const series = [
    cal('StartTime', '20260302T080000Z'), cal('EndTime', '20260302T090000Z'), cal('Subject', 'Weekly'),
    asb('Body', asb('Type', '1'), asb('Data', 'series notes')),
    cal('Recurrence', cal('Type', '1'), cal('Interval', '1'), cal('DayOfWeek', '2'), cal('Occurrences', '5')),
  ];
  const exception = (...kids: WbxmlElement[]) => cal('Exceptions', cal('Exception', cal('ExceptionStartTime', '20260309T080000Z'),
    cal('StartTime', '20260309T100000Z'), cal('EndTime', '20260309T110000Z'), ...kids));
  /** The master's and the override's text. */
  const vevents = (ics: string): [string, string] => { const [, master = '', override = ''] = ics.split('BEGIN:VEVENT'); return [master, override]; };
  const item = fromEas(wire([...series, exception(rtf('////'))]));
  const override = vevents(item)[1];
  assert.match(override, /X-SYNCPOINT-EAS-RTF:\/\/\/\/\r\n/, 'the exception keeps its body as sent');
  assert.match(vevents(item)[0], /DESCRIPTION:series notes/);
  assert.doesNotMatch(vevents(item)[0], /X-SYNCPOINT-EAS-RTF/, 'the series has its own body');
  const sent = (type: number) => {
    const app = wire(calendarMapper.toEas(item, { version: '14.1', bodyPreference: { type } }));
    const x = child(child(app, 'Exceptions', 'Calendar'), 'Exception', 'Calendar');
    const body = child(x, 'Body', 'AirSyncBase');
    return body && [text(child(body, 'Type', 'AirSyncBase')), text(child(body, 'Data', 'AirSyncBase'))];
  };
  assert.deepEqual(sent(3), ['3', '////'], 'a client that asks for RTF gets the exception body as sent');
  assert.deepEqual(sent(1), ['1', 'series notes'], 'one that asks for text gets the text the occurrence has');
  // A 14.1 client that asks for text sends the series back with the exception as it was sent: kept.
  const back = fromEas(wire([...series, exception(asb('Body', asb('Type', '1'), asb('Data', 'series notes')))]), item);
  assert.match(vevents(back)[1], /X-SYNCPOINT-EAS-RTF:\/\/\/\/\r\n/);
  // A readable body for the exception replaces it.
  const edited = fromEas(wire([...series, exception(asb('Body', asb('Type', '1'), asb('Data', 'moved, see you there')))]), item);
  assert.doesNotMatch(edited, /X-SYNCPOINT-EAS-RTF/);
  assert.match(vevents(edited)[1], /DESCRIPTION:moved\\, see you there/);
});

test('a protocol 16 occurrence edit (InstanceId) whose RTF body cannot be read keeps it in the override, beside the series text (issue 13 D5)', () => {
  const out = occurrence(berlinMeeting, '2026-03-11T08:00:00.000Z', wire([cal('Subject', 'Retro'), asb('Body', asb('Type', '3'), asb('Data', '////'))]));
  const [o] = overrideAt(out, 'RECURRENCE-ID;TZID=Europe/Berlin:20260311T090000');
  assert.ok(o, out);
  assert.equal(propLine(o, 'x-syncpoint-eas-rtf'), 'X-SYNCPOINT-EAS-RTF:////');
  assert.equal(propLine(o, 'description'), propLine(master(berlinMeeting), 'description'));
  assert.equal(master(out).hasProperty('x-syncpoint-eas-rtf'), false);
  // A later edit of only the subject keeps it.
  const again = occurrence(out, '2026-03-11T08:00:00.000Z', wire([cal('Subject', 'Retro (moved)')]));
  assert.equal(propLine(overrideAt(again, 'RECURRENCE-ID;TZID=Europe/Berlin:20260311T090000')[0] as ICAL.Component, 'x-syncpoint-eas-rtf'), 'X-SYNCPOINT-EAS-RTF:////');
});
