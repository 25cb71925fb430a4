import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../../src/server/config.js';
import { lowestControl, serverSql } from '../support/database.js';
import { all, as, contacts, cal, easAccount, fh, folderEntries, gie, has, io, maybeText, mv, prov, syncBody, textAt, toXml, type EasAccount } from '../support/eas-client.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/element.js';
import { fromXml } from '../../src/faces/eas/wbxml/xml.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';

/**
 * What one ActiveSync request may cost the server, over real HTTP: memory kept per device, Supported
 * lists, the per-account device limit, Autodiscover's URL, stored names XML cannot carry, and the caps
 * of the WBXML decoder and of each command. The payloads here are the ones docs/eas.md ("Limits") names.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

/** Heap in use after full collections; the server runs in this process. */
function heapUsed(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** `name` with these children, built without spreading them into arguments (there are too many). */
const many = (parent: WbxmlElement, children: WbxmlElement[]): WbxmlElement => ({ ...parent, children: [...parent.children, ...children] });

/** A key 0 Sync of one collection whose Collection also holds `junk` empty GetChanges elements (one byte each on the wire). */
const stuffedSync = (collectionId: string, junk: number) =>
  as('Sync', as('Collections', many(as('Collection', as('SyncKey', '0'), as('CollectionId', collectionId)), Array.from({ length: junk }, () => as('GetChanges')))));

/** A key 0 Sync of one collection listing these properties as Supported. */
const supportedSync = (collectionId: string, listed: WbxmlElement[]) =>
  as('Sync', as('Collections', as('Collection', as('SyncKey', '0'), as('CollectionId', collectionId), many(as('Supported'), listed))));

test('a Sync stuffed with 90,000 elements leaves no more than a few KiB per device in memory, and an empty Sync still repeats it', async () => {
  const account = await easAccount(server);
  const devices = 8;
  const base = heapUsed();
  for (let i = 0; i < devices; i++) {
    const client = account.eas(`Stuffed${i}`);
    const answer = await client.command('Sync', stuffedSync(account.contacts, 90_000));
    assert.equal(textAt(answer, 'Collections/Collection/Status'), '1');
    // The empty Sync repeats the request at the key just issued (a key 0 again would be Status 1 with key 1 only).
    const repeated = await client.command('Sync');
    assert.equal(textAt(repeated, 'Collections/Collection/Status'), '1', toXml(repeated));
    assert.equal(textAt(repeated, 'Collections/Collection/CollectionId'), account.contacts);
    assert.equal(Number(textAt(repeated, 'Collections/Collection/SyncKey')), Number(textAt(answer, 'Collections/Collection/SyncKey')) + 1);
  }
  const grownMiB = (heapUsed() - base) / 1024 / 1024;
  // The whole tree was kept before: about 8 MiB per device here.
  assert.ok(grownMiB < devices, `the heap grew ${grownMiB.toFixed(1)} MiB for ${devices} devices`);
});

test('an empty Sync repeats only the compact part: keys, window, filter and body preference, never commands', async () => {
  const account = await easAccount(server);
  const client = account.eas('Compact1');
  const key = textAt(await client.command('Sync', syncBody([{ collectionId: account.contacts, syncKey: '0' }])), 'Collections/Collection/SyncKey');
  const full = syncBody([{ collectionId: account.contacts, syncKey: key, windowSize: 7, commands: [as('Add', as('ClientId', 'c1'), as('ApplicationData', contacts('FirstName', 'Ann')))] }]);
  const first = await client.command('Sync', full);
  assert.equal(textAt(first, 'Collections/Collection/Responses/Add/Status'), '1');
  const repeated = await client.command('Sync');
  const collection = at(repeated);
  assert.equal(textAt(collection, 'Status'), '1');
  assert.equal(all(collection, 'Responses/Add').length, 0, 'the Add is not applied or answered again');
  assert.notEqual(textAt(collection, 'SyncKey'), key);
});

const at = (answer: WbxmlElement) => {
  const c = all(answer, 'Collections/Collection')[0];
  assert.ok(c, toXml(answer));
  return c;
};

async function storedSettings(account: EasAccount, deviceId: string): Promise<Record<string, { supported?: string[]; filter?: string }>> {
  const raw = await server.hub.readFaceState(account.accountId, `eas-${deviceId}`, 'eas.collections');
  return raw ? JSON.parse(raw) : {};
}

test('Supported keeps only the class\'s own property names, once each; more than 256 children is Status 4 and nothing is kept', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ghost1');
  const listed = [
    ...Array.from({ length: 200 }, () => contacts('FirstName')),
    contacts('LastName'),
    cal('Subject'), // not a contact property
    as('Class'), // not a property at all
    contacts('Email1Address'),
    contacts('LastName'),
  ];
  assert.equal(textAt(await client.command('Sync', supportedSync(account.contacts, listed)), 'Collections/Collection/Status'), '1');
  assert.deepEqual((await storedSettings(account, 'Ghost1'))[account.contacts]?.supported, ['Contacts:FirstName', 'Contacts:LastName', 'Contacts:Email1Address']);

  // The payload that was stored whole before: 99,000 names in one request.
  const refused = await client.command('Sync', supportedSync(account.calendar, Array.from({ length: 99_000 }, () => contacts('FirstName'))));
  assert.equal(textAt(refused, 'Collections/Collection/Status'), '4');
  assert.equal((await storedSettings(account, 'Ghost1'))[account.calendar], undefined);
  const justOver = supportedSync(account.calendar, Array.from({ length: 257 }, () => cal('Subject')));
  assert.equal(textAt(await client.command('Sync', justOver), 'Collections/Collection/Status'), '4');
  const atLimit = supportedSync(account.calendar, Array.from({ length: 256 }, () => cal('Subject')));
  assert.equal(textAt(await client.command('Sync', atLimit), 'Collections/Collection/Status'), '1');
  assert.deepEqual((await storedSettings(account, 'Ghost1'))[account.calendar]?.supported, ['Calendar:Subject']);
});

