import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import ICAL from 'ical.js';
import { all, as, asb, cal, changeCommand, collectionOf, contactData, contacts, easAccount, syncBody, textAt, toXml, type EasAccount, type EasClient, type NativeDevice } from '../support/eas-client.js';
import { getJson } from '../support/server.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';

/**
 * Calendar edits from ActiveSync phones over real HTTP and WBXML, read back by a native device: a Change
 * carrying only some fields (ghosting per protocol version), several occurrence edits of one series in
 * one Sync, and 16.1 occurrence edits (docs/eas.md, Sync). Nothing the phone did not touch may change.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

/**
 * A weekly series with everything a phone must not lose: a location, an alarm with details ActiveSync
 * cannot carry, a second alarm, an unknown property, categories, a deleted occurrence (11 Jan) and a
 * moved one (18 Jan) with its own title and room.
 */
const series = [
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN',
  'BEGIN:VEVENT', 'UID:weekly-series', 'DTSTAMP:20260101T000000Z',
  'DTSTART:20270104T090000Z', 'DTEND:20270104T100000Z', 'SUMMARY:Weekly sync', 'LOCATION:Room 7',
  'RRULE:FREQ=WEEKLY;COUNT=8', 'EXDATE:20270111T090000Z', 'CATEGORIES:Team', 'X-SYNCPOINT-TEST:kept',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Reminder', 'TRIGGER:-PT15M', 'X-WR-ALARMUID:alarm-1', 'END:VALARM',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Leave now', 'TRIGGER:-PT1H', 'END:VALARM',
  'END:VEVENT',
  'BEGIN:VEVENT', 'UID:weekly-series', 'DTSTAMP:20260101T000000Z', 'RECURRENCE-ID:20270118T090000Z',
  'DTSTART:20270118T110000Z', 'DTEND:20270118T120000Z', 'SUMMARY:Weekly sync (moved)', 'LOCATION:Room 9',
  'END:VEVENT',
  'END:VCALENDAR', '',
].join('\r\n');

interface Setup {
  account: EasAccount;
  /** The native device that stored the series. */
  native: NativeDevice;
  id: string;
  client: EasClient;
  key: string;
  read(): Promise<string>;
}

/** The series stored by a native device, and a phone in step with the calendar (`supported`: its key 0 Supported list). */
async function setup(deviceId: string, version: '14.1' | '16.1', supported?: WbxmlElement[]): Promise<Setup> {
  const account = await easAccount(server);
  const native = account.native(`native-${deviceId}`);
  const id = await native.put(account.calendar, 'weekly-series', series);
  const client = account.eas(deviceId, { version });
  const primed = collectionOf(await client.command('Sync', as('Sync', as('Collections', as('Collection',
    as('SyncKey', '0'), as('CollectionId', account.calendar), supported && as('Supported', ...supported))))));
  const { key } = await client.pull(account.calendar, textAt(primed, 'SyncKey'));
  return { account, native, id, client, key, read: async () => (await native.items(account.calendar)).get(id)?.data ?? '' };
}

/** Sends commands, expecting Status 1 for the collection and no per-command failure (successes are not echoed). */
async function syncAllOk(s: Setup, commands: WbxmlElement[]): Promise<WbxmlElement> {
  const answer = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: s.key, commands }));
  assert.equal(textAt(answer, 'Status'), '1', toXml(answer));
  assert.equal(all(answer, 'Responses/Change').length + all(answer, 'Responses/Delete').length, 0, `a command failed: ${toXml(answer)}`);
  s.key = textAt(answer, 'SyncKey');
  return answer;
}

/** The item's VEVENTs: the series and its overrides by RECURRENCE-ID (compact UTC). */
function events(ics: string): { master: ICAL.Component; overrides: Map<string, ICAL.Component> } {
  const vevents = new ICAL.Component(ICAL.parse(ics) as unknown[]).getAllSubcomponents('vevent');
  const master = vevents.find((v) => !v.hasProperty('recurrence-id'));
  assert.ok(master, ics);
  const overrides = new Map(vevents.filter((v) => v !== master).map((v) => [utc(v.getFirstPropertyValue('recurrence-id')), v]));
  return { master, overrides };
}

