import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ImapFlow } from 'imapflow';
import { encodeWbxml } from '../../src/faces/eas/wbxml/codec.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { all, as, asb, at, collectionOf, commandsOf, easAccount, folderIds, gie, has, io, maybeText, pingBody, sleep, startPing, syncBody, textAt, type EasClient } from '../support/eas-client.js';
import { libwbxmlMissing, libwbxmlReads, asLibwbxmlReads } from '../support/libwbxml.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { deliverOverLmtp } from '../support/submission.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';
import { namespace, type WbxmlElement } from '../../src/faces/eas/wbxml/element.js';

/**
 * Mail over ActiveSync (docs/eas.md § Mail), for 14.1 and 16.1, against a real server whose account has
 * Debian's Dovecot as its IMAP upstream: FolderSync types, the Email class with truncated bodies and
 * Preview, Read and Flag both ways through IMAP, a Delete that lands in Trash, FilterType windows with
 * Soft deletes, WindowSize paging, GetItemEstimate, and a Ping woken by mail delivered to Dovecot. Request
 * and answer bodies are printed by libwbxml and compared with what we meant.
 */
const email = namespace('Email');

let dovecot: Dovecot;
let server: TestServer;

before(async () => {
  [dovecot, server] = await Promise.all([
    startDovecot({ users: { ann: 'ann-secret', ben: 'ben-secret', cat: 'cat-secret', dan: 'dan-secret', eve: 'eve-secret', fay: 'fay-secret' } }),
    startTestServer(),
  ]);
});
after(async () => {
  await Promise.all([server?.stop(), dovecot?.stop()]);
});

let sent = 0;
function message(user: string, subject: string, body = `The text of ${subject}.`, headers: string[] = []): string {
  sent++;
  return [
    'From: Carol <carol@example.org>',
    `To: ${user} <${user}@${dovecot.domain}>`,
    `Subject: ${subject}`,
    `Date: Mon, 07 Dec 2026 10:${String(sent % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <m${sent}@example.org>`,
    ...headers,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n');
}
const deliver = (user: string, raw: string) => deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`${user}@${dovecot.domain}`] }, raw);
const imap = <T>(user: string, work: (c: ImapFlow) => Promise<T>) => asMailClient(dovecot, user, work);

/** Flags of each message of a folder at the IMAP server, by subject. */
const flagsAt = (user: string, folder: string) =>
  imap(user, async (c) => {
    await c.mailboxOpen(folder);
    const out: Record<string, string[]> = {};
    for await (const m of c.fetch('1:*', { envelope: true, flags: true })) out[m.envelope?.subject ?? ''] = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort();
    return out;
  });

/** An account whose IMAP upstream is `user` at Dovecot, run once, and an ActiveSync phone of it. */
async function mailAccount(user: string, version: string, on = server) {
  const account = await easAccount(on);
  await addUpstream(on, account.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: user, password: `${user}-secret` });
  if (on === server) await runUpstreams(on, account.accountId);
  else while ((await on.hub.upstreams.list(account.accountId))[0]?.lastRunAt == null) await sleep(100);
  const phone = account.eas(`mail${user}${version.replace('.', '')}`, { version });
  return { ...account, phone };
}

/** Sends a Sync and checks that libwbxml reads the request and the answer as we meant them. */
async function checkedSync(phone: EasClient, body: WbxmlElement): Promise<WbxmlElement> {
  const res = await phone.send('Sync', body);
  assert.equal(res.status, 200, res.text);
  const answer = res.body as WbxmlElement;
  if (libwbxmlMissing.length > 0) return answer;
  for (const [tree, bytes] of [[body, encodeWbxml(body)], [answer, res.bytes]] as const) assert.deepEqual(await libwbxmlReads(bytes), asLibwbxmlReads(tree));
  return answer;
}

const bodyPreference = (type: number, truncation?: number, preview?: number) =>
  asb('BodyPreference', asb('Type', String(type)), truncation !== undefined && asb('TruncationSize', String(truncation)), preview !== undefined && asb('Preview', String(preview)));

/** The Adds of a Sync answer by subject. */
const addsBySubject = (collection: WbxmlElement) => new Map(commandsOf(collection, 'Add').map((a) => [textAt(a, 'ApplicationData/Subject'), a]));

