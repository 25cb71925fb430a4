import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkItem } from '../../../kinds/registry.js';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { child, children, el, text, type WbxmlElement } from '../wbxml/element.js';
import { mapperHarness, throwsClearly } from './mapper-harness.js';
import { taskMapper } from './task.js';

const crlf = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;
const t = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Tasks', name, ...kids);
const asb = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('AirSyncBase', name, ...kids);
const now = Date.UTC(2026, 5, 1, 12);
const { ctx, wire, toEas, fromEas, canonical, fuzzFromEas } = mapperHarness(taskMapper, 'tasks', { uid: 'task-uid@test', now });

function todo(ics: string): ICAL.Component {
  return new ICAL.Component(ICAL.parse(ics) as unknown as unknown[]).getFirstSubcomponent('vtodo') as ICAL.Component;
}

function line(c: ICAL.Component, name: string): string | undefined {
  return c.getFirstProperty(name)?.toICALString();
}

function value(app: WbxmlElement, name: string, ns = 'Tasks'): string | undefined {
  return text(child(app, name, ns));
}

function without(app: WbxmlElement, ...names: string[]): WbxmlElement {
  return { ...app, children: app.children.filter((c) => typeof c === 'string' || c instanceof Uint8Array || !names.includes(c.name)) };
}

function replacing(app: WbxmlElement, ...replacements: WbxmlElement[]): WbxmlElement {
  return { ...app, children: [...without(app, ...replacements.map((r) => r.name)).children, ...replacements] };
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

const richTask = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  ...berlinVtimezone,
  'BEGIN:VTODO',
  'UID:task-1@example.com',
  'DTSTAMP:20260101T120000Z',
  'CREATED:20251201T080000Z',
  'LAST-MODIFIED:20260101T120000Z',
  'SUMMARY;LANGUAGE=en:File taxes',
  'DESCRIPTION:Receipts are in the\\nblue folder',
  'DTSTART;TZID=Europe/Berlin:20260302T090000',
  'DUE;TZID=Europe/Berlin:20260331T170000',
  'PRIORITY:1',
  'STATUS:IN-PROCESS',
  'PERCENT-COMPLETE:40',
  'CATEGORIES:Home,Money',
  'CLASS:CONFIDENTIAL',
  'X-TASK-COLOR:red',
  'URL:https://example.com/taxes',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Taxes!', 'TRIGGER;RELATED=END:-P1D', 'END:VALARM',
  'BEGIN:VALARM', 'ACTION:EMAIL', 'SUMMARY:mail', 'DESCRIPTION:mail', 'ATTENDEE:mailto:me@example.com', 'TRIGGER:-P2D', 'END:VALARM',
  'END:VTODO',
  'END:VCALENDAR',
);

const dateTask = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VTODO', 'UID:task-2@example.com', 'DTSTAMP:20260101T120000Z',
  'SUMMARY:Water plants', 'DTSTART;VALUE=DATE:20260302', 'DUE;VALUE=DATE:20260303',
  'RRULE:FREQ=WEEKLY;UNTIL=20260601;BYDAY=MO',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Plants', 'TRIGGER;VALUE=DATE-TIME:20260302T070000Z', 'END:VALARM',
  'END:VTODO', 'END:VCALENDAR',
);

const doneTask = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VTODO', 'UID:task-3@example.com', 'DTSTAMP:20260101T120000Z',
  'SUMMARY:Buy milk', 'STATUS:COMPLETED', 'COMPLETED:20260105T181500Z', 'PERCENT-COMPLETE:100', 'PRIORITY:9',
  'END:VTODO', 'END:VCALENDAR',
);

const bareTask = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VTODO', 'UID:task-4@example.com', 'DTSTAMP:20260101T120000Z', 'SUMMARY:Someday', 'END:VTODO', 'END:VCALENDAR',
);

const utcDueTask = crlf(
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//Fixture//EN',
  'BEGIN:VTODO', 'UID:task-5@example.com', 'DTSTAMP:20260101T120000Z', 'SUMMARY:Ship release',
  'DUE:20260415T160000Z', 'STATUS:COMPLETED', 'X-APPLE-SORT-ORDER:12',
  'END:VTODO', 'END:VCALENDAR',
);

