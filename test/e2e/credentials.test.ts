import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { hashSecret } from '../../src/hub/secrets.js';
import { serverSql } from '../support/database.js';
import { EasClient, ping } from '../support/eas-client.js';
import { openRawChannel, type RawChannel } from '../support/push.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Changing a password and revoking app passwords end at once everything opened with the old
 * credential — sessions, push channels (WebSocket, SSE, long-poll), tickets not yet used, held
 * ActiveSync Pings — whether the change comes through the API, the CLI in another process, or a
 * database shell (docs/operations.md § Credentials). And the `__Host-` session cookie over HTTPS.
 */
let server: TestServer;
let accounts = 0;

before(async () => {
  // Heartbeats of 30 s: anything that closes sooner was closed by the change itself, not the sweep.
  server = await startTestServer({ trustedProxies: ['127.0.0.1'] });
});

after(async () => {
  await server.stop();
});

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

interface Session {
  cookie: string;
  csrf: string;
}

async function signIn(user: string, password: string, headers: Record<string, string> = {}): Promise<Session & { setCookie: string[] }> {
  const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ user, password }) });
  const body = (await res.json()) as { csrf: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  const setCookie = res.headers.getSetCookie();
  const session = setCookie.find((c) => /^(__Host-)?syncpoint_session=/.test(c)) as string;
  return { cookie: session.split(';')[0] as string, csrf: body.csrf, setCookie };
}

