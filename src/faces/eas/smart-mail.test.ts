import assert from 'node:assert/strict';
import { test } from 'node:test';
import PostalMime from 'postal-mime';
import { prepareMessage } from '../../content/mail/outgoing.js';
import { ProtocolError } from '../../protocol/errors.js';
import { smartMessage } from './smart-mail.js';

const idFor = (address: string) => `<fixed@${address.split('@')[1]}>`;
const now = new Date('2026-12-07T12:00:00Z');

const original = Buffer.from(
  [
    'From: Ben <ben@example.org>',
    'To: ann@example.org',
    'Subject: Plans',
    'Message-ID: <plans@example.org>',
    'References: <start@example.org> <middle@example.org>',
    'Date: Mon, 7 Dec 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Noon?',
    '> earlier',
    '--b',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<html><head><style>p{}</style></head><body><p>Noon?</p></body></html>',
    '--b--',
    '',
  ].join('\r\n'),
);

const mine = (body: string, headers = '') =>
  Buffer.from(`From: Ann <ann@example.org>\r\nTo: ben@example.org\r\nSubject: Re: Plans\r\n${headers}MIME-Version: 1.0\r\n${body}`);

test('a reply quotes the original under the text and in the HTML version, and follows its thread', async () => {
  const html = mine(
    'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nYes.\r\n--a\r\nContent-Type: text/html\r\n\r\n<html><body><b>Yes.</b></body></html>\r\n--a--\r\n--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="map.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--m--\r\n',
  );
  const sent = await PostalMime.parse(await smartMessage('reply', html, original, idFor, now));
  assert.equal(sent.text?.replace(/\r\n/g, '\n'), 'Yes.\n\nOn Mon, 7 Dec 2026 10:00:00 +0000, Ben <ben@example.org> wrote:\n> Noon?\n>> earlier\n');
  assert.match(sent.html ?? '', /<b>Yes\.<\/b><div>On Mon, 7 Dec 2026 10:00:00 \+0000, Ben &lt;ben@example\.org&gt; wrote:<\/div><blockquote type="cite"><p>Noon\?<\/p><\/blockquote><\/body>/);
  assert.equal(sent.inReplyTo, '<plans@example.org>');
  assert.equal(sent.references, '<start@example.org> <middle@example.org> <plans@example.org>');
  assert.equal(sent.messageId, '<fixed@example.org>', 'the id of the send, since the phone gave none');
  assert.deepEqual(sent.attachments.map((a) => [a.filename, a.mimeType]), [['map.pdf', 'application/pdf']], "the phone's attachment is kept");
});

test("a forward attaches the original whole and keeps the phone's own thread headers and Message-ID", async () => {
  const text = mine('Content-Type: text/plain\r\n\r\nSee below.\r\n', 'Message-ID: <mine@example.org>\r\n');
  const built = await smartMessage('forward', text, original, idFor, now);
  const sent = await PostalMime.parse(built, { forceRfc822Attachments: true });
  assert.equal(sent.messageId, '<mine@example.org>');
  assert.equal(sent.inReplyTo, undefined);
  assert.equal(sent.text?.trim(), 'See below.');
  const [attached] = sent.attachments;
  assert.equal(attached?.mimeType, 'message/rfc822');
  assert.equal(attached?.filename, 'Plans.eml');
  assert.equal(Buffer.from(attached?.content as ArrayBuffer).toString('utf8'), original.toString('utf8'));
});

test('a forward sends an 8-bit original in another charset than UTF-8 byte for byte, and so does the hub with a message given as bytes', async () => {
  const latin1 = Buffer.concat([
    Buffer.from('From: ben@example.org\r\nTo: ann@example.org\r\nSubject: Menu\r\nMessage-ID: <menu@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
    Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a]),
  ]);
  const built = await smartMessage('forward', mine('Content-Type: text/plain\r\n\r\nSee below.\r\n'), latin1, idFor, now);
  assert.ok(built.includes(latin1), 'the original, é as the one byte 0xE9, is inside the message as it came');
  const { copy, wire } = prepareMessage(built, idFor, now);
  assert.ok(copy.includes(latin1) && wire.includes(latin1), 'the hub sends and files those bytes, not their UTF-8 replacement');
});

test('a message without From, or one that is too large, is refused before anything is composed', async () => {
  await assert.rejects(smartMessage('reply', Buffer.from('To: ben@example.org\r\n\r\nhi\r\n'), original, idFor, now), (err: unknown) => err instanceof ProtocolError && err.status === 'invalidRequest' && /From/.test(err.message));
  const big = Buffer.alloc(10 * 1024 * 1024, 'a');
  await assert.rejects(smartMessage('forward', mine('\r\nhi\r\n'), big, idFor, now), (err: unknown) => err instanceof ProtocolError && err.status === 'bodyTooLarge');
});
