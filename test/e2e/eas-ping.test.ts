import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  collectionOf,
  commandsOf,
  easAccount,
  folderIds,
  pingBody,
  sleep,
  startPing,
  textAt,
  toXml,
  type EasClient,
} from '../support/eas-client.js';
import { recordLocalPut } from '../../src/sdk/replica.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';

/**
 * Ping held as an idle socket: woken by a native device's change, bounded heartbeats, the empty Ping,
 * a newer Ping ending the older, changes already waiting, unknown folders, and no sync state moved.
 * Heartbeats are never waited out (the shortest is 30 s); expiry is seen through a replaced Ping.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});


/** A client whose contacts (and calendar) are in step, so nothing is waiting for it. */
async function inStep(client: EasClient, ...collectionIds: string[]): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const id of collectionIds) keys.set(id, (await client.pull(id, await client.primeSync(id))).key);
  return keys;
}

test('a held Ping is answered by a native change to a watched folder, and the change still comes by Sync', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ping1');
  const native = account.native('native-ping1');
  await native.items(account.contacts);
  const keys = await inStep(client, account.contacts, account.calendar);
  const held = startPing(client, pingBody(60, [[account.contacts, 'Contacts'], [account.calendar, 'Calendar']]));
  await sleep(1000);
  assert.equal(held.settled(), false, 'a Ping with nothing to report is held');

  // A change to a folder the Ping does not watch does not wake it.
  await account.native('native-ping1-notes').put(account.notes, 'unwatched', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VJOURNAL\r\nUID:unwatched\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Unwatched\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n');
  await sleep(300);
  assert.equal(held.settled(), false, 'a change elsewhere does not answer it');

  // The native device's one exchange that commits the change; the Ping answer follows the commit.
  native.device.replica.transaction((tx) => recordLocalPut(tx, account.contacts, 'pinged', vcard('pinged', 'Pinged Person')));
  const writing = performance.now();
  const syncing = native.device.client.syncCollection(account.contacts);
  const res = await held.result;
  const answered = performance.now();
  await syncing;
  const written = performance.now();
  const serverId = native.device.replica.transaction((tx) => tx.get(account.contacts, 'pinged')?.serverId);
  assert.ok(serverId);
  assert.equal(res.status, 200);
  const answer = res.body as WbxmlElement;
  assert.equal(textAt(answer, 'Status'), '2', toXml(answer));
  assert.deepEqual(folderIds(answer), [account.contacts]);
  console.log(`Ping latency: answered ${(answered - writing).toFixed(1)} ms after the native device's sync request started (that request took ${(written - writing).toFixed(1)} ms)`);
  assert.ok(answered - writing < 2000, 'answered promptly');

  // Ping moved no sync state: the Sync with the key held before the Ping brings the change.
  const sync = collectionOf(await client.sync({ collectionId: account.contacts, syncKey: keys.get(account.contacts) as string }));
  assert.equal(textAt(sync, 'Status'), '1');
  assert.deepEqual(commandsOf(sync, 'Add').map((a) => textAt(a, 'ServerId')), [serverId]);
});

test('heartbeats out of bounds are Status 5 with the bound: 10 → 30, 4000 → 3540', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ping2');
  for (const [asked, bound] of [
    [10, '30'],
    [29, '30'],
    [4000, '3540'],
  ] as const) {
    const res = await client.send('Ping', pingBody(asked, [[account.contacts, 'Contacts']]));
    assert.ok(res.elapsedMs < 1000, 'answered at once');
    const answer = res.body as WbxmlElement;
    assert.equal(textAt(answer, 'Status'), '5', `heartbeat ${asked}: ${toXml(answer)}`);
    assert.equal(textAt(answer, 'HeartbeatInterval'), bound);
  }
  const syntax = await client.command('Ping', pingBody(undefined, [[account.contacts, 'Contacts']]));
  assert.equal(textAt(syntax, 'Status'), '3', 'no heartbeat and none remembered');
});