const fixtures: Record<string, string> = {
  'a task with zoned start and due, priority, progress, alarms and X- properties': richTask,
  'a recurring task with DATE start and due and an absolute alarm': dateTask,
  'a completed task': doneTask,
  'a task with only a title': bareTask,
  'a completed task with a UTC due time and no COMPLETED': utcDueTask,
};

// ---------------------------------------------------------------------------------------------------
// (2) hub → EAS → hub

for (const [name, ics] of Object.entries(fixtures)) {
  test(`round trip hub → EAS → hub keeps ${name} unchanged`, () => {
    assert.ok(checkItem('tasks', ics).ok);
    assert.equal(canonical(ics), ics, 'fixture in ical.js serialization');
    for (const version of ['14.0', '14.1', '16.1'] as const) assert.equal(fromEas(toEas(ics, version), ics, version), ics, version);
  });
}

test('the rich task, field by field', () => {
  const app = toEas(richTask);
  assert.equal(value(app, 'Subject'), 'File taxes');
  assert.equal(value(child(app, 'Body', 'AirSyncBase') as WbxmlElement, 'Data', 'AirSyncBase'), 'Receipts are in the\r\nblue folder');
  assert.equal(value(app, 'Importance'), '2');
  assert.equal(value(app, 'StartDate'), '2026-03-02T09:00:00.000Z');
  assert.equal(value(app, 'UtcStartDate'), '2026-03-02T08:00:00.000Z');
  assert.equal(value(app, 'DueDate'), '2026-03-31T17:00:00.000Z');
  assert.equal(value(app, 'UtcDueDate'), '2026-03-31T15:00:00.000Z');
  assert.deepEqual(children(child(app, 'Categories', 'Tasks'), 'Category', 'Tasks').map((c) => text(c)), ['Home', 'Money']);
  assert.equal(value(app, 'Complete'), '0');
  assert.equal(value(app, 'DateCompleted'), undefined);
  assert.equal(value(app, 'Sensitivity'), '3');
  // One day before the due time.
  assert.equal(value(app, 'ReminderSet'), '1');
  assert.equal(value(app, 'ReminderTime'), '2026-03-30T15:00:00.000Z');
  assert.equal(child(app, 'Recurrence', 'Tasks'), undefined);

  const dated = toEas(dateTask);
  assert.equal(value(dated, 'StartDate'), '2026-03-02T00:00:00.000Z');
  assert.equal(value(dated, 'UtcStartDate'), '2026-03-02T00:00:00.000Z');
  assert.equal(value(dated, 'DueDate'), '2026-03-03T00:00:00.000Z');
  assert.equal(value(dated, 'Importance'), '1');
  assert.equal(value(dated, 'ReminderTime'), '2026-03-02T07:00:00.000Z');
  const rec = child(dated, 'Recurrence', 'Tasks') as WbxmlElement;
  assert.deepEqual(['Type', 'Start', 'Until', 'Interval', 'DayOfWeek', 'FirstDayOfWeek'].map((n) => value(rec, n)),
    ['1', '2026-03-02T00:00:00.000Z', '2026-06-01T00:00:00.000Z', '1', '2', '1']);

  const done = toEas(doneTask);
  assert.equal(value(done, 'Complete'), '1');
  assert.equal(value(done, 'DateCompleted'), '2026-01-05T18:15:00.000Z');
  assert.equal(value(done, 'Importance'), '0');
  assert.equal(value(done, 'ReminderSet'), '0');
  // Completed without COMPLETED: its DTSTAMP stands in.
  assert.equal(value(toEas(utcDueTask), 'DateCompleted'), '2026-01-01T12:00:00.000Z');
  assert.equal(value(toEas(utcDueTask), 'DueDate'), '2026-04-15T16:00:00.000Z');
});

// ---------------------------------------------------------------------------------------------------
// (1) EAS → hub → EAS

