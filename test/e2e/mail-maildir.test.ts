import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ImapFlow } from 'imapflow';
import { deliverOverLmtp } from '../support/submission.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/push.js';
import { newAccount } from '../support/sync.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';
import { syncMaildir } from '../../src/cli/maildir-sync.js';
import { openSqliteReplica } from '../../src/sdk/node/sqlite-replica.js';
import { HttpTransport } from '../../src/sdk/index.js';

/**
 * `syncpoint sync DIR --collection INBOX --kind mail` (docs/operations.md § Upstream servers, A Maildir), run as a user
 * runs it, against a real server whose account syncs with Debian's Dovecot: delivered mail appears as
 * Maildir files whose bytes are the message Dovecot holds; a file renamed to add S marks the message \Seen
 * at Dovecot; a removed file expunges it; a flag set at Dovecot renames the file; a run with nothing changed
 * changes nothing; a file of a message the server does not know is left alone and reported once; Python's
 * mailbox.Maildir reads the folder. A run stopped after its sync committed, or after a message was written
 * but before it was recorded, is finished by the next run: no flag reverted, nothing written twice.
 */
const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'syncpoint-maildir-'));
let dovecot: Dovecot;
let server: TestServer;

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users: { ann: 'ann-secret' } }), startTestServer()]);
});
after(async () => {
  await Promise.all([server?.stop(), dovecot?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const message = (n: number) =>
  [
    'From: Carol <carol@example.org>',
    `To: ann@${dovecot.domain}`,
    `Subject: Maildir ${n}`,
    'Date: Mon, 07 Dec 2026 10:00:00 +0000',
    `Message-ID: <maildir${n}@example.org>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello ${n}, grüße.`,
    '',
  ].join('\r\n');

/** `work` in ann's INBOX, as another mail program. */
const imap = <T>(work: (client: ImapFlow) => Promise<T>): Promise<T> =>
  asMailClient(dovecot, 'ann', async (client) => {
    await client.mailboxOpen('INBOX');
    return work(client);
  });

/** Dovecot's INBOX: subject → source and flags. */
const dovecotInbox = () =>
  imap(async (client) => {
    const out = new Map<string, { source: Buffer; flags: string[] }>();
    for await (const m of client.fetch('1:*', { envelope: true, source: true, flags: true })) {
      out.set(m.envelope?.subject ?? '', { source: m.source as Buffer, flags: [...(m.flags ?? [])].sort() });
    }
    return out;
  });

/** The Maildir's messages: file (cur/ or new/) → bytes. */
function maildir(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const sub of ['cur', 'new']) for (const name of readdirSync(join(dir, sub))) out.set(`${sub}/${name}`, readFileSync(join(dir, sub, name)));
  return out;
}

const subjectOf = (bytes: Buffer) => /^Subject: (.*)\r?$/m.exec(bytes.toString('utf8'))?.[1] ?? '';
const fileOf = (dir: string, subject: string) => {
  const found = [...maildir(dir)].find(([, bytes]) => subjectOf(bytes) === subject);
  assert.ok(found, `the Maildir holds ${subject}`);
  return found[0];
};

test('a Maildir in two-way sync with a mail folder, through the CLI', async () => {
  for (const n of [1, 2, 3]) await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, message(n));
  const ann = await newAccount(server);
  const view = await addUpstream(server, ann.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'ann', password: 'ann-secret' });
  const inbox = view.collections.find((c) => c.collectionName === 'INBOX');
  assert.ok(inbox);
  await runUpstreams(server, ann.accountId);
  const dir = join(work, 'Mail');
  // Its own process, as a user runs it; not spawnSync, which would stall the server this process runs.
  const sync = async (expectCode = 0) => {
    const child = spawn(process.execPath, [bin, 'sync', dir, '--server', server.url, '--user', ann.accountName, '--collection', 'INBOX', '--kind', 'mail', '--password-stdin']);
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(`${ann.password}\n`);
    const code = await new Promise<number | null>((done) => child.on('close', done));
    assert.equal(code, expectCode, stderr);
    return { stdout, stderr };
  };

  // Without --kind mail it is no folder of .vcf/.ics files.
  const plain = spawn(process.execPath, [bin, 'sync', join(work, 'Plain'), '--server', server.url, '--user', ann.accountName, '--collection', 'INBOX', '--password-stdin']);
  let plainErr = '';
  plain.stderr.on('data', (chunk: Buffer) => (plainErr += chunk.toString()));
  plain.stdin.end(`${ann.password}\n`);
  assert.equal(await new Promise((done) => plain.on('close', done)), 1);
  assert.match(plainErr, /collection INBOX is a mail folder: sync it into a Maildir with --kind mail/);
  assert.deepEqual(readdirSync(join(work, 'Plain')), ['.syncpoint']);

  // Delivered mail appears as files in cur/, byte for byte as Dovecot holds it.
  assert.match((await sync()).stdout, /3 messages written/);
  const held = await dovecotInbox();
  const files = maildir(dir);
  assert.equal(files.size, 3);
  for (const [path, bytes] of files) {
    assert.match(path, /^cur\/[A-Za-z0-9_-]+:2,$/, 'unread: no letters');
    assert.ok(held.get(subjectOf(bytes))?.source.equals(bytes), `${path} is the message Dovecot holds`);
  }
  assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'tmp/ is left empty');

  // Nothing changed: nothing changes.
  const quiet = (await sync()).stdout;
  assert.match(quiet, /sent 0 changed, 0 deleted; received 0 \(0 messages written, 0 renamed, 0 removed\)/);
  assert.deepEqual([...maildir(dir).keys()].sort(), [...files.keys()].sort());

  // The reader reads message 1 (S) and flags message 2 after moving it from new/ as mutt would (F): Dovecot is told.
  const one = fileOf(dir, 'Maildir 1');
  renameSync(join(dir, one), join(dir, `${one}S`));
  const two = fileOf(dir, 'Maildir 2');
  renameSync(join(dir, two), join(dir, `${two}F`));
  assert.match((await sync()).stdout, /sent 2 changed, 0 deleted/);
  await runUpstreams(server, ann.accountId);
  let now = await dovecotInbox();
  assert.deepEqual(now.get('Maildir 1')?.flags, ['\\Seen']);
  assert.deepEqual(now.get('Maildir 2')?.flags, ['\\Flagged']);
  assert.deepEqual(now.get('Maildir 3')?.flags, []);

  // The reader removes message 3: Dovecot expunges it.
  rmSync(join(dir, fileOf(dir, 'Maildir 3')));
  assert.match((await sync()).stdout, /sent 0 changed, 1 deleted/);
  await runUpstreams(server, ann.accountId);
  now = await dovecotInbox();
  assert.deepEqual([...now.keys()].sort(), ['Maildir 1', 'Maildir 2']);

  // Another mail program answers message 2 at Dovecot; new mail arrives: the file is renamed, the new one written.
  await imap(async (client) => {
    const [uid] = (await client.search({ subject: 'Maildir 2' }, { uid: true })) || [];
    await client.messageFlagsAdd(String(uid), ['\\Answered'], { uid: true });
  });
  await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, message(4));
  await runUpstreams(server, ann.accountId);
  assert.match((await sync()).stdout, /1 messages written, 1 renamed, 0 removed/);
  assert.match(fileOf(dir, 'Maildir 2'), /^cur\/[A-Za-z0-9_-]+:2,FR$/);
  assert.match(fileOf(dir, 'Maildir 1'), /:2,S$/);
  now = await dovecotInbox();
  assert.ok(now.get('Maildir 4')?.source.equals(maildir(dir).get(fileOf(dir, 'Maildir 4')) as Buffer));

  // Expunged at Dovecot while the reader flagged it here: the delete wins, and the file goes.
  const flagged = fileOf(dir, 'Maildir 1');
  renameSync(join(dir, flagged), join(dir, flagged.replace(/S$/, 'FS')));
  await imap(async (client) => {
    const [uid] = (await client.search({ subject: 'Maildir 1' }, { uid: true })) || [];
    await client.messageDelete(String(uid), { uid: true });
  });
  await runUpstreams(server, ann.accountId);
  const raced = await sync();
  assert.match(raced.stdout, /sent 1 changed, 0 deleted; .* 0 renamed, 1 removed/);
  assert.doesNotMatch(raced.stderr, /refused/);
  assert.match((await sync()).stdout, /sent 0 changed, 0 deleted; received 0 \(0 messages written, 0 renamed, 0 removed\)/);
  assert.deepEqual([...maildir(dir).values()].map(subjectOf).sort(), ['Maildir 2', 'Maildir 4']);

  // A message the server does not know: left alone, reported once.
  writeFileSync(join(dir, 'new', '1700000000.M1P1.host'), message(9));
  const first = await sync();
  assert.match(first.stderr, /left alone new\/1700000000\.M1P1\.host/);
  assert.doesNotMatch((await sync()).stderr, /left alone/);
  assert.ok(existsSync(join(dir, 'new', '1700000000.M1P1.host')));
  rmSync(join(dir, 'new', '1700000000.M1P1.host'));

  // Python's mailbox module reads it as a Maildir, flags included.
  const py = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import mailbox,sys\nfor k,m in sorted(mailbox.Maildir(sys.argv[1], create=False).items(), key=lambda x: x[1]["subject"]): print(m["subject"], m.get_flags(), m.get_subdir())', dir],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout, 'Maildir 2 FR cur\nMaildir 4  cur\n');
});

