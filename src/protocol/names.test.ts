import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCollectionSchema, updateCollectionSchema } from './collections.js';
import { nameProblem, withoutControls } from './names.js';
import { syncRequestSchema } from './sync.js';
import { createAppTokenSchema } from './tokens.js';

test('names refuse every control character, noncharacter and lone surrogate; descriptions allow tab and line breaks', () => {
  for (const ok of ['Family', 'Å b — ✓', 'emoji \u{1F600}', 'x'.repeat(200)]) assert.equal(nameProblem(ok), undefined, ok);
  for (const bad of ['a\u0000', '\u001b[31m', 'tab\t', 'line\n', 'del\u007f', 'c1\u0085', 'csi\u009b', '\ufffe', '\uffff', 'lone\ud800', 'lone\udc00x']) {
    assert.notEqual(nameProblem(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(nameProblem('line one\r\nline two\tend', true), undefined);
  for (const bad of ['a\u0000', 'esc\u001b', 'bell\u0007', 'c1\u0085', '\uffff']) assert.notEqual(nameProblem(bad, true), undefined, JSON.stringify(bad));
  assert.equal(withoutControls('Ph\u0000o\u001bne\u0085'), 'Phone');
});

test('the schemas of every named thing use the rule', () => {
  assert.equal(createCollectionSchema.safeParse({ name: 'c', kind: 'contacts', displayName: 'a\u0000' }).success, false);
  assert.equal(createCollectionSchema.safeParse({ name: 'c', kind: 'contacts', description: 'two\nlines' }).success, true);
  assert.equal(updateCollectionSchema.safeParse({ description: 'esc\u001b' }).success, false);
  assert.equal(createAppTokenSchema.safeParse({ label: 'phone\u0007' }).success, false);
  const sync = (name: string) => syncRequestSchema.safeParse({ version: 1, device: { id: 'd', name }, collections: [{ collectionId: 'c', syncKey: 0 }] }).success;
  assert.equal(sync('my phone'), true);
  assert.equal(sync('my\u001bphone'), false);
});
