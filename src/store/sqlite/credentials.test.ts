import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openSqliteStore } from './sqlite-store.js';

/** The store's side of credentials: the password trigger, known clients, and what other processes wrote. */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-credentials-'));
const store = openSqliteStore(join(dir, 'syncpoint.db'));
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const account = { id: 'acc1', name: 'alice', passwordHash: 'hash-1', createdAt: 1, credentialEpoch: 0, email: null };

test('a password change raises the credential epoch and ends the sessions, in the same transaction; an unchanged hash does neither', async () => {
  await store.transaction(async (tx) => {
    await tx.createAccount(account);
    await tx.createWebSession({ idHash: 's1', accountId: 'acc1', csrf: 'c', createdAt: 1, expiresAt: 10_000 });
  });
  await store.transaction((tx) => tx.setPassword('acc1', 'hash-1'));
  assert.equal((await store.transaction((tx) => tx.getAccount('acc1')))?.credentialEpoch, 0);
  assert.ok(await store.transaction((tx) => tx.getWebSession('s1', 2)));
  await store.transaction((tx) => tx.setPassword('acc1', 'hash-2'));
  assert.equal((await store.transaction((tx) => tx.getAccount('acc1')))?.credentialEpoch, 1);
  assert.equal(await store.transaction((tx) => tx.getWebSession('s1', 2)), undefined);
});

test('known clients: the newest 32 per account are kept, and only those seen since the given time count', async () => {
  for (let i = 0; i < 40; i++) await store.transaction((tx) => tx.rememberClient('acc1', `fp${i}`, 100 + i, 32));
  const known = await Promise.all(Array.from({ length: 40 }, (_, i) => store.transaction((tx) => tx.isKnownClient('acc1', `fp${i}`, 0))));
  assert.deepEqual(known, [...Array(8).fill(false), ...Array(32).fill(true)]);
  assert.equal(await store.transaction((tx) => tx.isKnownClient('acc1', 'fp39', 140)), false, 'older than `since`');
  assert.equal(await store.transaction((tx) => tx.isKnownClient('other', 'fp39', 0)), false, 'another account’s');
});

test('foreignWrites moves for another connection’s commit, not for this one’s', async () => {
  const before = store.foreignWrites();
  await store.transaction((tx) => tx.setPassword('acc1', 'hash-3'));
  assert.equal(store.foreignWrites(), before);
  const other = openSqliteStore(join(dir, 'syncpoint.db'));
  await other.transaction((tx) => tx.setPassword('acc1', 'hash-4'));
  await other.close();
  assert.notEqual(store.foreignWrites(), before);
});