test('a FilterType that is not one digit is Status 4 and is not stored', async () => {
  const account = await easAccount(server);
  const client = account.eas('Filter1');
  const body = syncBody([{ collectionId: account.calendar, syncKey: '0', options: [as('FilterType', '9'.repeat(10_000))] }]);
  assert.equal(textAt(await client.command('Sync', body), 'Collections/Collection/Status'), '4');
  assert.deepEqual(await storedSettings(account, 'Filter1'), {});
});

test('a collection name holding NUL (U+0001 on PostgreSQL) and ESC, stored before names were checked, is sent as U+FFFD instead of failing every FolderSync', async () => {
  const account = await easAccount(server);
  await serverSql(server, 'UPDATE collections SET display_name = ? WHERE id = ?', [`Team${lowestControl(server)}cal\u001bendar`, account.calendar]);
  const client = account.eas('Nul1');
  const res = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')));
  assert.equal(res.status, 200, res.text);
  assert.ok(res.body);
  const folder = folderEntries(res.body, 'Add').find((f) => f.id === account.calendar);
  assert.equal(folder?.name, 'Team\uFFFDcal\uFFFDendar');
  // What a client makes of it is well-formed XML.
  assert.doesNotThrow(() => fromXml(toXml(res.body as WbxmlElement)));
});

test('the WBXML decoder refuses more than 100,000 nodes with 400 before building the tree', async () => {
  const account = await easAccount(server);
  const client = account.eas('Nodes1');
  const res = await client.send('Sync', stuffedSync(account.contacts, 100_000));
  assert.equal(res.status, 400);
  assert.match(res.text, /malformed WBXML: more than 100000 nodes/);
});

