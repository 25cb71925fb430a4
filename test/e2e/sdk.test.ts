import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HttpTransport, reapDeleted, recordLocalDelete, recordLocalPut, SyncClient, type Replica, type Transport } from '../../src/sdk/index.js';
import { openSqliteReplica } from '../../src/sdk/node/index.js';
import { sqliteCommitWatcher } from '../support/commit-watcher.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/** The SDK's own rules, through the real server: re-initialization, edit-beats-delete, refused items. */

let server: TestServer;
const work = mkdtempSync(join(tmpdir(), 'syncpoint-sdk-'));
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

let replicas = 0;
async function sdkDevices() {
  const account = await newAccount(server);
  const transport = new HttpTransport({ baseUrl: server.url, credentials: { user: account.accountName, password: account.password } });
  const open = (id: string, options: { commandsMax?: number; windowSize?: number; exchangesMax?: number; transport?: Transport } = {}) => {
    const path = join(work, `replica-${++replicas}.db`);
    const replica = openSqliteReplica(path);
    const client = new SyncClient({ transport, replica, device: { id }, ...options });
    return { replica, path, client, sync: () => client.syncCollection(account.contacts) };
  };
  return { ...account, transport, open };
}

/** A transport that loses the next answer once armed: the server commits the exchange, the device never hears. */
function losingAnswers(inner: Transport) {
  let armed = false;
  const transport: Transport = {
    sync: async (request) => {
      const response = await inner.sync(request);
      if (!armed) return response;
      armed = false;
      throw new Error('answer lost');
    },
    listCollections: () => inner.listCollections(),
    createCollection: (input) => inner.createCollection(input),
  };
  return { transport, loseNextAnswer: () => (armed = true) };
}

/** What a replica holds, by FN, for present items. */
function names(replica: Replica, collectionId: string): string[] {
  return replica
    .transaction((tx) => tx.all(collectionId))
    .filter((i) => i.data !== null)
    .map((i) => /FN:([^\r]*)/.exec(i.data as string)?.[1] ?? '?')
    .sort();
}

test('invalid sync key: the SDK re-initializes, keeps its unsent edits, and drops what the server deleted', async () => {
  const { contacts, open } = await sdkDevices();
  const a = open('a');
  const b = open('b');
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'one', vcard('u1', 'One'));
    recordLocalPut(tx, contacts, 'two', vcard('u2', 'Two'));
    recordLocalPut(tx, contacts, 'three', vcard('u3', 'Three'));
  });
  await a.sync();
  await b.sync();
  assert.deepEqual(names(b.replica, contacts), ['One', 'Three', 'Two']);

  // While B's state goes bad (here: a key the server never issued), A deletes "two" and B edits "one"
  // and adds "four" without syncing.
  const [two] = a.replica.transaction((tx) => tx.all(contacts).filter((i) => i.localId === 'two'));
  a.replica.transaction((tx) => recordLocalDelete(tx, contacts, (two as { localId: string }).localId));
  await a.sync();
  const bOne = b.replica.transaction((tx) => tx.all(contacts).find((i) => /FN:One/.test(i.data ?? '')));
  assert.ok(bOne);
  b.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, bOne.localId, vcard('u1', 'One edited on B'));
    recordLocalPut(tx, contacts, 'four', vcard('u4', 'Four'));
    tx.setSyncKey(contacts, 999);
  });
  const summary = await b.sync();
  assert.equal(summary.reinitialized, true);
  b.replica.transaction((tx) => reapDeleted(tx, contacts));
  assert.deepEqual(names(b.replica, contacts), ['Four', 'One edited on B', 'Three'], 'edits kept, the deleted item dropped, nothing twice');
  await a.sync();
  assert.deepEqual(names(a.replica, contacts), ['Four', 'One edited on B', 'Three']);
  const fresh = open('fresh');
  await fresh.sync();
  assert.deepEqual(names(fresh.replica, contacts), ['Four', 'One edited on B', 'Three'], 'the server holds exactly that');
});

