import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeWbxml, namespace, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { asMailClient, messagesWithSubject, type Dovecot } from '../support/dovecot.js';
import { all, as, asb, at, collectionOf, io, maybeText, syncBody, textAt, type EasAccount, type EasClient, type SyncCollection } from '../support/eas-client.js';
import { libwbxmlMissing, libwbxmlReads, asLibwbxmlReads } from '../support/libwbxml.js';
import { sendMessageId } from '../../src/hub/mail.js';
import type { TestServer } from '../support/server.js';
import type { Submission } from '../support/submission.js';
import { runUpstreams } from '../support/upstreams.js';
import { easMailAccount, easMailWorld } from '../support/eas-mail-world.js';

/**
 * ActiveSync 16.0 and 16.1 drafts (docs/eas.md § Drafts) through a real Syncpoint server, Dovecot and an SMTP
 * submission server that delivers over LMTP: a draft added on the phone is a \Draft message another mail
 * program sees in Drafts; a Change files a new version under the same ServerId (one copy at IMAP, one
 * item on the phone), adding and deleting attachments; Send submits it once, a copy in Sent, gone from
 * Drafts; every request sent again after a lost answer does nothing twice. A 14.1 phone's Add is refused
 * as before, bad drafts get their own Status without costing the rest of the batch, and a draft another
 * mail program deletes is deleted on the phone that made it. Requests and answers are read by libwbxml too.
 */
const email = namespace('Email');
const email2 = namespace('Email2');

let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;
const world = easMailWorld({ ann: 'ann-secret', ben: 'ben-secret' }, (w) => void ({ dovecot, server, submission } = w));

const address = (user: string) => `${user}@${dovecot.domain}`;

/** An ActiveSync account whose mail is Dovecot's `ann`, her address set, her folders synced once; its Drafts folder's id. */
async function mailAccount(): Promise<{ account: EasAccount; drafts: string }> {
  const { account, folder } = await easMailAccount(world, 'ann');
  return { account, drafts: folder('Drafts') };
}

/** One Sync of one collection, its request and answer read by libwbxml as we read them. */
async function sync(client: EasClient, collection: SyncCollection): Promise<WbxmlElement> {
  const body = syncBody([collection]);
  const bytes = encodeWbxml(body);
  if (libwbxmlMissing.length === 0) assert.deepEqual(await libwbxmlReads(bytes), asLibwbxmlReads(body), 'libwbxml reads the Sync request as we wrote it');
  const res = await client.send('Sync', bytes);
  assert.equal(res.status, 200, res.text);
  assert.ok(res.body, 'a Sync answer');
  if (libwbxmlMissing.length === 0) assert.deepEqual(await libwbxmlReads(res.bytes), asLibwbxmlReads(res.body), 'libwbxml reads the Sync answer as we do');
  return collectionOf(res.body);
}

const messages = (user: string, path: string, subject: string) => messagesWithSubject(dovecot, user, path, subject);
const submitted = (subject: string) => submission.withSubject(subject);

/** A draft's fields as a phone sends them. */
const draftData = (o: { to?: string; subject?: string; text?: string; attach?: Array<{ clientId: string; name: string; content: string }>; remove?: string[] }) =>
  as(
    'ApplicationData',
    o.to !== undefined && email('To', o.to),
    o.subject !== undefined && email('Subject', o.subject),
    o.subject !== undefined && email('Importance', '2'),
    o.text !== undefined && asb('Body', asb('Type', '1'), asb('Data', o.text)),
    (o.attach ?? o.remove) &&
      asb(
        'Attachments',
        ...(o.attach ?? []).map((a) => asb('Add', asb('ClientId', a.clientId), asb('DisplayName', a.name), asb('ContentType', 'text/plain'), asb('Method', '1'), asb('Content', new TextEncoder().encode(a.content)))),
        ...(o.remove ?? []).map((ref) => asb('Delete', asb('FileReference', ref))),
      ),
  );

