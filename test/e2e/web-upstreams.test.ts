import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeDavCollection, startRadicale, type DavServerProcess } from '../support/dav-servers.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, newAccount } from '../support/sync.js';
import { signIn, webApi, type WebSession } from '../support/web-session.js';

/**
 * The upstream API the web app's Upstreams page uses (docs/protocol.md §16.1), against a real Radicale
 * with a password: add (the upstream's refusal, a duplicate, a bad body: precise statuses, nothing
 * stored), list with state and pending changes, run one now, remove; each scoped to its account; and the
 * secret key the password is sealed with, made at first need on SQLite, refused clearly on PostgreSQL
 * without a configured file.
 */
let server: TestServer;
let radicale: DavServerProcess;
const work = mkdtempSync(join(tmpdir(), 'syncpoint-web-upstreams-'));
const upstreamAccount = { user: 'ann', password: 'upstream secret 🔑' };
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const ann = basic(upstreamAccount.user, upstreamAccount.password);
const book = () => `${radicale.base}/${upstreamAccount.user}/book/`;

before(async () => {
  server = await startTestServer();
  mkdirSync(join(work, 'radicale'));
  radicale = await startRadicale(join(work, 'radicale'), upstreamAccount);
  await makeDavCollection(book(), 'addressbook', ann, 'Ann’s contacts');
  const card = await fetch(`${book()}up-1.vcf`, { method: 'PUT', body: vcard('up-1', 'From Upstream'), headers: { 'content-type': 'text/vcard', authorization: ann } });
  assert.equal(card.status, 201);
});

