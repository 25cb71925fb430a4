import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits, type AccountLimits } from '../../src/core/limits.js';
import { serverSql } from '../support/database.js';
import { eventually, openRawChannel } from '../support/push.js';
import { getJson, startTestServer, vcard, type TestServer } from '../support/server.js';
import { accountSeq, add, newAccount, postRaw } from '../support/sync.js';

/**
 * Per-account limits (docs/configuration.md § Per-account limits): past each one the server answers
 * 409 limitReached naming the setting, and writes nothing; the push bookkeeping a commit writes is
 * bounded by the channel limit and by the per-commit notice limit, whatever the account opens.
 */
const caps: AccountLimits = { appPasswordsPerAccountMax: 3, collectionsPerAccountMax: 6, devicesPerAccountMax: 4, pushChannelsPerAccountMax: 4, pollMailboxesPerAccountMax: 2 };
let server: TestServer;

before(async () => {
  server = await startTestServer(caps);
});
after(async () => {
  await server.stop();
});

/** How many of something the account has, as the API lists them (`GET /api/v1/tokens` answers `{ tokens: [...] }`). */
async function listed(path: 'tokens' | 'collections' | 'devices', authorization: string): Promise<number> {
  const res = await getJson(`${server.url}/api/v1/${path}`, authorization);
  assert.equal(res.status, 200);
  return (res.body[path] as unknown[]).length;
}

/** The push tokens stored for the account: bookkeeping no face lists, so read from the server's database. */
async function pushTokenRows(accountId: string): Promise<number> {
  const [row] = await serverSql<{ n: number | string }>(server, 'SELECT count(*) AS n FROM push_tokens WHERE account_id = ?', [accountId]);
  return Number(row?.n);
}

function assertLimit(res: { status: number; text: string }, limit: keyof AccountLimits) {
  assert.equal(res.status, 409, res.text);
  const body = JSON.parse(res.text);
  assert.equal(body.status, 'limitReached');
  assert.equal(body.limit, limit);
  assert.equal(body.max, caps[limit]);
  assert.match(body.message, new RegExp(limit));
}

test('app passwords and collections stop at their limits with 409 limitReached, and nothing is written', async () => {
  const account = await newAccount(server);
  const token = (label: string) => postRaw(`${server.url}/api/v1/tokens`, account.authorization, JSON.stringify({ label }), { 'content-type': 'application/json' });
  for (let i = 0; i < caps.appPasswordsPerAccountMax; i++) assert.equal((await token(`t${i}`)).status, 201);
  assertLimit(await token('one too many'), 'appPasswordsPerAccountMax');
  assert.equal(await listed('tokens', account.authorization), caps.appPasswordsPerAccountMax);

  const collection = (name: string) => postRaw(`${server.url}/api/v1/collections`, account.authorization, JSON.stringify({ name, kind: 'contacts' }), { 'content-type': 'application/json' });
  const defaults = await listed('collections', account.authorization);
  for (let i = defaults; i < caps.collectionsPerAccountMax; i++) assert.equal((await collection(`extra${i}`)).status, 201);
  assertLimit(await collection('one-too-many'), 'collectionsPerAccountMax');
  assert.equal(await listed('collections', account.authorization), caps.collectionsPerAccountMax);
  // Deleting one makes room again.
  const list = (await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: account.authorization } })).json()) as { collections: Array<{ id: string; name: string }> };
  const extra = list.collections.find((c) => c.name.startsWith('extra'));
  assert.ok(extra);
  assert.equal((await fetch(`${server.url}/api/v1/collections/${extra.id}`, { method: 'DELETE', headers: { authorization: account.authorization } })).status, 200);
  assert.equal((await collection('room-again')).status, 201);
});

