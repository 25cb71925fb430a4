import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsClearly } from './mapper-harness.js';
import ICAL from 'ical.js';
import {
  decodeTimeZoneBlob, encodeTimeZoneBlob, fixedOffsetInfo, hasDst, ianaRuleComputations, ianaVtimezone, ianaZoneForInfo, nthWeekdayOfMonth, offsetsOf,
  rulesMeant, sameRules, timeZoneInfoFromVtimezone, vtimezoneFromInfo, wallTimeIn, type TimeZoneInfo, type TransitionDate,
} from './timezone-blob.js';
import { tzlib_get_timezones } from 'timezones-ical-library';
import { ianaZoneGroups } from './iana-zone-groups.js';
import { windowsZones } from './windows-zones.js';

const year = 2026;

/** The UTC offset in minutes of a zone (given as a VTIMEZONE) at an instant. */
function offsetAt(vtimezone: ICAL.Component, ms: number): number {
  const tz = new ICAL.Timezone({ component: vtimezone, tzid: String(vtimezone.getFirstPropertyValue('tzid')) });
  return offsetIn(tz, ms);
}

function offsetIn(tz: ICAL.Timezone, ms: number): number {
  const wall = wallTimeIn(ms, tz);
  return Math.round((Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second) - ms) / 60_000);
}

/** Instants across 2026 and 2027, with extra ones an hour either side of each month's Sundays at 01:00-04:00 UTC. */
function probes(): number[] {
  const out: number[] = [];
  for (let y = 2026; y <= 2027; y++) {
    for (let m = 0; m < 12; m++) {
      for (let d = 1; d <= 31; d += 3) out.push(Date.UTC(y, m, d, 12));
      for (let d = 1; d <= 31; d++) {
        const t = Date.UTC(y, m, d);
        if (new Date(t).getUTCMonth() !== m || new Date(t).getUTCDay() !== 0) continue;
        for (let h = -16; h <= 20; h++) out.push(t + h * 3_600_000);
      }
    }
  }
  return out;
}

/** Asserts that two zones give the same offset at every probe instant. */
function sameOffsets(a: ICAL.Component, b: ICAL.Component, label: string): void {
  const tz = (v: ICAL.Component) => new ICAL.Timezone({ component: v, tzid: String(v.getFirstPropertyValue('tzid')) });
  const [ta, tb] = [tz(a), tz(b)];
  for (const ms of probes()) assert.equal(offsetIn(ta, ms), offsetIn(tb, ms), `${label} at ${new Date(ms).toISOString()}`);
}

const cases: Array<{ zone: string; bias: number; dst: boolean; january: number; july: number }> = [
  { zone: 'Europe/Berlin', bias: -60, dst: true, january: 60, july: 120 },
  { zone: 'America/New_York', bias: 300, dst: true, january: -300, july: -240 },
  { zone: 'Asia/Kolkata', bias: -330, dst: false, january: 330, july: 330 },
  { zone: 'Australia/Sydney', bias: -600, dst: true, january: 660, july: 600 },
  { zone: 'UTC', bias: 0, dst: false, january: 0, july: 0 },
];