after(async () => {
  await radicale?.stop();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

const api = (session: WebSession | undefined, method: string, path: string, body?: unknown, headers?: Record<string, string>) => webApi(server.url, session, method, path, body, headers);

/** The hrefs of the cards in the upstream address book. */
async function upstreamCards(): Promise<string[]> {
  const listing = await fetch(book(), { method: 'PROPFIND', headers: { depth: '1', authorization: ann } }).then((r) => r.text());
  return listing.match(/[^/<>]+\.vcf(?=<)/g) ?? [];
}

test('an upstream is added, listed with its state and pending changes, run now and removed; another account reaches none of it', async () => {
  const account = await newAccount(server);
  const session = await signIn(server.url, account.accountName, account.password);
  const good = { url: `${radicale.base}/`, username: upstreamAccount.user, password: upstreamAccount.password, collection: 'contacts' };

  // Refusals store nothing: no CSRF token, an app password, a bad body, the upstream refusing the password, no such collection.
  assert.equal((await api(session, 'POST', '/api/v1/upstreams', good, { 'x-csrf-token': '' })).status, 403);
  const token = await api(session, 'POST', '/api/v1/tokens', { label: 'phone' });
  assert.equal(token.status, 201);
  const byToken = await webApi(server.url, undefined, 'POST', '/api/v1/upstreams', good, { authorization: basic(account.accountName, token.body.token) });
  assert.equal(byToken.status, 403);
  assert.equal(byToken.body.status, 'forbidden');
  const noPassword = await api(session, 'POST', '/api/v1/upstreams', { url: good.url, username: good.username });
  assert.equal(noPassword.status, 400);
  assert.equal(noPassword.body.status, 'invalidRequest');
  assert.deepEqual(
    noPassword.body.issues.map((i: { path: string }) => i.path),
    ['password'],
  );
  const refused = await api(session, 'POST', '/api/v1/upstreams', { ...good, password: 'not the password' });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.equal(refused.body.status, 'invalidRequest');
  assert.equal(refused.body.message, `${radicale.base}/ refused the user name and password (401)`);
  assert.equal(refused.body.upstreamError, 'auth');
  const notUrl = await api(session, 'POST', '/api/v1/upstreams', { ...good, url: 'dav.example.com' });
  assert.equal(notUrl.status, 400);
  assert.match(notUrl.body.message, /dav\.example\.com is not a URL/);
  const noCollection = await api(session, 'POST', '/api/v1/upstreams', { ...good, collection: 'nowhere' });
  assert.equal(noCollection.status, 404);
  assert.equal(noCollection.body.message, 'no collection nowhere');
  assert.deepEqual((await api(session, 'GET', '/api/v1/upstreams')).body, { upstreams: [] });

  const added = await api(session, 'POST', '/api/v1/upstreams', good);
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const id: string = added.body.id;
  assert.match(id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.equal(added.body.deviceId, `upstream-${id}`);
  assert.equal(added.body.state, 'new');
  assert.equal(added.body.failures, 0);
  assert.equal(added.body.password, undefined, 'never the password');
  assert.deepEqual(added.body.collections, [{ url: book(), collectionId: account.contacts, collectionName: 'contacts', kind: 'contacts' }]);
  // The same again, in XML this time: refused, and answered in the body's encoding.
  const duplicate = await fetch(`${server.url}/api/v1/upstreams`, {
    method: 'POST',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/xml' },
    body: `<addUpstream><url>${good.url}</url><username>${good.username}</username><password>${good.password}</password><collection>contacts</collection></addUpstream>`,
  });
  assert.equal(duplicate.status, 409);
  assert.match(await duplicate.text(), new RegExp(`<error><version>1</version><status>conflict</status><message>${upstreamAccount.user} at ${radicale.base}/ is already upstream ${id}</message></error>$`));

  const listed = await api(session, 'GET', '/api/v1/upstreams');
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.upstreams, [added.body]);
  const xml = await fetch(`${server.url}/api/v1/upstreams`, { headers: { cookie: session.cookie, accept: 'application/xml' } });
  assert.match(await xml.text(), new RegExp(`^<\\?xml[^>]*\\?>\n?<upstreams><upstreams><id>${id}</id>.*<state>new</state>.*<collections><url>${book()}</url>`));

  // Run now: the upstream's card arrives, the phone's goes up; pending counts what waits for the upstream.
  const phone = account.device('phone');
  await phone.sync(account.contacts);
  for (const [method, path] of [
    ['POST', `/api/v1/upstreams/${id}/sync`],
    ['DELETE', `/api/v1/upstreams/${id}`],
  ] as const) {
    assert.equal((await api(session, method, path, undefined, { 'x-csrf-token': '' })).status, 403, `${method} ${path} without the CSRF token`);
  }
  const ran = await api(session, 'POST', `/api/v1/upstreams/${id}/sync`);
  assert.equal(ran.status, 200, JSON.stringify(ran.body));
  assert.equal(ran.body.ran, true);
  assert.equal(ran.body.upstream.state, 'ok');
  assert.equal(ran.body.upstream.lastError, undefined);
  assert.ok(Date.parse(ran.body.upstream.lastRunAt) > Date.parse(added.body.createdAt) - 1000);
  assert.equal(ran.body.upstream.pending, 0);
  const back = await phone.sync(account.contacts);
  assert.ok(back.commands.some((c) => c.op === 'add' && c.data.includes('FN:From Upstream')), 'the upstream’s card reached the phone');
  await phone.sync(account.contacts, { commands: [add('p-1', vcard('p-1', 'From Phone'))] });
  const waiting = await api(session, 'GET', '/api/v1/upstreams');
  assert.equal(waiting.body.upstreams[0].pending, 1, 'the phone’s card waits for the upstream');
  const second = await api(session, 'POST', `/api/v1/upstreams/${id}/sync`);
  assert.equal(second.body.upstream.pending, 0);
  assert.equal((await upstreamCards()).length, 2, 'the phone’s card reached the upstream');

  // Another account can neither list, run nor remove it.
  const other = await newAccount(server);
  const stranger = await signIn(server.url, other.accountName, other.password);
  assert.deepEqual((await api(stranger, 'GET', '/api/v1/upstreams')).body, { upstreams: [] });
  for (const [method, path] of [
    ['POST', `/api/v1/upstreams/${id}/sync`],
    ['DELETE', `/api/v1/upstreams/${id}`],
  ] as const) {
    const answer = await api(stranger, method, path);
    assert.equal(answer.status, 404, `${method} ${path}`);
    assert.deepEqual(answer.body, { version: 1, status: 'notFound', message: `no upstream ${id}` });
  }
  assert.equal((await api(session, 'GET', '/api/v1/upstreams')).body.upstreams.length, 1, 'still there for its account');

  // Removing it needs the account password or a session too, and leaves the collection and its items.
  const tokenRemove = await webApi(server.url, undefined, 'DELETE', `/api/v1/upstreams/${id}`, undefined, { authorization: basic(account.accountName, token.body.token) });
  assert.equal(tokenRemove.status, 403);
  const removed = await api(session, 'DELETE', `/api/v1/upstreams/${id}`);
  assert.equal(removed.status, 200);
  assert.deepEqual(removed.body, { id });
  assert.deepEqual((await api(session, 'GET', '/api/v1/upstreams')).body, { upstreams: [] });
  const devices = (await api(session, 'GET', '/api/v1/devices')).body.devices as Array<{ id: string }>;
  assert.ok(!devices.some((d) => d.id === `upstream-${id}`), 'its sync point went with it');
  const fresh = await account.device('laptop').sync(account.contacts);
  assert.deepEqual(fresh.commands.map((c) => (c.op === 'delete' ? '' : /FN:(.*)\r/.exec(c.data)?.[1])).sort(), ['From Phone', 'From Upstream'], 'the collection keeps its items');
  assert.equal((await api(session, 'DELETE', `/api/v1/upstreams/${id}`)).status, 404);
  assert.equal((await api(session, 'POST', `/api/v1/upstreams/${id}/sync`)).status, 404);
});

test('a run that fails answers 200 with the error on the upstream’s record, and an unreachable upstream cannot be added', async () => {
  const account = await newAccount(server);
  const session = await signIn(server.url, account.accountName, account.password);
  mkdirSync(join(work, 'gone'));
  const gone = await startRadicale(join(work, 'gone'));
  let base = gone.base;
  try {
    await makeDavCollection(`${gone.base}/bob/book/`, 'addressbook', basic('bob', 'pw'));
    const added = await api(session, 'POST', '/api/v1/upstreams', { url: `${gone.base}/`, username: 'bob', password: 'pw' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    // Without `collection`, the address book gets a collection of its own, named after it.
    assert.deepEqual(
      added.body.collections.map((c: { collectionName: string; kind: string }) => [c.collectionName, c.kind]),
      [['book', 'contacts']],
    );
    base = gone.base;
  } finally {
    await gone.stop();
  }
  const [upstream] = (await api(session, 'GET', '/api/v1/upstreams')).body.upstreams;
  const ran = await api(session, 'POST', `/api/v1/upstreams/${upstream.id}/sync`);
  assert.equal(ran.status, 200);
  assert.equal(ran.body.ran, true);
  assert.equal(ran.body.upstream.state, 'error');
  assert.equal(ran.body.upstream.failures, 1);
  assert.equal(ran.body.upstream.lastError, `cannot reach the upstream: REPORT ${base}/bob/book/ failed: fetch failed`);
  const unreachable = await api(session, 'POST', '/api/v1/upstreams', { url: `${base}/`, username: 'carl', password: 'pw' });
  assert.equal(unreachable.status, 400);
  assert.match(unreachable.body.message, /^cannot reach /);
  assert.equal((await api(session, 'GET', '/api/v1/upstreams')).body.upstreams.length, 1);
});

test('the first upstream added makes the default secret key file on SQLite; on PostgreSQL without one, adding is refused before the upstream is asked', async () => {
  const own = await startTestServer({ secretKeyFile: '' });
  try {
    const account = await own.addUser('keyless');
    const session = await signIn(own.url, account.accountName, account.password);
    const keyFile = `${own.dataDir}.secret-key`;
    assert.throws(() => statSync(keyFile), /ENOENT/);
    const refused = await webApi(own.url, session, 'POST', '/api/v1/upstreams', { url: `${radicale.base}/`, username: upstreamAccount.user, password: 'wrong' });
    assert.equal(refused.status, own.database === '' ? 400 : 500);
    if (own.database === '') assert.throws(() => statSync(keyFile), /ENOENT/, 'no key file for an upstream that was not stored');
    const added = await webApi(own.url, session, 'POST', '/api/v1/upstreams', { url: `${radicale.base}/`, username: upstreamAccount.user, password: upstreamAccount.password });
    if (own.database === '') {
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'made, its owner’s alone');
      const ran = await webApi(own.url, session, 'POST', `/api/v1/upstreams/${added.body.id}/sync`);
      assert.equal(ran.body.upstream.state, 'ok', 'the key it made opens the password');
    } else {
      assert.equal(added.status, 500);
      assert.equal(added.body.status, 'serverError');
      assert.match(added.body.message, /^on PostgreSQL give every process the same secret key file: /);
      assert.deepEqual((await webApi(own.url, session, 'GET', '/api/v1/upstreams')).body, { upstreams: [] });
    }
  } finally {
    await own.stop();
  }
});
