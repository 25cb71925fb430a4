import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  addCommand,
  all,
  as,
  asb,
  at,
  cal,
  changeCommand,
  collectionById,
  collectionOf,
  contactData,
  easUtc,
  fh,
  commandsOf,
  easAccount,
  maybeText,
  notes,
  ping,
  sleep,
  st,
  syncBody,
  tasks,
  textAt,
  toXml,
  type EasClient,
  type EasResponse,
} from '../support/eas-client.js';
import { calendarObjects, putCalendarObject } from '../support/caldav.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';

/**
 * ActiveSync at the edges of the protocol, over real HTTP with the scripted client, each for 14.1 and
 * 16.1 where both apply: Settings (Oof, UserInformation), Sync's Wait, HeartbeatInterval and Partial,
 * bodies the server cannot turn into text (RTF), and folder names across faces.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

const versions = ['14.1', '16.1'] as const;

/** Brings each collection in step, then sends one full Sync naming them all, which the server remembers. */
async function inStep(client: EasClient, ...collectionIds: string[]): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const id of collectionIds) keys.set(id, (await client.pull(id, await client.primeSync(id))).key);
  const full = await client.command('Sync', syncBody(collectionIds.map((id) => ({ collectionId: id, syncKey: keys.get(id) as string }))));
  for (const id of collectionIds) keys.set(id, textAt(collectionById(full, id), 'SyncKey'));
  return keys;
}

/** A request sent without waiting for it, with a way to see whether it has been answered. */
function start(client: EasClient, command: string, body: WbxmlElement | undefined): { settled: () => boolean; result: Promise<EasResponse>; abort(): void } {
  const controller = new AbortController();
  let done = false;
  const result = client.send(command, body, { signal: controller.signal });
  result.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done, result, abort: () => controller.abort() };
}

// Settings: Oof.

for (const version of versions) {
  test(`Settings Oof (${version}): a Get is told it is off, a Set that turns it off succeeds, one that turns it on is denied`, async () => {
    const account = await easAccount(server);
    const client = account.eas(`Oof${version.replace('.', '')}`, { version });
    const get = await client.command('Settings', st('Settings', st('Oof', st('Get', st('BodyType', 'TEXT')))));
    assert.equal(textAt(get, 'Status'), '1');
    assert.equal(textAt(get, 'Oof/Status'), '1', toXml(get));
    assert.equal(textAt(get, 'Oof/Get/OofState'), '0', 'out of office is off: this server sends no automatic replies');
    const off = await client.command('Settings', st('Settings', st('Oof', st('Set', st('OofState', '0')))));
    assert.equal(textAt(off, 'Oof/Status'), '1');
    const on = await client.command(
      'Settings',
      st('Settings', st('Oof', st('Set', st('OofState', '1'), st('OofMessage', st('AppliesToInternal'), st('Enabled', '1'), st('ReplyMessage', 'Away'), st('BodyType', 'TEXT'))))),
    );
    assert.equal(textAt(on, 'Oof/Status'), '7', 'denied: it would never be sent');
    // Another setting in the same request is still answered.
    const both = await client.command('Settings', st('Settings', st('Oof', st('Get', st('BodyType', 'TEXT'))), st('UserInformation', st('Get'))));
    assert.equal(textAt(both, 'Oof/Status'), '1');
    assert.equal(textAt(both, 'UserInformation/Status'), '1');
  });
}

// Sync: Wait, HeartbeatInterval, Partial.

