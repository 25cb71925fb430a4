import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeTimeZoneBlob, hasDst, offsetsOf } from '../../src/faces/eas/mapping/timezone-blob.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import {
  addCommand, all, at, cal, changeCommand, collectionOf, commandsOf, easAccount, maybeText, textAt, toXml, type EasAccount, type EasClient,
} from '../support/eas-client.js';
import { calendarObjects, createCalendarObject, putCalendarObject, seriesOf, type CalendarObject } from '../support/caldav.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Time zones through ActiveSync and CalDAV (docs/eas.md, "Time zones"): a weekly event in Europe/Berlin
 * whose occurrences span the March change to summer time, created by an ActiveSync client that sends the
 * zone as TbSync 4.17 on Thunderbird 140 does (the Windows name "W. Europe Standard Time" and no
 * daylight saving rules), then edited through CalDAV and again through ActiveSync. Every occurrence
 * stays at 10:00 Berlin time on both sides.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

/** TbSync's blob for a zone: its standard bias, its Windows name twice, a daylight bias, and no transition dates. */
function tbSyncBlob(bias: number, windowsName: string): string {
  const buf = Buffer.alloc(172);
  buf.writeInt32LE(bias, 0);
  buf.write(windowsName, 4, 'utf16le');
  buf.write(windowsName, 88, 'utf16le');
  buf.writeInt32LE(-60, 168);
  return buf.toString('base64');
}

/** Mondays at 10:00 Berlin: three in winter time (CET), three after the change on 28 March 2027 (CEST). */
const mondays = ['2027-03-08', '2027-03-15', '2027-03-22', '2027-03-29', '2027-04-05', '2027-04-12'];
const firstStart = '20270308T090000Z';
const firstEnd = '20270308T100000Z';

/** The wall time of an instant in an IANA zone, as "2027-03-08 10:00". */
const wallIn = (zone: string) => {
  const format = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return (ms: number) => format.format(new Date(ms));
};
const berlinWall = wallIn('Europe/Berlin');

/** The whole event as TbSync sends it in an Add or a Change (it never ghosts fields). */
function tbSyncEvent(subject: string, zone = { blob: tbSyncBlob(-60, 'W. Europe Standard Time'), start: firstStart, end: firstEnd }): WbxmlElement[] {
  return [
    cal('Timezone', zone.blob),
    cal('AllDayEvent', '0'),
    cal('BusyStatus', '2'),
    cal('DtStamp', '20270101T000000Z'),
    cal('EndTime', zone.end),
    cal('Sensitivity', '0'),
    cal('StartTime', zone.start),
    cal('Subject', subject),
    cal('MeetingStatus', '0'),
    cal('Recurrence', cal('Type', '1'), cal('Interval', '1'), cal('DayOfWeek', '2'), cal('Occurrences', String(mondays.length))),
  ];
}

// ---------------------------------------------------------------------------------------------------
// CalDAV

/** The account's one calendar object. */
async function davEvent(account: EasAccount): Promise<CalendarObject> {
  const objects = await calendarObjects(server.url, account);
  assert.equal(objects.length, 1, objects.map((o) => o.ics).join('\n'));
  return objects[0] as CalendarObject;
}

function assertDavSide(ics: string, summary: string, tzid = 'Europe/Berlin'): void {
  const seen = seriesOf(ics);
  assert.deepEqual(seen.starts.map(berlinWall), mondays.map((d) => `${d} 10:00`), `every occurrence at 10:00 Berlin time on the CalDAV side:\n${ics}`);
  assert.equal(seen.tzid, tzid, `the CalDAV copy is in ${tzid}:\n${ics}`);
  assert.equal(seen.summary, summary);
}

// ---------------------------------------------------------------------------------------------------
// ActiveSync

