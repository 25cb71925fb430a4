import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startPgCluster, withClient, type PgCluster } from '../../../test/support/postgres.js';
import { storeConformance, type StoreUnderTest } from '../conformance.js';
import { openPostgresStore, postgresDefaults } from './postgres-store.js';

// The shared store suite on a throwaway PostgreSQL cluster, a database per test. A dying connection is
// every backend of the test's database ended by the server (pg_terminate_backend), as when PostgreSQL
// restarts or a network path breaks.
let cluster: PgCluster;
before(async () => {
  cluster = await startPgCluster();
});
after(() => cluster.stop());

storeConformance('postgres', async () => {
  const url = await cluster.createDatabase();
  const database = new URL(url).pathname.slice(1);
  const sut: StoreUnderTest = {
    store: await openPostgresStore(url),
    async reopen(next) {
      await sut.store.close();
      return (sut.store = await openPostgresStore(url, { ...postgresDefaults, ...next }));
    },
    close: () => sut.store.close(),
    async breakConnection() {
      await withClient(cluster.url, (c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]));
    },
  };
  return sut;
});

// What the shared suite cannot say with one store: two processes (two stores on one database) lease a
// name from each other, and a process that dies holding it (its connection ended) gives it up.
test('tryExclusive is exclusive across stores on one database, and a holder whose connection dies releases it', async () => {
  const url = await cluster.createDatabase();
  const one = await openPostgresStore(url);
  const two = await openPostgresStore(url);
  try {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = () => {};
    const holding = new Promise<void>((resolve) => (started = resolve));
    const running = one.tryExclusive('purge', async () => {
      started();
      await held;
    });
    await holding;
    assert.equal(await two.tryExclusive('purge', async () => assert.fail('ran while the other process held the name')), false);
    // The holder's lease connection dies, as with a kill -9 of its process: PostgreSQL drops the lock.
    await withClient(cluster.url, (c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`));
    let ran = false;
    for (let i = 0; i < 50 && !ran; i++) {
      ran = await two.tryExclusive('purge', async () => undefined);
      if (!ran) await delay(100);
    }
    assert.ok(ran, 'the other process takes the name over');
    release();
    await running;
    assert.equal(await one.tryExclusive('purge', async () => undefined), true, 'the first store carries on with a new connection');
  } finally {
    await one.close();
    await two.close();
  }
});

// Reads are sent behind the account's lock and BEGIN without waiting for their answers
// (account-gate.ts); the server still runs them after the lock is granted, so a transaction whose first
// call is a read, started while another process holds the account's turn, reads what that one committed.
test('a transaction opening with a read, while another process holds the account, reads what that one committed', async () => {
  const url = await cluster.createDatabase();
  const one = await openPostgresStore(url);
  const two = await openPostgresStore(url);
  try {
    await one.transaction((tx) => tx.createAccount({ id: 'acct', name: 'acct', passwordHash: 'h', createdAt: 0, credentialEpoch: 0, email: null }));
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let tookTurn = () => {};
    const inTurn = new Promise<void>((resolve) => (tookTurn = resolve));
    const writer = one.transaction(async (tx) => {
      await tx.nextSeq('acct');
      tookTurn();
      await held;
      return tx.nextSeq('acct');
    });
    await inTurn;
    const reader = two.transaction(async (tx) => [await tx.currentSeq('acct'), await tx.tombstoneFloor('acct')]);
    await delay(200); // the reader's lock, BEGIN and read are on the wire, waiting for the turn
    release();
    assert.equal(await writer, 2);
    assert.deepEqual(await reader, [2, 0], 'the read ran after the writer committed, in a snapshot taken after the turn came');
  } finally {
    await one.close();
    await two.close();
  }
});

// A write is never sent ahead of BEGIN's answer, so only reads may go out early: issuePushTokens
// writes, though its name starts like a question ("is…"), and text it cannot store is refused.
test('issuePushTokens is a write: text holding U+0000 is refused, not answered as a read', async () => {
  const store = await openPostgresStore(await cluster.createDatabase());
  try {
    await assert.rejects(
      store.transaction((tx) => tx.issuePushTokens('acct\u0000', [{ deviceId: 'device', entries: [{ collectionId: 'c', itemId: 'i', seq: 1 }] }], 0)),
      /cannot be stored/,
    );
  } finally {
    await store.close();
  }
});
