import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { memoryStateKey } from '../../src/faces/eas/device-memory.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import {
  collectionOf,
  commandsOf,
  easAccount,
  folderIds,
  NativeDevice,
  pingBody,
  sleep,
  startPing,
  syncBody,
  textAt,
  toXml,
  type EasAccount,
} from '../support/eas-client.js';
import { startPgCluster, withClient, type PgCluster } from '../support/postgres.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, Device } from '../support/sync.js';

/**
 * ActiveSync with two server processes on one PostgreSQL database and no sticky sessions
 * (docs/operations.md § PostgreSQL): a phone's consecutive requests land on either. What an empty Sync or
 * Ping repeats and the loop counters are the device's state in the store (faces/eas/device-memory.ts),
 * so each process answers as the other would have.
 */
let cluster: PgCluster;
let database: string;
let one: TestServer;
let two: TestServer;

before(async () => {
  cluster = await startPgCluster();
  database = await cluster.createDatabase();
  one = await startTestServer({ database });
  two = await startTestServer({ database });
});
after(async () => {
  await one.stop();
  await two.stop();
  cluster.stop();
});

/** The same phone through each process. */
function phone(account: EasAccount, deviceId: string) {
  return { onOne: account.eas(deviceId), onTwo: account.eas(deviceId, { baseUrl: two.url }) };
}

/** The device's stored memory and the transaction that last wrote it (a write makes a new row version). */
async function storedMemory(account: EasAccount, deviceId: string): Promise<{ xmin: string; value: string } | undefined> {
  const { rows } = await withClient(database, (c) =>
    c.query<{ xmin: string; value: string }>('SELECT xmin::text AS xmin, value FROM face_states WHERE account_id = $1 AND device_id = $2 AND key = $3', [account.accountId, `eas-${deviceId}`, memoryStateKey]),
  );
  return rows[0];
}

const serverIds = (collection: WbxmlElement) => commandsOf(collection, 'Add').map((a) => textAt(a, 'ServerId'));

test('an empty Sync on one process repeats the full Sync the phone sent to the other, with the same answer', async () => {
  const account = await easAccount(one);
  const native = account.native('native-processes');
  for (const n of [1, 2, 3]) await native.put(account.contacts, `multi-${n}`, vcard(`multi-${n}`, `Multi ${n}`));
  const { onOne, onTwo } = phone(account, 'Multi1');
  const key = await onOne.primeSync(account.contacts);
  const request = (syncKey: string) => syncBody([{ collectionId: account.contacts, syncKey, windowSize: 2 }]);
  const full = collectionOf(await onOne.command('Sync', request(key)));
  assert.equal(serverIds(full).length, 2, toXml(full));

  const empty = await onTwo.send('Sync');
  assert.equal(empty.status, 200);
  const repeated = collectionOf(empty.body as WbxmlElement);
  assert.equal(textAt(repeated, 'Status'), '1', toXml(empty.body as WbxmlElement));
  assert.notEqual(textAt(repeated, 'SyncKey'), textAt(full, 'SyncKey'), 'it goes on from the key the other process issued');
  assert.equal(serverIds(repeated).length, 1, 'the one item left, in the same window');
  assert.ok(!serverIds(full).includes(serverIds(repeated)[0] as string));
  // The same request sent in full to the first process (a replay of that key) gets the very same answer.
  const inFull = await onOne.send('Sync', request(textAt(full, 'SyncKey')));
  assert.deepEqual(inFull.bytes, empty.bytes);
});

test('an empty Ping on one process repeats the Ping the phone sent to the other, held there; a repeat writes nothing', async () => {
  const account = await easAccount(one);
  const { onOne, onTwo } = phone(account, 'Multi2');
  await onOne.pull(account.contacts, await onOne.primeSync(account.contacts));
  // A full Ping is held on the first process; the phone drops the connection (it moves between networks).
  const held = startPing(onOne, pingBody(45, [[account.contacts, 'Contacts']]));
  await sleep(500);
  assert.equal(held.settled(), false, 'nothing to report: the Ping is held');
  held.abort();
  await held.result.catch(() => undefined);
  const kept = await storedMemory(account, 'Multi2');
  assert.ok(kept, 'the Ping was kept before it was held');

  const empty = startPing(onTwo, undefined);
  await sleep(700);
  assert.equal(empty.settled(), false, 'the empty Ping is held with the parameters sent to the other process');
  await new NativeDevice(two.url, account.accountName, account.password, 'native-ping').put(account.contacts, 'multi-ping', vcard('multi-ping', 'Multi Ping'));
  const woken = await empty.result;
  assert.equal(textAt(woken.body, 'Status'), '2', toXml(woken.body as WbxmlElement));
  assert.deepEqual(folderIds(woken.body as WbxmlElement), [account.contacts]);
  // The change still waits: the same full Ping on either process answers at once, and writes nothing.
  for (const client of [onOne, onTwo]) {
    const again = await client.send('Ping', pingBody(45, [[account.contacts, 'Contacts']]));
    assert.equal(textAt(again.body, 'Status'), '2');
  }
  assert.deepEqual(await storedMemory(account, 'Multi2'), kept, 'an empty or repeated Ping leaves the stored memory as it was');
});

test('loop detection counts a key repeated on both processes as one count: the window narrows as on one process', async () => {
  const account = await easAccount(one);
  const bulk = new Device(two, account.authorization, 'multi-loader');
  await bulk.sync(account.contacts);
  await bulk.sync(account.contacts, { commands: Array.from({ length: 70 }, (_, i) => add(`multi-loop-${i}`, vcard(`multi-loop-${i}`, `Multi Loop ${i}`))) });
  const { onOne, onTwo } = phone(account, 'Multi3');
  const key = await onOne.primeSync(account.contacts);
  const counts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const answer = collectionOf(await (i % 2 === 0 ? onOne : onTwo).sync({ collectionId: account.contacts, syncKey: key, windowSize: 100 }));
    assert.equal(textAt(answer, 'Status'), '1', toXml(answer));
    counts.push(serverIds(answer).length);
  }
  // Windows of 512, 512, 64, 8, 1 (sync-loops.ts), within the 70 items and the 100 asked for.
  assert.deepEqual(counts, [70, 70, 64, 8, 1]);
});