test('GetItemEstimate over 64 collections is a top-level Status 2; MoveItems past 512 moves fail one by one with Status 5', async () => {
  const account = await easAccount(server);
  const client = account.eas('Caps1');
  const collections = Array.from({ length: 65 }, () => gie('Collection', as('SyncKey', '1'), gie('CollectionId', account.contacts)));
  const estimate = await client.command('GetItemEstimate', gie('GetItemEstimate', gie('Collections', ...collections)));
  assert.equal(textAt(estimate, 'Status'), '2');
  assert.equal(all(estimate, 'Response').length, 0);

  const moves = Array.from({ length: 513 }, (_, i) => mv('Move', mv('SrcMsgId', `missing-${i}`), mv('SrcFldId', 'nope'), mv('DstFldId', account.calendar)));
  const moved = await client.command('MoveItems', mv('MoveItems', ...moves));
  const responses = all(moved, 'Response');
  assert.equal(responses.length, 513, 'every Move is answered');
  assert.equal(maybeText(responses[511], 'Status'), '1', 'the 512th was tried: no such source folder');
  assert.equal(maybeText(responses[512], 'Status'), '5', 'the 513th was not tried');
  assert.equal(maybeText(responses[512], 'SrcMsgId'), 'missing-512');
});

test('Provision names an unknown policy type back cut short, never the whole body', async () => {
  const account = await easAccount(server);
  const answer = await account.eas('Prov1').command('Provision', prov('Provision', prov('Policies', prov('Policy', prov('PolicyType', 'x'.repeat(500_000))))));
  assert.equal(textAt(answer, 'Policies/Policy/Status'), '3');
  assert.ok(textAt(answer, 'Policies/Policy/PolicyType').length <= 64);
});

test('Autodiscover names the listening address or the configured public URL, never the Host or X-Forwarded-Proto a request sends', async () => {
  const discover = (target: TestServer, account: EasAccount) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL('/autodiscover/autodiscover.xml', target.url);
      const body = `<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>${account.accountName}@example.org</EMailAddress></Request></Autodiscover>`;
      const req = request(url, { method: 'POST', headers: { host: 'evil.example', 'x-forwarded-proto': 'https', authorization: account.authorization, 'content-type': 'text/xml' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(body);
    });
  const account = await easAccount(server);
  const answer = await discover(server, account);
  assert.ok(answer.includes(`<Url>${server.url}/Microsoft-Server-ActiveSync</Url>`), answer);
  assert.ok(!answer.includes('evil.example'), answer);

  const configured = await startTestServer({ publicUrl: 'https://sync.example.com' });
  try {
    const elsewhere = await easAccount(configured);
    const text = await discover(configured, elsewhere);
    assert.ok(text.includes('<Url>https://sync.example.com/Microsoft-Server-ActiveSync</Url>'), text);
  } finally {
    await configured.stop();
  }
});

test('a new DeviceId past easDevicesMax gets Status 177 (MaximumDevicesReached) in every command, and nothing of it is stored', async () => {
  const limited = await startTestServer({ easDevicesMax: 2 });
  try {
    const account = await easAccount(limited);
    for (const id of ['Dev1', 'Dev2']) assert.equal(textAt(await account.eas(id).folderSync('0'), 'Status'), '1');
    const third = account.eas('Dev3');
    assert.equal(textAt(await third.folderSync('0'), 'Status'), '177');
    assert.equal(textAt(await third.command('Sync', syncBody([{ collectionId: account.contacts, syncKey: '0' }])), 'Status'), '177');
    assert.equal(textAt(await third.command('Provision', prov('Provision', prov('Policies', prov('Policy', prov('PolicyType', 'MS-EAS-Provisioning-WBXML'))))), 'Status'), '177');
    assert.equal(textAt(await third.command('GetItemEstimate', gie('GetItemEstimate', gie('Collections'))), 'Status'), '177');
    const move = await third.send('MoveItems', mv('MoveItems'));
    assert.equal(move.status, 403);
    assert.match(move.text, /already has 2 ActiveSync devices/);
    const devices = (await limited.hub.listDeviceHealth(account.accountId)).map((h) => h.device.id).sort();
    assert.deepEqual(devices, ['eas-Dev1', 'eas-Dev2']);
    assert.equal(await limited.hub.readFaceState(account.accountId, 'eas-Dev3', 'eas.folders'), undefined);
    // Known devices go on, other accounts have limits of their own, and a removed device frees its place.
    assert.equal(textAt(await account.eas('Dev1').folderSync('0'), 'Status'), '1');
    const other = await easAccount(limited);
    assert.equal(textAt(await other.eas('Dev3').folderSync('0'), 'Status'), '1');
    await limited.hub.revokeDevice(account.accountId, 'eas-Dev1');
    assert.equal(textAt(await third.folderSync('0'), 'Status'), '1');

    // Newcomers in parallel cannot pass the limit together.
    const crowd = await easAccount(limited);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => crowd.eas(`Crowd${i}`).folderSync('0')));
    assert.equal(answers.filter((a) => textAt(a, 'Status') === '1').length, 2);
    assert.equal(answers.filter((a) => textAt(a, 'Status') === '177').length, 4);
    assert.equal((await limited.hub.listDeviceHealth(crowd.accountId)).length, 2);
  } finally {
    await limited.stop();
  }
});

