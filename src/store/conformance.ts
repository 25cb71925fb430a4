import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { limits } from '../core/limits.js';
import { displacedId } from '../protocol/server-point.js';
import type { AccountRow, ChangeQuery, ChangeRow, CollectionRow, ConflictRow, DeviceRow, ItemRow, MailPartRow, MailSendRow, MemberQuery, PushTicketRow, PushTokenIssue, PushTokenRow, Store, StoreOptions, StoreTx, SyncStateRow, UpstreamCollectionRow, UpstreamRow } from './store.js';

/**
 * The storage contract of store.ts as tests, for every backend: a backend's own test file calls
 * storeConformance with a way to open a fresh, empty store. Only the Store and StoreTx interfaces are
 * used here, so what passes for one backend means the same for every other.
 */
export interface StoreUnderTest {
  store: Store;
  /** Closes the store and removes what `open` made (a file, a database). */
  close(): Promise<void>;
  /** Makes the connection the current transaction runs on die (undefined: the backend has none). */
  breakConnection?: (() => Promise<void>) | undefined;
  /** Closes the store and opens what it stored again with `options`, as a server restart does; `store` is then the new one. */
  reopen(options: StoreOptions): Promise<Store>;
}

// Epoch milliseconds as the hub writes them: larger than 2^32, so a backend that truncates or returns them as strings fails.
const T0 = 1_765_000_000_000;
const A = 'acct-a';
const B = 'acct-b';
const cA = 'coll-a';
const cA2 = 'coll-a2';
const cB = 'coll-b';
const phone = 'phone';
const laptop = 'laptop';

const accountRow = (id: string, name: string): AccountRow => ({ id, name, passwordHash: `hash-${id}`, createdAt: T0, credentialEpoch: 0, email: null });
const collectionRow = (accountId: string, id: string, name: string, over: Partial<CollectionRow> = {}): CollectionRow => ({
  id,
  accountId,
  name,
  kind: 'contacts',
  displayName: name,
  color: null,
  description: null,
  createdAt: T0,
  calendarId: null,
  ...over,
});
const deviceRow = (accountId: string, id: string, over: Partial<DeviceRow> = {}): DeviceRow => ({
  accountId,
  id,
  name: `${id} of ${accountId}`,
  protocol: 'native',
  priority: 0,
  createdAt: T0,
  lastSeenAt: T0,
  tokenId: null,
  ...over,
});
const itemRow = (accountId: string, collectionId: string, id: string, seq: number, over: Partial<ItemRow> = {}): ItemRow => ({
  id,
  accountId,
  collectionId,
  uid: `uid-${id}`,
  data: `BEGIN:VCARD\r\nFN:${id} at ${seq}\r\nEND:VCARD\r\n`,
  etag: `etag-${id}-${seq}`,
  seq,
  createdSeq: seq,
  createdBy: null,
  originDevice: null,
  deletedAt: null,
  title: id,
  startMs: null,
  endMs: null,
  matchName: null,
  contactKeys: [],
  ...over,
});
const syncStateRow = (accountId: string, deviceId: string, collectionId: string, seq: number): SyncStateRow => ({
  accountId,
  deviceId,
  collectionId,
  syncKey: 1,
  checkpoint: { seq, baseSeq: seq },
  previous: null,
  lastSentKey: 0,
  lastResults: [],
  reinitTimes: [],
  updatedAt: T0,
});
const changeQuery = (over: Partial<ChangeQuery> = {}): ChangeQuery => ({
  accountId: A,
  collectionId: cA,
  checkpoint: { seq: 0, baseSeq: 0 },
  deviceId: 'nobody',
  limit: 100,
  ...over,
});
const memberQuery = (over: Partial<MemberQuery> = {}): MemberQuery => ({ accountId: A, collectionId: cA, afterId: '', limit: 100, withData: false, ...over });

/** Two accounts, A (two collections, devices phone and laptop) and B (one collection, its own device phone). */
async function seed(store: Store): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.createAccount(accountRow(A, 'alice'));
    await tx.createAccount(accountRow(B, 'bob'));
    await tx.createCollection(collectionRow(A, cA, 'contacts'));
    await tx.createCollection(collectionRow(A, cA2, 'calendar', { kind: 'events', createdAt: T0 + 1 }));
    await tx.createCollection(collectionRow(B, cB, 'contacts'));
    await tx.putDevice(deviceRow(A, phone));
    await tx.putDevice(deviceRow(A, laptop, { priority: 1 }));
    await tx.putDevice(deviceRow(B, phone));
  });
}

/** Writes a new version of an item at the account's next sequence number, as the hub does. */
function put(store: Store, accountId: string, collectionId: string, id: string, over: Partial<ItemRow> = {}, writtenAt = T0): Promise<ItemRow> {
  return store.transaction(async (tx) => {
    const row = itemRow(accountId, collectionId, id, await tx.nextSeq(accountId), over);
    await tx.putItem(row, writtenAt);
    return row;
  });
}

/** Deletes an item: a tombstone at the next sequence number, keeping the etag of the version it deletes. */
function del(store: Store, row: ItemRow, deletedAt: number, originDevice: string | null = null): Promise<ItemRow> {
  return store.transaction(async (tx) => {
    const tombstone = { ...row, data: null, seq: await tx.nextSeq(row.accountId), deletedAt, originDevice, startMs: null, endMs: null };
    await tx.putItem(tombstone, deletedAt);
    return tombstone;
  });
}

const read = <T>(store: Store, fn: (tx: StoreTx) => Promise<T>): Promise<T> => store.transaction(fn);
const ids = (rows: ReadonlyArray<{ id: string }>) => rows.map((r) => r.id);
/** issuePushTokens for one device. */
const issueTo = async (tx: StoreTx, accountId: string, deviceId: string, entries: PushTokenIssue['entries'], issuedAt: number): Promise<PushTokenRow[]> =>
  (await tx.issuePushTokens(accountId, [{ deviceId, entries }], issuedAt))[0] as PushTokenRow[];

function gate(): { opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Whether the promise settles within `ms`; it is left running either way. */
const settlesWithin = (promise: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => true, () => true), delay(ms).then(() => false)]);

class Planned extends Error {}

