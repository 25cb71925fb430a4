import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The password throttle protects without locking anyone out (docs/operations.md § The web app, Password
 * throttling). The server sits behind a trusted proxy at 127.0.0.1, so each request's client address
 * is what X-Forwarded-For names, as it would be behind the TLS proxy docs/operations.md recommends.
 */
const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
});

async function start(dataDir?: string): Promise<TestServer> {
  const s = await startTestServer({ trustedProxies: ['127.0.0.1'], ...(dataDir ? { dataDir } : {}) });
  servers.push(s);
  return s;
}

/** Stops the server but keeps its data, and starts a new one on it: a restart. */
async function restart(s: TestServer): Promise<TestServer> {
  await s.close();
  servers.splice(servers.indexOf(s), 1);
  return start(s.dataDir);
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const from = (address: string) => ({ 'x-forwarded-for': address });

async function signIn(s: TestServer, user: string, password: string, address: string, cookie?: string) {
  const res = await fetch(`${s.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...from(address), ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ user, password }),
  });
  await res.arrayBuffer();
  const marker = res.headers.getSetCookie().find((c) => c.startsWith('syncpoint_client='));
  return { status: res.status, retryAfter: Number(res.headers.get('retry-after') ?? 0), marker: marker?.split(';')[0] };
}

const collections = async (s: TestServer, authorization: string, address: string) =>
  (await fetch(`${s.url}/api/v1/collections`, { headers: { authorization, ...from(address) } })).status;

test('behind a trusted proxy, one address’s failures hold back neither the user elsewhere nor the other users', async () => {
  const s = await start();
  const alice = await s.addUser('alice');
  const bob = await s.addUser('bob');
  // Ten wrong passwords for alice, and sixty for made-up names, from one attacker.
  for (let i = 0; i < 10; i++) await signIn(s, 'alice', `guess-${i}`, '203.0.113.9');
  for (let i = 0; i < 60; i++) await collections(s, basic(`nobody${i}`, 'guess'), '203.0.113.9');
  assert.equal((await signIn(s, 'alice', alice.password, '203.0.113.9')).status, 429, 'the attacker’s own address waits');
  // A client cannot pick its address: the proxy appends the real one, and that is what counts.
  assert.equal((await signIn(s, 'alice', 'guess-x', '198.51.100.7, 203.0.113.9')).status, 429);
  // Neither password was ever verified before, so no memo helps: only the address tells them apart.
  assert.equal((await signIn(s, 'alice', alice.password, '198.51.100.7')).status, 200, 'alice from her own address');
  assert.equal(await collections(s, bob.authorization, '198.51.100.8'), 200, 'bob, everyone else behind the proxy');
});

test('a distributed attack on one account delays unknown clients briefly and never its known ones, even after a restart', async () => {
  let s = await start();
  const carol = await s.addUser('carol');
  const browser = await signIn(s, 'carol', carol.password, '198.51.100.20');
  assert.equal(browser.status, 200);
  assert.ok(browser.marker, 'a known-client marker');
  assert.equal(await collections(s, carol.authorization, '198.51.100.30'), 200, 'her phone, over HTTP Basic');

  // A restart forgets the memo of verified passwords (and the counts); known clients are in the database.
  s = await restart(s);
  for (let i = 0; i < 120; i++) await signIn(s, 'carol', `guess-${i}`, `203.0.113.${i + 1}`);
  const stranger = await signIn(s, 'carol', carol.password, '192.0.2.99');
  assert.equal(stranger.status, 429, 'a client carol never used waits');
  assert.ok(stranger.retryAfter >= 1 && stranger.retryAfter <= 60, `and not for long: Retry-After ${stranger.retryAfter}`);
  assert.equal((await signIn(s, 'carol', carol.password, '192.0.2.100', browser.marker)).status, 200, 'her browser, from a new network');
  assert.equal(await collections(s, carol.authorization, '198.51.100.30'), 200, 'her phone');
});

test('ten parallel sign-ins with the right password right after a restart all succeed', async () => {
  let s = await start();
  const dave = await s.addUser('dave');
  s = await restart(s);
  const answers = await Promise.all(Array.from({ length: 10 }, () => signIn(s, 'dave', dave.password, '198.51.100.40')));
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(10).fill(200),
  );
  const basics = await Promise.all(Array.from({ length: 10 }, () => collections(s, dave.authorization, '198.51.100.41')));
  assert.deepEqual(basics, Array(10).fill(200));
});

test('wrong secrets for a known app-token id are throttled; the token’s own device is not held back', async () => {
  let s = await start();
  const erin = await s.addUser('erin');
  const created = await fetch(`${s.url}/api/v1/tokens`, { method: 'POST', headers: { authorization: erin.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'phone' }) });
  const token = ((await created.json()) as { id: string; token: string }).token;
  const bearer = `Bearer ${token}`;
  assert.equal(await collections(s, bearer, '198.51.100.50'), 200, 'the phone uses it');
  s = await restart(s);
  // Same id, wrong secret (same length and alphabet): each would cost a full scrypt.
  const forged = `Bearer ${token.slice(0, -32)}${'A'.repeat(32)}`;
  for (let i = 0; i < 10; i++) assert.equal(await collections(s, forged, '203.0.113.60'), 401);
  const started = Date.now();
  for (let i = 0; i < 40; i++) assert.equal(await collections(s, forged, '203.0.113.60'), 401);
  const refusedMs = Date.now() - started;
  assert.equal(await collections(s, bearer, '203.0.113.60'), 401, 'from the guessing address even the right secret is not checked now');
  assert.equal(await collections(s, bearer, '198.51.100.50'), 200, 'the phone is known and unaffected');
  // Forty throttled guesses are refused without scrypt (85 ms each when checked).
  assert.ok(refusedMs < 40 * 40, `40 refused guesses took ${refusedMs} ms`);
});
