import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import PostalMime from 'postal-mime';
import { z } from 'zod';
import { limits } from '../../src/core/limits.js';
import { rowsAsked } from '../../src/connectors/imap/session.js';
import { syncAnswerMarker, syncMailMarker } from '../../src/faces/native/sync-mail.js';
import { syncResponseSchema, type SyncRequest, type SyncResponse } from '../../src/protocol/sync.js';
import { decodeXml, encodeXml } from '../../src/protocol/xml.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { getJson, startTestServer, vcard, type TestServer } from '../support/server.js';
import { deliverOverLmtp, startSubmission, type Submission } from '../support/submission.js';
import { newAccount } from '../support/sync.js';
import { addUpstream } from '../support/upstreams.js';

/**
 * Sync by mail (docs/protocol.md §21) through a real server watching its IMAP upstreams, Dovecot, and a
 * real SMTP submission server that delivers over LMTP. A device with nothing but email mails its sync
 * requests to its own address; the server picks each up from the Inbox when the watcher sees it arrive,
 * answers by mail to the account's own address and deletes the request. Replays and lost answers follow
 * the sync-key rules of HTTP; a request without a valid app password of the account is never acted on,
 * and its error answer reaches the account's address alone; an oversized or malformed request is told why.
 */
let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;
const users = { ann: 'ann-secret', ben: 'ben-secret', cal: 'cal-secret', dee: 'dee-secret', eve: 'eve-secret', fay: 'fay-secret', gil: 'gil-secret', hal: 'hal-secret' };
type User = keyof typeof users;

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users }), startTestServer({ upstreamWatchersMax: 10 })]);
  submission = await startSubmission({ dovecot });
});
after(async () => {
  await Promise.all([server?.stop(), submission?.stop()]);
  await dovecot?.stop();
});

const address = (user: User) => `${user}@${dovecot.domain}`;

async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A Syncpoint account whose IMAP upstream (with its submission server, or one on `submissionPort`) is
 * `user`'s mailbox, watched; its email is the mailbox's address; an app password for the mail device,
 * which `beforeWatching` may mail requests with before the upstream is added.
 */
async function mailAccount(user: User, options: { on?: TestServer; submissionPort?: number; beforeWatching?: (account: Awaited<ReturnType<typeof newAccount>> & { token: string }) => Promise<void> } = {}) {
  const { on = server } = options;
  const account = await newAccount(on);
  await on.hub.accounts.setEmail(account.accountId, address(user));
  const { token } = await on.hub.accounts.addToken(account.accountId, 'mail only');
  await options.beforeWatching?.({ ...account, token });
  const upstream = await addUpstream(on, account.accountId, {
    kind: 'imap',
    url: `imap://${dovecot.host}:${dovecot.imapPort}`,
    submissionUrl: `smtp://${submission.host}:${options.submissionPort ?? submission.port}`,
    username: user,
    password: users[user],
  });
  // Its watcher's first connection runs it once: from then on a new message is the watcher's to see.
  await waitFor(async () => ((await on.hub.upstreams.list(account.accountId))[0]?.lastRunAt != null ? true : undefined), `the watcher of ${user}`);
  return { ...account, user, token, inbox: upstream.collections.find((c) => c.collectionName === 'INBOX')?.collectionId as string };
}

let mailed = 0;

interface Mailing {
  /** Who sends it (signed in to the submission server as this user); to: always `to`'s own address. */
  as: User;
  to: User;
  /** The Syncpoint-Token header; several: the header that many times. */
  token?: string | string[];
  /** The sync part: a request object (as XML) or raw text. */
  body: SyncRequest | string;
  type?: string;
  subject?: string;
  messageId?: string;
  replyTo?: string;
}

/** Mails a sync request as a device with nothing but email does: through the submission server. Its Message-ID. */
async function mailRequest(m: Mailing): Promise<string> {
  const messageId = m.messageId ?? `<sync-${++mailed}-${Date.now()}@device.test>`;
  const transport = nodemailer.createTransport({ host: submission.host, port: submission.port, secure: false, ignoreTLS: true, auth: { user: m.as, pass: users[m.as] } });
  try {
    await transport.sendMail({
      from: address(m.as),
      to: address(m.to),
      ...(m.replyTo !== undefined ? { replyTo: m.replyTo } : {}),
      subject: m.subject ?? `${syncMailMarker} contacts`,
      messageId,
      headers: m.token !== undefined ? { 'Syncpoint-Token': m.token } : {},
      text: 'A sync request.',
      attachments: [{ filename: 'sync.xml', contentType: m.type ?? 'application/xml', content: typeof m.body === 'string' ? m.body : encodeXml('sync', m.body) }],
    });
  } finally {
    transport.close();
  }
  return messageId;
}

