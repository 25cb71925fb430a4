import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { RuleBudget } from '../../content/recurrence-budget.js';
import { limits } from '../../core/limits.js';
import { alarmInRange, fixedStepSeries, forEachInstance, instanceOverlaps, ReadBudget, seriesOverlaps, timingOf, type Range } from './time-range.js';

const ms = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15));
const range = (start: string, end: string): Range => ({ startMs: ms(start), endMs: ms(end) });
const calendar = (name: string, ...lines: string[]) =>
  new ICAL.Component(ICAL.parse(`BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:${name}\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n${lines.map((l) => `${l}\r\n`).join('')}END:${name}\r\nEND:VCALENDAR\r\n`) as unknown[]);
const overlaps = (name: string, lines: string[], r: Range) => instanceOverlaps(name.toLowerCase(), timingOf(calendar(name, ...lines).getFirstSubcomponent(name.toLowerCase()) as ICAL.Component), r);

test('VEVENT: DTEND, DURATION, a zero-length event and an all-day date (RFC 4791 §9.9)', () => {
  const day = range('20260110T000000Z', '20260111T000000Z');
  assert.equal(overlaps('VEVENT', ['DTSTART:20260110T230000Z', 'DTEND:20260111T010000Z'], day), true);
  assert.equal(overlaps('VEVENT', ['DTSTART:20260109T230000Z', 'DTEND:20260110T000000Z'], day), false, 'ends where the range starts');
  assert.equal(overlaps('VEVENT', ['DTSTART:20260109T230000Z', 'DURATION:PT2H'], day), true);
  assert.equal(overlaps('VEVENT', ['DTSTART:20260110T000000Z'], day), true, 'a zero-length event at the range start');
  assert.equal(overlaps('VEVENT', ['DTSTART:20260111T000000Z'], day), false, 'a zero-length event at the range end');
  assert.equal(overlaps('VEVENT', ['DTSTART;VALUE=DATE:20260110'], range('20260110T120000Z', '20260110T130000Z')), true, 'a date lasts a day');
  assert.equal(overlaps('VEVENT', ['DTSTART;VALUE=DATE:20260109'], day), false);
});

test('VTODO: each row of the table of RFC 4791 §9.9', () => {
  const r = range('20260110T000000Z', '20260111T000000Z');
  assert.equal(overlaps('VTODO', ['DTSTART:20260109T000000Z', 'DURATION:P1D'], r), true, 'DTSTART+DURATION reaching the start');
  assert.equal(overlaps('VTODO', ['DTSTART:20260108T000000Z', 'DURATION:PT1H'], r), false);
  assert.equal(overlaps('VTODO', ['DTSTART:20260105T000000Z', 'DUE:20260120T000000Z'], r), true, 'DTSTART and DUE around the range');
  assert.equal(overlaps('VTODO', ['DTSTART:20260111T000000Z', 'DUE:20260120T000000Z'], r), false);
  assert.equal(overlaps('VTODO', ['DTSTART:20260110T120000Z'], r), true, 'DTSTART only');
  assert.equal(overlaps('VTODO', ['DUE:20260111T000000Z'], r), true, 'DUE only, at the range end');
  assert.equal(overlaps('VTODO', ['DUE:20260110T000000Z'], r), false, 'DUE only, at the range start');
  assert.equal(overlaps('VTODO', ['CREATED:20260101T000000Z', 'COMPLETED:20260110T100000Z'], r), true, 'COMPLETED and CREATED');
  assert.equal(overlaps('VTODO', ['CREATED:20260101T000000Z', 'COMPLETED:20260102T000000Z'], r), false);
  assert.equal(overlaps('VTODO', ['COMPLETED:20260110T100000Z'], r), true, 'COMPLETED only');
  assert.equal(overlaps('VTODO', ['CREATED:20260112T000000Z'], r), false, 'CREATED only, after the range');
  assert.equal(overlaps('VTODO', ['CREATED:20260101T000000Z'], r), true);
  assert.equal(overlaps('VTODO', ['SUMMARY:no dates'], r), true, 'no dates at all');
});