for (const version of versions) {
  test(`Sync (${version}): Wait and HeartbeatInterval out of range are Status 14 with the nearest allowed value; both together are Status 4`, async () => {
    const account = await easAccount(server);
    const client = account.eas(`Wait${version.replace('.', '')}`, { version });
    const keys = await inStep(client, account.contacts);
    const collection = as('Collections', as('Collection', as('SyncKey', keys.get(account.contacts) as string), as('CollectionId', account.contacts)));
    for (const [element, value, limit] of [
      ['Wait', '0', '1'],
      ['Wait', '60', '59'],
      ['Wait', '-3', '1'],
      ['HeartbeatInterval', '59', '60'],
      ['HeartbeatInterval', '3541', '3540'],
      ['HeartbeatInterval', '99999999', '3540'],
    ] as const) {
      const res = await client.send('Sync', as('Sync', collection, as(element, value)));
      assert.ok(res.elapsedMs < 2000, 'refused at once');
      assert.equal(textAt(res.body, 'Status'), '14', `${element} ${value}: ${res.body ? toXml(res.body) : res.text}`);
      assert.equal(textAt(res.body, 'Limit'), limit);
      assert.equal(maybeText(res.body, 'Collections'), undefined, 'Limit and Collections are exclusive');
    }
    const both = await client.command('Sync', as('Sync', collection, as('Wait', '5'), as('HeartbeatInterval', '300')));
    assert.equal(textAt(both, 'Status'), '4');
    const garbage = await client.command('Sync', as('Sync', collection, as('Wait', 'soon')));
    assert.equal(textAt(garbage, 'Status'), '4');
    // Nothing moved: the key still works.
    const sync = await client.command('Sync', as('Sync', collection));
    assert.equal(textAt(collectionById(sync, account.contacts), 'Status'), '1');
  });
}

for (const version of versions) {
  test(`Sync (${version}): a Partial request is completed with the collections of the last one, at their keys`, async () => {
    const account = await easAccount(server);
    const client = account.eas(`Partial${version.replace('.', '')}`, { version });
    const native = account.native(`native-partial${version}`);
    const keys = await inStep(client, account.contacts, account.calendar);
    const contactId = await native.put(account.contacts, 'c1', vcard('partial-c1', 'Partial Contact'));
    const eventId = await native.put(account.calendar, 'e1', vevent('partial-e1', 'Partial Event'));

    // Only the calendar is named; the contacts come from the last request, at the key it was answered with.
    const answer = await client.command(
      'Sync',
      as('Sync', as('Collections', as('Collection', as('SyncKey', keys.get(account.calendar) as string), as('CollectionId', account.calendar), as('GetChanges'))), as('Partial')),
    );
    const calendar = collectionById(answer, account.calendar);
    const contacts = collectionById(answer, account.contacts);
    assert.deepEqual(commandsOf(calendar, 'Add').map((a) => textAt(a, 'ServerId')), [eventId]);
    assert.deepEqual(commandsOf(contacts, 'Add').map((a) => textAt(a, 'ServerId')), [contactId], toXml(answer));

    // A Partial request with no Collections at all repeats the whole last request.
    const contact2 = await native.put(account.contacts, 'c2', vcard('partial-c2', 'Second Contact'));
    const again = await client.command('Sync', as('Sync', as('Partial')));
    assert.deepEqual(commandsOf(collectionById(again, account.contacts), 'Add').map((a) => textAt(a, 'ServerId')), [contact2]);
    assert.equal(textAt(collectionById(again, account.calendar), 'Status'), '1');

    // A device the server remembers nothing of is asked for the full request.
    const stranger = await account.eas(`Partial${version.replace('.', '')}b`, { version }).command('Sync', as('Sync', as('Partial')));
    assert.equal(textAt(stranger, 'Status'), '13');
  });
}

