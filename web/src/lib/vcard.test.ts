import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareContacts, emptyContact, parseContact, searchText, serializeContact, type Contact } from './vcard.js';

const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;

const v3 = crlf([
  'BEGIN:VCARD',
  'VERSION:3.0',
  'UID:abc-1',
  'FN:Jane Doe',
  'N:Doe;Jane;;Dr.;',
  'item1.EMAIL;TYPE=INTERNET,WORK,PREF:jane@work.example',
  'EMAIL;TYPE=HOME:jane@home.example',
  'TEL;TYPE=CELL,VOICE:+1 555 0100',
  'TEL;TYPE=WORK:+1 555 0199',
  'ADR;TYPE=HOME:;;1 Main St;Springfield;IL;12345;USA',
  'ORG:Acme;R&D',
  'BDAY:1985-04-12',
  'CATEGORIES:Friends,Work',
  'PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ',
  'X-SOCIALPROFILE;TYPE=twitter:https://example.com/jane',
  'NOTE:line1\\nline2',
  'END:VCARD',
]);

const v4 = crlf([
  'BEGIN:VCARD',
  'VERSION:4.0',
  'UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1',
  'FN:Jim Beam',
  'N:Beam;Jim;;;',
  'EMAIL;TYPE=work;PREF=1:jim@work.example',
  'TEL;VALUE=uri;TYPE="cell,voice":tel:+1-555-0100',
  'BDAY:--0412',
  'PHOTO:data:image/jpeg;base64,/9j/4AAQ',
  'X-CUSTOM;X-PARAM=1:keep\\, me',
  'END:VCARD',
]);

test('parses a vCard 3.0 into the model', () => {
  const c = parseContact(v3);
  assert.equal(c.version, '3.0');
  assert.equal(c.uid, 'abc-1');
  assert.equal(c.fullName, 'Jane Doe');
  assert.deepEqual(c.name, { family: 'Doe', given: 'Jane', additional: '', prefix: 'Dr.', suffix: '' });
  assert.deepEqual(
    c.emails.map((e) => [e.value, e.type]),
    [
      ['jane@work.example', 'work'],
      ['jane@home.example', 'home'],
    ],
  );
  assert.deepEqual(
    c.phones.map((p) => [p.value, p.type]),
    [
      ['+1 555 0100', 'cell'],
      ['+1 555 0199', 'work'],
    ],
  );
  assert.deepEqual(c.addresses.map(({ key: _k, ...a }) => a), [
    { type: 'home', street: '1 Main St', city: 'Springfield', region: 'IL', postcode: '12345', country: 'USA' },
  ]);
  assert.equal(c.org, 'Acme');
  assert.equal(c.birthday, '1985-04-12');
  assert.deepEqual(c.groups, ['Friends', 'Work']);
  assert.equal(c.photo, 'data:image/jpeg;base64,/9j/4AAQ');
  assert.equal(c.note, 'line1\nline2');
});

test('parses a vCard 4.0: tel: URIs, a birthday without a year, a data: URI photo', () => {
  const c = parseContact(v4);
  assert.equal(c.version, '4.0');
  assert.deepEqual(c.phones.map((p) => [p.value, p.type]), [['+1-555-0100', 'cell']]);
  assert.equal(c.birthday, '');
  assert.equal(c.photo, 'data:image/jpeg;base64,/9j/4AAQ');
});

test('an unchanged model serializes to the same card, unknown properties included', () => {
  for (const card of [v3, v4]) {
    const out = serializeContact(parseContact(card), card);
    assert.deepEqual(parseContact(out), parseContact(card));
    assert.match(out, /^BEGIN:VCARD\r\nVERSION:/);
    assert.ok(out.endsWith('END:VCARD\r\n'));
  }
  const out4 = serializeContact(parseContact(v4), v4);
  assert.match(out4, /X-CUSTOM;X-PARAM=1:keep\\, me\r\n/);
  assert.match(out4, /BDAY:--0412\r\n/);
  // A data: URI keeps its comma unescaped, as other clients expect.
  assert.match(out4, /PHOTO:data:image\/jpeg;base64,\/9j\/4AAQ\r\n/);
});

test('editing one field leaves the other properties and parameters alone', () => {
  const c = parseContact(v3);
  const edited: Contact = { ...c, note: 'new note', phones: [...c.phones, { value: '+44 20 7946 0000', type: 'home' }] };
  const out = serializeContact(edited, v3);
  assert.match(out, /ITEM1\.EMAIL;TYPE=INTERNET,WORK,PREF:jane@work\.example/);
  assert.match(out, /X-SOCIALPROFILE;TYPE=twitter:https:\/\/example\.com\/jane/);
  assert.match(out, /TEL;TYPE=CELL,VOICE:\+1 555 0100/);
  assert.match(out, /TEL;TYPE=HOME:\+44 20 7946 0000/);
  assert.match(out, /NOTE:new note/);
  assert.match(out, /ORG:Acme;R&D/);
  const back = parseContact(out);
  assert.equal(back.phones.length, 3);
  assert.equal(back.note, 'new note');
  assert.deepEqual(back.emails, c.emails);
});

