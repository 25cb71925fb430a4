import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectionOf, commandsOf, EasClient, easAccount, has, textAt, vtodo, type EasAccount } from '../support/eas-client.js';
import type { ChangeNotice } from '../../src/protocol/push.js';
import { databaseFile } from '../../src/server/open-store.js';
import { openDatabase } from '../../src/sqlite/open.js';
import { startPgCluster, withClient, type PgCluster } from '../support/postgres.js';
import { openRawChannel } from '../support/push.js';
import { getJson, postJson, startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, change, del, Device, type Endpoint } from '../support/sync.js';
import { limits } from '../../src/core/limits.js';

/**
 * `syncpoint migrate` (docs/operations.md § Moving from SQLite), as an operator runs it: a real server on
 * SQLite synced through by native, DAV and ActiveSync clients, stopped; the command in a process of its
 * own into a database of a throwaway PostgreSQL cluster; a server on that database; and the same
 * clients carrying on with the keys and tokens they held.
 */

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const migrate = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, 'migrate', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

let cluster: PgCluster;
let sqliteDir: string;
/** Where the clients send their requests: the SQLite server, then the PostgreSQL one. */
const endpoint: Endpoint = { url: '' };
let account: EasAccount;
let phone: Device;
let tablet: Device;
let eas: EasClient;
let easFolderKey: string;
let easKey: string;
let appToken: string;
let davSyncToken: string;
let webCookie: string;
/** The push tokens of two changes the tablet was sent but did not sync. */
let pushTokens: number[];
const davPath = () => `/dav/users/${account.accountName}/contacts/`;

const davSync = (token: string) =>
  fetch(`${endpoint.url}${davPath()}`, {
    method: 'REPORT',
    headers: { authorization: account.authorization, 'content-type': 'application/xml; charset=utf-8' },
    body: `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`,
  }).then(async (res) => ({ status: res.status, text: await res.text() }));

const tokenOf = (text: string) => /<d:sync-token>([^<]*)<\/d:sync-token>/.exec(text)?.[1] ?? '';
const sqlRows = async (url: string, text: string) => (await withClient(url, (c) => c.query(text))).rows as Record<string, unknown>[];

/** The server on SQLite, until it is stopped for the move. */
let source: TestServer | undefined;

