import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageWebDir } from '../../src/server/config.js';
import { serverSql } from '../support/database.js';
import { makeDavCollection, startRadicale } from '../support/dav-servers.js';
import { addUpstream } from '../support/upstreams.js';
import { eventually, openRawChannel } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, Device, newAccount, syncOnce } from '../support/sync.js';
import { signIn as webSignIn, signInRaw as signInAs, webApi, type WebSession } from '../support/web-session.js';

/** The web app's server API: sessions, CSRF, collection management, device health, stats, sync-now, revocation. */
let server: TestServer;

before(async () => {
  server = await startTestServer({ pushHeartbeatSeconds: 0.5 });
});

after(async () => {
  await server.stop();
});

type Account = Awaited<ReturnType<typeof newAccount>>;

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

const signInRaw = (user: string, password: string) => signInAs(server.url, user, password);
const signIn = (account: Account): Promise<WebSession> => webSignIn(server.url, account.accountName, account.password);
const api = (session: WebSession | undefined, method: string, path: string, body?: unknown, headers?: Record<string, string>) => webApi(server.url, session, method, path, body, headers);

async function devices(session: WebSession): Promise<Record<string, any>> {
  const res = await api(session, 'GET', '/api/v1/devices');
  assert.equal(res.status, 200);
  return Object.fromEntries((res.body.devices as any[]).map((d) => [d.id, d]));
}

/** Every web session row, read from the server's database: that only a hash of the cookie is stored is seen there, not through the API. */
const sessionRows = () => serverSql(server, 'SELECT * FROM web_sessions');

