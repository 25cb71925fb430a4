import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ChangeNotice } from '../../src/protocol/push.js';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { seededRandom } from '../../sim/random.js';
import { eventually, openRawChannel, sdkDevice, subscribe, type SdkDevice } from '../support/push.js';
import { serverSql } from '../support/database.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount, syncOnce } from '../support/sync.js';
import { startWsFaultProxy } from '../support/ws-fault-proxy.js';

/**
 * Push over the real server and real sockets (docs/design.md § Push notices). The main case puts a proxy between the
 * devices and the server that drops 30% of notices, duplicates and reorders others and cuts
 * connections; after one more sync every device must hold every change exactly once.
 * SYNCPOINT_PUSH_SEED=<n> replays one run.
 */
const seed = Number(process.env.SYNCPOINT_PUSH_SEED ?? Date.now() % 100_000);

let server: TestServer;

before(async () => {
  server = await startTestServer({ pushHeartbeatSeconds: 0.25 });
});

after(async () => {
  await server.stop();
});

/** What the server holds, read by a fresh device: serverId -> data. */
async function truthOf(user: { accountName: string; password: string }, collectionId: string): Promise<Map<string, string>> {
  const fresh = sdkDevice(server.url, user.accountName, user.password, `truth-${Math.random()}`);
  await fresh.client.syncCollection(collectionId);
  return holdings(fresh, collectionId);
}

/** What a device holds, asserting no server item appears twice and nothing is left to send. */
function holdings(device: SdkDevice, collectionId: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of device.replica.transaction((tx) => tx.all(collectionId))) {
    if (item.data === null) continue;
    assert.equal(item.pending, null, `${device.id} still has ${item.localId} to send`);
    assert.ok(item.serverId, `${device.id} holds ${item.localId} without a server id`);
    assert.ok(!out.has(item.serverId), `${device.id} holds ${item.serverId} twice`);
    out.set(item.serverId, item.data);
  }
  return out;
}