test('a run that stops after its sync committed, or after writing a message it did not record, is finished by the next: nothing reverted, nothing twice', async () => {
  dovecot.addUser('cy', 'cy-secret');
  const deliver = (n: number) => deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`cy@${dovecot.domain}`] }, message(n));
  await deliver(11);
  await deliver(12);
  const cy = await newAccount(server);
  await addUpstream(server, cy.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'cy', password: 'cy-secret' });
  await runUpstreams(server, cy.accountId);
  const dir = join(work, 'Crash');
  const options = { dir, server: server.url, user: cy.accountName, collectionName: 'INBOX', kind: 'mail' as const, transport: new HttpTransport({ baseUrl: server.url, credentials: { user: cy.accountName, password: cy.password } }) };
  assert.equal((await syncMaildir(options)).delivered, 2);
  const cyImap = <T>(work: (client: ImapFlow) => Promise<T>) =>
    asMailClient(dovecot, 'cy', async (client) => {
      await client.mailboxOpen('INBOX');
      return work(client);
    });

  // Flagged at Dovecot, new mail there, and read here; then a run stops right after its sync committed.
  await cyImap(async (client) => {
    const [uid] = (await client.search({ subject: 'Maildir 11' }, { uid: true })) || [];
    await client.messageFlagsAdd(String(uid), ['\\Flagged'], { uid: true });
  });
  await deliver(13);
  await runUpstreams(server, cy.accountId);
  const twelve = fileOf(dir, 'Maildir 12');
  renameSync(join(dir, twelve), join(dir, `${twelve}S`));
  await assert.rejects(syncMaildir({ ...options, client: { onProgress: () => { throw new Error('stopped'); } } }), /stopped/);
  assert.match(fileOf(dir, 'Maildir 11'), /:2,$/, 'not renamed yet');
  assert.equal(maildir(dir).size, 2, 'not written yet');

  const next = await syncMaildir(options);
  assert.deepEqual([next.uploaded, next.delivered, next.renamed], [{ changed: 0, deleted: 0 }, 1, 1], 'the server\'s \\Flagged is written, not taken for the reader\'s change');
  assert.match(fileOf(dir, 'Maildir 11'), /:2,F$/);
  await runUpstreams(server, cy.accountId);
  const flags = await cyImap(async (client) => {
    const out: Record<string, string[]> = {};
    for await (const m of client.fetch('1:*', { envelope: true, flags: true })) out[m.envelope?.subject ?? ''] = [...(m.flags ?? [])].sort();
    return out;
  });
  assert.deepEqual(flags, { 'Maildir 11': ['\\Flagged'], 'Maildir 12': ['\\Seen'], 'Maildir 13': [] });

  // Written, then stopped before it was recorded (and a write cut short in tmp/): taken as written, not written twice.
  const replica = openSqliteReplica(join(dir, '.syncpoint', 'replica.db'));
  const { collectionId } = JSON.parse(readFileSync(join(dir, '.syncpoint', 'folder.json'), 'utf8')) as { collectionId: string };
  replica.transaction((tx) => {
    for (const item of tx.all(collectionId)) tx.put(collectionId, { ...item, appState: null });
  });
  replica.close();
  writeFileSync(join(dir, 'tmp', 'x.1.syncpoint'), 'cut');
  const again = await syncMaildir(options);
  assert.deepEqual([again.uploaded, again.delivered, again.renamed, again.removed], [{ changed: 0, deleted: 0 }, 0, 0, 0]);
  assert.equal(maildir(dir).size, 3);
  assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
  // And recorded now: a reader's change after it is sent.
  const thirteen = fileOf(dir, 'Maildir 13');
  renameSync(join(dir, thirteen), join(dir, `${thirteen}S`));
  assert.equal((await syncMaildir(options)).uploaded.changed, 1);
});