const utc = (v: unknown) => (v as ICAL.Time).convertToZone(ICAL.Timezone.utcTimezone).toICALString();
const prop = (c: ICAL.Component | undefined, name: string) => c?.getFirstPropertyValue(name);
const exdates = (master: ICAL.Component) => master.getAllProperties('exdate').flatMap((p) => p.getValues().map(utc)).sort();
const triggers = (c: ICAL.Component | undefined) => (c?.getAllSubcomponents('valarm') ?? []).map((a) => String(a.getFirstPropertyValue('trigger'))).sort();
const occurrence = (instanceId: string, ...data: WbxmlElement[]) => as('Change', as('ServerId', ''), asb('InstanceId', instanceId), as('ApplicationData', ...data));
const forItem = (id: string, command: WbxmlElement): WbxmlElement => ({
  ...command,
  children: command.children.map((c) => (typeof c === 'object' && !(c instanceof Uint8Array) && c.name === 'ServerId' ? as('ServerId', id) : c)),
});

/** Everything of the series above but what `changed` names is as it was. */
function assertSeriesKept(ics: string, changed: { subject?: string; location?: string | null; exdates?: string[] } = {}): void {
  const { master, overrides } = events(ics);
  assert.equal(prop(master, 'summary'), changed.subject ?? 'Weekly sync', ics);
  assert.equal(prop(master, 'location') ?? null, changed.location === undefined ? 'Room 7' : changed.location, ics);
  assert.equal(String(prop(master, 'rrule')), 'FREQ=WEEKLY;COUNT=8', ics);
  assert.equal(utc(prop(master, 'dtstart')), '20270104T090000Z', ics);
  assert.equal(utc(prop(master, 'dtend')), '20270104T100000Z', ics);
  assert.deepEqual(exdates(master), changed.exdates ?? ['20270111T090000Z'], ics);
  assert.deepEqual(triggers(master), ['-PT15M', '-PT1H'], ics);
  assert.match(ics, /X-WR-ALARMUID:alarm-1/, ics);
  assert.match(ics, /DESCRIPTION:Leave now/, ics);
  assert.equal(prop(master, 'x-syncpoint-test'), 'kept', ics);
  assert.deepEqual(master.getAllProperties('categories').flatMap((p) => p.getValues()), ['Team'], ics);
  const moved = overrides.get('20270118T090000Z');
  assert.ok(moved, `the moved occurrence stays: ${ics}`);
  assert.equal(prop(moved, 'summary'), 'Weekly sync (moved)', ics);
  assert.equal(prop(moved, 'location'), 'Room 9', ics);
  assert.equal(utc(prop(moved, 'dtstart')), '20270118T110000Z', ics);
}

// ---------------------------------------------------------------------------------------------------
// D1: a Change that carries only some fields

test('16.1: a series Change carrying only Subject keeps recurrence, deleted and moved occurrences, location, alarms and unknown properties', async () => {
  const s = await setup('D1v16', '16.1');
  await syncAllOk(s, [changeCommand(s.id, cal('Subject', 'Weekly sync, renamed'))]);
  assertSeriesKept(await s.read(), { subject: 'Weekly sync, renamed' });
});

test('16.1: a series Change carrying only a new Location and Reminder changes those two', async () => {
  const s = await setup('D1v16b', '16.1');
  await syncAllOk(s, [changeCommand(s.id, asb('Location', asb('DisplayName', 'Room 12')), cal('Reminder', '5'))]);
  const ics = await s.read();
  const { master } = events(ics);
  assert.equal(prop(master, 'location'), 'Room 12', ics);
  assert.deepEqual(triggers(master), ['-PT1H', '-PT5M'], ics);
  assert.match(ics, /X-WR-ALARMUID:alarm-1/, 'the alarm ActiveSync named is edited, not replaced');
  assert.equal(prop(master, 'summary'), 'Weekly sync');
  assert.equal(String(prop(master, 'rrule')), 'FREQ=WEEKLY;COUNT=8');
  assert.deepEqual(exdates(master), ['20270111T090000Z']);
  assert.equal(events(ics).overrides.size, 1);
});