test('an empty Ping repeats the last parameters; with none before it, Status 3', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ping3');
  const native = account.native('native-ping3');
  await native.items(account.contacts);
  const first = await client.command('Ping');
  assert.equal(textAt(first, 'Status'), '3');
  const keys = await inStep(client, account.contacts);

  // A full Ping, replaced at once by the next one (the device reconnecting), sets the parameters.
  const full = startPing(client, pingBody(45, [[account.contacts, 'Contacts']]));
  await sleep(300);
  const empty = startPing(client, undefined);
  const replaced = await full.result;
  assert.equal(textAt(replaced.body, 'Status'), '1', 'the older Ping ends with "nothing changed"');
  await sleep(700);
  assert.equal(empty.settled(), false, 'the empty Ping is held with the remembered parameters');
  const serverId = await native.put(account.contacts, 'empty-ping', vcard('empty-ping', 'Empty Ping'));
  const res = await empty.result;
  assert.equal(textAt(res.body, 'Status'), '2', toXml(res.body as WbxmlElement));
  assert.deepEqual(folderIds(res.body as WbxmlElement), [account.contacts]);
  const sync = collectionOf(await client.sync({ collectionId: account.contacts, syncKey: keys.get(account.contacts) as string }));
  assert.deepEqual(commandsOf(sync, 'Add').map((a) => textAt(a, 'ServerId')), [serverId]);

  // A Ping with only a heartbeat keeps the remembered folders too; with changes waiting, it answers at once.
  await native.put(account.contacts, 'empty-ping-2', vcard('empty-ping-2', 'Empty Ping Two'));
  const partial = await client.send('Ping', pingBody(60, []));
  assert.ok(partial.elapsedMs < 1000);
  assert.equal(textAt(partial.body, 'Status'), '2');
  assert.deepEqual(folderIds(partial.body as WbxmlElement), [account.contacts]);
});

test('a second Ping from the same device answers the first with Status 1; another device\'s Ping is separate', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ping4');
  const other = account.eas('Ping5');
  await inStep(client, account.contacts);
  await inStep(other, account.contacts);
  const first = startPing(client, pingBody(300, [[account.contacts, 'Contacts']]));
  const theirs = startPing(other, pingBody(300, [[account.contacts, 'Contacts']]));
  await sleep(500);
  assert.equal(first.settled(), false);
  const second = startPing(client, pingBody(300, [[account.contacts, 'Contacts']]));
  const started = performance.now();
  const res = await first.result;
  assert.ok(performance.now() - started < 1000, 'the older Ping ends at once');
  assert.equal(textAt(res.body, 'Status'), '1', toXml(res.body as WbxmlElement));
  await sleep(300);
  assert.equal(second.settled(), false, 'the newer one is held');
  assert.equal(theirs.settled(), false, 'another device\'s Ping is not touched');

  // One change wakes both devices.
  await account.native('native-ping4').put(account.contacts, 'both', vcard('both', 'Both Woken'));
  assert.equal(textAt((await second.result).body, 'Status'), '2');
  assert.equal(textAt((await theirs.result).body, 'Status'), '2');
});

test('a Ping with changes already waiting answers at once with Status 2 naming only those folders', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ping6');
  await inStep(client, account.contacts, account.calendar);
  const native = account.native('native-ping6');
  await native.put(account.calendar, 'waiting', vevent('waiting', 'Waiting Event'));
  const res = await client.send('Ping', pingBody(120, [[account.contacts, 'Contacts'], [account.calendar, 'Calendar']]));
  assert.ok(res.elapsedMs < 1000, `answered after ${res.elapsedMs} ms`);
  assert.equal(textAt(res.body, 'Status'), '2');
  assert.deepEqual(folderIds(res.body as WbxmlElement), [account.calendar]);
  // Asking again still finds it: Ping is not an acknowledgement.
  const again = await client.send('Ping', pingBody(120, [[account.calendar, 'Calendar']]));
  assert.equal(textAt(again.body, 'Status'), '2');
});

test('a Ping naming an unknown folder (or another account\'s) is Status 7', async () => {
  const account = await easAccount(server);
  const stranger = await easAccount(server);
  const client = account.eas('Ping7');
  for (const folder of ['no-such-folder', stranger.contacts]) {
    const res = await client.send('Ping', pingBody(60, [[account.contacts, 'Contacts'], [folder, 'Contacts']]));
    assert.ok(res.elapsedMs < 1000);
    assert.equal(textAt(res.body, 'Status'), '7', `${folder}: ${toXml(res.body as WbxmlElement)}`);
  }
});

test('a client that hangs up frees its Ping; the next Ping is held again', async () => {
  const account = await easAccount(server);
  const client = account.eas('Ping8');
  await inStep(client, account.contacts);
  const before = await (await fetch(`${server.url}/health`)).json();
  const held = startPing(client, pingBody(60, [[account.contacts, 'Contacts']]));
  await sleep(300);
  const during = (await (await fetch(`${server.url}/health`)).json()) as { pushChannels: number };
  assert.equal(during.pushChannels, (before as { pushChannels: number }).pushChannels + 1, 'the Ping holds one channel');
  held.abort();
  await held.result.catch(() => undefined);
  let after = during.pushChannels;
  for (let i = 0; i < 50 && after !== (before as { pushChannels: number }).pushChannels; i++) {
    await sleep(20);
    after = ((await (await fetch(`${server.url}/health`)).json()) as { pushChannels: number }).pushChannels;
  }
  assert.equal(after, (before as { pushChannels: number }).pushChannels, 'the channel is released when the client hangs up');
});