for (const version of ['14.1', '16.1']) {
  test(`${version}: FolderSync types, a first Sync with truncated bodies and Preview, flags both ways, a Delete into Trash`, async () => {
    const user = version === '14.1' ? 'ann' : 'ben';
    await deliver(user, message(user, 'Short'));
    await deliver(user, message(user, 'Long', 'word '.repeat(4000), [`In-Reply-To: <m${sent}@example.org>`, `References: <m${sent}@example.org>`]));
    const { phone, accountId } = await mailAccount(user, version);

    const folders = (await phone.folders()).folders;
    const typeOf = (name: string) => folders.find((f) => f.name === name)?.type;
    assert.deepEqual(['INBOX', 'Drafts', 'Trash', 'Sent', 'Junk'].map(typeOf), [2, 3, 4, 5, 12]);
    assert.equal(folders.filter((f) => f.type === 2).length, 1, 'exactly one Inbox');
    const inbox = folders.find((f) => f.type === 2)?.id as string;
    const trash = folders.find((f) => f.type === 4)?.id as string;

    const key = await phone.primeSync(inbox, { options: [as('FilterType', '0')] });
    const first = collectionOf(await checkedSync(phone, syncBody([{ collectionId: inbox, syncKey: key, options: [bodyPreference(1, 100, 40)] }])));
    const adds = addsBySubject(first);
    assert.deepEqual([...adds.keys()].sort(), ['Long', 'Short']);
    const long = adds.get('Long') as WbxmlElement;
    const short = adds.get('Short') as WbxmlElement;
    assert.equal(textAt(long, 'ApplicationData/Body/Type'), '1');
    assert.equal(textAt(long, 'ApplicationData/Body/Truncated'), '1');
    assert.equal(textAt(long, 'ApplicationData/Body/Data').length, 100);
    assert.ok(Number(textAt(long, 'ApplicationData/Body/EstimatedDataSize')) >= 20_000);
    assert.equal(textAt(long, 'ApplicationData/Body/Preview'), 'word '.repeat(8));
    assert.equal(textAt(short, 'ApplicationData/Body/Data'), 'The text of Short.\r\n');
    assert.equal(maybeText(short, 'ApplicationData/Body/Truncated'), undefined);
    for (const [name, value] of [['MessageClass', 'IPM.Note'], ['InternetCPID', '65001'], ['ContentClass', 'urn:content-classes:message'], ['Read', '0'], ['From', '"Carol" <carol@example.org>'], ['DisplayTo', user]] as const) {
      assert.equal(textAt(short, `ApplicationData/${name}`), value, name);
    }
    assert.equal(at(long, 'ApplicationData/ConversationIndex')?.children[0] instanceof Uint8Array, true);
    assert.equal((at(long, 'ApplicationData/ConversationIndex')?.children[0] as Uint8Array).length, 10, 'a header and one response level');
    assert.equal((at(short, 'ApplicationData/ConversationIndex')?.children[0] as Uint8Array).length, 5);
    const shortId = textAt(short, 'ServerId');
    const longId = textAt(long, 'ServerId');
    let inboxKey = textAt(first, 'SyncKey');

    // Fetch of the long one with no truncation brings its whole text (fetched from Dovecot).
    const fetched = collectionOf(await phone.sync({ collectionId: inbox, syncKey: inboxKey, options: [bodyPreference(1)], commands: [as('Fetch', as('ServerId', longId))] }));
    inboxKey = textAt(fetched, 'SyncKey');
    const whole = all(fetched, 'Responses/Fetch')[0];
    assert.equal(textAt(whole, 'ApplicationData/Body/Data'), `${'word '.repeat(4000)}\r\n`);
    assert.equal(maybeText(whole, 'ApplicationData/Body/Truncated'), undefined);

    // The phone reads Short and flags Long; another mail program sees it once the upstream ran.
    const readShort = as('Change', as('ServerId', shortId), as('ApplicationData', email('Read', '1')));
    const flagLong = as('Change', as('ServerId', longId), as('ApplicationData', email('Flag', email('Status', '2'), email('FlagType', 'Flag for follow up'))));
    const changed = collectionOf(await checkedSync(phone, syncBody([{ collectionId: inbox, syncKey: inboxKey, commands: [readShort, flagLong] }])));
    assert.equal(textAt(changed, 'Status'), '1');
    assert.equal(has(changed, 'Responses'), false, 'successful changes are not echoed');
    inboxKey = textAt(changed, 'SyncKey');
    await runUpstreams(server, accountId);
    assert.deepEqual(await flagsAt(user, 'INBOX'), { Long: ['\\Flagged'], Short: ['\\Seen'] });

    // The other way round: the mail program unflags Long and marks it read; the phone is sent a Change.
    await imap(user, async (c) => {
      await c.mailboxOpen('INBOX');
      const [uid] = (await c.search({ subject: 'Long' }, { uid: true })) as number[];
      await c.messageFlagsRemove(String(uid), ['\\Flagged'], { uid: true });
      await c.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
    });
    await runUpstreams(server, accountId);
    const told = collectionOf(await phone.sync({ collectionId: inbox, syncKey: inboxKey }));
    inboxKey = textAt(told, 'SyncKey');
    const change = commandsOf(told, 'Change').find((c) => textAt(c, 'ServerId') === longId) as WbxmlElement;
    assert.equal(textAt(change, 'ApplicationData/Read'), '1');
    assert.deepEqual(at(change, 'ApplicationData/Flag')?.children, [], 'an empty Flag: not flagged');

    // A stale copy of an old request (its key long replaced) gets Status 3 and moves nothing at the IMAP server.
    const stale = collectionOf(await phone.sync({ collectionId: inbox, syncKey: key, commands: [as('Delete', as('ServerId', longId))] }));
    assert.equal(textAt(stale, 'Status'), '3');
    assert.deepEqual(Object.keys(await flagsAt(user, 'INBOX')).sort(), ['Long', 'Short']);
    assert.deepEqual(await flagsAt(user, 'Trash'), {});

    // A Delete (DeletesAsMoves left out: a move) lands in Trash at the IMAP server, and the phone is not sent its own delete back.
    const deleted = collectionOf(await checkedSync(phone, syncBody([{ collectionId: inbox, syncKey: inboxKey, commands: [as('Delete', as('ServerId', shortId))] }])));
    assert.equal(textAt(deleted, 'Status'), '1');
    assert.deepEqual(commandsOf(deleted, 'Delete'), []);
    assert.deepEqual(Object.keys(await flagsAt(user, 'Trash')), ['Short']);
    assert.deepEqual(Object.keys(await flagsAt(user, 'INBOX')), ['Long']);
    const trashKey = await phone.primeSync(trash);
    const inTrash = collectionOf(await phone.sync({ collectionId: trash, syncKey: trashKey }));
    assert.deepEqual([...addsBySubject(inTrash).keys()], ['Short']);
  });
}

