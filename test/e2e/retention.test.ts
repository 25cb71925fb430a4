import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import { Hub } from '../../src/hub/hub.js';
import type { ClientCommand, CollectionResponse, SyncRequest } from '../../src/protocol/sync.js';
import { openMemoryReplica } from '../../src/sdk/memory-replica.js';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { SyncClient } from '../../src/sdk/sync-loop.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { sqliteCommitWatcher } from '../support/commit-watcher.js';
import { vcard, vevent } from '../support/server.js';

/**
 * Retention with a clock the test moves: tombstones and superseded history versions go after the
 * horizon, devices behind it re-initialize, and a conflict record outlives its item's tombstone.
 * The hub runs on a real SQLite file; only the clock is the test's.
 */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let now = Date.UTC(2026, 0, 1);
let ids = 0;
const silent = { info: () => undefined, warn: () => undefined, debug: () => undefined };
const store = openSqliteStore(join(dir, 'syncpoint.db'));
const hub = new Hub(store, { clock: { now: () => now }, random: { id: () => `id${++ids}` }, logger: silent });
after(() => store.close());

/** Whether anything committed a change to the hub's database since the last call. */
const databaseChanged = sqliteCommitWatcher(join(dir, 'syncpoint.db'));

/** One exchange as the native face hands it to the hub (faces/native/exchange.ts). */
async function sync(accountId: string, device: string, collectionId: string, syncKey: number, commands: ClientCommand[] = []): Promise<CollectionResponse> {
  const r = await hub.sync(accountId, 'native', { version: 1, device: { id: device }, collections: [{ collectionId, syncKey, commands, keepsIdleKey: true }] });
  return r.collections[0] as CollectionResponse;
}

test('after the horizon: tombstones and superseded versions go, a lagging device re-initializes, a conflict record still restores', async () => {
  const account = await hub.accounts.create('ret', 'unused-hash');
  const contacts = (await hub.accounts.listCollections(account.id)).find((c) => c.name === 'contacts')?.id as string;
  let a = await sync(account.id, 'a', contacts, 0, [{ op: 'add', clientId: 'x', data: vcard('ux', 'X') }]);
  const x = a.results[0]?.serverId as string;
  let b = await sync(account.id, 'b', contacts, 0);
  const lagging = await sync(account.id, 'lagging', contacts, 0);
  a = await sync(account.id, 'a', contacts, a.syncKey, [{ op: 'delete', serverId: x }]);
  b = await sync(account.id, 'b', contacts, b.syncKey, [{ op: 'change', serverId: x, data: vcard('ux', 'X kept') }]);
  assert.equal(b.results[0]?.status, 'conflict');
  const [conflict] = await hub.listConflicts(account.id);
  assert.ok(conflict);

  now += limits.tombstoneRetentionMs + 1;
  assert.equal(await hub.purgeTombstones(), 1);
  const late = await sync(account.id, 'lagging', contacts, lagging.syncKey);
  assert.equal(late.status, 'invalidSyncKey', 'a device behind a purged delete must start over');
  assert.match(late.message ?? '', /retention/);

  const restored = await hub.restoreConflict(account.id, conflict.id);
  assert.equal(restored.itemId, x);
  const fresh = await sync(account.id, 'fresh', contacts, 0);
  assert.deepEqual(fresh.commands.map((c) => [c.op, c.serverId, c.op === 'delete' ? '' : c.data]), [['add', x, vcard('ux', 'X kept')]]);
  b = await sync(account.id, 'b', contacts, b.syncKey);
  assert.deepEqual(b.commands.map((c) => [c.op, c.serverId]), [['add', x]], 'b, which had the delete, gets it as an add');
});

