import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { startSubmission, type Submission } from '../support/submission.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { serverSql } from '../support/database.js';
import { postJson, startTestServer, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';
import { limits } from '../../src/core/limits.js';
import { HttpTransport, RequestRefusedError } from '../../src/sdk/index.js';

/**
 * Sending mail (docs/protocol.md §10.7) through a real Syncpoint server, Dovecot and an SMTP submission
 * server that delivers over LMTP before it answers: the message arrives, a read copy lands in Sent and
 * syncs back as a mail item; a client id is never sent twice, whether retried after its answer, after a
 * lost answer, or at once; a refused recipient is a clear error and may be tried again; an unknown
 * outcome is settled by the Sent folder, never by sending again; each account's client ids are its own.
 */
let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users: { ann: 'ann-secret', ben: 'ben-secret', cat: 'cat-secret' } }), startTestServer()]);
  submission = await startSubmission({ dovecot });
});
after(async () => {
  await Promise.all([server?.stop(), submission?.stop()]);
  await dovecot?.stop();
});

const address = (user: string) => `${user}@${dovecot.domain}`;

/** A Syncpoint account with the IMAP user's upstream, its submission server included. */
async function mailAccount(user: string, options: { submission?: boolean; submissionUrl?: string } = {}) {
  const account = await newAccount(server);
  const view = await addUpstream(server, account.accountId, {
    kind: 'imap',
    url: `imap://${dovecot.host}:${dovecot.imapPort}`,
    ...(options.submission === false ? {} : { submissionUrl: options.submissionUrl ?? `smtp://${submission.host}:${submission.port}` }),
    username: user,
    password: `${user}-secret`,
  });
  const sent = view.collections.find((c) => c.collectionName === 'Sent');
  const sdk = new HttpTransport({ baseUrl: server.url, credentials: { user: account.accountName, password: account.password } });
  return { ...account, upstream: view, sent: sent?.collectionId, sdk };
}

/** The messages of a folder of `user`, as another IMAP client reads them. */
async function folder(user: string, path: string): Promise<Array<{ subject: string; flags: string[]; source: string }>> {
  const client = new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, auth: { user, pass: `${user}-secret` }, logger: false });
  await client.connect();
  try {
    await client.mailboxOpen(path);
    const out: Array<{ subject: string; flags: string[]; source: string }> = [];
    for await (const m of client.fetch('1:*', { envelope: true, flags: true, source: true })) out.push({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(), source: m.source?.toString('utf8') ?? '' });
    return out;
  } catch (err) {
    if ((err as { responseText?: string }).responseText?.includes("doesn't exist")) return [];
    throw err;
  } finally {
    await client.logout();
  }
}

const withSubject = async (user: string, path: string, subject: string) => (await folder(user, path)).filter((m) => m.subject === subject);
const submittedWith = (subject: string) => submission.accepted.filter((m) => m.raw.toString('utf8').includes(`Subject: ${subject}`));

test('a composed message arrives, a read copy lands in Sent and syncs as a mail item, and the same client id again is answered without sending', async () => {
  const ann = await mailAccount('ann');
  assert.ok(ann.sent, 'the Sent folder is a collection');
  const first = await ann.sdk.sendMail({ clientId: 'draft-1', from: { name: 'Ann', address: address('ann') }, to: [{ name: 'Ben', address: address('ben') }], subject: 'Lunch', text: 'At noon?' });
  assert.equal(first.replayed, false);
  assert.deepEqual(first.accepted, [address('ben')]);
  assert.deepEqual(first.rejected, []);
  assert.equal(first.sentFolder, 'Sent');
  assert.match(first.messageId, new RegExp(`^<[A-Za-z0-9_-]{32}@${dovecot.domain.replace('.', '\\.')}>$`));
  assert.match(first.response ?? '', /^250/);

  const inbox = await withSubject('ben', 'INBOX', 'Lunch');
  assert.equal(inbox.length, 1);
  assert.match(inbox[0]?.source ?? '', /At noon\?/);
  assert.match(inbox[0]?.source ?? '', new RegExp(`Message-ID: ${first.messageId}`, 'i'));
  const copies = await withSubject('ann', 'Sent', 'Lunch');
  assert.deepEqual(copies.map((m) => m.flags), [['\\Seen']]);

  // After a run of the upstream, the copy is a mail item of the Sent collection.
  await runUpstreams(server, ann.accountId);
  const phone = ann.device('phone');
  await phone.pull(ann.sent as string);
  const items = [...phone.view(ann.sent as string).values()].map((i) => JSON.parse(i.data) as { subject: string; flags: string[]; messageId: string });
  assert.deepEqual(items.map((i) => [i.subject, i.flags, i.messageId]), [['Lunch', ['\\Seen'], first.messageId]]);

  // The same client id again: the same answer, replayed; nothing reaches the submission server or ben.
  const before = submission.accepted.length;
  const again = await ann.sdk.sendMail({ clientId: 'draft-1', from: { address: address('ann') }, to: [{ address: address('ben') }], subject: 'Lunch', text: 'At noon?' });
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(submission.accepted.length, before);
  assert.equal((await withSubject('ben', 'INBOX', 'Lunch')).length, 1);
  assert.equal((await withSubject('ann', 'Sent', 'Lunch')).length, 1);
});