interface Answer {
  uid: number;
  subject: string;
  from: string;
  to: string[];
  status: string;
  /** The attached answer: its media type and text. */
  type: string;
  text: string;
}

/** The answers in `user`'s Inbox to the request `messageId`, oldest first. */
async function answersTo(user: User, messageId: string): Promise<Answer[]> {
  return asMailClient(dovecot, user, async (client) => {
    await client.mailboxOpen('INBOX');
    const uids = await client.search({ header: { 'in-reply-to': messageId } }, { uid: true });
    if (!Array.isArray(uids) || uids.length === 0) return [];
    const out: Answer[] = [];
    // Only the rows answering the fetch: the server's own session may change flags meanwhile (connectors/imap/session.ts rowsAsked).
    for (const m of rowsAsked(await client.fetchAll(uids.join(','), { uid: true, source: true }, { uid: true }), new Set(uids), (row) => row.source !== undefined).values()) {
      const email = await PostalMime.parse(m.source as Buffer);
      const [part] = email.attachments;
      assert.ok(part, 'an answer carries its body as a part');
      out.push({
        uid: m.uid,
        subject: email.subject ?? '',
        from: email.from?.address ?? '',
        to: (email.to ?? []).map((a) => a.address ?? ''),
        status: email.headers.find((h) => h.key === 'syncpoint-status')?.value ?? '',
        type: part.mimeType,
        text: Buffer.from(part.content as ArrayBuffer).toString('utf8'),
      });
    }
    return out.sort((a, b) => a.uid - b.uid);
  });
}

const answered = (user: User, messageId: string, count = 1, timeoutMs?: number) =>
  waitFor(
    async () => {
      const found = await answersTo(user, messageId);
      return found.length >= count ? found : undefined;
    },
    `${count} answer(s) to ${messageId}`,
    timeoutMs,
  );

/** Whether `user`'s Inbox still holds the message `messageId`. */
const inInbox = (user: User, messageId: string) =>
  asMailClient(dovecot, user, async (client) => {
    await client.mailboxOpen('INBOX');
    const found = await client.search({ header: { 'message-id': messageId } }, { uid: true });
    return Array.isArray(found) && found.length > 0;
  });

const syncAnswer = (a: Answer): SyncResponse => syncResponseSchema.parse(decodeXml(a.text, 'syncResponse', syncResponseSchema, limits.xmlDepthMax));
const errorSchema = z.object({ version: z.number(), status: z.string(), message: z.string(), limit: z.string().optional(), max: z.number().optional() });
const errorAnswer = (a: Answer) => errorSchema.parse(decodeXml(a.text, 'error', errorSchema, limits.xmlDepthMax));

const request = (deviceId: string, collectionId: string, syncKey: number, commands: SyncRequest['collections'][number]['commands'] = []): SyncRequest => ({
  version: 1,
  device: { id: deviceId },
  collections: [{ collectionId, syncKey, ...(commands.length > 0 ? { commands } : {}) }],
});

/** The contacts of the account, as a fresh device reads them over HTTP. */
async function contactsOverHttp(account: { authorization: string; contacts: string }, deviceId: string): Promise<string[]> {
  const res = await fetch(`${server.url}/api/v1/sync`, {
    method: 'POST',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify(request(deviceId, account.contacts, 0)),
  });
  const body = syncResponseSchema.parse(await res.json());
  return (body.collections[0]?.commands ?? []).flatMap((c) => ('data' in c ? [/FN:(.*)\r\n/.exec(c.data)?.[1] ?? ''] : [])).sort();
}

/** The answers the submission server was handed for `messageId`, with their envelopes. */
const submittedAnswers = (messageId: string) => submission.accepted.filter((m) => m.raw.toString('utf8').includes(`In-Reply-To: ${messageId}`));

