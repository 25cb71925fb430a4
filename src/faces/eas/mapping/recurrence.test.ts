import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsClearly } from './mapper-harness.js';
import ICAL from 'ical.js';
import { el, type WbxmlElement } from '../wbxml/element.js';
import { decodeWbxml, encodeWbxml } from '../wbxml/codec.js';
import {
  easToRrule, parseRecurrence, recurrenceElement, rruleToEas, sameRecurrence, type EasRecurrence, type RecurrenceCodec,
} from './recurrence.js';

// A series starting Monday 2 March 2026, 09:00 (wall time).
const start = ICAL.Time.fromData({ year: 2026, month: 3, day: 2, hour: 9, minute: 0, second: 0 });
const untilToEas = (t: ICAL.Time) => Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
const untilToIcal = (ms: number) => ICAL.Time.fromJSDate(new Date(ms), true);
const toEas = (rule: string) => rruleToEas(ICAL.Recur.fromString(rule), start, untilToEas);
const toIcal = (r: EasRecurrence) => easToRrule(r, start, untilToIcal).toString();

const codec: RecurrenceCodec = {
  formatDate: (ms) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, ''),
  parseDate: (value, field) => {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
    if (!m) throw new Error(`${field}: bad date ${value}`);
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  },
};

/** The rule each pattern maps to and back again, unchanged. */
const exact: Array<[string, EasRecurrence]> = [
  ['FREQ=DAILY', { type: 0, interval: 1 }],
  ['FREQ=DAILY;COUNT=5;INTERVAL=3', { type: 0, interval: 3, occurrences: 5 }],
  ['FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE', { type: 1, interval: 1, occurrences: 10, dayOfWeek: 2 | 8, firstDayOfWeek: 1 }],
  ['FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,SA;WKST=SU', { type: 1, interval: 2, dayOfWeek: 1 | 64, firstDayOfWeek: 0 }],
  ['FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20261215T090000Z', { type: 2, interval: 1, dayOfMonth: 15, until: Date.UTC(2026, 11, 15, 9) }],
  ['FREQ=MONTHLY;BYDAY=2TU', { type: 3, interval: 1, dayOfWeek: 4, weekOfMonth: 2 }],
  ['FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20261231T090000Z', { type: 3, interval: 1, dayOfWeek: 32, weekOfMonth: 5, until: Date.UTC(2026, 11, 31, 9) }],
  ['FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', { type: 3, interval: 1, dayOfWeek: 62, weekOfMonth: 5 }],
  ['FREQ=MONTHLY;BYMONTHDAY=-1', { type: 3, interval: 1, dayOfWeek: 127, weekOfMonth: 5 }],
  ['FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=2', { type: 5, interval: 1, monthOfYear: 3, dayOfMonth: 2 }],
  ['FREQ=YEARLY;INTERVAL=2;BYMONTH=11;BYDAY=4TH', { type: 6, interval: 2, monthOfYear: 11, dayOfWeek: 16, weekOfMonth: 4 }],
  ['FREQ=YEARLY;BYMONTH=5;BYDAY=-1MO', { type: 6, interval: 1, monthOfYear: 5, dayOfWeek: 2, weekOfMonth: 5 }],
];

for (const [rule, pattern] of exact) {
  test(`RRULE ${rule} ↔ Type ${pattern.type}`, () => {
    const out = toEas(rule);
    assert.ok(out, 'has an ActiveSync form');
    assert.equal(out.exact, true);
    assert.deepEqual(out.recurrence, pattern);
    assert.equal(toIcal(pattern), rule);
  });
}

test('parts a rule leaves to DTSTART are filled in from it', () => {
  assert.deepEqual(toEas('FREQ=WEEKLY')?.recurrence, { type: 1, interval: 1, dayOfWeek: 2, firstDayOfWeek: 1 });
  assert.deepEqual(toEas('FREQ=MONTHLY')?.recurrence, { type: 2, interval: 1, dayOfMonth: 2 });
  assert.deepEqual(toEas('FREQ=YEARLY')?.recurrence, { type: 5, interval: 1, monthOfYear: 3, dayOfMonth: 2 });
  // And from the client: a weekly pattern without DayOfWeek takes the start's weekday, Type 3 without
  // WeekOfMonth its week, Type 5 without MonthOfYear its month.
  assert.equal(toIcal({ type: 1, interval: 1 }), 'FREQ=WEEKLY;BYDAY=MO');
  assert.equal(toIcal({ type: 3, interval: 1, dayOfWeek: 2 }), 'FREQ=MONTHLY;BYDAY=1MO');
  assert.equal(toIcal({ type: 5, interval: 1, dayOfMonth: 9 }), 'FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=9');
  assert.equal(toIcal({ type: 3, interval: 1, dayOfWeek: 127, weekOfMonth: 1 }), 'FREQ=MONTHLY;BYMONTHDAY=1');
  assert.equal(toIcal({ type: 0, interval: 1, dayOfWeek: 62 }), 'FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR');
});

test('every weekday as a daily rule is sent as the weekly pattern that says the same', () => {
  assert.deepEqual(toEas('FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR')?.recurrence, { type: 1, interval: 1, dayOfWeek: 62, firstDayOfWeek: 1 });
});

test('a fifth weekday is sent as the last one, marked inexact', () => {
  const out = toEas('FREQ=MONTHLY;BYDAY=5FR');
  assert.deepEqual(out, { recurrence: { type: 3, interval: 1, dayOfWeek: 32, weekOfMonth: 5 }, exact: false });
});

