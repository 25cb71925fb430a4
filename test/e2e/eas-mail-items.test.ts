import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ImapFlow } from 'imapflow';
import { encodeWbxml, namespace, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { all, as, asb, at, collectionOf, commandsOf, easAccount, io, maybeText, syncBody, textAt, type EasClient } from '../support/eas-client.js';
import { libwbxmlMissing, libwbxmlReads, asLibwbxmlReads } from '../support/libwbxml.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { deliverOverLmtp } from '../support/submission.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';

/**
 * The ActiveSync mail pieces beyond Sync's first portion (docs/eas.md § Mail, § Searching mail), for 14.1
 * and 16.1, against a real server whose accounts have Debian's Dovecot as their IMAP upstream:
 * ItemOperations Fetch of an attachment by FileReference, whole and by Range, byte for byte what Dovecot
 * holds, and of a whole message as MIME; another account's FileReference refused as a missing one; Sync
 * with BodyPreference Type 4 and MIMESupport; Search by a word of the body and of the subject, with
 * Range, never finding another account's mail. Every request and answer body is read by libwbxml too.
 */
const srch = namespace('Search');

let dovecot: Dovecot;
let server: TestServer;

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users: { ann: 'ann-secret', ben: 'ben-secret', cat: 'cat-secret' } }), startTestServer()]);
});
after(async () => {
  await Promise.all([server?.stop(), dovecot?.stop()]);
});

/** An attachment of every byte value, so base64 and ranges are checked on all of them. */
const attachment = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7 + (i >> 8)) % 256));

let sent = 0;
function headers(user: string, subject: string): string[] {
  sent++;
  return [
    'From: Carol <carol@example.org>',
    `To: ${user} <${user}@${dovecot.domain}>`,
    `Subject: ${subject}`,
    `Date: Tue, 08 Dec 2026 09:${String(sent % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <items${sent}@example.org>`,
    'MIME-Version: 1.0',
  ];
}
const plain = (user: string, subject: string, body: string) =>
  [...headers(user, subject), 'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n');
const withAttachment = (user: string, subject: string) =>
  [
    ...headers(user, subject),
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The numbers are attached.',
    '--b1',
    'Content-Type: application/octet-stream; name="numbers.bin"',
    'Content-Disposition: attachment; filename="numbers.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    ...(attachment.toString('base64').match(/.{1,76}/g) ?? []),
    '--b1--',
    '',
  ].join('\r\n');
const deliver = (user: string, raw: string) => deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`${user}@${dovecot.domain}`] }, raw);
const imap = <T>(user: string, work: (c: ImapFlow) => Promise<T>) => asMailClient(dovecot, user, work);

/** The message of that subject in the user's INBOX, as Dovecot holds it. */
const rawAtDovecot = (user: string, subject: string) =>
  imap(user, async (c) => {
    await c.mailboxOpen('INBOX');
    const [uid] = (await c.search({ subject }, { uid: true })) || [];
    const message = uid === undefined ? undefined : await c.fetchOne(String(uid), { source: true }, { uid: true });
    if (!message || !message.source) throw new Error(`no message ${subject} at Dovecot`);
    return message.source;
  });

/** An account whose IMAP upstream is `user` at Dovecot, run once, and an ActiveSync phone of it with its Inbox's id. */
async function mailAccount(user: string, version: string) {
  const account = await easAccount(server);
  await addUpstream(server, account.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: user, password: `${user}-secret` });
  await runUpstreams(server, account.accountId);
  const phone = account.eas(`items${user}${version.replace('.', '')}`, { version });
  const folders = (await phone.folders()).folders;
  const inbox = folders.find((f) => f.type === 2)?.id as string;
  return { ...account, phone, inbox };
}

/** Sends a command and checks that libwbxml reads the request and the answer as we meant them. */
async function checked(phone: EasClient, command: string, body: WbxmlElement): Promise<WbxmlElement> {
  const res = await phone.send(command, body);
  assert.equal(res.status, 200, res.text);
  const answer = res.body as WbxmlElement;
  if (libwbxmlMissing.length > 0) return answer;
  for (const [tree, bytes] of [[body, encodeWbxml(body)], [answer, res.bytes]] as const) assert.deepEqual(await libwbxmlReads(bytes), asLibwbxmlReads(tree));
  return answer;
}