test('a device with nothing but email syncs a collection: the answers come by mail, the contact it adds is in the hub, its requests are removed', async () => {
  const ann = await mailAccount('ann');
  const first = await mailRequest({ as: 'ann', to: 'ann', token: ann.token, body: request('mail-phone', ann.contacts, 0) });
  const [answer1] = await answered('ann', first);
  assert.ok(answer1);
  assert.equal(answer1.subject, `${syncAnswerMarker} ok`);
  assert.equal(answer1.status, 'ok');
  assert.equal(answer1.from, address('ann'));
  assert.deepEqual(answer1.to, [address('ann')]);
  assert.equal(answer1.type, 'application/xml');
  const initial = syncAnswer(answer1);
  assert.equal(initial.collections[0]?.status, 'ok');
  const key = initial.collections[0]?.syncKey ?? 0;
  assert.ok(key > 0);
  assert.equal(await inInbox('ann', first), false, 'the request is removed once answered');

  const add = await mailRequest({ as: 'ann', to: 'ann', token: ann.token, body: request('mail-phone', ann.contacts, key, [{ op: 'add', clientId: 'c1', data: vcard('mail-1', 'Mailed Person') }]) });
  const [answer2] = await answered('ann', add);
  assert.ok(answer2);
  const added = syncAnswer(answer2).collections[0];
  assert.equal(added?.status, 'ok');
  assert.equal(added?.syncKey, key + 1);
  assert.deepEqual(added?.results?.map((r) => [r.clientId, r.status]), [['c1', 'ok']]);
  assert.deepEqual(await contactsOverHttp(ann, 'laptop'), ['Mailed Person']);
  assert.equal(await inInbox('ann', add), false);

  // The mail device is one of the account's devices, bound to its app password, like any other.
  const devices = await getJson(`${server.url}/api/v1/devices`, ann.authorization);
  const device = (devices.body.devices as Array<{ id: string; protocol: string }>).find((d) => d.id === 'mail-phone');
  assert.equal(device?.protocol, 'native-mail');
  // Answers went through the submission server to the account's address alone.
  assert.deepEqual(submittedAnswers(add).map((m) => [m.from, m.to]), [[address('ann'), [address('ann')]]]);
});

test('the same request again is a replay: the same answer, no second item; an answer lost is had again by sending the request again', async () => {
  const cal = await mailAccount('cal');
  const [initial] = await answered('cal', await mailRequest({ as: 'cal', to: 'cal', token: cal.token, body: request('mail-tab', cal.contacts, 0) }));
  const key = syncAnswer(initial as Answer).collections[0]?.syncKey ?? 0;

  // One request mailed twice (the device was not sure the first went): the second is a replay of the first.
  const twice: Mailing = { as: 'cal', to: 'cal', token: cal.token, body: request('mail-tab', cal.contacts, key, [{ op: 'add', clientId: 'b1', data: vcard('mail-b', 'Bea Twice') }]) };
  const id = await mailRequest(twice);
  await answered('cal', id);
  await mailRequest({ ...twice, messageId: id });
  const [a, b] = await answered('cal', id, 2);
  assert.ok(a && b);
  assert.deepEqual(syncAnswer(b), syncAnswer(a));
  assert.equal(syncAnswer(a).collections[0]?.syncKey, key + 1);
  assert.deepEqual(await contactsOverHttp(cal, 'laptop-1'), ['Bea Twice']);

  // The next request's answer is lost (deleted before the device read it); the device sends the request again.
  const next: Mailing = { as: 'cal', to: 'cal', token: cal.token, body: request('mail-tab', cal.contacts, key + 1, [{ op: 'add', clientId: 'c1', data: vcard('mail-c', 'Cid Lost') }]) };
  const lostId = await mailRequest(next);
  const [lost] = await answered('cal', lostId);
  await asMailClient(dovecot, 'cal', async (client) => {
    await client.mailboxOpen('INBOX');
    await client.messageDelete(String(lost?.uid), { uid: true });
  });
  assert.deepEqual(await answersTo('cal', lostId), []);
  const againId = await mailRequest(next);
  const [again] = await answered('cal', againId);
  assert.deepEqual(syncAnswer(again as Answer), syncAnswer(lost as Answer));
  const recovered = syncAnswer(again as Answer).collections[0];
  assert.equal(recovered?.syncKey, key + 2);
  assert.deepEqual(await contactsOverHttp(cal, 'laptop-2'), ['Bea Twice', 'Cid Lost']);

  // And the device goes on from the key it got again.
  const [onward] = await answered('cal', await mailRequest({ as: 'cal', to: 'cal', token: cal.token, body: request('mail-tab', cal.contacts, key + 2) }));
  assert.equal(syncAnswer(onward as Answer).collections[0]?.status, 'ok');
  assert.equal(syncAnswer(onward as Answer).collections[0]?.syncKey, key + 2, 'nothing new: an idle exchange keeps its key (docs/protocol.md §5.1)');
});