test('an edit of an item deleted elsewhere is kept as a conflict record; a delete after an edit deletes it', async () => {
  const { accountId, contacts, open } = await sdkDevices();
  const a = open('a');
  const b = open('b');
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'x', vcard('ux', 'X'));
    recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y'));
  });
  await a.sync();
  await b.sync();
  const local = (r: Replica, fn: string) => r.transaction((tx) => tx.all(contacts).find((i) => i.data?.includes(`FN:${fn}`))?.localId as string);
  // x: the delete arrives first, then the edit. y: the edit arrives first, then the delete.
  a.replica.transaction((tx) => recordLocalDelete(tx, contacts, 'x'));
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, local(b.replica, 'X'), vcard('ux', 'X edited')));
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, local(b.replica, 'Y'), vcard('uy', 'Y edited')));
  await a.sync();
  await b.sync();
  a.replica.transaction((tx) => recordLocalDelete(tx, contacts, 'y'));
  await a.sync();
  await b.sync();
  await a.sync();
  for (const r of [a.replica, b.replica]) r.transaction((tx) => reapDeleted(tx, contacts));
  // x: B's edit met a delete (docs/design.md § Recovery: a pending DELETE drops the record) and is kept as a conflict
  // record. y: A deleted a record B had edited since A last synced; A ranks first (it was seen first),
  // so the delete wins and B's edit is kept as a conflict record too.
  assert.deepEqual(names(b.replica, contacts), []);
  const conflicts = await server.hub.listConflicts(accountId);
  const kept = conflicts.map((c) => [c.reason, /FN:([^\r]*)/.exec(c.data)?.[1], c.lostBy]).sort();
  assert.deepEqual(kept, [['deleteLost', 'Y edited', 'b'], ['deletedElsewhere', 'X edited', 'b']]);
  assert.deepEqual(names(a.replica, contacts), names(b.replica, contacts));
});

test('a refused item is reported, not resent until edited, and goes up once fixed', async () => {
  const { contacts, open } = await sdkDevices();
  const a = open('a');
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'good', vcard('ug', 'Good'));
    recordLocalPut(tx, contacts, 'bad', 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ub\r\nEND:VCARD\r\n');
  });
  const first = await a.sync();
  assert.deepEqual(first.rejected.map((r) => [r.localId, r.status]), [['bad', 'invalidItem']]);
  const second = await a.sync();
  assert.equal(second.sent, 0, 'the refused version is not sent again');
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'bad', vcard('ub', 'Fixed')));
  const third = await a.sync();
  assert.equal(third.sent, 1);
  assert.deepEqual(third.rejected, []);
  const fresh = open('fresh');
  await fresh.sync();
  assert.deepEqual(names(fresh.replica, contacts), ['Fixed', 'Good']);
});

/** The local item holding the card named `fn`. */
const localOf = (replica: Replica, collectionId: string, fn: string) =>
  replica.transaction((tx) => tx.all(collectionId).find((i) => i.data?.includes(`FN:${fn}\r`))?.localId as string);

test('an edit made from a version older than one the device was sent meanwhile is a concurrent change, not a silent overwrite', async () => {
  const { accountId, contacts, open } = await sdkDevices();
  const a = open('a');
  // One command per exchange: B receives A's version of X in the exchange that sends its edit of Y,
  // and keeps it out because its own edit of X is still waiting to go.
  const b = open('b', { commandsMax: 1 });
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'x', vcard('ux', 'X'));
    recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y'));
  });
  await a.sync();
  await b.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X by A')));
  await a.sync();
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, localOf(b.replica, contacts, 'Y'), vcard('uy', 'Y by B')));
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, localOf(b.replica, contacts, 'X'), vcard('ux', 'X by B')));
  await b.sync();
  await a.sync();
  // Found by the simulator's causal check: B's edit used to replace A's, which B never saw, with no
  // trace. Now priority decides (A ranks first) and the loser is kept; B ends with the truth.
  const kept = (await server.hub.listConflicts(accountId)).map((c) => [/FN:([^\r]*)/.exec(c.data)?.[1], c.reason, c.lostBy]);
  assert.deepEqual(kept, [['X by B', 'priority', 'b']]);
  for (const r of [a.replica, b.replica]) r.transaction((tx) => reapDeleted(tx, contacts));
  assert.deepEqual(names(b.replica, contacts), ['X by A', 'Y by B'], 'B is sent the version it kept out again');
  assert.deepEqual(names(a.replica, contacts), ['X by A', 'Y by B']);
});