test('EAS → hub → EAS keeps each field of a task', () => {
  const sent = wire([
    asb('Body', asb('Type', '1'), asb('Data', 'Call the\r\nplumber')),
    t('Subject', 'Fix sink'),
    t('Importance', '2'),
    t('UtcStartDate', '2026-03-01T23:00:00.000Z'), t('StartDate', '2026-03-02T00:00:00.000Z'),
    t('UtcDueDate', '2026-03-05T23:00:00.000Z'), t('DueDate', '2026-03-06T00:00:00.000Z'),
    t('Categories', t('Category', 'Home')),
    t('Recurrence', t('Type', '3'), t('Start', '2026-03-02T00:00:00.000Z'), t('Occurrences', '6'), t('Interval', '1'),
      t('DayOfWeek', '2'), t('WeekOfMonth', '1')),
    t('Complete', '0'),
    t('Sensitivity', '2'),
    t('ReminderTime', '2026-03-06T08:00:00.000Z'), t('ReminderSet', '1'),
  ]);
  const hub = fromEas(sent);
  const vtodo = todo(hub);
  assert.equal(vtodo.getFirstPropertyValue('uid'), 'task-uid@test');
  assert.equal(line(vtodo, 'dtstart'), 'DTSTART;VALUE=DATE:20260302');
  assert.equal(line(vtodo, 'due'), 'DUE;VALUE=DATE:20260306');
  assert.equal(vtodo.getFirstPropertyValue('priority'), 1);
  assert.equal(String(vtodo.getFirstPropertyValue('rrule')), 'FREQ=MONTHLY;COUNT=6;BYDAY=1MO');
  const got = toEas(hub);
  for (const name of ['Subject', 'Importance', 'StartDate', 'DueDate', 'Categories', 'Complete', 'Sensitivity', 'ReminderTime', 'ReminderSet']) {
    assert.deepEqual(child(got, name, 'Tasks'), child(sent, name, 'Tasks'), name);
  }
  assert.equal(value(child(got, 'Body', 'AirSyncBase') as WbxmlElement, 'Data', 'AirSyncBase'), 'Call the\r\nplumber');
  const rec = child(got, 'Recurrence', 'Tasks') as WbxmlElement;
  assert.deepEqual(['Type', 'Start', 'Occurrences', 'Interval', 'DayOfWeek', 'WeekOfMonth'].map((n) => value(rec, n)),
    ['3', '2026-03-02T00:00:00.000Z', '6', '1', '2', '1']);
  // Dates (local midnight) go out as midnight both ways: the client's zone is not kept.
  assert.equal(value(got, 'UtcStartDate'), '2026-03-02T00:00:00.000Z');
  assert.equal(value(got, 'UtcDueDate'), '2026-03-06T00:00:00.000Z');
  // A timed due keeps its instant.
  const timed = fromEas(replacing(sent, t('UtcDueDate', '2026-03-06T16:00:00.000Z'), t('DueDate', '2026-03-06T17:00:00.000Z'),
    t('UtcStartDate', '2026-03-02T08:00:00.000Z'), t('StartDate', '2026-03-02T09:00:00.000Z')));
  assert.equal(line(todo(timed), 'due'), 'DUE:20260306T160000Z');
  assert.equal(value(toEas(timed), 'UtcDueDate'), '2026-03-06T16:00:00.000Z');
  // Stable from there on.
  assert.equal(fromEas(got, hub), hub);

  const completed = fromEas(wire([t('Subject', 'Done'), t('Complete', '1'), t('DateCompleted', '2026-03-07T10:00:00.000Z'), t('Importance', '0')]));
  const c = todo(completed);
  assert.equal(c.getFirstPropertyValue('status'), 'COMPLETED');
  assert.equal(line(c, 'completed'), 'COMPLETED:20260307T100000Z');
  assert.equal(c.getFirstPropertyValue('percent-complete'), 100);
  assert.equal(c.getFirstPropertyValue('priority'), 9);
  const back = toEas(completed);
  assert.deepEqual([value(back, 'Complete'), value(back, 'DateCompleted'), value(back, 'Importance')], ['1', '2026-03-07T10:00:00.000Z', '0']);
});

// ---------------------------------------------------------------------------------------------------
// (3) Changes