test('an edit answered notFound after the tombstone went, of an item the user deleted meanwhile, is gone for good (sim seed 900502)', async () => {
  const account = await hub.accounts.create('ret-notfound', 'unused-hash');
  const contacts = (await hub.accounts.listCollections(account.id)).find((c) => c.name === 'contacts')?.id as string;
  // The user deletes the item on A while A's edit of it is in flight (between the server's answer and A reading it).
  let deleteWhileInFlight = false;
  const transport = {
    sync: async (request: SyncRequest) => {
      const response = await hub.sync(account.id, 'native', request);
      const sent = request.collections[0]?.commands ?? [];
      if (deleteWhileInFlight && response.collections[0]?.status === 'ok' && sent.some((c) => c.op === 'change')) {
        deleteWhileInFlight = false;
        a.replica.transaction((tx) => recordLocalDelete(tx, contacts, 'x'));
      }
      return response;
    },
    listCollections: () => Promise.reject(new Error('not used')),
    createCollection: () => Promise.reject(new Error('not used')),
  };
  // One command per exchange: an item stuck in the queue blocks every later edit of the device.
  const device = (id: string) => {
    const replica = openMemoryReplica();
    return { replica, client: new SyncClient({ transport, replica, device: { id }, commandsMax: 1 }) };
  };
  const a = device('a');
  const b = device('b');
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X')));
  await a.client.syncCollection(contacts);
  await a.client.syncCollection(contacts);
  await b.client.syncCollection(contacts);
  const onB = b.replica.transaction((tx) => tx.all(contacts)).find((i) => i.data !== null);
  assert.ok(onB);
  b.replica.transaction((tx) => recordLocalDelete(tx, contacts, onB.localId));
  await b.client.syncCollection(contacts);
  // A edits x offline until its tombstone is purged; the server then knows nothing of x.
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X edited')));
  now += limits.tombstoneRetentionMs + 1;
  assert.equal(await hub.purgeTombstones(), 1);
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y')));
  // A re-initializes (its key is behind the purge), then sends its edit of x, answered notFound.
  deleteWhileInFlight = true;
  const summary = await a.client.syncCollection(contacts);
  assert.equal(summary.reinitialized, true);
  assert.equal(deleteWhileInFlight, false, 'the edit of x went out');
  // A later edit is not held up behind x.
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'z', vcard('uz', 'Z')));
  await a.client.syncCollection(contacts);
  const left = a.replica.transaction((tx) => tx.all(contacts)).map((i) => [i.localId, i.pending, i.data === null ? 'no data' : 'data']);
  assert.deepEqual(left, [['y', null, 'data'], ['z', null, 'data']], 'x, edited and then deleted by the user, leaves nothing behind');
  const fresh = await sync(account.id, 'fresh', contacts, 0);
  assert.deepEqual(fresh.commands.map((c) => (c.op === 'delete' ? '' : c.data)).sort(), [vcard('uy', 'Y'), vcard('uz', 'Z')]);
});

test('an add sent again after its item was deleted and the tombstone purged is told the item is gone, not made again (sim seed 1001045)', async () => {
  const account = await hub.accounts.create('ret-ledger', 'unused-hash');
  const contacts = (await hub.accounts.listCollections(account.id)).find((c) => c.name === 'contacts')?.id as string;
  const add: ClientCommand = { op: 'add', clientId: 'x', data: vcard('ux', 'X') };
  let a = await sync(account.id, 'a', contacts, 0);
  // The answer to A's add is lost, and A stays away for longer than tombstones are kept.
  const made = await sync(account.id, 'a', contacts, a.syncKey, [add]);
  const x = made.results[0]?.serverId as string;
  const b = await sync(account.id, 'b', contacts, 0);
  await sync(account.id, 'b', contacts, b.syncKey, [{ op: 'delete', serverId: x }]);
  now += limits.tombstoneRetentionMs + 1;
  assert.equal(await hub.purgeTombstones(), 1);
  // A re-initializes and sends its add again, as the SDK does with a batch that got no answer.
  a = await sync(account.id, 'a', contacts, a.syncKey, [add]);
  assert.equal(a.status, 'invalidSyncKey');
  a = await sync(account.id, 'a', contacts, 0);
  a = await sync(account.id, 'a', contacts, a.syncKey, [add]);
  assert.deepEqual(
    a.results.map((r) => [r.status, r.serverId, r.etag]),
    [['ok', x, undefined]],
  );
  assert.deepEqual(a.commands, [{ op: 'delete', serverId: x }]);
  const fresh = await sync(account.id, 'fresh-ledger', contacts, 0);
  assert.deepEqual(fresh.commands, [], 'the deleted item stays deleted');
});