test('a delete of a version the device never had, sent during a re-initialization, does not drop the newer version silently', async () => {
  const { accountId, contacts, open } = await sdkDevices();
  const a = open('a');
  // One item per page: B's delete goes out while its initial sync has not reached X yet.
  const b = open('b', { windowSize: 1 });
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'x', vcard('ux', 'X'));
    recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y'));
  });
  await a.sync();
  await b.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X by A')));
  await a.sync();
  b.replica.transaction((tx) => {
    recordLocalDelete(tx, contacts, localOf(b.replica, contacts, 'X'));
    tx.setSyncKey(contacts, 999);
  });
  const summary = await b.sync();
  assert.equal(summary.reinitialized, true);
  await a.sync();
  const kept = (await server.hub.listConflicts(accountId)).map((c) => [/FN:([^\r]*)/.exec(c.data)?.[1], c.reason]);
  for (const r of [a.replica, b.replica]) r.transaction((tx) => reapDeleted(tx, contacts));
  // A ranks first: A's version stays, and B, which deleted an older one, gets it back.
  assert.deepEqual(kept, []);
  assert.deepEqual(names(b.replica, contacts), ['X by A', 'Y']);
  assert.deepEqual(names(a.replica, contacts), ['X by A', 'Y']);
});

test('a three-way merge takes the version the edit was made from as the common one, not whatever the device was sent', async () => {
  const { accountId, contacts, open } = await sdkDevices();
  const x = (note: string, title?: string) =>
    ['BEGIN:VCARD', 'VERSION:3.0', 'UID:ux', 'FN:X', ...(title ? [`TITLE:${title}`] : []), `NOTE:${note}`, 'END:VCARD', ''].join('\r\n');
  const a = open('a');
  // One exchange per call, so that A can act between B's exchanges.
  const b = open('b', { commandsMax: 1, exchangesMax: 1 });
  const bSync = () => b.sync().catch((err: Error) => assert.match(err.message, /did not settle/));
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'x', x('base'));
    recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y'));
  });
  await a.sync();
  for (let i = 0; i < 3; i++) await bSync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', x('by A')));
  await a.sync();
  // B edits the same property of the version it holds; it is sent A's version (and keeps it out)
  // while its edit of Y goes up, and A then sets another property.
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, localOf(b.replica, contacts, 'Y'), vcard('uy', 'Y by B')));
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, localOf(b.replica, contacts, 'X'), x('by B')));
  await bSync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', x('by A', 'set by A')));
  await a.sync();
  for (let i = 0; i < 3; i++) await bSync();
  await a.sync();
  // Merged from A's version as if B had seen it, B's NOTE would replace A's with no trace. The common
  // version is unknown, so priority decides (A first) and B's edit is kept.
  const kept = (await server.hub.listConflicts(accountId)).map((c) => [c.data, c.lostBy]);
  assert.deepEqual(kept, [[x('by B'), 'b']]);
  const fresh = open('fresh');
  await fresh.sync();
  assert.ok(fresh.replica.transaction((tx) => tx.all(contacts)).some((i) => i.data === x('by A', 'set by A')));
});

test('an add whose answer was lost, deleted here and re-sent after a re-initialization, does not delete a version the device never saw', async () => {
  const { accountId, contacts, transport, open } = await sdkDevices();
  const a = open('a');
  await a.sync();
  const lossy = losingAnswers(transport);
  const b = open('b', { transport: lossy.transport });
  await b.sync();
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X')));
  lossy.loseNextAnswer();
  await assert.rejects(b.sync(), /answer lost/);
  // A edits X; B's user deletes X, which B only ever held as it added it; then B's state goes bad.
  await a.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, localOf(a.replica, contacts, 'X'), vcard('ux', 'X by A')));
  await a.sync();
  b.replica.transaction((tx) => {
    recordLocalDelete(tx, contacts, 'x');
    tx.setSyncKey(contacts, 999);
  });
  assert.equal((await b.sync()).reinitialized, true);
  await a.sync();
  for (const r of [a.replica, b.replica]) r.transaction((tx) => reapDeleted(tx, contacts));
  // Found by the simulator (seed 1300100): the re-sent add was answered with the etag of A's version,
  // so B's delete named it and deleted it as seen, with no trace. It is a delete of B's own version,
  // concurrent with A's edit: A ranks first, so A's version stays and comes back to B.
  assert.deepEqual(await server.hub.listConflicts(accountId), []);
  assert.deepEqual(names(a.replica, contacts), ['X by A']);
  assert.deepEqual(names(b.replica, contacts), ['X by A']);
});