for (const version of versions) {
  test(`Sync (${version}): a Sync with HeartbeatInterval is held until a change, and a newer request of the device ends it with an empty answer`, async () => {
    const account = await easAccount(server);
    const client = account.eas(`Held${version.replace('.', '')}`, { version });
    const native = account.native(`native-held${version}`);
    await native.items(account.contacts);
    await inStep(client, account.contacts, account.calendar);

    // Partial with only a heartbeat: the last request's collections, held.
    const held = start(client, 'Sync', as('Sync', as('HeartbeatInterval', '60'), as('Partial')));
    await sleep(1000);
    assert.equal(held.settled(), false, 'nothing waits: the Sync is held');
    const serverId = await native.put(account.contacts, 'woken', vcard('held-woken', 'Woken'));
    const woken = await held.result;
    assert.equal(woken.status, 200);
    assert.deepEqual(commandsOf(collectionById(woken.body as WbxmlElement, account.contacts), 'Add').map((a) => textAt(a, 'ServerId')), [serverId]);

    // Held again (an empty request repeats the last one, heartbeat included); a Ping of the device takes over.
    const second = start(client, 'Sync', undefined);
    await sleep(1000);
    assert.equal(second.settled(), false, 'the empty Sync repeats the heartbeat and is held');
    const takeover = start(client, 'Ping', ping('Ping', ping('HeartbeatInterval', '60'), ping('Folders', ping('Folder', ping('Id', account.contacts), ping('Class', 'Contacts')))));
    const ended = await second.result;
    assert.equal(ended.status, 200);
    assert.equal(ended.bytes.length, 0, 'an empty answer: the device keeps its keys and asks again');
    takeover.abort();
    await takeover.result.catch(() => undefined);
  });
}

// Settings: UserInformation reports the account's email address.

const userInformation = (client: EasClient, version: string) => client.command('Settings', st('Settings', st('UserInformation', st('Get'))), { version });