/** The Inbox's messages as the phone's first Sync brings them, by subject. */
async function inboxAdds(phone: EasClient, inbox: string, options: WbxmlElement[] = [asb('BodyPreference', asb('Type', '1'))]): Promise<Map<string, WbxmlElement>> {
  const key = await phone.primeSync(inbox);
  const answer = collectionOf(await checked(phone, 'Sync', syncBody([{ collectionId: inbox, syncKey: key, options }])));
  return new Map(commandsOf(answer, 'Add').map((a) => [textAt(a, 'ApplicationData/Subject'), a]));
}

const fetchReference = (reference: string, range?: string) =>
  io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), asb('FileReference', reference), range !== undefined && io('Options', io('Range', range))));
const fetchOf = (answer: WbxmlElement) => at(answer, 'Response/Fetch') as WbxmlElement;

for (const [version, user] of [['14.1', 'ann'], ['16.1', 'ben']] as const) {
  test(`${version}: ItemOperations fetches an attachment whole and by Range, and the message as MIME, byte for byte what Dovecot holds`, async () => {
    await deliver(user, withAttachment(user, 'Numbers'));
    const { phone, inbox } = await mailAccount(user, version);
    const add = (await inboxAdds(phone, inbox)).get('Numbers') as WbxmlElement;
    assert.equal(textAt(add, 'ApplicationData/Attachments/Attachment/DisplayName'), 'numbers.bin');
    const reference = textAt(add, 'ApplicationData/Attachments/Attachment/FileReference');

    const whole = fetchOf(await checked(phone, 'ItemOperations', fetchReference(reference)));
    assert.equal(textAt(whole, 'Status'), '1');
    assert.equal(textAt(whole, 'FileReference'), reference);
    assert.equal(textAt(whole, 'Properties/ContentType'), 'application/octet-stream');
    assert.equal(textAt(whole, 'Properties/Total'), String(attachment.length));
    assert.deepEqual(Buffer.from(textAt(whole, 'Properties/Data'), 'base64'), attachment);

    const part = fetchOf(await checked(phone, 'ItemOperations', fetchReference(reference, '1000-2999')));
    assert.equal(textAt(part, 'Status'), '1');
    assert.equal(textAt(part, 'Properties/Range'), '1000-2999');
    assert.equal(textAt(part, 'Properties/Total'), String(attachment.length));
    assert.deepEqual(Buffer.from(textAt(part, 'Properties/Data'), 'base64'), attachment.subarray(1000, 3000));
    // A range past the end is cut to it; one that starts past it, or is backwards, is Status 8.
    const tail = fetchOf(await checked(phone, 'ItemOperations', fetchReference(reference, '4000-99999')));
    assert.equal(textAt(tail, 'Properties/Range'), `4000-${attachment.length - 1}`);
    assert.deepEqual(Buffer.from(textAt(tail, 'Properties/Data'), 'base64'), attachment.subarray(4000));
    for (const bad of ['5000-5001', '20-10', 'all']) assert.equal(textAt(fetchOf(await checked(phone, 'ItemOperations', fetchReference(reference, bad))), 'Status'), '8', bad);

    // The whole message as MIME, by CollectionId and ServerId.
    const serverId = textAt(add, 'ServerId');
    const mime = fetchOf(
      await checked(
        phone,
        'ItemOperations',
        io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), as('CollectionId', inbox), as('ServerId', serverId), io('Options', as('MIMESupport', '2'), asb('BodyPreference', asb('Type', '4'))))),
      ),
    );
    const raw = await rawAtDovecot(user, 'Numbers');
    assert.equal(textAt(mime, 'Status'), '1');
    assert.equal(textAt(mime, 'Properties/Body/Type'), '4');
    assert.equal(textAt(mime, 'Properties/Body/EstimatedDataSize'), String(raw.length));
    assert.equal(maybeText(mime, 'Properties/Body/Truncated'), undefined);
    assert.equal(textAt(mime, 'Properties/Body/Data'), raw.toString('utf8'));
  });

  test(`${version}: Sync sends MIME for BodyPreference Type 4 with MIMESupport 2, cut at TruncationSize, and text without it`, async () => {
    const other = user === 'ann' ? 'cat' : 'ben';
    const subject = `Mime ${version}`;
    await deliver(other, plain(other, subject, 'A body in MIME.'));
    const { phone, inbox } = await mailAccount(other, version);
    const raw = await rawAtDovecot(other, subject);

    const mime = (await inboxAdds(phone, inbox, [as('MIMESupport', '2'), asb('BodyPreference', asb('Type', '4'))])).get(subject) as WbxmlElement;
    assert.equal(textAt(mime, 'ApplicationData/Body/Type'), '4');
    assert.equal(textAt(mime, 'ApplicationData/Body/Data'), raw.toString('utf8'));

    const cut = (await inboxAdds(phone, inbox, [as('MIMESupport', '2'), asb('BodyPreference', asb('Type', '4'), asb('TruncationSize', '100'))])).get(subject) as WbxmlElement;
    assert.equal(textAt(cut, 'ApplicationData/Body/Type'), '4');
    assert.equal(textAt(cut, 'ApplicationData/Body/Truncated'), '1');
    assert.equal(textAt(cut, 'ApplicationData/Body/EstimatedDataSize'), String(raw.length));
    assert.equal(textAt(cut, 'ApplicationData/Body/Data'), raw.subarray(0, 100).toString('utf8'));

    // MIMESupport 1 is for S/MIME messages only, 0 for none: this one comes as the next preference, or Type 1.
    for (const support of ['0', '1']) {
      const text = (await inboxAdds(phone, inbox, [as('MIMESupport', support), asb('BodyPreference', asb('Type', '4')), asb('BodyPreference', asb('Type', '1'))])).get(subject) as WbxmlElement;
      assert.equal(textAt(text, 'ApplicationData/Body/Type'), '1', `MIMESupport ${support}`);
      assert.equal(textAt(text, 'ApplicationData/Body/Data'), 'A body in MIME.\r\n');
    }
  });
}