for (const c of cases) {
  test(`the blob of ${c.zone} round-trips: VTIMEZONE → blob → bytes → blob → VTIMEZONE`, () => {
    const source = ianaVtimezone(c.zone);
    assert.ok(source, `${c.zone} is in timezones-ical-library`);
    const info = timeZoneInfoFromVtimezone(source, year, c.zone);
    assert.equal(info.bias, c.bias);
    assert.equal(info.standardDate !== null, c.dst);
    const blob = encodeTimeZoneBlob(info);
    assert.equal(Buffer.from(blob, 'base64').length, 172);
    const decoded = decodeTimeZoneBlob(blob);
    assert.deepEqual(decoded, info);
    assert.equal(decoded.standardName, c.zone);
    // The VTIMEZONE built from the blob gives the same offsets as the IANA zone, around every transition.
    const rebuilt = vtimezoneFromInfo(decoded, c.zone);
    sameOffsets(rebuilt, source, c.zone);
    assert.equal(offsetAt(rebuilt, Date.UTC(year, 0, 15)), c.january);
    assert.equal(offsetAt(rebuilt, Date.UTC(year, 6, 15)), c.july);
    // Reading the rebuilt VTIMEZONE gives the same blob again.
    assert.deepEqual(timeZoneInfoFromVtimezone(rebuilt, year, c.zone), info);
    // And the blob, even without its names, is recognised as the zone's rules.
    const anonymous = { ...decoded, standardName: '', daylightName: '' };
    const named = ianaZoneForInfo(anonymous);
    assert.ok(named);
    const namedZone = ianaVtimezone(named);
    assert.ok(namedZone);
    assert.ok(sameRules(timeZoneInfoFromVtimezone(namedZone, year), anonymous));
    assert.equal(ianaZoneForInfo(decoded), c.zone);
  });
}

test('the rules of well-known zones come out as Windows writes them', () => {
  const info = (zone: string) => timeZoneInfoFromVtimezone(ianaVtimezone(zone) as ICAL.Component, year);
  const date = (month: number, day: number, hour: number): Partial<TransitionDate> => ({ year: 0, month, dayOfWeek: 0, day, hour, minute: 0, second: 0 });
  const berlin = info('Europe/Berlin');
  assert.deepEqual({ ...berlin.standardDate }, { ...date(10, 5, 3) });
  assert.deepEqual({ ...berlin.daylightDate }, { ...date(3, 5, 2) });
  assert.equal(berlin.daylightBias, -60);
  const ny = info('America/New_York');
  assert.deepEqual({ ...ny.standardDate }, { ...date(11, 1, 2) });
  assert.deepEqual({ ...ny.daylightDate }, { ...date(3, 2, 2) });
  // Southern hemisphere: standard time starts in April, daylight time in October.
  const sydney = info('Australia/Sydney');
  assert.deepEqual({ ...sydney.standardDate }, { ...date(4, 1, 3) });
  assert.deepEqual({ ...sydney.daylightDate }, { ...date(10, 1, 2) });
});

/** A blob laid out by hand as MS-ASDTYPE describes it, the way Outlook fills it. */
function handMadeBlob(fields: {
  bias: number; standardName: string; standardDate: number[]; standardBias: number;
  daylightName: string; daylightDate: number[]; daylightBias: number;
}): string {
  const buf = Buffer.alloc(172);
  buf.writeInt32LE(fields.bias, 0);
  buf.write(fields.standardName, 4, 'utf16le');
  fields.standardDate.forEach((v, i) => buf.writeUInt16LE(v, 68 + i * 2));
  buf.writeInt32LE(fields.standardBias, 84);
  buf.write(fields.daylightName, 88, 'utf16le');
  fields.daylightDate.forEach((v, i) => buf.writeUInt16LE(v, 152 + i * 2));
  buf.writeInt32LE(fields.daylightBias, 168);
  return buf.toString('base64');
}

test('decodes a blob made by Outlook: W. Europe Standard Time names Europe/Berlin', () => {
  // SYSTEMTIME: year, month, day of week, week (day), hour, minute, second, milliseconds
  const blob = handMadeBlob({
    bias: -60,
    standardName: 'W. Europe Standard Time', standardDate: [0, 10, 0, 5, 3, 0, 0, 0], standardBias: 0,
    daylightName: 'W. Europe Daylight Time', daylightDate: [0, 3, 0, 5, 2, 0, 0, 0], daylightBias: -60,
  });
  const info = decodeTimeZoneBlob(blob);
  assert.equal(info.bias, -60);
  assert.equal(info.standardName, 'W. Europe Standard Time');
  assert.equal(info.daylightName, 'W. Europe Daylight Time');
  assert.deepEqual(info.standardDate, { year: 0, month: 10, dayOfWeek: 0, day: 5, hour: 3, minute: 0, second: 0 });
  assert.deepEqual(info.daylightDate, { year: 0, month: 3, dayOfWeek: 0, day: 5, hour: 2, minute: 0, second: 0 });
  assert.equal(ianaZoneForInfo(info), 'Europe/Berlin');
  sameOffsets(vtimezoneFromInfo(info, 'W. Europe Standard Time'), ianaVtimezone('Europe/Berlin') as ICAL.Component, 'Outlook W. Europe');
});