test(`push through a channel that drops 30%, duplicates, reorders and cuts: every device ends with every change exactly once (seed ${seed})`, async () => {
  const account = await newAccount(server);
  const proxy = await startWsFaultProxy(server.url, seed, { dropRate: 0.3, duplicateRate: 0.1, reorderRate: 0.1, cutRate: 0.01 });
  const viaProxy = (url: string) => url.replace(new URL(server.url).host, new URL(proxy.url).host);
  const devices = [0, 1, 2, 3].map((i) => sdkDevice(server.url, account.accountName, account.password, `phone-${i}`));
  for (const d of devices) await d.client.syncCollection(account.contacts);
  devices.forEach((d, i) => subscribe(d, [account.contacts], viaProxy, seed + i));
  await eventually(() => devices.every((d) => (d.subscriber?.stats.connects ?? 0) > 0), 'every device to connect');

  // Random adds, edits and deletes from every device; each device syncs through its subscriber.
  const random = seededRandom(seed);
  let cards = 0;
  for (let round = 0; round < 60; round++) {
    const d = devices[Math.floor(random() * devices.length)] as SdkDevice;
    d.replica.transaction((tx) => {
      for (let k = 0; k < 3; k++) {
        const live = tx.all(account.contacts).filter((i) => i.data !== null);
        const r = random();
        if (r < 0.5 || live.length < 3) {
          const n = ++cards;
          recordLocalPut(tx, account.contacts, `card-${d.id}-${n}`, vcard(`push-${n}`, `Person ${n}`));
        } else {
          const target = live[Math.floor(random() * live.length)] as (typeof live)[number];
          const edited = (target.data as string).replace(/(NOTE:[^\r]*\r\n)?END:VCARD/, `NOTE:${d.id} round ${round}.${k}\r\nEND:VCARD`);
          if (r < 0.85) recordLocalPut(tx, account.contacts, target.localId, edited);
          else recordLocalDelete(tx, account.contacts, target.localId);
        }
      }
    });
    await d.subscriber?.requestSync();
    if (round % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
  }

  // Let the channels settle, then every device syncs once more and must match the server exactly.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const d of devices) await d.subscriber?.requestSync();
  const truth = await truthOf(account, account.contacts);
  for (const d of devices) assert.deepEqual(holdings(d, account.contacts), truth, `${d.id} matches the server`);
  assert.ok(truth.size > 10);

  const stats = devices.map((d) => d.subscriber?.stats);
  const sum = (key: 'applied' | 'duplicates' | 'gaps' | 'connects') => stats.reduce((n, s) => n + (s?.[key] ?? 0), 0);
  // The faults really happened, and push really carried changes.
  assert.ok(proxy.counts.dropped > 0 && proxy.counts.duplicated > 0 && proxy.counts.reordered > 0, JSON.stringify(proxy.counts));
  assert.ok(sum('applied') > 0, `notices applied: ${JSON.stringify(stats)}`);
  assert.ok(sum('gaps') > 0, 'lost notices were noticed as gaps');
  for (const d of devices) await d.subscriber?.stop();
  await proxy.close();
});

test('a notice is applied without a sync, and its echoed token keeps the next sync from sending it again', async () => {
  const account = await newAccount(server);
  const writer = sdkDevice(server.url, account.accountName, account.password, 'writer');
  const reader = sdkDevice(server.url, account.accountName, account.password, 'reader');
  await writer.client.syncCollection(account.contacts);
  await reader.client.syncCollection(account.contacts);
  const channel = openRawChannel(server.url, { device: 'reader', collections: account.contacts }, { authorization: account.authorization });
  await channel.next((m) => m.type === 'hello');

  writer.replica.transaction((tx) => {
    recordLocalPut(tx, account.contacts, 'a', vcard('echo-a', 'Ada'));
    recordLocalPut(tx, account.contacts, 'b', vcard('echo-b', 'Bob'));
  });
  await writer.client.syncCollection(account.contacts);
  const notices = [
    (await channel.next((m) => m.type === 'change' && m.command.op === 'add' && m.command.data.includes('Ada'))) as ChangeNotice,
    (await channel.next((m) => m.type === 'change' && m.command.op === 'add' && m.command.data.includes('Bob'))) as ChangeNotice,
  ];
  assert.equal(notices[1]?.token, (notices[0]?.token ?? 0) + 1, 'tokens are a per-device sequence');

  // The reader applied only Ada's notice: the sync must send Bob and only Bob.
  assert.equal(reader.client.applyNotice(notices[0] as ChangeNotice), 'applied');
  assert.equal(reader.client.applyNotice(notices[0] as ChangeNotice), 'duplicate', 'a notice applied twice is detected');
  const summary = await reader.client.syncCollection(account.contacts);
  assert.equal(summary.received, 1, 'only the change whose token did not come back is resent');
  const names = reader.replica.transaction((tx) => tx.all(account.contacts)).map((i) => /FN:(.*)\r/.exec(i.data ?? '')?.[1]);
  assert.deepEqual(names.sort(), ['Ada', 'Bob']);
  // A late copy of an old notice is recognised as old news.
  assert.equal(reader.client.applyNotice(notices[1] as ChangeNotice), 'stale');
  channel.socket.close();
});

test('a raw echo: the server resends exactly the changes whose tokens did not come back', async () => {
  const account = await newAccount(server);
  const first = await syncOnce(server, account.authorization, 'raw', { collectionId: account.contacts, syncKey: 0 });
  const channel = openRawChannel(server.url, { device: 'raw' }, { authorization: account.authorization });
  await channel.next((m) => m.type === 'hello');
  let key = first.syncKey;
  const writerKey = (await syncOnce(server, account.authorization, 'w', { collectionId: account.contacts, syncKey: 0 })).syncKey;
  await syncOnce(server, account.authorization, 'w', {
    collectionId: account.contacts,
    syncKey: writerKey,
    commands: [1, 2, 3].map((n) => ({ op: 'add' as const, clientId: `c${n}`, data: vcard(`raw-${n}`, `N${n}`) })),
  });
  const notices = await Promise.all([1, 2, 3].map((n) => channel.next((m) => m.type === 'change' && m.command.op === 'add' && m.command.data.includes(`N${n}\r`))));
  const tokens = notices.map((n) => (n as ChangeNotice).token).sort((a, b) => a - b);
  const echoed = { collectionId: account.contacts, syncKey: key, tokens: [{ from: tokens[0] as number, to: tokens[1] as number }] };
  const answer = await postSync(account.authorization, 'raw', echoed);
  key = answer.syncKey;
  assert.deepEqual(
    answer.commands.map((c: { data: string }) => /FN:(.*)\r/.exec(c.data)?.[1]),
    ['N3'],
    'two echoed tokens, one resend',
  );
  assert.ok(answer.seq > 0);
  // An echoed token the server never issued is ignored, and the device's state now covers all three.
  const again = await postSync(account.authorization, 'raw', { collectionId: account.contacts, syncKey: key, tokens: [{ from: 1, to: 9999 }] });
  assert.equal(again.commands.length, 0);
  channel.socket.close();
});

async function postSync(authorization: string, device: string, collection: object) {
  const res = await fetch(`${server.url}/api/v1/sync`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ version: 1, device: { id: device }, collections: [collection] }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { collections: any[] }).collections[0];
}