test('a FileReference or LongId of another account is refused as a missing one', async () => {
  await deliver('cat', withAttachment('cat', 'Cat numbers'));
  await deliver('ann', withAttachment('ann', 'Ann numbers'));
  const cat = await mailAccount('cat', '16.1');
  const ann = await mailAccount('ann', '16.1');
  const catAdd = (await inboxAdds(cat.phone, cat.inbox)).get('Cat numbers') as WbxmlElement;
  const annAdd = (await inboxAdds(ann.phone, ann.inbox)).get('Ann numbers') as WbxmlElement;
  const catReference = textAt(catAdd, 'ApplicationData/Attachments/Attachment/FileReference');
  const annReference = textAt(annAdd, 'ApplicationData/Attachments/Attachment/FileReference');
  // Cat's own works; Ann asking for it, or for her own collection with Cat's item, or for nonsense, gets 6 alike.
  assert.equal(textAt(fetchOf(await checked(cat.phone, 'ItemOperations', fetchReference(catReference))), 'Status'), '1');
  const [, catItem, catPart] = catReference.split(':');
  const [annCollection] = annReference.split(':');
  for (const crafted of [catReference, `${annCollection}:${catItem}:${catPart}`, 'no:such:thing', 'garbage']) {
    const refused = fetchOf(await checked(ann.phone, 'ItemOperations', fetchReference(crafted)));
    assert.equal(textAt(refused, 'Status'), '6', crafted);
    assert.equal(maybeText(refused, 'Properties/Data'), undefined);
  }
  const byLongId = (longId: string) => io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), srch('LongId', longId)));
  const catLongId = `${encodeURIComponent(cat.inbox)}:${encodeURIComponent(textAt(catAdd, 'ServerId'))}`;
  assert.equal(textAt(fetchOf(await checked(ann.phone, 'ItemOperations', byLongId(catLongId))), 'Status'), '6');
  assert.equal(textAt(fetchOf(await checked(cat.phone, 'ItemOperations', byLongId(catLongId))), 'Properties/Subject'), 'Cat numbers');
});

/** A Search of the mailbox for `freeText`, in `collectionId` when given. */
const searchBody = (freeText: string, o: { collectionId?: string; range?: string; extra?: WbxmlElement[] } = {}) =>
  srch(
    'Search',
    srch(
      'Store',
      srch('Name', 'Mailbox'),
      srch('Query', srch('And', as('Class', 'Email'), o.collectionId !== undefined && as('CollectionId', o.collectionId), srch('FreeText', freeText), ...(o.extra ?? []))),
      srch('Options', o.range !== undefined && srch('Range', o.range), srch('RebuildResults'), srch('DeepTraversal'), asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '200'))),
    ),
  );
const storeOf = (answer: WbxmlElement) => at(answer, 'Response/Store') as WbxmlElement;
const subjects = (store: WbxmlElement) => all(store, 'Result').map((r) => maybeText(r, 'Properties/Subject'));

