import assert from 'node:assert/strict';
import { test } from 'node:test';
import PostalMime from 'postal-mime';
import { limits } from '../../core/limits.js';
import { ProtocolError } from '../../protocol/errors.js';
import { draftMessage, editsMessage, type DraftEdit } from './draft-mail.js';

const now = new Date('2026-12-07T12:00:00Z');
const ann = { address: 'ann@example.org' };
const edit = (e: Partial<DraftEdit>): DraftEdit => ({ add: [], remove: new Set(), ...e });
const read = (bytes: Buffer) => PostalMime.parse(bytes, { attachmentEncoding: 'utf8' });

test('a new draft has its fields, Importance headers and attachments; a version keeps what its edit leaves out, its From and Message-ID', async () => {
  const first = await draftMessage(
    undefined,
    edit({ to: [{ name: 'Ben', address: 'ben@example.org' }], bcc: [{ address: 'eve@example.org' }], subject: 'Trip', importance: 'high', body: { html: false, text: 'Day one.' }, add: [{ name: 'a.txt', type: 'text/plain', content: Buffer.from('A') }, { name: 'b.txt', type: 'text/plain', content: Buffer.from('B') }] }),
    ann,
    '<draft-1@example.org>',
    now,
  );
  const one = await read(first);
  assert.equal(one.messageId, '<draft-1@example.org>');
  assert.deepEqual([one.subject, one.text?.trim(), one.bcc?.[0]?.address], ['Trip', 'Day one.', 'eve@example.org'], 'Bcc is kept in the draft');
  assert.match(first.toString('utf8'), /^Importance: High\r$/m);
  assert.deepEqual(one.attachments.map((a) => a.filename), ['a.txt', 'b.txt']);

  // Another sender and id given: the version keeps the draft's own. The first attachment deleted, one added after the kept.
  const second = await draftMessage(first, edit({ subject: 'Trip v2', remove: new Set([0]), add: [{ name: 'c.txt', type: 'text/plain', content: Buffer.from('C') }] }), { address: 'other@example.org' }, '<other@example.org>', now);
  const two = await read(second);
  assert.deepEqual([two.messageId, two.from?.address, two.subject, two.text?.trim(), two.to?.[0]?.address], ['<draft-1@example.org>', 'ann@example.org', 'Trip v2', 'Day one.', 'ben@example.org']);
  assert.match(second.toString('utf8'), /^Importance: High\r$/m, 'the importance left out is kept');
  assert.deepEqual(two.attachments.map((a) => [a.filename, a.content]), [['b.txt', 'B'], ['c.txt', 'C']]);
  assert.equal(editsMessage(edit({})), false);
});

test('a draft past mailSendBytesMax, or with too many attachments, is refused before anything is composed', async () => {
  const big = Buffer.alloc(limits.mailSendBytesMax + 1);
  await assert.rejects(draftMessage(undefined, edit({ add: [{ name: 'big', type: 'application/octet-stream', content: big }] }), ann, '<x@example.org>', now), (err) => err instanceof ProtocolError && err.status === 'bodyTooLarge');
  const many = Array.from({ length: limits.mailAttachmentsMax + 1 }, (_, i) => ({ name: `${i}.txt`, type: 'text/plain', content: Buffer.from('x') }));
  await assert.rejects(draftMessage(undefined, edit({ add: many }), ann, '<x@example.org>', now), (err) => err instanceof ProtocolError && err.status === 'invalidRequest' && /attachments/.test(err.message));
});