before(async () => {
  cluster = await startPgCluster();
  source = await startTestServer({ database: '' });
  sqliteDir = source.dataDir;
  endpoint.url = source.url;
  account = await easAccount(source, 'mover');
  phone = new Device(endpoint, account.authorization, 'phone');
  tablet = new Device(endpoint, account.authorization, 'tablet');
  // Native sync: enough contacts that a copy one row per batch takes a while, and a conflict.
  await phone.sync(account.contacts, { commands: Array.from({ length: 100 }, (_, i) => add(`c${i}`, vcard(`u${i}`, `Person ${i}`))) });
  await tablet.pull(account.contacts);
  const [first] = Object.keys(phone.snapshot(account.contacts));
  assert.ok(first);
  await phone.sync(account.contacts, { commands: [del(first)] });
  const lost = await tablet.sync(account.contacts, { commands: [change(first, vcard('u-x', 'Edited on the tablet'))] });
  assert.equal(lost.results[0]?.status, 'conflict');
  await phone.pull(account.contacts);
  await tablet.pull(account.contacts);
  // Two errors the phone's health page lists (changes of items that do not exist).
  const failed = await phone.sync(account.contacts, { commands: [change('no-such-item-1', vcard('n1', 'N1')), change('no-such-item-2', vcard('n2', 'N2'))] });
  assert.deepEqual(failed.results.map((r) => r.status === 'ok'), [false, false]);
  // A wrong password (a failed-secret count), a push ticket not yet used, and a web session.
  const guessed = await fetch(`${source.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: account.accountName, password: 'a guess' }) });
  assert.equal(guessed.status, 401);
  assert.equal((await fetch(`${source.url}/api/v1/push/ticket`, { method: 'POST', headers: { authorization: account.authorization } })).status, 200);
  const signedIn = await fetch(`${source.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: account.accountName, password: account.password }) });
  assert.equal(signedIn.status, 200);
  webCookie = /^(syncpoint_session=[^;]+);/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1] ?? '';
  assert.ok(webCookie);
  // Push: the tablet is sent two changes with their tokens, and does not sync them yet.
  const channel = openRawChannel(source.url, { device: 'tablet', collections: account.contacts }, { authorization: account.authorization });
  await channel.next((m) => m.type === 'hello');
  await phone.sync(account.contacts, { commands: [add('p1', vcard('push-1', 'Pushed One')), add('p2', vcard('push-2', 'Pushed Two'))] });
  const notices = await Promise.all(['One', 'Two'].map((n) => channel.next((m) => m.type === 'change' && m.command.op === 'add' && m.command.data.includes(`Pushed ${n}`))));
  pushTokens = notices.map((n) => (n as ChangeNotice).token);
  channel.socket.close();
  await channel.closed;
  // An app password, used once.
  const created = await fetch(`${source.url}/api/v1/tokens`, { method: 'POST', headers: { authorization: account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'laptop' }) });
  appToken = ((await created.json()) as { token: string }).token;
  assert.equal((await getJson(`${source.url}/api/v1/collections`, `Bearer ${appToken}`)).status, 200);
  // DAV: a contact under a name of the client's choosing, and the sync token after it.
  const put = await fetch(`${source.url}${davPath()}chosen-name.vcf`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'text/vcard' }, body: vcard('dav-1', 'Made over DAV') });
  assert.equal(put.status, 201);
  // A contact large enough that its history keeps its body as a blob (docs/design.md § Blobs): bytes to copy.
  const large = await fetch(`${source.url}${davPath()}large.vcf`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'text/vcard' }, body: vcard('dav-large', 'Large', `NOTE:${'x'.repeat(limits.versionBlobBytesMin)}\r\n`) });
  assert.equal(large.status, 201);
  const listed = await davSync('');
  assert.equal(listed.status, 207);
  davSyncToken = tokenOf(listed.text);
  assert.ok(davSyncToken);
  // A DAV calendar made without a component set: its tasks live in a collection that references it.
  const home = `/dav/users/${account.accountName}/home/`;
  const made = await fetch(`${source.url}${home}`, {
    method: 'MKCALENDAR',
    headers: { authorization: account.authorization, 'content-type': 'application/xml; charset=utf-8' },
    body: '<?xml version="1.0"?><cal:mkcalendar xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Home</d:displayname></d:prop></d:set></cal:mkcalendar>',
  });
  assert.equal(made.status, 201);
  const todo = await fetch(`${source.url}${home}todo.ics`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'text/calendar' }, body: vtodo('home-todo', 'Buy milk') });
  assert.equal(todo.status, 201);
  // ActiveSync: the folder hierarchy and the contacts, in step.
  eas = account.eas('EasPhone1');
  easFolderKey = (await eas.folders()).key;
  easKey = (await eas.pull(account.contacts, await eas.primeSync(account.contacts))).key;
  await phone.pull(account.contacts);
  await source.close();
  source = undefined;
});

after(async () => {
  await source?.close();
  cluster?.stop();
  if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
});