test('BodyPartPreference (14.1, 16.1): the message part, without what it quotes, as HTML with its Preview, cut by TruncationSize; 14.0 is sent none', async () => {
  const user = 'eve';
  await deliver(
    user,
    [
      'From: Ann <ann@example.org>',
      `To: ${user}@${dovecot.domain}`,
      'Subject: HTML reply',
      'Message-ID: <part-html@example.org>',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>Yes, at <b>noon</b>.</p><div class="moz-cite-prefix">On Monday, Eve wrote:</div><blockquote type="cite"><p>Lunch?</p></blockquote>',
      '',
    ].join('\r\n'),
  );
  await deliver(user, message(user, 'Plain reply', 'Yes & no.\r\n\r\nOn Mon, Eve wrote:\r\n> Lunch?\r\n'));
  const bodyPartPreference = (truncation: number) => asb('BodyPartPreference', asb('Type', '2'), asb('TruncationSize', String(truncation)), asb('Preview', '20'));
  for (const version of ['14.1', '16.1', '14.0']) {
    const { phone } = await mailAccount(user, version);
    const inbox = (await phone.folders()).folders.find((f) => f.type === 2)?.id as string;
    const key = await phone.primeSync(inbox, { options: [as('FilterType', '0')] });
    const first = collectionOf(await checkedSync(phone, syncBody([{ collectionId: inbox, syncKey: key, options: [bodyPreference(1, 100), bodyPartPreference(1000)] }])));
    const adds = addsBySubject(first);
    const html = adds.get('HTML reply') as WbxmlElement;
    const plain = adds.get('Plain reply') as WbxmlElement;
    if (version === '14.0') {
      assert.equal(has(html, 'ApplicationData/BodyPart'), false, '14.0 has no BodyPart');
      continue;
    }
    const part = (item: WbxmlElement, name: string) => maybeText(item, `ApplicationData/BodyPart/${name}`);
    assert.deepEqual(['Status', 'Type', 'Data', 'Truncated'].map((n) => part(html, n)), ['1', '2', '<p>Yes, at <b>noon</b>.</p>', undefined]);
    assert.equal(part(html, 'EstimatedDataSize'), String('<p>Yes, at <b>noon</b>.</p>'.length));
    // The message's preview, as the Body's: at most the 20 characters asked for.
    assert.match(part(html, 'Preview') ?? '', /^Yes, at noon.{0,8}$/);
    assert.deepEqual(['Status', 'Type', 'Data'].map((n) => part(plain, n)), ['1', '2', 'Yes &amp; no.']);
    // The Body is as before: the whole text, quote and all, as Type 1.
    assert.match(textAt(plain, 'ApplicationData/Body/Data'), /> Lunch\?/);

    // Cut by its TruncationSize, asked through ItemOperations this time.
    const fetched = await phone.send(
      'ItemOperations',
      io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), as('CollectionId', inbox), as('ServerId', textAt(html, 'ServerId')), io('Options', bodyPartPreference(10)))),
    );
    const cut = at(fetched.body as WbxmlElement, 'Response/Fetch/Properties/BodyPart') as WbxmlElement;
    assert.deepEqual(['Type', 'Truncated', 'Data'].map((n) => maybeText(cut, n)), ['2', '1', '<p>Yes, at']);
  }
});

