import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openMemoryReplica } from '../memory-replica.js';
import { openSqliteReplica } from './sqlite-replica.js';
import { newLocalItem, recordLocalDelete, recordLocalPut, type Replica } from '../replica.js';

/**
 * The memory replica must behave as the SQLite one does, so every case runs against both; the sync
 * loop cannot tell them apart.
 */
const work = mkdtempSync(join(tmpdir(), 'syncpoint-replica-'));
after(() => rmSync(work, { recursive: true, force: true }));

let files = 0;
const backends: Array<[string, () => Replica]> = [
  ['memory', openMemoryReplica],
  ['sqlite', () => openSqliteReplica(join(work, `replica-${++files}.db`))],
];

const c = 'contacts';
const localIds = (replica: Replica, read: 'all' | 'pending') =>
  replica.transaction((tx) => (read === 'all' ? tx.all(c) : tx.pending(c, 100)).map((i) => i.localId));

for (const [name, open] of backends) {
  describe(`${name} replica`, () => {
    test('putNew puts an item under a free local id, and refuses a taken one without touching its row', () => {
      const replica = open();
      replica.transaction((tx) => {
        recordLocalPut(tx, c, 'a', 'A');
        assert.equal(tx.putNew(c, newLocalItem('a', { serverId: 's-a', data: 'other', etag: 'e' })), false);
        assert.equal(tx.putNew(c, newLocalItem('b', { serverId: 's-b', data: 'B', etag: 'e-b' })), true);
        assert.equal(tx.putNew('other', newLocalItem('a', { serverId: 's-x', data: 'X', etag: 'e-x' })), true, 'local ids are per collection');
        recordLocalPut(tx, c, 'c', 'C');
        assert.equal(tx.putNew(c, newLocalItem('d', { data: 'D', pending: 'add' })), true);
      });
      replica.transaction((tx) => {
        assert.deepEqual(tx.get(c, 'a'), newLocalItem('a', { data: 'A', pending: 'add' }));
        assert.deepEqual(tx.byServerId(c, 's-b'), newLocalItem('b', { serverId: 's-b', data: 'B', etag: 'e-b' }));
      });
      // A pending item put new takes its place in the queue after the edits made before it.
      assert.deepEqual(localIds(replica, 'pending'), ['a', 'c', 'd']);
    });

    test('a transaction body that throws leaves no trace', () => {
      const replica = open();
      replica.transaction((tx) => {
        recordLocalPut(tx, c, 'a', 'A1');
        tx.put(c, newLocalItem('b', { serverId: 's-b', data: 'B1', etag: 'e-b' }));
        tx.setSyncKey(c, 3);
      });
      const before = replica.transaction((tx) => ({ key: tx.syncKey(c), all: tx.all(c), pending: tx.pending(c, 10) }));
      assert.throws(
        () =>
          replica.transaction((tx) => {
            recordLocalPut(tx, c, 'a', 'A2');
            tx.remove(c, 'b');
            recordLocalPut(tx, c, 'new', 'N');
            tx.setSyncKey(c, 4);
            tx.setSyncKey('other', 9);
            tx.markStale(c);
            throw new Error('boom');
          }),
        /boom/,
      );
      const afterThrow = replica.transaction((tx) => ({ key: tx.syncKey(c), all: tx.all(c), pending: tx.pending(c, 10) }));
      assert.deepEqual(afterThrow, before);
      assert.equal(replica.transaction((tx) => tx.syncKey('other')), 0);
      // The queue order survives the rollback too: a later edit still goes after the earlier ones.
      replica.transaction((tx) => recordLocalPut(tx, c, 'later', 'L'));
      assert.deepEqual(localIds(replica, 'pending'), ['a', 'later']);
      replica.close();
    });

    test('pending is oldest edit first; a write that changes neither data nor pending keeps the place', () => {
      const replica = open();
      replica.transaction((tx) => {
        recordLocalPut(tx, c, 'z', 'Z');
        recordLocalPut(tx, c, 'y', 'Y');
        recordLocalPut(tx, c, 'x', 'X');
      });
      replica.transaction((tx) => tx.put(c, { ...(tx.get(c, 'z') as NonNullable<ReturnType<typeof tx.get>>), appState: 'seen' }));
      assert.deepEqual(localIds(replica, 'pending'), ['z', 'y', 'x']);
      replica.transaction((tx) => recordLocalPut(tx, c, 'z', 'Z2'));
      assert.deepEqual(localIds(replica, 'pending'), ['y', 'x', 'z']);
      assert.deepEqual(replica.transaction((tx) => tx.pending(c, 2).map((i) => i.localId)), ['y', 'x']);
      replica.transaction((tx) => tx.put(c, { ...(tx.get(c, 'y') as NonNullable<ReturnType<typeof tx.get>>), rejected: 'invalidItem: no' }));
      assert.deepEqual(localIds(replica, 'pending'), ['x', 'z'], 'a refused version waits for the next edit');
      assert.deepEqual(localIds(replica, 'all'), ['x', 'y', 'z'], 'all() is by local id');
      replica.close();
    });

    test('lookups by server id, deletes, stale marking and dropping', () => {
      const replica = open();
      replica.transaction((tx) => {
        tx.put(c, newLocalItem('clean', { serverId: 's1', data: 'C', etag: 'e1' }));
        tx.put(c, newLocalItem('edited', { serverId: 's2', data: 'E', etag: 'e2', pending: 'change' }));
        tx.put(c, newLocalItem('gone', { serverId: 's3', data: 'G', etag: 'e3' }));
        recordLocalPut(tx, c, 'unsent', 'U');
      });
      assert.equal(replica.transaction((tx) => tx.byServerId(c, 's2')?.localId), 'edited');
      assert.equal(replica.transaction((tx) => tx.byServerId(c, 'nope')), undefined);
      replica.transaction((tx) => {
        recordLocalDelete(tx, c, 'unsent');
        recordLocalDelete(tx, c, 'gone');
      });
      assert.deepEqual(localIds(replica, 'all'), ['clean', 'edited', 'gone'], 'an item the server never saw is just dropped');
      assert.equal(replica.transaction((tx) => tx.get(c, 'gone')?.pending), 'delete');

      replica.transaction((tx) => tx.markStale(c));
      const stale = replica.transaction((tx) => tx.all(c).filter((i) => i.stale).map((i) => i.localId));
      assert.deepEqual(stale, ['clean'], 'only clean, present items are marked');
      replica.transaction((tx) => tx.dropStale(c));
      const clean = replica.transaction((tx) => tx.get(c, 'clean'));
      const { data, etag, serverId } = clean ?? {};
      assert.deepEqual({ data, etag, stale: clean?.stale, serverId }, { data: null, etag: null, stale: false, serverId: 's1' });
      replica.close();
    });

    test('items handed out are copies, and bodies may not be async', () => {
      const replica = open();
      replica.transaction((tx) => recordLocalPut(tx, c, 'a', 'A'));
      const item = replica.transaction((tx) => tx.get(c, 'a'));
      assert.ok(item);
      item.data = 'mutated';
      assert.equal(replica.transaction((tx) => tx.get(c, 'a')?.data), 'A');
      assert.throws(() => replica.transaction(async (tx) => recordLocalPut(tx, c, 'b', 'B')));
      assert.equal(replica.transaction((tx) => tx.get(c, 'b')), undefined);
      replica.close();
      assert.throws(() => replica.transaction((tx) => tx.syncKey(c)));
    });
  });
}