test('two connections for the same device: the newer takes over and the older is closed', async () => {
  const account = await newAccount(server);
  const auth = { authorization: account.authorization };
  const older = openRawChannel(server.url, { device: 'tablet' }, auth);
  await older.next((m) => m.type === 'hello');
  const newer = openRawChannel(server.url, { device: 'tablet' }, auth);
  await newer.next((m) => m.type === 'hello');
  assert.equal((await older.closed).code, 4001);
  await syncOnce(server, account.authorization, 'laptop', { collectionId: account.contacts, syncKey: 0 }).then((r) =>
    syncOnce(server, account.authorization, 'laptop', { collectionId: account.contacts, syncKey: r.syncKey, commands: [{ op: 'add', clientId: 'x', data: vcard('two-conn', 'Two') }] }),
  );
  await newer.next((m) => m.type === 'change');
  assert.equal(older.messages.filter((m) => m.type === 'change').length, 0);
  newer.socket.close();
});

test('a device that reconnects from another network: the silent old path is replaced and nothing is missed', async () => {
  const account = await newAccount(server);
  const proxy = await startWsFaultProxy(server.url, seed, { dropRate: 0, duplicateRate: 0, reorderRate: 0, cutRate: 0 });
  const writer = sdkDevice(server.url, account.accountName, account.password, 'desk');
  const phone = sdkDevice(server.url, account.accountName, account.password, 'phone');
  await writer.client.syncCollection(account.contacts);
  await phone.client.syncCollection(account.contacts);
  // The first connection goes over "Wi-Fi" (the proxy); every later one over "mobile" (direct).
  let opened = 0;
  const subscriber = subscribe(phone, [account.contacts], (url) => (opened++ === 0 ? url.replace(new URL(server.url).host, new URL(proxy.url).host) : url));
  await eventually(() => subscriber.stats.syncs > 0 && opened === 1, 'the first connection');
  proxy.freeze();
  writer.replica.transaction((tx) => recordLocalPut(tx, account.contacts, 'n', vcard('network', 'Moved')));
  await writer.client.syncCollection(account.contacts);
  // No heartbeat crosses the frozen path, so the phone gives up on it and reconnects directly.
  await eventually(() => phone.replica.transaction((tx) => tx.all(account.contacts)).some((i) => i.data?.includes('Moved')), 'the change on the phone');
  assert.ok(opened >= 2, 'the phone reconnected');
  assert.equal(server.push.active(account.accountId, 'phone') !== undefined, true);
  await subscriber.stop();
  await proxy.close();
});

test('revoking the app token closes its channel, through the API and from another process', async () => {
  const account = await newAccount(server);
  const create = async (label: string) => {
    const res = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: account.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ label }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; token: string };
  };
  const viaApi = await create('phone');
  const channel = openRawChannel(server.url, { device: 'phone' }, { authorization: `Bearer ${viaApi.token}` });
  await channel.next((m) => m.type === 'hello');
  // A device's own token may not manage tokens.
  const forbidden = await fetch(`${server.url}/api/v1/tokens/${viaApi.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${viaApi.token}` } });
  assert.equal(forbidden.status, 403);
  const revoked = await fetch(`${server.url}/api/v1/tokens/${viaApi.id}`, { method: 'DELETE', headers: { authorization: account.authorization } });
  assert.equal(revoked.status, 200);
  assert.equal((await channel.closed).code, 4003);

  // The CLI revokes by writing the database directly: SQLite's data_version moves, or PostgreSQL's trigger
  // sends a notice on the process bus.
  const viaCli = await create('tablet');
  const second = openRawChannel(server.url, { device: 'tablet' }, { authorization: `Bearer ${viaCli.token}` });
  await second.next((m) => m.type === 'hello');
  await serverSql(server, 'DELETE FROM app_tokens WHERE id = ?', [viaCli.id]);
  assert.equal((await second.closed).code, 4003);
  const refused = openRawChannel(server.url, { device: 'tablet' }, { authorization: `Bearer ${viaCli.token}` });
  assert.equal((await refused.closed).code, 1006, 'a revoked token cannot open a channel');
});