test('decodes an Outlook Pacific blob (first Sunday of November, second Sunday of March)', () => {
  const blob = handMadeBlob({
    bias: 480,
    standardName: 'Pacific Standard Time', standardDate: [0, 11, 0, 1, 2, 0, 0, 0], standardBias: 0,
    daylightName: 'Pacific Daylight Time', daylightDate: [0, 3, 0, 2, 2, 0, 0, 0], daylightBias: -60,
  });
  const info = decodeTimeZoneBlob(blob);
  assert.equal(ianaZoneForInfo(info), 'America/Los_Angeles');
  const vtimezone = vtimezoneFromInfo(info, 'Pacific Standard Time');
  assert.equal(offsetAt(vtimezone, Date.UTC(2026, 2, 7, 12)), -480);
  assert.equal(offsetAt(vtimezone, Date.UTC(2026, 2, 8, 12)), -420);
  assert.equal(offsetAt(vtimezone, Date.UTC(2026, 9, 31, 12)), -420);
  assert.equal(offsetAt(vtimezone, Date.UTC(2026, 10, 1, 12)), -480);
  sameOffsets(vtimezone, ianaVtimezone('America/Los_Angeles') as ICAL.Component, 'Outlook Pacific');
});

test('a blob with an absolute transition date (a year set) reads as a one-time change', () => {
  const blob = handMadeBlob({
    bias: -120, standardName: 'Custom', standardDate: [2026, 10, 0, 25, 4, 0, 0, 0], standardBias: 0,
    daylightName: 'Custom DST', daylightDate: [2026, 3, 0, 27, 3, 0, 0, 0], daylightBias: -60,
  });
  const info = decodeTimeZoneBlob(blob);
  assert.equal(info.standardDate?.year, 2026);
  assert.equal(info.daylightDate?.dayOfWeek, new Date(Date.UTC(2026, 2, 27)).getUTCDay());
  assert.equal(ianaZoneForInfo(info), undefined);
  const vtimezone = vtimezoneFromInfo(info, 'Custom');
  assert.equal(offsetAt(vtimezone, Date.UTC(2026, 5, 1)), 180);
  assert.equal(offsetAt(vtimezone, Date.UTC(2026, 11, 1)), 120);
});

test('names longer than 31 characters are cut, and the blob stays 172 bytes', () => {
  const info = { ...fixedOffsetInfo(345, 'America/Argentina/ComodRivadavia-and-more'), daylightName: '' };
  const decoded = decodeTimeZoneBlob(encodeTimeZoneBlob(info));
  assert.equal(decoded.standardName.length, 31);
  assert.equal(decoded.bias, -345);
});