/** The ids of the items of the folder with that subject, as a native device reads them (the tests share Dovecot's `ann`, so her Drafts). */
async function withSubject(account: EasAccount, collectionId: string, subject: string): Promise<string[]> {
  const items = await account.native(`reader${Math.random().toString(36).slice(2, 8)}`).items(collectionId);
  return [...items].filter(([, item]) => JSON.parse(item.data).subject === subject).map(([id]) => id);
}

const responses = (answer: WbxmlElement, name: string) => all(at(answer, 'Responses'), name);
const commandIds = (answer: WbxmlElement, name: string) => all(at(answer, 'Commands'), name).map((c) => textAt(c, 'ServerId'));
/** The FileReference each attachment ClientId got, from a response's ApplicationData. */
const references = (response: WbxmlElement | undefined) =>
  Object.fromEntries(all(at(at(response, 'ApplicationData'), 'Attachments'), 'Attachment').map((a) => [textAt(a, 'ClientId'), textAt(a, 'FileReference')]));

for (const version of ['16.0', '16.1'] as const) test(`${version}: a draft added, changed (attachments added and deleted) and sent: one copy at each step, nothing done twice after a lost answer`, async () => {
  const { account, drafts } = await mailAccount();
  const phone = account.eas(`Drafts${version.replace('.', '')}`, { version });
  const { key } = await phone.pull(drafts, await phone.primeSync(drafts));
  const subject = `Trip plans ${version}`;

  // Add: filed at IMAP as a read draft, answered with its ServerId and the attachment's FileReference.
  const add = { collectionId: drafts, syncKey: key, commands: [as('Add', as('ClientId', 'draft-1'), draftData({ to: `Ben <${address('ben')}>`, subject, text: 'Day one: the coast.', attach: [{ clientId: 'att-1', name: 'route.txt', content: 'north then west' }] }))] };
  const added = await sync(phone, add);
  const [addResponse] = responses(added, 'Add');
  assert.equal(textAt(addResponse, 'Status'), '1');
  assert.equal(textAt(addResponse, 'ClientId'), 'draft-1');
  const serverId = textAt(addResponse, 'ServerId');
  const firstRefs = references(addResponse);
  assert.ok(firstRefs['att-1'], 'the attachment has its FileReference');
  assert.deepEqual(commandIds(added, 'Add'), [], 'the draft is not sent back to the phone as a new item');
  let filed = await messages('ann', 'Drafts', subject);
  assert.equal(filed.length, 1);
  assert.deepEqual(filed[0]?.flags, ['\\Draft', '\\Seen']);
  assert.match(filed[0]?.source ?? '', /Day one: the coast\./);
  assert.match(filed[0]?.source ?? '', /route\.txt/);
  assert.match(filed[0]?.source ?? '', /^Importance: High\r$/m);

  // The answer was lost: the same Sync again lands on the same draft, filed once.
  const again = await sync(phone, add);
  assert.equal(textAt(responses(again, 'Add')[0], 'ServerId'), serverId);
  assert.equal((await messages('ann', 'Drafts', subject)).length, 1);

  // Change: a new subject, one attachment added and the first deleted; the ServerId stays.
  const changed = `${subject} (v2)`;
  const change = { collectionId: drafts, syncKey: textAt(added, 'SyncKey'), commands: [as('Change', as('ServerId', serverId), draftData({ subject: changed, attach: [{ clientId: 'att-2', name: 'hotels.txt', content: 'two nights' }], remove: [firstRefs['att-1'] as string] }))] };
  const edited = await sync(phone, change);
  const [changeResponse] = responses(edited, 'Change');
  assert.equal(textAt(changeResponse, 'Status'), '1');
  assert.ok(references(changeResponse)['att-2'], 'the added attachment has its FileReference');
  assert.deepEqual(commandIds(edited, 'Add'), []);
  assert.deepEqual(commandIds(edited, 'Change'), [serverId], 'the phone is sent the version filed, with its attachments as they are now');
  const sentBack = all(at(at(edited, 'Commands'), 'Change'), 'ApplicationData')[0];
  assert.deepEqual(all(at(sentBack, 'Attachments'), 'Attachment').map((a) => textAt(a, 'DisplayName')), ['hotels.txt']);
  assert.equal(textAt(sentBack, 'IsDraft'), '1', 'it is a draft');
  assert.equal(textAt(sentBack, 'Subject'), changed);
  assert.equal(textAt(sentBack, 'To'), `"Ben" <${address('ben')}>`, 'the recipients the Change left out are kept');
  // The attachment added is fetched by the FileReference its response gave.
  const fetched = await phone.command('ItemOperations', io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), asb('FileReference', references(changeResponse)['att-2'] as string))));
  assert.equal(textAt(fetched, 'Response/Fetch/Status'), '1');
  assert.equal(Buffer.from(textAt(fetched, 'Response/Fetch/Properties/Data'), 'base64').toString('utf8'), 'two nights');
  // Sent again after a lost answer: applied once, the attachment not added twice, answered as the first time.
  const replayed = await sync(phone, change);
  assert.deepEqual(references(responses(replayed, 'Change')[0]), references(changeResponse));
  assert.deepEqual(commandIds(replayed, 'Change'), [serverId]);
  assert.equal((await messages('ann', 'Drafts', subject)).length, 0);
  filed = await messages('ann', 'Drafts', changed);
  assert.equal(filed.length, 1, 'one copy in Drafts');
  assert.match(filed[0]?.source ?? '', /Day one: the coast\./, 'the body left out is kept');
  assert.doesNotMatch(filed[0]?.source ?? '', /route\.txt/);
  assert.equal(filed[0]?.source.match(/hotels\.txt/g)?.length, 2, 'hotels.txt once (its name in Content-Type and Content-Disposition)');

  // The upstream's run finds the draft it holds: nothing new on the phone, one item in the folder.
  await runUpstreams(server, account.accountId);
  const quiet = await sync(phone, { collectionId: drafts, syncKey: textAt(edited, 'SyncKey') });
  assert.equal(at(quiet, 'Commands'), undefined, 'nothing new for the phone');
  assert.deepEqual(await withSubject(account, drafts, changed), [serverId], 'one item in the folder');

  // A late copy of an old request (a key the phone has moved past) files nothing: Status 3.
  const stale = await sync(phone, { ...change, commands: [as('Change', as('ServerId', serverId), draftData({ subject: `${subject} (stale)` }))] });
  assert.equal(textAt(stale, 'Status'), '3');
  assert.equal((await messages('ann', 'Drafts', `${subject} (stale)`)).length, 0);
  assert.equal((await messages('ann', 'Drafts', changed)).length, 1);

  // Send: submitted once, a copy in Sent, gone from Drafts (the phone is told).
  const send = { collectionId: drafts, syncKey: textAt(quiet, 'SyncKey'), commands: [as('Change', as('ServerId', serverId), email2('Send'), as('ApplicationData'))] };
  const sent = await sync(phone, send);
  assert.equal(at(sent, 'Responses'), undefined, 'a successful send is not answered on its own');
  assert.deepEqual(commandIds(sent, 'Delete'), [serverId]);
  assert.equal(submitted(changed).length, 1);
  assert.equal((await messages('ben', 'INBOX', changed)).length, 1, 'it arrived');
  assert.equal((await messages('ann', 'Sent', changed)).length, 1, 'one copy in Sent');
  assert.deepEqual((await messages('ann', 'Sent', changed))[0]?.flags, ['\\Seen']);
  assert.equal((await messages('ann', 'Drafts', changed)).length, 0, 'gone from Drafts');
  // The answer was lost: nothing more is sent.
  const resent = await sync(phone, send);
  assert.deepEqual(commandIds(resent, 'Delete'), [serverId]);
  assert.equal(submitted(changed).length, 1);
  assert.equal((await messages('ben', 'INBOX', changed)).length, 1);
});