test('migrate copies everything, and every client carries on with the keys it held: only new changes come', async () => {
  const url = await cluster.createDatabase();
  const run = migrate(['--from', sqliteDir, '--to', url]);
  assert.equal(run.code, 0, run.stderr);
  const summary = new Map([...run.stdout.matchAll(/^(\w+)\s+(\d+) rows\s+checksum [0-9a-f]{16}\s+ok$/gm)].map((m) => [m[1], Number(m[2])]));
  assert.equal(summary.size, run.stdout.trim().split('\n').length, `every table matches: ${run.stdout}`);
  // Every table the clients above wrote to holds rows (server-driven points and purged tombstones are not
  // made here, nor are upstreams or mail sent through them, and a server that stopped has no open push channel left).
  const empty = [...summary].filter(([, rows]) => rows === 0).map(([table]) => table);
  assert.deepEqual(empty.sort(), ['mail_parts', 'mail_sends', 'point_keys', 'point_records', 'purged_items', 'push_channels', 'upstream_collections', 'upstreams'], run.stdout);
  assert.equal(summary.get('conflicts'), 1);
  assert.equal(summary.get('device_errors'), 2);
  assert.equal(summary.get('collections'), 6, 'the four defaults, a calendar made over DAV and the tasks collection that goes with it');
  assert.deepEqual(await sqlRows(url, `SELECT to_regclass('migration_progress') AS progress`), [{ progress: null }], 'the progress tables go once the copy is checked');

  const target = await startTestServer({ database: url });
  try {
    endpoint.url = target.url;
    const phoneKey = phone.key(account.contacts);
    const idle = await phone.sync(account.contacts);
    assert.deepEqual(idle.commands, [], 'the phone is in step: nothing is sent again');
    // Device.sync insists on status ok: a key the store lost would be invalidSyncKey (docs/protocol.md §5).
    assert.equal(idle.syncKey, phoneKey, 'the old key was known, and kept by an exchange that moved nothing (docs/protocol.md §5.1): no re-initialization');
    // The tablet echoes the push token of the first change it was sent: that one is not sent again, the
    // second one and the DAV contacts (never pushed to it) are.
    const echoed = await postJson(`${target.url}/api/v1/sync`, account.authorization, {
      version: 1,
      device: { id: 'tablet' },
      collections: [{ collectionId: account.contacts, syncKey: tablet.key(account.contacts), tokens: [{ from: pushTokens[0], to: pushTokens[0] }] }],
    });
    assert.equal(echoed.status, 200, JSON.stringify(echoed.body));
    const echo = echoed.body.collections[0];
    assert.equal(echo.status, 'ok');
    assert.deepEqual(echo.commands.map((c: { data: string }) => /FN:(.*)\r/.exec(c.data)?.[1]).sort(), ['Large', 'Made over DAV', 'Pushed Two'], 'the push tokens were kept');
    tablet.apply(account.contacts, [], echo);
    await tablet.sync(account.contacts, { commands: [add('after', vcard('after-1', 'After the move'))] });
    const next = await phone.sync(account.contacts);
    assert.deepEqual(next.commands.map((c) => c.op), ['add'], 'only the new contact comes');
    assert.match(next.commands[0]?.op === 'add' ? next.commands[0].data : '', /After the move/);

    assert.equal((await getJson(`${target.url}/api/v1/collections`, `Bearer ${appToken}`)).status, 200, 'the app password still works');
    assert.equal((await getJson(`${target.url}/api/v1/collections`, account.authorization)).status, 200, 'so does the password');
    const web = await fetch(`${target.url}/api/v1/session`, { headers: { cookie: webCookie } });
    assert.equal(web.status, 200, 'the browser stays signed in');
    // A new device error takes an id after the copied ones (the sequence was moved past them).
    await phone.sync(account.contacts, { commands: [change('no-such-item-3', vcard('n3', 'N3'))] });
    assert.deepEqual(await sqlRows(url, 'SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM device_errors'), [{ n: 3, ids: 3 }]);
    const conflicts = (await getJson(`${target.url}/api/v1/conflicts`, account.authorization)).body.conflicts as unknown[];
    assert.equal(conflicts.length, 1);

    const dav = await davSync(davSyncToken);
    assert.equal(dav.status, 207, dav.text);
    assert.equal(dav.text.match(/<d:response>/g)?.length, 1, `only the new contact is listed: ${dav.text}`);
    assert.doesNotMatch(dav.text, /chosen-name\.vcf/);
    const listing = await fetch(`${target.url}/dav/users/${account.accountName}/home/`, { method: 'PROPFIND', headers: { authorization: account.authorization, depth: '1' } });
    assert.equal(listing.status, 207);
    assert.match(await listing.text(), /home\/todo\.ics/, 'the task of the calendar made without a component set is still there');

    // The same ActiveSync device, now reaching the new server.
    const moved = new EasClient({ ...eas.o, baseUrl: target.url });
    const folders = await moved.folderSync(easFolderKey);
    assert.equal(textAt(folders, 'Status'), '1');
    assert.equal(has(folders, 'Changes/Add'), false, 'the folder hierarchy is not sent again');
    const synced = collectionOf(await moved.sync({ collectionId: account.contacts, syncKey: easKey }));
    assert.equal(textAt(synced, 'Status'), '1');
    assert.equal(commandsOf(synced, 'Add').length, 1, 'ActiveSync gets only the new contact');
  } finally {
    await target.stop();
  }

  const again = migrate(['--from', sqliteDir, '--to', url]);
  assert.equal(again.code, 2, 'a second migrate into the now used database is refused');
  assert.match(again.stderr, /not empty/);
  assert.deepEqual(await sqlRows(url, `SELECT to_regclass('migration_source') AS marked`), [{ marked: null }], 'a refused run writes nothing');
});

