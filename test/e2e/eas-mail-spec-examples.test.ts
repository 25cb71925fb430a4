import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeWbxml, type WbxmlElement, type WbxmlNode } from '../../src/faces/eas/wbxml/codec.js';
import { fromXml } from '../../src/faces/eas/wbxml/xml.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { all, at, easAccount, folderEntries, sleep, textAt, toXml, type EasClient, type EasResponse } from '../support/eas-client.js';
import { asLibwbxmlReads, libwbxmlMissing, libwbxmlReads, libwbxmlWrites, withBinaryBytes } from '../support/libwbxml.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { deliverOverLmtp, startSubmission, type Submission } from '../support/submission.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';

/**
 * The example requests and answers of MS-ASCMD's and MS-ASEMAIL's example sections (test/fixtures/eas-examples,
 * each file naming its section), at 14.1 and 16.1, against a real server whose account's mail is Debian's
 * Dovecot, with the SMTP submission server for sends (docs/eas.md § Mail). Each request is written as XML,
 * encoded by libwbxml's xml2wbxml and sent as those bytes; each answer is read by libwbxml's wbxml2xml and
 * by our decoder alike, and its shape is compared with the example's answer: the same element paths in the
 * same order and the same Status values (ids, keys, dates and other text may differ). Where an example has
 * a side effect, the real servers are asked: a sent message arrives in the recipient's INBOX with a copy in
 * Sent, a flag set on the phone is seen by another IMAP client, a moved or deleted message has moved at
 * Dovecot, and a Ping is woken by mail delivered to Dovecot.
 */

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/eas-examples');

/** A fixture with its `{{name}}` fields filled in; a field the test does not give fails loudly. */
function example(name: string, fields: Record<string, string> = {}): WbxmlElement {
  const xml = readFileSync(resolve(fixtures, `${name}.xml`), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, field: string) => {
    const value = fields[field];
    if (value === undefined) throw new Error(`${name}.xml: no value for {{${field}}}`);
    return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  });
  return fromXml(xml);
}

/** An answer fixture, whose text fields are not compared: any value will do. */
const answerExample = (name: string) =>
  fromXml(readFileSync(resolve(fixtures, `${name}.xml`), 'utf8').replace(/\{\{\w+\}\}/g, 'x'));

const isElement = (n: WbxmlNode): n is WbxmlElement => typeof n === 'object' && !(n instanceof Uint8Array);

/**
 * The shape of an answer: each element's path of namespaced names in document order, with the value of
 * every Status; a run of siblings of the same shape counts once (a FolderSync's Adds).
 */
function shape(e: WbxmlElement, path = ''): string[] {
  const here = `${path}/${e.ns}:${e.name}`;
  const lines = [e.name === 'Status' ? `${here}=${e.children.filter((c) => typeof c === 'string').join('')}` : here];
  let previous = '';
  for (const child of e.children.filter(isElement)) {
    const childLines = shape(child, here);
    const key = childLines.join('\n');
    if (key !== previous) lines.push(...childLines);
    previous = key;
  }
  return lines;
}

let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;
const versions = ['14.1', '16.1'] as const;
const users = Object.fromEntries(versions.flatMap((v) => ['ann', 'ben'].map((u) => `${u}${v.replace('.', '')}`)).map((u) => [u, `${u}-secret`]));

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users }), startTestServer()]);
  submission = await startSubmission({ dovecot });
});
after(async () => {
  await Promise.all([server?.stop(), submission?.stop()]);
  await dovecot?.stop();
});

const address = (user: string) => `${user}@${dovecot.domain}`;

/** The attachment of the example's message, every byte value so base64 is checked on all of them. */
const attachment = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 5 + 3) % 256));
const text = 'Shall we have lunch at the harbour?\r\nThe map is attached.';

function lunch(from: string, to: string): string {
  return [
    `From: Ben <${from}>`, `To: Ann <${to}>`, 'Subject: Lunch', 'Date: Mon, 07 Dec 2026 10:00:00 +0000', `Message-ID: <lunch-${to}>`, 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"', '',
    '--b1', 'Content-Type: text/plain; charset=utf-8', '', text,
    '--b1', 'Content-Type: application/octet-stream; name="map.bin"', 'Content-Disposition: attachment; filename="map.bin"', 'Content-Transfer-Encoding: base64', '',
    ...(attachment.toString('base64').match(/.{1,76}/g) ?? []), '--b1--', '',
  ].join('\r\n');
}
const plain = (from: string, to: string, subject: string) =>
  `From: Ben <${from}>\r\nTo: Ann <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}-${to}>\r\n\r\nA message to ${subject.toLowerCase()}.\r\n`;

