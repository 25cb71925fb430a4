import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberUrl } from './names.js';

test('a new member is named by its UID when that is a plain name, else by a hash of it that is the same every time', () => {
  const book = 'https://dav.example/ann/contacts/';
  assert.equal(memberUrl(book, 'a1-b2_c3.d4@host', 'addressbook'), `${book}a1-b2_c3.d4@host.vcf`);
  assert.equal(memberUrl('https://dav.example/ann/calendar', 'e1', 'calendar'), 'https://dav.example/ann/calendar/e1.ics');
  for (const uid of ['a/b', '..', '.hidden', 'x y', 'caf\u00e9', '%2F', 'q?x', 'h#1', 'u'.repeat(101)]) {
    const url = memberUrl(book, uid, 'addressbook');
    assert.match(url, /^https:\/\/dav\.example\/ann\/contacts\/[0-9a-f]{40}\.vcf$/, uid);
    assert.equal(memberUrl(book, uid, 'addressbook'), url, 'the same UID, the same name');
  }
  assert.notEqual(memberUrl(book, 'a/b', 'addressbook'), memberUrl(book, 'a/c', 'addressbook'));
});
