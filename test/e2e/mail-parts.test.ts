import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { serverSql } from '../support/database.js';
import { deliverOverLmtp } from '../support/submission.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { newAccount, type Device } from '../support/sync.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';
import { limits } from '../../src/core/limits.js';
import { HttpTransport, RequestRefusedError, RetryableError } from '../../src/sdk/index.js';

/**
 * Mail parts fetched by their token (docs/protocol.md §10.6) through a real server from Debian's Dovecot:
 * a device holds a message's first portion and fetches the whole text, its HTML version and its
 * attachment, decoded, byte for byte; a token the item does not name, another account's item and a
 * message expunged meanwhile are 404s; a part fetched once is served from the store with Dovecot gone;
 * a part larger than a blob streams and is not kept; one over mailPartBytesMax is refused from the
 * message's structure, before any of it is downloaded.
 */
let dovecot: Dovecot;
let server: TestServer;

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users: { ann: 'ann-secret', ben: 'ben-secret' } }), startTestServer()]);
});
after(async () => {
  await Promise.all([server?.stop(), dovecot?.stop()]);
});

/** Quoted-printable (RFC 2045 §6.7) of text whose lines are short: every byte outside printable ASCII, and "=", as =XX. */
const quotedPrintable = (text: string) =>
  [...Buffer.from(text, 'utf8')].map((b) => (b === 13 || b === 10 || (b >= 32 && b < 127 && b !== 61) ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
const base64Lines = (bytes: Buffer) => (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');

const text = Array.from({ length: 700 }, (_, i) => `Line ${i}: un café, s'il vous plaît.`).join('\r\n');
const html = `<html><body><p>Un caf\u00e9 \u00e0 la ${'tr\u00e8s '.repeat(50)}bonne heure.</p></body></html>`;
const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(48 * 1024)]);
const pdfName = 'Rechnung März.pdf';

let sent = 0;
function message(subject: string, attachments: Array<{ type: string; name: string; bytes: Buffer }>): string {
  sent++;
  return [
    'From: Carol <carol@example.org>',
    `To: ann@${dovecot.domain}`,
    `Subject: ${subject}`,
    'Date: Mon, 07 Dec 2026 10:00:00 +0000',
    `Message-ID: <parts${sent}@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mixed"',
    '',
    '--mixed',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    quotedPrintable(text),
    '--alt',
    // Latin-1 on the wire: the part is served decoded to UTF-8.
    'Content-Type: text/html; charset=iso-8859-1',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(html, 'latin1')),
    '--alt--',
    ...attachments.flatMap((a) => [
      '--mixed',
      `Content-Type: ${a.type}`,
      `Content-Disposition: attachment; filename*=utf-8''${encodeURIComponent(a.name)}`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(a.bytes),
    ]),
    '--mixed--',
    '',
  ].join('\r\n');
}

interface MailItem {
  subject: string;
  flags: string[];
  body: { text: string; complete: boolean; part: string; htmlPart: string | null } | null;
  attachments: Array<{ part: string; name: string | null; type: string; size: number }>;
}

const itemsOf = (device: Device, collectionId: string) => [...device.view(collectionId).entries()].map(([id, i]) => ({ id, ...(JSON.parse(i.data) as MailItem) }));

async function imapAccount(imap: Dovecot, user: string) {
  const account = await newAccount(server);
  const view = await addUpstream(server, account.accountId, { kind: 'imap', url: `imap://${imap.host}:${imap.imapPort}`, username: user, password: `${user}-secret` });
  const inbox = view.collections.find((c) => c.collectionName === 'INBOX');
  assert.ok(inbox);
  return { ...account, inbox: inbox.collectionId };
}

/** The account's one message with that subject, as its phone holds it after a run. */
async function synced(account: Awaited<ReturnType<typeof imapAccount>>, subject: string) {
  await runUpstreams(server, account.accountId);
  const phone = account.device('phone');
  await phone.pull(account.inbox);
  const item = itemsOf(phone, account.inbox).find((m) => m.subject === subject);
  assert.ok(item, `the phone holds ${subject}`);
  return item;
}

/** The parts the store keeps for the account, and the bytes of the blob each names. */
const keptParts = async (accountId: string) =>
  (await serverSql<{ part: string; bytes: number | string }>(server, 'SELECT p.part, b.bytes FROM mail_parts p JOIN blobs b ON b.account_id = p.account_id AND b.hash = p.blob_hash WHERE p.account_id = ? ORDER BY p.part', [accountId])).map((r) => ({ part: r.part, bytes: Number(r.bytes) }));

const partUrl = (collectionId: string, itemId: string, part: string) => `${server.url}/api/v1/collections/${collectionId}/items/${encodeURIComponent(itemId)}/parts/${encodeURIComponent(part)}`;
const getPart = (authorization: string, collectionId: string, itemId: string, part: string, headers: Record<string, string> = {}) =>
  fetch(partUrl(collectionId, itemId, part), { headers: { authorization, ...headers } });

test('a device fetches the whole text, the HTML version and an attachment by their tokens, decoded, byte for byte; a range; \\Seen untouched', async () => {
  await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, message('Parts', [{ type: 'application/pdf', name: pdfName, bytes: pdf }]));
  const ann = await imapAccount(dovecot, 'ann');
  const item = await synced(ann, 'Parts');
  assert.ok(item.body);
  assert.equal(item.body.complete, false, 'a 20 KB text arrives as a first portion');
  assert.ok(text.replace(/\r\n/g, '\n').startsWith(item.body.text) && item.body.text.length > 1000);
  assert.ok(item.body.htmlPart);
  const attachment = item.attachments[0];
  assert.ok(attachment);
  assert.deepEqual([attachment.name, attachment.type, item.attachments.length], [pdfName, 'application/pdf', 1]);

  const whole = await getPart(ann.authorization, ann.inbox, item.id, item.body.part);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(whole.headers.get('cache-control'), 'private, no-cache');
  assert.equal(whole.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(whole.headers.get('content-disposition'), null, 'the body is no attachment');
  const wholeText = await whole.text();
  assert.equal(wholeText, text, 'the whole text, decoded from quoted-printable');
  assert.equal(whole.headers.get('content-length'), String(Buffer.byteLength(text)));

  const htmlAnswer = await getPart(ann.authorization, ann.inbox, item.id, item.body.htmlPart);
  assert.equal(htmlAnswer.status, 200);
  assert.equal(htmlAnswer.headers.get('content-type'), 'text/html; charset=utf-8', 'Latin-1 decoded to UTF-8');
  assert.match(htmlAnswer.headers.get('content-security-policy') ?? '', /sandbox/);
  assert.equal(await htmlAnswer.text(), html);

  // The SDK's client, signed in as the account.
  const sdk = new HttpTransport({ baseUrl: server.url, credentials: { user: ann.accountName, password: ann.password } });
  const file = await sdk.fetchMailPart(ann.inbox, item.id, attachment.part);
  assert.equal(file.contentType, 'application/pdf');
  assert.equal(file.fileName, pdfName);
  assert.ok(Buffer.from(file.bytes).equals(pdf), 'the attachment, byte for byte');
  assert.equal(file.range, null);
  // An app password may, as for sync.
  const created = await fetch(`${server.url}/api/v1/tokens`, { method: 'POST', headers: { authorization: ann.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'phone' }) });
  const { token } = (await created.json()) as { token: string };
  const byToken = await new HttpTransport({ baseUrl: server.url, credentials: { token } }).fetchMailPart(ann.inbox, item.id, attachment.part);
  assert.ok(Buffer.from(byToken.bytes).equals(pdf));
  const head = await sdk.fetchMailPart(ann.inbox, item.id, attachment.part, { range: { start: 0, end: 7 } });
  assert.deepEqual([Buffer.from(head.bytes).toString(), head.range], ['%PDF-1.4', { start: 0, end: 7, size: pdf.length }]);
  const raw = await getPart(ann.authorization, ann.inbox, item.id, attachment.part);
  assert.match(raw.headers.get('content-disposition') ?? '', /^attachment; filename="Rechnung M_rz\.pdf"; filename\*=UTF-8''Rechnung%20M%C3%A4rz\.pdf$/);
  await raw.arrayBuffer();
  const past = await getPart(ann.authorization, ann.inbox, item.id, attachment.part, { range: `bytes=${pdf.length}-` });
  assert.deepEqual([past.status, past.headers.get('content-range')], [416, `bytes */${pdf.length}`]);
  await past.arrayBuffer();

  // BODY.PEEK: reading the parts did not mark the message read, there or here.
  const there = await asMailClient(dovecot, 'ann', async (client) => {
    await client.mailboxOpen('INBOX');
    return client.fetchOne('*', { flags: true });
  });
  assert.ok(there);
  assert.deepEqual([...(there.flags ?? [])], []);
  assert.deepEqual((await synced(ann, 'Parts')).flags, []);
});

test('a message of one part: its body is section 1, fetched whole (TEXT), decoded from base64', async () => {
  const body = Array.from({ length: 500 }, (_, i) => `Zeile ${i}: grüße`).join('\r\n');
  const raw = [
    'From: Carol <carol@example.org>',
    `To: ann@${dovecot.domain}`,
    'Subject: Single',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(body, 'utf8')),
    '',
  ].join('\r\n');
  await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, raw);
  const ann = await imapAccount(dovecot, 'ann');
  const item = await synced(ann, 'Single');
  assert.deepEqual([item.body?.part, item.body?.complete], ['1', false]);
  const whole = await getPart(ann.authorization, ann.inbox, item.id, '1');
  assert.equal(whole.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await whole.text(), body);
});

