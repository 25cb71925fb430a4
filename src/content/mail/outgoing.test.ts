import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limits } from '../../core/limits.js';
import { ProtocolError } from '../../protocol/errors.js';
import { composeMessage, prepareMessage, withoutField } from './outgoing.js';

const idFor = (address: string) => `<fixed@${address.split('@')[1]}>`;
const date = new Date(Date.UTC(2026, 11, 7, 10, 0, 0));

test('a whole message: CRLF line ends, Message-ID and Date added, every Bcc line (folded too) left out of what is sent, kept in the copy', () => {
  const out = prepareMessage('From: Ann <ann@example.org>\nTo: ben@example.org, "Cat, C." <cat@example.org>\nBcc: dan@example.org,\n  eve@example.org\nSubject: Hi\n\nbody\n', idFor, date);
  assert.deepEqual(out.envelope, { from: 'ann@example.org', to: ['ben@example.org', 'cat@example.org', 'dan@example.org', 'eve@example.org'] });
  assert.equal(out.messageId, '<fixed@example.org>');
  const wire = out.wire.toString('utf8');
  assert.equal(wire, 'Message-ID: <fixed@example.org>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nFrom: Ann <ann@example.org>\r\nTo: ben@example.org, "Cat, C." <cat@example.org>\r\nSubject: Hi\r\n\r\nbody\r\n');
  assert.match(out.copy.toString('utf8'), /\r\nBcc: dan@example\.org,\r\n  eve@example\.org\r\nSubject: Hi\r\n/);
  // A body line that looks like a header field stays.
  assert.match(prepareMessage('From: a@example.org\nTo: b@example.org\n\nBcc: not a header\n', idFor, date).wire.toString(), /\r\n\r\nBcc: not a header\r\n$/);
});

test('a whole message keeps its own Message-ID and Date; one it cannot send is refused with what is wrong', () => {
  const out = prepareMessage('Message-ID: <mine@example.org>\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\nFrom: a@example.org\r\nCc: b@example.org\r\n\r\nx', idFor, date);
  assert.equal(out.messageId, '<mine@example.org>');
  assert.equal(out.wire.toString().split('\r\n')[0], 'Message-ID: <mine@example.org>');
  const refused = (text: string, message: RegExp) => assert.throws(() => prepareMessage(text, idFor, date), (err: unknown) => err instanceof ProtocolError && err.status === 'invalidRequest' && message.test(err.message));
  refused('From: a@example.org\nTo: b@example.org', /give its header fields, a blank line/);
  refused('To: b@example.org\n\nx', /no From address/);
  refused('From: a@example.org\nSubject: x\n\nx', /no recipient/);
  refused('From: a@example.org\nTo: not an address\n\nx', /To, Cc or Bcc holds something that is not an address/);
  refused('From: a@example.org\nTo: b@example.org\nMessage-ID: <a@x>\nMessage-ID: <b@x>\n\nx', /more than one Message-ID/);
  refused(`From: a@example.org\nTo: ${Array.from({ length: limits.mailSendRecipientsMax + 1 }, (_, i) => `r${i}@example.org`).join(', ')}\n\nx`, /at most 100 recipients/);
  assert.throws(() => prepareMessage(`From: a@example.org\nTo: b@example.org\n\n${'x'.repeat(limits.mailSendBytesMax)}`, idFor, date), (err: unknown) => err instanceof ProtocolError && err.status === 'bodyTooLarge');
});

test('composed parts: MIME with the attachment, Bcc only in the copy, the given Message-ID', async () => {
  const out = await composeMessage(
    { to: [{ address: 'ben@example.org' }], bcc: [{ address: 'dan@example.org' }], subject: 'Grüße', text: 'hello', attachments: [{ name: 'a.txt', type: 'text/plain', base64: Buffer.from('attached').toString('base64') }], inReplyTo: '<p@example.org>' },
    { name: 'Ann', address: 'ann@example.org' },
    idFor,
    date,
  );
  assert.deepEqual(out.envelope, { from: 'ann@example.org', to: ['ben@example.org', 'dan@example.org'] });
  const wire = out.wire.toString();
  assert.match(wire, /^Message-ID: <fixed@example\.org>\r$/m);
  assert.match(wire, /^In-Reply-To: <p@example\.org>\r$/m);
  assert.match(wire, /^Content-Type: multipart\/mixed;/m);
  assert.match(wire, /YXR0YWNoZWQ=/);
  assert.doesNotMatch(wire, /^Bcc:/m);
  assert.match(out.copy.toString(), /^Bcc: dan@example\.org\r$/m);
});

test('withoutField drops one field, folded lines too, and only in the header; a message without it gets a Date when sent', () => {
  const source = Buffer.from('From: a@example.org\r\nDate: Mon, 7 Dec 2026\r\n 10:00:00 +0000\r\nTo: b@example.org\r\nX-Date: kept\r\n\r\nDate: in the body\r\n');
  const out = withoutField(source, 'date');
  assert.equal(out.toString(), 'From: a@example.org\r\nTo: b@example.org\r\nX-Date: kept\r\n\r\nDate: in the body\r\n');
  const sent = prepareMessage(out, () => '<x@example.org>', new Date('2026-12-08T09:30:00Z'));
  assert.match(sent.wire.toString(), /^Date: Tue, 08 Dec 2026 09:30:00 \+0000\r$/m);
});
