import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pushCloseCodes } from '../../src/protocol/push.js';
import { openRawChannel } from '../support/push.js';
import { startPgCluster, withClient, type PgCluster } from '../support/postgres.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { collectionIds, syncOnce } from '../support/sync.js';

/**
 * Push with two server processes on one PostgreSQL database (docs/operations.md § PostgreSQL): each
 * server has its own process id, pool and listening connection, so what one commits reaches a device
 * whose channel the other holds only through the store and the process bus.
 */
let cluster: PgCluster;
let one: TestServer;
let two: TestServer;

before(async () => {
  cluster = await startPgCluster();
  const database = await cluster.createDatabase();
  one = await startTestServer({ database, pushHeartbeatSeconds: 0.5 });
  two = await startTestServer({ database, pushHeartbeatSeconds: 0.5 });
});
after(async () => {
  await one.stop();
  await two.stop();
  cluster.stop();
});

let users = 0;
async function account() {
  const user = await one.addUser(`multi${++users}`);
  const { contacts } = await collectionIds(two, user.authorization);
  assert.ok(contacts);
  return { ...user, contacts };
}

test('a change committed through one process reaches the channel another process holds, with a token the device echoes', async () => {
  const a = await account();
  const before = await syncOnce(one, a.authorization, 'phone', { collectionId: a.contacts, syncKey: 0 });
  const phone = openRawChannel(one.url, { device: 'phone' }, { authorization: a.authorization });
  await phone.next((m) => m.type === 'hello');
  const made = await syncOnce(two, a.authorization, 'laptop', { collectionId: a.contacts, syncKey: 0, commands: [{ op: 'add', clientId: 'c1', data: vcard('u1', 'Ada') }] });
  const notice = await phone.next((m) => m.type === 'change');
  assert.ok(notice.type === 'change' && notice.command.op === 'add' && notice.command.serverId === made.results[0]?.serverId, JSON.stringify(notice));
  // The token was issued by the committing process and stands for the change on every process: echoed,
  // the change is not sent again; not echoed, it would be.
  const unechoed = await syncOnce(two, a.authorization, 'phone', { collectionId: a.contacts, syncKey: before.syncKey });
  assert.equal(unechoed.commands.length, 1, 'without the echo the sync sends the add');
  const echoed = await syncOnce(two, a.authorization, 'phone', { collectionId: a.contacts, syncKey: before.syncKey, tokens: [{ from: notice.token, to: notice.token }] });
  assert.deepEqual(echoed.commands, [], 'nothing is sent again for an echoed token');
  phone.socket.close();
});

test('a channel opened through another process replaces the device’s channel here', async () => {
  const a = await account();
  const first = openRawChannel(one.url, { device: 'tablet' }, { authorization: a.authorization });
  await first.next((m) => m.type === 'hello');
  const second = openRawChannel(two.url, { device: 'tablet' }, { authorization: a.authorization });
  await second.next((m) => m.type === 'hello');
  assert.equal((await first.closed).code, pushCloseCodes.replaced);
  // And the change made through the first process now goes to the second one's channel.
  await syncOnce(one, a.authorization, 'laptop', { collectionId: a.contacts, syncKey: 0, commands: [{ op: 'add', clientId: 'c2', data: vcard('u2', 'Grace') }] });
  await second.next((m) => m.type === 'change');
  second.socket.close();
});

