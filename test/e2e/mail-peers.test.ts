import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { deliverOverLmtp, startSubmission, type Submission } from '../support/submission.js';

/**
 * The mail peers the mail tests and bench use (test/support/dovecot.ts, test/support/submission.ts), proved
 * against themselves: Dovecot offers what the IMAP connector requires, mail sent through the submission
 * server with AUTH arrives in the recipient's INBOX over LMTP, a master user opens any user's mail, a
 * UIDVALIDITY reset is seen by clients, and stopping leaves no Dovecot process behind.
 */
let dovecot: Dovecot;
let submission: Submission;
const clients: ImapFlow[] = [];

before(async () => {
  dovecot = await startDovecot();
  submission = await startSubmission({ dovecot });
});

after(async () => {
  for (const client of clients) await client.logout().catch(() => client.close());
  await submission?.stop();
  await dovecot?.stop();
});

async function imap(user: string, pass: string): Promise<ImapFlow> {
  const client = new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, auth: { user, pass }, logger: false, qresync: true });
  await client.connect();
  clients.push(client);
  return client;
}

/** Whether `pid` runs (a zombie, ended but not yet reaped by whoever inherited it, does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function smtp(user: string, pass: string) {
  return nodemailer.createTransport({ host: submission.host, port: submission.port, secure: false, ignoreTLS: true, auth: { user, pass } });
}

test('Dovecot offers CONDSTORE, QRESYNC, NOTIFY, MOVE, UIDPLUS, IDLE and LIST-STATUS over plain loopback', async () => {
  const client = await imap('alice', dovecot.users.alice!.password);
  for (const capability of ['CONDSTORE', 'QRESYNC', 'NOTIFY', 'MOVE', 'UIDPLUS', 'IDLE', 'LIST-STATUS', 'SPECIAL-USE']) {
    assert.ok(client.capabilities.has(capability), `missing ${capability}: ${[...client.capabilities.keys()].join(' ')}`);
  }
  const specialUse = (await client.list()).filter((m) => m.specialUse).map((m) => `${m.path} ${m.specialUse}`).sort();
  assert.deepEqual(specialUse, ['Drafts \\Drafts', 'INBOX \\Inbox', 'Junk \\Junk', 'Sent \\Sent', 'Trash \\Trash']);
});

test('a wrong password is refused by IMAP and by submission', async () => {
  await assert.rejects(imap('alice', 'not her password'));
  const refused = (error: Error & { responseCode?: number }) => error.responseCode === 535;
  await assert.rejects(smtp('alice', 'not her password').sendMail({ from: dovecot.users.alice!.address, to: dovecot.users.bob!.address, text: 'x' }), refused);
  await assert.rejects(smtp('mallory', dovecot.users.alice!.password).sendMail({ from: 'm@example.test', to: dovecot.users.bob!.address, text: 'x' }), refused);
  assert.equal(submission.accepted.length, 0);
});

test('mail sent through submission with AUTH arrives in the recipient INBOX with its UID and MODSEQ', async () => {
  const bob = await imap('bob', dovecot.users.bob!.password);
  const before = await bob.status('INBOX', { messages: true, uidNext: true, highestModseq: true });
  const sent = await smtp('alice', dovecot.users.alice!.password).sendMail({
    from: dovecot.users.alice!.address,
    to: [dovecot.users.bob!.address, 'carol@elsewhere.test'],
    subject: 'Lunch on Friday',
    text: 'At noon?',
  });
  assert.deepEqual(sent.accepted, [dovecot.users.bob!.address, 'carol@elsewhere.test']);
  const record = submission.accepted.at(-1)!;
  assert.equal(record.user, 'alice');
  assert.equal(record.from, dovecot.users.alice!.address);
  assert.deepEqual(record.to, [dovecot.users.bob!.address, 'carol@elsewhere.test']);
  assert.match(record.raw.toString(), /Subject: Lunch on Friday/);

  // Delivered before submission answered 250: no waiting.
  const lock = await bob.getMailboxLock('INBOX');
  try {
    const message = await bob.fetchOne('*', { uid: true, envelope: true, flags: true, source: true }, { uid: false });
    assert.ok(message);
    assert.equal(message.envelope?.subject, 'Lunch on Friday');
    assert.equal(message.uid, before && before.uidNext);
    assert.equal(typeof message.modseq, 'bigint');
    assert.ok(before && before.highestModseq !== undefined && message.modseq! > before.highestModseq);
    assert.match(message.source!.toString(), /At noon\?/);
  } finally {
    lock.release();
  }
  // Alice got nothing (she sent it; a copy in Sent is the client's job).
  const alice = await imap('alice', dovecot.users.alice!.password);
  assert.equal((await alice.status('INBOX', { messages: true }) || undefined)?.messages, 0);
});

test('an unknown local recipient is refused at RCPT; a new user receives mail at once', async () => {
  const transport = smtp('alice', dovecot.users.alice!.password);
  await assert.rejects(transport.sendMail({ from: dovecot.users.alice!.address, to: `dave@${dovecot.domain}`, text: 'x' }), (error: Error & { responseCode?: number; response?: string }) => {
    assert.equal(error.responseCode, 550);
    assert.match(error.response ?? '', /No such user here/);
    return true;
  });
  const dave = dovecot.addUser('dave', 'dave-secret');
  // AUTH LOGIN this time (PLAIN elsewhere).
  const login = nodemailer.createTransport({ host: submission.host, port: submission.port, secure: false, ignoreTLS: true, authMethod: 'LOGIN', auth: { user: 'alice', pass: dovecot.users.alice!.password } });
  await login.sendMail({ from: dovecot.users.alice!.address, to: dave.address, subject: 'Welcome', text: 'Hello Dave' });
  const client = await imap('dave', 'dave-secret');
  assert.equal((await client.status('INBOX', { messages: true }) || undefined)?.messages, 1);
});

test('a master user opens any user mail; a wrong master password is refused', async () => {
  await deliverOverLmtp(dovecot, { from: 'list@elsewhere.test', to: [dovecot.users.bob!.address] }, 'From: list@elsewhere.test\r\nTo: bob\r\nSubject: Straight over LMTP\r\n\r\nHi\r\n');
  const asBob = await imap(`bob${dovecot.master.separator}${dovecot.master.user}`, dovecot.master.password);
  const lock = await asBob.getMailboxLock('INBOX');
  try {
    const subjects: string[] = [];
    for await (const message of asBob.fetch('1:*', { envelope: true })) subjects.push(message.envelope?.subject ?? '');
    assert.deepEqual(subjects, ['Lunch on Friday', 'Straight over LMTP']);
  } finally {
    lock.release();
  }
  await assert.rejects(imap(`bob${dovecot.master.separator}${dovecot.master.user}`, 'guess'));
  await assert.rejects(imap(`nobody${dovecot.master.separator}${dovecot.master.user}`, dovecot.master.password));
});

test('resetUidValidity gives the mailbox a UIDVALIDITY clients see changed', async () => {
  const client = await imap('bob', dovecot.users.bob!.password);
  const status = await client.status('INBOX', { uidValidity: true });
  assert.ok(status && status.uidValidity);
  const first = status.uidValidity;
  const next = dovecot.resetUidValidity('bob', 'INBOX');
  assert.equal(BigInt(next), first + 1n);
  const reader = await imap('bob', dovecot.users.bob!.password);
  const mailbox = await reader.mailboxOpen('INBOX');
  assert.equal(mailbox.uidValidity, BigInt(next));
  assert.equal(mailbox.exists, 2);
});

test('stop ends Dovecot and every process it started, and removes its folder', async () => {
  const other = await startDovecot({ users: { erin: 'erin-secret' } });
  const client = new ImapFlow({ host: other.host, port: other.imapPort, secure: false, auth: { user: 'erin', pass: 'erin-secret' }, logger: false });
  await client.connect();
  await client.mailboxOpen('INBOX');
  const master = Number(readFileSync(`${other.dir}/run/master.pid`, 'utf8'));
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(master)]).toString().trim().split(/\s+/).map(Number);
  assert.ok(children.length >= 4, `children of the master: ${children.join(' ')}`);
  await other.stop();
  client.close();
  for (const pid of [master, ...children]) assert.equal(running(pid), false, `process ${pid} survived`);
  assert.equal(existsSync(other.dir), false);
});

test('a test process killed without stopping Dovecot leaves no Dovecot and no folder behind', async () => {
  const support = new URL('../support/dovecot.js', import.meta.url).href;
  const script = `import { readFileSync } from 'node:fs'; import { startDovecot } from ${JSON.stringify(support)};
    const d = await startDovecot(); console.log(JSON.stringify({ dir: d.dir, master: Number(readFileSync(d.dir + '/run/master.pid', 'utf8')) }));
    process.kill(process.pid, 'SIGKILL');`;
  const killed = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const { dir, master } = JSON.parse(killed.stdout) as { dir: string; master: number };
  for (let i = 0; i < 1000 && (running(master) || existsSync(dir)); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(running(master), false, 'the Dovecot master survived its test process');
  assert.equal(existsSync(dir), false, `${dir} survived its test process`);
});

test("Dovecot's default of 10 IMAP connections per user and address holds", async () => {
  dovecot.addUser('frank', 'frank-secret');
  const ten: ImapFlow[] = [];
  for (let i = 0; i < 10; i++) ten.push(await imap('frank', 'frank-secret'));
  await assert.rejects(imap('frank', 'frank-secret'), (error: Error & { responseText?: string }) => {
    assert.match(`${error.message} ${error.responseText ?? ''}`, /Maximum number of connections from user\+IP exceeded/);
    return true;
  });
  for (const client of ten) await client.logout();
});