test('sign-in sets an HttpOnly cookie, stores only its hash, signs out, and is throttled per name', async () => {
  const account = await newAccount(server);
  const { res, body } = await signInRaw(account.accountName, account.password);
  assert.equal(res.status, 200);
  assert.equal(body.user, account.accountName);
  assert.match(body.csrf, /^[A-Za-z0-9_-]{20,}$/);
  const [setCookie = '', marker = ''] = res.headers.getSetCookie();
  assert.match(setCookie, /^syncpoint_session=[A-Za-z0-9_-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=1209600$/);
  // The browser's known-client marker (docs/operations.md § The web app, Password throttling) outlives the session.
  assert.match(marker, /^syncpoint_client=[A-Za-z0-9_-]{32}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=31536000$/);
  const value = (/^syncpoint_session=([^;]+)/.exec(setCookie) as RegExpExecArray)[1] as string;
  const session = { cookie: `syncpoint_session=${value}`, csrf: body.csrf as string };

  assert.deepEqual((await api(session, 'GET', '/api/v1/session')).body, { user: account.accountName, csrf: session.csrf });
  assert.equal((await api(undefined, 'GET', '/api/v1/session')).status, 401);
  assert.equal((await api({ cookie: 'syncpoint_session=made-up', csrf: '' }, 'GET', '/api/v1/session')).status, 401);

  const rows = (await sessionRows()).filter((r) => r.account_id === account.accountId);
  assert.equal(rows.length, 1);
  assert.notEqual(rows[0]?.id_hash, value);
  assert.equal(rows[0]?.id_hash, createHash('sha256').update(value).digest('base64url'));
  assert.ok(!JSON.stringify(await sessionRows()).includes(value), 'the cookie value is stored nowhere');

  // Signing out needs the CSRF token; then the cookie is cleared and dead.
  assert.equal((await api(session, 'DELETE', '/api/v1/session', undefined, { 'x-csrf-token': 'wrong' })).status, 403);
  assert.equal((await api(session, 'GET', '/api/v1/session')).status, 200, 'a refused sign-out leaves the session');
  const out = await api(session, 'DELETE', '/api/v1/session');
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie') ?? '', /^syncpoint_session=; Path=\/; .*Max-Age=0/);
  assert.equal((await api(session, 'GET', '/api/v1/session')).status, 401);
  assert.equal((await api(session, 'GET', '/api/v1/collections')).status, 401);
  assert.equal((await sessionRows()).filter((r) => r.account_id === account.accountId).length, 0);

  // Five wrong passwords for one name from one client, then even the right one must wait (Retry-After;
  // a password never verified before: one that was is not a guess, and is let through from its memo).
  const victim = await server.addUser(`victim-${Date.now()}`);
  for (let i = 0; i < 5; i++) assert.equal((await signInRaw(victim.accountName, `guess-${i}`)).res.status, 401);
  const blocked = await signInRaw(victim.accountName, victim.password);
  assert.equal(blocked.res.status, 429);
  assert.equal(blocked.body.status, 'rateLimited');
  const retryAfter = Number(blocked.res.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`);
  assert.equal(blocked.res.headers.get('set-cookie'), null);
  // The count is shared by every face: Basic auth on the API is refused too.
  assert.equal((await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: victim.authorization } })).status, 401);
  // Another name from the same address is not held back (the per-address count allows 30).
  const bystander = await newAccount(server);
  assert.equal((await signInRaw(bystander.accountName, bystander.password)).res.status, 200);
});

test('session changes need the CSRF token and the same origin; collections are renamed, recoloured and deleted', async () => {
  const account = await newAccount(server);
  const session = await signIn(account);
  const names = async () => ((await api(session, 'GET', '/api/v1/collections')).body.collections as any[]).map((c) => c.name).sort();
  assert.deepEqual(await names(), ['calendar', 'contacts', 'notes', 'tasks']);

  const create = (name: string, headers: Record<string, string> = {}) => api(session, 'POST', '/api/v1/collections', { name, kind: 'contacts' }, headers);
  const noToken = await fetch(`${server.url}/api/v1/collections`, {
    method: 'POST',
    headers: { cookie: session.cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'sneaky', kind: 'contacts' }),
  });
  assert.equal(noToken.status, 403);
  assert.equal(((await noToken.json()) as any).status, 'forbidden');
  assert.equal((await create('wrong', { 'x-csrf-token': `${session.csrf.slice(1)}x` })).status, 403);
  assert.equal((await create('empty', { 'x-csrf-token': '' })).status, 403);
  const evil = await create('evil', { origin: 'http://evil.example' });
  assert.equal(evil.status, 403);
  assert.equal(evil.body.status, 'forbidden');
  assert.equal((await create('garbled', { origin: 'not a url' })).status, 403, 'an unparsable Origin is refused, not a crash');
  assert.deepEqual(await names(), ['calendar', 'contacts', 'notes', 'tasks'], 'nothing refused was created');

  const made = await create('work', { origin: server.url });
  assert.equal(made.status, 201);
  assert.equal(made.body.name, 'work');
  const viaBasic = await fetch(`${server.url}/api/v1/collections`, {
    method: 'POST',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'basic', kind: 'tasks' }),
  });
  assert.equal(viaBasic.status, 201, 'Basic auth needs no CSRF token');
  assert.deepEqual(await names(), ['basic', 'calendar', 'contacts', 'notes', 'tasks', 'work']);

  const id = made.body.id as string;
  const patched = await api(session, 'PATCH', `/api/v1/collections/${id}`, { displayName: 'Work people', color: '#12ab34' });
  assert.equal(patched.status, 200);
  assert.deepEqual([patched.body.id, patched.body.displayName, patched.body.color], [id, 'Work people', '#12ab34']);
  const cleared = await api(session, 'PATCH', `/api/v1/collections/${id}`, { color: null });
  assert.equal(cleared.status, 200);
  assert.equal(cleared.body.displayName, 'Work people');
  assert.equal('color' in cleared.body, false);
  for (const bad of [{ displayName: 'x', owner: 'me' }, { color: 'red' }, { color: '#12ab3' }, { displayName: '' }]) {
    const res = await api(session, 'PATCH', `/api/v1/collections/${id}`, bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
  }
  assert.equal((await api(session, 'PATCH', `/api/v1/collections/${id}`, { displayName: 'No token' }, { 'x-csrf-token': 'nope' })).status, 403);
  const listed = ((await api(session, 'GET', '/api/v1/collections')).body.collections as any[]).find((c) => c.id === id);
  assert.deepEqual(listed, { id, name: 'work', kind: 'contacts', displayName: 'Work people' });

  const phone = account.device('phone');
  await phone.sync(id, { commands: [add('c1', vcard('uid-w1', 'Colleague'))] });
  const deleted = await api(session, 'DELETE', `/api/v1/collections/${id}`);
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body, { id });
  const after = await syncOnce(server, account.authorization, 'phone', { collectionId: id, syncKey: phone.key(id) });
  assert.equal(after.status, 'notFound');
  assert.deepEqual(await names(), ['basic', 'calendar', 'contacts', 'notes', 'tasks']);
  assert.equal((await api(session, 'DELETE', `/api/v1/collections/${id}`)).status, 404);
});

test('devices show push connection, pending changes, item errors and when they were last seen', async () => {
  const account = await newAccount(server);
  const session = await signIn(account);
  const phone = account.device('phone');
  const laptop = account.device('laptop');
  const started = Date.now();
  await phone.sync(account.contacts);
  await laptop.sync(account.contacts, { commands: [1, 2, 3].map((i) => add(`n${i}`, vcard(`uid-n${i}`, `Person ${i}`))) });
  let list = await devices(session);
  assert.deepEqual(Object.keys(list).sort(), ['laptop', 'phone']);
  assert.deepEqual([list.phone.pending, list.laptop.pending], [3, 0]);
  assert.deepEqual([list.phone.errors, list.laptop.errors], [[], []]);
  assert.deepEqual([list.phone.pushConnected, list.laptop.pushConnected], [false, false]);
  for (const d of Object.values(list)) assert.ok(Date.parse(d.lastSeenAt) >= started - 1000 && Date.parse(d.lastSeenAt) <= Date.now() + 1000, d.lastSeenAt);

  const received = await phone.sync(account.contacts);
  assert.equal(received.commands.length, 3);
  assert.equal((await devices(session)).phone.pending, 0);

  const raw = openRawChannel(server.url, { device: 'phone' }, { authorization: account.authorization });
  await raw.next((m) => m.type === 'hello');
  list = await devices(session);
  assert.deepEqual([list.phone.pushConnected, list.laptop.pushConnected], [true, false]);
  raw.socket.close();
  await raw.closed;
  await eventually(() => server.push.active(account.accountId, 'phone') === undefined, 'the server to drop the channel');
  assert.equal((await devices(session)).phone.pushConnected, false);

  const bad = await laptop.sync(account.contacts, { commands: [add('junk-1', 'garbage')] });
  const result = bad.results[0];
  assert.ok(result && result.status !== 'ok' && result.status !== 'conflict', `the invalid item was refused: ${JSON.stringify(result)}`);
  list = await devices(session);
  assert.equal(list.laptop.errors.length, 1);
  assert.equal(list.laptop.errors[0].status, result.status);
  assert.match(list.laptop.errors[0].message, /junk-1/);
  assert.ok(Date.parse(list.laptop.errors[0].at) >= started - 1000);
  assert.deepEqual(list.phone.errors, [], 'the error is the laptop’s only');
});

test('a request-level failure of a known device is recorded on its errors', async () => {
  const account = await newAccount(server);
  const session = await signIn(account);
  await account.device('phone').sync(account.contacts);
  const twice = await fetch(`${server.url}/api/v1/sync`, {
    method: 'POST',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ version: 1, device: { id: 'phone' }, collections: [{ collectionId: account.contacts, syncKey: 1 }, { collectionId: account.contacts, syncKey: 1 }] }),
  });
  assert.equal(twice.status, 400);
  assert.equal(((await twice.json()) as any).status, 'invalidRequest');
  const errors = (await devices(session)).phone.errors as any[];
  assert.deepEqual(
    errors.map((e) => e.status),
    ['invalidRequest'],
    `the refused request is on the device's errors: ${JSON.stringify(errors)}`,
  );
  assert.match(errors[0].message, /twice/);
});

test('daily stats count the changes each device synced today', async () => {
  const account = await newAccount(server);
  const session = await signIn(account);
  const a = account.device('device-a');
  await a.sync(account.contacts, { commands: [add('x1', vcard('uid-x1', 'One')), add('x2', vcard('uid-x2', 'Two'))] });
  const b = account.device('device-b');
  const pulled = await b.pull(account.contacts);
  assert.equal(pulled.reduce((n, r) => n + r.commands.length, 0), 2);

  const stats = await api(session, 'GET', '/api/v1/stats/daily?days=7');
  assert.equal(stats.status, 200);
  const today = new Date().toISOString().slice(0, 10);
  const expectedDays = Array.from({ length: 7 }, (_, i) => new Date(Date.now() - (6 - i) * 86_400_000).toISOString().slice(0, 10));
  assert.deepEqual(stats.body.days, expectedDays);
  assert.equal(stats.body.days[6], today);
  assert.deepEqual(stats.body.total, [0, 0, 0, 0, 0, 0, 4]);
  const byId = Object.fromEntries((stats.body.devices as any[]).map((d) => [d.id, d.counts]));
  assert.deepEqual(byId, { 'device-a': [0, 0, 0, 0, 0, 0, 2], 'device-b': [0, 0, 0, 0, 0, 0, 2] });
  for (const days of ['0', '91', '-1', '2.5', 'many']) assert.equal((await api(session, 'GET', `/api/v1/stats/daily?days=${days}`)).status, 400, days);
  assert.equal((await api(session, 'GET', '/api/v1/stats/daily?days=90')).body.days.length, 90);
});

test('sync-now asks only the account’s connected devices; revoking a device closes its socket and kills its app password', async () => {
  const account = await newAccount(server);
  const other = await newAccount(server);
  const session = await signIn(account);
  const created = await fetch(`${server.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'tablet' }),
  });
  assert.equal(created.status, 201);
  const tokenAuth = basic(account.accountName, ((await created.json()) as any).token);
  await new Device(server, tokenAuth, 'tablet').sync(account.contacts);

  const ws = openRawChannel(server.url, { device: 'tablet' }, { authorization: tokenAuth });
  await ws.next((m) => m.type === 'hello');
  const spy = openRawChannel(server.url, { device: 'tablet' }, { authorization: other.authorization });
  await spy.next((m) => m.type === 'hello');
  const poll = fetch(`${server.url}/api/v1/push/poll?device=pager&after=0&wait=20`, { headers: { authorization: account.authorization } });
  await eventually(() => server.push.active(account.accountId, 'pager') !== undefined, 'the long-poll to register');

  const noCsrf = await api(session, 'POST', '/api/v1/sync-now', undefined, { 'x-csrf-token': '' });
  assert.equal(noCsrf.status, 403);
  const asked = await api(session, 'POST', '/api/v1/sync-now');
  assert.equal(asked.status, 200);
  assert.deepEqual(asked.body, { asked: 2, serverDriven: { online: [], offline: [] } });
  await ws.next((m) => m.type === 'syncRequest');
  const polled = await poll;
  assert.equal(polled.status, 200);
  assert.equal(((await polled.json()) as any).syncRequested, true);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(spy.messages.filter((m) => m.type === 'syncRequest').length, 0, 'the other account is not asked');

  assert.equal((await devices(session)).tablet.pushConnected, true);
  assert.equal((await api(session, 'DELETE', '/api/v1/devices/no-such-device')).status, 404);
  assert.equal((await api(session, 'DELETE', '/api/v1/devices/tablet', undefined, { 'x-csrf-token': 'nope' })).status, 403);
  const revoked = await api(session, 'DELETE', '/api/v1/devices/tablet');
  assert.equal(revoked.status, 200);
  assert.deepEqual(revoked.body, { id: 'tablet' });
  assert.equal((await ws.closed).code, 4003);
  assert.equal('tablet' in (await devices(session)), false);
  assert.equal((await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: tokenAuth } })).status, 401);
  assert.equal((await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: account.authorization } })).status, 200);
  assert.equal(spy.socket.readyState, spy.socket.OPEN, 'the other account’s device of the same id keeps its channel');
  spy.socket.close();
});

test('one account’s session cannot touch or see another account’s collections and devices', async () => {
  const alice = await newAccount(server);
  const bob = await newAccount(server);
  const session = await signIn(alice);
  await alice.device('alice-phone').sync(alice.contacts, { commands: [add('a', vcard('uid-a', 'A'))] });
  const bobPhone = bob.device('bob-phone');
  await bobPhone.sync(bob.contacts, { commands: [add('b', vcard('uid-b', 'B')), add('c', vcard('uid-c', 'C'))] });
  const bobBefore = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: bob.authorization } }).then((r) => r.json());

  const patch = await api(session, 'PATCH', `/api/v1/collections/${bob.contacts}`, { displayName: 'Stolen', color: '#000000' });
  assert.equal(patch.status, 404);
  assert.equal(patch.body.status, 'notFound');
  assert.equal((await api(session, 'DELETE', `/api/v1/collections/${bob.contacts}`)).status, 404);
  assert.equal((await api(session, 'DELETE', '/api/v1/devices/bob-phone')).status, 404);
  const bobAfter = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: bob.authorization } }).then((r) => r.json());
  assert.deepEqual(bobAfter, bobBefore);
  assert.equal((await bobPhone.sync(bob.contacts)).status, 'ok', 'Bob’s collection and device are intact');
  const bobDevices = await fetch(`${server.url}/api/v1/devices`, { headers: { authorization: bob.authorization } }).then((r) => r.json() as Promise<any>);
  assert.deepEqual(bobDevices.devices.map((d: any) => d.id), ['bob-phone']);

  const mine = await api(session, 'GET', '/api/v1/devices');
  assert.deepEqual(mine.body.devices.map((d: any) => d.id), ['alice-phone']);
  const stats = await api(session, 'GET', '/api/v1/stats/daily?days=1');
  assert.deepEqual(stats.body.devices.map((d: any) => d.id), ['alice-phone']);
  assert.deepEqual(stats.body.total, [1]);
  assert.ok(!JSON.stringify([mine.body, stats.body]).includes('bob-phone'));
});

/** A GET with the path sent exactly as given (fetch would normalize dot segments). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the web app is served with security headers, and no path leaves its directory', async () => {
  const built = existsSync(join(packageWebDir, 'index.html'));
  const home = await fetch(`${server.url}/`);
  const page = await home.text();
  assert.equal(home.status, built ? 200 : 503);
  if (built) {
    assert.match(home.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page, /<html/i);
  }
  assert.match(home.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(home.headers.get('x-content-type-options'), 'nosniff');

  for (const path of ['/assets/..%2F..%2Fpackage.json', '/assets/..%2F..%2F..%2Fpackage.json', '/../package.json', '/..%2F..%2Fpackage.json', '/%2e%2e/%2e%2e/package.json']) {
    const res = await rawGet(path);
    assert.equal(res.status, 404, path);
    assert.ok(!res.body.includes('"dependencies"'), `${path} leaked a file`);
  }
  const post = await fetch(`${server.url}/`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 404);
  assert.match(post.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(((await post.json()) as any).status, 'notFound');
});

test('every face throttles password guessing, and a login CSRF form or a cookie-only push channel is refused', async () => {
  const account = await server.addUser(`guessed-${Date.now()}`);
  const collections = (authorization: string) => fetch(`${server.url}/api/v1/collections`, { headers: { authorization } });
  for (let i = 0; i < 5; i++) assert.equal((await collections(basic(account.accountName, `wrong-${i}`))).status, 401);
  assert.equal((await collections(basic(account.accountName, account.password))).status, 401, 'the right password is not even checked once the name is throttled here');
  const web = await signInRaw(account.accountName, account.password);
  assert.equal(web.res.status, 429, 'the web sign-in shares the count');

  const other = await server.addUser(`formed-${Date.now()}`);
  // What another site's <form enctype="text/plain"> can send: not JSON by content type, and a foreign Origin.
  const form = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
    body: JSON.stringify({ user: other.accountName, password: other.password }),
  });
  assert.equal(form.status, 403);
  const plain = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ user: other.accountName, password: other.password }) });
  assert.equal(plain.status, 415);

  // A contact's photo URL would be a same-site GET carrying the cookie: it must not open (and so take over) a device's channel.
  const session = await signIn(await newAccount(server));
  const events = await fetch(`${server.url}/api/v1/push/events?device=phone`, { headers: { cookie: session.cookie } });
  assert.equal(events.status, 401);
  await events.body?.cancel();
});

test('signing out closes the push channels the session opened', async () => {
  const session = await signIn(await newAccount(server));
  const ticket = await api(session, 'POST', '/api/v1/push/ticket');
  assert.equal(ticket.status, 200);
  const channel = openRawChannel(server.url, { device: 'web-signout', ticket: ticket.body.ticket });
  await channel.next((m) => m.type === 'hello');
  assert.equal((await api(session, 'DELETE', '/api/v1/session')).status, 200);
  assert.equal((await channel.closed).code, 4003);
});

test('sync-now also runs the account’s upstreams: a reachable one syncs both ways, an unreachable one is reported', async () => {
  const account = await newAccount(server);
  const session = await signIn(account);
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-web-upstream-'));
  for (const dir of ['up', 'gone']) mkdirSync(join(work, dir));
  const [up, gone] = [await startRadicale(join(work, 'up')), await startRadicale(join(work, 'gone'))];
  try {
    // Radicale without authentication still takes the user name a request gives.
    const ann = basic('ann', 'pw');
    for (const base of [up.base, gone.base]) await makeDavCollection(`${base}/ann/book/`, 'addressbook', ann);
    const card = await fetch(`${up.base}/ann/book/up-1.vcf`, { method: 'PUT', body: vcard('up-1', 'From Upstream'), headers: { 'content-type': 'text/vcard', authorization: ann } });
    assert.equal(card.status, 201);
    const reachable = await addUpstream(server, account.accountId, { url: `${up.base}/`, username: 'ann', password: 'pw', collection: 'contacts' });
    const unreachable = await addUpstream(server, account.accountId, { url: `${gone.base}/`, username: 'ann', password: 'pw', collection: 'contacts' });
    await gone.stop();
    const phone = new Device(server, account.authorization, 'sdk-phone');
    await phone.sync(account.contacts, { commands: [add('p-1', vcard('p-1', 'From Phone'))] });
    const noCsrf = await api(session, 'POST', '/api/v1/sync-now', undefined, { 'x-csrf-token': '' });
    assert.equal(noCsrf.status, 403);
    const first = await api(session, 'POST', '/api/v1/sync-now');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.serverDriven, { online: [reachable.deviceId], offline: [unreachable.deviceId] });
    const upstreamCards = await fetch(`${up.base}/ann/book/`, { method: 'PROPFIND', headers: { depth: '1', authorization: ann } }).then((r) => r.text());
    assert.equal((upstreamCards.match(/\.vcf</g) ?? []).length, 2, 'the phone’s card reached the upstream');
    const back = await phone.sync(account.contacts);
    assert.ok(back.commands.some((c) => c.op !== 'delete' && c.data.includes('From Upstream')), 'its card reached the phone');
    // Another account's sync-now runs none of this account's upstreams.
    const other = await signIn(await newAccount(server));
    assert.deepEqual((await api(other, 'POST', '/api/v1/sync-now')).body.serverDriven, { online: [], offline: [] });
  } finally {
    await up.stop();
    await gone.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