for (const [version, user, stranger] of [['14.1', 'ann', 'ben'], ['16.1', 'ben', 'ann']] as const) {
  test(`${version}: Search finds by a word of the body and of the subject, respects Range, and never another account's mail`, async () => {
    const tag = `v${version.replace('.', '')}`;
    await deliver(user, plain(user, `Minutes ${tag}`, `We saw a zebra${tag} at the zoo.`));
    await deliver(user, plain(user, `Quarterly giraffe${tag} report`, 'Numbers went up.'));
    for (const [i, n] of ['first', 'second', 'third'].entries()) await deliver(user, plain(user, `Pelican ${i + 1} ${tag}`, `pelican${tag} sighting, the ${n}`));
    // The other account holds the same words: none of its messages may be found.
    await deliver(stranger, plain(stranger, `Stranger zebra ${tag}`, `zebra${tag} giraffe${tag} pelican${tag}`));
    const { phone, inbox } = await mailAccount(user, version);
    const strangerInbox = (await mailAccount(stranger, version)).inbox;

    const body = storeOf(await checked(phone, 'Search', searchBody(`zebra${tag}`, { collectionId: inbox })));
    assert.equal(textAt(body, 'Status'), '1');
    assert.deepEqual(subjects(body), [`Minutes ${tag}`]);
    const result = at(body, 'Result') as WbxmlElement;
    assert.equal(textAt(result, 'Class'), 'Email');
    assert.equal(textAt(result, 'CollectionId'), inbox);
    assert.equal(textAt(result, 'Properties/Body/Data'), `We saw a zebra${tag} at the zoo.\r\n`);
    assert.equal(textAt(body, 'Range'), '0-0');
    assert.equal(textAt(body, 'Total'), '1');
    // The result's LongId fetches the message.
    const fetched = fetchOf(await checked(phone, 'ItemOperations', io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), srch('LongId', textAt(result, 'LongId'))))));
    assert.equal(textAt(fetched, 'Status'), '1');
    assert.equal(textAt(fetched, 'Properties/Subject'), `Minutes ${tag}`);

    // By the subject, in every mail folder (no CollectionId).
    assert.deepEqual(subjects(storeOf(await checked(phone, 'Search', searchBody(`GIRAFFE${tag}`)))), [`Quarterly giraffe${tag} report`]);
    // Two words must both be there.
    assert.deepEqual(subjects(storeOf(await checked(phone, 'Search', searchBody(`pelican${tag} second`)))), [`Pelican 2 ${tag}`]);

    const paged = storeOf(await checked(phone, 'Search', searchBody(`pelican${tag}`, { collectionId: inbox, range: '0-1' })));
    assert.deepEqual(subjects(paged), [`Pelican 3 ${tag}`, `Pelican 2 ${tag}`], 'newest first');
    assert.equal(textAt(paged, 'Range'), '0-1');
    assert.equal(textAt(paged, 'Total'), '3');
    const second = storeOf(await checked(phone, 'Search', searchBody(`pelican${tag}`, { collectionId: inbox, range: '2-3' })));
    assert.deepEqual(subjects(second), [`Pelican 1 ${tag}`]);
    assert.equal(textAt(second, 'Range'), '2-2');

    const none = storeOf(await checked(phone, 'Search', searchBody(`nothing${tag}`)));
    assert.equal(textAt(none, 'Status'), '1');
    assert.equal(textAt(none, 'Total'), '0');
    assert.deepEqual(subjects(none), [undefined], 'one empty Result');

    // Statuses: past the 100th result 12; another account's folder (unknown here) 11; a criterion not searched by 8; no words 2.
    assert.equal(textAt(storeOf(await checked(phone, 'Search', searchBody(`pelican${tag}`, { range: '0-100' }))), 'Status'), '12');
    assert.equal(textAt(storeOf(await checked(phone, 'Search', searchBody(`zebra${tag}`, { collectionId: strangerInbox }))), 'Status'), '11');
    const dated = searchBody(`zebra${tag}`, { extra: [srch('GreaterThan', namespace('Email')('DateReceived'), srch('Value', '2020-01-01T00:00:00.000Z'))] });
    assert.equal(textAt(storeOf(await checked(phone, 'Search', dated)), 'Status'), '8');
    const noWords = srch('Search', srch('Store', srch('Name', 'Mailbox'), srch('Query', srch('And', as('Class', 'Email'), as('CollectionId', inbox)))));
    assert.equal(textAt(storeOf(await checked(phone, 'Search', noWords)), 'Status'), '2');
  });
}

test('OPTIONS lists Search among the commands', async () => {
  const res = await fetch(`${server.url}/Microsoft-Server-ActiveSync`, { method: 'OPTIONS' });
  assert.match(res.headers.get('ms-asprotocolcommands') ?? '', /(^|,)Search(,|$)/);
});
