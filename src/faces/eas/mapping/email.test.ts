import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mailItemJson, parseMailItem, type MailItem } from '../../../content/mail/item.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { emailMapper, fileReference, readFileReference } from './email.js';

const as = namespace('AirSync');
const e = namespace('Email');
const context = { version: '16.1' as const, newUid: () => 'x', now: 0 };

const item: MailItem = {
  messageId: '<a@example.org>', subject: 'Hi', from: [{ name: 'Carol', address: 'carol@example.org' }], sender: [], replyTo: [],
  to: [{ name: null, address: 'ann@example.org' }], cc: [], bcc: [], date: '2026-01-02T10:00:00Z', receivedAt: '2026-01-02T10:00:05Z',
  inReplyTo: null, references: [], threadId: 'AAAAAAAAAAAAAAAAAAAAAA', flags: ['$Forwarded', 'Work', '\\Flagged'], size: 900, preview: 'Hello there',
  body: { type: 'text/html', text: '<p>Hello <b>there</b></p>', complete: true, part: '1', htmlPart: null },
  attachments: [{ part: '2', name: 'a.pdf', type: 'application/pdf', size: 300, inline: false, contentId: null }],
};
const data = mailItemJson(item);
const flagsOf = (json: string) => (parseMailItem(json) as MailItem).flags;

test('toEas: flags, categories, verbs, HTML-only bodies as text or HTML, attachments by reference', () => {
  const sent = emailMapper.toEas(data, { version: '16.1', item: { collectionId: 'c/1', serverId: 'i:2' } });
  const get = (name: string) => sent.find((x) => x.name === name) as WbxmlElement;
  assert.equal(text(get('Read')), '0');
  assert.equal(text(child(get('Flag'), 'Status')), '2');
  assert.deepEqual(get('Categories').children.map((c) => text(c as WbxmlElement)), ['Work'], '$ keywords and system flags are no categories');
  assert.equal(text(get('LastVerbExecuted')), '3');
  assert.equal(text(child(get('Body'), 'Type')), '1');
  assert.equal(text(child(get('Body'), 'Data')), 'Hello there');
  const html = emailMapper.toEas(data, { version: '16.1', bodyPreference: { type: 2, truncationSize: 5, allOrNone: true } }).find((x) => x.name === 'Body') as WbxmlElement;
  assert.equal(text(child(html, 'Type')), '2');
  assert.equal(text(child(html, 'Truncated')), '1');
  assert.equal(child(html, 'Data'), undefined, 'AllOrNone: no cut Data');
  const reference = text(child(child(get('Attachments'), 'Attachment'), 'FileReference')) as string;
  assert.deepEqual(readFileReference(reference), { collectionId: 'c/1', serverId: 'i:2', part: '2' });
  assert.equal(readFileReference('a:b'), undefined);
  assert.equal(fileReference('a', 'b', 'c'), 'a:b:c');
});

test('fromEas: Read, Flag and Categories change flags only; what is left out stays; a category that is no keyword is refused', () => {
  const read = emailMapper.fromEas(as('ApplicationData', e('Read', '1')), data, context);
  assert.deepEqual(flagsOf(read), ['$Forwarded', 'Work', '\\Flagged', '\\Seen']);
  const unflagged = emailMapper.fromEas(as('ApplicationData', e('Flag')), data, context);
  assert.deepEqual(flagsOf(unflagged), ['$Forwarded', 'Work']);
  const complete = emailMapper.fromEas(as('ApplicationData', e('Flag', e('Status', '1'))), data, context);
  assert.deepEqual(flagsOf(complete), ['$Forwarded', 'Work']);
  const recategorized = emailMapper.fromEas(as('ApplicationData', e('Categories', e('Category', 'Home'))), data, context);
  assert.deepEqual(flagsOf(recategorized), ['$Forwarded', 'Home', '\\Flagged']);
  assert.equal(mailItemJson({ ...(parseMailItem(read) as MailItem), flags: item.flags }), data, 'nothing but the flags changed');
  assert.throws(() => emailMapper.fromEas(as('ApplicationData', e('Categories', e('Category', 'Two words'))), data, context), /cannot be an IMAP keyword/);
  assert.throws(() => emailMapper.fromEas(as('ApplicationData', e('Categories', e('Category', '\\Seen'))), data, context), /cannot be an IMAP keyword/);
  assert.throws(() => emailMapper.fromEas(as('ApplicationData', e('Read', '1')), undefined, context), /by mail/);
});

test('MIME: sent for MIMESupport 2, or 1 and S/MIME; cut at a character boundary; bytes that are not UTF-8 go opaque; else the next preference', () => {
  const bodyOf = (json: string, pref: Parameters<typeof emailMapper.toEas>[1]['bodyPreference'], bytes?: Uint8Array) =>
    emailMapper.toEas(json, { version: '14.1', ...(pref ? { bodyPreference: pref } : {}), ...(bytes ? { wholeBody: { type: 'message/rfc822' as const, bytes } } : {}) }).find((x) => x.name === 'Body') as WbxmlElement;
  const raw = Buffer.from('Subject: é\r\n\r\nbody\r\n', 'utf8');
  const mime = (support: number, rest: object = {}) => ({ type: 4, ...rest, mime: { support, otherwise: { type: 2 } } });
  const all = bodyOf(data, mime(2), raw);
  assert.deepEqual([text(child(all, 'Type')), text(child(all, 'EstimatedDataSize')), text(child(all, 'Data'))], ['4', String(raw.length), raw.toString('utf8')]);
  // 10 bytes would end inside "é" (bytes 9 and 10): cut before it.
  const cut = bodyOf(data, mime(2, { truncationSize: 10 }), raw);
  assert.deepEqual([text(child(cut, 'Truncated')), text(child(cut, 'Data'))], ['1', 'Subject: ']);
  const latin1 = Buffer.from('Subject: \xe9\r\n\r\n', 'latin1');
  assert.deepEqual(child(bodyOf(data, mime(2), latin1), 'Data')?.children[0], Uint8Array.from(latin1));
  // Not S/MIME: MIMESupport 1 and 0 get the next preference (HTML here); fetched or not.
  for (const support of [0, 1]) assert.equal(text(child(bodyOf(data, mime(support), raw), 'Type')), '2');
  const smime = mailItemJson({ ...item, attachments: [{ part: '2', name: 'smime.p7m', type: 'application/pkcs7-mime', size: 300, inline: false, contentId: null }] });
  assert.equal(text(child(bodyOf(smime, mime(1), raw), 'Type')), '4');
  // MIME wanted but not fetched (the cost rule): the text at hand.
  assert.equal(text(child(bodyOf(data, { type: 4, mime: { support: 2, otherwise: undefined } }), 'Type')), '1');
});