test('a whole message: sent as given with a Message-ID and Date added, Bcc kept from the recipients but in the Sent copy', async () => {
  const ann = await mailAccount('ann');
  const raw = ['From: Ann <' + address('ann') + '>', 'To: carol@example.org', 'Bcc: ' + address('ben'), 'Subject: Raw one', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Grüße, line one', 'line two', ''].join('\n');
  const answer = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, { clientId: 'raw-1', message: raw });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual([...answer.body.accepted].sort(), [address('ben'), 'carol@example.org'].sort());
  const [wire] = submittedWith('Raw one');
  assert.ok(wire);
  const text = wire.raw.toString('utf8');
  assert.doesNotMatch(text, /^Bcc:/im, 'no recipient sees the blind copy');
  assert.match(text, new RegExp(`^Message-ID: ${answer.body.messageId}\r$`, 'm'));
  assert.match(text, /^Date: .+\r$/m);
  assert.match(text, /Grüße, line one\r\nline two\r\n/);
  const [copy] = await withSubject('ann', 'Sent', 'Raw one');
  assert.match(copy?.source ?? '', /^Bcc: ben@/im);
  assert.equal((await withSubject('ben', 'INBOX', 'Raw one')).length, 1);
});

test('an answer lost on the way: the send went once, and asking again is answered as it was', async () => {
  const ann = await mailAccount('ann');
  const body = JSON.stringify({ clientId: 'lost-1', to: [{ address: address('ben') }], from: { address: address('ann') }, subject: 'Lost answer', text: 'once' });
  // The request is sent whole, and its connection closed unread once the server has handed the message
  // over (timing the close instead would race the server reading the request, on a loaded machine).
  const req = request(`${server.url}/api/v1/mail/send`, { method: 'POST', headers: { authorization: ann.authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  req.on('error', () => {});
  req.end(body);
  for (let i = 0; i < 400 && submittedWith('Lost answer').length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  req.destroy();
  assert.equal(submittedWith('Lost answer').length, 1, 'the first request reached the submission server');
  let answer: { status: number; body: any } | undefined;
  for (let i = 0; i < 200; i++) {
    answer = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, JSON.parse(body));
    // 409: the first is still under way; ask again, as a client would.
    if (answer.status !== 409) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(answer?.status, 200, JSON.stringify(answer?.body));
  assert.equal(answer?.body.replayed, true);
  assert.equal(submittedWith('Lost answer').length, 1);
  assert.equal((await withSubject('ben', 'INBOX', 'Lost answer')).length, 1);

  // Two at once on the hub: one sends, the other is told it is under way (409); one message in all.
  const send = () => server.hub.mail.send(ann.accountId, { clientId: 'twice-1', to: [{ address: address('ben') }], from: { address: address('ann') }, subject: 'Twice at once', text: 'once' });
  const both = await Promise.allSettled([send(), send()]);
  const statuses = both.map((r) => (r.status === 'fulfilled' ? 'sent' : (r.reason as { status?: string }).status));
  assert.deepEqual(statuses.sort(), ['conflict', 'sent']);
  assert.equal(submittedWith('Twice at once').length, 1);
  const third = await send();
  assert.equal(third.replayed, true);
  assert.equal(submittedWith('Twice at once').length, 1);
});

test('a refused recipient: a clear 502 with the reply, recorded as not sent, so the same client id is tried again and goes', async () => {
  const ann = await mailAccount('ann');
  const message = { clientId: 'refused-1', from: { address: address('ann') }, to: [{ address: address('dan') }], subject: 'To Dan', text: 'hello' };
  const refused = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, message);
  assert.equal(refused.status, 502);
  assert.equal(refused.body.status, 'upstreamFailed');
  assert.equal(refused.body.upstreamError, 'refused');
  assert.match(refused.body.message, /dan@example\.test: 550 No such user here/);
  const [row] = await serverSql<{ state: string; error: string }>(server, 'SELECT state, error FROM mail_sends WHERE account_id = ? AND client_id = ?', [ann.accountId, 'refused-1']);
  assert.equal(row?.state, 'failed');
  await assert.rejects(ann.sdk.sendMail(message), (err: unknown) => err instanceof RequestRefusedError && err.status === 'upstreamFailed' && /550/.test(err.message));
  assert.equal(submittedWith('To Dan').length, 0);

  // Dan gets an account there; the same client id now goes, once.
  dovecot.addUser('dan', 'dan-secret');
  const sent = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, message);
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(sent.body.replayed, false);
  assert.equal((await withSubject('dan', 'INBOX', 'To Dan')).length, 1);

  // One recipient refused among others: sent to the others, the refusal told, and not sent again.
  const partly = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, { ...message, clientId: 'partly-1', to: [{ address: address('ben') }, { address: address('eve') }], subject: 'Partly' });
  assert.equal(partly.status, 200);
  assert.deepEqual(partly.body.accepted, [address('ben')]);
  assert.deepEqual(partly.body.rejected.map((r: { address: string }) => r.address), [address('eve')]);
  assert.match(partly.body.rejected[0].reply, /^550/);
});

test('a send whose outcome is unknown is settled by the Sent folder, never sent again', async () => {
  const ann = await mailAccount('ann');
  const message = { clientId: 'unknown-1', from: { address: address('ann') }, to: [{ address: address('ben') }], subject: 'Unknown', text: 'maybe' };
  // As a process stopped between recording the send and the server's answer leaves it.
  const record = (clientId: string, messageId: string) =>
    serverSql(server, `INSERT INTO mail_sends (account_id, client_id, state, upstream_id, message_id, started_at, sent_at, accepted, rejected, response, error, sent_folder) VALUES (?, ?, 'sending', ?, ?, ?, NULL, '[]', '[]', NULL, NULL, NULL)`, [
      ann.accountId,
      clientId,
      ann.upstream.id,
      messageId,
      Date.now(),
    ]);
  await record('unknown-1', '<unknown-1@example.test>');
  const unknown = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, message);
  assert.equal(unknown.status, 409);
  assert.equal(unknown.body.sendState, 'unknown');
  assert.match(unknown.body.message, /may have been sent; it is not sent again/);
  // The SDK hands a program the body's fields, so it acts on sendState, never on the message's words.
  await assert.rejects(ann.sdk.sendMail(message), (err: unknown) => err instanceof RequestRefusedError && err.httpStatus === 409 && err.details.sendState === 'unknown');
  assert.equal(submittedWith('Unknown').length, 0);

  // One that did go: its copy is in Sent, so it is answered as sent.
  await record('unknown-2', '<unknown-2@example.test>');
  await asMailClient(dovecot, 'ann', (client) => client.append('Sent', `From: ${address('ann')}\r\nTo: ${address('ben')}\r\nSubject: Went\r\nMessage-ID: <unknown-2@example.test>\r\n\r\nit went\r\n`, ['\\Seen']));
  const went = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, { ...message, clientId: 'unknown-2' });
  assert.equal(went.status, 200, JSON.stringify(went.body));
  assert.equal(went.body.replayed, true);
  assert.equal(went.body.messageId, '<unknown-2@example.test>');
  assert.equal(submittedWith('Unknown').length, 0);
});

