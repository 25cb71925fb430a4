import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { easAccount, ping as pingEl, sleep } from '../support/eas-client.js';
import { openRawChannel } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, newAccount, syncOnce } from '../support/sync.js';

/**
 * GET /metrics (docs/operations.md § Metrics) on a real server: each face's requests move its counters by
 * exactly what was sent, held requests stay out of the latency histogram, push channels show by kind,
 * and only the metricsAllow addresses may read it. On PostgreSQL the pool gauges appear too.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

/** One scrape: every sample by its series (`name{label="value",…}` as the text format writes it). */
type Scrape = Map<string, number>;

async function scrape(target: TestServer = server, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${target.url}/metrics`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples: Scrape = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The series `name` with `labels` in the order the registry writes them. */
const series = (name: string, labels: Record<string, string> = {}) => {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return inner === '' ? name : `${name}{${inner}}`;
};

/** How much each named series moved between two scrapes (absent counts as 0). */
function moved(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  const key = series(name, labels);
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

/** Sum of a metric's samples over every label set, for counts a test cannot pin to one series. */
function total(samples: Scrape, name: string): number {
  let sum = 0;
  for (const [key, value] of samples) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}

test('native, DAV and ActiveSync requests move their counters and latency by exactly what was sent', async () => {
  const account = await newAccount(server);
  const eas = await easAccount(server);
  const before = await scrape();

  // One native sync exchange that writes an item, and one refused for its version.
  await account.device('writer').sync(account.contacts, { commands: [add('c1', vcard('m-1', 'Ann'))] });
  const refused = await fetch(`${server.url}/api/v1/sync`, {
    method: 'POST',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ version: 99, device: { id: 'writer' }, collections: [] }),
  });
  assert.equal(refused.status, 400);
  await refused.body?.cancel();
  // One DAV PROPFIND and one ActiveSync FolderSync.
  const propfind = await fetch(`${server.url}/dav/`, { method: 'PROPFIND', headers: { authorization: account.authorization, depth: '0' } });
  assert.equal(propfind.status, 207);
  await propfind.body?.cancel();
  await eas.eas('metricsphone').folderSync('0');

  const now = await scrape();
  const m = (name: string, labels?: Record<string, string>) => moved(before, now, name, labels);
  assert.equal(m('syncpoint_native_exchanges_total', { status: 'ok' }), 1);
  assert.equal(m('syncpoint_native_exchanges_total', { status: 'unsupportedVersion' }), 1);
  assert.equal(m('syncpoint_native_errors_total', { status: 'unsupportedVersion' }), 1);
  assert.equal(m('syncpoint_requests_total', { face: 'native', class: '2xx' }), 1);
  assert.equal(m('syncpoint_requests_total', { face: 'native', class: '4xx' }), 1);
  assert.equal(m('syncpoint_request_errors_total', { face: 'native', status: '400' }), 1);
  assert.equal(m('syncpoint_request_duration_seconds_count', { face: 'native' }), 2);
  assert.equal(m('syncpoint_requests_total', { face: 'dav', class: '2xx' }), 1);
  assert.equal(m('syncpoint_request_duration_seconds_count', { face: 'dav' }), 1);
  assert.equal(m('syncpoint_requests_total', { face: 'eas', class: '2xx' }), 1);
  assert.equal(m('syncpoint_eas_commands_total', { command: 'FolderSync', status: '1' }), 1);
  assert.equal(m('syncpoint_request_duration_seconds_count', { face: 'eas' }), 1);
  // Every answer took some time, and the histogram's buckets agree with its count.
  assert.ok(m('syncpoint_request_duration_seconds_sum', { face: 'native' }) > 0);
  assert.equal(m('syncpoint_request_duration_seconds_bucket', { le: '+Inf', face: 'native' }), 2);
  // The writing exchange committed at least one transaction; the store's histogram saw it.
  assert.ok(m('syncpoint_store_transaction_duration_seconds_count', { outcome: 'commit' }) >= 1);
  assert.ok(m('syncpoint_store_transaction_duration_seconds_sum', { outcome: 'commit' }) > 0);
});

test('a push channel shows in the gauge by kind; notices and requests to sync are counted; held polls stay out of latency', async () => {
  const account = await newAccount(server);
  const channel = openRawChannel(server.url, { device: 'phone' }, { authorization: account.authorization });
  await channel.next((m) => m.type === 'hello');
  const before = await scrape();
  assert.equal(before.get(series('syncpoint_push_channels', { kind: 'websocket' })), 1);
  assert.equal(before.get(series('syncpoint_push_channels', { kind: 'sse' })), 0);

  await account.device('writer').sync(account.contacts, { commands: [add('c1', vcard('m-2', 'Bea'))] });
  await channel.next((m) => m.type === 'change');
  const syncNow = await fetch(`${server.url}/api/v1/sync-now`, { method: 'POST', headers: { authorization: account.authorization } });
  assert.equal(syncNow.status, 200);
  await syncNow.body?.cancel();
  await channel.next((m) => m.type === 'syncRequest');
  // A long poll held for a second: counted as a push request, but its wait is not latency.
  const poll = await fetch(`${server.url}/api/v1/push/poll?device=pager&wait=1`, { headers: { authorization: account.authorization } });
  assert.equal(poll.status, 200);
  await poll.body?.cancel();

  const now = await scrape();
  assert.equal(moved(before, now, 'syncpoint_push_notices_total'), 1);
  assert.equal(moved(before, now, 'syncpoint_push_sync_requests_total'), 1);
  assert.equal(moved(before, now, 'syncpoint_requests_total', { face: 'push', class: '2xx' }), 1);
  assert.equal(moved(before, now, 'syncpoint_request_duration_seconds_count', { face: 'push' }), 0);
  assert.equal(now.get(series('syncpoint_push_channels', { kind: 'long-poll' })), 1, 'the mailbox lingers after its poll');

  channel.socket.close();
  await channel.closed;
  // The server hears of the close a moment after the client.
  const websockets = series('syncpoint_push_channels', { kind: 'websocket' });
  let last = await scrape();
  for (let i = 0; i < 100 && last.get(websockets) !== 0; i++) {
    await sleep(20);
    last = await scrape();
  }
  assert.equal(last.get(websockets), 0, 'the closed channel leaves the gauge');
});

test('a held ActiveSync Ping counts as an eas-ping channel and a command, but not as latency', async () => {
  const account = await easAccount(server);
  const client = account.eas('metricsping');
  await client.pull(account.contacts, await client.primeSync(account.contacts));
  const before = await scrape();
  const ping = client.send('Ping', pingEl('Ping', pingEl('HeartbeatInterval', '60'), pingEl('Folders', pingEl('Folder', pingEl('Id', account.contacts), pingEl('Class', 'Contacts')))));
  let held = await scrape();
  for (let i = 0; i < 100 && held.get(series('syncpoint_push_channels', { kind: 'eas-ping' })) !== 1; i++) {
    await sleep(20);
    held = await scrape();
  }
  assert.equal(held.get(series('syncpoint_push_channels', { kind: 'eas-ping' })), 1);

  // A native device's change wakes it.
  await syncOnce(server, account.authorization, 'metricswriter', { collectionId: account.contacts, syncKey: 0, commands: [add('c1', vcard('m-3', 'Cy'))] });
  const answer = await ping;
  assert.equal(answer.status, 200);
  const now = await scrape();
  assert.equal(moved(before, now, 'syncpoint_eas_commands_total', { command: 'Ping', status: '2' }), 1);
  assert.equal(moved(before, now, 'syncpoint_requests_total', { face: 'eas', class: '2xx' }), 1);
  assert.equal(moved(before, now, 'syncpoint_request_duration_seconds_count', { face: 'eas' }), 0);
  assert.equal(moved(before, now, 'syncpoint_push_notices_total'), 1, 'the change was handed to the Ping');
  assert.equal(now.get(series('syncpoint_push_channels', { kind: 'eas-ping' })), 0);
});

test('the store reports its pool and retries on PostgreSQL, and nothing of a pool on SQLite', async (t) => {
  t.diagnostic(`store: ${server.database === '' ? 'SQLite' : 'PostgreSQL'}`);
  const now = await scrape();
  const pool = ['syncpoint_store_pool_connections', 'syncpoint_store_pool_idle_connections', 'syncpoint_store_pool_waiting', 'syncpoint_store_transaction_retries_total'];
  if (server.database === '') {
    for (const name of pool) assert.equal(now.has(name), false, `${name} on SQLite`);
  } else {
    for (const name of pool) assert.ok(now.has(name), `${name} on PostgreSQL`);
    assert.ok((now.get('syncpoint_store_pool_connections') ?? 0) >= 1, 'the pool holds a connection after the earlier tests');
    assert.equal(now.get('syncpoint_store_pool_waiting'), 0);
  }
  // prom-client's process metrics, event loop lag among them.
  assert.ok(now.has('nodejs_eventloop_lag_seconds'));
  assert.ok(total(now, 'process_cpu_seconds_total') > 0);
});

test('/metrics answers only the metricsAllow addresses, and never a request forwarded by an unknown proxy', async () => {
  // Loopback is allowed by default, but not when the request says a proxy nobody trusts forwarded it.
  const forwarded = await fetch(`${server.url}/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } });
  assert.equal(forwarded.status, 403);
  assert.match(await forwarded.text(), /metricsAllow/);

  // Behind a trusted proxy, the forwarded client is the one checked.
  const proxied = await startTestServer({ trustedProxies: ['127.0.0.1'], metricsAllow: ['198.51.100.0/24'] });
  try {
    const outsider = await fetch(`${proxied.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(outsider.status, 403);
    await outsider.body?.cancel();
    const proxyItself = await fetch(`${proxied.url}/metrics`);
    assert.equal(proxyItself.status, 403, 'the proxy’s own address is not in the list');
    await proxyItself.body?.cancel();
    await scrape(proxied, { 'x-forwarded-for': '198.51.100.7' });
  } finally {
    await proxied.stop();
  }

  const closed = await startTestServer({ metricsAllow: [] });
  try {
    const res = await fetch(`${closed.url}/metrics`);
    assert.equal(res.status, 403);
    await res.body?.cancel();
  } finally {
    await closed.stop();
  }
});
