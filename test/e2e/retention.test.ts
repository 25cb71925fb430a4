import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import { Hub } from '../../src/hub/hub.js';
import type { ClientCommand, CollectionResponse } from '../../src/protocol/sync.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { vcard } from '../support/server.js';

/**
 * Retention with a clock the test moves: tombstones and superseded history versions go after the
 * horizon, devices behind it re-initialize, and a conflict record outlives its item's tombstone.
 * The hub runs on a real SQLite file; only the clock is the test's.
 */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let now = Date.UTC(2026, 0, 1);
let ids = 0;
const silent = { info: () => undefined, warn: () => undefined };
const store = openSqliteStore(join(dir, 'syncpoint.db'));
const hub = new Hub(store, { clock: { now: () => now }, random: { id: () => `id${++ids}` }, logger: silent });
after(() => store.close());

async function sync(accountId: string, device: string, collectionId: string, syncKey: number, commands: ClientCommand[] = []): Promise<CollectionResponse> {
  const r = await hub.sync(accountId, 'native', { version: 1, device: { id: device }, collections: [{ collectionId, syncKey, commands }] });
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