test('VJOURNAL: a date-time is a moment, a date a day, none never matches', () => {
  const r = range('20260110T000000Z', '20260111T000000Z');
  assert.equal(overlaps('VJOURNAL', ['DTSTART:20260110T120000Z'], r), true);
  assert.equal(overlaps('VJOURNAL', ['DTSTART;VALUE=DATE:20260110'], r), true);
  assert.equal(overlaps('VJOURNAL', ['DTSTART;VALUE=DATE:20260111'], r), false);
  assert.equal(overlaps('VJOURNAL', ['SUMMARY:undated'], r), false);
});

test('a series matches by an instance; EXDATE and overrides are honoured', () => {
  const budget = () => new RuleBudget(limits.ruleStepsBase);
  const weekly = calendar('VEVENT', 'DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=10', 'EXDATE:20260119T090000Z');
  assert.equal(seriesOverlaps(weekly, 'vevent', range('20260112T093000Z', '20260112T094500Z'), budget()), true);
  assert.equal(seriesOverlaps(weekly, 'vevent', range('20260113T000000Z', '20260119T000000Z'), budget()), false, 'between instances');
  assert.equal(seriesOverlaps(weekly, 'vevent', range('20260119T000000Z', '20260120T000000Z'), budget()), false, 'an excluded instance');
  const moved = new ICAL.Component(ICAL.parse(weekly.toString().replace('END:VCALENDAR', 'BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20260112T090000Z\r\nDTSTART:20260114T090000Z\r\nDTEND:20260114T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR')) as unknown[]);
  assert.equal(seriesOverlaps(moved, 'vevent', range('20260112T000000Z', '20260113T000000Z'), budget()), false, 'the instance moved away');
  assert.equal(seriesOverlaps(moved, 'vevent', range('20260114T000000Z', '20260115T000000Z'), budget()), true, 'to where it moved');
});

test('a series the budget cannot walk matches (the conservative choice); the ReadBudget grows with the bytes read, up to its cap', () => {
  // BYHOUR keeps these series off the arithmetic of fixedStepSeries: they are walked, instance by instance.
  const daily = calendar('VEVENT', 'DTSTART:20000101T100000Z', 'DTEND:20000101T110000Z', 'RRULE:FREQ=DAILY;BYHOUR=10');
  const between = range('20260110T120000Z', '20260110T130000Z');
  assert.equal(seriesOverlaps(daily, 'vevent', between, new RuleBudget(100)), true);
  const spent = new RuleBudget(100);
  seriesOverlaps(daily, 'vevent', between, spent);
  assert.ok(spent.stepsLeft < 0);
  // With budget enough, the same walk decides: no instance between 12:00 and 13:00.
  const recent = calendar('VEVENT', 'DTSTART:20251201T100000Z', 'DTEND:20251201T110000Z', 'RRULE:FREQ=DAILY;BYHOUR=10');
  assert.equal(seriesOverlaps(recent, 'vevent', between, new RuleBudget(limits.ruleStepsBase)), false);
  const read = new ReadBudget();
  assert.equal(read.stepsLeft, limits.ruleStepsBase);
  read.read(2048);
  assert.equal(read.stepsLeft, limits.ruleStepsBase + 2 * limits.ruleStepsPerKiB);
  read.read(1e9);
  assert.equal(read.stepsLeft, limits.ruleStepsRequestMax);
});