test('a Sync deleting several messages moves them to Deleted Items on one IMAP connection; one gone meanwhile is deleted alone', async () => {
  const user = 'fay';
  for (const subject of ['One', 'Two', 'Three']) await deliver(user, message(user, subject));
  const { phone } = await mailAccount(user, '16.1');
  const inbox = (await phone.folders()).folders.find((f) => f.type === 2)?.id as string;
  const key = await phone.primeSync(inbox, { options: [as('FilterType', '0')] });
  const first = collectionOf(await phone.sync({ collectionId: inbox, syncKey: key }));
  const ids = [...addsBySubject(first).values()].map((a) => textAt(a, 'ServerId'));
  assert.equal(ids.length, 3);
  // Another mail program deletes Three for good before the phone's delete reaches the server.
  await imap(user, async (c) => {
    await c.mailboxOpen('INBOX');
    const [uid] = (await c.search({ subject: 'Three' }, { uid: true })) as number[];
    await c.messageDelete(String(uid), { uid: true });
  });
  const logins = () => readFileSync(join(dovecot.dir, 'dovecot.log'), 'utf8').split('\n').filter((l) => l.includes(`Login: user=<${user}>`)).length;
  const before = logins();
  const deleted = collectionOf(await checkedSync(phone, syncBody([{ collectionId: inbox, syncKey: textAt(first, 'SyncKey'), commands: ids.map((id) => as('Delete', as('ServerId', id))) }])));
  assert.equal(textAt(deleted, 'Status'), '1');
  assert.equal(has(deleted, 'Responses'), false, 'every Delete succeeded, the one already gone too');
  // Dovecot writes its log through a process of its own: wait for the line, then for any that would follow.
  while (logins() === before) await sleep(20);
  await sleep(300);
  assert.equal(logins() - before, 1, 'one IMAP login for all the moves');
  assert.deepEqual(Object.keys(await flagsAt(user, 'Trash')).sort(), ['One', 'Two']);
  assert.deepEqual(await flagsAt(user, 'INBOX'), {});
});