async function putEmail(authorization: string, email: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/api/v1/account/email`, { method: 'PUT', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  return { status: res.status, body: await res.json() };
}

test('Settings UserInformation reports the email address set for the account (14.0, 14.1, 16.1), else the account name', async () => {
  const account = await easAccount(server);
  const client = account.eas('UserInfo1');
  const before = await userInformation(client, '16.1');
  assert.equal(textAt(before, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), account.accountName, 'none set: the account name');

  const set = await putEmail(account.authorization, 'bob@example.com');
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body, { name: account.accountName, email: 'bob@example.com', reportedEmail: 'bob@example.com' });
  const shown = await fetch(`${server.url}/api/v1/account`, { headers: { authorization: account.authorization } });
  assert.deepEqual(await shown.json(), set.body);

  for (const version of ['14.1', '16.1']) {
    const answer = await userInformation(client, version);
    assert.equal(textAt(answer, 'UserInformation/Status'), '1');
    assert.equal(textAt(answer, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), 'bob@example.com', `${version}: ${toXml(answer)}`);
  }
  const old = await userInformation(client, '14.0');
  assert.equal(textAt(old, 'UserInformation/Get/EmailAddresses/SMTPAddress'), 'bob@example.com');

  // Not an address: refused, and the one set stays.
  for (const bad of ['bob', 'bob@', 'two words@example.com', `${'x'.repeat(250)}@example.com`, 'bob@example.com\r\nBcc: eve@example.com']) {
    const refused = await putEmail(account.authorization, bad);
    assert.equal(refused.status, 400, bad);
    assert.equal(refused.body.status, 'invalidRequest');
  }
  assert.equal(textAt(await userInformation(client, '16.1'), 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), 'bob@example.com');

  // An app password cannot change it; an empty address clears it.
  const token = await fetch(`${server.url}/api/v1/tokens`, { method: 'POST', headers: { authorization: account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'phone' }) });
  const tokenSecret = ((await token.json()) as { token: string }).token;
  const byToken = await putEmail(`Basic ${Buffer.from(`${account.accountName}:${tokenSecret}`).toString('base64')}`, 'eve@example.com');
  assert.equal(byToken.status, 403);
  const cleared = await putEmail(account.authorization, '');
  assert.deepEqual(cleared.body, { name: account.accountName, reportedEmail: account.accountName });
  assert.equal(textAt(await userInformation(client, '14.1'), 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), account.accountName);
});

// Folder names across faces.

async function davRequest(method: string, path: string, authorization: string, body: string, depth?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { authorization, 'content-type': 'application/xml; charset=utf-8', ...(depth ? { depth } : {}) };
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  return { status: res.status, text: await res.text() };
}

async function davDisplayName(path: string, authorization: string): Promise<string | undefined> {
  const res = await davRequest('PROPFIND', path, authorization, '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:displayname/></d:prop></d:propfind>', '0');
  assert.equal(res.status, 207, res.text);
  return /<(?:\w+:)?displayname>([^<]*)<\/(?:\w+:)?displayname>/.exec(res.text)?.[1];
}

for (const version of versions) {
  test(`Folder names (${version}): an address book made and renamed through CardDAV without a display name shows the same name on every face`, async () => {
    const account = await easAccount(server);
    const client = account.eas(`Rename${version.replace('.', '')}`, { version });
    const path = `/dav/users/${account.accountName}/work-people/`;
    const mkcol = '<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>';
    assert.equal((await davRequest('MKCOL', path, account.authorization, mkcol)).status, 201);
    const first = await client.folders();
    const folder = first.folders.find((f) => f.name === 'work-people');
    assert.ok(folder, `made without a display name, it is named after its path: ${JSON.stringify(first.folders)}`);

    // Renamed on the phone: DAV shows the new name.
    const update = await client.command('FolderUpdate', fh('FolderUpdate', fh('SyncKey', first.key), fh('ServerId', folder.id), fh('ParentId', '0'), fh('DisplayName', 'Work')));
    assert.equal(textAt(update, 'Status'), '1');
    assert.equal(await davDisplayName(path, account.authorization), 'Work');

    // The DAV client removes the display name (and another sets an empty one): the name goes back to the path's, everywhere.
    const patch = (inner: string) => davRequest('PROPPATCH', path, account.authorization, `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:">${inner}</d:propertyupdate>`);
    for (const inner of ['<d:remove><d:prop><d:displayname/></d:prop></d:remove>', '<d:set><d:prop><d:displayname></d:displayname></d:prop></d:set>']) {
      await patch('<d:set><d:prop><d:displayname>Colleagues</d:displayname></d:prop></d:set>');
      assert.equal(await davDisplayName(path, account.authorization), 'Colleagues');
      const removed = await patch(inner);
      assert.equal(removed.status, 207);
      assert.match(removed.text, /HTTP\/1\.1 200 OK/, removed.text);
      assert.equal(await davDisplayName(path, account.authorization), 'work-people', inner);
      const listed = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: account.authorization } });
      const row = ((await listed.json()) as { collections: Array<{ name: string; displayName: string }> }).collections.find((c) => c.name === 'work-people');
      assert.equal(row?.displayName, 'work-people', 'the collection API agrees');
      const again = await client.folders();
      assert.equal(again.folders.find((f) => f.id === folder.id)?.name, 'work-people', 'ActiveSync agrees');
    }
  });
}

// Bodies: RTF (AirSyncBase Body Type 3).

/** MS-OXRTFCP example 1: "{\rtf1\ansi\ansicpg1252\pard hello world}" compressed, as base64 (what clients send). */
const compressedHelloWorld = Buffer.from('2d0000002b0000004c5a4675f1c5c7a703000a0072637067313235423 20af32068656c0900206277 05b06c647d0a800fa0'.replace(/ /g, ''), 'hex').toString('base64');
const rtfBody = (data: string) => asb('Body', asb('Type', '3'), asb('EstimatedDataSize', String(data.length)), asb('Data', data));

async function deviceErrors(authorization: string, deviceId: string): Promise<string[]> {
  const res = await fetch(`${server.url}/api/v1/devices`, { headers: { authorization } });
  const devices = ((await res.json()) as { devices: Array<{ id: string; errors: Array<{ message: string }> }> }).devices;
  return (devices.find((d) => d.id === `eas-${deviceId}`)?.errors ?? []).map((e) => e.message);
}