test('a VTIMEZONE carrying history gives the rules of the year asked for', () => {
  const text = [
    'BEGIN:VTIMEZONE', 'TZID:US-Eastern',
    'BEGIN:STANDARD', 'DTSTART:19671029T020000', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10;UNTIL=20061029T060000Z',
    'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'TZNAME:EST', 'END:STANDARD',
    'BEGIN:DAYLIGHT', 'DTSTART:19870405T020000', 'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4;UNTIL=20060402T070000Z',
    'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'TZNAME:EDT', 'END:DAYLIGHT',
    'BEGIN:DAYLIGHT', 'DTSTART:20070311T020000', 'RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3',
    'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'TZNAME:EDT', 'END:DAYLIGHT',
    'BEGIN:STANDARD', 'DTSTART:20071104T020000', 'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11',
    'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'TZNAME:EST', 'END:STANDARD',
    'END:VTIMEZONE',
  ].join('\r\n');
  const vtimezone = new ICAL.Component(ICAL.parse(text) as unknown as unknown[]);
  const now = timeZoneInfoFromVtimezone(vtimezone, 2026);
  assert.equal(now.standardName, 'EST');
  assert.equal(now.daylightName, 'EDT');
  assert.deepEqual([now.daylightDate?.month, now.daylightDate?.day, now.standardDate?.month, now.standardDate?.day], [3, 2, 11, 1]);
  const then = timeZoneInfoFromVtimezone(vtimezone, 2000);
  assert.deepEqual([then.daylightDate?.month, then.daylightDate?.day, then.standardDate?.month, then.standardDate?.day], [4, 1, 10, 5]);
  assert.equal(ianaZoneForInfo(now), 'America/New_York');
});

test('older VTIMEZONE forms: a BYMONTHDAY week, and a zone without rules', () => {
  const text = [
    'BEGIN:VTIMEZONE', 'TZID:Old',
    'BEGIN:DAYLIGHT', 'DTSTART:20070311T020000', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8,9,10,11,12,13,14;BYDAY=SU',
    'TZOFFSETFROM:-0600', 'TZOFFSETTO:-0500', 'END:DAYLIGHT',
    'BEGIN:STANDARD', 'DTSTART:20071104T020000', 'RRULE:FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=1,2,3,4,5,6,7;BYDAY=SU',
    'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0600', 'END:STANDARD',
    'END:VTIMEZONE',
  ].join('\r\n');
  const info = timeZoneInfoFromVtimezone(new ICAL.Component(ICAL.parse(text) as unknown as unknown[]), 2026);
  assert.equal(info.bias, 360);
  assert.deepEqual([info.daylightDate?.month, info.daylightDate?.day, info.standardDate?.month, info.standardDate?.day], [3, 2, 11, 1]);
  assert.equal(ianaZoneForInfo(info), 'America/Chicago');
  const fixed = timeZoneInfoFromVtimezone(new ICAL.Component(ICAL.parse([
    'BEGIN:VTIMEZONE', 'TZID:Fixed', 'BEGIN:STANDARD', 'DTSTART:19700101T000000', 'TZOFFSETFROM:+0545', 'TZOFFSETTO:+0545',
    'END:STANDARD', 'END:VTIMEZONE'].join('\r\n')) as unknown as unknown[]), 2026);
  assert.equal(fixed.bias, -345);
  assert.equal(fixed.standardDate, null);
  assert.equal(ianaZoneForInfo(fixed), 'Asia/Kathmandu');
});

test('nthWeekdayOfMonth finds first and last weekdays', () => {
  assert.equal(nthWeekdayOfMonth(2026, 3, 0, 5), 29); // last Sunday of March 2026
  assert.equal(nthWeekdayOfMonth(2026, 3, 0, 2), 8);
  assert.equal(nthWeekdayOfMonth(2026, 11, 0, 1), 1);
  assert.equal(nthWeekdayOfMonth(2026, 2, 1, 5), 23); // last Monday of February 2026
});