test('FilterType windows by arrival, with a Soft delete when a message leaves the window; WindowSize pages; GetItemEstimate', async () => {
  const { phone, accountId } = await mailAccount('cat', '16.1');
  // Three old messages and one at the edge of a one-day window, appended with their arrival times.
  const day = 86_400_000;
  const edgeMs = Date.now() - day + 4000;
  await imap('cat', async (c) => {
    for (const [subject, at] of [['Old 1', Date.now() - 5 * day], ['Old 2', Date.now() - 4 * day], ['Edge', edgeMs], ['New 1', Date.now()], ['New 2', Date.now()], ['New 3', Date.now()]] as const) {
      await c.append('INBOX', message('cat', subject), [], new Date(at));
    }
  });
  await runUpstreams(server, accountId);
  const inbox = (await phone.folders()).folders.find((f) => f.type === 2)?.id as string;
  const key = await phone.primeSync(inbox, { options: [as('FilterType', '1')] });

  const estimate = await phone.command('GetItemEstimate', gie('GetItemEstimate', gie('Collections', gie('Collection', as('SyncKey', key), gie('CollectionId', inbox), as('Options', as('FilterType', '1'))))));
  assert.equal(textAt(estimate, 'Response/Status'), '1');
  assert.ok(Number(textAt(estimate, 'Response/Collection/Estimate')) >= 4);

  // WindowSize 2: the window's four messages come in two answers.
  const page1 = collectionOf(await phone.sync({ collectionId: inbox, syncKey: key, windowSize: 2 }));
  assert.equal(commandsOf(page1, 'Add').length, 2);
  assert.equal(has(page1, 'MoreAvailable'), true);
  const page2 = collectionOf(await phone.sync({ collectionId: inbox, syncKey: textAt(page1, 'SyncKey'), windowSize: 2 }));
  assert.equal(has(page2, 'MoreAvailable'), false);
  const subjects = [...commandsOf(page1, 'Add'), ...commandsOf(page2, 'Add')].map((a) => textAt(a, 'ApplicationData/Subject')).sort();
  assert.deepEqual(subjects, ['Edge', 'New 1', 'New 2', 'New 3']);
  const edgeId = textAt([...commandsOf(page1, 'Add'), ...commandsOf(page2, 'Add')].find((a) => textAt(a, 'ApplicationData/Subject') === 'Edge') as WbxmlElement, 'ServerId');

  // Once the edge message is more than a day old, the next Sync soft-deletes it; asked again (a lost answer), the same.
  while (Date.now() < edgeMs + day + 1000) await sleep(250);
  const body = syncBody([{ collectionId: inbox, syncKey: textAt(page2, 'SyncKey') }]);
  const soft = collectionOf(await checkedSync(phone, body));
  assert.deepEqual(all(soft, 'Commands/SoftDelete').map((s) => textAt(s, 'ServerId')), [edgeId]);
  const again = collectionOf(await phone.command('Sync', body));
  assert.deepEqual(all(again, 'Commands/SoftDelete').map((s) => textAt(s, 'ServerId')), [edgeId]);
  const next = collectionOf(await phone.sync({ collectionId: inbox, syncKey: textAt(again, 'SyncKey') }));
  assert.equal(has(next, 'Commands'), false);
});

test('a Ping on the Inbox is woken by mail delivered to Dovecot (the watcher runs the upstream)', async (t) => {
  const watching = await startTestServer({ upstreamWatchersMax: 10 });
  t.after(() => watching.stop());
  const { phone } = await mailAccount('dan', '14.1', watching);
  const inbox = (await phone.folders()).folders.find((f) => f.type === 2)?.id as string;
  const key = await phone.primeSync(inbox);
  await phone.pull(inbox, key);
  const held = startPing(phone, pingBody(300, [[inbox, 'Email']]));
  await sleep(500);
  assert.equal(held.settled(), false, 'nothing new yet');
  await deliver('dan', message('dan', 'Wake up'));
  const answer = await held.result;
  assert.equal(answer.status, 200);
  assert.equal(textAt(answer.body as WbxmlElement, 'Status'), '2');
  assert.deepEqual(folderIds(answer.body as WbxmlElement), [inbox]);
});

test('with two mail accounts, a Delete moves the message to the Trash of its own account, never deleting it for good', async () => {
  dovecot.addUser('gus', 'gus-secret');
  dovecot.addUser('hal', 'hal-secret');
  await deliver('gus', message('gus', 'For Gus'));
  await deliver('hal', message('hal', 'For Hal'));
  const { accountId, phone } = await mailAccount('gus', '16.1');
  // A second IMAP account of the same Syncpoint account: its Trash is not the one FolderSync types as Deleted Items.
  const hal = await addUpstream(server, accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'hal', password: 'hal-secret' });
  await runUpstreams(server, accountId);
  const halInbox = hal.collections.find((c) => c.url.endsWith('/INBOX'))?.collectionId as string;
  assert.ok(halInbox);
  await phone.folders();
  const key = await phone.primeSync(halInbox);
  const first = collectionOf(await phone.sync({ collectionId: halInbox, syncKey: key }));
  const forHal = addsBySubject(first).get('For Hal') as WbxmlElement;
  assert.ok(forHal);
  const deleted = collectionOf(
    await checkedSync(phone, syncBody([{ collectionId: halInbox, syncKey: textAt(first, 'SyncKey'), commands: [as('Delete', as('ServerId', textAt(forHal, 'ServerId')))] }])),
  );
  assert.equal(textAt(deleted, 'Status'), '1');
  assert.deepEqual(Object.keys(await flagsAt('hal', 'Trash')), ['For Hal'], "in hal's Trash");
  assert.deepEqual(Object.keys(await flagsAt('hal', 'INBOX')), []);
  assert.deepEqual(Object.keys(await flagsAt('gus', 'Trash')), [], "not in gus's");
});