test('VALARM: a relative trigger per instance, RELATED=END, an absolute trigger, and REPEAT without walking the repeats', () => {
  const budget = () => new RuleBudget(limits.ruleStepsBase);
  const alarmOf = (...lines: string[]) => {
    const c = calendar('VEVENT', 'DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=DAILY;COUNT=3', 'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:x', ...lines, 'END:VALARM');
    const event = c.getFirstSubcomponent('vevent') as ICAL.Component;
    return (r: Range) => alarmInRange(event.getFirstSubcomponent('valarm') as ICAL.Component, event, [event], r, budget());
  };
  const before = alarmOf('TRIGGER:-PT15M');
  assert.equal(before(range('20260107T084000Z', '20260107T085000Z')), true, 'the third instance');
  assert.equal(before(range('20260107T090000Z', '20260107T091000Z')), false);
  const afterEnd = alarmOf('TRIGGER;RELATED=END:PT5M');
  assert.equal(afterEnd(range('20260106T100000Z', '20260106T101000Z')), true);
  const absolute = alarmOf('TRIGGER;VALUE=DATE-TIME:20260101T080000Z');
  assert.equal(absolute(range('20260101T080000Z', '20260101T080100Z')), true);
  const repeats = alarmOf('TRIGGER:-PT1H', 'REPEAT:1000000', 'DURATION:PT1M');
  assert.equal(repeats(range('20260105T083000Z', '20260105T083010Z')), true, 'the 30th repeat');
  assert.equal(repeats(range('20260105T083010Z', '20260105T083050Z')), false, 'between two repeats');
});

test('a DAILY or WEEKLY series in UTC or floating time is decided by arithmetic, exactly as walking its instances decides it', () => {
  // A small seeded generator (so a failure repeats): series of every shape the arithmetic takes, and ranges
  // that start and end on and around instance boundaries.
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const stamp = (msAt: number, form: 'utc' | 'floating' | 'date') => {
    const iso = new Date(msAt).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, '');
    return form === 'date' ? iso.slice(0, 8) : form === 'utc' ? `${iso}Z` : iso;
  };
  const days = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
  let decided = 0;
  for (let n = 0; n < 3000; n++) {
    const form = pick(['utc', 'floating', 'date'] as const);
    const startMs = Date.UTC(2026, 0, 1) + Math.floor(random() * 60) * 86_400_000 + (form === 'date' ? 0 : Math.floor(random() * 48) * 1_800_000);
    const freq = pick(['DAILY', 'WEEKLY']);
    const interval = pick([1, 1, 2, 3]);
    const stepMs = interval * (freq === 'DAILY' ? 1 : 7) * 86_400_000;
    const rule = [`FREQ=${freq}`];
    if (interval > 1 || random() < 0.3) rule.push(`INTERVAL=${interval}`);
    if (freq === 'WEEKLY' && random() < 0.3) rule.push(`BYDAY=${days[new Date(startMs).getUTCDay()]}`);
    const bound = pick(['count', 'until', 'until-date', 'none']);
    if (bound === 'count') rule.push(`COUNT=${1 + Math.floor(random() * 20)}`);
    // UNTIL on an instance, between two, or before the start.
    if (bound === 'until' || bound === 'until-date') rule.push(`UNTIL=${stamp(startMs + Math.floor(random() * 20 - 2) * stepMs + pick([0, 0, 3_600_000, -1000]), bound === 'until' ? 'utc' : 'date')}`);
    const valueDate = form === 'date' ? ';VALUE=DATE' : '';
    const lengthMs = pick([0, 3_600_000, 86_400_000, 2 * stepMs, -3_600_000]);
    const end = pick(['dtend', 'duration', 'none']);
    const lines = [`DTSTART${valueDate}:${stamp(startMs, form)}`, `RRULE:${rule.join(';')}`];
    if (end === 'dtend' && (form !== 'date' || lengthMs % 86_400_000 === 0)) lines.push(`DTEND${valueDate}:${stamp(startMs + lengthMs, form)}`);
    if (end === 'duration' && lengthMs >= 0) lines.push(`DURATION:PT${lengthMs / 1000}S`);
    const event = calendar('VEVENT', ...lines);
    const master = event.getFirstSubcomponent('vevent') as ICAL.Component;
    assert.ok(fixedStepSeries(master), `computed, not walked: ${lines.join(' ')}`);
    const edge = startMs + Math.floor(random() * 25 - 3) * stepMs + pick([0, lengthMs, 1, -1, 3_600_000]);
    const r = pick([
      { startMs: edge, endMs: edge + pick([1, 1000, 3_600_000, stepMs, 40 * 86_400_000]) },
      { startMs: edge - pick([1, 3_600_000, stepMs]), endMs: edge },
    ]);
    // The walk, as seriesOverlaps did it before: every instance from the first.
    let walked = false;
    const result = forEachInstance(master, [], new Set(), new RuleBudget(1e9), r.endMs, ({ component, start }) => !(walked = instanceOverlaps('vevent', timingOf(component, start), r)));
    const expected = walked || result === 'exhausted';
    const got = seriesOverlaps(event, 'vevent', r, new RuleBudget(0));
    assert.equal(got, expected, `${lines.join(' ')} in [${new Date(r.startMs).toISOString()}, ${new Date(r.endMs).toISOString()})`);
    if (expected) decided += 1;
  }
  assert.ok(decided > 300 && decided < 2700, `both answers are common (${decided} of 3000 match)`);
});