test('a Change leaving fields out removes them and keeps the rest', () => {
  const app = without(toEas(richTask), 'Subject', 'Body', 'Importance', 'UtcStartDate', 'StartDate', 'UtcDueDate', 'DueDate',
    'Categories', 'Sensitivity', 'ReminderTime', 'ReminderSet');
  const out = fromEas(app, richTask);
  const vtodo = todo(out);
  for (const gone of ['summary', 'description', 'priority', 'dtstart', 'due', 'categories', 'class']) {
    assert.equal(vtodo.hasProperty(gone), false, gone);
  }
  // The reminder alarm went; the e-mail alarm is no reminder ActiveSync carries.
  assert.deepEqual(vtodo.getAllSubcomponents('valarm').map((a) => a.getFirstPropertyValue('action')), ['EMAIL']);
  for (const kept of ['UID:task-1@example.com', 'DTSTAMP:20260101T120000Z', 'STATUS:IN-PROCESS', 'PERCENT-COMPLETE:40',
    'X-TASK-COLOR:red', 'URL:https://example.com/taxes', 'CREATED:20251201T080000Z']) {
    assert.ok(out.includes(`\r\n${kept}\r\n`), kept);
  }
});

test('a Change rewrites only what changed', () => {
  const sent = toEas(richTask);
  const out = fromEas(replacing(sent,
    t('Subject', 'File taxes now'),
    t('UtcDueDate', '2026-04-10T15:00:00.000Z'), t('DueDate', '2026-04-10T17:00:00.000Z'),
    t('ReminderTime', '2026-04-10T06:00:00.000Z'),
    t('Complete', '1'), t('DateCompleted', '2026-04-09T12:00:00.000Z')), richTask);
  const vtodo = todo(out);
  assert.equal(line(vtodo, 'summary'), 'SUMMARY;LANGUAGE=en:File taxes now');
  assert.equal(line(vtodo, 'due'), 'DUE;TZID=Europe/Berlin:20260410T170000');
  assert.equal(line(vtodo, 'dtstart'), 'DTSTART;TZID=Europe/Berlin:20260302T090000');
  assert.equal(vtodo.getFirstPropertyValue('status'), 'COMPLETED');
  assert.equal(line(vtodo, 'completed'), 'COMPLETED:20260409T120000Z');
  assert.equal(vtodo.getFirstPropertyValue('percent-complete'), 100);
  const alarm = vtodo.getAllSubcomponents('valarm')[0] as ICAL.Component;
  assert.equal(alarm.getFirstPropertyValue('description'), 'Taxes!');
  assert.equal(line(alarm, 'trigger'), 'TRIGGER;VALUE=DATE-TIME:20260410T060000Z');
  for (const kept of ['PRIORITY:1', 'CATEGORIES:Home,Money', 'CLASS:CONFIDENTIAL', 'DESCRIPTION:Receipts are in the\\nblue folder']) {
    assert.ok(out.includes(`\r\n${kept}\r\n`), kept);
  }
  // Reopening it.
  const reopened = fromEas(replacing(toEas(out), t('Complete', '0')), out);
  const r = todo(reopened);
  assert.equal(r.getFirstPropertyValue('status'), 'NEEDS-ACTION');
  assert.equal(r.hasProperty('completed') || r.hasProperty('percent-complete'), false);
  // A new pattern replaces the rule.
  const weekly = fromEas(replacing(toEas(dateTask), t('Recurrence', t('Type', '0'), t('Interval', '2'), t('Occurrences', '3'))), dateTask);
  assert.equal(String(todo(weekly).getFirstPropertyValue('rrule')), 'FREQ=DAILY;COUNT=3;INTERVAL=2');
  const none = fromEas(without(toEas(dateTask), 'Recurrence'), dateTask);
  assert.equal(todo(none).hasProperty('rrule'), false);
});

test('a client sending only StartDate/DueDate (no Utc…) is understood', () => {
  const out = fromEas(replacing(without(toEas(richTask), 'UtcDueDate'), t('DueDate', '2026-03-31T17:00:00.000Z')), richTask);
  assert.equal(out, richTask);
  const moved = fromEas(replacing(without(toEas(bareTask), 'UtcDueDate'), t('DueDate', '2026-05-01T00:00:00.000Z')), bareTask);
  assert.equal(line(todo(moved), 'due'), 'DUE;VALUE=DATE:20260501');
});

// ---------------------------------------------------------------------------------------------------
// (6) Malformed input

