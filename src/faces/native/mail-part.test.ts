import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byteRange, contentDisposition } from './mail-part.js';
import { partContentType } from '../../hub/mail.js';

// docs/protocol.md §10.6: the headers of a mail part's answer, and the one byte range it serves.

test('a byte range: a-b, a-, -n; past the end unsatisfiable; any other form ignored (the whole part)', () => {
  assert.deepEqual(byteRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(byteRange('bytes=90-200', 100), { start: 90, end: 99 }, 'an end past the part ends at its last byte');
  assert.deepEqual(byteRange('bytes=50-', 100), { start: 50, end: 99 });
  assert.deepEqual(byteRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(byteRange('bytes=-500', 100), { start: 0, end: 99 });
  assert.equal(byteRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(byteRange('bytes=-0', 100), 'unsatisfiable');
  assert.equal(byteRange('bytes=0-', 0), 'unsatisfiable');
  for (const other of [undefined, '', 'bytes=-', 'bytes=5-1', 'bytes=0-1,5-6', 'items=0-1', 'bytes=a-b', `bytes=${'9'.repeat(16)}-`]) assert.equal(byteRange(other, 100), 'ignore', String(other));
});

test('Content-Disposition carries any file name safely: an ASCII fallback without quotes or backslashes, and the name as UTF-8 (RFC 6266, RFC 8187)', () => {
  assert.equal(contentDisposition('attachment', null), 'attachment');
  assert.equal(contentDisposition('attachment', 'report.pdf'), `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
  assert.equal(contentDisposition('inline', 'a "quoted"\\name (1)*.png'), `inline; filename="a _quoted__name (1)*.png"; filename*=UTF-8''a%20%22quoted%22%5Cname%20%281%29%2A.png`);
  assert.equal(contentDisposition('attachment', 'März 100%.pdf'), `attachment; filename="M_rz 100_.pdf"; filename*=UTF-8''M%C3%A4rz%20100%25.pdf`);
  // Nothing of a name can end the header or start another.
  assert.doesNotMatch(contentDisposition('attachment', 'x\r\nSet-Cookie: a=b'), /[\r\n]/);
});

test('a part Content-Type: its media type and charset when they are tokens, else application/octet-stream and no charset', () => {
  assert.equal(partContentType('text/plain', 'UTF-8'), 'text/plain; charset=utf-8');
  assert.equal(partContentType('application/pdf', null), 'application/pdf');
  assert.equal(partContentType('text/html\r\nx: y', 'utf-8'), 'application/octet-stream; charset=utf-8');
  assert.equal(partContentType('image/png', 'a b;c'), 'image/png');
});