async function call(path: string, init: { method?: string; session?: Session; authorization?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.session) headers.cookie = init.session.cookie;
  if (init.session && init.method && init.method !== 'GET') headers['x-csrf-token'] = init.session.csrf;
  if (init.authorization) headers.authorization = init.authorization;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function ticket(auth: { session?: Session; authorization?: string }): Promise<string> {
  const res = await call('/api/v1/push/ticket', { method: 'POST', ...auth });
  assert.equal(res.status, 200);
  return res.body.ticket as string;
}

async function channel(query: Record<string, string>, headers: Record<string, string> = {}): Promise<RawChannel> {
  const c = openRawChannel(server.url, query, headers);
  await c.next((m) => m.type === 'hello');
  return c;
}

/** Resolves with the close code if the channel closes within `ms`, else 'open'. */
const closedWithin = (c: RawChannel, ms: number) => Promise.race([c.closed.then((x) => x.code), new Promise<'open'>((r) => setTimeout(() => r('open'), ms))]);

/** An SSE stream, and a promise that resolves when the server ends it. */
async function sse(query: Record<string, string>): Promise<{ ended: Promise<void> }> {
  const res = await fetch(`${server.url}/api/v1/push/events?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const ended = (async () => {
    while (!(await reader.read()).done);
  })();
  return { ended };
}

async function account() {
  const user = await server.addUser(`cred${++accounts}-${Date.now()}`);
  const token = await call('/api/v1/tokens', { method: 'POST', authorization: user.authorization, body: { label: 'phone' } });
  assert.equal(token.status, 201);
  return { ...user, token: token.body as { id: string; token: string } };
}

/** A held ActiveSync Ping, authenticated with the account password. */
async function heldPing(user: string, password: string) {
  const client = new EasClient({ baseUrl: server.url, user, password, deviceId: `ping${Date.now()}` });
  const { folders } = await client.folders();
  const contacts = folders.find((f) => f.type === 9) as { id: string };
  await client.pull(contacts.id, await client.primeSync(contacts.id));
  let settled = false;
  const answer = client.send('Ping', ping('Ping', ping('HeartbeatInterval', '300'), ping('Folders', ping('Folder', ping('Id', contacts.id), ping('Class', 'Contacts')))));
  void answer.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(settled, false, 'the Ping is held');
  return { answer, settled: () => settled };
}

test('changing the password through the API ends every session, channel, ticket and Ping of the old one, and keeps app passwords', async () => {
  const user = await account();
  const web = await signIn(user.accountName, user.password);
  const otherBrowser = await signIn(user.accountName, user.password);
  const webChannel = await channel({ device: 'web', ticket: await ticket({ session: web }) });
  const passwordChannel = await channel({ device: 'laptop' }, { authorization: user.authorization });
  const tokenChannel = await channel({ device: 'phone' }, { authorization: `Bearer ${user.token.token}` });
  const unusedTicket = await ticket({ authorization: user.authorization });
  const sseStream = await sse({ device: 'sse', ticket: await ticket({ authorization: user.authorization }) });
  const held = await heldPing(user.accountName, user.password);

  // The current password must be right (and an app password may not change it).
  assert.equal((await call('/api/v1/account/password', { method: 'POST', session: web, body: { current: 'wrong-password', new: 'brand-new-password' } })).status, 403);
  assert.equal((await call('/api/v1/account/password', { method: 'POST', authorization: `Bearer ${user.token.token}`, body: { current: user.password, new: 'brand-new-password' } })).status, 403);
  assert.equal((await call('/api/v1/account/password', { method: 'POST', session: web, body: { current: user.password, new: 'short' } })).status, 400);
  assert.equal((await call('/api/v1/account/password', { method: 'POST', session: { ...web, csrf: 'wrong' }, body: { current: user.password, new: 'brand-new-password' } })).status, 403);

  const changed = await call('/api/v1/account/password', { method: 'POST', session: web, body: { current: user.password, new: 'brand-new-password' } });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.equal(changed.body.user, user.accountName);
  const renewed = { cookie: (changed.headers.getSetCookie()[0] as string).split(';')[0] as string, csrf: changed.body.csrf as string };

  assert.equal((await closedWithin(webChannel, 2000)), 4003, 'the session’s channel closes');
  assert.equal((await closedWithin(passwordChannel, 2000)), 4003, 'the channel opened with the password closes');
  await sseStream.ended;
  assert.equal((await held.answer).status, 200, 'the held Ping ends');
  assert.equal((await call('/api/v1/session', { session: web })).status, 401, 'the session that changed it was replaced');
  assert.equal((await call('/api/v1/session', { session: otherBrowser })).status, 401, 'every other session ended');
  assert.equal((await call('/api/v1/session', { session: renewed })).status, 200, 'the changing page got a fresh session');
  const refused = openRawChannel(server.url, { device: 'late', ticket: unusedTicket });
  assert.equal((await refused.closed).code, 1006, 'a ticket from the old password opens nothing');
  assert.equal((await call('/api/v1/collections', { authorization: user.authorization })).status, 401, 'the old password is refused');
  assert.equal((await call('/api/v1/collections', { authorization: basic(user.accountName, 'brand-new-password') })).status, 200);
  assert.equal((await closedWithin(tokenChannel, 500)), 'open', 'app passwords are other credentials and stay');
  tokenChannel.socket.close();

  // The same with HTTP Basic: no session to renew.
  const again = await call('/api/v1/account/password', { method: 'POST', authorization: basic(user.accountName, 'brand-new-password'), body: { current: 'brand-new-password', new: 'third-password' } });
  assert.deepEqual([again.status, again.body], [200, {}]);
  assert.equal((await call('/api/v1/session', { session: renewed })).status, 401);
});

/**
 * `syncpoint ARGS` in a child process on the test server's database, awaited: the server in this process
 * keeps serving meanwhile (a spawnSync froze it for seconds, and a kept-alive socket then closed under the
 * next request).
 */
function cli(args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const where = server.database !== '' ? ['--database', server.database] : ['--data', server.dataDir];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args, ...where], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

const passwd = (name: string, input: string) => cli(['user', 'passwd', name, '--password-stdin'], input);

test('`syncpoint user passwd` in another process ends what the old password opened in the running server at once', async () => {
  const user = await account();
  const web = await signIn(user.accountName, user.password);
  const passwordChannel = await channel({ device: 'laptop' }, { authorization: user.authorization });
  const webChannel = await channel({ device: 'web', ticket: await ticket({ session: web }) });
  const unusedTicket = await ticket({ authorization: user.authorization });
  const held = await heldPing(user.accountName, user.password);

  const started = Date.now();
  const r = await passwd(user.accountName, 'cli-new-password\n');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /changed the password/);
  assert.equal((await call('/api/v1/session', { session: web })).status, 401, 'the session ends at once');
  assert.equal((await call('/api/v1/collections', { authorization: user.authorization })).status, 401);
  assert.equal((await openRawChannel(server.url, { device: 'late', ticket: unusedTicket }).closed).code, 1006, 'a ticket from the old password opens nothing');
  assert.equal(await closedWithin(passwordChannel, 2000), 4003, 'the channel closes without waiting for the 30 s heartbeat');
  assert.equal(await closedWithin(webChannel, 2000), 4003);
  assert.equal((await held.answer).status, 200, 'the held Ping ends');
  assert.ok(Date.now() - started < 10_000, `closed after ${Date.now() - started} ms`);
  assert.equal((await call('/api/v1/collections', { authorization: basic(user.accountName, 'cli-new-password') })).status, 200);

  const unknown = await passwd('nobody-here', 'whatever-password\n');
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /no account nobody-here/);
  const short = await passwd(user.accountName, 'short\n');
  assert.notEqual(short.status, 0);
  assert.equal((await call('/api/v1/collections', { authorization: basic(user.accountName, 'cli-new-password') })).status, 200, 'a refused change changes nothing');
});

test('a password changed directly in the database ends the sessions and channels opened with the old one', async () => {
  const user = await account();
  const web = await signIn(user.accountName, user.password);
  const webChannel = await channel({ device: 'web', ticket: await ticket({ session: web }) });
  const passwordChannel = await channel({ device: 'laptop' }, { authorization: user.authorization });
  const hash = await hashSecret('shell-password');
  await serverSql(server, 'UPDATE accounts SET password_hash = ? WHERE id = ?', [hash, user.accountId]);
  assert.equal((await call('/api/v1/session', { session: web })).status, 401);
  assert.equal((await call('/api/v1/collections', { session: web })).status, 401);
  assert.equal(await closedWithin(webChannel, 2000), 4003);
  assert.equal(await closedWithin(passwordChannel, 2000), 4003);
});

test('a ticket issued before its app password was revoked opens nothing; a CLI revocation closes channels at once', async () => {
  const user = await account();
  const early = await ticket({ authorization: `Bearer ${user.token.token}` });
  assert.equal((await call(`/api/v1/tokens/${user.token.id}`, { method: 'DELETE', authorization: user.authorization })).status, 200);
  const refused = openRawChannel(server.url, { device: 'phone', ticket: early });
  assert.equal((await refused.closed).code, 1006);
  const poll = await call(`/api/v1/push/poll?device=phone&wait=0&ticket=${await ticket({ authorization: user.authorization })}`);
  assert.equal(poll.status, 200, 'a ticket whose credential holds still works');

  // `syncpoint token revoke` in another process deletes the token row: closed well before the 30 s heartbeat.
  const second = await call('/api/v1/tokens', { method: 'POST', authorization: user.authorization, body: { label: 'tablet' } });
  const tabletTicket = await ticket({ authorization: `Bearer ${second.body.token}` });
  const tablet = await channel({ device: 'tablet' }, { authorization: `Bearer ${second.body.token}` });
  const revoked = await cli(['token', 'revoke', second.body.id, '--user', user.accountName]);
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.equal(await closedWithin(tablet, 2000), 4003);
  const late = openRawChannel(server.url, { device: 'tablet', ticket: tabletTicket });
  assert.equal((await late.closed).code, 1006);
});

test('over HTTPS the session cookie is __Host- and a planted plain cookie cannot shadow it; over plain HTTP it has no prefix', async () => {
  const victim = await account();
  const attacker = await account();
  const https = { 'x-forwarded-proto': 'https' };
  const real = await signIn(victim.accountName, victim.password, https);
  assert.match(real.setCookie[0] as string, /^__Host-syncpoint_session=[A-Za-z0-9_-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=1209600; Secure$/);
  assert.match(real.setCookie[1] as string, /^__Host-syncpoint_client=[A-Za-z0-9_-]{32}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=31536000; Secure$/);
  const planted = await signIn(attacker.accountName, attacker.password);
  assert.match(planted.cookie, /^syncpoint_session=/);
  // The attacker's cookie, planted first (over plain HTTP or from a sibling host), comes first in the header.
  const both = `${planted.cookie}; ${real.cookie}`;
  const me = await call('/api/v1/session', { headers: { cookie: both, ...https } });
  assert.equal(me.body.user, victim.accountName);
  assert.equal((await call('/api/v1/session', { headers: { cookie: planted.cookie, ...https } })).status, 401, 'over HTTPS only the __Host- name counts');
  // X-Forwarded-Proto from a client that is not a trusted proxy is ignored.
  const direct = await startTestServer();
  try {
    const u = await direct.addUser(`plain-${Date.now()}`);
    const res = await fetch(`${direct.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...https }, body: JSON.stringify({ user: u.accountName, password: u.password }) });
    assert.match(res.headers.getSetCookie()[0] as string, /^syncpoint_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=1209600$/);
  } finally {
    await direct.stop();
  }
});

test('a sign-in or password-change body is read only up to 16 KiB, also when gzip would inflate it far beyond', async () => {
  const bomb = gzipSync(Buffer.alloc(15 * 1024 * 1024, 0x20));
  assert.ok(bomb.length < 20 * 1024, `${bomb.length} bytes on the wire`);
  for (const path of ['/api/v1/session', '/api/v1/account/password']) {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
    const body = (await res.json()) as { status: string };
    assert.equal(res.status, path.endsWith('session') ? 413 : 401, `${path}: ${JSON.stringify(body)}`);
  }
  const user = await account();
  const res = await fetch(`${server.url}/api/v1/account/password`, {
    method: 'POST',
    headers: { authorization: user.authorization, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: bomb,
  });
  assert.equal(res.status, 413);
});