test('a token the item does not name, another account, a collection that is no mail folder, a message gone from the server: 404, saying which', async () => {
  await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, message('Gone soon', [{ type: 'application/pdf', name: 'a.pdf', bytes: pdf }]));
  const ann = await imapAccount(dovecot, 'ann');
  const item = await synced(ann, 'Gone soon');
  const token = item.attachments[0]?.part as string;
  const refused = async (res: Response, message: RegExp) => {
    const body = (await res.json()) as { status: string; message: string };
    assert.deepEqual([res.status, body.status], [404, 'notFound']);
    assert.match(body.message, message);
  };
  await refused(await getPart(ann.authorization, ann.inbox, item.id, '9.9'), /has no part 9\.9/);
  await refused(await getPart(ann.authorization, ann.inbox, 'no-such-item', token), /no mail item no-such-item/);
  await refused(await getPart(ann.authorization, ann.contacts, item.id, token), /is no folder of a mail account/);
  // Another account, even one with a mail folder of its own, learns nothing: the same 404 as for a collection it does not have.
  const ben = await imapAccount(dovecot, 'ben');
  await refused(await getPart(ben.authorization, ann.inbox, item.id, token), /is no folder of a mail account/);
  await refused(await getPart(ben.authorization, ben.inbox, item.id, token), /no mail item/);
  const sdk = new HttpTransport({ baseUrl: server.url, credentials: { user: ben.accountName, password: ben.password } });
  await assert.rejects(sdk.fetchMailPart(ann.inbox, item.id, token), (err) => err instanceof RequestRefusedError && err.httpStatus === 404);

  // Expunged there by another client, before the next run tells the hub: the part cannot be had.
  await asMailClient(dovecot, 'ann', async (client) => {
    await client.mailboxOpen('INBOX');
    const uids = await client.search({ subject: 'Gone soon' }, { uid: true });
    assert.ok(uids && uids.length === 1);
    await client.messageDelete(String(uids[0]), { uid: true });
  });
  await refused(await getPart(ann.authorization, ann.inbox, item.id, token), /the message is no longer on the mail server/);
});