test('a migrate killed midway goes on where it stopped when run again, and ends with every table matching', async () => {
  const url = await cluster.createDatabase();
  const child = spawn(process.execPath, [bin, 'migrate', '--from', sqliteDir, '--to', url, '--batch-rows', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    // Killed once the first batch of items is in: the copy stops in the middle of a table.
    if (/^items: \d+ rows copied$/m.test(err)) child.kill('SIGKILL');
  });
  const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_, s) => r(s)));
  assert.equal(signal, 'SIGKILL', `killed midway: ${err}`);
  const [items] = await sqlRows(url, `SELECT done, rows_copied::int AS copied, (SELECT count(*)::int FROM items) AS present FROM migration_progress WHERE table_name = 'items'`);
  assert.equal(items?.done, false, `the copy was cut short in items: ${err}`);
  assert.ok(Number(items?.copied) > 0 && Number(items?.copied) < 100, JSON.stringify(items));
  assert.equal(items?.present, items?.copied, 'the progress row moves with the rows it counts');

  const resumed = migrate(['--from', sqliteDir, '--to', url, '--batch-rows', '7']);
  assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
  assert.match(resumed.stderr, /resuming the interrupted migration/);
  assert.doesNotMatch(resumed.stderr, /copying accounts/, 'tables already copied are not copied again');
  assert.doesNotMatch(resumed.stdout, /MISMATCH/);

  const verified = migrate(['--from', sqliteDir, '--to', url, '--verify-only']);
  assert.equal(verified.code, 0, verified.stderr);

  // One changed title in the target: same row counts, and the checksum tells.
  await withClient(url, (c) => c.query(`UPDATE items SET title = title || '!' WHERE id = (SELECT min(id) FROM items)`));
  const changed = migrate(['--from', sqliteDir, '--to', url, '--verify-only']);
  assert.equal(changed.code, 1);
  assert.match(changed.stdout, /^items\s+(\d+) rows\s+checksum [0-9a-f]{16}\s+MISMATCH \(target \1 rows/m);
  assert.match(changed.stdout, /^accounts\s+1 rows\s+checksum [0-9a-f]{16}\s+ok$/m);
});

test('a target holding an interrupted migration from another data directory is refused', async () => {
  const url = await cluster.createDatabase();
  await withClient(url, async (c) => {
    await c.query('CREATE TABLE migration_source (only_row BOOLEAN PRIMARY KEY DEFAULT true, source TEXT NOT NULL)');
    await c.query(`INSERT INTO migration_source (source) VALUES ('/elsewhere/syncpoint.db (inode 1)')`);
  });
  const run = migrate(['--from', sqliteDir, '--to', url]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /interrupted migration from \/elsewhere/);
});

test('a collection that sorts before the calendar it belongs to is copied after it (foreign keys within a table)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncpoint-migrate-'));
  try {
    const made = spawnSync(process.execPath, [bin, 'user', 'add', 'sorter', '--password-stdin', '--data', dir], { input: 'sorter-password\n', encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const { db } = openDatabase(databaseFile(dir));
    const accountId = (db.prepare('SELECT id FROM accounts').get() as { id: string }).id;
    const insert = db.prepare('INSERT INTO collections (id, account_id, name, kind, display_name, created_at, calendar_id) VALUES (?, ?, ?, ?, ?, 0, ?)');
    insert.run('zzzz-calendar', accountId, 'mixed', 'events', 'Mixed', null);
    insert.run('0000-tasks', accountId, 'mixed-tasks', 'tasks', 'Mixed tasks', 'zzzz-calendar');
    db.close();
    const url = await cluster.createDatabase();
    // One row a batch: within one statement PostgreSQL would check the reference only at its end.
    const run = migrate(['--from', dir, '--to', url, '--batch-rows', '1']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^collections\s+6 rows\s+checksum [0-9a-f]{16}\s+ok$/m);
    assert.deepEqual(await sqlRows(url, `SELECT calendar_id FROM collections WHERE id = '0000-tasks'`), [{ calendar_id: 'zzzz-calendar' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