test('an add whose answer was lost, edited here and re-sent after a re-initialization, lands on the item it made', async () => {
  const { accountId, contacts, transport, open } = await sdkDevices();
  // No UID, email or phone: nothing but the add's client id ties the edit to the item the add made.
  const mary = (note: string) => ['BEGIN:VCARD', 'VERSION:3.0', 'FN:Mary Jones', 'N:Jones;Mary;;;', `NOTE:${note}`, 'END:VCARD', ''].join('\r\n');
  const a = open('a');
  await a.sync();
  const lossy = losingAnswers(transport);
  const b = open('b', { transport: lossy.transport });
  await b.sync();
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, 'm', mary('by B')));
  lossy.loseNextAnswer();
  await assert.rejects(b.sync(), /answer lost/);
  await a.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, localOf(a.replica, contacts, 'Mary Jones'), mary('by A')));
  await a.sync();
  b.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'm', mary('by B, edited'));
    tx.setSyncKey(contacts, 999);
  });
  assert.equal((await b.sync()).reinitialized, true);
  await a.sync();
  // Found by the simulator (seed 1300408): B's edited add went out alone and made a second Mary Jones.
  // Now the add as first sent goes out again and lands on its item, and the edit follows as a change
  // of the version B added, concurrent with A's edit: A ranks first, and B's edit is kept.
  const kept = (await server.hub.listConflicts(accountId)).map((c) => [c.data, c.reason, c.lostBy]);
  assert.deepEqual(kept, [[mary('by B, edited'), 'priority', 'b']]);
  const fresh = open('fresh');
  await fresh.sync();
  const notes = (r: Replica) => r.transaction((tx) => tx.all(contacts)).filter((i) => i.data !== null).map((i) => i.data);
  assert.deepEqual(notes(fresh.replica), [mary('by A')]);
  assert.deepEqual(notes(b.replica), [mary('by A')]);
});

test('an edit made while a change was in flight and merged by the server is weighed against the merge, not written over it', async () => {
  const { accountId, contacts, transport, open } = await sdkDevices();
  const x = (note: string, title?: string) =>
    ['BEGIN:VCARD', 'VERSION:3.0', 'UID:ux', 'FN:X', ...(title ? [`TITLE:${title}`] : []), `NOTE:${note}`, 'END:VCARD', ''].join('\r\n');
  const a = open('a');
  // B's user edits X again while B's exchange is on the wire.
  let during: (() => void) | undefined;
  const b = open('b', {
    transport: {
      sync: (request) => {
        during?.();
        during = undefined;
        return transport.sync(request);
      },
      listCollections: () => transport.listCollections(),
      createCollection: (input) => transport.createCollection(input),
    },
  });
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', x('base')));
  await a.sync();
  await b.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', x('by A')));
  await a.sync();
  const bx = localOf(b.replica, contacts, 'X');
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, bx, x('base', 'by B')));
  during = () => b.replica.transaction((tx) => recordLocalPut(tx, contacts, bx, x('by B', 'by B')));
  // The server merges B's TITLE with A's NOTE; B's second edit, made from what B sent, goes next.
  await b.sync();
  await b.sync();
  await a.sync();
  // Found by the simulator (seed 1401119): B's second edit named the merged version, which B never
  // saw, and replaced A's NOTE with no trace. It is concurrent with the merge: priority decides (B
  // against the server's own merge) and the merge is kept.
  const kept = (await server.hub.listConflicts(accountId)).map((c) => [c.data, c.lostBy, c.wonBy]);
  assert.deepEqual(kept, [[x('by A', 'by B'), null, 'b']]);
  const fresh = open('fresh');
  await fresh.sync();
  const data = (r: Replica) => r.transaction((tx) => tx.all(contacts)).filter((i) => i.data !== null).map((i) => i.data);
  assert.deepEqual(data(fresh.replica), [x('by B', 'by B')]);
  assert.deepEqual(data(a.replica), [x('by B', 'by B')]);
});