test('malformed task input: clear Errors or sane items', () => {
  throwsClearly(() => taskMapper.fromEas(wire([t('Subject', 'x'), t('DueDate', 'friday')]), undefined, ctx()), /DueDate "friday" is not a date-time/);
  throwsClearly(() => taskMapper.fromEas(wire([t('Subject', 'x'), t('Importance', 'high')]), undefined, ctx()), /Importance: "high" is not a number/);
  throwsClearly(() => taskMapper.fromEas(wire([t('Subject', 'x'), t('Recurrence', t('Type', '8'))]), undefined, ctx()), /Recurrence Type 8 is not supported/);
  throwsClearly(() => taskMapper.fromEas(wire([t('Subject', 'x')]), 'garbage', ctx()), /cannot parse the existing task/);
  throwsClearly(() => taskMapper.fromEas(wire([t('Subject', 'x')]), bareTask.replace(/VTODO/g, 'VJOURNAL'), ctx()), /no VTODO/);
  // Out-of-range values fall back to defaults; Interval 0 reads as 1; ReminderSet without a time sets none.
  const odd = fromEas(wire([t('Subject', 'x'), t('Importance', '7'), t('Sensitivity', '12'), t('StartDate', '2026-03-02T00:00:00.000Z'),
    t('Recurrence', t('Type', '0'), t('Interval', '0')), t('ReminderSet', '1')]));
  const v = todo(odd);
  assert.equal(v.hasProperty('priority'), false);
  assert.equal(value(toEas(odd), 'Importance'), '1');
  assert.equal(v.getFirstPropertyValue('class'), 'PRIVATE');
  assert.equal(String(v.getFirstPropertyValue('rrule')), 'FREQ=DAILY');
  assert.equal(v.getAllSubcomponents('valarm').length, 0);
  // A recurrence on a task without a start takes the Recurrence's Start.
  const started = fromEas(wire([t('Subject', 'x'), t('Recurrence', t('Type', '1'), t('Start', '2026-03-04T00:00:00.000Z'), t('DayOfWeek', '8'))]));
  assert.equal(line(todo(started), 'dtstart'), 'DTSTART;VALUE=DATE:20260304');
  assert.equal(String(todo(started).getFirstPropertyValue('rrule')), 'FREQ=WEEKLY;BYDAY=WE');
  // A date-only start beside a timed due: both become date-times (RFC 5545 wants one value type).
  const mixed = fromEas(wire([t('Subject', 'x'), t('StartDate', '2026-03-02T00:00:00.000Z'), t('UtcDueDate', '2026-03-06T16:00:00.000Z')]));
  assert.equal(line(todo(mixed), 'dtstart'), 'DTSTART:20260302T000000Z');
  assert.equal(line(todo(mixed), 'due'), 'DUE:20260306T160000Z');
});

test('random client input never gives a TypeError or an item the hub would refuse', () => {
  const date = fc.oneof(
    fc.date({ min: new Date('1990-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom('2026-03-02T00:00:00.000Z', '20260302T080000Z', 'garbage', '', '2026-02-30T00:00:00.000Z'));
  const num = fc.oneof(fc.integer({ min: -3, max: 140 }).map(String), fc.constantFrom('', 'x', '1.5'));
  const recurrence = fc.array(fc.oneof(
    ...['Type', 'Interval', 'Occurrences', 'DayOfWeek', 'DayOfMonth', 'WeekOfMonth', 'MonthOfYear', 'Regenerate', 'DeadOccur']
      .map((n) => num.map((v) => t(n, v))),
    fc.constantFrom('0', '1', '2', '3', '5', '6').map((v) => t('Type', v)),
    date.map((v) => t('Until', v)), date.map((v) => t('Start', v))), { maxLength: 6 }).map((k) => t('Recurrence', ...k));
  const field = fc.oneof(
    ...['StartDate', 'UtcStartDate', 'DueDate', 'UtcDueDate', 'DateCompleted', 'ReminderTime'].map((n) => date.map((v) => t(n, v))),
    ...['Complete', 'Importance', 'Sensitivity', 'ReminderSet'].map((n) => num.map((v) => t(n, v))),
    fc.string({ maxLength: 12 }).map((v) => t('Subject', v)),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }).map((v) => t('Categories', ...v.map((c) => t('Category', c)))),
    recurrence);
  fuzzFromEas(field, [undefined, richTask, dateTask]);
});

test('an RTF body the server cannot read is kept as sent in X-SYNCPOINT-EAS-RTF, beside the DESCRIPTION, and sent back to clients that ask for RTF (issue 13 D5)', () => {
  mapperHarness(taskMapper, 'tasks', { uid: 'task-uid@test', now }).keptRtf([t('Subject', 'Rich')]);
});
