import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodedBytesAtMost, partNode } from './parts.js';

// docs/protocol.md §10.6: a part is found in the message's structure by its section, and refused past the
// bound from its encoded size before any of it is downloaded.

test('a part is found by its IMAP section, a single-part message body as section 1', () => {
  const single = { type: 'text/plain', size: 10 };
  assert.equal(partNode(single, '1'), single);
  assert.equal(partNode(single, '2'), undefined);
  const pdf = { part: '2', type: 'application/pdf', encoding: 'base64', size: 400 };
  const html = { part: '1.2', type: 'text/html', size: 50 };
  const mixed = { type: 'multipart/mixed', childNodes: [{ part: '1', type: 'multipart/alternative', childNodes: [{ part: '1.1', type: 'text/plain', size: 20 }, html] }, pdf] };
  assert.equal(partNode(mixed, '2'), pdf);
  assert.equal(partNode(mixed, '1.2'), html);
  assert.equal(partNode(mixed, '3'), undefined);
});

test('the most a part decodes to: three bytes in four for base64, its size for any other encoding, unknown without one', () => {
  assert.equal(decodedBytesAtMost({ type: 'application/pdf', encoding: 'base64', size: 4000 }), 3000);
  assert.equal(decodedBytesAtMost({ type: 'application/pdf', encoding: 'BASE64', size: 5 }), 4);
  assert.equal(decodedBytesAtMost({ type: 'text/plain', encoding: 'quoted-printable', size: 4000 }), 4000);
  assert.equal(decodedBytesAtMost({ type: 'text/plain' }), null);
});