test('14.1 with Supported: what the device did not list stays, what it listed and left out is cleared', async () => {
  // This device manages subject, times, location and reminder; everything else is ghosted.
  const s = await setup('D1v14s', '14.1', [cal('Subject'), cal('StartTime'), cal('EndTime'), cal('Location'), cal('Reminder'), cal('AllDayEvent'), cal('Timezone')]);
  await syncAllOk(s, [changeCommand(s.id, cal('Subject', 'Weekly sync, renamed'), cal('StartTime', '20270104T090000Z'), cal('EndTime', '20270104T100000Z'))]);
  const ics = await s.read();
  const { master } = events(ics);
  assert.equal(prop(master, 'summary'), 'Weekly sync, renamed', ics);
  assert.equal(prop(master, 'location'), null, 'a listed field left out is cleared');
  assert.deepEqual(triggers(master), ['-PT1H'], 'the reminder is listed and left out: its alarm goes, the other stays');
  assert.equal(String(prop(master, 'rrule')), 'FREQ=WEEKLY;COUNT=8', ics);
  assert.deepEqual(exdates(master), ['20270111T090000Z'], ics);
  assert.equal(prop(events(ics).overrides.get('20270118T090000Z'), 'location'), 'Room 9', ics);
  assert.deepEqual(master.getAllProperties('categories').flatMap((p) => p.getValues()), ['Team'], 'Categories was not listed');
  assert.equal(prop(master, 'x-syncpoint-test'), 'kept');
});

test('14.1 without Supported: the Change is the whole item, and what ActiveSync cannot carry stays', async () => {
  const s = await setup('D1v14', '14.1');
  // The series as the phone holds it, less its Location and Categories.
  await syncAllOk(s, [changeCommand(s.id,
    cal('Subject', 'Weekly sync'), cal('StartTime', '20270104T090000Z'), cal('EndTime', '20270104T100000Z'), cal('AllDayEvent', '0'),
    cal('Reminder', '15'),
    cal('Recurrence', cal('Type', '1'), cal('Interval', '1'), cal('DayOfWeek', '2'), cal('Occurrences', '8')),
    cal('Exceptions',
      cal('Exception', cal('Deleted', '1'), cal('ExceptionStartTime', '20270111T090000Z')),
      cal('Exception', cal('ExceptionStartTime', '20270118T090000Z'), cal('Subject', 'Weekly sync (moved)'), cal('Location', 'Room 9'),
        cal('StartTime', '20270118T110000Z'), cal('EndTime', '20270118T120000Z'))))]);
  const ics = await s.read();
  const { master } = events(ics);
  assert.equal(prop(master, 'location'), null, ics);
  assert.deepEqual(master.getAllProperties('categories'), [], ics);
  assert.deepEqual(triggers(master), ['-PT15M', '-PT1H'], ics);
  assert.match(ics, /X-WR-ALARMUID:alarm-1/);
  assert.equal(prop(master, 'x-syncpoint-test'), 'kept');
  assert.equal(String(prop(master, 'rrule')), 'FREQ=WEEKLY;COUNT=8', ics);
  assert.deepEqual(exdates(master), ['20270111T090000Z'], ics);
  assert.equal(prop(events(ics).overrides.get('20270118T090000Z'), 'location'), 'Room 9', ics);
});

// ---------------------------------------------------------------------------------------------------
// D2: several edits of one series in one Sync

test('16.1: two occurrence edits and an occurrence delete of one series in one Sync all apply', async () => {
  const s = await setup('D2v16', '16.1');
  await syncAllOk(s, [
    forItem(s.id, occurrence('2027-01-25T09:00:00.000Z', cal('Subject', 'Retro'))),
    forItem(s.id, occurrence('2027-02-01T09:00:00.000Z', cal('StartTime', '20270201T130000Z'), cal('EndTime', '20270201T140000Z'))),
    as('Delete', as('ServerId', s.id), asb('InstanceId', '2027-02-08T09:00:00.000Z')),
  ]);
  const ics = await s.read();
  const { overrides } = events(ics);
  assert.equal(prop(overrides.get('20270125T090000Z'), 'summary'), 'Retro', ics);
  assert.equal(utc(prop(overrides.get('20270201T090000Z'), 'dtstart')), '20270201T130000Z', ics);
  assert.equal(overrides.size, 3, ics);
  assertSeriesKept(ics, { exdates: ['20270111T090000Z', '20270208T090000Z'] });
});

test('16.1: an occurrence edit after a series edit in the same Sync keeps both', async () => {
  const s = await setup('D2v16b', '16.1');
  await syncAllOk(s, [
    changeCommand(s.id, cal('Subject', 'Weekly sync, renamed')),
    forItem(s.id, occurrence('2027-01-25T09:00:00.000Z', asb('Location', asb('DisplayName', 'Room 3')))),
  ]);
  const ics = await s.read();
  assertSeriesKept(ics, { subject: 'Weekly sync, renamed' });
  const edited = events(ics).overrides.get('20270125T090000Z');
  assert.equal(prop(edited, 'location'), 'Room 3', ics);
  assert.equal(prop(edited, 'summary'), 'Weekly sync, renamed', 'the occurrence is made from the series as the first command left it');
});