test('16.1: an Add with Send sends at once and leaves nothing in Drafts, also when sent again; refused, the draft stays', async () => {
  const { account, drafts } = await mailAccount();
  const phone = account.eas('AddSend161', { version: '16.1' });
  const { key } = await phone.pull(drafts, await phone.primeSync(drafts));
  const subject = 'Quick note';
  const request = { collectionId: drafts, syncKey: key, commands: [as('Add', as('ClientId', 'quick-1'), email2('Send'), draftData({ to: address('ben'), subject, text: 'See you.' }))] };
  const answer = await sync(phone, request);
  const [response] = responses(answer, 'Add');
  assert.equal(textAt(response, 'Status'), '1');
  assert.deepEqual(commandIds(answer, 'Delete'), [textAt(response, 'ServerId')], 'the draft it made is gone again');
  await sync(phone, request);
  assert.equal(submitted(subject).length, 1);
  assert.equal((await messages('ben', 'INBOX', subject)).length, 1);
  assert.equal((await messages('ann', 'Sent', subject)).length, 1);
  assert.equal((await messages('ann', 'Drafts', subject)).length, 0);

  // Refused by the submission server: Status 120, and the draft it made stays in Drafts, on the phone too.
  const nobody = await sync(phone, { collectionId: drafts, syncKey: textAt(answer, 'SyncKey'), commands: [as('Add', as('ClientId', 'quick-2'), email2('Send'), draftData({ to: address('nobody'), subject: 'To nobody', text: 'hi' }))] });
  assert.equal(textAt(responses(nobody, 'Add')[0], 'Status'), '120');
  assert.equal(commandIds(nobody, 'Add').length, 1, 'the phone is sent the draft it made');
  assert.deepEqual(commandIds(nobody, 'Delete'), []);
  assert.equal((await messages('ann', 'Drafts', 'To nobody')).length, 1);
});