test('client ids are per account; bad requests are told apart: 400, 404, 413', async () => {
  const ann = await mailAccount('ann');
  const cat = await mailAccount('cat');
  const message = (from: string) => ({ clientId: 'shared-1', from: { address: address(from) }, to: [{ address: address('ben') }], subject: `Shared id from ${from}`, text: 'x' });
  assert.equal((await ann.sdk.sendMail(message('ann'))).replayed, false);
  const other = await cat.sdk.sendMail(message('cat'));
  assert.equal(other.replayed, false);
  assert.equal((await withSubject('ben', 'INBOX', 'Shared id from cat')).length, 1);

  const send = (body: unknown, who = ann) => postJson(`${server.url}/api/v1/mail/send`, who.authorization, body);
  const noFrom = await send({ clientId: 'bad-1', message: 'To: x@example.org\nSubject: no sender\n\nbody\n' });
  assert.deepEqual([noFrom.status, noFrom.body.message], [400, 'message: the message has no From address']);
  const both = await send({ clientId: 'bad-2', message: 'From: a@example.org\n\nx', to: [{ address: 'x@example.org' }] });
  assert.equal(both.status, 400);
  assert.match(both.body.message, /either message or the parts/);
  const injected = await send({ clientId: 'bad-3', to: [{ address: 'x@example.org' }], subject: 'a\r\nBcc: evil@example.org' });
  assert.equal(injected.status, 400);
  const noId = await send({ to: [{ address: 'x@example.org' }] });
  assert.equal(noId.status, 400);
  const large = await send({ clientId: 'big-1', from: { address: address('ann') }, to: [{ address: address('ben') }], text: 'x'.repeat(limits.mailSendBytesMax + 1) });
  assert.deepEqual([large.status, large.body.status], [413, 'bodyTooLarge']);
  const bare = await mailAccount('ben', { submission: false });
  const none = await send({ clientId: 'none-1', to: [{ address: address('ann') }], from: { address: address('ben') } }, bare);
  assert.equal(none.status, 404);
  assert.match(none.body.message, /no IMAP upstream with a submission server/);
  assert.equal(none.body.reason, 'noSubmission');
  const nobody = await send({ clientId: 'bad-4', message: `From: ${address('ann')}\nSubject: nobody\n\nbody\n` });
  assert.deepEqual([nobody.status, nobody.body.reason], [400, 'noRecipient']);
  // A second mail account with a submission server: which one sends is the client's to say.
  await addUpstream(server, cat.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, submissionUrl: `smtp://${submission.host}:${submission.port}`, username: 'ben', password: 'ben-secret' });
  const which = await send({ clientId: 'two-1', to: [{ address: address('ann') }], from: { address: address('cat') }, subject: 'Which one', text: 'x' }, cat);
  assert.deepEqual([which.status, which.body.reason], [400, 'submissionAmbiguous']);
  assert.equal(submittedWith('Which one').length, 0);
  assert.equal(submittedWith('no sender').length, 0);
});