/** What an ActiveSync client is told: a blob naming the zone with Berlin's rules, and the series unmoved. */
function assertEasSide(app: WbxmlElement, summary: string, zoneName = 'Europe/Berlin'): void {
  const blob = decodeTimeZoneBlob(textAt(app, 'Timezone'));
  // The blob names the zone (TbSync maps names first) and carries Berlin's rules (clients that read rules).
  assert.equal(blob.standardName, zoneName, JSON.stringify(blob));
  assert.ok(hasDst(blob), JSON.stringify(blob));
  assert.deepEqual(offsetsOf(blob), { standard: 60, daylight: 120 });
  assert.deepEqual([blob.daylightDate?.month, blob.daylightDate?.day, blob.daylightDate?.dayOfWeek, blob.daylightDate?.hour], [3, 5, 0, 2]);
  assert.deepEqual([blob.standardDate?.month, blob.standardDate?.day, blob.standardDate?.dayOfWeek, blob.standardDate?.hour], [10, 5, 0, 3]);
  assert.equal(maybeText(app, 'Subject'), summary);
  assert.equal(textAt(app, 'StartTime'), firstStart, `the series still starts at 10:00 Berlin time: ${toXml(app)}`);
  assert.equal(textAt(app, 'EndTime'), firstEnd);
  assert.equal(textAt(app, 'Recurrence/Type'), '1');
  assert.equal(textAt(app, 'Recurrence/Occurrences'), String(mondays.length));
  assert.equal(all(app, 'Exceptions/Exception').length, 0, 'no occurrence was moved');
}

/** Pulls from `key` and expects one command of `kind`: the next key, the item's ServerId and its data. */
async function pullOne(client: EasClient, account: EasAccount, key: string, kind: 'Add' | 'Change'): Promise<{ key: string; serverId: string; app: WbxmlElement }> {
  const { key: next, answers } = await client.pull(account.calendar, key);
  const commands = answers.flatMap((a) => commandsOf(a, kind));
  assert.equal(commands.length, 1, answers.map((a) => toXml(a)).join('\n'));
  const app = at(commands[0], 'ApplicationData');
  assert.ok(app);
  return { key: next, serverId: textAt(commands[0], 'ServerId'), app };
}

for (const version of ['14.1', '16.1'] as const) {
  test(`EAS ${version}: a weekly Berlin event across the March change keeps 10:00 on every occurrence, through CalDAV and ActiveSync edits`, async () => {
    const account = await easAccount(server);
    const tbsync = account.eas(`tbsync${version.replace('.', '')}`, { version });
    const other = account.eas(`other${version.replace('.', '')}`, { version });
    let key = await tbsync.primeSync(account.calendar);
    key = (await tbsync.pull(account.calendar, key)).key;
    let otherKey = (await other.pull(account.calendar, await other.primeSync(account.calendar))).key;

    // Created through ActiveSync, with TbSync's rule-less blob.
    const added = collectionOf(await tbsync.sync({ collectionId: account.calendar, syncKey: key, commands: [addCommand('standup', ...tbSyncEvent('Standup'))] }));
    assert.equal(textAt(added, 'Responses/Add/Status'), '1', toXml(added));
    const serverId = textAt(added, 'Responses/Add/ServerId');
    key = textAt(added, 'SyncKey');
    assertDavSide((await davEvent(account)).ics, 'Standup');
    // Another ActiveSync device gets it with Berlin's rules.
    const seenByOther = await pullOne(other, account, otherKey, 'Add');
    otherKey = seenByOther.key;
    assertEasSide(seenByOther.app, 'Standup');

    // Edited through CalDAV: the ActiveSync copy does not move.
    const object = await davEvent(account);
    await putCalendarObject(server.url, account, object, object.ics.replace('SUMMARY:Standup', 'SUMMARY:Standup (CalDAV)'));
    const changed = await pullOne(tbsync, account, key, 'Change');
    key = changed.key;
    assertEasSide(changed.app, 'Standup (CalDAV)');
    assertDavSide((await davEvent(account)).ics, 'Standup (CalDAV)');

    // Edited through ActiveSync, the whole item again with the rule-less blob: nothing moves either side.
    const edited = collectionOf(await tbsync.sync({ collectionId: account.calendar, syncKey: key, commands: [changeCommand(serverId, ...tbSyncEvent('Standup (TbSync)'))] }));
    assert.equal(maybeText(edited, 'Status'), '1', toXml(edited));
    assert.ok(!all(edited, 'Responses/Change').some((r) => maybeText(r, 'Status') !== '1'), toXml(edited));
    assertDavSide((await davEvent(account)).ics, 'Standup (TbSync)');
    const seenAgain = await pullOne(other, account, otherKey, 'Change');
    assertEasSide(seenAgain.app, 'Standup (TbSync)');
  });
}