test('16.1: what an Add whose answer the IMAP server lost filed (a stray under the draft\'s Message-ID) does not stay beside the draft, even once a run made an item of it', async () => {
  const { account, drafts } = await mailAccount();
  const phone = account.eas('Stray161', { version: '16.1' });
  const { key } = await phone.pull(drafts, await phone.primeSync(drafts));
  // As the first attempt at this Add filed it before its connection broke.
  const messageId = sendMessageId(account.accountId, `eas-Stray161/draft/${drafts}/add-lost-1`, address('ann'));
  await asMailClient(dovecot, 'ann', (client) =>
    client.append('Drafts', `From: ${address('ann')}\r\nTo: ${address('ben')}\r\nSubject: Lost answer\r\nMessage-ID: ${messageId}\r\n\r\nfirst try\r\n`, ['\\Draft', '\\Seen']),
  );
  await runUpstreams(server, account.accountId);
  const answer = await sync(phone, { collectionId: drafts, syncKey: key, commands: [as('Add', as('ClientId', 'lost-1'), draftData({ to: address('ben'), subject: 'Lost answer', text: 'second try' }))] });
  const serverId = textAt(responses(answer, 'Add')[0], 'ServerId');
  assert.deepEqual(commandIds(answer, 'Add'), [], 'the stray item, made and deleted since the phone\'s key, is not sent');
  const filed = await messages('ann', 'Drafts', 'Lost answer');
  assert.equal(filed.length, 1, 'one copy in Drafts');
  assert.match(filed[0]?.source ?? '', /second try/);
  await runUpstreams(server, account.accountId);
  assert.deepEqual(await withSubject(account, drafts, 'Lost answer'), [serverId], 'one item in the folder');
});

