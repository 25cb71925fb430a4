import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Hub } from '../../src/hub/hub.js';
import { openStore } from '../../src/server/open-store.js';
import { realPorts } from '../../src/server/ports.js';
import { readKeyFile } from '../../src/server/secret-key.js';
import { serverSql } from '../support/database.js';
import { makeDavCollection, startRadicale, type DavServerProcess } from '../support/dav-servers.js';
import { startDovecot } from '../support/dovecot.js';
import { createDatabase, testPostgresEnv } from '../support/postgres.js';

/**
 * `syncpoint upstream add / list / remove / rotate-key` as a user runs them (separate processes, the real
 * store), against a real Radicale with a password: discovery and mapping, the password sealed in the
 * database, clear errors that store nothing, and a key rotation after which only the new key opens it.
 * On SQLite the key file is the default one beside the data directory, made at first need; under
 * test/support/with-postgres.ts (test/postgres-suites.txt) the store is PostgreSQL, which needs a key file
 * given, and refuses without one.
 */
const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'syncpoint-upstream-cli-'));
const data = join(work, 'data');
const upstreamAccount = { user: 'ann', password: 'upstream secret 🔑' };
let database = '';
let radicale: DavServerProcess;
/** Answers every request with an empty multistatus: a WebDAV server with no address book or calendar. */
let emptyDav: Server;
let emptyDavUrl: string;

/** The store the CLI works on, and the key file it seals with. */
const storeArgs = () => (database === '' ? ['--data', data] : ['--database', database]);
const keyFile = () => (database === '' ? `${data}.secret-key` : join(work, 'configured.key'));
const keyArgs = () => (database === '' ? [] : ['--secret-key-file', keyFile()]);
const sql = <R = Record<string, unknown>>(text: string, params: unknown[] = []) => serverSql<R>({ dataDir: data, database }, text, params);

