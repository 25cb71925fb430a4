import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { namespace, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { asMailClient, messagesWithSubject, type Dovecot } from '../support/dovecot.js';
import { all, as, collectionOf, mv, st, textAt, type EasAccount, type EasResponse } from '../support/eas-client.js';
import { sendChecked } from '../support/libwbxml.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { deliverOverLmtp, type Submission } from '../support/submission.js';
import { runUpstreams } from '../support/upstreams.js';
import { easMailAccount, easMailWorld } from '../support/eas-mail-world.js';

/**
 * Mail sent from an ActiveSync phone (docs/eas.md § Sending and moving mail), for 14.1 and 16.1, through a real Syncpoint
 * server, Dovecot and an SMTP submission server that delivers over LMTP: SendMail arrives with a copy in
 * Sent, and its ClientId sent again (an answer lost) is not sent twice, also after a restart; SmartReply
 * quotes the original and SmartForward attaches it, each marking it at IMAP; MoveItems answers the real
 * new id and moves nothing twice, and a moved message expunged from the destination before the phone's
 * next Sync of it is deleted by that Sync. Every request and answer body is read by libwbxml too.
 */
const cm = namespace('ComposeMail');
const srch = namespace('Search');
const versions = ['14.1', '16.1'] as const;

let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;
const world = easMailWorld({ ann: 'ann-secret', ben: 'ben-secret' }, async (w) => {
  ({ dovecot, server, submission } = w);
  await asMailClient(dovecot, 'ann', (client) => client.mailboxCreate('Archive'));
});

const address = (user: string) => `${user}@${dovecot.domain}`;

interface MailAccount {
  account: EasAccount;
  folders: { inbox: string; sent: string; archive: string };
}

/** An ActiveSync account whose mail is Dovecot's `ann`, her address set, her folders synced once. */
async function mailAccount(): Promise<MailAccount> {
  const { account, folder } = await easMailAccount(world, 'ann');
  return { account, folders: { inbox: folder('INBOX'), sent: folder('Sent'), archive: folder('Archive') } };
}

/** A plain text message from Ann, as a phone composes it. */
function message(o: { to: string; subject: string; text: string; headers?: string }): Uint8Array {
  return new TextEncoder().encode(
    `From: Ann <${address('ann')}>\r\nTo: ${o.to}\r\nSubject: ${o.subject}\r\n${o.headers ?? ''}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${o.text}\r\n`,
  );
}

const send = sendChecked;

/** A success of SendMail, SmartReply or SmartForward is an empty answer (MS-ASCMD 2.2.3.177.14). */
function assertSent(res: EasResponse): void {
  assert.equal(res.bytes.length, 0, `an empty answer, not ${res.body ? JSON.stringify(res.body) : res.text}`);
}

const composeStatus = (res: EasResponse, command: string) => {
  assert.equal(res.body?.name, command);
  return textAt(res.body, 'Status');
};

const messages = (user: string, path: string, subject: string) => messagesWithSubject(dovecot, user, path, subject);
const submitted = (subject: string) => submission.withSubject(subject);

/** Delivers a message from Ben into Ann's INBOX, runs the upstream, and returns the mail item's id there. */
async function delivered(ann: MailAccount, subject: string, messageId: string): Promise<string> {
  const raw = `From: Ben <${address('ben')}>\r\nTo: Ann <${address('ann')}>\r\nSubject: ${subject}\r\nMessage-ID: ${messageId}\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nShall we meet at noon?\r\nBring the map.\r\n`;
  await deliverOverLmtp(dovecot, { from: address('ben'), to: [address('ann')] }, raw);
  await runUpstreams(server, ann.account.accountId);
  return itemWithSubject(ann, ann.folders.inbox, subject);
}

/** The id of the one mail item of `collectionId` with that subject, read by a native device. */
async function itemWithSubject(ann: MailAccount, collectionId: string, subject: string): Promise<string> {
  const items = await ann.account.native(`reader${Math.random().toString(36).slice(2, 8)}`).items(collectionId);
  const found = [...items].filter(([, item]) => JSON.parse(item.data).subject === subject);
  assert.equal(found.length, 1, `one item with subject ${subject} in ${collectionId}`);
  return (found[0] as [string, unknown])[0];
}

for (const version of versions) {
  const v = version.replace('.', '');

  test(`SendMail (${version}): the message arrives with a copy in Sent; its ClientId sent again is not sent again, also after a restart`, async () => {
    const ann = await mailAccount();
    const phone = ann.account.eas(`Send${v}`, { version });
    const subject = `Lunch ${version}`;
    const request = cm('SendMail', cm('ClientId', `msg-${v}`), cm('SaveInSentItems'), cm('Mime', message({ to: `Ben <${address('ben')}>`, subject, text: 'At noon?' })));
    assertSent(await send(phone, 'SendMail', request));
    assert.equal((await messages('ben', 'INBOX', subject)).length, 1);
    const copies = await messages('ann', 'Sent', subject);
    assert.equal(copies.length, 1);
    assert.ok(copies[0]?.flags.includes('\\Seen'), 'the copy in Sent is read');

    // The answer was lost: the phone sends it again, and is answered as the first time, without a second send.
    assertSent(await send(phone, 'SendMail', request));
    assert.equal(submitted(subject).length, 1);

    // After a restart, too.
    await server.close();
    server = world.server = await startTestServer({ dataDir: server.dataDir });
    const again = ann.account.eas(`Send${v}`, { version, baseUrl: server.url });
    assertSent(await send(again, 'SendMail', request));
    assert.equal(submitted(subject).length, 1);
    assert.equal((await messages('ben', 'INBOX', subject)).length, 1);

    // Another phone's ClientId of the same text is its own: a counter two phones share sends both.
    const other = ann.account.eas(`Other${v}`, { version, baseUrl: server.url });
    assertSent(await send(other, 'SendMail', request));
    assert.equal(submitted(subject).length, 2);
  });

  test(`SendMail (${version}): what cannot be sent gets a Status, never an HTTP error`, async () => {
    const ann = await mailAccount();
    const phone = ann.account.eas(`Bad${v}`, { version });
    const noRecipient = await send(phone, 'SendMail', cm('SendMail', cm('ClientId', 'bad-1'), cm('Mime', new TextEncoder().encode(`From: ${address('ann')}\r\nSubject: Nobody\r\n\r\nhello\r\n`))));
    assert.equal(composeStatus(noRecipient, 'SendMail'), '119');
    const noMime = await send(phone, 'SendMail', cm('SendMail', cm('ClientId', 'bad-2')));
    assert.equal(composeStatus(noMime, 'SendMail'), '103');
    const refused = await send(phone, 'SendMail', cm('SendMail', cm('ClientId', 'bad-3'), cm('Mime', message({ to: address('nobody'), subject: 'To nobody', text: 'hi' }))));
    assert.equal(composeStatus(refused, 'SendMail'), '120', 'the submission server refused the only recipient');
  });

  test(`SmartReply (${version}): the original is quoted, In-Reply-To set, and it is \\Answered at IMAP after a run; with ReplaceMime it is sent as given`, async () => {
    const ann = await mailAccount();
    const phone = ann.account.eas(`Reply${v}`, { version });
    const original = `<plans-${v}@example.test>`;
    const itemId = await delivered(ann, `Plans ${version}`, original);
    const subject = `Re: Plans ${version}`;
    const request = cm('SmartReply', cm('ClientId', `reply-${v}`), cm('SaveInSentItems'), cm('Source', cm('FolderId', ann.folders.inbox), cm('ItemId', itemId)),
      cm('Mime', message({ to: address('ben'), subject, text: 'Noon works.' })));
    assertSent(await send(phone, 'SmartReply', request));
    const [reply] = await messages('ben', 'INBOX', subject);
    assert.ok(reply, 'the reply arrived');
    assert.match(reply.source, new RegExp(`^In-Reply-To: ${original}\\r$`, 'm'));
    assert.match(reply.source, new RegExp(`^References: ${original}\\r$`, 'm'));
    assert.match(reply.source, /Noon works\.\r\n\r\nOn Mon, 7 Dec 2026 10:00:00 \+0000, Ben <ben@[^>]+> wrote:\r\n> Shall we meet at noon\?\r\n> Bring the map\./);
    assert.equal((await messages('ann', 'Sent', subject)).length, 1);
    // Sent again (a lost answer): nothing more goes.
    assertSent(await send(phone, 'SmartReply', request));
    assert.equal(submitted(subject).length, 1);

    assert.deepEqual((await messages('ann', 'INBOX', `Plans ${version}`))[0]?.flags.includes('\\Answered'), false, 'not before the run');
    await runUpstreams(server, ann.account.accountId);
    assert.ok((await messages('ann', 'INBOX', `Plans ${version}`))[0]?.flags.includes('\\Answered'), 'marked answered at IMAP');

    // ReplaceMime: the phone sent the whole reply; an ItemId alone is in the Inbox.
    const whole = `Re: Plans ${version} (whole)`;
    assertSent(await send(phone, 'SmartReply', cm('SmartReply', cm('ClientId', `reply2-${v}`), cm('SaveInSentItems'), cm('ReplaceMime'), cm('Source', cm('ItemId', itemId)),
      cm('Mime', message({ to: address('ben'), subject: whole, text: 'I quoted nothing.', headers: `In-Reply-To: ${original}\r\n` })))));
    const [given] = await messages('ben', 'INBOX', whole);
    assert.ok(given);
    assert.match(given.source, /I quoted nothing\./);
    assert.doesNotMatch(given.source, /Shall we meet/);

    // An original the server does not hold: Status 150, nothing sent.
    const missing = await send(phone, 'SmartReply', cm('SmartReply', cm('ClientId', `reply3-${v}`), cm('Source', cm('FolderId', ann.folders.inbox), cm('ItemId', 'no-such-item')),
      cm('Mime', message({ to: address('ben'), subject: 'Re: nothing', text: 'hm' }))));
    assert.equal(composeStatus(missing, 'SmartReply'), '150');
    assert.equal(submitted('Re: nothing').length, 0);
  });

  test(`SmartForward (${version}): the original goes along as an attached message, and is $Forwarded at IMAP after a run`, async () => {
    const ann = await mailAccount();
    const phone = ann.account.eas(`Fwd${v}`, { version });
    const original = `<fwd-${v}@example.test>`;
    const itemId = await delivered(ann, `Map ${version}`, original);
    const subject = `Fwd: Map ${version}`;
    assertSent(await send(phone, 'SmartForward', cm('SmartForward', cm('ClientId', `fwd-${v}`), cm('SaveInSentItems'), cm('Source', cm('FolderId', ann.folders.inbox), cm('ItemId', itemId)),
      cm('Mime', message({ to: address('ben'), subject, text: 'See below.' })))));
    const [forward] = await messages('ben', 'INBOX', subject);
    assert.ok(forward);
    assert.match(forward.source, /See below\./);
    assert.match(forward.source, /^Content-Type: message\/rfc822/m);
    assert.match(forward.source, new RegExp(`^Message-ID: ${original}\\r$`, 'm'), 'the original whole, its headers too');
    assert.match(forward.source, /Bring the map\./);
    await runUpstreams(server, ann.account.accountId);
    assert.ok((await messages('ann', 'INBOX', `Map ${version}`))[0]?.flags.includes('$Forwarded'), 'marked forwarded at IMAP');

    // A Search result's LongId names the original as well (Source LongId); one that names nothing is Status 150.
    const found = await send(phone, 'Search', srch('Search', srch('Store', srch('Name', 'Mailbox'), srch('Query', srch('And', as('Class', 'Email'), srch('FreeText', `Map ${version}`))), srch('Options', srch('Range', '0-0')))));
    const longId = textAt(found.body, 'Response/Store/Result/LongId');
    const again = `Fwd: Map again ${version}`;
    assertSent(await send(phone, 'SmartForward', cm('SmartForward', cm('ClientId', `fwd-long-${v}`), cm('Source', cm('LongId', longId)), cm('Mime', message({ to: address('ben'), subject: again, text: 'Once more.' })))));
    const [byLongId] = await messages('ben', 'INBOX', again);
    assert.match(byLongId?.source ?? '', /Bring the map\./);
    const unknown = await send(phone, 'SmartForward', cm('SmartForward', cm('ClientId', `fwd-long2-${v}`), cm('Source', cm('LongId', 'no-such-long-id')), cm('Mime', message({ to: address('ben'), subject: 'Fwd: nothing', text: 'x' }))));
    assert.equal(composeStatus(unknown, 'SmartForward'), '150');
    assert.equal(submitted('Fwd: nothing').length, 0);
  });

  test(`MoveItems (${version}): a message moves at IMAP under the real new id, which the destination's sync holds; sent again, nothing moves twice`, async () => {
    const ann = await mailAccount();
    const phone = ann.account.eas(`Move${v}`, { version });
    const subject = `Move me ${version}`;
    const itemId = await delivered(ann, subject, `<move-${v}@example.test>`);
    const request = mv('MoveItems', mv('Move', mv('SrcMsgId', itemId), mv('SrcFldId', ann.folders.inbox), mv('DstFldId', ann.folders.archive)));
    const moved = await send(phone, 'MoveItems', request);
    assert.equal(textAt(moved.body, 'Response/Status'), '3');
    const newId = textAt(moved.body, 'Response/DstMsgId');
    assert.notEqual(newId, itemId);
    assert.equal((await messages('ann', 'INBOX', subject)).length, 0);
    assert.equal((await messages('ann', 'Archive', subject)).length, 1);
    // The destination's next run finds the message already there under that id: one item, the id answered.
    await runUpstreams(server, ann.account.accountId);
    assert.equal(await itemWithSubject(ann, ann.folders.archive, subject), newId);

    // The answer was lost and the phone asks again: the message has left the source (Status 1), nothing moves.
    const replay = await send(phone, 'MoveItems', request);
    assert.equal(textAt(replay.body, 'Response/Status'), '1');
    assert.equal((await messages('ann', 'Archive', subject)).length, 1);

    // Mail and other kinds do not mix; a mail folder is not the same folder twice.
    const mixed = await send(phone, 'MoveItems', mv('MoveItems',
      mv('Move', mv('SrcMsgId', newId), mv('SrcFldId', ann.folders.archive), mv('DstFldId', ann.account.contacts)),
      mv('Move', mv('SrcMsgId', 'c:1'), mv('SrcFldId', ann.account.contacts), mv('DstFldId', ann.folders.inbox)),
      mv('Move', mv('SrcMsgId', newId), mv('SrcFldId', ann.folders.archive), mv('DstFldId', ann.folders.archive))));
    assert.deepEqual(all(mixed.body, 'Response').map((r) => textAt(r, 'Status')), ['2', '2', '4']);
    assert.equal((await messages('ann', 'Archive', subject)).length, 1);

    // Several messages between the same two folders move on one IMAP connection; the same one twice moves once.
    const [first, second] = [await delivered(ann, `Together 1 ${version}`, `<together-1-${v}@example.test>`), await delivered(ann, `Together 2 ${version}`, `<together-2-${v}@example.test>`)];
    const logins = () => readFileSync(join(dovecot.dir, 'dovecot.log'), 'utf8').split('\n').filter((l) => l.includes('Login: user=<ann>')).length;
    const before = logins();
    const moveOf = (id: string) => mv('Move', mv('SrcMsgId', id), mv('SrcFldId', ann.folders.inbox), mv('DstFldId', ann.folders.archive));
    const together = await send(phone, 'MoveItems', mv('MoveItems', moveOf(first), moveOf(second), moveOf(first)));
    assert.deepEqual(all(together.body, 'Response').map((r) => textAt(r, 'Status')), ['3', '3', '1']);
    // Dovecot writes its log through a process of its own: wait for the line, then for any that would follow.
    while (logins() === before) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(logins() - before, 1, 'one IMAP login for the moves of one request');
    for (const n of [1, 2]) assert.equal((await messages('ann', 'Archive', `Together ${n} ${version}`)).length, 1);
  });

  test(`MoveItems (${version}): a message expunged from the destination before the phone's next Sync of it is deleted on the phone by that Sync`, async () => {
    const ann = await mailAccount();
    const phone = ann.account.eas(`MoveGone${v}`, { version });
    const subject = `Move and lose ${version}`;
    const itemId = await delivered(ann, subject, `<move-gone-${v}@example.test>`);
    // The phone holds the destination in step before the move.
    const { key } = await phone.pull(ann.folders.archive, await phone.primeSync(ann.folders.archive));
    const moved = await send(phone, 'MoveItems', mv('MoveItems', mv('Move', mv('SrcMsgId', itemId), mv('SrcFldId', ann.folders.inbox), mv('DstFldId', ann.folders.archive))));
    assert.equal(textAt(moved.body, 'Response/Status'), '3');
    const newId = textAt(moved.body, 'Response/DstMsgId');
    // The phone filed it under DstMsgId; another mail program expunges it from Archive, and the upstream runs.
    await asMailClient(dovecot, 'ann', async (client) => {
      await client.mailboxOpen('Archive');
      const uids = await client.search({ subject }, { uid: true });
      assert.equal(uids && uids.length, 1);
      await client.messageDelete(uids as number[], { uid: true });
    });
    await runUpstreams(server, ann.account.accountId);
    const deletes = (answer: WbxmlElement) => all(answer, 'Commands/Delete').map((d) => textAt(d, 'ServerId'));
    const request = { collectionId: ann.folders.archive, syncKey: key };
    const answer = collectionOf(await phone.sync(request));
    assert.deepEqual(deletes(answer), [newId], 'the Sync deletes what the phone filed under DstMsgId');
    // The answer was lost and asked again: the same Delete; the next key has nothing more to delete.
    assert.deepEqual(deletes(collectionOf(await phone.sync(request))), [newId]);
    const next = collectionOf(await phone.sync({ collectionId: ann.folders.archive, syncKey: textAt(answer, 'SyncKey') }));
    assert.deepEqual(deletes(next), []);
  });

  test(`Settings UserInformation (${version}) gives the account's address as its SMTP address`, async () => {
    const ann = await mailAccount();
    const answer = await send(ann.account.eas(`Settings${v}`, { version }), 'Settings', st('Settings', st('UserInformation', st('Get'))));
    assert.equal(textAt(answer.body, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), address('ann'));
  });
}
