import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleBudget } from '../../content/recurrence-budget.js';
import { limits } from '../../core/limits.js';
import { matchesCalendar, type CompFilter } from './filters.js';
import { plainEventTiming, type Range } from './time-range.js';

const comp = (name: string, extra: Partial<CompFilter> = {}): CompFilter => ({ name, isNotDefined: false, props: [], comps: [], ...extra });
/** The calendar view's query, which a plain event answers without ical.js. */
const viewQuery = (r: Range) => comp('vcalendar', { comps: [comp('vevent', { timeRange: r })] });
/** The same question with a condition every generated event meets (it has a UID): always parsed. */
const parsedQuery = (r: Range) => comp('vcalendar', { comps: [comp('vevent', { timeRange: r, props: [{ name: 'uid', isNotDefined: false, test: 'allof', textMatches: [], params: [] }] })] });

const zone =
  'BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19961027T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nDTSTART:19810329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n';

test('a plain event is decided from its text exactly as ical.js decides it; anything that is not plain is parsed', () => {
  let seed = 4242;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const utc = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace('.000', '');
  let plain = 0;
  let matched = 0;
  for (let n = 0; n < 4000; n++) {
    const startMs = Date.UTC(2026, 2, 20) + Math.floor(random() * 20) * 3_600_000 * 12;
    const lengthMs = pick([0, 1000, 3_600_000, 86_400_000, -3_600_000]);
    const startName = pick(['DTSTART', 'DTSTART', 'DTSTART', 'dtstart', 'DtStart']);
    const start = pick([
      ...Array.from({ length: 8 }, () => `${startName}:${utc(startMs)}`),
      `${startName}:${utc(startMs).toLowerCase()}`,
      `${startName}:${utc(startMs).slice(0, -1)}`,
      `${startName};VALUE=DATE:${utc(startMs).slice(0, 8)}`,
      `${startName};TZID=Europe/Berlin:${utc(startMs).slice(0, -1)}`,
      `${startName};VALUE=DATE-TIME:${utc(startMs)}`,
      `${startName}:${utc(startMs).slice(0, 7)}\r\n ${utc(startMs).slice(7)}`,
      `${startName}:20260230T100000Z`,
    ]);
    const end = pick([`DTEND:${utc(startMs + lengthMs)}`, `dtend:${utc(startMs + lengthMs)}`, `DURATION:PT${Math.max(lengthMs, 0) / 1000}S`, '', `DTEND;TZID=Europe/Berlin:${utc(startMs + lengthMs).slice(0, -1)}`]);
    const extra = pick([
      ...Array.from({ length: 12 }, () => []),
      ['RRULE:FREQ=DAILY;COUNT=3'],
      ['rrule:FREQ=DAILY;COUNT=3'],
      ['RR\r\n ULE:FREQ=DAILY;COUNT=3'],
      [`RDATE:${utc(startMs + 2 * 86_400_000)}`],
      [`EXDATE:${utc(startMs)}`, 'RRULE:FREQ=DAILY;COUNT=3'],
      ['BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:x', 'TRIGGER:-PT15M', 'END:VALARM'],
      [`X.DTEND:${utc(startMs + 30 * 86_400_000)}`],
      [`DTSTART:${utc(startMs + 86_400_000)}`],
    ]);
    const override = random() < 0.05 ? `BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:${utc(startMs)}\r\nDTSTART:${utc(startMs + 5 * 86_400_000)}\r\nEND:VEVENT\r\n` : '';
    const lines = [start, ...(end ? [end] : []), ...extra];
    const data = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n${random() < 0.05 ? zone : ''}BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n${lines.join('\r\n')}\r\nEND:VEVENT\r\n${override}END:VCALENDAR\r\n`;
    const edge = startMs + pick([0, lengthMs, -1000, 1000, 86_400_000, -86_400_000, 2 * 86_400_000]);
    const r = pick([
      { startMs: edge, endMs: edge + pick([1000, 3_600_000, 86_400_000]) },
      { startMs: edge - pick([1000, 3_600_000]), endMs: edge },
    ]);
    const budget = () => new RuleBudget(limits.ruleStepsBase);
    const expected = matchesCalendar(parsedQuery(r), data, budget());
    assert.equal(matchesCalendar(viewQuery(r), data, budget()), expected, `${JSON.stringify(data)} in [${utc(r.startMs)}, ${utc(r.endMs)})`);
    if (plainEventTiming(data)) plain += 1;
    if (expected) matched += 1;
  }
  // The generator makes plain and other events, matching and not.
  assert.ok(plain > 500 && plain < 3500, `${plain} of 4000 plain`);
  assert.ok(matched > 400 && matched < 3600, `${matched} of 4000 match`);
});

test('plain: only one UTC DTSTART (and DTEND) in the one VEVENT; a recurrence, zone, alarm or second component is not', () => {
  const event = (...lines: string[]) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u\r\n${lines.join('\r\n')}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
  const at = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15));
  assert.deepEqual(plainEventTiming(event('DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z')), { start: at('20260110T100000'), end: at('20260110T110000'), isDate: false });
  assert.deepEqual(plainEventTiming(event('dtstart:20260110T100000Z')), { start: at('20260110T100000'), isDate: false });
  assert.equal(plainEventTiming(event('DTSTART:20260110T100000Z', 'RRULE:FREQ=WEEKLY')), undefined);
  assert.equal(plainEventTiming(event('DTSTART:20260110T100000Z', 'RR', ' ULE:FREQ=WEEKLY')), undefined, 'a folded RRULE');
  assert.equal(plainEventTiming(event('DTSTART:20260110T100000Z', 'RDATE:20260210T100000Z')), undefined);
  assert.equal(plainEventTiming(event('DTSTART:20260110T100000Z', 'DURATION:PT1H')), undefined);
  assert.equal(plainEventTiming(event('DTSTART;TZID=Europe/Berlin:20260110T100000')), undefined);
  assert.equal(plainEventTiming(event('DTSTART:20260110T100000')), undefined, 'floating');
  assert.equal(plainEventTiming(event('DTSTART:20260110T100000Z', 'BEGIN:VALARM', 'TRIGGER:-PT5M', 'END:VALARM')), undefined);
  assert.equal(plainEventTiming(event('SUMMARY:no start')), undefined);
  assert.equal(plainEventTiming(event('DTSTART:20260230T100000Z')), undefined, 'a date Date would roll over');
  assert.equal(plainEventTiming(event('DTSTART:20260110T240000Z')), undefined);
  const twice = event('DTSTART:20260110T100000Z').replace('END:VCALENDAR', 'BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20260110T100000Z\r\nDTSTART:20260111T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR');
  assert.equal(plainEventTiming(twice), undefined, 'an override');
});