test('a part fetched once is served from the store with the IMAP server gone; one never fetched is a 503', async () => {
  const spare = await startDovecot({ users: { cas: 'cas-secret' } });
  try {
    await deliverOverLmtp(spare, { from: 'carol@example.org', to: [`cas@${spare.domain}`] }, message('Kept', [{ type: 'application/pdf', name: 'kept.pdf', bytes: pdf }]));
    const cas = await imapAccount(spare, 'cas');
    const item = await synced(cas, 'Kept');
    assert.ok(item.body);
    const first = await getPart(cas.authorization, cas.inbox, item.id, item.attachments[0]?.part as string);
    assert.ok(Buffer.from(await first.arrayBuffer()).equals(pdf));
    assert.deepEqual(await keptParts(cas.accountId), [{ part: item.attachments[0]?.part, bytes: pdf.length }], 'kept as a blob');

    await spare.stop();
    const again = await getPart(cas.authorization, cas.inbox, item.id, item.attachments[0]?.part as string);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('content-type'), 'application/pdf');
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(pdf), 'from the store, without Dovecot');
    const never = await getPart(cas.authorization, cas.inbox, item.id, item.body.part);
    const body = (await never.json()) as { status: string; message: string };
    assert.deepEqual([never.status, body.status], [503, 'unavailable']);
    assert.match(body.message, /the mail server did not give the part: cannot reach/);
    const sdk = new HttpTransport({ baseUrl: server.url, credentials: { user: cas.accountName, password: cas.password } });
    await assert.rejects(sdk.fetchMailPart(cas.inbox, item.id, item.body.part), RetryableError);
  } finally {
    await spare.stop();
  }
});