test('a request without a valid app password of the account is never acted on; its error answer goes to the account’s own address, never to the sender', async () => {
  const dee = await mailAccount('dee');
  // Ben has a Syncpoint account of his own, with a valid app password: not one of dee's account.
  const benAccount = await newAccount(server);
  const { token: bensToken } = await server.hub.accounts.addToken(benAccount.accountId, 'ben');
  const intrusion = (token: string | string[] | undefined, n: number): Mailing => ({
    as: 'ben',
    to: 'dee',
    ...(token !== undefined ? { token } : {}),
    replyTo: address('ben'),
    body: request('intruder', n === 3 ? benAccount.contacts : dee.contacts, 0, [{ op: 'add', clientId: `x${n}`, data: vcard(`intruder-${n}`, `Intruder ${n}`) }]),
  });
  const ids = [
    await mailRequest(intrusion(undefined, 1)),
    await mailRequest(intrusion('sp_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 2)),
    await mailRequest(intrusion(bensToken, 3)),
    // Dee's own app password, but the header twice: which one counts is not for the server to guess.
    await mailRequest(intrusion([dee.token, dee.token], 4)),
  ];
  for (const id of ids) {
    const [answer] = await answered('dee', id);
    assert.ok(answer);
    assert.equal(answer.status, 'unauthorized');
    assert.equal(answer.subject, `${syncAnswerMarker} unauthorized`);
    assert.deepEqual(answer.to, [address('dee')]);
    const body = errorAnswer(answer);
    assert.equal(body.status, 'unauthorized');
    assert.match(body.message, /valid app password of this account/);
    assert.equal(await inInbox('dee', id), false, 'an unauthenticated request is removed too');
    // Handed to the submission server for dee's address alone; the sender got nothing.
    assert.deepEqual(submittedAnswers(id).map((m) => m.to), [[address('dee')]]);
    assert.deepEqual(await answersTo('ben', id), []);
  }
  assert.deepEqual(await contactsOverHttp(dee, 'dee-laptop'), []);
  assert.deepEqual(await contactsOverHttp({ authorization: benAccount.authorization, contacts: benAccount.contacts }, 'ben-laptop'), []);
  const deviceIds = async (authorization: string) => ((await getJson(`${server.url}/api/v1/devices`, authorization)).body.devices as Array<{ id: string }>).map((d) => d.id);
  assert.ok(!(await deviceIds(dee.authorization)).includes('intruder'));
  assert.ok(!(await deviceIds(benAccount.authorization)).includes('intruder'));
});

test('messages whose subject only holds the marker, more than one look reads, never keep a request from being answered', async () => {
  // All in the Inbox before the watcher's first look, which is the only one: nothing changes after it.
  let id = '';
  await mailAccount('gil', {
    beforeWatching: async (gil) => {
      // Anyone may send these ("Re: [syncpoint-sync] …"): no requests, left alone, and remembered as none.
      for (let i = 0; i <= 2 * limits.mailSyncLookMax; i++) {
        await deliverOverLmtp(dovecot, { from: 'someone@example.org', to: [address('gil')] }, `From: someone@example.org\r\nTo: ${address('gil')}\r\nSubject: Re: ${syncMailMarker} chat ${i}\r\nMessage-ID: <chat-${i}@example.org>\r\n\r\nHello.\r\n`);
      }
      id = await mailRequest({ as: 'gil', to: 'gil', token: gil.token, body: request('mail-gil', gil.contacts, 0) });
    },
  });
  const [answer] = await answered('gil', id);
  assert.equal(answer?.status, 'ok');
  assert.equal(await inInbox('gil', id), false);
  assert.equal(await inInbox('gil', '<chat-0@example.org>'), true);
  assert.equal(await inInbox('gil', `<chat-${2 * limits.mailSyncLookMax}@example.org>`), true);
});

test('a pick-up that fails (the submission server out of reach) is tried again, though nothing else arrives', async () => {
  // Until the first pick-up has tried, the submission port refuses every connection at once.
  let tries = 0;
  const refusing = createServer((socket) => {
    tries++;
    socket.destroy();
  });
  await new Promise<void>((done) => refusing.listen(0, '127.0.0.1', done));
  const { port } = refusing.address() as AddressInfo;
  const hal = await mailAccount('hal', { submissionPort: port });
  const id = await mailRequest({ as: 'hal', to: 'hal', token: hal.token, body: request('mail-hal', hal.contacts, 0) });
  await waitFor(async () => (tries > 0 ? true : undefined), 'the first pick-up');
  await new Promise<void>((done) => refusing.close(() => done()));
  const back = await startSubmission({ dovecot, port });
  try {
    const [answer] = await answered('hal', id, 1, 4 * limits.mailSyncPickupRetryMs);
    assert.equal(answer?.status, 'ok');
    assert.equal(await inInbox('hal', id), false);
    assert.equal(back.accepted.length, 1);
  } finally {
    await back.stop();
  }
});

test('an oversized request is refused before it is read, malformed XML and a missing sync part get the error body; a subject that only holds the marker is no request', async () => {
  const eve = await mailAccount('eve');
  // Not a request (the marker is not at the start): left alone, and never answered.
  const reply = await mailRequest({ as: 'eve', to: 'eve', token: eve.token, subject: `Re: ${syncMailMarker} contacts`, body: request('mail-eve', eve.contacts, 0) });

  const big = `<sync><version>1</version><device><id>mail-eve</id></device><collections><collectionId>${eve.contacts}</collectionId><syncKey>0</syncKey></collections><!-- ${'x'.repeat(limits.mailSyncRequestBytesMax)} --></sync>`;
  const oversized = await mailRequest({ as: 'eve', to: 'eve', token: eve.token, body: big });
  const [tooLarge] = await answered('eve', oversized);
  assert.ok(tooLarge);
  assert.equal(tooLarge.status, 'bodyTooLarge');
  const refusal = errorAnswer(tooLarge);
  assert.equal(refusal.limit, 'mailSyncRequestBytesMax');
  assert.equal(refusal.max, limits.mailSyncRequestBytesMax);
  assert.match(refusal.message, /more than the \d+ a sync request by mail may be/);
  assert.equal(await inInbox('eve', oversized), false);

  const malformed = await mailRequest({ as: 'eve', to: 'eve', token: eve.token, body: '<sync><version>1</version><device><id>mail-eve</id></device' });
  const [bad] = await answered('eve', malformed);
  assert.ok(bad);
  assert.equal(bad.status, 'invalidRequest');
  assert.equal(errorAnswer(bad).status, 'invalidRequest');
  assert.equal(errorAnswer(bad).version, 1);
  assert.ok(errorAnswer(bad).message.length > 0);

  const noPart = await mailRequest({ as: 'eve', to: 'eve', token: eve.token, type: 'text/plain', body: encodeXml('sync', request('mail-eve', eve.contacts, 0)) });
  const [missing] = await answered('eve', noPart);
  assert.ok(missing);
  assert.match(errorAnswer(missing).message, /exactly one part of type application\/xml or application\/json/);

  // JSON is the protocol's other encoding: a JSON part is answered in JSON.
  const json = await mailRequest({ as: 'eve', to: 'eve', token: eve.token, type: 'application/json', body: JSON.stringify(request('mail-eve', eve.contacts, 0)) });
  const [inJson] = await answered('eve', json);
  assert.equal(inJson?.type, 'application/json');
  assert.equal(syncResponseSchema.parse(JSON.parse(inJson?.text ?? '')).collections[0]?.status, 'ok');

  // Requests are taken oldest first, so the reply mailed before them all was looked at and left alone.
  assert.equal(await inInbox('eve', reply), true);
  assert.deepEqual(await answersTo('eve', reply), []);
  assert.deepEqual(await contactsOverHttp(eve, 'eve-laptop'), []);
});

test('with syncByMail off, a request is ordinary mail: the run brings it to devices as a message, and it is neither answered nor removed', async () => {
  const off = await startTestServer({ upstreamWatchersMax: 10, syncByMail: 'off' });
  try {
    const fay = await mailAccount('fay', { on: off });
    const id = await mailRequest({ as: 'fay', to: 'fay', token: fay.token, body: request('mail-fay', fay.contacts, 0) });
    // The run the delivery asks for comes after any pick-up would have: the request is then a mail item of the Inbox.
    let readers = 0;
    // A fresh device each time: the same key-0 request again would be a replay of the first, which saw nothing yet.
    const messageIds = async () => {
      const res = await fetch(`${off.url}/api/v1/sync`, { method: 'POST', headers: { authorization: fay.authorization, 'content-type': 'application/json' }, body: JSON.stringify(request(`reader-${++readers}`, fay.inbox, 0)) });
      const body = syncResponseSchema.parse(await res.json());
      return (body.collections[0]?.commands ?? []).flatMap((c) => ('data' in c ? [(JSON.parse(c.data) as { messageId: string }).messageId] : []));
    };
    await waitFor(async () => ((await messageIds()).includes(id) ? true : undefined), 'the request as a mail item');
    assert.equal(await inInbox('fay', id), true);
    assert.deepEqual(await answersTo('fay', id), []);
    assert.deepEqual(submittedAnswers(id), []);
  } finally {
    await off.stop();
  }
});