test('an edit of an added item that lost on priority, made before the winning version arrives, does not replace it silently', async () => {
  const { accountId, contacts, open } = await sdkDevices();
  const a = open('a');
  // One item per page and one exchange per call: the winning version of X is still to come when B's user edits X.
  const b = open('b', { windowSize: 1, exchangesMax: 1 });
  const bSync = () => b.sync().catch((err: Error) => assert.match(err.message, /did not settle/));
  await a.sync();
  await bSync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y')));
  await a.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X by A')));
  await a.sync();
  // B adds the same record (same UID): it is A's item, which B has not received yet, and A ranks first.
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X by B')));
  await bSync();
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, 'x', vcard('ux', 'X by B, edited')));
  for (let i = 0; i < 3; i++) await bSync();
  await a.sync();
  // Found by the simulator (seed 1402163): B's edit went out without an etag, and as B had not been
  // sent X yet, it replaced A's version with no trace. It names the version B added, so it is
  // concurrent with A's: A ranks first, and both of B's versions are kept.
  const kept = (await server.hub.listConflicts(accountId)).map((c) => `${/FN:([^\r]*)/.exec(c.data)?.[1]} lost by ${c.lostBy}`);
  assert.deepEqual(kept.sort(), ['X by B lost by b', 'X by B, edited lost by b']);
  for (const r of [a.replica, b.replica]) r.transaction((tx) => reapDeleted(tx, contacts));
  assert.deepEqual(names(a.replica, contacts), ['X by A', 'Y']);
  assert.deepEqual(names(b.replica, contacts), ['X by A', 'Y']);
});

/**
 * A adds X; B (one command per exchange, as in the simulator's runs) adds its own X with the same UID,
 * which loses to A's on priority (A ranks first), and never hears the answer; then a push notice brings
 * A's X to B under a row of its own. Returns the devices and A's X, for B's user to edit next.
 */
async function lostTwinAddThenPushed() {
  const { accountId, contacts, transport, open } = await sdkDevices();
  const a = open('a');
  await a.sync();
  const lossy = losingAnswers(transport);
  const b = open('b', { transport: lossy.transport, commandsMax: 1 });
  await b.sync();
  a.replica.transaction((tx) => recordLocalPut(tx, contacts, 'xa', vcard('ux', 'X')));
  await a.sync();
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, 'xb', vcard('ux', 'X by B')));
  lossy.loseNextAnswer();
  await assert.rejects(b.sync(), /answer lost/);
  const xa = a.replica.transaction((tx) => tx.get(contacts, 'xa'));
  assert.ok(xa?.serverId && xa.data && xa.etag);
  const seq = b.replica.transaction((tx) => tx.horizon(contacts)) + 1;
  const command = { op: 'add' as const, serverId: xa.serverId, data: xa.data, etag: xa.etag };
  assert.equal(b.client.applyNotice({ type: 'change', token: 1, collectionId: contacts, seq, command }), 'applied');
  return { accountId, contacts, open, a, b, xa };
}

test('an add that lost to a twin, re-sent after a re-initialization, is answered conflict again and the device ends with the truth', async () => {
  const { accountId, contacts, open, a, b, xa } = await lostTwinAddThenPushed();
  // B's user edits A's X; then B's state goes bad.
  b.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, xa.serverId as string, vcard('ux', 'X edited on B'));
    tx.setSyncKey(contacts, 999);
  });
  const summary = await b.sync();
  assert.equal(summary.reinitialized, true);
  // Found by the simulator (seed 1400763): the add record answered the re-sent add `ok` with the etag of
  // B's version, which the server never stored; B then held it as the server's, and never got A's.
  assert.deepEqual(
    summary.conflicts.map((c) => c.localId),
    ['xb'],
  );
  assert.ok((await server.hub.listConflicts(accountId)).some((c) => c.data === vcard('ux', 'X by B')));
  const fresh = open('fresh');
  await fresh.sync();
  await a.sync();
  assert.deepEqual(names(b.replica, contacts), names(fresh.replica, contacts));
  assert.deepEqual(names(a.replica, contacts), names(fresh.replica, contacts));
});

test('an add that lost to a twin the device was pushed and edited while the add was in flight keeps the edit and ends with the truth', async () => {
  const { accountId, contacts, open, a, b, xa } = await lostTwinAddThenPushed();
  // B's user edits A's X before the add is re-sent.
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, xa.serverId as string, vcard('ux', 'X edited on B')));
  const summary = await b.sync();
  // Found by the simulator (seed 1501000): the re-sent add's `conflict` dropped the pushed row with
  // B's edit in it, and left B holding its own losing version as the server's.
  assert.deepEqual(
    summary.conflicts.map((c) => c.localId),
    ['xb'],
  );
  await b.sync();
  await a.sync();
  assert.ok((await server.hub.listConflicts(accountId)).some((c) => c.data === vcard('ux', 'X by B')));
  const fresh = open('fresh');
  await fresh.sync();
  assert.deepEqual(names(fresh.replica, contacts), ['X edited on B']);
  assert.deepEqual(names(b.replica, contacts), names(fresh.replica, contacts));
  assert.deepEqual(names(a.replica, contacts), names(fresh.replica, contacts));
});

