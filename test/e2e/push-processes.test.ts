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