test('drafts: a 14.1 Add keeps its Status 6; bad drafts get their own Status and the rest of the batch is filed; a draft deleted elsewhere is deleted on the phone', async () => {
  const { account, drafts } = await mailAccount();
  const old = account.eas('Drafts141', { version: '14.1' });
  const oldKey = (await old.pull(drafts, await old.primeSync(drafts))).key;
  const refused = await sync(old, { collectionId: drafts, syncKey: oldKey, commands: [as('Add', as('ClientId', 'old-1'), draftData({ to: address('ben'), subject: 'Old phone', text: 'hi' }))] });
  assert.equal(textAt(responses(refused, 'Add')[0], 'Status'), '6');
  assert.equal((await messages('ann', 'Drafts', 'Old phone')).length, 0);

  const phone = account.eas('Bad161', { version: '16.1' });
  const { key } = await phone.pull(drafts, await phone.primeSync(drafts));
  const huge = new Uint8Array(10 * 1024 * 1024 + 1).fill(0x61);
  const commands = [
    as('Add', as('ClientId', 'big'), as('ApplicationData', email('Subject', 'Too big'), asb('Attachments', asb('Add', asb('ClientId', 'a'), asb('DisplayName', 'big.bin'), asb('Method', '1'), asb('Content', huge))))),
    as('Add', as('ClientId', 'bad-to'), draftData({ to: 'not an address', subject: 'Bad To', text: 'x' })),
    as('Add', as('ClientId', 'bad-body'), as('ApplicationData', email('Subject', 'Bad body'), asb('Body', asb('Type', '7'), asb('Data', 'what is this')))),
    as('Add', as('ClientId', 'mime'), as('ApplicationData', email('Importance', '0'), asb('Body', asb('Type', '4'), asb('Data', `From: Ann <${address('ann')}>\r\nTo: ${address('ben')}\r\nSubject: Whole\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAs a whole message.\r\n`)))),
    as('Change', as('ServerId', 'no-such-draft'), draftData({ subject: 'Nothing' })),
    as('Add', as('ClientId', 'good'), draftData({ to: address('ben'), subject: 'Fine', text: 'ok' })),
  ];
  // Too large for libwbxml's cross-check in good time: sent as it is.
  const res = await phone.send('Sync', syncBody([{ collectionId: drafts, syncKey: key, commands }]));
  assert.equal(res.status, 200, res.text);
  const answer = collectionOf(res.body as WbxmlElement);
  const byClient = Object.fromEntries(responses(answer, 'Add').map((r) => [textAt(r, 'ClientId'), textAt(r, 'Status')]));
  assert.deepEqual(byClient, { big: '122', 'bad-to': '6', 'bad-body': '6', mime: '1', good: '1' });
  assert.equal(textAt(responses(answer, 'Change')[0], 'Status'), '8');
  assert.equal(maybeText(responses(answer, 'Add').find((r) => textAt(r, 'ClientId') === 'big'), 'ServerId'), undefined);
  assert.equal((await messages('ann', 'Drafts', 'Fine')).length, 1);
  // Deleted by another mail program: the phone, which made it, is sent its Delete.
  const fine = textAt(responses(answer, 'Add').find((r) => textAt(r, 'ClientId') === 'good'), 'ServerId');
  await asMailClient(dovecot, 'ann', async (client) => {
    await client.mailboxOpen('Drafts');
    await client.messageDelete({ header: { subject: 'Fine' } });
  });
  await runUpstreams(server, account.accountId);
  const after = await sync(phone, { collectionId: drafts, syncKey: textAt(answer, 'SyncKey') });
  assert.deepEqual(commandIds(after, 'Delete'), [fine]);
  const [whole] = await messages('ann', 'Drafts', 'Whole');
  assert.match(whole?.source ?? '', /As a whole message\./, 'a Body of Type 4 is the draft, its other fields applied to it');
  assert.match(whole?.source ?? '', /^Importance: Low\r$/m);
  assert.equal((await messages('ann', 'Drafts', 'Too big')).length, 0);
});