/** An event as Outlook-made iCalendar carries it: its own VTIMEZONE named after the Windows zone. */
const outlookEvent = [
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//Outlook style//EN',
  'BEGIN:VTIMEZONE', 'TZID:W. Europe Standard Time',
  'BEGIN:STANDARD', 'DTSTART:16010101T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10', 'END:STANDARD',
  'BEGIN:DAYLIGHT', 'DTSTART:16010101T020000', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3', 'END:DAYLIGHT',
  'END:VTIMEZONE',
  'BEGIN:VEVENT', 'UID:outlook-standup', 'DTSTAMP:20270101T000000Z',
  'DTSTART;TZID=W. Europe Standard Time:20270308T100000', 'DTEND;TZID=W. Europe Standard Time:20270308T110000',
  `RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=${mondays.length}`, 'SUMMARY:Standup', 'END:VEVENT',
  'END:VCALENDAR', '',
].join('\r\n');

test('a series in a zone of its own (an Outlook-style VTIMEZONE) keeps that zone when TbSync sends it back without rules', async () => {
  const account = await easAccount(server);
  await createCalendarObject(server.url, account, 'outlook-standup.ics', outlookEvent);
  const tbsync = account.eas('tbsyncown', { version: '14.1' });
  const { key, serverId, app } = await pullOne(tbsync, account, await tbsync.primeSync(account.calendar), 'Add');
  assertEasSide(app, 'Standup', 'W. Europe Standard Time');
  const edited = collectionOf(await tbsync.sync({ collectionId: account.calendar, syncKey: key, commands: [changeCommand(serverId, ...tbSyncEvent('Standup (TbSync)'))] }));
  assert.ok(!all(edited, 'Responses/Change').some((r) => maybeText(r, 'Status') !== '1'), toXml(edited));
  const object = await davEvent(account);
  assertDavSide(object.ics, 'Standup (TbSync)', 'W. Europe Standard Time');
  assert.match(object.ics, /BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n/, 'the VTIMEZONE is kept');
});

test('TbSync\'s Europe/London (offset 0, "GMT Standard Time", no rules) is London, not UTC: 10:00 on every occurrence across the March change', async () => {
  const account = await easAccount(server);
  const tbsync = account.eas('tbsynclondon', { version: '14.1' });
  const key = (await tbsync.pull(account.calendar, await tbsync.primeSync(account.calendar))).key;
  const london = { blob: tbSyncBlob(0, 'GMT Standard Time'), start: '20270308T100000Z', end: '20270308T110000Z' };
  const added = collectionOf(await tbsync.sync({ collectionId: account.calendar, syncKey: key, commands: [addCommand('london', ...tbSyncEvent('London', london))] }));
  assert.equal(textAt(added, 'Responses/Add/Status'), '1', toXml(added));
  const { ics } = await davEvent(account);
  const seen = seriesOf(ics);
  assert.deepEqual(seen.starts.map(wallIn('Europe/London')), mondays.map((d) => `${d} 10:00`), ics);
  assert.equal(seen.tzid, 'Europe/London', ics);
});

test('an all-day event TbSync sends in summer (local midnight, rule-less Berlin blob) keeps its date', async () => {
  const account = await easAccount(server);
  const tbsync = account.eas('tbsyncallday', { version: '14.1' });
  const key = (await tbsync.pull(account.calendar, await tbsync.primeSync(account.calendar))).key;
  // 15 June 2027, midnight to midnight in Berlin summer time (UTC+2).
  const summerDay = { blob: tbSyncBlob(-60, 'W. Europe Standard Time'), start: '20270614T220000Z', end: '20270615T220000Z' };
  const data = tbSyncEvent('Holiday', summerDay).filter((e) => e.name !== 'AllDayEvent' && e.name !== 'Recurrence');
  const added = collectionOf(await tbsync.sync({ collectionId: account.calendar, syncKey: key, commands: [addCommand('holiday', cal('AllDayEvent', '1'), ...data)] }));
  assert.equal(textAt(added, 'Responses/Add/Status'), '1', toXml(added));
  const { ics } = await davEvent(account);
  assert.match(ics, /\r\nDTSTART;VALUE=DATE:20270615\r\n/, ics);
  assert.match(ics, /\r\nDTEND;VALUE=DATE:20270616\r\n/, ics);
});