test('a sync point past the device limit is refused with 409 before anything is written; revoking one makes room', async () => {
  const account = await newAccount(server);
  for (let i = 0; i < caps.devicesPerAccountMax; i++) await account.device(`d${i}`).sync(account.contacts);
  const seqBefore = await accountSeq(server, account.accountId);
  const extra = await postRaw(
    `${server.url}/api/v1/sync`,
    account.authorization,
    JSON.stringify({ version: 1, device: { id: 'one-too-many' }, collections: [{ collectionId: account.contacts, syncKey: 0, commands: [add('x', vcard('uid-x', 'X'))] }] }),
    { 'content-type': 'application/json' },
  );
  assertLimit(extra, 'devicesPerAccountMax');
  assert.equal(await listed('devices', account.authorization), caps.devicesPerAccountMax);
  assert.equal(await accountSeq(server, account.accountId), seqBefore, 'the refused request wrote nothing');
  // Known devices go on syncing.
  await account.device('d0').sync(account.contacts);
  assert.equal((await fetch(`${server.url}/api/v1/devices/d3`, { method: 'DELETE', headers: { authorization: account.authorization } })).status, 200);
  await account.device('one-too-many').sync(account.contacts);
});

test('push channels and long-poll mailboxes stop at their limits; a device reopening its own channel always may', async () => {
  const account = await newAccount(server);
  const poll = (device: string) => fetch(`${server.url}/api/v1/push/poll?device=${device}&wait=0`, { headers: { authorization: account.authorization } });
  // The finding: 2,000 mailboxes from one account. Only the first two open.
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => poll(`box${i}`)));
  const opened = answers.filter((r) => r.status === 200).length;
  assert.equal(opened, caps.pollMailboxesPerAccountMax);
  const refused = answers.find((r) => r.status !== 200);
  assert.ok(refused);
  assertLimit({ status: refused.status, text: await refused.text() }, 'pollMailboxesPerAccountMax');
  // Which two open is the order the 30 requests reach the store in: on PostgreSQL, not the order they were sent.
  const open = answers.findIndex((r) => r.status === 200);
  assert.equal((await poll(`box${open}`)).status, 200, 'an open mailbox is polled again');

  const sockets = Array.from({ length: caps.pushChannelsPerAccountMax - opened }, (_, i) => openRawChannel(server.url, { device: `ws${i}` }, { authorization: account.authorization }));
  await Promise.all(sockets.map((s) => s.next((m) => m.type === 'hello')));
  const tooMany = openRawChannel(server.url, { device: 'ws-one-too-many' }, { authorization: account.authorization });
  await tooMany.closed;
  assert.equal(tooMany.messages.length, 0, 'the upgrade was refused');
  assert.equal(server.push.size, caps.pushChannelsPerAccountMax);
  const again = openRawChannel(server.url, { device: 'ws0' }, { authorization: account.authorization });
  await again.next((m) => m.type === 'hello');
  for (const s of [...sockets, again]) s.socket.close();
  await eventually(() => server.push.size <= caps.pollMailboxesPerAccountMax, 'sockets closed');
});

test('a commit writes at most one token row per channel per change, and a bulk commit none: one syncRequest instead', async () => {
  const account = await newAccount(server);
  const boxes = ['b1', 'b2'];
  const poll = async (device: string) => {
    const res = await fetch(`${server.url}/api/v1/push/poll?device=${device}&wait=0`, { headers: { authorization: account.authorization } });
    assert.equal(res.status, 200);
    return (await res.json()) as { messages: unknown[]; syncRequested?: true };
  };
  for (const b of boxes) await poll(b);
  const writer = account.device('writer');
  // As many small cards as one request may add, in one commit (more than pushNoticesPerCommitMax).
  await writer.sync(account.contacts, { commands: Array.from({ length: limits.itemsPerRequestMax }, (_, i) => add(`c${i}`, vcard(`uid-c${i}`, `Card ${i}`))) });
  assert.equal(await pushTokenRows(account.accountId), 0, 'no token per change per mailbox for a bulk commit');
  for (const b of boxes) {
    const answer = await poll(b);
    assert.equal(answer.syncRequested, true, 'the mailbox is asked to sync');
    assert.deepEqual(answer.messages, []);
  }
  // A small commit is pushed change by change, as before.
  await writer.sync(account.contacts, { commands: Array.from({ length: 10 }, (_, i) => add(`s${i}`, vcard(`uid-s${i}`, `Small ${i}`))) });
  assert.equal(await pushTokenRows(account.accountId), 10 * boxes.length);
  assert.equal((await poll('b1')).messages.length, 10);
});