test('a series with a time zone, an EXDATE or RDATE, another BY part or frequency, or overrides is walked', () => {
  const walked = (...lines: string[]) => fixedStepSeries(calendar('VEVENT', ...lines).getFirstSubcomponent('vevent') as ICAL.Component) === undefined;
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=WEEKLY'), false);
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=WEEKLY;BYDAY=MO'), false, 'its own weekday');
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=WEEKLY;BYDAY=TU'), true, 'another weekday');
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=WEEKLY;BYDAY=MO,TU'), true);
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=MONTHLY'), true);
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=DAILY', 'EXDATE:20260106T090000Z'), true);
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=DAILY', 'RDATE:20260201T090000Z'), true);
  assert.equal(walked('DTSTART:20260105T090000Z', 'RRULE:FREQ=DAILY;COUNT=2', 'RRULE:FREQ=WEEKLY'), true);
  assert.equal(walked('DTSTART:20260105T090000Z'), true, 'no rule');
  // An override moves one instance of a series the arithmetic could place: the series is walked, and the old slot is free.
  const moved = new ICAL.Component(
    ICAL.parse(calendar('VEVENT', 'DTSTART:20260105T090000Z', 'DTEND:20260105T100000Z', 'RRULE:FREQ=WEEKLY').toString().replace('END:VCALENDAR', 'BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20260112T090000Z\r\nDTSTART:20260113T090000Z\r\nDTEND:20260113T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR')) as unknown[],
  );
  assert.equal(seriesOverlaps(moved, 'vevent', range('20260112T000000Z', '20260113T000000Z'), new RuleBudget(limits.ruleStepsBase)), false, 'the moved instance');
  assert.equal(seriesOverlaps(moved, 'vevent', range('20260113T000000Z', '20260114T000000Z'), new RuleBudget(limits.ruleStepsBase)), true, 'where it moved to');
  // A zone with daylight saving moves the UTC time of the instances: walked.
  const zoned = new ICAL.Component(
    ICAL.parse(
      'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nDTSTART:19810329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19961027T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260320T090000\r\nDTEND;TZID=Europe/Berlin:20260320T100000\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
    ) as unknown[],
  );
  assert.equal(fixedStepSeries(zoned.getFirstSubcomponent('vevent') as ICAL.Component), undefined);
  // After the change to summer time the weekly 09:00 is 07:00 UTC, not 08:00: 08:00-08:30 UTC on 27 March is free.
  const budget = () => new RuleBudget(limits.ruleStepsBase);
  assert.equal(seriesOverlaps(zoned, 'vevent', range('20260327T080000Z', '20260327T083000Z'), budget()), true, 'still winter time');
  assert.equal(seriesOverlaps(zoned, 'vevent', range('20260403T080000Z', '20260403T083000Z'), budget()), false, 'summer time');
  assert.equal(seriesOverlaps(zoned, 'vevent', range('20260403T070000Z', '20260403T073000Z'), budget()), true);
});