test('an edit made after a merged change was answered, before the merged version arrived, is weighed against the merge', async () => {
  const { accountId, contacts, transport, open } = await sdkDevices();
  const x = (note: string, title?: string) =>
    ['BEGIN:VCARD', 'VERSION:3.0', 'UID:ux', 'FN:X', ...(title ? [`TITLE:${title}`] : []), `NOTE:${note}`, 'END:VCARD', ''].join('\r\n');
  const a = open('a');
  // One change per page: the page that answers B's change carries Y; the merged X comes on the next
  // page, whose answer B loses (the server commits it; B tries again later).
  const lossy = losingAnswers(transport);
  let pages = 0;
  const b = open('b', {
    windowSize: 1,
    transport: {
      sync: async (request) => {
        const response = await lossy.transport.sync(request);
        if (++pages === 3) lossy.loseNextAnswer();
        return response;
      },
      listCollections: () => transport.listCollections(),
      createCollection: (input) => transport.createCollection(input),
    },
  });
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'x', x('base'));
    recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y'));
  });
  await a.sync();
  await b.sync();
  assert.equal(pages, 2);
  a.replica.transaction((tx) => {
    recordLocalPut(tx, contacts, 'x', x('by A'));
    recordLocalPut(tx, contacts, 'y', vcard('uy', 'Y by A'));
  });
  await a.sync();
  const bx = localOf(b.replica, contacts, 'X');
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, bx, x('base', 'by B')));
  // The server merges B's TITLE with A's NOTE and answers `ok` without `seq`; the merge never arrives.
  await assert.rejects(b.sync(), /answer lost/);
  // B's user edits X again, from the data B sent, not from the merge.
  b.replica.transaction((tx) => recordLocalPut(tx, contacts, bx, x('by B', 'by B')));
  await b.sync();
  await a.sync();
  // Found by the simulator (seed 1501880): B's second edit named the merged version, which B never
  // saw, and replaced A's NOTE with no trace. It is concurrent with the merge: priority decides and
  // the merge is kept.
  const kept = (await server.hub.listConflicts(accountId)).map((c) => [c.data, c.lostBy, c.wonBy]);
  assert.deepEqual(kept, [[x('by A', 'by B'), null, 'b']]);
  const fresh = open('fresh');
  await fresh.sync();
  const data = (r: Replica) =>
    r.transaction((tx) => tx.all(contacts)).filter((i) => i.data !== null && i.data.includes('FN:X')).map((i) => i.data);
  assert.deepEqual(data(fresh.replica), [x('by B', 'by B')]);
  assert.deepEqual(data(a.replica), [x('by B', 'by B')]);
});

test('a sync with nothing to send and nothing to get keeps its key and commits nothing, on the device or (SQLite) on the server; the next change moves it again', async () => {
  const { open, contacts } = await sdkDevices();
  const writer = open('writer');
  const poller = open('poller');
  writer.replica.transaction((tx) => recordLocalPut(tx, contacts, 'a', vcard('uid-a', 'A')));
  await writer.sync();
  await poller.sync();
  // The first exchange after an initial sync is recorded, whatever it carries (docs/protocol.md §5.1).
  await poller.sync();
  const key = poller.replica.transaction((tx) => tx.syncKey(contacts));
  const replicaWrote = sqliteCommitWatcher(poller.path);
  const serverWrote = server.database === '' ? sqliteCommitWatcher(join(server.dataDir, 'syncpoint.db')) : undefined;
  for (let i = 0; i < 3; i++) {
    const summary = await poller.sync();
    assert.deepEqual([summary.exchanges, summary.sent, summary.received], [1, 0, 0]);
    assert.equal(poller.replica.transaction((tx) => tx.syncKey(contacts)), key, 'the server answered with the same key');
    assert.equal(replicaWrote(), false, `idle sync ${i} committed a change to the replica`);
    if (serverWrote) assert.equal(serverWrote(), false, `idle sync ${i} committed a change to the server's database`);
  }
  writer.replica.transaction((tx) => recordLocalPut(tx, contacts, 'b', vcard('uid-b', 'B')));
  await writer.sync();
  assert.equal((await poller.sync()).received, 1);
  assert.ok(poller.replica.transaction((tx) => tx.syncKey(contacts)) > key);
  assert.equal(replicaWrote(), true);
  assert.deepEqual(names(poller.replica, contacts), ['A', 'B']);
});
