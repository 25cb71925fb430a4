import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newAppToken, parseAppToken } from '../../src/hub/secrets.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { accountSeq, add, change, collectionIds, del, Device, fetchItem, syncOnce, syncRequest } from '../support/sync.js';

/** Accounts are sealed from each other, and only valid credentials get in. */

let server: TestServer;
let alice: { accountId: string; authorization: string; password: string };
let bob: { accountId: string; authorization: string; password: string };
let aliceCollections: Record<string, string>;
let aliceItems: string[];
let alicePhone: Device;
let aliceSnapshot: Record<string, Record<string, string>>;

before(async () => {
  server = await startTestServer();
  alice = await server.addUser('alice');
  bob = await server.addUser('bob');
  aliceCollections = await collectionIds(server, alice.authorization);
  alicePhone = new Device(server, alice.authorization, 'phone');
  const c = await alicePhone.sync(aliceCollections.contacts as string, {
    commands: [add('a1', vcard('uid-shared', 'Alice’s friend')), add('a2', vcard('uid-a2', 'Another'))],
  });
  const e = await alicePhone.sync(aliceCollections.calendar as string, { commands: [add('e1', vevent('uid-ev', 'Alice’s meeting'))] });
  aliceItems = [...c.results, ...e.results].map((r) => r.serverId as string);
  assert.equal(aliceItems.length, 3);
  aliceSnapshot = snapshotOf(alicePhone);
});
after(async () => {
  await server.stop();
});

function snapshotOf(device: Device): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.values(aliceCollections).map((id) => [id, device.snapshot(id)]));
}

/** Alice's data as a fresh device of hers sees it, and her phone still in step with its keys. */
async function aliceIntact(seq: number) {
  assert.equal(await accountSeq(server, alice.accountId), seq, 'nothing was written to Alice’s account');
  const fresh = new Device(server, alice.authorization, `check-${Math.random().toString(36).slice(2)}`);
  for (const id of Object.values(aliceCollections)) await fresh.pull(id);
  assert.deepEqual(snapshotOf(fresh), aliceSnapshot);
  for (const id of Object.values(aliceCollections)) {
    const r = await alicePhone.sync(id);
    assert.deepEqual(r.commands, [], 'Alice’s phone sees no change');
  }
}

test('another account cannot list, sync, read, change or delete Alice’s collections or items', async () => {
  const seq = await accountSeq(server, alice.accountId);
  const bobCollections = await collectionIds(server, bob.authorization);
  assert.deepEqual(Object.keys(bobCollections).sort(), ['calendar', 'contacts', 'notes', 'tasks']);
  for (const id of Object.values(aliceCollections)) assert.ok(!Object.values(bobCollections).includes(id), 'Bob’s list has none of Alice’s');

  // Sync Alice's collections by id, with every key and every kind of command, from the same device id she uses.
  for (const collectionId of Object.values(aliceCollections)) {
    for (const syncKey of [0, 1, 2]) {
      const r = await syncOnce(server, bob.authorization, 'phone', {
        collectionId,
        syncKey,
        commands: [
          add('evil', vcard('uid-evil', 'Evil')),
          ...aliceItems.flatMap((id) => [fetchItem(id), change(id, vcard('uid-evil2', 'Overwritten')), del(id)]),
        ],
      });
      assert.equal(r.status, 'notFound');
      assert.equal(r.syncKey, 0);
      assert.deepEqual([r.commands, r.results, r.fetched], [[], [], []], 'nothing of Alice’s collection leaks');
    }
  }

  // Address Alice's items from Bob's own collections.
  for (const [name, collectionId] of Object.entries(bobCollections)) {
    const bobDevice = new Device(server, bob.authorization, 'phone');
    const r = await bobDevice.sync(collectionId, {
      commands: aliceItems.flatMap((id) => [fetchItem(id), change(id, name === 'contacts' ? vcard('uid-shared', 'Hijack') : vevent('uid-ev', 'Hijack')), del(id)]),
    });
    assert.equal(r.status, 'ok');
    assert.ok(r.results.length === aliceItems.length * 3);
    for (const res of r.results) assert.equal(res.status, 'notFound', `${name}: ${res.op} ${res.serverId}`);
    assert.deepEqual(r.fetched, []);
    assert.deepEqual(r.commands, []);
  }

  // The same UID in Bob's own collection is Bob's own item.
  const bobContacts = new Device(server, bob.authorization, 'laptop');
  const own = await bobContacts.sync(bobCollections.contacts as string, { commands: [add('mine', vcard('uid-shared', 'Bob’s friend'))] });
  assert.equal(own.results[0]?.status, 'ok');
  assert.ok(!aliceItems.includes(own.results[0]?.serverId as string), 'a new item, not Alice’s');

  // A request naming both Bob's and Alice's collections: Bob's is answered, Alice's is notFound.
  const mixed = await syncRequest(server, bob.authorization, 'tablet', [
    { collectionId: bobCollections.contacts as string, syncKey: 0 },
    { collectionId: aliceCollections.contacts as string, syncKey: 0 },
  ]);
  assert.deepEqual(
    mixed.collections.map((c) => c.status),
    ['ok', 'notFound'],
  );
  assert.deepEqual(
    mixed.collections[0]?.commands.map((c) => (c.op === 'delete' ? null : c.data)),
    [vcard('uid-shared', 'Bob’s friend')],
  );

  await aliceIntact(seq);
});

