import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { copyFileSync } from 'node:fs';
import type { ImapFlow } from 'imapflow';
import { ImapWatcher, type WatchedChange } from '../../src/connectors/imap/watcher.js';
import { hostGuard } from '../../src/server/upstream-addresses.js';
import type { PushMessage } from '../../src/protocol/push.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { eventually, openRawChannel } from '../support/push.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { deliverOverLmtp } from '../support/submission.js';
import { newAccount } from '../support/sync.js';
import { addUpstream } from '../support/upstreams.js';

/**
 * Watching IMAP upstreams (docs/design.md § Mail, watching; docs/operations.md § Upstream servers),
 * against Debian's Dovecot on loopback, through a real server with watchers on: mail delivered over LMTP,
 * and a flag set by another IMAP client, reach a device's push channel with no run asked for; the watcher
 * holds one connection per account; it connects again when Dovecot drops it; removing the upstream ends
 * its watcher; past upstreamWatchersMax upstreams are not watched. The watcher alone: NOTIFY names the
 * folder that changed and batches a burst; without NOTIFY, the Inbox's IDLE and LIST-STATUS polling find
 * the same.
 */
let dovecot: Dovecot;
let server: TestServer;
const users = { ann: 'ann-secret', ben: 'ben-secret', cal: 'cal-secret', dee: 'dee-secret', eve: 'eve-secret', fay: 'fay-secret', gus: 'gus-secret', hal: 'hal-secret' };

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users }), startTestServer({ upstreamWatchersMax: 10 })]);
});
after(async () => {
  await Promise.all([server?.stop(), dovecot?.stop()]);
});

let sent = 0;
function message(user: string, subject: string): string {
  sent++;
  return [`From: Carol <carol@example.org>`, `To: ${user}@${dovecot.domain}`, `Subject: ${subject}`, `Message-ID: <w${sent}@example.org>`, 'Content-Type: text/plain', '', `The text of ${subject}.`, ''].join('\r\n');
}
const deliver = (user: string, subject: string) => deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`${user}@${dovecot.domain}`] }, message(user, subject));

const otherClient = <T>(user: keyof typeof users, work: (client: ImapFlow) => Promise<T>) => asMailClient(dovecot, user, work);

/** The user's IMAP connections, as Dovecot counts them (`doveadm who`: NAME COUNT PROTOCOL (PIDS) (IPS)). */
function imapConnections(user: string): number {
  const line = dovecot
    .doveadm(['who'])
    .split('\n')
    .find((l) => l.split(/\s+/)[0] === user && /\bimap\b/.test(l));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}

const imapUrl = () => `imap://${dovecot.host}:${dovecot.imapPort}`;

async function watchedAccount(user: keyof typeof users) {
  const account = await newAccount(server);
  const upstream = await addUpstream(server, account.accountId, { kind: 'imap', url: imapUrl(), username: user, password: users[user] });
  const inbox = upstream.collections.find((c) => c.collectionName === 'INBOX')?.collectionId;
  assert.ok(inbox);
  // Its watcher's first connection runs it once (whatever happened while nobody watched).
  await eventually(async () => (await server.hub.upstreams.list(account.accountId))[0]?.lastRunAt != null, 'the first run of the watched upstream');
  return { ...account, upstream, inbox };
}

const mailNotice = (collectionId: string, op: string, match: (data: { subject: string; flags: string[] }) => boolean) => (m: PushMessage) =>
  m.type === 'change' && m.collectionId === collectionId && m.command.op === op && 'data' in m.command && typeof m.command.data === 'string' && match(JSON.parse(m.command.data));

test('new mail and a flag set elsewhere reach a device by push with no run asked for, over one watching connection', async () => {
  const { authorization, inbox } = await watchedAccount('ann');
  const phone = openRawChannel(server.url, { device: 'phone' }, { authorization });
  await phone.next((m) => m.type === 'hello');

  const start = Date.now();
  await deliver('ann', 'Hello');
  await phone.next(mailNotice(inbox, 'add', (d) => d.subject === 'Hello'), 5000);
  const latency = Date.now() - start;
  // Loose: the figure itself is the bench's (npm run bench:mail-push).
  assert.ok(latency < 5000, `notified after ${latency} ms`);

  await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    await c.messageFlagsAdd({ subject: 'Hello' }, ['\\Flagged']);
  });
  await phone.next(mailNotice(inbox, 'change', (d) => d.subject === 'Hello' && d.flags.includes('\\Flagged')), 5000);

  // Between runs the watcher is the account's only connection.
  await eventually(async () => imapConnections('ann') === 1, 'one IMAP connection of ann');
  phone.socket.close();
});

test('a watcher connects again when Dovecot drops its connection, and mail after it still arrives', async () => {
  const { accountId, authorization, inbox } = await watchedAccount('ben');
  const lastRun = async () => (await server.hub.upstreams.list(accountId))[0]?.lastRunAt ?? 0;
  const phone = openRawChannel(server.url, { device: 'phone' }, { authorization });
  await phone.next((m) => m.type === 'hello');
  await eventually(async () => imapConnections('ben') === 1, 'the watcher of ben');
  const before = await lastRun();
  dovecot.doveadm(['kick', 'ben']);
  // Gone, then back after the watcher's first wait (limits.mailWatchBackoffMs).
  await eventually(async () => imapConnections('ben') === 0, 'the watcher of ben kicked');
  await eventually(async () => imapConnections('ben') === 1, 'the watcher of ben back', 15_000);
  // The run its new connection asked for (for what came while nobody watched) is done: the next mail is the watcher's to see.
  await eventually(async () => (await lastRun()) > before, 'the run after the new connection');
  await deliver('ben', 'After the kick');
  await phone.next(mailNotice(inbox, 'add', (d) => d.subject === 'After the kick'), 5000);
  phone.socket.close();
});