/** The messages of a folder at Dovecot, as another IMAP client sees them: subject → flags. */
const flagsAt = (user: string, path: string) =>
  asMailClient(dovecot, user, async (c) => {
    const mailbox = await c.mailboxOpen(path);
    const out: Record<string, string[]> = {};
    if (mailbox.exists === 0) return out;
    for await (const m of c.fetch('1:*', { envelope: true, flags: true })) out[m.envelope?.subject ?? ''] = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort();
    return out;
  });
const sourcesAt = (user: string, path: string) =>
  asMailClient(dovecot, user, async (c) => {
    const mailbox = await c.mailboxOpen(path);
    const out: string[] = [];
    if (mailbox.exists === 0) return out;
    for await (const m of c.fetch('1:*', { source: true })) out.push(m.source?.toString('utf8') ?? '');
    return out;
  });

/**
 * Sends the example request as libwbxml encodes it (none: an empty request) and returns the answer,
 * after checking that our decoder reads libwbxml's bytes as the XML says, and that libwbxml and our
 * decoder read the answer alike.
 */
async function sendExample(phone: EasClient, command: string, request?: WbxmlElement): Promise<EasResponse> {
  const bytes = request && (await libwbxmlWrites(request));
  if (request && bytes) assert.deepEqual(asLibwbxmlReads(decodeWbxml(bytes)), asLibwbxmlReads(withBinaryBytes(request)), `our decoder reads libwbxml's ${command} request as written`);
  const res = await phone.send(command, bytes);
  assert.equal(res.status, 200, res.text);
  if (res.body) assert.deepEqual(await libwbxmlReads(res.bytes), asLibwbxmlReads(res.body), `libwbxml reads the ${command} answer as we do`);
  return res;
}

/** Asserts the answer has the example answer's shape. */
function assertShape(answer: EasResponse, name: string): WbxmlElement {
  assert.ok(answer.body, `${name}: a WBXML answer, not ${answer.text}`);
  assert.deepEqual(shape(answer.body), shape(answerExample(name)), `${name}: our answer ${toXml(answer.body)}`);
  return answer.body;
}

/** A success of SendMail, SmartReply or SmartForward is an empty 200 (MS-ASCMD 4.6.2 and 4.7.2). */
function assertEmpty(res: EasResponse, command: string): void {
  assert.equal(res.bytes.length, 0, `${command}: an empty answer, not ${res.body ? toXml(res.body) : res.text}`);
}

/** The examples go to the server as libwbxml encodes them: without libwbxml2-utils they are skipped. */
function missing(t: TestContext): boolean {
  if (libwbxmlMissing.length === 0) return false;
  t.skip(`${libwbxmlMissing.join(' and ')} missing: apt-get install libwbxml2-utils`);
  return true;
}