test('changing an entry type keeps its other TYPE values; removing an entry drops it', () => {
  const c = parseContact(v3);
  const [work, home] = c.emails;
  const out = serializeContact({ ...c, emails: [{ ...(work as Contact['emails'][0]), type: 'home' }], phones: [] }, v3);
  assert.match(out, /ITEM1\.EMAIL;TYPE=HOME,INTERNET,PREF:jane@work\.example/);
  assert.doesNotMatch(out, new RegExp(home?.value ?? 'x'));
  assert.doesNotMatch(out, /^TEL/m);
});

test('a new card has the required properties and round-trips several emails and phones', () => {
  const c: Contact = {
    ...emptyContact('uid-42'),
    name: { family: 'Lovelace', given: 'Ada', additional: '', prefix: '', suffix: '' },
    emails: [
      { value: 'ada@home.example', type: 'home' },
      { value: 'ada@work.example', type: 'work' },
    ],
    phones: [
      { value: '+1 555 0101', type: 'cell' },
      { value: '+1 555 0102', type: '' },
    ],
    addresses: [{ type: 'work', street: '12 Analytical Rd', city: 'London', region: '', postcode: 'N1', country: 'UK' }],
    org: 'Engines; Ltd',
    birthday: '1815-12-10',
    groups: ['Maths', 'VIP'],
    note: 'Commas, semicolons; and\nnew lines',
  };
  const out = serializeContact(c);
  assert.match(out, /^BEGIN:VCARD\r\nVERSION:3\.0\r\n/);
  assert.match(out, /\r\nFN:Ada Lovelace\r\n/);
  assert.match(out, /\r\nUID:uid-42\r\n/);
  const back = parseContact(out);
  assert.equal(back.fullName, 'Ada Lovelace');
  for (const field of ['name', 'org', 'birthday', 'groups', 'note'] as const) assert.deepEqual(back[field], c[field], field);
  assert.deepEqual(back.emails.map(({ key: _k, ...e }) => e), c.emails);
  assert.deepEqual(back.phones.map(({ key: _k, ...p }) => p), c.phones);
  assert.deepEqual(back.addresses.map(({ key: _k, ...a }) => a), c.addresses);
});

test('a photo is written as ENCODING=b in 3.0 and as a data: URI in 4.0', () => {
  const photo = `data:image/jpeg;base64,${'A'.repeat(300)}`;
  const out3 = serializeContact({ ...emptyContact('p3'), fullName: 'P', photo });
  assert.match(out3, /\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA/);
  assert.equal(parseContact(out3).photo, photo);
  const out4 = serializeContact({ ...parseContact(v4), photo }, v4);
  assert.match(out4, /\r\nPHOTO:data:image\/jpeg;base64,AAAA/);
  assert.equal(parseContact(out4).photo, photo);
  // Folded (ical.js puts 75 octets after the leading space of a continuation line).
  assert.ok(out4.split('\r\n').every((line) => line.length <= 76));
  assert.equal(parseContact(serializeContact({ ...parseContact(out4), photo: null }, out4)).photo, null);
});

test('a card edited here keeps its version (4.0 stays 4.0)', () => {
  const c = parseContact(v4);
  const out = serializeContact({ ...c, phones: [{ value: '+1 555 0177', type: 'work' }], birthday: '1990-01-02' }, v4);
  assert.match(out, /^BEGIN:VCARD\r\nVERSION:4\.0\r\n/);
  assert.match(out, /TEL;TYPE=work;VALUE=TEXT:\+1 555 0177|TEL;VALUE=TEXT;TYPE=work:\+1 555 0177/);
  assert.equal(parseContact(out).birthday, '1990-01-02');
});

test('search covers names, emails, phone digits and org; sorting follows the shown name', () => {
  const c = parseContact(v3);
  const text = searchText(c);
  for (const q of ['jane', 'doe', 'acme', 'jane@home', '5550100']) assert.ok(text.includes(q), q);
  const a = { ...emptyContact('a'), fullName: 'alice' };
  const b = { ...emptyContact('b'), fullName: 'Bob' };
  assert.deepEqual([b, a].sort(compareContacts).map((x) => x.fullName), ['alice', 'Bob']);
});

test('only inline raster photos are shown; a URL or SVG photo is not, and survives an edit untouched', () => {
  for (const photo of ['PHOTO;VALUE=URI:/api/v1/push/events?device=phone', 'PHOTO:data:image/svg+xml;base64,PHN2Zz4=', 'PHOTO;ENCODING=b;TYPE=SVG+XML:PHN2Zz4=']) {
    const card = crlf(['BEGIN:VCARD', 'VERSION:3.0', 'UID:p', 'FN:Pic', photo, 'END:VCARD']);
    const c = parseContact(card);
    assert.equal(c.photo, null, photo);
    const saved = serializeContact({ ...c, fullName: 'Pic Renamed' }, card);
    assert.ok(saved.includes(photo), saved);
  }
});