test('an edit whose answer was lost, deleted elsewhere after it and purged, is not made again when the device comes back (sim seed 3000185)', async () => {
  const account = await hub.accounts.create('ret-lost-edit', 'unused-hash');
  const contacts = (await hub.accounts.listCollections(account.id)).find((c) => c.name === 'contacts')?.id as string;
  // The server applies A's edit, and A never reads the answer (it goes away with the batch still unanswered).
  let loseAnswer = false;
  const transport = {
    sync: async (request: SyncRequest) => {
      const response = await hub.sync(account.id, 'native', request);
      if (loseAnswer) {
        loseAnswer = false;
        throw new Error('the device went away before reading the answer');
      }
      return response;
    },
    listCollections: () => Promise.reject(new Error('not used')),
    createCollection: () => Promise.reject(new Error('not used')),
  };
  const device = (id: string) => {
    const replica = openMemoryReplica();
    return { replica, client: new SyncClient({ transport, replica, device: { id } }) };
  };
  const a = device('a');
  const b = device('b');
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X')));
  await a.client.syncCollection(contacts);
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X edited')));
  loseAnswer = true;
  await assert.rejects(a.client.syncCollection(contacts), /went away/);
  // B receives the edit and deletes it: the delete saw the edit.
  await b.client.syncCollection(contacts);
  const onB = b.replica.transaction((tx) => tx.all(contacts)).find((i) => i.data !== null);
  assert.equal(onB?.data, vcard('ux', 'X edited'));
  b.replica.transaction((tx) => recordLocalDelete(tx, contacts, onB.localId));
  await b.client.syncCollection(contacts);
  now += limits.tombstoneRetentionMs + 1;
  assert.equal(await hub.purgeTombstones(), 1);
  // A comes back: its key is behind the purge, it re-initializes and sends its unanswered edit again.
  const summary = await a.client.syncCollection(contacts);
  assert.equal(summary.reinitialized, true);
  const held = a.replica.transaction((tx) => tx.all(contacts)).filter((i) => i.data !== null || i.pending !== null);
  assert.deepEqual(held, [], 'A holds nothing of x, and has nothing left to send');
  const fresh = await sync(account.id, 'fresh-lost-edit', contacts, 0);
  assert.deepEqual(fresh.commands, [], 'the deleted item stays deleted');
});

/** Device A adds X and edits it; the edit's answer is lost, so A still sends `edit` after re-initializing. */
async function lostEdit(name: string) {
  const account = await hub.accounts.create(name, 'unused-hash');
  const contacts = (await hub.accounts.listCollections(account.id)).find((c) => c.name === 'contacts')?.id as string;
  let a = await sync(account.id, 'a', contacts, 0, []);
  a = await sync(account.id, 'a', contacts, a.syncKey, [{ op: 'add', clientId: 'x', data: vcard('ux', 'X') }]);
  const x = a.results[0]?.serverId as string;
  const edit: ClientCommand = { op: 'change', serverId: x, data: vcard('ux', 'X edited') };
  await sync(account.id, 'a', contacts, a.syncKey, [edit]); // its answer is lost
  return { account, contacts, x, edit };
}

test('a change carrying an earlier version the item held, not its last, is answered ok with the delete too (sim seed 9411434)', async () => {
  const { account, contacts, x, edit } = await lostEdit('ret-earlier-edit');
  // B gets A's edit, edits it again, then deletes the item: the delete saw A's edit.
  let b = await sync(account.id, 'b', contacts, 0);
  b = await sync(account.id, 'b', contacts, b.syncKey, [{ op: 'change', serverId: x, data: vcard('ux', 'X edited by B') }]);
  b = await sync(account.id, 'b', contacts, b.syncKey, [{ op: 'delete', serverId: x }]);
  assert.equal(b.results[0]?.status, 'ok');
  // A re-initializes and sends its unanswered edit: it is not new, so it does not bring the item back.
  let a = await sync(account.id, 'a', contacts, 0);
  a = await sync(account.id, 'a', contacts, a.syncKey, [edit]);
  assert.deepEqual(a.results.map((r) => [r.status, r.serverId]), [['ok', x]]);
  assert.deepEqual(a.commands, [{ op: 'delete', serverId: x }]);
});