for (const version of versions) {
  test(`Bodies (${version}): an RTF body keeps its contact or event and becomes its text; one that cannot be read is kept as sent, the item kept and the device's errors say so`, async () => {
    const account = await easAccount(server);
    const deviceId = `Rtf${version.replace('.', '')}`;
    const client = account.eas(deviceId, { version });
    const native = account.native(`native-rtf${version}`);
    const contactsKey = await client.primeSync(account.contacts);
    const calendarKey = await client.primeSync(account.calendar);

    const start = easUtc(3, 9);
    const end = easUtc(3, 10);
    const answer = await client.command(
      'Sync',
      syncBody([
        { collectionId: account.contacts, syncKey: contactsKey, commands: [addCommand('rtf-c1', ...contactData('Rich', 'Text', rtfBody(compressedHelloWorld))), addCommand('rtf-c2', ...contactData('Broken', 'Rtf', rtfBody('bm90IGNvbXByZXNzZWQgcnRm')))] },
        {
          collectionId: account.calendar,
          syncKey: calendarKey,
          commands: [addCommand('rtf-e1', cal('Subject', 'Rich meeting'), cal('StartTime', start), cal('EndTime', end), cal('AllDayEvent', '0'), rtfBody(Buffer.from('{\\rtf1\\ansi Agenda\\par Budget}').toString('base64')))],
        },
      ]),
    );
    const adds = [...all(collectionById(answer, account.contacts), 'Responses/Add'), ...all(collectionById(answer, account.calendar), 'Responses/Add')];
    assert.deepEqual(adds.map((a) => textAt(a, 'Status')), ['1', '1', '1'], toXml(answer));
    const contactIds = new Map(all(collectionById(answer, account.contacts), 'Responses/Add').map((a) => [textAt(a, 'ClientId'), textAt(a, 'ServerId')]));

    const contacts = await native.items(account.contacts);
    assert.match(contacts.get(contactIds.get('rtf-c1') as string)?.data ?? '', /NOTE:hello world/);
    const broken = contacts.get(contactIds.get('rtf-c2') as string)?.data ?? '';
    assert.match(broken, /N:Rtf;Broken;/, 'the item with an unreadable body is kept');
    assert.doesNotMatch(broken, /NOTE/);
    assert.match(broken, /X-SYNCPOINT-EAS-RTF:bm90IGNvbXByZXNzZWQgcnRm\r\n/, 'and so is its body, as sent');
    const events = [...(await native.items(account.calendar)).values()].map((i) => i.data);
    assert.match(events.find((d) => d.includes('Rich meeting')) ?? '', /DESCRIPTION:Agenda\\nBudget/);
    const errors = await deviceErrors(account.authorization, deviceId);
    assert.ok(errors.some((m) => /rtf-c2.*RTF body could not be read.*kept as the client sent it/.test(m)), `the devices page shows it: ${JSON.stringify(errors)}`);

    // A Change whose RTF body cannot be read keeps the body the item had, and the RTF beside it.
    const noted = await native.put(account.contacts, 'noted', vcard('rtf-noted', 'Noted Person', 'NOTE:keep this note\r\n'));
    const pulled = await client.pull(account.contacts, textAt(collectionById(answer, account.contacts), 'SyncKey'));
    const change = await client.sync({ collectionId: account.contacts, syncKey: pulled.key, commands: [changeCommand(noted, ...contactData('Noted', 'Renamed', rtfBody('////')))] });
    assert.equal(maybeText(collectionOf(change), 'Responses/Change/Status'), undefined, `no failure echoed: ${toXml(change)}`);
    const after = (await native.items(account.contacts)).get(noted)?.data ?? '';
    assert.match(after, /N:Renamed;Noted;/);
    assert.match(after, /NOTE:keep this note/);
    assert.match(after, /X-SYNCPOINT-EAS-RTF:\/\/\/\/\r\n/);
  });
}