/**
 * An SMTP server that takes the whole message and then drops the connection without an answer, as a
 * server that crashed at that moment would: whether it sent the message cannot be known.
 */
async function droppingServer(): Promise<{ port: number; messages: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { messages: 0 };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let data = false;
    let buffered = '';
    socket.write('220 dropping.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      if (data) {
        if (buffered.includes('\r\n.\r\n')) {
          state.messages++;
          socket.destroy();
        }
        return;
      }
      let end: number;
      while ((end = buffered.indexOf('\r\n')) !== -1 && !data) {
        const line = buffered.slice(0, end).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (line.startsWith('EHLO')) socket.write('250-dropping.test\r\n250 AUTH PLAIN LOGIN\r\n');
        else if (line.startsWith('AUTH')) socket.write('235 2.7.0 Authentication successful\r\n');
        else if (line.startsWith('DATA')) {
          data = true;
          socket.write('354 go ahead\r\n');
        } else socket.write('250 OK\r\n');
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    port: (server.address() as AddressInfo).port,
    get messages() {
      return state.messages;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}

test('a submission server out of reach is 503 and nothing is recorded as sent; one that drops the connection after the message leaves the outcome unknown, never sent again', async () => {
  const closed = await droppingServer();
  await closed.close();
  const away = await mailAccount('ann', { submissionUrl: `smtp://127.0.0.1:${closed.port}` });
  const message = { clientId: 'away-1', from: { address: address('ann') }, to: [{ address: address('ben') }], subject: 'Away', text: 'x' };
  const unreachable = await postJson(`${server.url}/api/v1/mail/send`, away.authorization, message);
  assert.deepEqual([unreachable.status, unreachable.body.status, unreachable.body.upstreamError], [503, 'unavailable', 'unreachable']);
  assert.match(unreachable.body.message, /cannot send through 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  assert.deepEqual(await serverSql(server, 'SELECT state FROM mail_sends WHERE account_id = ?', [away.accountId]), []);

  const dropping = await droppingServer();
  try {
    const ann = await mailAccount('ann', { submissionUrl: `smtp://127.0.0.1:${dropping.port}` });
    const dropped = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, { ...message, clientId: 'dropped-1' });
    assert.deepEqual([dropped.status, dropped.body.status, dropped.body.upstreamError], [502, 'upstreamFailed', 'unknown']);
    assert.match(dropped.body.message, /it may have been sent/);
    assert.equal(dropping.messages, 1);
    const [row] = await serverSql<{ state: string }>(server, 'SELECT state FROM mail_sends WHERE account_id = ? AND client_id = ?', [ann.accountId, 'dropped-1']);
    assert.equal(row?.state, 'sending');
    // Asked again: not in Sent, so not handed over again.
    const again = await postJson(`${server.url}/api/v1/mail/send`, ann.authorization, { ...message, clientId: 'dropped-1' });
    assert.deepEqual([again.status, again.body.sendState], [409, 'unknown']);
    assert.equal(dropping.messages, 1);
  } finally {
    await dropping.close();
  }
});