/** Runs the command, not blocking this process: the empty DAV server below answers from it. */
function run(args: string[], input?: string, allow = '127.0.0.1'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The upstreams here are on loopback, which an upstream may be at only when allowed.
  const child = spawn(process.execPath, [bin, ...args, ...storeArgs()], { env: { ...process.env, SYNCPOINT_PASSWORD: '', SYNCPOINT_UPSTREAM_ADDRESSES_ALLOW: allow }, timeout: 60_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input ?? '');
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

const add = (extra: string[] = [], password = upstreamAccount.password, url = `${radicale.base}/`) =>
  run(['upstream', 'add', '--user', 'carol', '--url', url, '--username', upstreamAccount.user, '--password-stdin', ...keyArgs(), ...extra], `${password}\n`);

const count = async (table: string) => Number((await sql<{ n: number | string }>(`SELECT count(*) AS n FROM ${table}`))[0]?.n);

before(async () => {
  const cluster = process.env[testPostgresEnv];
  if (cluster) {
    database = await createDatabase(cluster);
    // As docs/operations.md § Upstream servers says to make one: 32 random bytes in base64, mode 0600.
    writeFileSync(keyFile(), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  const dir = join(work, 'radicale');
  mkdirSync(dir);
  radicale = await startRadicale(dir, { user: upstreamAccount.user, password: upstreamAccount.password });
  const basic = `Basic ${Buffer.from(`${upstreamAccount.user}:${upstreamAccount.password}`).toString('base64')}`;
  for (const [name, type] of [
    ['contacts', 'addressbook'],
    ['calendar', 'calendar'],
  ] as const) {
    await makeDavCollection(`${radicale.base}/${upstreamAccount.user}/${name}/`, type, basic, `Ann's ${name}`);
  }
  emptyDav = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(207, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>'));
  });
  await new Promise<void>((done) => emptyDav.listen(0, '127.0.0.1', done));
  emptyDavUrl = `http://127.0.0.1:${(emptyDav.address() as AddressInfo).port}/dav/`;
  assert.equal((await run(['user', 'add', 'carol', '--password-stdin'], 'carol-password\n')).code, 0);
});

after(async () => {
  await radicale?.stop();
  await new Promise((done) => emptyDav?.close(done));
  rmSync(work, { recursive: true, force: true });
  rmSync(`${data}.secret-key`, { force: true });
});

let upstreamId = '';

test('on PostgreSQL, add without a secret key file is refused before anything is asked or stored', { skip: process.env[testPostgresEnv] ? false : 'SQLite makes its key file itself' }, async () => {
  const r = await run(['upstream', 'add', '--user', 'carol', '--url', `${radicale.base}/`, '--username', upstreamAccount.user, '--password-stdin'], `${upstreamAccount.password}\n`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /on PostgreSQL give every process the same secret key file: --secret-key-file/);
  assert.equal(await count('upstreams'), 0);
});

test('a wrong password, an unreachable server, a server with nothing to sync and one at an address not allowed are clear errors, and store nothing (no key file either)', async () => {
  const collections = await count('collections');
  const devices = await count('devices');
  const wrong = await add([], 'not the password');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused the user name and password \(401\)/);
  const unreachable = await add([], upstreamAccount.password, 'http://127.0.0.1:9/');
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach http:\/\/127\.0\.0\.1:9\/: PROPFIND .* failed/);
  const nothing = await add([], upstreamAccount.password, emptyDavUrl);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /found no address book or calendar at http:\/\/127\.0\.0\.1:\d+\/dav\//);
  const loopback = await run(['upstream', 'add', '--user', 'carol', '--url', `${radicale.base}/`, '--username', upstreamAccount.user, '--password-stdin', ...keyArgs()], `${upstreamAccount.password}\n`, '');
  assert.equal(loopback.code, 1);
  assert.match(loopback.stderr, /127\.0\.0\.1 is at 127\.0\.0\.1, a loopback, private or link-local address, .*\(upstreamAddressesAllow\)/);
  const notUrl = await add([], upstreamAccount.password, 'dav.example.com');
  assert.equal(notUrl.code, 1);
  assert.match(notUrl.stderr, /dav\.example\.com is not a URL/);
  assert.equal(await count('upstreams'), 0);
  assert.equal(await count('upstream_collections'), 0);
  assert.equal(await count('collections'), collections, 'no collection made');
  assert.equal(await count('devices'), devices, 'no sync point made');
  if (database === '') assert.throws(() => statSync(keyFile()), /ENOENT/, 'the key file is made only when a secret is stored');
});

test('add discovers Radicale’s address book and calendar, maps them to new collections, and seals the password', async () => {
  const r = await add();
  assert.equal(r.code, 0, r.stderr);
  const m = /^added upstream (\S+) with (\d+) mapped collections$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  upstreamId = m[1] as string;
  if (database === '') {
    assert.match(r.stderr, new RegExp(`created the secret key file ${keyFile().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(statSync(keyFile()).mode & 0o777, 0o600, 'the key file is its owner’s alone');
  }
  // The default collections (contacts, calendar) keep their names: the upstream's get the next free ones.
  const listed = await run(['upstream', 'list', '--user', 'carol']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${upstreamId}\\t${radicale.base}/\\t${upstreamAccount.user}\\tnew\\tlast run -\\tfailures 0\\tlast error -$`, 'm'));
  assert.match(listed.stdout, new RegExp(`^\\t${radicale.base}/${upstreamAccount.user}/contacts/\\t-> contacts-2 \\(contacts\\)$`, 'm'));
  assert.match(listed.stdout, new RegExp(`^\\t${radicale.base}/${upstreamAccount.user}/calendar/\\t-> calendar-2 \\(events\\)$`, 'm'));
  assert.match(listed.stdout, new RegExp(`^\\t${radicale.base}/${upstreamAccount.user}/calendar/\\t-> calendar-2\\.tasks \\(tasks\\)$`, 'm'));
  const made = await sql<{ name: string; display_name: string }>(`SELECT name, display_name FROM collections WHERE name IN ('contacts-2', 'calendar-2') ORDER BY name`);
  assert.deepEqual(made.map((c) => [c.name, c.display_name]), [
    ['calendar-2', "Ann's calendar"],
    ['contacts-2', "Ann's contacts"],
  ]);
  assert.equal(Number(m[2]), await count('upstream_collections'));
  // Its sync point is a device like any other, last in priority.
  const [device] = await sql<{ protocol: string; priority: number | string }>('SELECT protocol, priority FROM devices WHERE id = ?', [`upstream-${upstreamId}`]);
  assert.equal(device?.protocol, 'dav-upstream');
  // The password is stored sealed: neither it nor any encoding of it is in the row.
  const [row] = await sql<{ secret: string; username: string }>('SELECT secret, username FROM upstreams WHERE id = ?', [upstreamId]);
  assert.ok(row);
  assert.equal(row.username, upstreamAccount.user);
  assert.notEqual(row.secret, upstreamAccount.password);
  for (const encoded of [upstreamAccount.password, Buffer.from(upstreamAccount.password).toString('base64'), Buffer.from(upstreamAccount.password).toString('base64url'), Buffer.from(upstreamAccount.password).toString('hex')]) {
    assert.ok(!row.secret.includes(encoded.slice(0, 12)), `the sealed secret holds ${encoded}`);
  }
  assert.match(row.secret, new RegExp(`^v1:${readKeyFile(keyFile()).id}:`), 'sealed under the key file’s key, whose id it names');
  assert.ok(!listed.stdout.includes(upstreamAccount.password) && !r.stdout.includes(upstreamAccount.password), 'never shown');
  // The same account again is refused.
  const again = await add();
  assert.equal(again.code, 1);
  assert.match(again.stderr, new RegExp(`is already upstream ${upstreamId}`));
});

test('rotate-key re-seals under a new key; the old key is no longer needed, and running it again changes nothing', async () => {
  const oldKey = readKeyFile(keyFile());
  const newFile = join(work, 'new.key');
  const r = await run(['upstream', 'rotate-key', '--old-key-file', keyFile(), '--new-key-file', newFile]);
  assert.equal(r.code, 0, r.stderr);
  const newKey = readKeyFile(newFile);
  assert.equal(statSync(newFile).mode & 0o777, 0o600);
  assert.match(r.stdout, new RegExp(`re-sealed 1 upstream passwords under key ${newKey.id} \\(0 were already\\)`));
  const again = await run(['upstream', 'rotate-key', '--old-key-file', keyFile(), '--new-key-file', newFile]);
  assert.match(again.stdout, /re-sealed 0 upstream passwords .*\(1 were already\)/);
  unlinkSync(keyFile());
  // The hub opens the password with the new key alone, and the old one opens it no more.
  const { store } = await openStore({ data, database });
  try {
    const hub = new Hub(store, realPorts(pino({ level: 'silent' })));
    const [account] = await sql<{ id: string }>(`SELECT id FROM accounts WHERE name = 'carol'`);
    const row = await store.transaction((tx) => tx.getUpstream(account?.id as string, upstreamId));
    assert.ok(row);
    assert.match(row.secret, new RegExp(`^v1:${newKey.id}:`));
    assert.equal(hub.upstreams.password(row, [newKey]), upstreamAccount.password);
    assert.throws(() => hub.upstreams.password(row, [oldKey]), /sealed with key/);
    // Copied into another row (another upstream id), it does not open.
    assert.throws(() => hub.upstreams.password({ ...row, id: 'another' }, [newKey]), /copied from another row/);
  } finally {
    await store.close();
  }
  // Every process now uses the new file.
  renameSync(newFile, keyFile());
});

test('remove forgets the upstream, its mappings and its sync point; its collections stay', async () => {
  const unknown = await run(['upstream', 'remove', 'nosuch', '--user', 'carol']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no upstream nosuch/);
  const r = await run(['upstream', 'remove', upstreamId, '--user', 'carol']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`removed upstream ${upstreamId}`));
  assert.equal((await run(['upstream', 'list', '--user', 'carol'])).stdout, '');
  assert.equal(await count('upstreams'), 0);
  assert.equal(await count('upstream_collections'), 0);
  assert.deepEqual(await sql('SELECT id FROM devices WHERE id = ?', [`upstream-${upstreamId}`]), []);
  assert.equal((await sql(`SELECT name FROM collections WHERE name IN ('contacts-2', 'calendar-2', 'calendar-2.tasks')`)).length, 3);
});

test('--collection maps whatever can feed it to that existing collection, and nothing else', async () => {
  const missing = await add(['--collection', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no collection nosuch/);
  const r = await add(['--collection', 'contacts']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /with 1 mapped collections/);
  const listed = (await run(['upstream', 'list', '--user', 'carol'])).stdout;
  assert.match(listed, new RegExp(`^\\t${radicale.base}/${upstreamAccount.user}/contacts/\\t-> contacts \\(contacts\\)$`, 'm'));
  assert.ok(!listed.includes('/calendar/'), listed);
  assert.ok(!listed.includes('contacts-3'), 'no collection made');
});

test('add --kind imap lists the IMAP account’s folders (Dovecot) and maps each to a mail collection, with its submission server; a wrong password and a missing --imap are clear errors', async () => {
  const dovecot = await startDovecot({ users: { mia: 'mia-mail-secret' } });
  try {
    const imap = `imap://${dovecot.host}:${dovecot.imapPort}`;
    const addImap = (password: string, extra: string[] = ['--imap', imap]) =>
      run(['upstream', 'add', '--user', 'carol', '--kind', 'imap', ...extra, '--smtp', 'smtp://127.0.0.1:2587', '--username', 'mia', '--password-stdin', ...keyArgs()], `${password}\n`);
    const missing = await addImap('mia-mail-secret', []);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--kind imap needs --imap URL/);
    const refused = await addImap('wrong');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the user name and password/);
    const r = await addImap('mia-mail-secret');
    assert.equal(r.code, 0, r.stderr);
    const id = /^added upstream (\S+) with \d+ mapped collections$/m.exec(r.stdout)?.[1] as string;
    const [row] = await sql<{ kind: string; url: string; submission_url: string }>('SELECT kind, url, submission_url FROM upstreams WHERE id = ?', [id]);
    assert.deepEqual(row && [row.kind, row.url, row.submission_url], ['imap', `${imap}`, 'smtp://127.0.0.1:2587']);
    const folders = await sql<{ name: string; kind: string }>(
      'SELECT c.name, c.kind FROM collections c JOIN upstream_collections m ON m.collection_id = c.id WHERE m.upstream_id = ? ORDER BY c.name',
      [id],
    );
    // The harness makes Drafts, Junk, Sent and Trash beside the INBOX.
    assert.deepEqual(folders.map((f) => `${f.name} (${f.kind})`), ['Drafts (mail)', 'INBOX (mail)', 'Junk (mail)', 'Sent (mail)', 'Trash (mail)']);
    const [device] = await sql<{ protocol: string }>('SELECT protocol FROM devices WHERE id = ?', [`upstream-${id}`]);
    assert.equal(device?.protocol, 'imap-upstream');
    const removed = await run(['upstream', 'remove', id, '--user', 'carol']);
    assert.equal(removed.code, 0, removed.stderr);
  } finally {
    await dovecot.stop();
  }
});