test('16.1: a Sync of several occurrence edits retried after a lost answer gets the same answer and writes nothing new', async () => {
  const s = await setup('D2v16retry', '16.1');
  const body = syncBody([{ collectionId: s.account.calendar, syncKey: s.key, commands: [
    forItem(s.id, occurrence('2027-01-25T09:00:00.000Z', cal('Subject', 'Retro'))),
    as('Delete', as('ServerId', s.id), asb('InstanceId', '2027-01-25T09:00:00.000Z')),
    forItem(s.id, occurrence('2027-02-01T09:00:00.000Z', cal('Subject', 'Kept'))),
  ] }]);
  const first = await s.client.send('Sync', body);
  const after = await s.read();
  const again = await s.client.send('Sync', body);
  assert.deepEqual(Buffer.from(again.bytes), Buffer.from(first.bytes), 'the same answer');
  assert.equal(await s.read(), after, 'the item is what the first attempt made');
  const { master, overrides } = events(after);
  assert.deepEqual(exdates(master), ['20270111T090000Z', '20270125T090000Z'], after);
  assert.equal(overrides.has('20270125T090000Z'), false, 'the delete after the edit wins');
  assert.equal(prop(overrides.get('20270201T090000Z'), 'summary'), 'Kept', after);
});

test('14.1 with an empty Supported (everything ghosted): two partial Changes of one item in one Sync both apply', async () => {
  const s = await setup('D2v14', '14.1', []);
  await syncAllOk(s, [changeCommand(s.id, cal('Subject', 'Weekly sync, renamed')), changeCommand(s.id, cal('Location', 'Room 12'))]);
  assertSeriesKept(await s.read(), { subject: 'Weekly sync, renamed', location: 'Room 12' });
});

// ---------------------------------------------------------------------------------------------------
// D3: 16.1 occurrence edits

test('16.1: an occurrence edit carrying only Subject is accepted and the occurrence keeps the series\' times, location, alarms and properties', async () => {
  const s = await setup('D3v16', '16.1');
  await syncAllOk(s, [forItem(s.id, occurrence('2027-01-25T09:00:00.000Z', cal('Subject', 'Retro')))]);
  const ics = await s.read();
  const edited = events(ics).overrides.get('20270125T090000Z');
  assert.ok(edited, ics);
  assert.equal(prop(edited, 'summary'), 'Retro');
  assert.equal(utc(prop(edited, 'dtstart')), '20270125T090000Z', ics);
  assert.equal(utc(prop(edited, 'dtend')), '20270125T100000Z', ics);
  assert.equal(prop(edited, 'location'), 'Room 7', ics);
  assert.deepEqual(triggers(edited), ['-PT15M', '-PT1H'], ics);
  assert.equal(prop(edited, 'x-syncpoint-test'), 'kept', ics);
  assert.equal(edited.getFirstProperty('rrule'), null, ics);
  assertSeriesKept(ics);
});

test('16.1: a moved occurrence inherits the series\' location and alarm; an edit of a moved one keeps what it does not carry', async () => {
  const s = await setup('D3v16b', '16.1');
  await syncAllOk(s, [forItem(s.id, occurrence('2027-02-01T09:00:00.000Z', cal('Subject', 'Moved'), cal('StartTime', '20270202T150000Z'), cal('EndTime', '20270202T160000Z')))]);
  await syncAllOk(s, [forItem(s.id, occurrence('2027-01-18T09:00:00.000Z', cal('Reminder', '30')))]);
  const ics = await s.read();
  const { overrides } = events(ics);
  const moved = overrides.get('20270201T090000Z');
  assert.equal(utc(prop(moved, 'dtstart')), '20270202T150000Z', ics);
  assert.equal(prop(moved, 'location'), 'Room 7', ics);
  assert.deepEqual(triggers(moved), ['-PT15M', '-PT1H'], ics);
  const earlier = overrides.get('20270118T090000Z');
  assert.equal(prop(earlier, 'summary'), 'Weekly sync (moved)', ics);
  assert.equal(prop(earlier, 'location'), 'Room 9', ics);
  assert.equal(utc(prop(earlier, 'dtstart')), '20270118T110000Z', ics);
  assert.equal(utc(prop(earlier, 'dtend')), '20270118T120000Z', ics);
  assert.deepEqual(triggers(earlier), ['-PT30M'], ics);
});