export function storeConformance(backend: string, open: () => Promise<StoreUnderTest>): void {
  /** Each test gets a fresh store of its own, closed (and removed) after it, pass or fail. */
  const fresh = (fn: (store: Store, sut: StoreUnderTest, t: TestContext) => Promise<void>) => async (t: TestContext) => {
    const sut = await open();
    try {
      await fn(sut.store, sut, t);
    } finally {
      await sut.close();
    }
  };
  const seeded = (fn: (store: Store, sut: StoreUnderTest, t: TestContext) => Promise<void>) =>
    fresh(async (store, sut, t) => {
      await seed(store);
      await fn(store, sut, t);
    });

  describe(`${backend} store conformance`, () => {
    describe('transactions', () => {
      it('what a transaction wrote is visible to the next one once it resolved, with its result', seeded(async (store) => {
        const result = await store.transaction(async (tx) => {
          await tx.putItem(itemRow(A, cA, 'i1', await tx.nextSeq(A)), T0);
          // A transaction reads its own writes.
          assert.equal((await tx.getItem(A, cA, 'i1'))?.id, 'i1');
          return 'done';
        });
        assert.equal(result, 'done');
        assert.deepEqual(await read(store, (tx) => tx.getItem(A, cA, 'i1')), itemRow(A, cA, 'i1', 1));
      }));

      it('a transaction that throws rejects with its error and leaves nothing written, its sequence numbers included', seeded(async (store) => {
        await put(store, A, cA, 'kept');
        const error = new Planned('planned');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.putItem(itemRow(A, cA, 'lost', await tx.nextSeq(A)), T0);
            await tx.putItem(itemRow(A, cA, 'kept', await tx.nextSeq(A), { data: 'changed' }), T0);
            await tx.putDevice(deviceRow(A, 'tablet'));
            await tx.putSyncState(syncStateRow(A, phone, cA, 3));
            await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'lost', seq: 2 }], T0);
            await tx.setPassword(A, 'new-hash');
            throw error;
          }),
          (err) => err === error,
        );
        await read(store, async (tx) => {
          assert.equal(await tx.getItem(A, cA, 'lost'), undefined);
          assert.equal((await tx.getItem(A, cA, 'kept'))?.seq, 1);
          assert.equal(await tx.getDevice(A, 'tablet'), undefined);
          assert.equal(await tx.getSyncState(A, phone, cA), undefined);
          assert.equal(await tx.nextPushToken(A, phone), 1);
          assert.deepEqual(await tx.getAccount(A), accountRow(A, 'alice'));
          assert.equal(await tx.currentSeq(A), 1, 'the numbers the rolled-back transaction took are given back');
        });
        assert.equal((await put(store, A, cA, 'next')).seq, 2);
      }));

      it('a transaction that throws does not poison the store: the next one commits', seeded(async (store) => {
        await assert.rejects(store.transaction(async () => Promise.reject(new Planned('first'))), Planned);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.nextSeq(A);
            throw new Planned('second');
          }),
          Planned,
        );
        const row = await put(store, A, cA, 'after');
        assert.equal(row.seq, 1);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery()))), ['after']);
      }));

      it('a transaction whose connection dies rejects, keeps nothing, and the store works after it', fresh(async (store, sut, t) => {
        const breakConnection = sut.breakConnection;
        if (!breakConnection) {
          t.skip(`${backend} has no connection that can die: it runs in this process`);
          return;
        }
        await seed(store);
        await put(store, A, cA, 'before');
        // The connection dies on every attempt, so a backend that retries must give up and reject too.
        let attempts = 0;
        await assert.rejects(
          store.transaction(async (tx) => {
            attempts++;
            await tx.putItem(itemRow(A, cA, 'lost', await tx.nextSeq(A)), T0);
            await breakConnection();
            await tx.putItem(itemRow(A, cA, 'lost-too', await tx.nextSeq(A)), T0);
          }),
        );
        assert.ok(attempts >= 1);
        await read(store, async (tx) => {
          assert.equal(await tx.getItem(A, cA, 'lost'), undefined);
          assert.equal(await tx.getItem(A, cA, 'lost-too'), undefined);
          assert.equal(await tx.currentSeq(A), 1);
        });
        assert.equal((await put(store, A, cA, 'after')).seq, 2);
      }));

      it('commit observers see each writing transaction: beforeCommit inside it, afterCommit after it, in commit order', seeded(async (store) => {
        const before: string[][] = [];
        const after: string[] = [];
        store.observeCommits({
          async beforeCommit(tx, written) {
            before.push(written.map((r) => `${r.id}@${r.seq}`));
            // What beforeCommit writes commits with the transaction.
            await tx.putFaceState(written[0]?.accountId as string, phone, 'observed', written.map((r) => r.id).join(','));
            return written.map((r) => r.id).join(',');
          },
          afterCommit(prepared) {
            after.push(prepared as string);
          },
        });
        await store.transaction(async (tx) => {
          await tx.putItem(itemRow(A, cA, 'x', await tx.nextSeq(A)), T0);
          await tx.putItem(itemRow(A, cA, 'y', await tx.nextSeq(A)), T0);
        });
        await read(store, (tx) => tx.getItem(A, cA, 'x'));
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.putItem(itemRow(A, cA, 'z', await tx.nextSeq(A)), T0);
            throw new Planned('rolled back');
          }),
          Planned,
        );
        await Promise.all([put(store, A, cA, 'p'), put(store, B, cB, 'q')]);
        assert.deepEqual(before[0], ['x@1', 'y@2']);
        assert.deepEqual(before.slice(1).map((w) => w.join()).sort(), ['p@3', 'q@1'], 'one whose body threw reaches no observer, and its number is given back');
        assert.deepEqual(after[0], 'x,y', 'a transaction without item writes reaches no observer');
        assert.deepEqual(after.slice(1).sort(), ['p', 'q']);
        assert.equal(await read(store, (tx) => tx.getFaceState(A, phone, 'observed')), 'p');
        assert.equal(await read(store, (tx) => tx.getFaceState(B, phone, 'observed')), 'q');
      }));

      it('a beforeCommit that throws rolls the whole transaction back', seeded(async (store) => {
        store.observeCommits({
          async beforeCommit() {
            throw new Planned('observer refuses');
          },
          afterCommit() {
            assert.fail('nothing committed');
          },
        });
        await assert.rejects(put(store, A, cA, 'x'), Planned);
        assert.equal(await read(store, (tx) => tx.getItem(A, cA, 'x')), undefined);
        assert.equal(await read(store, (tx) => tx.currentSeq(A)), 0);
      }));
    });

    describe('exclusive runs', () => {
      it('tryExclusive: of two runs of one name started together exactly one runs, another name runs beside it, and once it ended the name is free', fresh(async (store) => {
        const held = gate();
        let runs = 0;
        const job = async () => {
          runs++;
          await held.opened;
        };
        const both = [store.tryExclusive('purge', job), store.tryExclusive('purge', job)];
        const skipped = Promise.race(both);
        assert.ok(await settlesWithin(skipped, 5_000), 'the second run of the name is skipped while the first runs');
        assert.equal(await skipped, false);
        assert.equal(await store.tryExclusive('other', async () => undefined), true, 'another name is not held');
        held.open();
        assert.deepEqual((await Promise.all(both)).sort(), [false, true]);
        assert.equal(runs, 1);
        assert.equal(await store.tryExclusive('purge', async () => void runs++), true, 'free again once the run ended');
        assert.equal(runs, 2);
      }));

      it('tryExclusive whose job throws rejects with its error and frees the name', fresh(async (store) => {
        await assert.rejects(store.tryExclusive('purge', async () => {
          throw new Planned('job failed');
        }), Planned);
        assert.equal(await store.tryExclusive('purge', async () => undefined), true);
      }));
    });

    describe('the change sequence', () => {
      it('starts at 0 and grows by one per nextSeq, per account, independently; currentSeq reads it inside and after', seeded(async (store) => {
        await read(store, async (tx) => {
          assert.equal(await tx.currentSeq(A), 0);
          assert.equal(await tx.nextSeq(A), 1);
          assert.equal(await tx.nextSeq(A), 2);
          assert.equal(await tx.currentSeq(A), 2);
          assert.equal(await tx.currentSeq(B), 0);
          assert.equal(await tx.nextSeq(B), 1);
        });
        assert.equal(await read(store, (tx) => tx.nextSeq(A)), 3);
        assert.deepEqual(await read(store, async (tx) => [await tx.currentSeq(A), await tx.currentSeq(B)]), [3, 1]);
      }));

      it('an account that does not exist has no sequence: nextSeq, currentSeq and tombstoneFloor throw', seeded(async (store) => {
        await assert.rejects(read(store, (tx) => tx.nextSeq('nobody')));
        await assert.rejects(read(store, (tx) => tx.currentSeq('nobody')));
        await assert.rejects(read(store, (tx) => tx.tombstoneFloor('nobody')));
      }));

      it('two transactions of one account started together both commit with distinct numbers, and a reader after them sees both', seeded(async (store) => {
        const [x, y] = await Promise.all([put(store, A, cA, 'x'), put(store, A, cA, 'y')]);
        assert.deepEqual([x.seq, y.seq].sort(), [1, 2]);
        const rows = await read(store, (tx) => tx.listChanges(changeQuery()));
        assert.deepEqual(ids(rows).sort(), ['x', 'y']);
        assert.deepEqual(rows.map((r) => r.seq), [1, 2]);
      }));

      it('many writers of one account at once: every number handed out once, every change listed', seeded(async (store) => {
        const rows = await Promise.all(Array.from({ length: 12 }, (_, i) => put(store, A, cA, `w${i}`)));
        assert.deepEqual(rows.map((r) => r.seq).sort((p, q) => p - q), Array.from({ length: 12 }, (_, i) => i + 1));
        const listed = await read(store, (tx) => tx.listChanges(changeQuery()));
        assert.deepEqual(listed.map((r) => r.seq), Array.from({ length: 12 }, (_, i) => i + 1));
      }));

      it('two transactions of different accounts started together both commit, each on its own sequence', seeded(async (store) => {
        const [a, b] = await Promise.all([put(store, A, cA, 'a1'), put(store, B, cB, 'b1')]);
        assert.deepEqual([a.seq, b.seq], [1, 1]);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery()))), ['a1']);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery({ accountId: B, collectionId: cB })))), ['b1']);
      }));

      it('a reader that moved past a number never misses a change with a lower number that commits later', seeded(async (store) => {
        // T1 takes its number first and commits last. A backend that runs T2 meanwhile (a concurrent one)
        // must not let a reader see T2's change before T1's; one that makes T2 wait (SQLite, or a row lock
        // on the account's counter) passes trivially. Nothing below awaits T2 or the first reader before
        // T1 is let go, so a serializing backend cannot deadlock the test.
        const tookNumber = gate();
        const release = gate();
        const t1 = store.transaction(async (tx) => {
          const seq = await tx.nextSeq(A);
          tookNumber.open();
          await release.opened;
          await tx.putItem(itemRow(A, cA, 'slow', seq), T0);
          return seq;
        });
        await Promise.race([tookNumber.opened, t1]);
        const t2 = put(store, A, cA, 'fast').then((r) => r.seq);
        await settlesWithin(t2, 500);
        const early = read(store, (tx) => tx.listChanges(changeQuery()));
        await settlesWithin(early, 500);
        release.open();
        const [s1, s2] = await Promise.all([t1, t2]);
        assert.notEqual(s1, s2);
        const seen = await early;
        const from = Math.max(0, ...seen.map((r) => r.seq));
        const later = await read(store, (tx) => tx.listChanges(changeQuery({ checkpoint: { seq: from, baseSeq: from } })));
        assert.deepEqual([...ids(seen), ...ids(later)].sort(), ['fast', 'slow'], `first read ${JSON.stringify(ids(seen))}, then after ${from} ${JSON.stringify(ids(later))}`);
      }));
    });

    describe('listing changes', () => {
      it('listChanges: after the checkpoint, oldest change first, one row per item at its latest version, only this collection', seeded(async (store) => {
        const full: Partial<ItemRow> = {
          uid: null,
          createdBy: laptop,
          originDevice: laptop,
          title: 'Ünïcode ✓',
          startMs: T0,
          endMs: T0 + 3_600_000,
          matchName: 'unicode',
          contactKeys: ['tel:+4912345', 'email:a@example.org'],
        };
        const a = await put(store, A, cA, 'a');
        const b = await put(store, A, cA, 'b');
        await put(store, A, cA2, 'other-collection');
        const f = await put(store, A, cA, 'full', full);
        const a2 = await put(store, A, cA, 'a', { createdSeq: a.seq });
        const all = await read(store, (tx) => tx.listChanges(changeQuery()));
        const asChange = ({ id, data, etag, seq, createdSeq, createdBy, originDevice, deletedAt }: ItemRow): ChangeRow => ({ id, data, etag, seq, createdSeq, createdBy, originDevice, deletedAt });
        assert.deepEqual(all, [b, f, a2].map(asChange));
        // Every column the listing leaves out is still stored.
        assert.deepEqual(await read(store, (tx) => tx.getItem(A, cA, 'full')), f);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery({ checkpoint: { seq: b.seq, baseSeq: b.seq } })))), ['full', 'a']);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery({ limit: 2 })))), ['b', 'full']);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery({ untilSeq: f.seq })))), ['b', 'full']);
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery({ checkpoint: { seq: a2.seq, baseSeq: a2.seq } })))), []);
      }));

      it('the checkpoint rules: tombstones only after baseSeq; the device’s own changes only at or before baseSeq', seeded(async (store) => {
        const old = await put(store, A, cA, 'old');
        await del(store, old, T0 + 1); // seq 2
        await put(store, A, cA, 'mine', { originDevice: phone }); // seq 3
        const gone = await put(store, A, cA, 'gone'); // seq 4
        await del(store, gone, T0 + 2, laptop); // seq 5
        const late = await put(store, A, cA, 'late', { originDevice: phone }); // seq 6
        const list = (checkpoint: { seq: number; baseSeq: number }) => read(store, (tx) => tx.listChanges(changeQuery({ deviceId: phone, checkpoint })));
        // An initial sync begun at 4: no tombstones up to 4, and its own item at 3 comes back to it.
        assert.deepEqual((await list({ seq: 0, baseSeq: 4 })).map((r) => `${r.id}@${r.seq}`), ['mine@3', 'gone@5']);
        // A steady state at 4: its own later change is not sent back, the later tombstone is.
        assert.deepEqual((await list({ seq: 4, baseSeq: 4 })).map((r) => `${r.id}@${r.seq}`), ['gone@5']);
        assert.deepEqual((await list({ seq: 0, baseSeq: 0 })).map((r) => `${r.id}@${r.seq}`), ['old@2', 'gone@5']);
        assert.equal(late.seq, 6);
        const tombstone = (await list({ seq: 4, baseSeq: 4 }))[0];
        assert.equal(tombstone?.data, null);
        assert.equal(tombstone?.deletedAt, T0 + 2);
        assert.equal(tombstone?.etag, gone.etag);
      }));

      it('a time range keeps items that overlap it, items without times, and every tombstone', seeded(async (store) => {
        const hour = 3_600_000;
        const at = (id: string, startMs: number | null, endMs: number | null) => put(store, A, cA2, id, { startMs, endMs });
        await at('before', T0 - 2 * hour, T0 - hour);
        await at('ends-at-start', T0 - hour, T0);
        await at('overlaps', T0 - hour, T0 + hour);
        await at('inside', T0 + hour, T0 + 2 * hour);
        await at('instant-at-start', T0, T0);
        await at('timeless', null, null);
        await at('open-ended', T0 - hour, null);
        await at('starts-at-end', T0 + 10 * hour, T0 + 11 * hour);
        await at('after', T0 + 11 * hour, T0 + 12 * hour);
        const gone = await at('deleted', T0 - 5 * hour, T0 - 4 * hour);
        await del(store, gone, T0);
        const timeRange = { startMs: T0, endMs: T0 + 10 * hour };
        const expected = ['overlaps', 'inside', 'instant-at-start', 'timeless', 'open-ended', 'deleted'];
        assert.deepEqual(ids(await read(store, (tx) => tx.listChanges(changeQuery({ collectionId: cA2, timeRange })))), expected);
        assert.equal(await read(store, (tx) => tx.countChanges(changeQuery({ collectionId: cA2, timeRange }))), expected.length);
        const members = await read(store, (tx) => tx.listMembers(memberQuery({ collectionId: cA2, timeRange })));
        assert.deepEqual(ids(members), ['inside', 'instant-at-start', 'open-ended', 'overlaps', 'timeless']);
      }));

      it('countChanges counts the rows listChanges would return, at most the limit', seeded(async (store) => {
        for (const id of ['a', 'b', 'c', 'd', 'e']) await put(store, A, cA, id);
        assert.equal(await read(store, (tx) => tx.countChanges(changeQuery())), 5);
        assert.equal(await read(store, (tx) => tx.countChanges(changeQuery({ limit: 3 }))), 3);
        assert.equal(await read(store, (tx) => tx.countChanges(changeQuery({ checkpoint: { seq: 4, baseSeq: 4 } }))), 1);
        assert.equal(await read(store, (tx) => tx.countChanges(changeQuery({ untilSeq: 2 }))), 2);
        assert.equal(await read(store, (tx) => tx.countChanges(changeQuery({ collectionId: cA2 }))), 0);
      }));

      it('listChangeSizes: the same rows as sequence and UTF-8 size, 0 for a tombstone', seeded(async (store) => {
        const a = await put(store, A, cA, 'a', { data: 'abc' });
        const b = await put(store, A, cA, 'b', { data: 'é✓😀' }); // 2 + 3 + 4 bytes
        const c = await put(store, A, cA, 'c', { data: 'x'.repeat(1000) });
        const gone = await del(store, a, T0);
        assert.deepEqual(await read(store, (tx) => tx.listChangeSizes(changeQuery())), [
          { seq: b.seq, bytes: 9 },
          { seq: c.seq, bytes: 1000 },
          { seq: gone.seq, bytes: 0 },
        ]);
        assert.deepEqual(await read(store, (tx) => tx.listChangeSizes(changeQuery({ limit: 1 }))), [{ seq: b.seq, bytes: 9 }]);
        assert.equal(await read(store, (tx) => tx.liveItemBytes(A, cA, 'b')), 9);
        assert.equal(await read(store, (tx) => tx.liveItemBytes(A, cA, 'a')), undefined, 'a tombstone has no live item');
        assert.equal(await read(store, (tx) => tx.liveItemBytes(A, cA, 'nothing')), undefined);
      }));

      it('listMemberChanges: the rows of listChanges as members, with the DAV name, data only when asked', seeded(async (store) => {
        const a = await put(store, A, cA, 'a');
        const b = await put(store, A, cA, 'b');
        await read(store, (tx) => tx.setDavName(A, cA, 'b-name.vcf', 'b'));
        const gone = await del(store, a, T0 + 5);
        assert.deepEqual(await read(store, (tx) => tx.listMemberChanges(changeQuery(), false)), [
          { id: 'b', davName: 'b-name.vcf', etag: b.etag, seq: b.seq, deletedAt: null, data: null },
          { id: 'a', davName: null, etag: a.etag, seq: gone.seq, deletedAt: T0 + 5, data: null },
        ]);
        assert.deepEqual(await read(store, (tx) => tx.listMemberChanges(changeQuery({ limit: 1 }), true)), [
          { id: 'b', davName: 'b-name.vcf', etag: b.etag, seq: b.seq, deletedAt: null, data: b.data },
        ]);
        assert.deepEqual(await read(store, (tx) => tx.listMemberChanges(changeQuery({ checkpoint: { seq: b.seq, baseSeq: b.seq } }), true)), [
          { id: 'a', davName: null, etag: a.etag, seq: gone.seq, deletedAt: T0 + 5, data: null },
        ]);
      }));

      it('listMembers pages through live members in id order (keyset after afterId), with names and data when asked', seeded(async (store) => {
        const written = new Map<string, ItemRow>();
        for (const id of ['m5', 'm1', 'm7', 'm3', 'm2', 'm6', 'm4']) written.set(id, await put(store, A, cA, id));
        await del(store, written.get('m4') as ItemRow, T0);
        await put(store, A, cA2, 'm0');
        await read(store, (tx) => tx.setDavName(A, cA, 'three.vcf', 'm3'));
        const pages: string[][] = [];
        let afterId = '';
        // At most ten pages: a listing that never ends fails rather than hangs.
        for (let n = 0; n < 10; n++) {
          const page = await read(store, (tx) => tx.listMembers(memberQuery({ afterId, limit: 2 })));
          if (page.length === 0) break;
          pages.push(ids(page));
          afterId = page[page.length - 1]?.id as string;
        }
        assert.deepEqual(pages, [['m1', 'm2'], ['m3', 'm5'], ['m6', 'm7']]);
        const m3 = written.get('m3') as ItemRow;
        assert.deepEqual(await read(store, (tx) => tx.listMembers(memberQuery({ afterId: 'm2', limit: 1 }))), [
          { id: 'm3', davName: 'three.vcf', etag: m3.etag, seq: m3.seq, deletedAt: null, data: null },
        ]);
        assert.deepEqual(await read(store, (tx) => tx.listMembers(memberQuery({ afterId: 'm2', limit: 1, withData: true }))), [
          { id: 'm3', davName: 'three.vcf', etag: m3.etag, seq: m3.seq, deletedAt: null, data: m3.data },
        ]);
      }));

      it('collectionSeq is the sequence number of the collection’s latest change, 0 when it never had one', seeded(async (store) => {
        assert.equal(await read(store, (tx) => tx.collectionSeq(A, cA)), 0);
        const a = await put(store, A, cA, 'a');
        await put(store, A, cA2, 'e');
        assert.equal(await read(store, (tx) => tx.collectionSeq(A, cA)), a.seq);
        const gone = await del(store, a, T0);
        assert.equal(await read(store, (tx) => tx.collectionSeq(A, cA)), gone.seq);
      }));
    });

    describe('items, history and tombstones', () => {
      it('putItem replaces the item of that id; lookups by UID and twin keys see live items only', seeded(async (store) => {
        const a = await put(store, A, cA, 'a', { uid: 'u1', matchName: 'ann' });
        const twin = await put(store, A, cA, 'twin', { uid: 'u2', matchName: 'ann' });
        const a2 = await put(store, A, cA, 'a', { uid: 'u1', matchName: 'ann', data: 'v2', createdSeq: a.seq });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.getItem(A, cA, 'a'), a2);
          assert.deepEqual(await tx.findLiveItemByUid(A, cA, 'u1'), a2);
          assert.equal(await tx.findLiveItemByUid(A, cA2, 'u1'), undefined);
          assert.deepEqual(ids(await tx.findTwinCandidates(A, cA, 'u1', 'ann')), ['a', 'twin'], 'by UID first, then by name, each once');
          assert.deepEqual(ids(await tx.findTwinCandidates(A, cA, null, 'ann')).sort(), ['a', 'twin']);
          assert.deepEqual(await tx.findTwinCandidates(A, cA, null, null), []);
        });
        await del(store, twin, T0);
        await read(store, async (tx) => {
          assert.equal(await tx.findLiveItemByUid(A, cA, 'u2'), undefined);
          assert.deepEqual(ids(await tx.findTwinCandidates(A, cA, 'u2', 'ann')), ['a']);
          assert.equal((await tx.getItem(A, cA, 'twin'))?.deletedAt, T0, 'a tombstone is still an item');
        });
      }));

      it('putItem of an id held by another collection or account throws and changes nothing there', seeded(async (store) => {
        const a = await put(store, A, cA, 'a');
        await assert.rejects(put(store, A, cA2, 'a', { data: 'moved?' }));
        await assert.rejects(put(store, B, cB, 'a', { data: 'stolen?', etag: 'etag-stolen' }));
        await read(store, async (tx) => {
          assert.deepEqual(await tx.getItem(A, cA, 'a'), a);
          assert.equal(await tx.getItem(A, cA2, 'a'), undefined);
          assert.equal(await tx.getItem(B, cB, 'a'), undefined);
          assert.equal(await tx.hadVersion(A, 'a', 'etag-stolen'), false);
          assert.equal((await tx.getVersionHeld(A, 'a', 'nobody', 100, 100))?.data, a.data);
        });
      }));

      it('hadVersion knows every version the item held, also after its delete; putItemVersion adds one to the history only', seeded(async (store) => {
        const v1 = await put(store, A, cA, 'a');
        const v2 = await put(store, A, cA, 'a', { data: 'v2', createdSeq: v1.seq });
        const sent = await store.transaction(async (tx) => {
          const seq = await tx.nextSeq(A);
          await tx.putItemVersion('a', seq, 'what the laptop sent', 'etag-sent', T0, laptop);
          return seq;
        });
        await del(store, v2, T0);
        await read(store, async (tx) => {
          for (const etag of [v1.etag, v2.etag, 'etag-sent']) assert.equal(await tx.hadVersion(A, 'a', etag), true, etag);
          assert.equal(await tx.hadVersion(A, 'a', 'etag-never'), false);
          assert.deepEqual(await tx.getVersionHeld(A, 'a', laptop, sent, sent), { data: 'what the laptop sent', seq: sent, originDevice: laptop });
          assert.equal((await tx.getItem(A, cA, 'a'))?.data, null, 'the item itself is the tombstone');
          assert.deepEqual(ids(await tx.listChanges(changeQuery())), ['a']);
        });
      }));

      it('getVersionHeld: the latest version at or before seq, or one the device itself wrote after baseSeq', seeded(async (store) => {
        const v1 = await put(store, A, cA, 'a', { originDevice: phone });
        const v2 = await put(store, A, cA, 'a', { data: 'v2', originDevice: laptop });
        const v3 = await put(store, A, cA, 'a', { data: 'v3', originDevice: phone });
        const held = (device: string, seq: number, baseSeq: number) => read(store, (tx) => tx.getVersionHeld(A, 'a', device, seq, baseSeq));
        const as = (v: ItemRow) => ({ data: v.data, seq: v.seq, originDevice: v.originDevice });
        assert.deepEqual(await held('other', 1, 1), as(v1));
        assert.deepEqual(await held('other', 2, 2), as(v2));
        assert.deepEqual(await held(phone, 1, 1), as(v3));
        assert.deepEqual(await held(laptop, 1, 1), as(v2));
        assert.deepEqual(await held(phone, 2, 3), as(v2));
        assert.equal(await held('other', 0, 0), undefined);
        assert.equal(await read(store, (tx) => tx.getVersionHeld(A, 'nothing', 'other', 9, 9)), undefined);
      }));

      it('purgeTombstones drops tombstones deleted before the time, raises the floor, keeps their etag, and says how many', seeded(async (store) => {
        const a = await put(store, A, cA, 'a');
        const b = await put(store, A, cA, 'b');
        const c = await put(store, A, cA2, 'c');
        const keep = await put(store, A, cA, 'keep');
        const ga = await del(store, a, T0 + 100);
        const gc = await del(store, c, T0 + 150);
        await del(store, b, T0 + 300);
        await read(store, (tx) => tx.setDavName(A, cA, 'a.vcf', 'a'));
        assert.equal(await read(store, (tx) => tx.tombstoneFloor(A)), 0);
        assert.equal(await read(store, (tx) => tx.purgeTombstones(A, T0 + 200)), 2);
        await read(store, async (tx) => {
          assert.equal(await tx.getItem(A, cA, 'a'), undefined);
          assert.equal(await tx.getItem(A, cA2, 'c'), undefined);
          assert.equal((await tx.getItem(A, cA, 'b'))?.deletedAt, T0 + 300);
          assert.ok(await tx.getItem(A, cA, 'keep'));
          assert.equal(await tx.tombstoneFloor(A), Math.max(ga.seq, gc.seq));
          assert.equal(await tx.purgedEtag(A, cA, 'a'), a.etag);
          assert.equal(await tx.purgedEtag(A, cA2, 'c'), c.etag);
          assert.equal(await tx.purgedEtag(A, cA, 'b'), undefined);
          assert.equal(await tx.hadVersion(A, 'a', a.etag), false, 'its history went with it');
          assert.equal(await tx.findDavName(A, cA, 'a.vcf'), undefined, 'its DAV name went with it');
          assert.deepEqual(ids(await tx.listChanges(changeQuery())), ['keep', 'b']);
        });
        assert.equal(await read(store, (tx) => tx.purgeTombstones(A, T0 + 200)), 0);
        assert.equal(await read(store, (tx) => tx.purgeTombstones(A, T0)), 0);
        assert.equal(await read(store, (tx) => tx.tombstoneFloor(A)), Math.max(ga.seq, gc.seq), 'the floor never goes down');
        assert.equal(keep.seq, 4);
      }));

      it('purgeTombstones drops history versions superseded before the time, keeping each item’s latest and every etag', seeded(async (store) => {
        const v1 = await put(store, A, cA, 'a', {}, T0 + 10);
        const v2 = await put(store, A, cA, 'a', { data: 'v2' }, T0 + 20);
        const v3 = await put(store, A, cA, 'a', { data: 'v3' }, T0 + 300);
        const only = await put(store, A, cA, 'only', {}, T0 + 10);
        assert.equal(await read(store, (tx) => tx.purgeTombstones(A, T0 + 100)), 0);
        await read(store, async (tx) => {
          assert.equal(await tx.getVersionHeld(A, 'a', 'other', v1.seq, v1.seq), undefined, 'v1 was superseded by v2 before the time');
          assert.equal((await tx.getVersionHeld(A, 'a', 'other', v2.seq, v2.seq))?.data, 'v2', 'v2 was superseded after it: a device may hold it');
          assert.equal((await tx.getVersionHeld(A, 'a', 'other', v3.seq, v3.seq))?.data, 'v3');
          assert.equal((await tx.getVersionHeld(A, 'only', 'other', only.seq, only.seq))?.data, only.data);
          assert.equal(await tx.hadVersion(A, 'a', v1.etag), true);
        });
      }));

      it('purgeTombstones drops the push tokens of sync states the new floor expired, and old ones of collections never synced', seeded(async (store) => {
        const a = await put(store, A, cA, 'a'); // 1
        const b = await put(store, A, cA, 'b'); // 2
        await store.transaction(async (tx) => {
          await tx.putDevice(deviceRow(A, 'ahead'));
          await tx.putSyncState(syncStateRow(A, phone, cA, 1)); // behind the floor the purge raises to 3
          await tx.putSyncState(syncStateRow(A, 'ahead', cA, 3));
          await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'a', seq: 1 }], T0);
          await issueTo(tx, A, 'ahead', [{ collectionId: cA, itemId: 'a', seq: 1 }], T0);
          await issueTo(tx, A, laptop, [{ collectionId: cA, itemId: 'a', seq: 1 }], T0);
          await issueTo(tx, A, laptop, [{ collectionId: cA, itemId: 'b', seq: 2 }], T0 + 500);
        });
        await del(store, a, T0 + 100); // 3
        assert.equal(await read(store, (tx) => tx.purgeTombstones(A, T0 + 200)), 1);
        await read(store, async (tx) => {
          assert.equal(await tx.getPushToken(A, phone, 1), undefined, 'its sync state is expired: the device re-initializes');
          assert.ok(await tx.getPushToken(A, 'ahead', 1), 'a valid sync state keeps its tokens, however old');
          assert.equal(await tx.getPushToken(A, laptop, 1), undefined, 'issued before the time for a collection it never synced');
          assert.deepEqual(await tx.getPushToken(A, laptop, 2), { token: 2, collectionId: cA, itemId: 'b', seq: b.seq });
        });
      }));

      it('purgeTombstones touches only its account', seeded(async (store) => {
        const a = await put(store, A, cA, 'a');
        const b = await put(store, B, cB, 'b');
        await del(store, a, T0);
        await del(store, b, T0);
        assert.equal(await read(store, (tx) => tx.purgeTombstones(B, T0 + 1)), 1);
        assert.equal((await read(store, (tx) => tx.getItem(A, cA, 'a')))?.deletedAt, T0);
        assert.equal(await read(store, (tx) => tx.tombstoneFloor(A)), 0);
        assert.equal(await read(store, (tx) => tx.tombstoneFloor(B)), 2);
      }));
    });

    describe('sync state', () => {
      it('getSyncState returns what putSyncState stored, previous key, results and re-initializations included; a put replaces it', seeded(async (store) => {
        const first = syncStateRow(A, phone, cA, 0);
        const second: SyncStateRow = {
          ...first,
          syncKey: 7,
          checkpoint: { seq: 12, baseSeq: 9 },
          previous: { syncKey: 6, checkpoint: { seq: 9, baseSeq: 9 } },
          lastSentKey: 6,
          lastResults: [
            { op: 'add', clientId: 'c1', serverId: 's1', dataEtag: 'd1', status: 'ok', etag: 'e1', seq: 11 },
            { op: 'delete', serverId: 's2', status: 'notFound', message: 'no such item “s2”' },
          ],
          reinitTimes: [T0, T0 + 1000],
          updatedAt: T0 + 2000,
        };
        await read(store, (tx) => tx.putSyncState(first));
        assert.deepEqual(await read(store, (tx) => tx.getSyncState(A, phone, cA)), first);
        await read(store, (tx) => tx.putSyncState(second));
        assert.deepEqual(await read(store, (tx) => tx.getSyncState(A, phone, cA)), second);
        await read(store, (tx) => tx.putSyncState(syncStateRow(A, phone, cA2, 4)));
        await read(store, (tx) => tx.putSyncState(syncStateRow(A, laptop, cA, 5)));
        assert.deepEqual(await read(store, (tx) => tx.listSyncStates(A, phone)), [second, syncStateRow(A, phone, cA2, 4)]);
        assert.equal(await read(store, (tx) => tx.getSyncState(A, phone, 'coll-none')), undefined);
      }));

      it('point keys: 0 until set, then the key set last', seeded(async (store) => {
        assert.equal(await read(store, (tx) => tx.getPointKey(A, phone, cA)), 0);
        await read(store, (tx) => tx.setPointKey(A, phone, cA, 3));
        await read(store, (tx) => tx.setPointKey(A, phone, cA, 4));
        assert.equal(await read(store, (tx) => tx.getPointKey(A, phone, cA)), 4);
        assert.equal(await read(store, (tx) => tx.getPointKey(A, laptop, cA)), 0);
      }));

      it('point cursors: null until set, kept beside the key, each moved alone', seeded(async (store) => {
        assert.equal(await read(store, (tx) => tx.getPointCursor(A, phone, cA)), null);
        await read(store, (tx) => tx.setPointCursor(A, phone, cA, 'tok-1'));
        assert.equal(await read(store, (tx) => tx.getPointKey(A, phone, cA)), 0, 'a cursor set first leaves the key at 0');
        await read(store, (tx) => tx.setPointKey(A, phone, cA, 5));
        await read(store, (tx) => tx.setPointCursor(A, phone, cA, 'tok-2'));
        assert.deepEqual(await read(store, async (tx) => [await tx.getPointKey(A, phone, cA), await tx.getPointCursor(A, phone, cA)]), [5, 'tok-2']);
        assert.equal(await read(store, (tx) => tx.getPointCursor(A, phone, cA2)), null);
        assert.equal(await read(store, (tx) => tx.getPointCursor(B, phone, cA)), null);
      }));

      it('point records: by item, by remote id across the point’s collections, stale ones, one per item and per remote id', seeded(async (store) => {
        const rec = (serverId: string, remoteId: string, remoteEtag: string | null = `"${remoteId}"`, heldEtag = `h-${serverId}`) => ({ serverId, remoteId, remoteEtag, heldEtag });
        await store.transaction(async (tx) => {
          await tx.putPointRecords(A, phone, cA, [rec('i1', '/book/1.vcf'), rec('i2', '/book/2.vcf', null)]);
          await tx.putPointRecords(A, phone, cA, []);
          await tx.putPointRecords(A, phone, cA2, [rec('i3', '/cal/3.ics')]);
          await tx.putPointRecords(A, laptop, cA, [rec('i1', '/other/1.vcf')]);
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.pointRecordsByServer(A, phone, cA, ['i1', 'i2', 'i3', 'none']).then((r) => r.sort((a, b) => a.serverId.localeCompare(b.serverId))), [rec('i1', '/book/1.vcf'), rec('i2', '/book/2.vcf', null)]);
          assert.deepEqual(await tx.pointRecordsByRemote(A, phone, ['/cal/3.ics', '/other/1.vcf']), [{ ...rec('i3', '/cal/3.ics'), collectionId: cA2 }]);
          assert.deepEqual(await tx.listPointRecords(A, phone, cA, 'stale', 10), [rec('i2', '/book/2.vcf', null)]);
          assert.deepEqual(await tx.listPointRecords(A, phone, cA, 'all', 1), [rec('i1', '/book/1.vcf')]);
          assert.deepEqual(await tx.listPointRecords(A, phone, cA, 'displaced', 10), []);
          assert.deepEqual(await tx.pointRecordsByServer(A, phone, cA, []), []);
        });
        await store.transaction(async (tx) => {
          // The item written at a new remote id, and another item taking a remote id: each replaces the old record.
          await tx.putPointRecords(A, phone, cA, [rec('i1', '/book/1b.vcf'), rec('i4', '/book/2.vcf')]);
        });
        await read(store, async (tx) => {
          assert.deepEqual((await tx.listPointRecords(A, phone, cA, 'all', 10)).map((r) => `${r.serverId}@${r.remoteId}`), ['i1@/book/1b.vcf', 'i4@/book/2.vcf']);
          assert.deepEqual(await tx.listPointRecords(A, phone, cA, 'stale', 10), []);
        });
        // Within one list likewise, in order: i5's second record replaces its first, and i6 takes i5's remote id.
        await read(store, (tx) => tx.putPointRecords(A, phone, cA, [rec('i5', '/book/5.vcf'), rec('i5', '/book/5b.vcf'), rec('i6', '/book/5b.vcf', null)]));
        await read(store, async (tx) => {
          assert.deepEqual((await tx.pointRecordsByServer(A, phone, cA, ['i5', 'i6'])), [rec('i6', '/book/5b.vcf', null)]);
          await tx.deletePointRecord(A, phone, '/book/5b.vcf');
        });
        // A displaced member (protocol/server-point.ts) keeps its record beside the one now holding its item.
        await read(store, (tx) => tx.putPointRecords(A, phone, cA, [rec(displacedId('/book/1.vcf'), '/book/1.vcf')]));
        await read(store, async (tx) => {
          assert.deepEqual(await tx.listPointRecords(A, phone, cA, 'displaced', 10), [rec(displacedId('/book/1.vcf'), '/book/1.vcf')]);
          assert.deepEqual(await tx.listPointRecords(A, laptop, cA, 'displaced', 10), []);
          assert.equal((await tx.listPointRecords(A, phone, cA, 'all', 10)).length, 3);
          await tx.deletePointRecord(A, phone, '/book/1.vcf');
        });
        await read(store, (tx) => tx.deletePointRecord(A, phone, '/book/1b.vcf'));
        assert.deepEqual(await read(store, (tx) => tx.pointRecordsByServer(A, phone, cA, ['i1'])), []);
        assert.equal((await read(store, (tx) => tx.pointRecordsByServer(A, laptop, cA, ['i1']))).length, 1, 'another point’s record of the same item stays');
      }));

      it('point records: another account reads none and writes none; they go with the device and with the collection', seeded(async (store) => {
        await read(store, (tx) => tx.putPointRecords(A, phone, cA, [{ serverId: 'i1', remoteId: '/book/1.vcf', remoteEtag: '"1"', heldEtag: 'h' }]));
        await read(store, async (tx) => {
          assert.deepEqual(await tx.pointRecordsByRemote(B, phone, ['/book/1.vcf']), []);
          assert.deepEqual(await tx.pointRecordsByServer(B, phone, cA, ['i1']), []);
          await tx.deletePointRecord(B, phone, '/book/1.vcf');
        });
        await assert.rejects(store.transaction((tx) => tx.putPointRecords(B, phone, cA, [{ serverId: 'i1', remoteId: '/book/9.vcf', remoteEtag: null, heldEtag: 'h' }])));
        assert.equal((await read(store, (tx) => tx.pointRecordsByRemote(A, phone, ['/book/1.vcf']))).length, 1);
        await read(store, (tx) => tx.putPointRecords(A, laptop, cA2, [{ serverId: 'i2', remoteId: '/cal/2.ics', remoteEtag: null, heldEtag: 'h' }]));
        await read(store, (tx) => tx.deleteDevice(A, phone));
        assert.deepEqual(await read(store, (tx) => tx.pointRecordsByRemote(A, phone, ['/book/1.vcf'])), []);
        await read(store, (tx) => tx.deleteCollection(A, cA2));
        assert.deepEqual(await read(store, (tx) => tx.pointRecordsByRemote(A, laptop, ['/cal/2.ics'])), []);
      }));
    });

    describe('devices', () => {
      it('putDevice adds or updates (keeping createdAt); listDevices is in priority order; setDevicePriorities numbers them in order', seeded(async (store) => {
        await read(store, (tx) => tx.putDevice(deviceRow(A, phone, { name: 'renamed', protocol: 'eas', priority: 5, createdAt: T0 + 99, lastSeenAt: T0 + 50, tokenId: 'tok' })));
        assert.deepEqual(await read(store, (tx) => tx.getDevice(A, phone)), deviceRow(A, phone, { name: 'renamed', protocol: 'eas', priority: 5, lastSeenAt: T0 + 50, tokenId: 'tok' }));
        assert.deepEqual(ids(await read(store, (tx) => tx.listDevices(A))), [laptop, phone]);
        await read(store, (tx) => tx.putDevice(deviceRow(A, 'tablet', { priority: 1, createdAt: T0 - 1 })));
        assert.deepEqual(ids(await read(store, (tx) => tx.listDevices(A))), ['tablet', laptop, phone], 'by priority, then age');
        await read(store, (tx) => tx.setDevicePriorities(A, [phone, 'tablet', laptop]));
        assert.deepEqual((await read(store, (tx) => tx.listDevices(A))).map((d) => `${d.id}:${d.priority}`), ['phone:0', 'tablet:1', 'laptop:2']);
        assert.equal(await read(store, (tx) => tx.getDevice(A, 'nothing')), undefined);
      }));

      it('countDevices counts the account\'s devices by protocol', seeded(async (store) => {
        assert.deepEqual(await read(store, (tx) => tx.countDevices(A)), { native: 2 });
        await read(store, (tx) => tx.putDevice(deviceRow(A, 'eas-1', { protocol: 'eas' })));
        await read(store, (tx) => tx.putDevice(deviceRow(A, 'eas-2', { protocol: 'eas' })));
        assert.deepEqual(await read(store, (tx) => tx.countDevices(A)), { native: 2, eas: 2 });
        assert.deepEqual(await read(store, (tx) => tx.countDevices(B)), { native: 1 }, 'another account\'s are its own');
        assert.deepEqual(await read(store, (tx) => tx.countDevices('no-such-account')), {});
      }));

      it('deleteDevice forgets the device and its state, keeping its push counter so no token number comes back', seeded(async (store) => {
        await store.transaction(async (tx) => {
          await tx.putSyncState(syncStateRow(A, phone, cA, 0));
          await tx.setPointKey(A, phone, cA, 2);
          await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'x', seq: 1 }, { collectionId: cA, itemId: 'y', seq: 1 }], T0);
          await tx.putFaceState(A, phone, 'folders', '{}');
          await tx.addDeviceError(A, phone, { at: T0, status: 'invalid', message: 'bad' }, 10);
        });
        assert.equal(await read(store, (tx) => tx.deleteDevice(A, phone)), true);
        await read(store, async (tx) => {
          assert.equal(await tx.getDevice(A, phone), undefined);
          assert.equal(await tx.getSyncState(A, phone, cA), undefined);
          assert.deepEqual(await tx.listSyncStates(A, phone), []);
          assert.equal(await tx.getPushToken(A, phone, 1), undefined);
          assert.equal(await tx.getFaceState(A, phone, 'folders'), undefined);
          assert.deepEqual(await tx.listDeviceErrors(A, phone), []);
          assert.equal(await tx.nextPushToken(A, phone), 3);
          assert.ok(await tx.getDevice(B, phone), 'the other account’s device of the same id stays');
        });
        assert.equal(await read(store, (tx) => tx.deleteDevice(A, phone)), false);
        await store.transaction(async (tx) => {
          await tx.putDevice(deviceRow(A, phone));
          assert.equal(await tx.getPointKey(A, phone, cA), 0);
          assert.deepEqual((await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'z', seq: 1 }], T0)).map((t) => t.token), [3]);
        });
      }));

      it('device errors: newest first, only the `keep` most recent kept', seeded(async (store) => {
        for (let i = 0; i < 5; i++) await read(store, (tx) => tx.addDeviceError(A, phone, { at: T0 + i, status: 's', message: `m${i}` }, 3));
        assert.deepEqual((await read(store, (tx) => tx.listDeviceErrors(A, phone))).map((e) => e.message), ['m4', 'm3', 'm2']);
        assert.deepEqual(await read(store, (tx) => tx.listDeviceErrors(A, phone)).then((e) => e[0]), { at: T0 + 4, status: 's', message: 'm4' });
      }));

      it('face state: stored per device and key, replaced, forgotten for undefined', seeded(async (store) => {
        await read(store, async (tx) => {
          await tx.putFaceState(A, phone, 'k', 'v1');
          await tx.putFaceState(A, phone, 'k', 'v2');
          await tx.putFaceState(A, laptop, 'k', 'other');
        });
        assert.equal(await read(store, (tx) => tx.getFaceState(A, phone, 'k')), 'v2');
        assert.equal(await read(store, (tx) => tx.getFaceState(A, phone, 'other-key')), undefined);
        await read(store, (tx) => tx.putFaceState(A, phone, 'k', undefined));
        assert.equal(await read(store, (tx) => tx.getFaceState(A, phone, 'k')), undefined);
        assert.equal(await read(store, (tx) => tx.getFaceState(A, laptop, 'k')), 'other');
      }));

      it('activity adds up per device and day, lists from a day on, and is purged before a day', seeded(async (store) => {
        await read(store, async (tx) => {
          await tx.addActivity(A, phone, '2026-01-01', 2);
          await tx.addActivity(A, phone, '2026-01-02', 1);
          await tx.addActivity(A, phone, '2026-01-02', 4);
          await tx.addActivity(A, laptop, '2026-01-02', 3);
        });
        assert.deepEqual(await read(store, (tx) => tx.listActivity(A, '2026-01-02')), [
          { deviceId: laptop, day: '2026-01-02', changes: 3 },
          { deviceId: phone, day: '2026-01-02', changes: 5 },
        ]);
        await read(store, (tx) => tx.purgeActivity(A, '2026-01-02'));
        assert.equal((await read(store, (tx) => tx.listActivity(A, '2000-01-01'))).length, 2);
      }));
    });

    describe('push tokens', () => {
      it('issue, get, find in ranges, and release all but the kept ones', seeded(async (store) => {
        assert.equal(await read(store, (tx) => tx.nextPushToken(A, phone)), 1);
        assert.deepEqual(await read(store, (tx) => issueTo(tx, A, phone, [], T0)), []);
        const issued = await read(store, (tx) =>
          issueTo(tx, A, phone, [
            { collectionId: cA, itemId: 'a', seq: 1 },
            { collectionId: cA, itemId: 'b', seq: 2 },
            { collectionId: cA2, itemId: 'e', seq: 3 },
            { collectionId: cA, itemId: 'c', seq: 4 },
          ], T0),
        );
        assert.deepEqual(issued.map((t) => t.token), [1, 2, 3, 4]);
        assert.deepEqual(await read(store, (tx) => issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'd', seq: 5 }], T0)), [
          { token: 5, collectionId: cA, itemId: 'd', seq: 5 },
        ]);
        assert.equal(await read(store, (tx) => tx.nextPushToken(A, phone)), 6);
        assert.equal(await read(store, (tx) => tx.nextPushToken(A, laptop)), 1, 'each device counts on its own');
        assert.deepEqual(await read(store, (tx) => tx.getPushToken(A, phone, 2)), { token: 2, collectionId: cA, itemId: 'b', seq: 2 });
        assert.equal(await read(store, (tx) => tx.getPushToken(A, phone, 9)), undefined);
        const found = await read(store, (tx) => tx.findPushTokens(A, phone, cA, [{ from: 1, to: 1 }, { from: 3, to: 4 }, { from: 6, to: 9 }]));
        assert.deepEqual(found.map((t) => t.token), [1, 4], 'another collection’s token and unknown ones skipped');
        assert.deepEqual(await read(store, (tx) => tx.findPushTokens(A, phone, cA, [])), []);
        await read(store, (tx) => tx.releasePushTokens(A, phone, cA, 4, [2]));
        const left = await read(store, (tx) => tx.findPushTokens(A, phone, cA, [{ from: 1, to: 10 }]));
        assert.deepEqual(left.map((t) => t.token), [2, 5]);
        assert.ok(await read(store, (tx) => tx.getPushToken(A, phone, 3)), 'another collection’s token stays');
        assert.deepEqual((await read(store, (tx) => tx.listPushTokensAfter(A, phone, 2, 10))).map((t) => t.token), [3, 5], 'after a token, oldest first');
        assert.deepEqual((await read(store, (tx) => tx.listPushTokensAfter(A, phone, 0, 1))).map((t) => t.token), [2], 'at most the limit');
        assert.deepEqual(await read(store, (tx) => tx.listPushTokensAfter(B, phone, 0, 10)), [], 'another account has none of them');
      }));

      it('one call issues tokens to several devices: each in its own sequence, in the order asked, all stored', seeded(async (store) => {
        await read(store, (tx) => issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'a', seq: 1 }, { collectionId: cA, itemId: 'b', seq: 2 }], T0));
        const issued = await read(store, (tx) =>
          tx.issuePushTokens(A, [
            { deviceId: laptop, entries: [{ collectionId: cA, itemId: 'c', seq: 3 }, { collectionId: cA2, itemId: 'e', seq: 4 }] },
            { deviceId: 'tablet', entries: [] },
            { deviceId: phone, entries: [{ collectionId: cA, itemId: 'c', seq: 3 }] },
          ], T0 + 1),
        );
        assert.deepEqual(issued, [
          [{ token: 1, collectionId: cA, itemId: 'c', seq: 3 }, { token: 2, collectionId: cA2, itemId: 'e', seq: 4 }],
          [],
          [{ token: 3, collectionId: cA, itemId: 'c', seq: 3 }],
        ], 'the phone carries on after its two; the laptop starts; the tablet gets none');
        assert.deepEqual(await read(store, (tx) => tx.getPushToken(A, laptop, 2)), { token: 2, collectionId: cA2, itemId: 'e', seq: 4 });
        assert.deepEqual(await read(store, (tx) => tx.getPushToken(A, phone, 3)), { token: 3, collectionId: cA, itemId: 'c', seq: 3 });
        assert.equal(await read(store, (tx) => tx.nextPushToken(A, 'tablet')), 1, 'a device given nothing has no token counted');
        assert.equal(await read(store, (tx) => tx.nextPushToken(A, laptop)), 3);
        assert.deepEqual(await read(store, (tx) => tx.issuePushTokens(A, [], T0)), []);
      }));

      it('the channel registry: one registration per device, the last process wins, only the holder forgets it, and stale ones are not listed', seeded(async (store) => {
        await read(store, (tx) => tx.putPushChannel({ accountId: A, deviceId: phone, processId: 'p1', mailbox: false, collections: null, seenAt: T0 }));
        await read(store, (tx) => tx.putPushChannel({ accountId: A, deviceId: laptop, processId: 'p1', mailbox: true, collections: [cA], seenAt: T0 }));
        await read(store, (tx) => tx.putPushChannel({ accountId: A, deviceId: phone, processId: 'p2', mailbox: true, collections: [cA, cA2], seenAt: T0 + 5 }));
        assert.deepEqual(await read(store, (tx) => tx.listPushChannels(A, T0)), [
          { accountId: A, deviceId: laptop, processId: 'p1', mailbox: true, collections: [cA], seenAt: T0 },
          { accountId: A, deviceId: phone, processId: 'p2', mailbox: true, collections: [cA, cA2], seenAt: T0 + 5 },
        ]);
        assert.deepEqual(await read(store, (tx) => tx.listPushChannels(B, 0)), [], 'another account lists none');
        await read(store, (tx) => tx.deletePushChannel(A, phone, 'p1'));
        assert.equal((await read(store, (tx) => tx.listPushChannels(A, T0))).length, 2, 'p1 no longer holds the phone: its forget does nothing');
        assert.deepEqual((await read(store, (tx) => tx.listPushChannels(A, T0 + 1))).map((c) => c.deviceId), [phone], 'a registration not seen since is left out');
        await read(store, (tx) => tx.touchPushChannels('p1', T0 + 10));
        assert.deepEqual((await read(store, (tx) => tx.listPushChannels(A, T0 + 6))).map((c) => c.deviceId), [laptop], 'touched by its process, the laptop is seen again');
        await read(store, (tx) => tx.deletePushChannel(A, phone, 'p2'));
        assert.deepEqual((await read(store, (tx) => tx.listPushChannels(A, 0))).map((c) => c.deviceId), [laptop]);
      }));

      it('push tickets: taken once, by hash alone; an account keeps its newest live ones up to the bound; expired ones are purged', seeded(async (store) => {
        const ticket = (accountId: string, n: number, expiresAt: number): PushTicketRow => ({ ticketHash: `h${accountId}${n}`, accountId, tokenId: n % 2 ? `t${n}` : null, sessionIdHash: n % 2 ? null : `s${n}`, epoch: n, expiresAt });
        for (let n = 1; n <= 4; n++) await read(store, (tx) => tx.putPushTicket(ticket(A, n, T0 + 100 + n), T0, 3));
        await read(store, (tx) => tx.putPushTicket(ticket(B, 1, T0 + 50), T0, 3));
        assert.equal(await read(store, (tx) => tx.takePushTicket(`h${A}1`)), undefined, 'past the bound, the oldest went');
        assert.deepEqual(await read(store, (tx) => tx.takePushTicket(`h${A}2`)), ticket(A, 2, T0 + 102));
        assert.equal(await read(store, (tx) => tx.takePushTicket(`h${A}2`)), undefined, 'a ticket is taken once');
        // Putting one after T0 + 103 forgets the account's expired ones first: ticket 3 goes, 4 stays.
        await read(store, (tx) => tx.putPushTicket(ticket(A, 5, T0 + 200), T0 + 103, 3));
        assert.equal(await read(store, (tx) => tx.takePushTicket(`h${A}3`)), undefined, 'expired, forgotten');
        assert.equal(await read(store, (tx) => tx.purgePushTickets(T0 + 104)), 2, 'A’s ticket 4 and B’s expired ticket');
        assert.equal((await read(store, (tx) => tx.takePushTicket(`h${A}5`)))?.sessionIdHash, null);
        assert.equal(await read(store, (tx) => tx.takePushTicket(`h${B}1`)), undefined);
      }));

      it('failed-secret counters: written, read by hash, forgotten at zero failures and when old', fresh(async (store) => {
        await read(store, (tx) => tx.putAuthFailures([{ keyHash: 'k1', failures: 3, lastAt: T0 }, { keyHash: 'k2', failures: 1, lastAt: T0 + 10 }]));
        assert.deepEqual(await read(store, (tx) => tx.getAuthFailures(['k2', 'k1', 'k3'])).then((rows) => rows.sort((a, b) => a.keyHash.localeCompare(b.keyHash))), [
          { keyHash: 'k1', failures: 3, lastAt: T0 },
          { keyHash: 'k2', failures: 1, lastAt: T0 + 10 },
        ]);
        await read(store, (tx) => tx.putAuthFailures([{ keyHash: 'k1', failures: 4, lastAt: T0 + 5 }, { keyHash: 'k2', failures: 0, lastAt: T0 + 11 }]));
        assert.deepEqual(await read(store, (tx) => tx.getAuthFailures(['k1', 'k2'])), [{ keyHash: 'k1', failures: 4, lastAt: T0 + 5 }], 'k2 at zero is gone');
        assert.equal(await read(store, (tx) => tx.purgeAuthFailures(T0 + 5)), 0, 'k1 failed at T0 + 5, not before');
        assert.equal(await read(store, (tx) => tx.purgeAuthFailures(T0 + 6)), 1);
        assert.deepEqual(await read(store, (tx) => tx.getAuthFailures(['k1'])), []);
      }));

      it('failed-secret counters: two transactions counting one failure each on one counter at once count two', fresh(async (store) => {
        const countOne = () =>
          store.transaction(async (tx) => {
            const [row] = await tx.getAuthFailures(['k']);
            await new Promise((resolve) => setTimeout(resolve, 20));
            await tx.putAuthFailures([{ keyHash: 'k', failures: (row?.failures ?? 0) + 1, lastAt: T0 }]);
          });
        await read(store, (tx) => tx.putAuthFailures([{ keyHash: 'k', failures: 1, lastAt: T0 }]));
        await Promise.all([countOne(), countOne(), countOne()]);
        assert.equal((await read(store, (tx) => tx.getAuthFailures(['k'])))[0]?.failures, 4);
      }));

      it('a push token floor: a device below it (or never sent one) starts there, one above it carries on, a lower floor changes nothing, no number is given twice', seeded(async (first, sut) => {
        const issue = (store: Store, deviceId: string, n: number) =>
          store.transaction(async (tx) => (await issueTo(tx, A, deviceId, Array.from({ length: n }, (_, i) => ({ collectionId: cA, itemId: `i${i}`, seq: 1 })), T0)).map((t) => t.token));
        assert.deepEqual(await issue(first, phone, 2), [1, 2]);
        // A restart with a floor of 1000 (a server start: src/server/open-store.ts pushTokenFloorAt).
        const raised = await sut.reopen({ pushTokenFloor: 1000 });
        await read(raised, async (tx) => {
          assert.equal(await tx.nextPushToken(A, phone), 1000);
          assert.equal(await tx.nextPushToken(A, laptop), 1000, 'a device never sent a token starts at the floor');
          assert.equal((await tx.getPushToken(A, phone, 2))?.itemId, 'i1', 'tokens issued before stay');
        });
        assert.deepEqual(await issue(raised, phone, 2), [1000, 1001]);
        assert.deepEqual(await issue(raised, laptop, 1), [1000]);
        // A later start whose floor is lower (a clock set back) takes nothing back.
        const lower = await sut.reopen({ pushTokenFloor: 500 });
        assert.equal(await read(lower, (tx) => tx.nextPushToken(A, phone)), 1002);
        assert.deepEqual(await issue(lower, phone, 1), [1002]);
        assert.deepEqual(await issue(lower, 'new', 1), [500]);
      }));
    });

    describe('records', () => {
      it('the add ledger, and the etag of a purged item', seeded(async (store) => {
        await read(store, async (tx) => {
          await tx.recordLedgerAdd(A, phone, cA, 'client-1', 'data-1', 'item-1', false);
          await tx.recordLedgerAdd(A, phone, cA, 'client-2', 'data-2', 'item-2', true);
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.findLedgerAdd(A, phone, cA, 'client-1', 'data-1'), { itemId: 'item-1', lost: false });
          assert.deepEqual(await tx.findLedgerAdd(A, phone, cA, 'client-2', 'data-2'), { itemId: 'item-2', lost: true });
          assert.equal(await tx.findLedgerAdd(A, phone, cA, 'client-1', 'data-other'), undefined);
          assert.equal(await tx.findLedgerAdd(A, laptop, cA, 'client-1', 'data-1'), undefined);
          assert.equal(await tx.purgedEtag(A, cA, 'item-1'), undefined);
        });
      }));

      it('DAV names: found by name and by item, per collection', seeded(async (store) => {
        await put(store, A, cA, 'a');
        await put(store, A, cA2, 'e');
        await read(store, async (tx) => {
          await tx.setDavName(A, cA, 'Alice.vcf', 'a');
          await tx.setDavName(A, cA2, 'event.ics', 'e');
        });
        await read(store, async (tx) => {
          assert.equal(await tx.findDavName(A, cA, 'Alice.vcf'), 'a');
          assert.equal(await tx.findDavName(A, cA2, 'Alice.vcf'), undefined);
          assert.equal(await tx.findDavName(A, cA, 'alice.vcf'), undefined, 'names are case-sensitive');
          assert.equal(await tx.davNameOf(A, 'a'), 'Alice.vcf');
          assert.equal(await tx.davNameOf(A, 'e'), 'event.ics');
          assert.equal(await tx.davNameOf(A, 'nothing'), undefined);
        });
      }));

      it('conflicts: newest first, restorable', seeded(async (store) => {
        const conflict = (id: string, createdAt: number): ConflictRow => ({
          id, accountId: A, collectionId: cA, itemId: 'a', data: `lost ${id}`, lostBy: phone, wonBy: null, reason: 'priority', createdAt, restoredAt: null,
        });
        await read(store, async (tx) => {
          await tx.addConflict(conflict('k1', T0));
          await tx.addConflict(conflict('k2', T0 + 1));
        });
        assert.deepEqual(ids(await read(store, (tx) => tx.listConflicts(A))), ['k2', 'k1']);
        await read(store, (tx) => tx.markConflictRestored(A, 'k1', T0 + 5));
        assert.deepEqual(await read(store, (tx) => tx.getConflict(A, 'k1')), { ...conflict('k1', T0), restoredAt: T0 + 5 });
        assert.deepEqual(await read(store, (tx) => tx.getConflict(A, 'k2')), conflict('k2', T0 + 1));
        assert.equal(await read(store, (tx) => tx.getConflict(A, 'k3')), undefined);
      }));

      it('web sessions: valid until they expire, deleted, purged once expired', seeded(async (store) => {
        const session = (idHash: string, expiresAt: number) => ({ idHash, accountId: A, csrf: `csrf-${idHash}`, createdAt: T0, expiresAt });
        await read(store, async (tx) => {
          await tx.createWebSession(session('s1', T0 + 100));
          await tx.createWebSession(session('s2', T0 + 200));
          await tx.createWebSession(session('s3', T0 + 300));
        });
        assert.deepEqual(await read(store, (tx) => tx.getWebSession('s1', T0 + 99)), session('s1', T0 + 100));
        assert.equal(await read(store, (tx) => tx.getWebSession('s1', T0 + 100)), undefined, 'expired at expiresAt');
        await read(store, (tx) => tx.deleteWebSession('s3'));
        assert.equal(await read(store, (tx) => tx.getWebSession('s3', T0)), undefined);
        assert.equal(await read(store, (tx) => tx.purgeWebSessions(T0 + 150)), 1);
        assert.ok(await read(store, (tx) => tx.getWebSession('s2', T0 + 150)));
      }));

      it('known clients: seen since a time, the account’s `keep` most recent kept', seeded(async (store) => {
        for (let i = 0; i < 5; i++) await read(store, (tx) => tx.rememberClient(A, `fp${i}`, T0 + i, 3));
        await read(store, (tx) => tx.rememberClient(A, 'fp4', T0 + 10, 3));
        const known = await read(store, async (tx) => Promise.all([0, 1, 2, 3, 4].map((i) => tx.isKnownClient(A, `fp${i}`, T0))));
        assert.deepEqual(known, [false, false, true, true, true]);
        assert.equal(await read(store, (tx) => tx.isKnownClient(A, 'fp3', T0 + 4)), false, 'not since then');
        assert.equal(await read(store, (tx) => tx.isKnownClient(A, 'fp4', T0 + 10)), true);
      }));

      it('app tokens: created, listed oldest first, touched, deleted once', seeded(async (store) => {
        const tokenRow = (id: string, createdAt: number) => ({ id, accountId: A, label: `label ${id}`, secretHash: `secret-${id}`, createdAt, lastUsedAt: null });
        await read(store, async (tx) => {
          await tx.createToken(tokenRow('t2', T0 + 1));
          await tx.createToken(tokenRow('t1', T0));
        });
        assert.deepEqual(await read(store, (tx) => tx.listTokens(A)), [tokenRow('t1', T0), tokenRow('t2', T0 + 1)]);
        await read(store, (tx) => tx.touchToken(A, 't1', T0 + 50));
        assert.deepEqual(await read(store, (tx) => tx.getToken('t1')), { ...tokenRow('t1', T0), lastUsedAt: T0 + 50 });
        assert.equal(await read(store, (tx) => tx.deleteToken(A, 't1')), true);
        assert.equal(await read(store, (tx) => tx.deleteToken(A, 't1')), false);
        assert.equal(await read(store, (tx) => tx.getToken('t1')), undefined);
      }));

      it('accounts: by name and id, listed by name; a password change raises credentialEpoch and ends web sessions, the same hash does neither', fresh(async (store) => {
        await read(store, async (tx) => {
          await tx.createAccount(accountRow('id-z', 'zoe'));
          await tx.createAccount(accountRow('id-b', 'bea'));
          await tx.createWebSession({ idHash: 'sess', accountId: 'id-z', csrf: 'c', createdAt: T0, expiresAt: T0 + 1000 });
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.findAccountByName('zoe'), accountRow('id-z', 'zoe'));
          assert.equal(await tx.findAccountByName('Zoe'), undefined);
          assert.deepEqual(await tx.getAccount('id-b'), accountRow('id-b', 'bea'));
          assert.deepEqual((await tx.listAccounts()).map((a) => a.name), ['bea', 'zoe']);
        });
        await read(store, (tx) => tx.setPassword('id-z', 'hash-id-z'));
        assert.equal((await read(store, (tx) => tx.getAccount('id-z')))?.credentialEpoch, 0);
        assert.ok(await read(store, (tx) => tx.getWebSession('sess', T0)));
        await read(store, async (tx) => {
          await tx.setPassword('id-z', 'hash-2');
          await tx.setEmail('id-z', 'zoe@example.org');
          assert.equal((await tx.getAccount('id-z'))?.credentialEpoch, 1, 'raised inside the transaction');
        });
        assert.deepEqual(await read(store, (tx) => tx.getAccount('id-z')), { ...accountRow('id-z', 'zoe'), passwordHash: 'hash-2', credentialEpoch: 1, email: 'zoe@example.org' });
        assert.equal(await read(store, (tx) => tx.getWebSession('sess', T0)), undefined);
        await read(store, (tx) => tx.setPassword('id-z', 'hash-3'));
        assert.equal((await read(store, (tx) => tx.getAccount('id-z')))?.credentialEpoch, 2);
        assert.equal((await read(store, (tx) => tx.getAccount('id-b')))?.credentialEpoch, 0);
        await assert.rejects(read(store, (tx) => tx.createAccount(accountRow('id-other', 'zoe'))), 'account names are unique');
      }));

      it('collections: created, listed oldest first, found by name, updated, deleted with their items and state', seeded(async (store) => {
        await read(store, async (tx) => {
          assert.deepEqual(ids(await tx.listCollections(A)), [cA, cA2]);
          assert.deepEqual(await tx.findCollectionByName(A, 'calendar'), collectionRow(A, cA2, 'calendar', { kind: 'events', createdAt: T0 + 1 }));
          await tx.updateCollection({ ...collectionRow(A, cA, 'contacts'), name: 'ignored', kind: 'notes', displayName: 'People', color: '#ff0000', description: 'mine' });
          assert.deepEqual(await tx.getCollection(A, cA), { ...collectionRow(A, cA, 'contacts'), displayName: 'People', color: '#ff0000', description: 'mine' });
        });
        const a = await put(store, A, cA, 'a');
        await store.transaction(async (tx) => {
          await tx.setDavName(A, cA, 'a.vcf', 'a');
          await tx.putSyncState(syncStateRow(A, phone, cA, a.seq));
          await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'a', seq: a.seq }], T0);
          await tx.addConflict({ id: 'k', accountId: A, collectionId: cA, itemId: 'a', data: 'x', lostBy: null, wonBy: null, reason: 'priority', createdAt: T0, restoredAt: null });
        });
        assert.equal(await read(store, (tx) => tx.deleteCollection(A, cA)), true);
        await read(store, async (tx) => {
          assert.equal(await tx.getCollection(A, cA), undefined);
          assert.equal(await tx.getItem(A, cA, 'a'), undefined);
          assert.equal(await tx.findDavName(A, cA, 'a.vcf'), undefined);
          assert.equal(await tx.getSyncState(A, phone, cA), undefined);
          assert.equal(await tx.getPushToken(A, phone, 1), undefined);
          assert.deepEqual(await tx.listConflicts(A), []);
          assert.deepEqual(ids(await tx.listCollections(A)), [cA2]);
        });
        assert.equal(await read(store, (tx) => tx.deleteCollection(A, cA)), false);
      }));
    });

    describe('account scoping', () => {
      it('every read through another account sees nothing of A’s, even with A’s ids', seeded(async (store) => {
        // Account A gets one row of every kind, under ids that B then asks for.
        const a = await put(store, A, cA, 'a', { uid: 'u', matchName: 'ann' });
        const gone = await put(store, A, cA, 'gone');
        await del(store, gone, T0);
        await read(store, (tx) => tx.purgeTombstones(A, T0 + 1));
        await store.transaction(async (tx) => {
          await tx.putItemVersion('a', await tx.nextSeq(A), 'sent', 'etag-sent', T0, phone);
          await tx.setDavName(A, cA, 'a.vcf', 'a');
          await tx.putSyncState(syncStateRow(A, phone, cA, 1));
          await tx.setPointKey(A, phone, cA, 4);
          await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'a', seq: 1 }], T0);
          await tx.putFaceState(A, phone, 'k', 'v');
          await tx.addDeviceError(A, phone, { at: T0, status: 's', message: 'm' }, 10);
          await tx.addActivity(A, phone, '2026-01-01', 1);
          await tx.addConflict({ id: 'k', accountId: A, collectionId: cA, itemId: 'a', data: 'x', lostBy: null, wonBy: null, reason: 'priority', createdAt: T0, restoredAt: null });
          await tx.recordLedgerAdd(A, phone, cA, 'client', 'data', 'a', false);
          await tx.rememberClient(A, 'fp', T0, 10);
          await tx.createToken({ id: 'tok', accountId: A, label: 'l', secretHash: 'h', createdAt: T0, lastUsedAt: null });
        });
        const q = changeQuery({ accountId: B });
        await read(store, async (tx) => {
          assert.equal(await tx.getItem(B, cA, 'a'), undefined);
          assert.equal(await tx.findLiveItemByUid(B, cA, 'u'), undefined);
          assert.deepEqual(await tx.findTwinCandidates(B, cA, 'u', 'ann'), []);
          assert.equal(await tx.hadVersion(B, 'a', a.etag), false);
          assert.equal(await tx.getVersionHeld(B, 'a', phone, 100, 100), undefined);
          assert.deepEqual(await tx.listChanges(q), []);
          assert.equal(await tx.countChanges(q), 0);
          assert.deepEqual(await tx.listChangeSizes(q), []);
          assert.deepEqual(await tx.listMemberChanges(q, true), []);
          assert.deepEqual(await tx.listMembers(memberQuery({ accountId: B, withData: true })), []);
          assert.equal(await tx.liveItemBytes(B, cA, 'a'), undefined);
          assert.equal(await tx.collectionSeq(B, cA), 0);
          assert.equal(await tx.findDavName(B, cA, 'a.vcf'), undefined);
          assert.equal(await tx.davNameOf(B, 'a'), undefined);
          assert.equal(await tx.purgedEtag(B, cA, 'gone'), undefined);
          assert.equal(await tx.getCollection(B, cA), undefined);
          assert.equal(await tx.findCollectionByName(B, 'calendar'), undefined);
          assert.deepEqual(ids(await tx.listCollections(B)), [cB]);
          assert.deepEqual(await tx.getSyncState(B, phone, cA), undefined);
          assert.deepEqual(await tx.listSyncStates(B, phone), []);
          assert.equal(await tx.getPointKey(B, phone, cA), 0);
          assert.equal(await tx.getPushToken(B, phone, 1), undefined);
          assert.deepEqual(await tx.findPushTokens(B, phone, cA, [{ from: 1, to: 10 }]), []);
          assert.equal(await tx.nextPushToken(B, phone), 1);
          assert.equal(await tx.getFaceState(B, phone, 'k'), undefined);
          assert.deepEqual(await tx.listDeviceErrors(B, phone), []);
          assert.deepEqual(await tx.listActivity(B, '2000-01-01'), []);
          assert.deepEqual(await tx.listConflicts(B), []);
          assert.equal(await tx.getConflict(B, 'k'), undefined);
          assert.equal(await tx.findLedgerAdd(B, phone, cA, 'client', 'data'), undefined);
          assert.equal(await tx.isKnownClient(B, 'fp', 0), false);
          assert.deepEqual(await tx.listTokens(B), []);
          assert.equal(await tx.getDevice(B, laptop), undefined);
          assert.deepEqual(ids(await tx.listDevices(B)), [phone]);
          assert.equal(await tx.currentSeq(B), 0);
          assert.equal(await tx.tombstoneFloor(B), 0);
        });
      }));

      it('every write through another account leaves A’s rows as they were', seeded(async (store) => {
        const a = await put(store, A, cA, 'a');
        const gone = await put(store, A, cA, 'gone');
        const tombstone = await del(store, gone, T0);
        await store.transaction(async (tx) => {
          await issueTo(tx, A, phone, [{ collectionId: cA, itemId: 'a', seq: 1 }], T0);
          await tx.addConflict({ id: 'k', accountId: A, collectionId: cA, itemId: 'a', data: 'x', lostBy: null, wonBy: null, reason: 'priority', createdAt: T0, restoredAt: null });
          await tx.createToken({ id: 'tok', accountId: A, label: 'l', secretHash: 'h', createdAt: T0, lastUsedAt: null });
          await tx.putFaceState(A, phone, 'k', 'v');
        });
        await store.transaction(async (tx) => {
          assert.equal(await tx.deleteToken(B, 'tok'), false);
          await tx.touchToken(B, 'tok', T0 + 9);
          assert.equal(await tx.deleteCollection(B, cA), false);
          await tx.updateCollection({ ...collectionRow(B, cA, 'contacts'), displayName: 'taken' });
          await tx.markConflictRestored(B, 'k', T0 + 9);
          await tx.releasePushTokens(B, phone, cA, 100, []);
          await tx.setDevicePriorities(B, [laptop]);
          await tx.putFaceState(B, phone, 'k', undefined);
          assert.equal(await tx.deleteDevice(B, laptop), false);
          assert.equal(await tx.purgeTombstones(B, T0 + 1), 0);
        });
        await read(store, async (tx) => {
          assert.equal((await tx.getToken('tok'))?.lastUsedAt, null);
          assert.deepEqual(await tx.getCollection(A, cA), collectionRow(A, cA, 'contacts'));
          assert.equal((await tx.getConflict(A, 'k'))?.restoredAt, null);
          assert.ok(await tx.getPushToken(A, phone, 1));
          assert.equal((await tx.getDevice(A, laptop))?.priority, 1);
          assert.deepEqual(await tx.getItem(A, cA, 'a'), a);
          assert.deepEqual(await tx.getItem(A, cA, 'gone'), tombstone);
          assert.equal(await tx.tombstoneFloor(A), 0);
          assert.equal(await tx.getFaceState(A, phone, 'k'), 'v');
        });
      }));
    });

    describe('upstreams', () => {
      const upstream = (accountId: string, id: string, over: Partial<UpstreamRow> = {}): UpstreamRow => ({
        id,
        accountId,
        kind: 'dav',
        url: `https://dav.example/${id}/`,
        submissionUrl: null,
        username: `user-${id}`,
        secret: `sealed-${id}`,
        deviceId: phone,
        createdAt: T0,
        lastRunAt: null,
        lastError: null,
        nextRunAt: null,
        failures: 0,
        ...over,
      });
      const mapping = (accountId: string, upstreamId: string, url: string, collectionId: string, over: Partial<UpstreamCollectionRow> = {}): UpstreamCollectionRow => ({
        accountId,
        upstreamId,
        url,
        collectionId,
        ...over,
      });

      it('stores upstreams with their run state and mapped collections, oldest first, and any kind', seeded(async (store) => {
        await store.transaction(async (tx) => {
          await tx.createUpstream(upstream(A, 'u2', { deviceId: laptop, createdAt: T0 + 5, kind: 'imap', url: 'imaps://mail.example:993/', submissionUrl: 'smtps://mail.example:465/' }));
          await tx.createUpstream(upstream(A, 'u1'));
          await tx.putUpstreamCollection(mapping(A, 'u1', 'https://dav.example/u1/cal/', cA2));
          await tx.putUpstreamCollection(mapping(A, 'u1', 'https://dav.example/u1/book/', cA));
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.listUpstreams(A), [upstream(A, 'u1'), upstream(A, 'u2', { deviceId: laptop, createdAt: T0 + 5, kind: 'imap', url: 'imaps://mail.example:993/', submissionUrl: 'smtps://mail.example:465/' })]);
          assert.deepEqual(await tx.getUpstream(A, 'u1'), upstream(A, 'u1'));
          assert.deepEqual(await tx.listUpstreamCollections(A, 'u1'), [mapping(A, 'u1', 'https://dav.example/u1/book/', cA), mapping(A, 'u1', 'https://dav.example/u1/cal/', cA2)]);
          assert.deepEqual(await tx.listUpstreamCollections(A, 'u2'), []);
          assert.deepEqual(ids(await tx.listUpstreamsOfKind('imap', 10)), ['u2']);
          assert.deepEqual(ids(await tx.listUpstreamsOfKind('dav', 1)), ['u1']);
          assert.deepEqual(await tx.listUpstreamsOfKind('pop', 10), []);
        });
        const state = { lastRunAt: T0 + 10, lastError: 'upstream said 503', nextRunAt: T0 + 20, failures: 3 };
        await store.transaction(async (tx) => {
          assert.equal(await tx.setUpstreamRunState(A, 'u1', state), true);
          assert.equal(await tx.setUpstreamSecret(A, 'u1', 'resealed'), true);
          // The same mapping again changes nothing.
          await tx.putUpstreamCollection(mapping(A, 'u1', 'https://dav.example/u1/book/', cA));
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.getUpstream(A, 'u1'), upstream(A, 'u1', { ...state, secret: 'resealed' }));
          assert.deepEqual((await tx.listUpstreamCollections(A, 'u1'))[0], mapping(A, 'u1', 'https://dav.example/u1/book/', cA));
          assert.equal((await tx.listUpstreamCollections(A, 'u1')).length, 2);
        });
      }));

      it('another account neither reads nor changes an upstream, nor maps into one', seeded(async (store) => {
        await store.transaction(async (tx) => {
          await tx.createUpstream(upstream(A, 'u1'));
          await tx.putUpstreamCollection(mapping(A, 'u1', 'https://dav.example/u1/book/', cA));
        });
        await store.transaction(async (tx) => {
          assert.equal(await tx.getUpstream(B, 'u1'), undefined);
          assert.deepEqual(await tx.listUpstreams(B), []);
          assert.deepEqual(await tx.listUpstreamCollections(B, 'u1'), []);
          assert.equal(await tx.setUpstreamSecret(B, 'u1', 'stolen'), false);
          assert.equal(await tx.setUpstreamRunState(B, 'u1', { lastRunAt: 1, lastError: 'x', nextRunAt: 1, failures: 9 }), false);
          assert.equal(await tx.deleteUpstream(B, 'u1'), false);
        });
        // A mapping that names another account's upstream, or another account's collection, is refused whole.
        await assert.rejects(store.transaction((tx) => tx.putUpstreamCollection(mapping(B, 'u1', 'https://dav.example/u1/other/', cB))));
        await assert.rejects(store.transaction((tx) => tx.putUpstreamCollection(mapping(A, 'u1', 'https://dav.example/u1/other/', cB))));
        await assert.rejects(store.transaction((tx) => tx.putUpstreamCollection(mapping(B, 'u1', 'https://dav.example/u1/book/', cA))));
        await read(store, async (tx) => {
          assert.deepEqual(await tx.getUpstream(A, 'u1'), upstream(A, 'u1'));
          assert.deepEqual(await tx.listUpstreamCollections(A, 'u1'), [mapping(A, 'u1', 'https://dav.example/u1/book/', cA)]);
        });
      }));

      it('deleting an upstream forgets its mappings; deleting its device forgets it; deleting a collection forgets the mappings into it', seeded(async (store) => {
        await store.transaction(async (tx) => {
          await tx.createUpstream(upstream(A, 'u1'));
          await tx.createUpstream(upstream(A, 'u2', { deviceId: laptop }));
          await tx.putUpstreamCollection(mapping(A, 'u1', 'https://dav.example/u1/book/', cA));
          await tx.putUpstreamCollection(mapping(A, 'u2', 'https://dav.example/u2/book/', cA));
          await tx.putUpstreamCollection(mapping(A, 'u2', 'https://dav.example/u2/cal/', cA2));
        });
        await store.transaction(async (tx) => {
          assert.equal(await tx.deleteUpstream(A, 'u1'), true);
          assert.equal(await tx.deleteUpstream(A, 'u1'), false);
          assert.equal(await tx.getDevice(A, phone) !== undefined, true, 'the device stays: the hub removes it');
          // Made again under the same id, it has none of the old mappings.
          await tx.createUpstream(upstream(A, 'u1'));
          assert.deepEqual(await tx.listUpstreamCollections(A, 'u1'), []);
          assert.equal(await tx.deleteCollection(A, cA), true);
          assert.deepEqual(await tx.listUpstreamCollections(A, 'u2'), [mapping(A, 'u2', 'https://dav.example/u2/cal/', cA2)]);
          assert.equal(await tx.deleteDevice(A, laptop), true);
          assert.equal(await tx.getUpstream(A, 'u2'), undefined);
          assert.deepEqual(await tx.listUpstreamCollections(A, 'u2'), []);
          assert.deepEqual(ids(await tx.listUpstreams(A)), ['u1']);
        });
        // An upstream needs its device.
        await assert.rejects(store.transaction((tx) => tx.createUpstream(upstream(A, 'u3', { deviceId: 'nobody' }))));
      }));
    });

    // docs/protocol.md §10.7: sends by client id, per account.
    describe('mail sends', () => {
      const send = (accountId: string, clientId: string, over: Partial<MailSendRow> = {}): MailSendRow => ({
        accountId,
        clientId,
        state: 'sending',
        upstreamId: 'u1',
        messageId: `<${clientId}@example.org>`,
        startedAt: T0,
        sentAt: null,
        accepted: [],
        rejected: [],
        response: null,
        error: null,
        sentFolder: null,
        ...over,
      });

      it('a send is kept by account and client id, replaced when written again, and apart from another account’s with the same id', seeded(async (store) => {
        const long = 'k'.repeat(256);
        await store.transaction(async (tx) => {
          await tx.putMailSend(send(A, 'c1'));
          await tx.putMailSend(send(B, 'c1', { upstreamId: 'u9', messageId: '<b@example.org>' }));
          await tx.putMailSend(send(A, long, { state: 'failed', error: '550 no such user' }));
        });
        assert.deepEqual(await read(store, (tx) => tx.getMailSend(A, 'c1')), send(A, 'c1'));
        const sent = send(A, 'c1', { state: 'sent', sentAt: T0 + 1, accepted: ['ben@example.org', 'é@example.org'], rejected: [{ address: 'x@example.org', reply: '550 5.1.1 no such user' }], response: '250 OK: queued', sentFolder: 'Sent' });
        await store.transaction((tx) => tx.putMailSend(sent));
        assert.deepEqual(await read(store, (tx) => tx.getMailSend(A, 'c1')), sent);
        assert.deepEqual(await read(store, (tx) => tx.getMailSend(B, 'c1')), send(B, 'c1', { upstreamId: 'u9', messageId: '<b@example.org>' }));
        assert.equal((await read(store, (tx) => tx.getMailSend(A, long)))?.error, '550 no such user');
        assert.equal(await read(store, (tx) => tx.getMailSend(A, 'C1')), undefined, 'client ids are compared exactly');
        assert.equal(await read(store, (tx) => tx.getMailSend(B, long)), undefined);
      }));
    });

    // docs/design.md § Kinds and § Blobs.
    describe('kinds and blobs', () => {
      it('a collection may be of any kind: the hub, not the store, checks it is registered', seeded(async (store) => {
        await store.transaction((tx) => tx.createCollection(collectionRow(A, 'coll-bm', 'bookmarks', { kind: 'bookmarks' })));
        assert.equal((await read(store, (tx) => tx.getCollection(A, 'coll-bm')))?.kind, 'bookmarks');
      }));

      it('putBlob keeps bytes once per account under their SHA-256; getBlob answers them exactly, and only to their account', seeded(async (store) => {
        const bytes = Uint8Array.from([0, 255, 1, 254, 0, 13, 10, 0x80, 0xc3, 0x28]);
        const expected = createHash('sha256').update(bytes).digest('hex');
        await store.transaction(async (tx) => {
          assert.equal(await tx.putBlob(A, bytes), expected);
          assert.equal(await tx.putBlob(A, Uint8Array.from(bytes)), expected, 'the same bytes again');
          await tx.putBlob(B, bytes);
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.getBlob(A, expected), bytes);
          assert.deepEqual(await tx.blobUsage(A), { count: 1, bytes: bytes.length }, 'stored once');
          assert.deepEqual(await tx.blobUsage(B), { count: 1, bytes: bytes.length }, 'each account holds its own');
          assert.equal(await tx.getBlob(A, '0'.repeat(64)), undefined);
        });
        await read(store, (tx) => tx.purgeTombstones(B, T0));
        assert.equal(await read(store, (tx) => tx.getBlob(B, expected)), undefined, 'nothing of B names it: swept');
        assert.deepEqual(await read(store, (tx) => tx.getBlob(A, expected)), bytes, 'B’s purge leaves A’s blobs');
        await read(store, (tx) => tx.purgeTombstones(A, T0));
        assert.deepEqual(await read(store, (tx) => tx.blobUsage(A)), { count: 0, bytes: 0 });
      }));

      it('putBlob refuses more than blobBytesMax and stores nothing', seeded(async (store) => {
        await assert.rejects(store.transaction((tx) => tx.putBlob(A, new Uint8Array(limits.blobBytesMax + 1))), /at most/);
        assert.deepEqual(await read(store, (tx) => tx.blobUsage(A)), { count: 0, bytes: 0 });
      }));

      it('a large version body is one blob however many versions hold it; small ones stay inline; purges sweep what no kept version names', seeded(async (store) => {
        const big = (fill: string) => `BEGIN:VCARD\r\nNOTE:${fill.repeat(limits.versionBlobBytesMin)}\r\nEND:VCARD\r\n`;
        const bytes = (data: string) => Buffer.byteLength(data, 'utf8');
        const body = big('é');
        const v1 = await put(store, A, cA, 'a', { data: body, etag: 'e-1' }, T0 + 10);
        // A change of the item's metadata only (its title), then a version a device sent, with the same body.
        const v2 = await put(store, A, cA, 'a', { data: body, etag: 'e-1', title: 'renamed' }, T0 + 20);
        const sent = await store.transaction(async (tx) => {
          const seq = await tx.nextSeq(A);
          await tx.putItemVersion('a', seq, body, 'e-1', T0 + 30, laptop);
          return seq;
        });
        await put(store, A, cA, 'small', {}, T0 + 10);
        await read(store, async (tx) => {
          assert.deepEqual(await tx.blobUsage(A), { count: 1, bytes: bytes(body) }, 'three versions, one copy of the body');
          for (const seq of [v1.seq, v2.seq]) assert.equal((await tx.getVersionHeld(A, 'a', 'other', seq, seq))?.data, body);
          assert.deepEqual(await tx.getVersionHeld(A, 'a', laptop, sent, sent), { data: body, seq: sent, originDevice: laptop });
          assert.equal((await tx.getItem(A, cA, 'a'))?.data, body);
        });
        const v3 = await put(store, A, cA, 'a', { data: big('x') }, T0 + 300);
        assert.equal((await read(store, (tx) => tx.blobUsage(A))).count, 2);
        // v1 and v2 were superseded before T0 + 100; the sent version only after it (by v3), so it is kept.
        await read(store, (tx) => tx.purgeTombstones(A, T0 + 100));
        assert.equal((await read(store, (tx) => tx.blobUsage(A))).count, 2, 'a kept version still names the first body');
        await read(store, (tx) => tx.purgeTombstones(A, T0 + 400));
        await read(store, async (tx) => {
          assert.deepEqual(await tx.blobUsage(A), { count: 1, bytes: bytes(big('x')) }, 'the first body went with the last version that named it');
          assert.equal((await tx.getVersionHeld(A, 'a', 'other', v3.seq, v3.seq))?.data, big('x'));
        });
        await del(store, v3, T0 + 500);
        await read(store, (tx) => tx.purgeTombstones(A, T0 + 600));
        assert.deepEqual(await read(store, (tx) => tx.blobUsage(A)), { count: 0, bytes: 0 }, 'a purged item takes its blobs');
      }));

      // docs/protocol.md §10.6: a mail part kept from IMAP is a blob its row names, while its item is live.
      it('a mail part row names its blob while its item is live; only for a live item of the account; the purge forgets the rest and sweeps their blobs', seeded(async (store) => {
        const m = await put(store, A, cA, 'm');
        const n = await put(store, A, cA, 'n');
        const [pdf, text] = [Uint8Array.from([0x25, 0x50, 0x44, 0x46, 0, 255, 13, 10]), new TextEncoder().encode('the whole text')];
        const row = (itemId: string, part: string, blobHash: string, bytes: number, over: Partial<MailPartRow> = {}): MailPartRow => ({
          accountId: A, collectionId: cA, itemId, part, remoteId: `7/${itemId}`, blobHash, bytes, contentType: 'application/pdf', fetchedAt: T0, ...over,
        });
        const [pdfHash, textHash] = await store.transaction(async (tx) => {
          const hashes = [await tx.putBlob(A, pdf), await tx.putBlob(A, text)] as const;
          assert.equal(await tx.putMailPart(row('m', '2', hashes[0], pdf.length)), true);
          assert.equal(await tx.putMailPart(row('n', '1', hashes[1], text.length, { contentType: 'text/plain; charset=utf-8' })), true);
          return hashes;
        });
        await read(store, async (tx) => {
          assert.deepEqual(await tx.getMailPart(A, cA, 'm', '2'), row('m', '2', pdfHash, pdf.length));
          assert.equal(await tx.getMailPart(A, cA, 'm', '1'), undefined, 'another part of the item');
          assert.equal(await tx.getMailPart(A, cA2, 'm', '2'), undefined, 'another collection');
          assert.equal(await tx.getMailPart(B, cA, 'm', '2'), undefined, 'another account');
          assert.equal(await tx.putMailPart(row('m', '3', pdfHash, pdf.length, { accountId: B })), false, 'an item of another account');
          assert.equal(await tx.putMailPart(row('nothing', '1', pdfHash, pdf.length)), false, 'no such item');
          assert.equal(await tx.putMailPart(row('m', '3', pdfHash, pdf.length, { collectionId: cA2 })), false, 'not in that collection');
        });
        // Put again, it replaces the row (the message was read again under a new UIDVALIDITY).
        await read(store, (tx) => tx.putMailPart(row('m', '2', pdfHash, pdf.length, { remoteId: '8/1', fetchedAt: T0 + 5 })));
        assert.equal((await read(store, (tx) => tx.getMailPart(A, cA, 'm', '2')))?.remoteId, '8/1');
        await read(store, (tx) => tx.purgeTombstones(A, T0));
        assert.deepEqual(await read(store, (tx) => tx.blobUsage(A)), { count: 2, bytes: pdf.length + text.length }, 'rows of live items keep their blobs');
        // Deleted, and long before its tombstone may be purged: its part goes at the next purge, with its blob.
        await del(store, n, T0 + 10);
        assert.equal(await read(store, (tx) => tx.putMailPart(row('n', '2', textHash, text.length))), false, 'a deleted item takes no part');
        await read(store, (tx) => tx.purgeTombstones(A, T0));
        await read(store, async (tx) => {
          assert.equal(await tx.getMailPart(A, cA, 'n', '1'), undefined);
          assert.equal(await tx.getBlob(A, textHash), undefined, 'its blob swept');
          assert.deepEqual(await tx.getBlob(A, pdfHash), pdf, 'a live item keeps its part');
        });
        await del(store, m, T0 + 20);
        await read(store, (tx) => tx.purgeTombstones(A, T0 + 30));
        assert.deepEqual(await read(store, (tx) => tx.blobUsage(A)), { count: 0, bytes: 0 }, 'a purged item takes its parts');
      }));
    });
  });
}