test('configuration: publicUrl is an http(s) origin without a path, easDevicesMax a positive integer', () => {
  assert.equal(loadConfig({ publicUrl: 'https://sync.example.com' }, {}).publicUrl, 'https://sync.example.com');
  assert.equal(loadConfig({}, {}).publicUrl, '');
  assert.throws(() => loadConfig({ publicUrl: 'https://sync.example.com/dav' }, {}), /publicUrl: expected an http:\/\/ or https:\/\/ origin/);
  assert.throws(() => loadConfig({}, { SYNCPOINT_PUBLIC_URL: 'javascript:alert(1)' }), /publicUrl/);
  assert.equal(loadConfig({}, {}).easDevicesMax, 100);
  assert.equal(loadConfig({}, { SYNCPOINT_EAS_DEVICES_MAX: '3' }).easDevicesMax, 3);
  assert.throws(() => loadConfig({ easDevicesMax: 0 }, {}), /easDevicesMax/);
});

test('ItemOperations carries at most 8 MiB of item data: further Fetches get Status 11 without being converted', async () => {
  const account = await easAccount(server);
  const serverId = await account.native('big-writer').put(account.contacts, 'big', vcard('big', 'Big Note', `NOTE:${'x'.repeat(400_000)}\r\n`));
  const fetch = () => io('Fetch', io('Store', 'Mailbox'), as('CollectionId', account.contacts), as('ServerId', serverId));
  const answer = await account.eas('Fetch1').command('ItemOperations', io('ItemOperations', ...Array.from({ length: 30 }, fetch)));
  const statuses = all(answer, 'Response/Fetch').map((f) => textAt(f, 'Status'));
  assert.equal(statuses.length, 30);
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill('1'));
  assert.deepEqual(statuses.slice(20), Array(10).fill('11'));
  assert.ok(answer && Buffer.byteLength(toXml(answer)) < 9 * 1024 * 1024);
});

test('a Sync reads at most 32 Fetches and carries at most 8 MiB of fetched data; the rest get Status 16 (retry)', async () => {
  const account = await easAccount(server);
  const serverId = await account.native('fetch-writer').put(account.contacts, 'big', vcard('big', 'Big Note', `NOTE:${'x'.repeat(400_000)}\r\n`));
  const client = account.eas('SyncFetch1');
  const key = await client.primeSync(account.contacts);
  // 200 Fetches of a 400 KB item in a 4 KB request made an 80 MB answer.
  const fetches = Array.from({ length: 200 }, () => as('Fetch', as('ServerId', serverId)));
  const answer = await client.command('Sync', syncBody([{ collectionId: account.contacts, syncKey: key, getChanges: false, commands: fetches }]));
  const statuses = all(at(answer), 'Responses/Fetch').map((f) => textAt(f, 'Status'));
  assert.equal(statuses.length, 200);
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill('1'), 'what fits in 8 MiB');
  assert.deepEqual(statuses.slice(20), Array(180).fill('16'), 'past 8 MiB, and past 32 Fetches');
  assert.equal(all(at(answer), 'Responses/Fetch').filter((f) => has(f, 'ApplicationData')).length, 20);
});