/** The Body of the item `serverId` among a pull's Adds and Changes, as Type and Data (undefined: none). */
function bodyIn(answers: WbxmlElement[], serverId: string): { type: string; data?: string } | undefined {
  const item = answers.flatMap((a) => [...commandsOf(a, 'Add'), ...commandsOf(a, 'Change')]).filter((c) => textAt(c, 'ServerId') === serverId).pop();
  assert.ok(item, `item ${serverId} is sent`);
  const body = at(item, 'ApplicationData/Body');
  return body && { type: textAt(body, 'Type'), ...(maybeText(body, 'Data') !== undefined ? { data: maybeText(body, 'Data') as string } : {}) };
}

for (const version of versions) {
  test(`Bodies (${version}): an RTF body that cannot be read is kept as sent in contacts, events and their Exceptions, tasks and notes; a device that asks for RTF gets it back, one that asks for text the text or nothing; a CalDAV edit keeps it, a readable body replaces it`, async () => {
    const account = await easAccount(server);
    const deviceId = `Keep${version.replace('.', '')}`;
    const rich = account.eas(deviceId, { version });
    const phone = account.eas(`KeepText${version.replace('.', '')}`, { version });
    const asRtf = [asb('BodyPreference', asb('Type', '3'))];
    const asText = [asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '32768'))];
    const kinds = [account.contacts, account.calendar, account.tasks, account.notes];
    const keys = new Map<string, string>();
    for (const id of kinds) keys.set(id, await rich.primeSync(id, { options: asRtf }));
    // Not RTF, not base64 of RTF: no server can read it, so it is kept as sent.
    const raw = Buffer.from('not an RTF stream at all').toString('base64');
    const start = easUtc(5, 9);
    const end = easUtc(5, 10);
    const firstOccurrence = start;
    const answer = await rich.command('Sync', syncBody([
      { collectionId: account.contacts, syncKey: keys.get(account.contacts) as string, options: asRtf, commands: [addCommand('keep-c', ...contactData('Kept', 'Rich', rtfBody(raw)))] },
      {
        collectionId: account.calendar, syncKey: keys.get(account.calendar) as string, options: asRtf,
        commands: [addCommand('keep-e', cal('Subject', 'Weekly rich'), cal('StartTime', start), cal('EndTime', end), cal('AllDayEvent', '0'),
          asb('Body', asb('Type', '1'), asb('Data', 'series text')),
          cal('Recurrence', cal('Type', '0'), cal('Interval', '1'), cal('Occurrences', '3')),
          cal('Exceptions', cal('Exception', cal('ExceptionStartTime', firstOccurrence), cal('StartTime', easUtc(5, 11)), cal('EndTime', easUtc(5, 12)), rtfBody(raw))))],
      },
      { collectionId: account.tasks, syncKey: keys.get(account.tasks) as string, options: asRtf, commands: [addCommand('keep-t', tasks('Subject', 'Rich task'), rtfBody(raw))] },
      { collectionId: account.notes, syncKey: keys.get(account.notes) as string, options: asRtf, commands: [addCommand('keep-n', notes('Subject', 'Rich note'), rtfBody(raw))] },
    ]));
    const ids = new Map<string, string>();
    for (const id of kinds) {
      const collection = collectionById(answer, id);
      keys.set(id, textAt(collection, 'SyncKey'));
      for (const add of all(collection, 'Responses/Add')) {
        assert.equal(textAt(add, 'Status'), '1', `kept, not refused with Status 6: ${toXml(answer)}`);
        ids.set(id, textAt(add, 'ServerId'));
      }
    }
    const kept = new RegExp(`X-SYNCPOINT-EAS-RTF:${raw.slice(0, 20)}`);
    const native = account.native(`native-keep${version}`);
    for (const id of kinds) {
      const data = (await native.items(id)).get(ids.get(id) as string)?.data ?? '';
      assert.match(data.replace(/\r\n /g, ''), kept, `kept as sent in ${id}: ${data}`);
    }
    const errors = await deviceErrors(account.authorization, deviceId);
    assert.ok(errors.some((m) => /keep-e.*RTF body of an Exception could not be read.*kept as the client sent it/.test(m)), JSON.stringify(errors));

    // Another device that asks for RTF gets each body back as sent (Type 3); one that asks for text gets no body, or the text there is.
    const other = account.eas(`KeepOther${version.replace('.', '')}`, { version });
    for (const id of kinds) {
      const pulled = await other.pull(id, await other.primeSync(id, { options: asRtf }), { options: asRtf });
      assert.deepEqual(bodyIn(pulled.answers, ids.get(id) as string), id === account.calendar ? { type: '1', data: 'series text' } : { type: '3', data: raw }, id);
      if (id === account.calendar) {
        const item = pulled.answers.flatMap((a) => commandsOf(a, 'Add')).find((c) => textAt(c, 'ServerId') === ids.get(id));
        assert.equal(textAt(item, 'ApplicationData/Exceptions/Exception/Body/Type'), '3');
        assert.equal(textAt(item, 'ApplicationData/Exceptions/Exception/Body/Data'), raw);
      }
      const text = await phone.pull(id, await phone.primeSync(id, { options: asText }), { options: asText });
      keys.set(`phone:${id}`, text.key);
      assert.deepEqual(bodyIn(text.answers, ids.get(id) as string), id === account.calendar ? { type: '1', data: 'series text' } : undefined, id);
    }

    // A CalDAV client edits the event (keeping what it does not know, as clients do): the RTF of its exception stays.
    const [object] = (await calendarObjects(server.url, account)).filter((o) => o.ics.includes('Weekly rich'));
    assert.ok(object);
    await putCalendarObject(server.url, account, object, object.ics.replace('SUMMARY:Weekly rich', 'SUMMARY:Weekly rich (CalDAV)'));
    const afterDav = await rich.pull(account.calendar, keys.get(account.calendar) as string, { options: asRtf });
    keys.set(account.calendar, afterDav.key);
    const changed = afterDav.answers.flatMap((a) => commandsOf(a, 'Change')).find((c) => textAt(c, 'ServerId') === ids.get(account.calendar));
    assert.equal(textAt(changed, 'ApplicationData/Subject'), 'Weekly rich (CalDAV)');
    assert.equal(textAt(changed, 'ApplicationData/Exceptions/Exception/Body/Data'), raw, 'the exception body is still as sent');

    // The text phone edits the contact, sending back the (empty) body it was sent: the RTF stays.
    const contactId = ids.get(account.contacts) as string;
    const phoneKey = keys.get(`phone:${account.contacts}`) as string;
    const edit = await phone.sync({ collectionId: account.contacts, syncKey: phoneKey, options: asText, commands: [changeCommand(contactId, ...contactData('Kept', 'Renamed', asb('Body', asb('Type', '1'), asb('Data', ''))))] });
    assert.equal(maybeText(collectionOf(edit), 'Responses/Change/Status'), undefined, toXml(edit));
    let card = (await native.items(account.contacts)).get(contactId)?.data ?? '';
    assert.match(card, /N:Renamed;Kept;/);
    assert.match(card.replace(/\r\n /g, ''), kept);
    // A readable body replaces it.
    const typed = await phone.sync({ collectionId: account.contacts, syncKey: textAt(collectionOf(edit), 'SyncKey'), options: asText, commands: [changeCommand(contactId, ...contactData('Kept', 'Renamed', asb('Body', asb('Type', '1'), asb('Data', 'typed on the phone'))))] });
    assert.equal(maybeText(collectionOf(typed), 'Responses/Change/Status'), undefined, toXml(typed));
    card = (await native.items(account.contacts)).get(contactId)?.data ?? '';
    assert.match(card, /NOTE:typed on the phone/);
    assert.doesNotMatch(card, /X-SYNCPOINT-EAS-RTF/);
  });
}
