import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeProperties } from './merge.js';

const card = (lines: string[]) => ['BEGIN:VCARD', 'VERSION:3.0', 'UID:u1', ...lines, 'END:VCARD', ''].join('\r\n');

test('edits of different properties both survive, untouched lines byte for byte', () => {
  const base = card(['FN:Ann', 'EMAIL:ann@example.org', 'NOTE:old']);
  const phone = card(['FN:Ann', 'EMAIL:ann@example.org', 'NOTE:old', 'TEL:+44 1']);
  const email = card(['FN:Ann', 'EMAIL:ann@work.example', 'NOTE:old']);
  assert.equal(mergeProperties(base, phone, email), card(['FN:Ann', 'EMAIL:ann@work.example', 'NOTE:old', 'TEL:+44 1']));
  assert.equal(mergeProperties(base, email, phone), card(['FN:Ann', 'EMAIL:ann@work.example', 'NOTE:old', 'TEL:+44 1']));
});

test('a property changed differently on both sides does not merge', () => {
  const base = card(['FN:Ann', 'NOTE:old']);
  assert.equal(mergeProperties(base, card(['FN:Ann', 'NOTE:mine']), card(['FN:Ann', 'NOTE:theirs'])), null);
});

test('a deletion on one side and no change on the other is a deletion; the same edit on both is that edit', () => {
  const base = card(['FN:Ann', 'NOTE:old', 'TEL:1']);
  assert.equal(mergeProperties(base, card(['FN:Ann', 'TEL:1']), card(['FN:Ann', 'NOTE:old', 'TEL:2'])), card(['FN:Ann', 'TEL:2']));
  assert.equal(mergeProperties(base, card(['FN:Bo', 'NOTE:old', 'TEL:1']), card(['FN:Bo', 'NOTE:old', 'TEL:1'])), card(['FN:Bo', 'NOTE:old', 'TEL:1']));
});

test('stamps such as REV never conflict; folded lines stay folded', () => {
  const base = card(['FN:Ann', 'REV:1', 'NOTE:a long note that was', '  folded']);
  const mine = card(['FN:Ann Smith', 'REV:2', 'NOTE:a long note that was', '  folded']);
  const theirs = card(['FN:Ann', 'REV:3', 'NOTE:a long note that was', '  folded', 'TEL:5']);
  assert.equal(mergeProperties(base, mine, theirs), card(['FN:Ann Smith', 'REV:2', 'NOTE:a long note that was', '  folded', 'TEL:5']));
});

test('an event merges its own properties; a changed alarm on both sides does not merge', () => {
  const ev = (summary: string, location: string, alarm: string) =>
    ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:e1', 'DTSTART:20260101T100000Z', `SUMMARY:${summary}`, `LOCATION:${location}`, 'BEGIN:VALARM', `TRIGGER:${alarm}`, 'ACTION:DISPLAY', 'END:VALARM', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
  assert.equal(mergeProperties(ev('A', 'X', '-PT5M'), ev('B', 'X', '-PT5M'), ev('A', 'Y', '-PT5M')), ev('B', 'Y', '-PT5M'));
  assert.equal(mergeProperties(ev('A', 'X', '-PT5M'), ev('A', 'X', '-PT10M'), ev('A', 'X', '-PT15M')), null);
});
