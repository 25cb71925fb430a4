import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentLines } from './content-lines.js';

const card = [
  'BEGIN:VCARD',
  'VERSION:3.0',
  'FN:Anna',
  'item1.EMAIL;TYPE=WORK;TYPE="pref,internet":anna@exa',
  ' mple.org',
  'EMAIL;WORK:old@example.org',
  'NOTE:one\\, two\\; three\\nfour',
  'CATEGORIES:friends,work\\,life',
  'X-LABEL;LABEL="a:b;c":value',
  'END:VCARD',
  '',
].join('\r\n');

test('keeps only the wanted properties, unfolded, without their group', () => {
  const lines = contentLines(card, new Set(['EMAIL']));
  assert.deepEqual([...lines.keys()], ['EMAIL']);
  assert.deepEqual(
    lines.get('EMAIL')?.map((l) => l.values),
    [['anna@example.org'], ['old@example.org']],
  );
});

test('parameters: repeated, listed, quoted (with , : and ; inside), and a bare one as a TYPE', () => {
  const [first, second] = contentLines(card, new Set(['EMAIL'])).get('EMAIL') ?? [];
  assert.deepEqual(first?.params.get('type'), ['WORK', 'pref,internet']);
  assert.deepEqual(second?.params.get('type'), ['WORK']);
  const label = contentLines(card, new Set(['X-LABEL'])).get('X-LABEL')?.[0];
  assert.deepEqual(label?.params.get('label'), ['a:b;c']);
  assert.deepEqual(label?.values, ['value']);
});

test('values are unescaped; a list-valued property is split at its unescaped commas', () => {
  const lines = contentLines(card, new Set(['NOTE', 'CATEGORIES']));
  assert.deepEqual(lines.get('NOTE')?.[0]?.values, ['one, two; three\nfour']);
  assert.deepEqual(lines.get('CATEGORIES')?.[0]?.values, ['friends', 'work,life']);
});