test('a change carrying the version a tombstone holds is answered ok with the delete, not notFound (sim seed 3000185)', async () => {
  const { account, contacts, x, edit } = await lostEdit('ret-tombstone-edit');
  let b = await sync(account.id, 'b', contacts, 0);
  b = await sync(account.id, 'b', contacts, b.syncKey, [{ op: 'delete', serverId: x }]);
  assert.equal(b.results[0]?.status, 'ok');
  // A re-initializes (as after an unknown key) and sends its unanswered edit in the next exchange.
  let a = await sync(account.id, 'a', contacts, 0);
  assert.deepEqual(a.commands, []);
  a = await sync(account.id, 'a', contacts, a.syncKey, [edit]);
  assert.deepEqual(a.results.map((r) => [r.status, r.serverId]), [['ok', x]]);
  assert.deepEqual(a.commands, [{ op: 'delete', serverId: x }]);
  // An edit the delete never saw is still answered notFound, and the device keeps it as an item of its own (§5.4).
  a = await sync(account.id, 'a', contacts, a.syncKey, [{ op: 'change', serverId: x, data: vcard('ux', 'X edited again') }]);
  assert.deepEqual(a.results.map((r) => r.status), ['notFound']);
});

test('a device polling a collection that does not change keeps its key and writes nothing, and the key is written anew once a day, so deletes elsewhere purged after 90 days do not expire it', async () => {
  const account = await hub.accounts.create('ret-idle', 'unused-hash');
  const collections = await hub.accounts.listCollections(account.id);
  const contacts = collections.find((c) => c.name === 'contacts')?.id as string;
  const calendar = collections.find((c) => c.name === 'calendar')?.id as string;
  const initial = await sync(account.id, 'poller', contacts, 0);
  // The first exchange after an initial sync is recorded, whatever it carries (docs/protocol.md §5.1).
  const first = await sync(account.id, 'poller', contacts, initial.syncKey);
  assert.equal(first.syncKey, initial.syncKey + 1);
  // The other device's event, deleted a day later: its tombstone raises the account's purge floor past the poller's position.
  let other = await sync(account.id, 'other', calendar, 0, [{ op: 'add', clientId: 'e', data: vevent('ue', 'E') }]);
  now += 3_600_000;
  let polled = await sync(account.id, 'poller', contacts, first.syncKey);
  assert.equal(polled.status, 'ok');
  assert.equal(polled.syncKey, first.syncKey, 'an idle exchange keeps its key');
  databaseChanged();
  now += 30_000;
  polled = await sync(account.id, 'poller', contacts, polled.syncKey);
  assert.equal(polled.syncKey, first.syncKey);
  assert.equal(databaseChanged(), false, 'an idle exchange commits nothing (its last-seen time is less than a minute old)');
  now += 24 * 3_600_000;
  other = await sync(account.id, 'other', calendar, other.syncKey, [{ op: 'delete', serverId: other.results[0]?.serverId as string }]);
  assert.equal(other.results[0]?.status, 'ok');
  // Twice a day for 91 days: one poll in two finds its key a day old and is answered with a new one.
  const keys = new Set<number>();
  for (let half = 0; half < 182; half++) {
    now += 12 * 3_600_000;
    polled = await sync(account.id, 'poller', contacts, polled.syncKey);
    assert.equal(polled.status, 'ok', `poll ${half}: ${polled.message ?? ''}`);
    keys.add(polled.syncKey);
  }
  assert.ok(keys.size >= 90 && keys.size <= 92, `about one new key a day, got ${keys.size} in 91 days`);
  assert.ok((await hub.purgeTombstones()) >= 1, 'the calendar delete is purged');
  polled = await sync(account.id, 'poller', contacts, polled.syncKey);
  assert.equal(polled.status, 'ok', 'the poller was never behind the purge horizon');
});