/** Asserts a clear Error (not a TypeError) whose message matches. */
test('malformed blobs are refused with a clear Error', () => {
  throwsClearly(() => decodeTimeZoneBlob('not base64!'), /not valid base64/);
  throwsClearly(() => decodeTimeZoneBlob('AAAA'), /3 bytes; expected 172/);
  throwsClearly(() => decodeTimeZoneBlob(Buffer.alloc(200).toString('base64')), /200 bytes/);
  const good = Buffer.from(encodeTimeZoneBlob(timeZoneInfoFromVtimezone(ianaVtimezone('Europe/Berlin') as ICAL.Component, 2026)), 'base64');
  const badMonth = Buffer.from(good);
  badMonth.writeUInt16LE(13, 68 + 2);
  throwsClearly(() => decodeTimeZoneBlob(badMonth.toString('base64')), /StandardDate has an invalid month 13/);
  const badWeek = Buffer.from(good);
  badWeek.writeUInt16LE(9, 152 + 6);
  throwsClearly(() => decodeTimeZoneBlob(badWeek.toString('base64')), /DaylightDate has an invalid week of month 9/);
  const badBias = Buffer.from(good);
  badBias.writeInt32LE(100_000, 0);
  throwsClearly(() => decodeTimeZoneBlob(badBias.toString('base64')), /Bias 100000 is out of range/);
  // Whitespace inside the base64 text is tolerated.
  const wrapped = good.toString('base64').replace(/(.{60})/g, '$1\r\n');
  assert.equal(decodeTimeZoneBlob(wrapped).bias, -60);
});

test('a blob with only one transition date reads as a zone without daylight saving time', () => {
  const info: TimeZoneInfo = {
    ...fixedOffsetInfo(60, 'Half'),
    standardDate: { year: 0, month: 10, dayOfWeek: 0, day: 5, hour: 3, minute: 0, second: 0 },
  };
  const buf = Buffer.alloc(172);
  buf.writeInt32LE(-60, 0);
  [0, 10, 0, 5, 3, 0, 0, 0].forEach((v, i) => buf.writeUInt16LE(v, 68 + i * 2));
  const decoded = decodeTimeZoneBlob(buf.toString('base64'));
  assert.equal(decoded.standardDate, null);
  assert.equal(decoded.bias, -60);
  assert.ok(sameRules(decoded, fixedOffsetInfo(60)));
  assert.ok(!sameRules(decoded, { ...info, daylightDate: { ...info.standardDate!, month: 3 }, daylightBias: -60 }));
});

test('wallTimeIn agrees with Intl every 30 minutes of a year, across gaps and repeated hours', () => {
  for (const zone of ['America/Los_Angeles', 'Australia/Sydney', 'Europe/Berlin']) {
    const tz = new ICAL.Timezone({ component: ianaVtimezone(zone) as ICAL.Component, tzid: zone });
    const intl = new Intl.DateTimeFormat('sv-SE', {
      timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 30 * 60_000) {
      assert.equal(wallTimeIn(t, tz).toString(), intl.format(new Date(t)).replace(' ', 'T'), `${zone} at ${new Date(t).toISOString()}`);
    }
  }
});

/** A blob as TbSync 4.17 on Thunderbird 140 sends it: Windows names, offsets, and no transition dates. */
function tbSyncBlob(bias: number, daylightBias: number, name: string): string {
  return handMadeBlob({
    bias, standardName: name, standardDate: [0, 0, 0, 0, 0, 0, 0, 0], standardBias: 0,
    daylightName: name, daylightDate: [0, 0, 0, 0, 0, 0, 0, 0], daylightBias,
  });
}

const euRules = (name: string, daylightName = name) => decodeTimeZoneBlob(handMadeBlob({
  bias: -60, standardName: name, standardDate: [0, 10, 0, 5, 3, 0, 0, 0], standardBias: 0,
  daylightName, daylightDate: [0, 3, 0, 5, 2, 0, 0, 0], daylightBias: -60,
}));

test('a blob without daylight saving rules gets the zone its Windows name identifies (TbSync on Thunderbird 140)', () => {
  const berlin = decodeTimeZoneBlob(tbSyncBlob(-60, -60, 'W. Europe Standard Time'));
  assert.equal(hasDst(berlin), false);
  assert.equal(ianaZoneForInfo(berlin, 2027), 'Europe/Berlin');
  // The same without a daylight bias, and with the other Windows names of TbSync's map.
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(-60, 0, 'W. Europe Standard Time')), 2027), 'Europe/Berlin');
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(300, -60, 'Eastern Standard Time')), 2027), 'America/New_York');
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(-600, -60, 'AUS Eastern Standard Time')), 2027), 'Australia/Sydney');
  // Windows names are matched whatever their case.
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(-60, 0, 'w. europe standard time')), 2027), 'Europe/Berlin');
  // An IANA name identifies its zone the same way.
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(-60, 0, 'Europe/Berlin')), 2027), 'Europe/Berlin');
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(-60, 0, 'Europe/Rome')), 2027), 'Europe/Rome');
  // The rules such a blob stands for are the named zone's.
  assert.ok(sameRules(rulesMeant(berlin, 2027), timeZoneInfoFromVtimezone(ianaVtimezone('Europe/Berlin') as ICAL.Component, 2027)));
  // (CET is one of the IANA zones named like an abbreviation.)
  assert.equal(ianaZoneForInfo(decodeTimeZoneBlob(tbSyncBlob(-60, 0, 'CET')), 2027), 'CET');
});