test('sync --watch keeps a Maildir in sync: new mail and flags set elsewhere arrive by push, the reader\'s renames and removals reach Dovecot', async () => {
  // A server that watches its IMAP upstreams (server/mail-watchers.ts) and runs one soon after a device wrote to it
  // (Upstreams.followDeviceWrites): mail and flags go both ways with no run asked for.
  const watching = await startTestServer({ upstreamWatchersMax: 10, upstreamRunMinutes: 60 });
  const dir = join(work, 'Watched');
  let child: ReturnType<typeof spawn> | undefined;
  try {
    dovecot.addUser('wes', 'wes-secret');
    const wes = await newAccount(watching);
    await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`wes@${dovecot.domain}`] }, message(10));
    await addUpstream(watching, wes.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'wes', password: 'wes-secret' });
    // Run by its watcher's first connection (or the schedule's first tick), not by the test: either may hold it.
    await eventually(async () => (await watching.hub.upstreams.list(wes.accountId))[0]?.lastRunAt != null, 'the first run of the upstream', 20_000);
    const wesInbox = () =>
      asMailClient(dovecot, 'wes', async (client) => {
        await client.mailboxOpen('INBOX');
        const out = new Map<string, string[]>();
        for await (const m of client.fetch('1:*', { envelope: true, flags: true })) out.set(m.envelope?.subject ?? '', [...(m.flags ?? [])].sort());
        return out;
      });

    const lines: string[] = [];
    child = spawn(process.execPath, [bin, 'sync', dir, '--watch', '--server', watching.url, '--user', wes.accountName, '--collection', 'INBOX', '--kind', 'mail', '--password-stdin']);
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin?.end(`${wes.password}\n`);
    await eventually(() => lines.includes('watching; Ctrl-C stops'), 'the watch to start', 20_000);
    assert.match(lines[0] as string, /1 messages written/, stderr);

    // New mail: written to cur/ by push, with no run of the CLI or the upstream asked for.
    await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`wes@${dovecot.domain}`] }, message(11));
    await eventually(() => [...maildir(dir).values()].some((bytes) => subjectOf(bytes) === 'Maildir 11'), 'new mail in the Maildir', 20_000);

    // Flagged at Dovecot by another mail program: the file is renamed.
    await asMailClient(dovecot, 'wes', async (client) => {
      await client.mailboxOpen('INBOX');
      const [uid] = (await client.search({ subject: 'Maildir 10' }, { uid: true })) || [];
      await client.messageFlagsAdd(String(uid), ['\\Flagged'], { uid: true });
    });
    await eventually(() => /:2,F$/.test(fileOf(dir, 'Maildir 10')), 'the file of a message flagged elsewhere renamed', 20_000);

    // The reader reads message 11 and removes message 10: Dovecot is told.
    const eleven = fileOf(dir, 'Maildir 11');
    renameSync(join(dir, eleven), join(dir, `${eleven}S`));
    rmSync(join(dir, fileOf(dir, 'Maildir 10')));
    await eventually(async () => {
      const now = await wesInbox();
      return !now.has('Maildir 10') && now.get('Maildir 11')?.join() === '\\Seen';
    }, 'the reader\'s read and removal at Dovecot', 20_000);
    assert.ok(lines.some((l) => /^local: \d+ changed, \d+ deleted$/.test(l)), lines.join('\n'));
    assert.doesNotMatch(stderr, /error/i);
  } finally {
    child?.kill('SIGTERM');
    if (child) await new Promise((done) => child?.on('close', done));
    await watching.stop();
  }
});