test('16.1: an occurrence edit that would take the series past the item size cap fails alone; the edits before it stand', async () => {
  const account = await easAccount(server);
  const native = account.native('native-big');
  // About 400 KB of description: the series fits, each override copies it, so only one more does.
  const big = series.replace('SUMMARY:Weekly sync\r\n', `SUMMARY:Weekly sync\r\nDESCRIPTION:${'x'.repeat(400_000)}\r\n`);
  const id = await native.put(account.calendar, 'big-series', big);
  const client = account.eas('D2big', { version: '16.1' });
  const { key } = await client.pull(account.calendar, await client.primeSync(account.calendar));
  const answer = collectionOf(await client.sync({
    collectionId: account.calendar,
    syncKey: key,
    commands: [
      forItem(id, occurrence('2027-01-25T09:00:00.000Z', cal('Subject', 'First'))),
      forItem(id, occurrence('2027-02-01T09:00:00.000Z', cal('Subject', 'Second'))),
    ],
  }));
  assert.equal(textAt(answer, 'Status'), '1', toXml(answer));
  const failed = all(answer, 'Responses/Change');
  assert.deepEqual(failed.map((c) => [textAt(c, 'InstanceId'), textAt(c, 'Status')]), [['2027-02-01T09:00:00.000Z', '6']], toXml(answer));
  const ics = (await native.items(account.calendar)).get(id)?.data ?? '';
  const { overrides } = events(ics);
  assert.equal(prop(overrides.get('20270125T090000Z'), 'summary'), 'First');
  assert.equal(overrides.has('20270201T090000Z'), false);
});

// ---------------------------------------------------------------------------------------------------
// Contacts share the rule and the ordering

// ---------------------------------------------------------------------------------------------------
// Edits made from a version the phone holds while another device changed the series

/**
 * The phone holds the series (v1); the native device moves the series to Room 8 (v2); the phone, not
 * yet told, renames the series with a Subject-only Change and edits the 25 January occurrence by
 * InstanceId. Its edits are of v1: they reach the hub as such, and the hub's rules (docs/protocol.md §8:
 * a merge, else device priority and a conflict record) decide, as for any device editing a stale version.
 */
async function staleEdits(deviceId: string, phoneFirst: boolean): Promise<{ s: Setup; answer: WbxmlElement; truth: string; conflicts: Array<{ itemId: string; data: string; lostBy: string }> }> {
  const s = await setup(deviceId, '16.1');
  if (phoneFirst) {
    const res = await fetch(`${server.url}/api/v1/devices/priority`, { method: 'PUT', headers: { authorization: s.account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ order: [`eas-${deviceId}`] }) });
    assert.equal(res.status, 200);
  }
  await s.native.put(s.account.calendar, 'weekly-series', series.replace('LOCATION:Room 7', 'LOCATION:Room 8'));
  const answer = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: s.key, commands: [
    changeCommand(s.id, cal('Subject', 'Weekly sync, renamed')),
    forItem(s.id, occurrence('2027-01-25T09:00:00.000Z', cal('Subject', 'Retro'))),
  ] }));
  assert.equal(textAt(answer, 'Status'), '1', toXml(answer));
  s.key = textAt(answer, 'SyncKey');
  const conflicts = (await getJson(`${server.url}/api/v1/conflicts`, s.account.authorization)).body.conflicts as Array<{ itemId: string; data: string; lostBy: string }>;
  return { s, answer, truth: await s.read(), conflicts: conflicts.filter((c) => c.itemId === s.id) };
}

/** The location the phone ends with: v1's, unless the server sent it a Change of the series since. */
function phoneLocation(answers: readonly WbxmlElement[], id: string): string {
  let location = 'Room 7';
  for (const a of answers) {
    for (const change of all(a, 'Commands/Change').filter((c) => textAt(c, 'ServerId') === id)) location = textAt(change, 'ApplicationData/Location/DisplayName');
  }
  return location;
}

