import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { limits } from '../core/limits.js';
import { checkItem } from './registry.js';
import { RuleBudget, withinRuleBudget } from '../content/recurrence-budget.js';

const calendar = (head: string[], ...lines: string[]) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...head, 'BEGIN:VEVENT', 'UID:e1', 'DTSTAMP:20260101T000000Z', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
const event = (...lines: string[]) => calendar([], ...lines);
/** A VTIMEZONE X with one observance repeating by `rule` from `start`. */
const zone = (rule: string, start: string) =>
  ['BEGIN:VTIMEZONE', 'TZID:X', 'BEGIN:STANDARD', `DTSTART:${start}`, 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0000', `RRULE:${rule}`, 'END:STANDARD', 'END:VTIMEZONE'];
const outlookZone = [
  'BEGIN:VTIMEZONE', 'TZID:W. Europe Standard Time',
  'BEGIN:STANDARD', 'DTSTART:16010101T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10', 'END:STANDARD',
  'BEGIN:DAYLIGHT', 'DTSTART:16010101T020000', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3', 'END:DAYLIGHT',
  'END:VTIMEZONE',
];
const neverMatching = 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30';

/** CPU ms `f` takes. */
function cpuMs(f: () => void): number {
  const before = process.cpuUsage();
  f();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function refused(data: string, message: RegExp): void {
  const check = checkItem('events', data);
  assert.equal(check.ok, false, 'the item is refused');
  if (!check.ok) {
    assert.equal(check.status, 'invalidItem');
    assert.match(check.message, message);
  }
}

test('a recurring event is indexed up to its last instance', () => {
  const check = checkItem('events', event('DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=3'));
  assert.ok(check.ok);
  assert.equal(check.index.startMs, Date.UTC(2026, 0, 5, 9));
  assert.equal(check.index.endMs, Date.UTC(2026, 0, 19, 10));
});

// Without the budget this never returns, and the test run hangs.
test('a rule that never matches is cut off by the step budget and counts as open-ended, instead of hanging the server', () => {
  const check = checkItem('events', event('DTSTART:20240101T090000Z', neverMatching));
  assert.ok(check.ok);
  assert.equal(check.index.endMs, null);
});

// ical.js added the 19-billion-year duration month by month: 7.7 s of CPU for 171 bytes.
test('an absurd DURATION, TRIGGER or period duration is refused before ical.js adds it', () => {
  let ms = cpuMs(() => refused(event('DTSTART:20260101T000000Z', 'DURATION:P1000000000W'), /DURATION P1000000000W is longer than 36525 days/));
  ms += cpuMs(() => refused(event('DTSTART:20260101T000000Z', 'BEGIN:VALARM', 'ACTION:DISPLAY', 'TRIGGER:-P1000000000W', 'END:VALARM'), /TRIGGER/));
  ms += cpuMs(() => refused(event('DTSTART:20260101T000000Z', 'RDATE;VALUE=PERIOD:20260102T000000Z/P99999999D'), /RDATE/));
  assert.ok(ms < 200, `refused in ${ms} ms`);
  const fine = checkItem('events', event('DTSTART:20260101T000000Z', 'DURATION:P5200W'));
  assert.ok(fine.ok, 'a hundred years less a little is a duration still');
});

// Daily from year 1 took 6.6 s and 457 MB; hourly ran out of memory; a rule that never matches hung.
test('a VTIMEZONE that would expand without bound is refused before any time is converted in it', () => {
  const at = 'DTSTART;TZID=X:20260101T090000';
  const ms = cpuMs(() => {
    refused(calendar(zone('FREQ=DAILY', '00010101T000000'), at), /VTIMEZONE observance may only repeat yearly/);
    refused(calendar(zone('FREQ=HOURLY', '00010101T000000'), at), /VTIMEZONE observance may only repeat yearly/);
    refused(calendar(zone('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', '19700101T000000'), at), /VTIMEZONE observance may only repeat yearly/);
    refused(calendar(zone('FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYDAY=SU', '19700101T000000'), at), /VTIMEZONE observance/);
    refused(calendar(zone('FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10', '00010101T000000'), at), /VTIMEZONE rules span 2031 years/);
  });
  assert.ok(ms < 200, `refused in ${ms} ms`);
});

test("Outlook's zones, which start in 1601, are accepted and placed exactly", () => {
  const check = checkItem('events', calendar(outlookZone, 'DTSTART;TZID=W. Europe Standard Time:20260701T090000'));
  assert.ok(check.ok, check.ok ? '' : check.message);
  assert.equal(check.index.startMs, Date.UTC(2026, 6, 1, 7));
  // An event far in the future would make ical.js expand them for eight millennia.
  refused(calendar(outlookZone, 'DTSTART;TZID=W. Europe Standard Time:99990701T090000'), /VTIMEZONE rules span/);
});

// The web app's random UIDs started with four digits one time in a few and failed its saves.
test('only time values set the horizon: a UID or a text that starts with digits is not a year', () => {
  const text = calendar(outlookZone, 'DTSTART;TZID=W. Europe Standard Time:20260701T090000', 'SUMMARY:9999 problems', 'X-NOTE:5426 ways')
    .replace('UID:e1', 'UID:5426c1d0-7f00-4e5a-9d1b-0a2b3c4d5e6f');
  const check = checkItem('events', text);
  assert.ok(check.ok, check.ok ? '' : check.message);
});

test('deep nesting, too many RDATE/EXDATE values, rules or BY values are refused before evaluation', () => {
  const nest = Array.from({ length: limits.componentDepthMax }, () => 'BEGIN:X-NEST').concat(Array.from({ length: limits.componentDepthMax }, () => 'END:X-NEST'));
  refused(event('DTSTART:20260101T000000Z', ...nest), /nest deeper than 8/);
  const dates = Array.from({ length: limits.recurrenceDatesMax + 1 }, (_, i) => `EXDATE:${20260102 + (i % 20)}T000000Z`);
  refused(event('DTSTART:20260101T000000Z', 'RRULE:FREQ=DAILY', ...dates), /more than 1000 RDATE and EXDATE values/);
  const rules = Array.from({ length: limits.recurrenceRulesMax + 1 }, (_, i) => `RRULE:FREQ=DAILY;INTERVAL=${i + 2}`);
  refused(event('DTSTART:20260101T000000Z', ...rules), /more than 8 recurrence rules/);
  const positions = Array.from({ length: limits.ruleByValuesMax + 1 }, (_, i) => (i < 366 ? i + 1 : 365 - i)).join(',');
  refused(event('DTSTART:20260101T000000Z', `RRULE:FREQ=YEARLY;BYSETPOS=${positions};BYDAY=MO`), /more than 400 BY values/);
});

// 1,000 such items (82 KB) in one ActiveSync request took 40 s of CPU: each had 20,000 steps of its own.
test('one budget is shared by every item of a request: a thousand never-matching rules cost what one does', () => {
  const items = Array.from({ length: 1000 }, (_, i) => event(`DTSTART:2024010${1 + (i % 9)}T090000Z`, neverMatching));
  const budget = RuleBudget.forRequest(items.reduce((n, d) => n + Buffer.byteLength(d), 0));
  const start = budget.stepsLeft;
  assert.ok(start <= limits.ruleStepsBase + 200 * limits.ruleStepsPerKiB, `${start} steps for about 200 KiB`);
  let ms = 0;
  for (const data of items) {
    ms += cpuMs(() => {
      const check = checkItem('events', data, budget);
      // Every item is stored, indexed as open-ended: nothing is lost, and range filters include it.
      assert.ok(check.ok);
      assert.equal(check.index.endMs, null);
    });
  }
  assert.ok(budget.stepsLeft <= 0, 'the budget was spent');
  assert.ok(ms < 2000, `1,000 items took ${ms} ms`);
});

test('a request budget is linear in its bytes, with a floor and a hard cap', () => {
  assert.equal(RuleBudget.forRequest(0).stepsLeft, limits.ruleStepsBase);
  assert.equal(RuleBudget.forRequest(10 * 1024).stepsLeft, limits.ruleStepsBase + 10 * limits.ruleStepsPerKiB);
  assert.equal(RuleBudget.forRequest(limits.requestBytesMax).stepsLeft, limits.ruleStepsRequestMax);
});

test('a series that does not fit what is left of the budget is stored as open-ended; its start still counts', () => {
  const budget = new RuleBudget(50);
  // BYDAY makes the rule one that must be walked (a plain one is computed: the test below).
  const check = checkItem('events', event('DTSTART:20260105T090000Z', 'RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=100'), budget);
  assert.ok(check.ok);
  assert.equal(check.index.startMs, Date.UTC(2026, 0, 5, 9));
  assert.equal(check.index.endMs, null);
});

test('a zone expanded again for a later year keeps one copy of each transition (ical.js appended them again)', () => {
  const root = new ICAL.Component(ICAL.parse(calendar(outlookZone, 'DTSTART:20260101T000000Z')) as unknown[]);
  const tz = new ICAL.Timezone({ component: root.getFirstSubcomponent('vtimezone') as ICAL.Component, tzid: 'W' });
  const changes = () => (tz as unknown as { changes: unknown[] }).changes.length;
  withinRuleBudget(() => tz.utcOffset(ICAL.Time.fromData({ year: 2040, month: 1, day: 1 })), new RuleBudget(1e6));
  const first = changes();
  withinRuleBudget(() => tz.utcOffset(ICAL.Time.fromData({ year: 2060, month: 1, day: 1 })), new RuleBudget(1e6));
  assert.equal(changes(), first + 2 * 20);
});

test('checked against several kinds, an item is the kind of its component; one of none of them is refused naming them all', () => {
  const todo = event('DTSTART:20260105T090000Z').replace(/VEVENT/g, 'VTODO');
  const asTask = checkItem(['events', 'tasks'], todo);
  assert.ok(asTask.ok);
  assert.equal(asTask.kind, 'tasks');
  const asEvent = checkItem(['events', 'tasks'], event('DTSTART:20260105T090000Z'));
  assert.ok(asEvent.ok);
  assert.equal(asEvent.kind, 'events');
  const journal = checkItem(['events', 'tasks'], todo.replace(/VTODO/g, 'VJOURNAL'));
  assert.equal(journal.ok, false);
  if (!journal.ok) {
    assert.equal(journal.status, 'wrongKind');
    assert.match(journal.message, /holds VEVENT or VTODO, got VJOURNAL/);
  }
  // A VEVENT and a VTODO in one object fit neither kind.
  const both = todo.replace('END:VCALENDAR', 'BEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR');
  assert.equal(checkItem(['events', 'tasks'], both).ok, false);
});

/** The span walking the series instance by instance gives (what the index did for every series before plain ones were computed). */
function walkedSpan(data: string): { startMs: number | null; endMs: number | null } {
  const vevent = new ICAL.Component(ICAL.parse(data)).getFirstSubcomponent('vevent') as ICAL.Component;
  const e = new ICAL.Event(vevent);
  const ms = (t: ICAL.Time) => t.toJSDate().getTime();
  const startMs = ms(e.startDate);
  const durationMs = Math.max(e.endDate ? ms(e.endDate) - startMs : 0, 0);
  const iterator = e.iterator();
  let last: ICAL.Time | null = null;
  for (let n = 0; n < limits.recurrenceInstancesMax; n++) {
    const next = iterator.next();
    if (!next) return { startMs, endMs: (last ? ms(last) : startMs) + durationMs };
    last = next;
  }
  return { startMs, endMs: null };
}

const berlin = [
  'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT', 'DTSTART:19810329T020000', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'DTSTART:19961027T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'END:STANDARD',
  'END:VTIMEZONE',
];

test('a plain series (one rule, no BY parts, RDATE or EXDATE) is indexed by arithmetic exactly where walking it ends', () => {
  let seed = 12;
  const pick = <T>(xs: readonly T[]): T => xs[(seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % xs.length] as T;
  const starts = [
    { by: ['BYDAY=SA', 'BYMONTHDAY=31', 'BYMONTH=1'], start: 'DTSTART:20260131T233000Z', end: 'DTEND:20260201T003000Z', head: [], until: (d: string) => `${d}T233000Z` },
    { by: ['BYDAY=SA', 'BYMONTHDAY=28', 'BYMONTH=3'], start: 'DTSTART;TZID=Europe/Berlin:20260328T023000', end: 'DURATION:PT90M', head: berlin, until: (d: string) => `${d}T013000Z` },
    { by: ['BYDAY=SU', 'BYMONTHDAY=25', 'BYMONTH=10'], start: 'DTSTART;TZID=Europe/Berlin:20261025T090000', end: 'DTEND;TZID=Europe/Berlin:20261025T100000', head: berlin, until: (d: string) => `${d}T080000Z` },
    { by: ['BYDAY=TH', 'BYMONTHDAY=15', 'BYMONTH=1'], start: 'DTSTART:20260115T090000', end: 'DTEND:20260115T100000', head: [], until: (d: string) => `${d}T090000` },
    { by: ['BYDAY=SA', 'BYMONTHDAY=28', 'BYMONTH=2'], start: 'DTSTART;VALUE=DATE:20260228', end: 'DTEND;VALUE=DATE:20260301', head: [], until: (d: string) => d },
    { by: ['BYDAY=TU', 'BYMONTHDAY=29', 'BYMONTH=2'], start: 'DTSTART;VALUE=DATE:20280229', end: '', head: [], until: (d: string) => d },
    { by: ['BYDAY=TU', 'BYMONTHDAY=31', 'BYMONTH=3'], start: 'DTSTART:20260331T100000Z', end: '', head: [], until: (d: string) => `${d}T100000Z` },
  ];
  const untilDays = ['20251231', '20260115', '20260131', '20260329', '20261025', '20261026', '20270101', '20300615', '20400301', '21000101', '24000101'];
  const compare = (s: (typeof starts)[number], rule: string, exdate = '') => {
    const data = calendar(s.head, ...[s.start, s.end, rule, exdate].filter(Boolean));
    const check = checkItem('events', data, new RuleBudget(limits.ruleStepsRequestMax * 100));
    assert.ok(check.ok, `${rule}: ${check.ok ? '' : check.message}`);
    assert.deepEqual({ startMs: check.index.startMs, endMs: check.index.endMs }, walkedSpan(data), `${s.start} ${s.end} ${rule} ${exdate}`);
  };
  let plain = 0;
  for (let i = 0; i < 400; i++) {
    const s = pick(starts);
    const freq = pick(['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY']);
    const interval = pick(['', ';INTERVAL=1', ';INTERVAL=2', ';INTERVAL=3', ';INTERVAL=13']);
    const until = `;UNTIL=${s.until(pick(untilDays))}`;
    const end = pick([';COUNT=1', ';COUNT=2', ';COUNT=10', ';COUNT=60', until, until, until]);
    // BY parts that restate DTSTART (as ActiveSync writes a weekly rule: BYDAY=SA on a Saturday) keep it plain; others of the same day do not.
    const extra = pick(['', '', '', 'EXDATE:20260207T233000Z', ';WKST=MO', `;${pick(s.by)}`, `;${pick(s.by)}`, ';BYDAY=MO', ';BYMONTHDAY=1']);
    compare(s, `RRULE:FREQ=${freq}${interval}${end}${extra.startsWith(';') ? extra : ''}`, extra.startsWith('EXDATE') ? extra : '');
    if (!extra.startsWith('EXDATE') && extra !== ';BYDAY=MO' && extra !== ';BYMONTHDAY=1') plain++;
  }
  // Walking these takes the whole instance cap (5000), so only a few: a series that never ends, and those just under, at and over the cap.
  const utc = starts[0] as (typeof starts)[number];
  for (const rule of ['FREQ=DAILY', 'FREQ=WEEKLY;INTERVAL=2', 'FREQ=DAILY;COUNT=4999', 'FREQ=DAILY;COUNT=5000', 'FREQ=DAILY;UNTIL=20390930T233000Z', 'FREQ=DAILY;UNTIL=20391010T233000Z', 'FREQ=WEEKLY;UNTIL=21500101T000000Z']) {
    compare(utc, `RRULE:${rule}`);
  }
  assert.ok(plain > 200, `${plain} plain series compared`);
});

test('a plain series needs no recurrence budget: with none left it is still indexed to its last instance', () => {
  const check = checkItem('events', event('DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=10'), new RuleBudget(0));
  assert.ok(check.ok);
  assert.equal(check.index.endMs, Date.UTC(2026, 2, 9, 10));
  const until = checkItem('events', event('DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=MONTHLY;UNTIL=20260705T085959Z'), new RuleBudget(0));
  assert.ok(until.ok);
  assert.equal(until.index.endMs, Date.UTC(2026, 5, 5, 10));
  // ActiveSync writes a weekly rule with the day it starts on: 10 January 2026 is a Saturday.
  const restated = checkItem('events', event('DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z', 'RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=SA'), new RuleBudget(0));
  assert.ok(restated.ok);
  assert.equal(restated.index.endMs, Date.UTC(2026, 2, 14, 11));
});