test('a notice sent while a process was not listening reaches its channel once it listens again', async () => {
  const a = await account();
  const phone = openRawChannel(one.url, { device: 'phone' }, { authorization: a.authorization });
  await phone.next((m) => m.type === 'hello');
  // Both listening connections die (a network path breaks, PostgreSQL restarts them); the change is
  // committed and announced before they are back.
  await withClient(cluster.url, (c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'syncpoint listener'`));
  await syncOnce(two, a.authorization, 'laptop', { collectionId: a.contacts, syncKey: 0, commands: [{ op: 'add', clientId: 'c3', data: vcard('u3', 'Hedy') }] });
  await phone.next((m) => m.type === 'change', 8000);
  phone.socket.close();
});

test('a ticket issued by one process opens a channel on the other, once', async () => {
  const a = await account();
  const issued = await fetch(`${one.url}/api/v1/push/ticket`, { method: 'POST', headers: { authorization: a.authorization } });
  assert.equal(issued.status, 200);
  const { ticket } = (await issued.json()) as { ticket: string };
  const events = await fetch(`${two.url}/api/v1/push/events?device=browser&ticket=${encodeURIComponent(ticket)}`);
  assert.equal(events.status, 200, 'the other process knows the ticket');
  await events.body?.cancel();
  const again = await fetch(`${one.url}/api/v1/push/events?device=browser&ticket=${encodeURIComponent(ticket)}`);
  assert.equal(again.status, 401, 'spent on one process is spent on both');
  await again.body?.cancel();
});

test('a long-poll whose polls go to different processes misses nothing: the new mailbox starts with what the device has not acknowledged', async () => {
  const a = await account();
  const poll = async (server: TestServer, after: number, wait: number) => {
    const res = await fetch(`${server.url}/api/v1/push/poll?device=pager&after=${after}&wait=${wait}`, { headers: { authorization: a.authorization } });
    assert.equal(res.status, 200);
    return (await res.json()) as { messages: Array<{ token: number; command: { serverId: string } }>; lastToken: number };
  };
  const opened = await poll(one, 0, 0);
  // A change while the pager is between polls: its token goes to the mailbox on process one.
  const made = await syncOnce(two, a.authorization, 'laptop', { collectionId: a.contacts, syncKey: 0, commands: [{ op: 'add', clientId: 'c4', data: vcard('u4', 'Barbara') }] });
  // The next poll lands on process two, acknowledging what it had before.
  const moved = await poll(two, opened.lastToken, 5);
  // (Its token is at least the committing process's token floor, which a later start made higher.)
  assert.equal(moved.messages.length, 1, 'the notice queued on the other process comes with the first poll here');
  assert.equal(moved.messages[0]?.command.serverId, made.results[0]?.serverId);
  assert.ok((moved.messages[0]?.token ?? 0) > opened.lastToken);
  assert.equal(moved.lastToken, moved.messages[0]?.token);
  // Acknowledged, it is not sent again, wherever the next poll goes.
  assert.deepEqual((await poll(one, moved.lastToken, 0)).messages, []);
});

test('the account’s channel limit counts the channels of every process', async () => {
  const database = await cluster.createDatabase();
  const limited = [await startTestServer({ database, pushChannelsPerAccountMax: 1 }), await startTestServer({ database, pushChannelsPerAccountMax: 1 })];
  try {
    const user = await (limited[0] as TestServer).addUser('limited');
    const phone = openRawChannel((limited[0] as TestServer).url, { device: 'phone' }, { authorization: user.authorization });
    await phone.next((m) => m.type === 'hello');
    const tablet = await fetch(`${(limited[1] as TestServer).url}/api/v1/push/poll?device=tablet&wait=0`, { headers: { authorization: user.authorization } });
    assert.equal(tablet.status, 409, 'the phone’s channel on the other process fills the account’s one place');
    assert.equal(((await tablet.json()) as { limit: string }).limit, 'pushChannelsPerAccountMax');
    // The phone itself may move to the other process.
    const moved = await fetch(`${(limited[1] as TestServer).url}/api/v1/push/poll?device=phone&wait=0`, { headers: { authorization: user.authorization } });
    assert.equal(moved.status, 200);
    assert.equal((await phone.closed).code, pushCloseCodes.replaced);
  } finally {
    for (const server of limited) await server.stop();
  }
});

test('failed passwords count on every process: guesses spread over two wait as soon as on one', async () => {
  await account();
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${(i % 2 ? two : one).url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: `multi${users}`, password: `guess-${i}` }),
    });
    statuses.push(res.status);
    await res.body?.cancel();
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429], 'five free failures in all, then a wait');
});

test('“Sync now” through one process asks the devices whose channels another process holds', async () => {
  const a = await account();
  const phone = openRawChannel(two.url, { device: 'phone' }, { authorization: a.authorization });
  await phone.next((m) => m.type === 'hello');
  const res = await fetch(`${one.url}/api/v1/sync-now`, { method: 'POST', headers: { authorization: a.authorization } });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { asked: number }).asked, 1, 'counted though it is on the other process');
  await phone.next((m) => m.type === 'syncRequest');
  phone.socket.close();
});