test('16.1 edits made from the version the phone holds, the phone ranked first: its version of v1 wins, the other edit is a conflict record, and the phone holds the truth', async () => {
  const { s, answer, truth, conflicts } = await staleEdits('Stale16a', true);
  assert.equal(all(answer, 'Responses/Change').length, 0, `the edits succeed: ${toXml(answer)}`);
  // The phone's edits, of v1: the native device's Room 8 is not in it as if the phone had made it.
  assertSeriesKept(truth, { subject: 'Weekly sync, renamed' });
  assert.equal(prop(events(truth).overrides.get('20270125T090000Z'), 'summary'), 'Retro', truth);
  assert.ok(conflicts.some((c) => /LOCATION:Room 8/.test(c.data) && c.lostBy === `native-Stale16a`), `the losing v2 is kept: ${JSON.stringify(conflicts)}`);
  const next = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: s.key }));
  assert.equal(phoneLocation([answer, next], s.id), prop(events(truth).master, 'location'), 'the phone holds the truth');
});

test('16.1 edits made from the version the phone holds, the other device ranked first: Status 7, the phone\'s edits of v1 are a conflict record, and the phone is sent v2', async () => {
  const { s, answer, truth, conflicts } = await staleEdits('Stale16b', false);
  assert.deepEqual(all(answer, 'Responses/Change').map((c) => textAt(c, 'Status')), ['7', '7'], toXml(answer));
  assertSeriesKept(truth, { location: 'Room 8' });
  const lost = conflicts.find((c) => c.lostBy === 'eas-Stale16b');
  assert.ok(lost, JSON.stringify(conflicts));
  assertSeriesKept(lost.data, { subject: 'Weekly sync, renamed' });
  assert.equal(prop(events(lost.data).overrides.get('20270125T090000Z'), 'summary'), 'Retro', lost.data);
  const next = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: s.key }));
  assert.equal(phoneLocation([answer, next], s.id), 'Room 8', 'the phone is sent the other device\'s change');
});

test('16.1: a Subject-only Change from a phone paging through a window, completed from a stand-in for the version it holds, is sent back whole', async () => {
  const s = await setup('Paging16', '16.1');
  const res = await fetch(`${server.url}/api/v1/devices/priority`, { method: 'PUT', headers: { authorization: s.account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ order: ['eas-Paging16'] }) });
  assert.equal(res.status, 200);
  // The series moves to Room 8, another event is added, and the series moves on to Room 9.
  await s.native.put(s.account.calendar, 'weekly-series', series.replace('LOCATION:Room 7', 'LOCATION:Room 8'));
  await s.native.put(s.account.calendar, 'other', series.replaceAll('weekly-series', 'other-series'));
  await s.native.put(s.account.calendar, 'weekly-series', series.replace('LOCATION:Room 7', 'LOCATION:Room 9'));
  // One item per page: the phone gets the other event, and its position passes Room 8, which it never got.
  const page = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: s.key, windowSize: 1 }));
  assert.equal(all(page, 'Commands/Add').length, 1, toXml(page));
  const answer = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: textAt(page, 'SyncKey'), commands: [changeCommand(s.id, cal('Subject', 'Weekly sync, renamed'))] }));
  assert.equal(all(answer, 'Responses/Change').length, 0, `the edit succeeds: ${toXml(answer)}`);
  const truth = await s.read();
  assertSeriesKept(truth, { subject: 'Weekly sync, renamed', location: 'Room 9' });
  // Had the answer been lost, its retry would bring the same (sim seed 9700206).
  const retry = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: textAt(page, 'SyncKey'), commands: [changeCommand(s.id, cal('Subject', 'Weekly sync, renamed'))] }));
  assert.equal(phoneLocation([page, retry], s.id), 'Room 9', 'a retry after a lost answer brings it too');
  const next = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: textAt(answer, 'SyncKey') }));
  assert.equal(phoneLocation([page, answer, next], s.id), 'Room 9', 'the phone holds the truth');
});