test('rules ActiveSync cannot express have no pattern', () => {
  for (const rule of [
    'FREQ=HOURLY', 'FREQ=MINUTELY;INTERVAL=15', 'FREQ=DAILY;BYHOUR=9,15', 'FREQ=WEEKLY;BYDAY=1MO',
    'FREQ=MONTHLY;BYMONTHDAY=1,15', 'FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,-1', 'FREQ=MONTHLY;BYDAY=MO',
    'FREQ=YEARLY;BYMONTH=1,7', 'FREQ=YEARLY;BYYEARDAY=100', 'FREQ=YEARLY;BYWEEKNO=20', 'FREQ=YEARLY;BYDAY=20MO',
    'FREQ=MONTHLY;BYMONTH=3;BYMONTHDAY=1', 'FREQ=MONTHLY;BYMONTHDAY=-2', 'FREQ=DAILY;INTERVAL=2;BYDAY=MO',
  ]) {
    assert.equal(toEas(rule), undefined, rule);
  }
});

const cal = (name: string, value: string) => el('Calendar', name, value);

test('the Recurrence element round-trips through WBXML in both namespaces', () => {
  const pattern: EasRecurrence = {
    type: 6, interval: 1, occurrences: 4, dayOfWeek: 2, weekOfMonth: 5, monthOfYear: 5, firstDayOfWeek: 1,
  };
  const calendarElement = recurrenceElement(pattern, 'Calendar', codec, { firstDayOfWeek: true });
  const wire = decodeWbxml(encodeWbxml(el('AirSync', 'ApplicationData', calendarElement))).children[0] as WbxmlElement;
  assert.deepEqual(parseRecurrence(wire, 'Calendar', codec), pattern);
  const task: EasRecurrence = {
    type: 1, interval: 2, until: Date.UTC(2026, 5, 1), dayOfWeek: 42, start: Date.UTC(2026, 2, 2), regenerate: false, deadOccur: false,
  };
  const taskElement = recurrenceElement(task, 'Tasks', codec, { firstDayOfWeek: false });
  const taskWire = decodeWbxml(encodeWbxml(el('AirSync', 'ApplicationData', taskElement))).children[0] as WbxmlElement;
  assert.deepEqual(parseRecurrence(taskWire, 'Tasks', codec), task);
  // Before 14.1 there is no FirstDayOfWeek.
  const old = recurrenceElement(pattern, 'Calendar', codec, { firstDayOfWeek: false });
  assert.equal(parseRecurrence(old, 'Calendar', codec).firstDayOfWeek, undefined);
});

/** Asserts a clear Error (not a TypeError) whose message matches. */
test('malformed patterns from a client: clear Errors, and Interval 0 read as 1', () => {
  const parse = (...kids: WbxmlElement[]) => parseRecurrence(el('Calendar', 'Recurrence', ...kids), 'Calendar', codec);
  throwsClearly(() => parse(cal('Interval', '1')), /Recurrence has no Type/);
  throwsClearly(() => parse(cal('Type', '4')), /Type 4 is not supported/);
  throwsClearly(() => parse(cal('Type', '9')), /Type 9 is not supported/);
  throwsClearly(() => parse(cal('Type', 'weekly')), /Type: "weekly" is not a number/);
  throwsClearly(() => parse(cal('Type', '1'), cal('DayOfWeek', '300')), /DayOfWeek 300 is out of range/);
  throwsClearly(() => parse(cal('Type', '1'), cal('DayOfWeek', '0')), /DayOfWeek 0 names no day/);
  throwsClearly(() => parse(cal('Type', '2'), cal('DayOfMonth', '32')), /DayOfMonth 32/);
  throwsClearly(() => parse(cal('Type', '3'), cal('WeekOfMonth', '6')), /WeekOfMonth 6/);
  throwsClearly(() => parse(cal('Type', '5'), cal('MonthOfYear', '13')), /MonthOfYear 13/);
  throwsClearly(() => parse(cal('Type', '0'), cal('Interval', '-2')), /Interval -2 is out of range/);
  throwsClearly(() => parse(cal('Type', '0'), cal('Until', 'tomorrow')), /Until: bad date/);
  const zero = parse(cal('Type', '0'), cal('Interval', '0'));
  assert.equal(zero.interval, 1);
  assert.equal(toIcal(zero), 'FREQ=DAILY');
  throwsClearly(() => easToRrule({ type: 7, interval: 1 }, start, untilToIcal), /Type 7 is not supported/);
});

test('sameRecurrence: what the client echoes is the same, a real edit is not', () => {
  const key = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const sent: EasRecurrence = { type: 1, interval: 1, dayOfWeek: 10, firstDayOfWeek: 1, until: Date.UTC(2026, 5, 1, 7) };
  // Interval spelled out or not, FirstDayOfWeek dropped, Until at another time of the same day.
  assert.ok(sameRecurrence(sent, { type: 1, interval: 1, dayOfWeek: 10, until: Date.UTC(2026, 5, 1, 22) }, key));
  assert.ok(!sameRecurrence(sent, { ...sent, dayOfWeek: 2 }, key));
  assert.ok(!sameRecurrence(sent, { ...sent, until: Date.UTC(2026, 5, 8, 7) }, key));
  assert.ok(!sameRecurrence(sent, { ...sent, until: undefined, occurrences: 3 }, key));
  // FirstDayOfWeek matters only every few weeks.
  assert.ok(!sameRecurrence({ ...sent, interval: 2 }, { ...sent, interval: 2, firstDayOfWeek: 0 }, key));
  // Parts a type does not use are ignored.
  assert.ok(sameRecurrence({ type: 2, interval: 1, dayOfMonth: 2 }, { type: 2, interval: 1, dayOfMonth: 2, monthOfYear: 4 }, key));
});