for (const version of versions) {
  const v = version.replace('.', '');
  const ann = `ann${v}`;
  const ben = `ben${v}`;

  test(`${version}: MS-ASCMD's and MS-ASEMAIL's mail examples, their answers' shapes and their effects at Dovecot`, async (t) => {
    if (missing(t)) return;
    await asMailClient(dovecot, ann, (c) => c.mailboxCreate('Archive'));
    await deliverOverLmtp(dovecot, { from: address(ben), to: [address(ann)] }, lunch(address(ben), address(ann)));
    const account = await easAccount(server);
    await addUpstream(server, account.accountId, {
      kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, submissionUrl: `smtp://${submission.host}:${submission.port}`, username: ann, password: `${ann}-secret`,
    });
    await runUpstreams(server, account.accountId);
    const email = await fetch(`${server.url}/api/v1/account/email`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ email: address(ann) }) });
    assert.equal(email.status, 200);
    const phone = account.eas(`examples${v}`, { version });
    const mine = { ann: address(ann), ben: address(ben) };

    // FolderSync from key 0.
    const hierarchy = assertShape(await sendExample(phone, 'FolderSync', example('foldersync.request')), 'foldersync.response');
    const folders = folderEntries(hierarchy, 'Add');
    const byName = (name: string) => folders.find((f) => f.name === name)?.id as string;
    const inbox = folders.find((f) => f.type === 2)?.id as string;
    const archive = byName('Archive');
    assert.ok(inbox && archive);

    // Settings UserInformation: the account's address.
    const settings = assertShape(await sendExample(phone, 'Settings', example('settings-userinformation.request')), 'settings-userinformation.response');
    assert.equal(textAt(settings, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), mine.ann);

    // Sync from key 0, GetItemEstimate of what is to come, then the Sync that brings it.
    const first = assertShape(await sendExample(phone, 'Sync', example('sync-initial.request', { inbox })), 'sync-initial.response');
    let syncKey = textAt(first, 'Collections/Collection/SyncKey');
    const estimate = assertShape(await sendExample(phone, 'GetItemEstimate', example('getitemestimate.request', { inbox, syncKey })), 'getitemestimate.response');
    assert.equal(textAt(estimate, 'Response/Collection/Estimate'), '1');
    const synced = assertShape(await sendExample(phone, 'Sync', example('sync-email.request', { inbox, syncKey })), 'sync-email.response');
    const add = at(synced, 'Collections/Collection/Commands/Add') as WbxmlElement;
    syncKey = textAt(synced, 'Collections/Collection/SyncKey');
    const serverId = textAt(add, 'ServerId');
    const fileReference = textAt(add, 'ApplicationData/Attachments/Attachment/FileReference');
    assert.equal(textAt(add, 'ApplicationData/Body/Data'), text);

    // ItemOperations: the message by its ids, and its attachment by FileReference, byte for byte.
    assertShape(await sendExample(phone, 'ItemOperations', example('itemoperations-fetch-email.request', { inbox, serverId })), 'itemoperations-fetch-email.response');
    const fetched = assertShape(await sendExample(phone, 'ItemOperations', example('itemoperations-fetch-attachment.request', { fileReference })), 'itemoperations-fetch-attachment.response');
    const data = at(fetched, 'Response/Fetch/Properties/Data')?.children[0];
    assert.deepEqual(Buffer.from(typeof data === 'string' ? Buffer.from(data, 'base64') : (data as Uint8Array)), attachment);

    // Search of the Mailbox for a word of the body.
    const found = assertShape(await sendExample(phone, 'Search', example('search-mailbox.request', { inbox, word: 'harbour' })), 'search-mailbox.response');
    assert.equal(textAt(found, 'Response/Store/Result/Properties/Subject'), 'Lunch');

    // MS-ASEMAIL's flag examples on messages of their own, and a Delete and a MoveItems.
    for (const subject of ['Flag me', 'Delete me', 'Move me']) await deliverOverLmtp(dovecot, { from: address(ben), to: [address(ann)] }, plain(address(ben), address(ann), subject));
    await runUpstreams(server, account.accountId);
    // They come by an empty Sync request, which repeats the last full one.
    const more = assertShape(await sendExample(phone, 'Sync'), 'sync-empty.response');
    syncKey = textAt(more, 'Collections/Collection/SyncKey');
    const idOf = new Map(all(more, 'Collections/Collection/Commands/Add').map((a) => [textAt(a, 'ApplicationData/Subject'), textAt(a, 'ServerId')]));
    assert.deepEqual([...idOf.keys()].sort(), ['Delete me', 'Flag me', 'Move me']);
    const changed = async (request: string, fields: Record<string, string>) => {
      const answer = assertShape(await sendExample(phone, 'Sync', example(request, { inbox, syncKey, ...fields })), 'sync-change.response');
      syncKey = textAt(answer, 'Collections/Collection/SyncKey');
    };
    // Flags, read and categories reach the IMAP server at the upstream's next run (docs/eas.md § Mail).
    await changed('sync-flag.request', { serverId: idOf.get('Flag me') as string });
    await runUpstreams(server, account.accountId);
    assert.deepEqual((await flagsAt(ann, 'INBOX'))['Flag me'], ['\\Flagged', '\\Seen'], 'read and flagged, as another IMAP client sees it');
    // Complete is not an IMAP flag: the flag is cleared, the message stays read.
    await changed('sync-flag-complete.request', { serverId: idOf.get('Flag me') as string });
    await runUpstreams(server, account.accountId);
    assert.deepEqual((await flagsAt(ann, 'INBOX'))['Flag me'], ['\\Seen']);
    await changed('sync-categories.request', { serverId: idOf.get('Flag me') as string });
    await runUpstreams(server, account.accountId);
    assert.deepEqual((await flagsAt(ann, 'INBOX'))['Flag me'], ['Business', '\\Seen'], 'the category is an IMAP keyword');

    // The other way: another IMAP client flags the message; the next Sync brings a Change with the Flag.
    await asMailClient(dovecot, ann, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd({ header: { subject: 'Flag me' } }, ['\\Flagged']);
    });
    await runUpstreams(server, account.accountId);
    const told = assertShape(await sendExample(phone, 'Sync', example('sync-flag-from-server.request', { inbox, syncKey })), 'sync-flag-from-server.response');
    syncKey = textAt(told, 'Collections/Collection/SyncKey');
    assert.equal(textAt(told, 'Collections/Collection/Commands/Change/ServerId'), idOf.get('Flag me'));
    assert.equal(textAt(told, 'Collections/Collection/Commands/Change/ApplicationData/Flag/Status'), '2');

    await changed('sync-delete.request', { serverId: idOf.get('Delete me') as string });
    assert.equal((await flagsAt(ann, 'INBOX'))['Delete me'], undefined);
    assert.ok((await flagsAt(ann, 'Trash'))['Delete me'], 'in Trash at Dovecot');

    const moved = assertShape(await sendExample(phone, 'MoveItems', example('moveitems.request', { serverId: idOf.get('Move me') as string, inbox, archive })), 'moveitems.response');
    assert.notEqual(textAt(moved, 'Response/DstMsgId'), idOf.get('Move me'));
    assert.equal((await flagsAt(ann, 'INBOX'))['Move me'], undefined);
    assert.ok((await flagsAt(ann, 'Archive'))['Move me'], 'in Archive at Dovecot');

    // SendMail, SmartReply and SmartForward: empty answers; the mail arrives at Ben's with a copy in Ann's Sent.
    assertEmpty(await sendExample(phone, 'SendMail', example('sendmail.request', { clientId: `send-${v}`, ...mine })), 'SendMail');
    assertEmpty(await sendExample(phone, 'SmartReply', example('smartreply.request', { clientId: `reply-${v}`, inbox, serverId, ...mine })), 'SmartReply');
    assertEmpty(await sendExample(phone, 'SmartForward', example('smartforward.request', { clientId: `forward-${v}`, inbox, serverId, ...mine })), 'SmartForward');
    // The example's own From, "testuser1", is no address: MS-ASCMD 2.2.1.17 has the server put the user's
    // address there; ours sends the From the phone wrote (it may be an alias the submission server takes)
    // and answers one that is not an address with Status 107, sending nothing.
    const verbatimFrom = await sendExample(phone, 'SendMail', example('sendmail.request', { clientId: `send0-${v}`, ann: 'testuser1', ben: mine.ben }));
    assert.equal(textAt(verbatimFrom.body, 'Status'), '107', 'an invalid From gets Status 107');
    assertEmpty(await sendExample(phone, 'SendMail', example('sendmail-ashttp.request', { clientId: `send2-${v}`, ...mine })), 'SendMail');
    const arrived = await sourcesAt(ben, 'INBOX');
    assert.equal(arrived.length, 4);
    assert.ok(arrived.some((m) => m.includes('This is the email body content.')), 'the SendMail arrived');
    assert.ok(arrived.some((m) => /^Subject: From NSync\r$/m.test(m) && m.includes('This is the body text.')), "MS-ASHTTP's SendMail arrived");
    const reply = arrived.find((m) => /^Subject: RE: Lunch\r$/m.test(m)) ?? '';
    assert.match(reply, /This is the body of the smart reply message\./);
    assert.match(reply, /> Shall we have lunch at the harbour\?/, 'the original quoted');
    const forward = arrived.find((m) => /^Subject: FW: Lunch\r$/m.test(m)) ?? '';
    assert.match(forward, /This is the body of the smart forward message\./);
    assert.match(forward, /filename="?map\.bin/, 'the original forwarded with its attachment');
    // A copy of each in Sent, SaveInSentItems or not (docs/eas.md § Sending and moving mail).
    assert.equal((await sourcesAt(ann, 'Sent')).length, 4, 'a copy of each in Sent');
    await runUpstreams(server, account.accountId);
    assert.deepEqual((await flagsAt(ann, 'INBOX')).Lunch, ['$Forwarded', '\\Answered'], 'the original answered and forwarded at Dovecot');
  });

  test(`${version}: MS-ASCMD's Ping example is woken by mail delivered to Dovecot`, async (t) => {
    if (missing(t)) return;
    const watching = await startTestServer({ upstreamWatchersMax: 10 });
    t.after(() => watching.stop());
    const account = await easAccount(watching);
    await addUpstream(watching, account.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: ann, password: `${ann}-secret` });
    while ((await watching.hub.upstreams.list(account.accountId))[0]?.lastRunAt == null) await sleep(100);
    const phone = account.eas(`ping${v}`, { version });
    const inbox = (await phone.folders()).folders.find((f) => f.type === 2)?.id as string;
    await phone.pull(inbox, await phone.primeSync(inbox));
    const held = sendExample(phone, 'Ping', example('ping.request', { inbox }));
    let settled = false;
    void held.then(() => (settled = true), () => (settled = true));
    await sleep(500);
    assert.equal(settled, false, 'nothing new yet');
    await deliverOverLmtp(dovecot, { from: address(ben), to: [address(ann)] }, plain(address(ben), address(ann), 'Wake up'));
    const answer = assertShape(await held, 'ping.response');
    assert.equal(textAt(answer, 'Folders/Folder'), inbox);
  });
}