test('a change seen while a run of the upstream is under way elsewhere is not lost: its run goes ahead once that one ends', async () => {
  const { authorization, inbox, upstream } = await watchedAccount('dee');
  const phone = openRawChannel(server.url, { device: 'phone' }, { authorization });
  await phone.next((m) => m.type === 'hello');
  // Another process's run, as the store's exclusive run of the upstream stands for it, holds the upstream
  // while the mail arrives and the watcher sees it; it read IMAP before, so brings nothing.
  const held = await server.hub['store'].tryExclusive(`upstream ${upstream.id}`, async () => {
    await deliver('dee', 'During a run');
    await new Promise((resolve) => setTimeout(resolve, 1500));
  });
  assert.ok(held);
  await phone.next(mailNotice(inbox, 'add', (d) => d.subject === 'During a run'), 5000);
  phone.socket.close();
});

test('removing an upstream ends its watcher; past upstreamWatchersMax upstreams are not watched', async () => {
  const { accountId, upstream } = await watchedAccount('cal');
  await eventually(async () => imapConnections('cal') === 1, 'the watcher of cal');
  const watched = server.mailWatchers.size;
  await server.hub.upstreams.remove(accountId, upstream.id);
  await eventually(async () => server.mailWatchers.size === watched - 1 && imapConnections('cal') === 0, 'no watcher of cal');

  const capped = await startTestServer({ upstreamWatchersMax: 1 });
  try {
    for (const user of ['fay', 'gus'] as const) {
      const account = await capped.addUser(`capped-${user}`);
      await addUpstream(capped, account.accountId, { kind: 'imap', url: imapUrl(), username: user, password: users[user] });
    }
    await eventually(async () => imapConnections('fay') === 1, 'the watcher of the first upstream');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(capped.mailWatchers.size, 1);
    assert.equal(imapConnections('gus'), 0, 'the second upstream is not watched');
  } finally {
    await capped.stop();
  }
  assert.equal(imapConnections('fay'), 0, 'a stopped server leaves no watching connection');
});

test('two processes on one PostgreSQL database: one watches, and the other takes over when it stops', async (t) => {
  if (server.database === '') {
    t.skip('one process per SQLite data directory');
    return;
  }
  const one = await startTestServer({ upstreamWatchersMax: 10 });
  // The same key, in a file of its own: a test server's stop removes its key file.
  copyFileSync(one.secretKeyFile, `${one.secretKeyFile}.two`);
  const two = await startTestServer({ database: one.database, secretKeyFile: `${one.secretKeyFile}.two`, upstreamWatchersMax: 10 });
  let oneStopped = false;
  try {
    const account = await one.addUser('two-processes');
    // Added through the process that stands by: the watching one takes it up at its next look.
    const upstream = await addUpstream(two, account.accountId, { kind: 'imap', url: imapUrl(), username: 'hal', password: users.hal });
    const inbox = upstream.collections.find((c) => c.collectionName === 'INBOX')?.collectionId as string;
    await eventually(async () => imapConnections('hal') === 1, 'a watcher of hal', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual([one.mailWatchers.size, two.mailWatchers.size], [1, 0], 'the first process watches, the second stands by');
    assert.equal(imapConnections('hal'), 1);
    await one.stop();
    oneStopped = true;
    await eventually(async () => two.mailWatchers.size === 1 && imapConnections('hal') === 1, 'the second process watching', 25_000);
    const phone = openRawChannel(two.url, { device: 'phone' }, { authorization: account.authorization });
    await phone.next((m) => m.type === 'hello');
    await eventually(async () => (await two.hub.upstreams.list(account.accountId))[0]?.lastRunAt != null, 'a run');
    await deliver('hal', 'Taken over');
    await phone.next(mailNotice(inbox, 'add', (d) => d.subject === 'Taken over'), 5000);
    phone.socket.close();
  } finally {
    if (!oneStopped) await one.stop();
    await two.stop();
  }
});

/** A watcher of `user` alone, recording what it tells. */
async function watcherOf(user: keyof typeof users, options: { notify: boolean }) {
  const changes: WatchedChange[] = [];
  const watcher = new ImapWatcher(imapUrl(), { username: user, password: users[user] }, hostGuard(['127.0.0.1']), (c) => changes.push(c), { ...options, pollMs: 300 });
  watcher.start();
  await eventually(() => changes.some((c) => c.all), 'the first connection told as a change of everything');
  changes.length = 0;
  return { watcher, changes };
}

for (const notify of [true, false]) {
  test(`the watcher alone ${notify ? 'with NOTIFY' : 'without NOTIFY (Inbox IDLE, LIST-STATUS polling)'}: names the folder that changed, and batches a burst`, async () => {
    await otherClient('eve', (c) => c.mailboxCreate(`Archive${notify ? 'N' : 'P'}`).catch(() => undefined));
    const { watcher, changes } = await watcherOf('eve', { notify });
    try {
      assert.equal(watcher.mode, notify ? 'notify' : 'poll');
      for (let i = 0; i < 5; i++) await deliver('eve', `Burst ${i}`);
      await eventually(() => changes.some((c) => c.folders.includes('INBOX')), 'a change of INBOX', 5000);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.ok(changes.length < 5, `a burst of 5 told in fewer changes: ${JSON.stringify(changes)}`);
      changes.length = 0;
      const archive = `Archive${notify ? 'N' : 'P'}`;
      await otherClient('eve', (c) => c.append(archive, message('eve', 'Filed')));
      await eventually(() => changes.some((c) => c.folders.includes(archive)), `a change of ${archive}`, 5000);
    } finally {
      await watcher.stop();
    }
  });
}