test('a name is not trusted against the offsets: the rules decide when the standard offset differs', () => {
  // Berlin's name on a blob five hours west of UTC: a fixed -05:00 zone, not Berlin.
  const wrong = decodeTimeZoneBlob(tbSyncBlob(300, 0, 'W. Europe Standard Time'));
  const zone = ianaZoneForInfo(wrong, 2027);
  assert.ok(zone && zone !== 'Europe/Berlin');
  assert.ok(sameRules(timeZoneInfoFromVtimezone(ianaVtimezone(zone) as ICAL.Component, 2027), wrong), zone);
  // Berlin's name on a blob with US rules at +01:00: no zone has those rules (a synthetic one follows).
  const usRules = decodeTimeZoneBlob(handMadeBlob({
    bias: -60, standardName: 'W. Europe Standard Time', standardDate: [0, 11, 0, 1, 2, 0, 0, 0], standardBias: 0,
    daylightName: 'W. Europe Daylight Time', daylightDate: [0, 3, 0, 2, 2, 0, 0, 0], daylightBias: -60,
  }));
  assert.equal(ianaZoneForInfo(usRules, 2027), undefined);
  assert.equal(rulesMeant(usRules, 2027), usRules);
});

test('rules several zones share: the zone the blob names, else a common one', () => {
  assert.equal(ianaZoneForInfo(euRules('Romance Standard Time', 'Romance Daylight Time'), 2027), 'Europe/Paris');
  assert.equal(ianaZoneForInfo(euRules('Central Europe Standard Time'), 2027), 'Europe/Budapest');
  assert.equal(ianaZoneForInfo(euRules('Europe/Amsterdam'), 2027), 'Europe/Amsterdam');
  // A localized name (German Windows) or none at all: the common zone with those rules.
  assert.equal(ianaZoneForInfo(euRules('Mitteleuropäische Zeit', 'Mitteleuropäische Sommerzeit'), 2027), 'Europe/Berlin');
  assert.equal(ianaZoneForInfo(euRules(''), 2027), 'Europe/Berlin');
  // A zone only the whole CLDR table names: Chile, whose rules no common zone has.
  const santiago = timeZoneInfoFromVtimezone(ianaVtimezone('America/Santiago') as ICAL.Component, 2027, 'Pacific SA Standard Time');
  assert.equal(ianaZoneForInfo(santiago, 2027), 'America/Santiago');
});

test('a blob without rules and with a localized or empty name reads as the fixed offset it states', () => {
  for (const name of ['Mitteleuropäische Zeit', 'MEZ', '']) {
    const info = decodeTimeZoneBlob(tbSyncBlob(-60, 0, name));
    const zone = ianaZoneForInfo(info, 2027);
    assert.ok(zone, name);
    const rules = timeZoneInfoFromVtimezone(ianaVtimezone(zone) as ICAL.Component, 2027);
    assert.equal(hasDst(rules), false, `${name}: ${zone}`);
    assert.equal(offsetsOf(rules).standard, 60, `${name}: ${zone}`);
  }
});