test('16.1: an occurrence edit made before the merge of the phone\'s own last edit reached it applies to what the phone sent', async () => {
  const s = await setup('Merged16', '16.1');
  const res = await fetch(`${server.url}/api/v1/devices/priority`, { method: 'PUT', headers: { authorization: s.account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ order: ['eas-Merged16'] }) });
  assert.equal(res.status, 200);
  // A series without overrides, so edits of different properties merge (content/merge.ts).
  const plain = series.replace(/BEGIN:VEVENT\r\nUID:weekly-series\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:[^]*?END:VEVENT\r\n/, '');
  await s.native.put(s.account.calendar, 'weekly-series', plain);
  let key = s.key;
  const caughtUp = await s.client.pull(s.account.calendar, key);
  key = caughtUp.key;
  // Another event, then the series moves to Room 8, on the native device.
  await s.native.put(s.account.calendar, 'other', plain.replaceAll('weekly-series', 'other-series'));
  await s.native.put(s.account.calendar, 'weekly-series', plain.replace('LOCATION:Room 7', 'LOCATION:Room 8'));
  // The phone renames the series; the hub merges that with Room 8. One item per page: the answer
  // carries the other event, not the merge.
  const first = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: key, windowSize: 1, commands: [changeCommand(s.id, cal('Subject', 'Weekly sync, renamed'))] }));
  assert.equal(all(first, 'Responses/Change').length + all(first, 'Commands/Change').length, 0, toXml(first));
  assert.match(await s.read(), /SUMMARY:Weekly sync\\, renamed\r\nLOCATION:Room 8/);
  // Then it edits an occurrence, from the series as it holds it: what it sent, renamed, in Room 7. An
  // occurrence edit does not merge (a second component), and the phone ranks first.
  const second = collectionOf(await s.client.sync({ collectionId: s.account.calendar, syncKey: textAt(first, 'SyncKey'), windowSize: 1, commands: [forItem(s.id, occurrence('2027-01-25T09:00:00.000Z', cal('Subject', 'Retro')))] }));
  assert.equal(all(second, 'Responses/Change').length, 0, toXml(second));
  const { master, overrides } = events(await s.read());
  assert.equal(prop(master, 'summary'), 'Weekly sync, renamed', 'the phone\'s own rename stays: its edit was made from it');
  assert.equal(prop(overrides.get('20270125T090000Z'), 'summary'), 'Retro');
  const conflicts = (await getJson(`${server.url}/api/v1/conflicts`, s.account.authorization)).body.conflicts as Array<{ itemId: string; data: string }>;
  assert.ok(conflicts.some((c) => c.itemId === s.id && /LOCATION:Room 8/.test(c.data)), 'the merged Room 8 is kept');
});

test('contacts follow Supported in 16.1 too (the all-ghosted rule is the calendar\'s), and partial Changes of one contact in one Sync all apply', async () => {
  const account = await easAccount(server);
  const native = account.native('native-contacts');
  const id = await native.put(account.contacts, 'ada', vcard('ada', 'Ada Lovelace', 'EMAIL:ada@example.org\r\nTEL;TYPE=CELL:+1 555 0100\r\nX-KEEP:1\r\n'));
  const read = async () => (await native.items(account.contacts)).get(id)?.data ?? '';

  // Everything ghosted (an empty Supported): two Changes, each with one field, both hold.
  const ghosting = account.eas('C16ghost', { version: '16.1' });
  const primed = collectionOf(await ghosting.command('Sync', as('Sync', as('Collections', as('Collection', as('SyncKey', '0'), as('CollectionId', account.contacts), as('Supported'))))));
  const { key } = await ghosting.pull(account.contacts, textAt(primed, 'SyncKey'));
  const both = collectionOf(await ghosting.sync({ collectionId: account.contacts, syncKey: key, commands: [changeCommand(id, contacts('JobTitle', 'Analyst')), changeCommand(id, contacts('CompanyName', 'Engines Ltd'))] }));
  assert.equal(all(both, 'Responses/Change').length, 0, toXml(both));
  const ghosted = await read();
  assert.match(ghosted, /TITLE:Analyst/, ghosted);
  assert.match(ghosted, /ORG:Engines Ltd/, ghosted);
  assert.match(ghosted, /EMAIL:ada@example\.org/, ghosted);
  assert.match(ghosted, /X-KEEP:1/, ghosted);

  // Without Supported a 16.1 contact Change is the whole contact: what it leaves out goes, what ActiveSync cannot carry stays.
  const whole = account.eas('C16whole', { version: '16.1' });
  const { key: wholeKey } = await whole.pull(account.contacts, await whole.primeSync(account.contacts));
  const answer = collectionOf(await whole.sync({ collectionId: account.contacts, syncKey: wholeKey, commands: [changeCommand(id, ...contactData('Ada', 'Byron'))] }));
  assert.equal(all(answer, 'Responses/Change').length, 0, toXml(answer));
  const replaced = await read();
  assert.match(replaced, /Byron/, replaced);
  assert.doesNotMatch(replaced, /EMAIL|TITLE|ORG/, replaced);
  assert.match(replaced, /X-KEEP:1/, replaced);
});