/** GET the collection list and POST a sync (device "probe", with an Add) with this header; returns the status. */
async function statusWith(authorization: string | undefined): Promise<number> {
  return (await probe(authorization)).status;
}

async function probe(authorization: string | undefined): Promise<{ status: number; collectionStatus?: string }> {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const list = await fetch(`${server.url}/api/v1/collections`, { headers });
  await list.text();
  const sync = await fetch(`${server.url}/api/v1/sync`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ version: 1, device: { id: 'probe' }, collections: [{ collectionId: aliceCollections.contacts, syncKey: 0, commands: [add('x', vcard('uid-x', 'X'))] }] }),
  });
  const body = await sync.json();
  assert.equal(list.status, sync.status, 'GET and POST agree');
  if (sync.status === 401) {
    assert.equal(body.status, 'unauthorized');
    assert.match(sync.headers.get('www-authenticate') ?? '', /^Basic realm="Syncpoint"/);
    return { status: 401 };
  }
  return { status: sync.status, collectionStatus: body.collections?.[0]?.status };
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

test('no or wrong credentials get a 401 and change nothing', async () => {
  const seq = await accountSeq(server, alice.accountId);
  const cases: Array<[string, string | undefined]> = [
    ['no header', undefined],
    ['empty header', ''],
    ['wrong password', basic('alice', 'not-her-password')],
    ['Bob’s password for Alice', basic('alice', bob.password)],
    ['unknown user', basic('mallory', 'whatever')],
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`],
    ['scheme only', 'Basic'],
    ['unknown scheme', `Digest ${Buffer.from(`alice:${alice.password}`).toString('base64')}`],
    ['bearer garbage', 'Bearer not-a-token'],
    ['bearer password', `Bearer ${alice.password}`],
    ['well-formed token that does not exist', `Bearer ${newAppToken().token}`],
  ];
  for (const [what, header] of cases) assert.equal(await statusWith(header), 401, what);
  assert.equal(await accountSeq(server, alice.accountId), seq, 'no refused request wrote anything');
  assert.deepEqual(await probe(alice.authorization), { status: 200, collectionStatus: 'ok' }, 'the right password works');
  // That last request added X to Alice's contacts: her own doing, once.
  assert.equal(await accountSeq(server, alice.accountId), seq + 1);
  const seen = await alicePhone.sync(aliceCollections.contacts as string);
  assert.deepEqual(seen.commands.map((c) => (c.op === 'delete' ? null : c.data)), [vcard('uid-x', 'X')]);
  aliceSnapshot = snapshotOf(alicePhone);
});

test('app tokens: Basic with the token as password and Bearer work; a revoked token gets 401', async () => {
  const seq = await accountSeq(server, alice.accountId);
  const { row: aliceRow, token: aliceToken } = await server.hub.accounts.addToken(alice.accountId, 'test phone');
  const token = { id: aliceRow.id, token: aliceToken };
  const { token: bobToken } = await server.hub.accounts.addToken(bob.accountId, 'bob phone');
  const other = { ...(parseAppToken(bobToken) as { secret: string }), token: bobToken };

  for (const header of [basic('alice', token.token), `Bearer ${token.token}`]) {
    const ids = await collectionIds(server, header);
    assert.deepEqual(ids, aliceCollections, 'the token acts as Alice');
    const device = new Device(server, header, `token-${header.slice(0, 6)}`);
    await device.pull(aliceCollections.contacts as string);
    assert.deepEqual(device.snapshot(aliceCollections.contacts as string), aliceSnapshot[aliceCollections.contacts as string]);
  }
  const forged = `sp_${token.id}_${other.secret}`;
  assert.equal(await statusWith(`Bearer ${forged}`), 401, 'right id, wrong secret');
  assert.equal(await statusWith(basic('bob', token.token)), 401, 'Alice’s token under Bob’s name');
  assert.equal(await statusWith(basic('alice', other.token)), 401, 'Bob’s token under Alice’s name');
  assert.deepEqual(await probe(`Bearer ${other.token}`), { status: 200, collectionStatus: 'notFound' }, 'Bob’s token works, as Bob');

  assert.equal(await server.hub.accounts.revokeToken(alice.accountId, token.id), true);
  assert.equal(await statusWith(basic('alice', token.token)), 401);
  assert.equal(await statusWith(`Bearer ${token.token}`), 401);
  assert.deepEqual(await probe(alice.authorization), { status: 200, collectionStatus: 'ok' }, 'the password still works');
  assert.equal(await accountSeq(server, alice.accountId), seq, 'nothing above wrote to Alice (X, sent again, is matched by UID)');
  await aliceIntact(seq);
});