test("CLDR's Windows zone table names only zones the server knows", () => {
  const entries = Object.entries(windowsZones);
  assert.ok(entries.length > 100, `${entries.length} entries`);
  for (const [windows, iana] of entries) assert.ok(ianaVtimezone(iana), `${windows} → ${iana}`);
  assert.equal(windowsZones['W. Europe Standard Time'], 'Europe/Berlin');
  assert.equal(windowsZones['Pacific Standard Time'], 'America/Los_Angeles');
});

test('a blob no common zone has computes the rules of a few zones, not of every zone (issue 12: no request stalls the others)', () => {
  // A year no other test uses, so nothing is cached: this is a process's first such lookup.
  const unusual = 2031;
  const usRulesAtBerlin = decodeTimeZoneBlob(handMadeBlob({
    bias: -60, standardName: '', standardDate: [0, 11, 0, 1, 2, 0, 0, 0], standardBias: 0,
    daylightName: '', daylightDate: [0, 3, 0, 2, 2, 0, 0, 0], daylightBias: -60,
  }));
  for (const [info, expected] of [
    [usRulesAtBerlin, undefined],
    [fixedOffsetInfo(5 * 60 + 17), undefined],
    [timeZoneInfoFromVtimezone(ianaVtimezone('America/Santiago') as ICAL.Component, unusual), 'America/Santiago'],
  ] as const) {
    const before = ianaRuleComputations();
    assert.equal(ianaZoneForInfo(info, unusual), expected);
    const computed = ianaRuleComputations() - before;
    // 1, 0 and 2 groups with the library's data; the old scan computed 526 zones for the first blob.
    assert.ok(computed <= 3, `${computed} zones' rules computed for one lookup`);
  }
});

test("the table of zone groups is timezones-ical-library's", () => {
  // Groups of zones whose observances read the same, with every offset they go from or to.
  const groups = new Map<string, { offsets: number[]; zones: string[] }>();
  for (const tzid of [...(tzlib_get_timezones() as string[])].sort()) {
    const observances = (ianaVtimezone(tzid) as ICAL.Component).getAllSubcomponents().filter((c) => c.name === 'standard' || c.name === 'daylight');
    const key = observances.map((c) => c.toString()).join('\n');
    const offsets = new Set<number>();
    for (const c of observances) {
      for (const name of ['tzoffsetfrom', 'tzoffsetto']) {
        const value = c.getFirstPropertyValue(name);
        if (value instanceof ICAL.UtcOffset) offsets.add(Math.round(value.toSeconds() / 60));
      }
    }
    if (offsets.size === 0) offsets.add(0);
    if (!groups.has(key)) groups.set(key, { offsets: [...offsets].sort((a, b) => a - b), zones: [] });
    groups.get(key)?.zones.push(tzid);
  }
  const expected = [...groups.values()];
  // The entries as iana-zone-groups.ts should hold them, for a refresh.
  const lines: string[] = [];
  for (const group of expected) {
    lines.push(`  { offsets: [${group.offsets.join(', ')}], zones: [`);
    let line = '   ';
    for (const zone of group.zones) {
      if (line.length + zone.length + 4 > 118) {
        lines.push(line);
        line = '   ';
      }
      line += ` '${zone}',`;
    }
    lines.push(line, '  ] },');
  }
  assert.deepEqual(ianaZoneGroups, expected, `iana-zone-groups.ts should read:\n${lines.join('\n')}`);
  // What the index relies on: a zone's rules, in any year, have only offsets its group lists.
  for (const group of ianaZoneGroups) {
    for (const y of [1990, year, 2027, 2040]) {
      const { standard, daylight } = offsetsOf(timeZoneInfoFromVtimezone(ianaVtimezone(group.zones[0] as string) as ICAL.Component, y));
      assert.ok(group.offsets.includes(standard) && group.offsets.includes(daylight), `${group.zones[0]} in ${y}`);
    }
  }
});