test('a part larger than a blob streams and is not kept; one over mailPartBytesMax is refused from its structure, before any of it is read', async () => {
  const large = randomBytes(limits.blobBytesMax + 1024);
  const huge = Buffer.alloc(limits.mailPartBytesMax + 1024, 7);
  await deliverOverLmtp(
    dovecot,
    { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] },
    message('Large', [
      { type: 'application/octet-stream', name: 'large.bin', bytes: large },
      { type: 'application/octet-stream', name: 'huge.bin', bytes: huge },
    ]),
  );
  const ann = await imapAccount(dovecot, 'ann');
  const item = await synced(ann, 'Large');
  const [largePart, hugePart] = item.attachments.map((a) => a.part) as [string, string];

  const streamed = await getPart(ann.authorization, ann.inbox, item.id, largePart);
  assert.equal(streamed.status, 200);
  assert.equal(streamed.headers.get('accept-ranges'), 'none');
  assert.ok(Buffer.from(await streamed.arrayBuffer()).equals(large), 'streamed whole');
  assert.deepEqual(await keptParts(ann.accountId), [], 'not kept');

  const refused = await getPart(ann.authorization, ann.inbox, item.id, hugePart);
  const body = (await refused.json()) as { status: string; message: string; limit: string; max: number };
  assert.deepEqual([refused.status, body.status, body.limit, body.max], [409, 'limitReached', 'mailPartBytesMax', limits.mailPartBytesMax]);
  // The message names the bound read from the part's encoded size in the structure, not a count of bytes downloaded.
  assert.match(body.message, /decodes to as many as \d+ bytes/);
  // The whole message is as large as its parts together: refused from its size (RFC822.SIZE) alike.
  const whole = await getPart(ann.authorization, ann.inbox, item.id, 'raw');
  const wholeBody = (await whole.json()) as { status: string; limit: string };
  assert.deepEqual([whole.status, wholeBody.status, wholeBody.limit], [409, 'limitReached', 'mailPartBytesMax']);
});

test('every message is fetched whole by the token raw: the bytes Dovecot holds, not decoded, not kept, \\Seen untouched', async () => {
  await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, message('Whole', [{ type: 'application/pdf', name: 'w.pdf', bytes: pdf }]));
  const ann = await imapAccount(dovecot, 'ann');
  const item = await synced(ann, 'Whole');
  const client = new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, auth: { user: 'ann', pass: 'ann-secret' }, logger: false });
  await client.connect();
  await client.mailboxOpen('INBOX', { readOnly: true });
  const [uid] = (await client.search({ subject: 'Whole' }, { uid: true })) || [];
  const held = await client.fetchOne(String(uid), { source: true }, { uid: true });
  assert.ok(held && held.source);

  const whole = await getPart(ann.authorization, ann.inbox, item.id, 'raw');
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'message/rfc822');
  assert.equal(whole.headers.get('content-disposition'), null);
  assert.equal(whole.headers.get('content-length'), String(held.source.length));
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(held.source), 'the message as Dovecot holds it, byte for byte');
  const sdk = new HttpTransport({ baseUrl: server.url, credentials: { user: ann.accountName, password: ann.password } });
  assert.ok(Buffer.from((await sdk.fetchMailPart(ann.inbox, item.id, 'raw')).bytes).equals(held.source));
  assert.deepEqual(await keptParts(ann.accountId), [], 'the whole message is not kept');
  const flags = await client.fetchOne(String(uid), { flags: true }, { uid: true });
  await client.logout();
  assert.ok(flags);
  assert.deepEqual([...(flags.flags ?? [])], [], 'BODY.PEEK[]: still unread');
});
