import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsClearly } from './mapper-harness.js';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { checkItem } from '../../../kinds/registry.js';
import { namespace, text, type WbxmlElement, type WbxmlNode } from '../wbxml/element.js';
import { contactMapper, pictureMaxChars } from './contact.js';
import { mapperHarness } from './mapper-harness.js';
import type { FromEasContext, ToEasOptions } from './item-mapper.js';

const as = namespace('AirSync');
const asb = namespace('AirSyncBase');
const c = namespace('Contacts');
const c2 = namespace('Contacts2');

const options: ToEasOptions = { version: '14.1' };
const context: FromEasContext = { version: '14.1', newUid: () => 'uid-from-server', now: Date.UTC(2024, 0, 2, 3, 4, 5) };
const ad = (...children: Array<WbxmlElement | undefined>) => as('ApplicationData', ...children);
const card = (...lines: string[]) => [...lines, ''].join('\r\n');

/** A tiny but real JPEG, base64. */
const jpeg = '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/9oACAEBAAA/APsr/9k=';
const jpeg2 = '/9j/4AAQSkZJRgABAgAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/9oACAEBAAA/APsr/9k=';
/** A JPEG too large for ActiveSync's 48 KB Picture. */
const bigJpeg = `/9j/${'A'.repeat(pictureMaxChars + 4)}`;

/** Folds a long line the way vCard writers do. */
const fold = (line: string) => line.match(/.{1,74}/g)!.join('\r\n ');

/** A 3.0 card with every field ActiveSync carries, and many it does not (in UNCARRIED_3). */
const rich3 = card(
  'BEGIN:VCARD',
  'VERSION:3.0',
  'PRODID:-//Apple Inc.//iPhone OS 17.0//EN',
  'UID:3c0ad1c2-7c2e-4d2f-9f1e-0a4b7c1d2e3f',
  'N:Smith;John;Quincy;Dr.;Jr.',
  'FN:Smith\\, John',
  'ORG:Acme\\, Inc.;Sales;EMEA',
  'TITLE:Sales Manager',
  'EMAIL;TYPE=INTERNET,WORK,pref:john@acme.example',
  'EMAIL;TYPE=INTERNET,HOME:john@home.example',
  'EMAIL;TYPE=INTERNET:j3@example.org',
  'EMAIL;TYPE=INTERNET:fourth@example.org',
  'TEL;TYPE=WORK,VOICE,pref:+1 555 0100',
  'TEL;TYPE=WORK,VOICE:+1 555 0110',
  'TEL;TYPE=WORK:+1 555 0120',
  'TEL;TYPE=HOME,VOICE:+1 555 0200',
  'TEL;TYPE=HOME:+1 555 0210',
  'TEL:+1 555 0220',
  'TEL;TYPE=CELL,IPHONE:+1 555 0300',
  'TEL;TYPE=WORK,FAX:+1 555 0400',
  'TEL;TYPE=HOME,FAX:+1 555 0410',
  'TEL;TYPE=PAGER:+1 555 0500',
  'TEL;TYPE=CAR:+1 555 0510',
  'TEL;TYPE=X-RADIO:+1 555 0520',
  'TEL;TYPE=X-ASSISTANT:+1 555 0530',
  'TEL;TYPE=WORK,X-COMPANY-MAIN:+1 555 0540',
  'TEL;TYPE=X-MMS:+1 555 0550',
  'TEL;TYPE=TEXT:+1 555 0560',
  'item1.TEL:+1 555 0570',
  'item1.X-ABLabel:_$!<Other>!$_',
  'ADR;TYPE=WORK,pref:PO Box 7;Suite 5;1 Main St;Springfield;IL;62701;USA',
  'ADR;TYPE=HOME:;;2 Elm St\\nApt 3;Shelbyville;IL;62565;USA',
  'ADR;TYPE=OTHER:;;3 Oak Ave;Capital City;;;',
  'ADR;TYPE=WORK:;;9 Second Office Rd;Ogdenville;;;',
  'LABEL;TYPE=WORK:1 Main St\\nSpringfield',
  'BDAY;VALUE=date:1990-05-17',
  'X-ANNIVERSARY:2015-06-20',
  'URL:https://john.example/a,b?x=1',
  'CATEGORIES:Friends,Work',
  'CATEGORIES:VIP',
  'NOTE:Met at the conference\\, booth 12.\\nCall back in May.',
  'NICKNAME:Johnny',
  'X-MS-SPOUSE:Jane Smith',
  'X-MS-ASSISTANT:Ann Assistant',
  'X-MS-MANAGER:Bob Boss',
  'X-MS-CHILD:Tim',
  'X-MS-CHILD:Tina',
  'X-MS-OFFICE-LOCATION:Building 4',
  'X-MS-ALIAS:jsmith',
  'X-MS-CUSTOMER-ID:C-42',
  'X-MS-GOVERNMENT-ID:G-7',
  'X-MS-ACCOUNT-NAME:acct',
  'X-PHONETIC-FIRST-NAME:Jon',
  'X-PHONETIC-LAST-NAME:Smiss',
  'X-PHONETIC-ORG:Akmee',
  'IMPP;X-SERVICE-TYPE=Jabber;type=pref:xmpp:john@jabber.example',
  'IMPP:sip:john@sip.example',
  'IMPP;X-SERVICE-TYPE=Skype:skype:john.smith',
  'IMPP:im:fourth@im.example',
  'X-JABBER:john@jabber.example',
  'GEO:37.386013;-122.082932',
  'KEY;ENCODING=b;TYPE=PGP:AAECAwQ=',
  'X-ABShowAs:COMPANY',
  'X-CUSTOM;X-PARAM="a;b":keep me\\, please',
  fold(`PHOTO;ENCODING=b;TYPE=JPEG:${jpeg}`),
  'REV:2024-01-01T00:00:00Z',
  'END:VCARD',
);

const UNCARRIED_3 = [
  'PRODID:-//Apple Inc.//iPhone OS 17.0//EN', 'UID:3c0ad1c2-7c2e-4d2f-9f1e-0a4b7c1d2e3f', 'EMAIL;TYPE=INTERNET:fourth@example.org',
  'TEL;TYPE=WORK:+1 555 0120', 'TEL:+1 555 0220', 'TEL;TYPE=TEXT:+1 555 0560', 'item1.TEL:+1 555 0570', 'item1.X-ABLabel:_$!<Other>!$_',
  'ADR;TYPE=WORK:;;9 Second Office Rd;Ogdenville;;;', 'LABEL;TYPE=WORK:1 Main St\\nSpringfield', 'IMPP:im:fourth@im.example',
  'X-JABBER:john@jabber.example', 'GEO:37.386013;-122.082932', 'KEY;ENCODING=b;TYPE=PGP:AAECAwQ=', 'X-ABShowAs:COMPANY',
  'X-CUSTOM;X-PARAM="a;b":keep me\\, please', 'REV:2024-01-01T00:00:00Z',
];

/** What ActiveSync should see of rich3. */
const EXPECTED_3: Record<string, string> = {
  FileAs: 'Smith, John', LastName: 'Smith', FirstName: 'John', MiddleName: 'Quincy', Title: 'Dr.', Suffix: 'Jr.',
  CompanyName: 'Acme, Inc.', Department: 'Sales', JobTitle: 'Sales Manager',
  Email1Address: 'john@acme.example', Email2Address: 'john@home.example', Email3Address: 'j3@example.org',
  BusinessPhoneNumber: '+1 555 0100', Business2PhoneNumber: '+1 555 0110', HomePhoneNumber: '+1 555 0200',
  Home2PhoneNumber: '+1 555 0210', MobilePhoneNumber: '+1 555 0300', BusinessFaxNumber: '+1 555 0400',
  HomeFaxNumber: '+1 555 0410', PagerNumber: '+1 555 0500', CarPhoneNumber: '+1 555 0510', RadioPhoneNumber: '+1 555 0520',
  AssistantPhoneNumber: '+1 555 0530', CompanyMainPhone: '+1 555 0540', MMS: '+1 555 0550',
  BusinessAddressStreet: '1 Main St', BusinessAddressCity: 'Springfield', BusinessAddressState: 'IL',
  BusinessAddressPostalCode: '62701', BusinessAddressCountry: 'USA',
  HomeAddressStreet: '2 Elm St\nApt 3', HomeAddressCity: 'Shelbyville', HomeAddressState: 'IL', HomeAddressPostalCode: '62565',
  HomeAddressCountry: 'USA', OtherAddressStreet: '3 Oak Ave', OtherAddressCity: 'Capital City',
  Birthday: '1990-05-17T00:00:00.000Z', Anniversary: '2015-06-20T00:00:00.000Z', WebPage: 'https://john.example/a,b?x=1',
  Categories: 'Friends|Work|VIP', Body: 'Met at the conference, booth 12.\r\nCall back in May.', NickName: 'Johnny',
  Spouse: 'Jane Smith', AssistantName: 'Ann Assistant', ManagerName: 'Bob Boss', Children: 'Tim|Tina',
  OfficeLocation: 'Building 4', Alias: 'jsmith', CustomerId: 'C-42', GovernmentId: 'G-7', AccountName: 'acct',
  YomiFirstName: 'Jon', YomiLastName: 'Smiss', YomiCompanyName: 'Akmee',
  IMAddress: 'john@jabber.example', IMAddress2: 'sip:john@sip.example', IMAddress3: 'skype:john.smith', Picture: jpeg,
};

/** The same person as a 4.0 card, written the way 4.0 writers do. */
const rich4 = card(
  'BEGIN:VCARD',
  'VERSION:4.0',
  'KIND:individual',
  'UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1',
  'FN;PID=1.1:Jane Q. Doe',
  'N;SORT-AS="Doe,Jane":Doe;Jane;Quinn,Q.;Ms.;PhD',
  'NICKNAME:JD,Janie',
  'GENDER:F',
  'BDAY:19850412',
  'ANNIVERSARY:20100612',
  'ORG:Example Corp;R&D;Lab 3',
  'TITLE:Engineer',
  'EMAIL;TYPE=work;PREF=1:jane@work.example',
  'EMAIL;TYPE=home:jane@home.example',
  'EMAIL:jane3@example.org',
  'item1.EMAIL:jane4@example.org',
  'item1.X-ABLabel:custom',
  'TEL;VALUE=uri;TYPE="work,voice";PREF=1:tel:+1-555-555-0100',
  'TEL;VALUE=uri;TYPE=cell:tel:+1-555-555-0101',
  'TEL;TYPE=home:+1 555 555 0102',
  'TEL;TYPE="home,fax":+1 555 555 0103',
  'TEL;TYPE=text:+1 555 555 0199',
  'ADR;TYPE=work;LABEL="1 Work Way\\nTown":;;1 Work Way;Town;ST;12345;Country',
  'ADR;TYPE=home:;;2 Home Rd,Flat 4;Village;;54321;Country',
  'ADR;TYPE=other:;;3 Other St;City;;;',
  'URL;TYPE=home:https://jane.example/',
  'IMPP;PREF=1:xmpp:jane@jabber.example',
  'IMPP:sip:jane@sip.example',
  'CATEGORIES:Work,Friends',
  'NOTE:Line one\\nLine two\\, with comma',
  fold(`PHOTO:data:image/jpeg;base64,${jpeg}`),
  'RELATED;TYPE=spouse:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af',
  'KEY:data:application/pgp-keys;base64,AAECAwQ=',
  'GEO:geo:37.386013,-122.082932',
  'TZ:-05:00',
  'LANG;PREF=1:en',
  'X-PHONETIC-FIRST-NAME:ジェーン',
  'X-MS-SPOUSE:Jim',
  'X-EVOLUTION-MANAGER:Boss Lady',
  'REV:20240101T000000Z',
  'END:VCARD',
);

const UNCARRIED_4 = [
  'KIND:individual', 'GENDER:F', 'item1.EMAIL:jane4@example.org', 'item1.X-ABLabel:custom', 'TEL;TYPE=text:+1 555 555 0199',
  'RELATED;TYPE=spouse:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af', 'KEY:data:application/pgp-keys;base64,AAECAwQ=',
  'GEO:geo:37.386013,-122.082932', 'TZ:-05:00', 'LANG;PREF=1:en', 'REV:20240101T000000Z',
];

const EXPECTED_4: Record<string, string> = {
  FileAs: 'Jane Q. Doe', LastName: 'Doe', FirstName: 'Jane', MiddleName: 'Quinn Q.', Title: 'Ms.', Suffix: 'PhD', NickName: 'JD,Janie',
  Birthday: '1985-04-12T00:00:00.000Z', Anniversary: '2010-06-12T00:00:00.000Z', CompanyName: 'Example Corp', Department: 'R&D',
  JobTitle: 'Engineer', Email1Address: 'jane@work.example', Email2Address: 'jane@home.example', Email3Address: 'jane3@example.org',
  BusinessPhoneNumber: '+1-555-555-0100', MobilePhoneNumber: '+1-555-555-0101', HomePhoneNumber: '+1 555 555 0102',
  HomeFaxNumber: '+1 555 555 0103', BusinessAddressStreet: '1 Work Way', BusinessAddressCity: 'Town', BusinessAddressState: 'ST',
  BusinessAddressPostalCode: '12345', BusinessAddressCountry: 'Country', HomeAddressStreet: '2 Home Rd\nFlat 4',
  HomeAddressCity: 'Village', HomeAddressPostalCode: '54321', HomeAddressCountry: 'Country', OtherAddressStreet: '3 Other St',
  OtherAddressCity: 'City', WebPage: 'https://jane.example/', IMAddress: 'jane@jabber.example', IMAddress2: 'sip:jane@sip.example',
  Categories: 'Work|Friends', Body: 'Line one\r\nLine two, with comma', Picture: jpeg, YomiFirstName: 'ジェーン', Spouse: 'Jim',
  ManagerName: 'Boss Lady',
};

/** Namespaces the client must see each field in. */
const contacts2 = new Set(['CustomerId', 'GovernmentId', 'IMAddress', 'IMAddress2', 'IMAddress3', 'ManagerName', 'CompanyMainPhone', 'AccountName', 'NickName', 'MMS']);

/** ApplicationData children as name → text (Body: its Data; Categories and Children: items joined by |). */
function fields(elements: WbxmlElement[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of elements) {
    assert.equal(out[e.name], undefined, `${e.name} sent twice`);
    const kids = e.children.filter((k): k is WbxmlElement => typeof k === 'object' && !(k instanceof Uint8Array));
    if (e.name === 'Body') {
      assert.equal(e.ns, 'AirSyncBase');
      out[e.name] = text(kids.find((k) => k.name === 'Data')) ?? '';
    } else if (e.name === 'Categories' || e.name === 'Children') {
      out[e.name] = kids.map((k) => text(k)).join('|');
    } else {
      assert.equal(e.ns, contacts2.has(e.name) ? 'Contacts2' : 'Contacts', `namespace of ${e.name}`);
      out[e.name] = text(e);
    }
  }
  return out;
}

/** The element a client would send for `name` = `value` (the inverse of `fields`). */
function element(name: string, value: string): WbxmlElement {
  if (name === 'Body') return asb('Body', asb('Type', '1'), asb('Data', value));
  if (name === 'Categories') return c('Categories', ...value.split('|').map((v) => c('Category', v)));
  if (name === 'Children') return c('Children', ...value.split('|').map((v) => c('Child', v)));
  return (contacts2.has(name) ? c2 : c)(name, value);
}

function valid(data: string): string {
  const check = checkItem('contacts', data);
  assert.ok(check.ok, check.ok ? '' : check.message);
  return data;
}

const toEas = (data: string) => fields(contactMapper.toEas(data, options));
const fromEas = (children: WbxmlElement[], existing?: string) => valid(contactMapper.fromEas(ad(...children), existing, context));
const send = (f: Record<string, string>) => Object.entries(f).map(([k, v]) => element(k, v));

/** Lines of a card, unfolded. */
const unfolded = (data: string) => data.replace(/\r\n[ \t]/g, '').split('\r\n');

const minimal4 = card('BEGIN:VCARD', 'VERSION:4.0', 'UID:base-4', 'FN:Base', 'END:VCARD');

/** One value for every field, as a client would send it. */
const CLIENT_FIELDS: Record<string, string> = {
  FileAs: 'Doe, Jane', FirstName: 'Jane', LastName: 'Doe', MiddleName: 'Q', Title: 'Dr.', Suffix: 'III', CompanyName: 'Initech; Ltd, Co',
  Department: 'TPS', JobTitle: 'Engineer', Email1Address: 'jane@work.example', Email2Address: 'jane@home.example',
  Email3Address: 'jane@other.example', BusinessPhoneNumber: '(555) 010-0001', Business2PhoneNumber: '555 0002',
  HomePhoneNumber: '555 0003', Home2PhoneNumber: '555 0004', MobilePhoneNumber: '+44 7700 900005', BusinessFaxNumber: '555 0006',
  HomeFaxNumber: '555 0007', PagerNumber: '555 0008', CarPhoneNumber: '555 0009', RadioPhoneNumber: '555 0010',
  AssistantPhoneNumber: '555 0011', CompanyMainPhone: '555 0012', MMS: '555 0013',
  BusinessAddressStreet: '1 Work St\nFloor 2', BusinessAddressCity: 'Worktown', BusinessAddressState: 'WS',
  BusinessAddressPostalCode: '11111', BusinessAddressCountry: 'Workland', HomeAddressStreet: '2 Home St, Apt; 5',
  HomeAddressCity: 'Hometown', HomeAddressState: 'HS', HomeAddressPostalCode: '22222', HomeAddressCountry: 'Homeland',
  OtherAddressStreet: '3 Other St', OtherAddressCity: 'Otherton', OtherAddressState: 'OS', OtherAddressPostalCode: '33333',
  OtherAddressCountry: 'Otherland', Birthday: '1990-05-17T00:00:00.000Z', Anniversary: '2015-06-20T00:00:00.000Z',
  WebPage: 'https://example.com/path,with,commas;and=semicolons', Categories: 'Business|Key, Customer|VIP', Children: 'Tim|Tina',
  Picture: jpeg, Body: 'First line\r\nSecond line; with, punctuation\\ and a backslash', NickName: 'Janie', Spouse: 'John',
  AssistantName: 'Ann', ManagerName: 'Max', IMAddress: 'jane@jabber.example', IMAddress2: 'sip:jane@sip.example',
  IMAddress3: 'jane.doe', YomiFirstName: 'ジェーン', YomiLastName: 'ドウ', YomiCompanyName: 'イニテック', Alias: 'jdoe',
  OfficeLocation: 'B4-2', CustomerId: 'CUST-1', GovernmentId: 'GOV-2', AccountName: 'ACC-3',
};

/**
 * A card keeps e-mail addresses, IM addresses and phones of one kind as a list, so a second or third one
 * sent alone comes back as the first.
 */
const aloneAs: Record<string, string> = {
  Email2Address: 'Email1Address', Email3Address: 'Email1Address', IMAddress2: 'IMAddress', IMAddress3: 'IMAddress',
  Business2PhoneNumber: 'BusinessPhoneNumber', Home2PhoneNumber: 'HomePhoneNumber',
};

test('every field, on its own: client → hub → client gives the same value (new 3.0 card and 4.0 card)', () => {
  for (const [name, value] of Object.entries(CLIENT_FIELDS)) {
    for (const existing of [undefined, minimal4]) {
      const stored = fromEas([element(name, value)], existing);
      const seen = toEas(stored);
      assert.equal(seen[aloneAs[name] ?? name], value, `${name} via ${existing ? '4.0' : 'a new card'}:\n${stored}`);
      // The field, and the FileAs composed from it when it names the contact; nothing else.
      const names = /^(FirstName|LastName|MiddleName|Title|Suffix|NickName|Email\dAddress|CompanyName|.*(Phone|Fax|Pager).*|MMS)$/.test(name);
      assert.deepEqual(Object.keys(seen).sort(), [...new Set([aloneAs[name] ?? name, ...(names ? ['FileAs'] : [])])].sort(), name);
    }
  }
});

test('all fields together: client → hub → client gives every value back', () => {
  for (const existing of [undefined, minimal4]) {
    const stored = fromEas(send(CLIENT_FIELDS), existing);
    assert.deepEqual(toEas(stored), CLIENT_FIELDS);
    // And sending it all again changes nothing.
    assert.equal(fromEas(send(CLIENT_FIELDS), stored), stored);
  }
});

test('a new contact is a vCard 3.0 with the server UID, a PRODID and FN', () => {
  const stored = fromEas(send(CLIENT_FIELDS));
  const lines = unfolded(stored);
  assert.deepEqual(lines.slice(0, 4), ['BEGIN:VCARD', 'VERSION:3.0', 'PRODID:-//Syncpoint//ActiveSync//EN', 'UID:uid-from-server']);
  assert.ok(lines.includes('FN:Doe\\, Jane'));
  assert.ok(lines.includes('N:Doe;Jane;Q;Dr.;III'));
  assert.ok(lines.includes('ORG:Initech\\; Ltd\\, Co;TPS'));
  assert.ok(lines.includes('TEL;TYPE=WORK,VOICE:(555) 010-0001'));
  assert.ok(lines.includes('TEL;TYPE=X-RADIO:555 0010'));
  assert.ok(lines.includes('ADR;TYPE=HOME:;;2 Home St\\, Apt\\; 5;Hometown;HS;22222;Homeland'));
  assert.ok(lines.includes('BDAY:1990-05-17'));
  assert.ok(lines.includes('X-ANNIVERSARY:2015-06-20'));
  assert.ok(lines.includes(`PHOTO;ENCODING=b;TYPE=JPEG:${jpeg}`));
  assert.ok(lines.includes('IMPP:im:jane.doe'));
  assert.ok(lines.includes('NOTE:First line\\nSecond line; with\\, punctuation\\\\ and a backslash'));
  assert.ok(stored.split('\r\n').every((l) => Buffer.byteLength(l) <= 76), 'lines are folded (ical.js: 75 bytes after the leading space)');
});

test('a new contact on a 4.0 card is written the 4.0 way', () => {
  const lines = unfolded(fromEas(send(CLIENT_FIELDS), minimal4));
  assert.ok(lines.includes('BDAY:19900517'));
  assert.ok(lines.includes('ANNIVERSARY:20150620'));
  assert.ok(lines.includes(`PHOTO:data:image/jpeg;base64,${jpeg}`));
  assert.ok(lines.includes('TEL;TYPE=work,voice:(555) 010-0001'));
  assert.ok(lines.includes('UID:base-4'));
});

test('FN comes from FileAs, else the name parts, else nickname, e-mail, company or phone', () => {
  const fn = (...children: WbxmlElement[]) => ICAL.parse(fromEas(children))[1].find((p: unknown[]) => p[0] === 'fn')[3];
  assert.equal(fn(c('FileAs', 'Filed'), c('FirstName', 'A')), 'Filed');
  assert.equal(fn(c('Title', 'Dr.'), c('FirstName', 'A'), c('LastName', 'B'), c('Suffix', 'Jr.')), 'Dr. A B Jr.');
  assert.equal(fn(c2('NickName', 'Nick'), c('CompanyName', 'Co')), 'Nick');
  assert.equal(fn(c('Email2Address', '"Mail Person" <mail@example.com>'), c('CompanyName', 'Co')), 'mail@example.com');
  assert.equal(fn(c('CompanyName', 'Co')), 'Co');
  assert.equal(fn(c('MobilePhoneNumber', '555')), '555');
  assert.equal(fn(), '');
});

test('"Name" <address> from a client is stored as the address', () => {
  const stored = fromEas([c('Email1Address', '"Smith, John" <john@example.com>'), c('Email2Address', 'plain@example.com')]);
  assert.deepEqual([toEas(stored)['Email1Address'], toEas(stored)['Email2Address']], ['john@example.com', 'plain@example.com']);
});

test('a rich 3.0 card → client → hub is the same card, byte for byte', () => {
  const seen = toEas(rich3);
  assert.deepEqual(seen, EXPECTED_3);
  assert.equal(fromEas(send(seen), rich3), rich3);
});

test('a rich 4.0 card → client → hub is the same card, byte for byte', () => {
  const seen = toEas(rich4);
  assert.deepEqual(seen, EXPECTED_4);
  assert.equal(fromEas(send(seen), rich4), rich4);
});

test('line ends: a card stored with LF comes back with CRLF and nothing else changed', () => {
  const lf = rich3.replace(/\r\n/g, '\n');
  assert.equal(fromEas(send(toEas(lf)), lf), rich3);
});

/** Fields that move up when an earlier one of their kind goes (the card keeps them in order). */
const family = (name: string) => name.replace(/^Email\dAddress$/, 'Email').replace(/^IMAddress\d?$/, 'IM').replace(/^(Business|Home)2?PhoneNumber$/, '$1Phone');

for (const [version, rich, uncarried] of [['3.0', rich3, UNCARRIED_3], ['4.0', rich4, UNCARRIED_4]] as const) {
  test(`${version}: a field the client leaves out of a Change is removed, and nothing else changes`, () => {
    const seen = toEas(rich);
    for (const name of Object.keys(seen)) {
      if (name === 'FileAs') continue;
      const { [name]: dropped, ...rest } = seen;
      const stored = fromEas(send(rest), rich);
      const after = toEas(stored);
      assert.notEqual(after[name], dropped, `${name} is still there`);
      for (const [other, value] of Object.entries(rest)) {
        if (family(other) !== family(name)) assert.equal(after[other], value, `${other} changed when ${name} was left out`);
      }
      const lines = unfolded(stored);
      for (const line of uncarried) assert.ok(lines.includes(line), `${line} lost when ${name} was left out`);
      assert.ok(stored.startsWith(`BEGIN:VCARD\r\nVERSION:${version}\r\n`));
    }
  });
}

test('FileAs left out: FN is composed from the name', () => {
  const { FileAs: _fileAs, ...rest } = toEas(rich3);
  assert.equal(toEas(fromEas(send(rest), rich3))['FileAs'], 'Dr. John Quincy Smith Jr.');
});

test('a Change with nothing in it keeps only what ActiveSync cannot carry (and a composed FN, 3.0 N)', () => {
  const lines = unfolded(fromEas([], rich3));
  assert.deepEqual(lines, ['BEGIN:VCARD', 'VERSION:3.0', ...UNCARRIED_3.slice(0, 2), 'N:;;;;', 'FN:', ...UNCARRIED_3.slice(2), 'END:VCARD', '']);
});

test('a changed value is rewritten in place with its parameters and group', () => {
  const seen = toEas(rich3);
  const stored = fromEas(send({ ...seen, Email1Address: 'new@acme.example', BusinessPhoneNumber: '+1 555 9999', HomeAddressCity: 'Capital' }), rich3);
  const lines = unfolded(stored);
  const old = unfolded(rich3);
  assert.equal(lines.indexOf('EMAIL;TYPE=INTERNET,WORK,pref:new@acme.example'), old.indexOf('EMAIL;TYPE=INTERNET,WORK,pref:john@acme.example'));
  assert.equal(lines.indexOf('TEL;TYPE=WORK,VOICE,pref:+1 555 9999'), old.indexOf('TEL;TYPE=WORK,VOICE,pref:+1 555 0100'));
  assert.ok(lines.includes('ADR;TYPE=WORK,pref:PO Box 7;Suite 5;1 Main St;Springfield;IL;62701;USA'));
  assert.ok(lines.includes('ADR;TYPE=HOME:;;2 Elm St\\nApt 3;Capital;IL;62565;USA'));
  assert.equal(lines.length, old.length);

  const four = fromEas(send({ ...toEas(rich4), Email3Address: 'changed@example.org', IMAddress: 'other@jabber.example' }), rich4);
  const lines4 = unfolded(four);
  assert.ok(lines4.includes('EMAIL:changed@example.org'));
  assert.ok(lines4.includes('IMPP;PREF=1:xmpp:other@jabber.example'), 'the xmpp: scheme is kept');
  assert.ok(lines4.includes('item1.EMAIL:jane4@example.org'));
});

test('a grouped property keeps its group when its value changes', () => {
  const grouped = card('BEGIN:VCARD', 'VERSION:3.0', 'FN:G', 'item2.EMAIL;TYPE=INTERNET:a@example.com', 'item2.X-ABLabel:School', 'END:VCARD');
  const lines = unfolded(fromEas([c('FileAs', 'G'), c('Email1Address', 'b@example.com')], grouped));
  assert.ok(lines.includes('item2.EMAIL;TYPE=INTERNET:b@example.com'), lines.join('\n'));
  assert.ok(lines.includes('item2.X-ABLabel:School'));
});

test('a field the client adds goes after the lines of its kind, and reads back in its place', () => {
  const base = card('BEGIN:VCARD', 'VERSION:3.0', 'FN:P', 'TEL;TYPE=WORK:1', 'TEL;TYPE=HOME:2', 'X-KEEP:x', 'END:VCARD');
  const stored = fromEas(send({ FileAs: 'P', BusinessPhoneNumber: '1', HomePhoneNumber: '2', Business2PhoneNumber: '3', Home2PhoneNumber: '4' }), base);
  assert.deepEqual(unfolded(stored), [
    'BEGIN:VCARD', 'VERSION:3.0', 'FN:P', 'TEL;TYPE=WORK:1', 'TEL;TYPE=HOME:2', 'TEL;TYPE=WORK,VOICE:3', 'TEL;TYPE=HOME,VOICE:4', 'X-KEEP:x',
    'N:;;;;', 'END:VCARD', '',
  ]);
  assert.deepEqual(toEas(stored), { FileAs: 'P', BusinessPhoneNumber: '1', Business2PhoneNumber: '3', HomePhoneNumber: '2', Home2PhoneNumber: '4' });
});

test('photo: 3.0 and 4.0 inline JPEGs are sent, a new one is written in the card’s own version', () => {
  assert.equal(toEas(rich3)['Picture'], jpeg);
  assert.equal(toEas(rich4)['Picture'], jpeg);
  const three = unfolded(fromEas(send({ ...toEas(rich3), Picture: jpeg2 }), rich3));
  assert.ok(three.includes(`PHOTO;ENCODING=b;TYPE=JPEG:${jpeg2}`));
  const four = unfolded(fromEas(send({ ...toEas(rich4), Picture: jpeg2 }), rich4));
  assert.ok(four.includes(`PHOTO:data:image/jpeg;base64,${jpeg2}`));
  assert.equal(four.filter((l) => l.startsWith('PHOTO')).length, 1);
});

test('photo: one too large for ActiveSync, a PNG or a link is not sent, survives a Change, and a client picture replaces it', () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  for (const photoLine of [fold(`PHOTO;ENCODING=b;TYPE=JPEG:${bigJpeg}`), fold(`PHOTO;ENCODING=b;TYPE=PNG:${png}`), 'PHOTO;VALUE=uri:https://example.com/me.jpg']) {
    const base = card('BEGIN:VCARD', 'VERSION:3.0', 'FN:Big', photoLine, 'END:VCARD');
    const seen = toEas(base);
    assert.equal(seen['Picture'], undefined);
    assert.equal(fromEas(send(seen), base), card('BEGIN:VCARD', 'VERSION:3.0', 'FN:Big', photoLine, 'N:;;;;', 'END:VCARD'));
    const replaced = unfolded(fromEas(send({ ...seen, Picture: jpeg }), base));
    assert.deepEqual(replaced.filter((l) => l.startsWith('PHOTO')), [`PHOTO;ENCODING=b;TYPE=JPEG:${jpeg}`]);
  }
});

test('photo: a PNG picture from a client is labelled PNG', () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  assert.ok(unfolded(fromEas([c('Picture', png)])).includes(`PHOTO;ENCODING=b;TYPE=PNG:${png}`));
  assert.ok(unfolded(fromEas([c('Picture', png)], minimal4)).includes(`PHOTO:data:image/png;base64,${png}`));
});

test('photo: OPAQUE picture bytes are taken as the image', () => {
  const bytes = Uint8Array.from(Buffer.from(jpeg, 'base64'));
  assert.equal(toEas(fromEas([c('Picture', bytes)]))['Picture'], jpeg);
});

test('dates: a client date-time is stored as its date, rounded to the nearest UTC midnight', () => {
  const bday = (v: string) => toEas(fromEas([c('Birthday', v)]))['Birthday'];
  assert.equal(bday('1990-05-17T00:00:00.000Z'), '1990-05-17T00:00:00.000Z');
  assert.equal(bday('1990-05-16T22:00:00.000Z'), '1990-05-17T00:00:00.000Z'); // local midnight at UTC+2
  assert.equal(bday('1990-05-17T05:00:00.000Z'), '1990-05-17T00:00:00.000Z'); // local midnight at UTC-5
  assert.equal(bday('1990-05-17T11:59:00.000Z'), '1990-05-17T00:00:00.000Z');
  assert.equal(bday('1990-05-17'), '1990-05-17T00:00:00.000Z');
  assert.equal(bday('19900517T000000Z'), '1990-05-17T00:00:00.000Z');
  assert.equal(bday('1990-05-17T01:00:00+02:00'), '1990-05-17T00:00:00.000Z');
});

test('dates the client cannot see (no year) are not sent and survive a Change', () => {
  const base = card('BEGIN:VCARD', 'VERSION:4.0', 'FN:Y', 'BDAY:--0517', 'ANNIVERSARY:--0620', 'END:VCARD');
  const seen = toEas(base);
  assert.deepEqual(seen, { FileAs: 'Y' });
  assert.equal(fromEas(send(seen), base), base);
  // A client that sets a birthday replaces nothing it could not see: the new one is added.
  const added = unfolded(fromEas(send({ ...seen, Birthday: '2000-01-02T00:00:00.000Z' }), base));
  assert.ok(added.includes('BDAY:--0517') && added.includes('BDAY:20000102'));
});

test('phones: untyped TEL fill the home fields, Evolution types are read, TYPE=TEXT only is not carried', () => {
  const base = card(
    'BEGIN:VCARD', 'VERSION:3.0', 'FN:T', 'TEL:1', 'TEL;TYPE=VOICE:2', 'TEL:3', 'TEL;TYPE=X-EVOLUTION-ASSISTANT:4',
    'TEL;TYPE=X-EVOLUTION-RADIO:5', 'TEL;TYPE=X-EVOLUTION-COMPANY:6', 'TEL;TYPE=FAX:7', 'TEL;TYPE=TEXT:8', 'END:VCARD',
  );
  assert.deepEqual(toEas(base), {
    FileAs: 'T', HomePhoneNumber: '1', Home2PhoneNumber: '2', AssistantPhoneNumber: '4', RadioPhoneNumber: '5', CompanyMainPhone: '6',
    BusinessFaxNumber: '7',
  });
});

test('categories: duplicates are sent once, and an unchanged list keeps its lines', () => {
  const base = card('BEGIN:VCARD', 'VERSION:3.0', 'FN:C', 'CATEGORIES:A,B', 'CATEGORIES:b,A,C', 'END:VCARD');
  const seen = toEas(base);
  assert.equal(seen['Categories'], 'A|B|b|C');
  assert.equal(fromEas(send(seen), base), card('BEGIN:VCARD', 'VERSION:3.0', 'FN:C', 'CATEGORIES:A,B', 'CATEGORIES:b,A,C', 'N:;;;;', 'END:VCARD'));
  const changed = unfolded(fromEas(send({ ...seen, Categories: 'A|D' }), base));
  assert.deepEqual(changed.filter((l) => l.startsWith('CATEGORIES')), ['CATEGORIES:A,D']);
});

test('body: a truncated body goes with Truncated and the whole size', () => {
  const elements = contactMapper.toEas(rich3, { version: '14.1', bodyPreference: { type: 2, truncationSize: 10 } });
  const body = elements.find((e) => e.name === 'Body') as WbxmlElement;
  const kids = body.children as WbxmlElement[];
  assert.deepEqual(kids.map((k) => [k.name, text(k)]), [['Type', '1'], ['EstimatedDataSize', '51'], ['Truncated', '1'], ['Data', 'Met at the']]);
});

test('body: an HTML body from a client is stored as text', () => {
  const stored = fromEas([c('FileAs', 'H'), asb('Body', asb('Type', '2'), asb('Data', '<div>Hi <b>there</b></div><div>bye</div>'))]);
  assert.ok(unfolded(stored).includes('NOTE:Hi there\\nbye'));
});

test('every result passes the hub’s content check', () => {
  // valid() runs on every fromEas result above; here the rich cards and their edits once more, explicitly.
  for (const rich of [rich3, rich4]) {
    assert.ok(checkItem('contacts', rich).ok);
    for (const name of Object.keys(toEas(rich))) {
      const { [name]: _dropped, ...rest } = toEas(rich);
      assert.ok(checkItem('contacts', contactMapper.fromEas(ad(...send(rest)), rich, context)).ok, name);
    }
  }
});

test('malformed client data: bad dates and pictures are refused with a clear Error', () => {
  for (const v of ['not a date', '1990-13-45T00:00:00.000Z', '1990-02-30', '1990-05-17T25:00:00Z', '', ' ']) {
    if (v.trim() === '') {
      assert.equal(toEas(fromEas([c('Birthday', v)]))['Birthday'], undefined);
      continue;
    }
    throwsClearly(() => contactMapper.fromEas(ad(c('Birthday', v)), undefined, context), /Contacts:Birthday is not a date/);
    throwsClearly(() => contactMapper.fromEas(ad(c('Anniversary', v)), rich3, context), /Contacts:Anniversary is not a date/);
  }
  throwsClearly(() => contactMapper.fromEas(ad(c('Picture', 'not base64!')), undefined, context), /Contacts:Picture is not base64/);
  throwsClearly(() => contactMapper.fromEas(ad(c('Picture', bigJpeg)), undefined, context), /Contacts:Picture .* the limit is 48 KB/);
});

test('malformed client data: overlong values are refused with a clear Error', () => {
  throwsClearly(() => contactMapper.fromEas(ad(c('FirstName', 'x'.repeat(2 * 1024 * 1024))), undefined, context), /not acceptable: item is \d+ bytes/);
  // Long but within the item limit: stored, folded.
  const long = 'y'.repeat(200_000);
  assert.equal(toEas(fromEas([c('LastName', long)]))['LastName'], long);
});

test('malformed client data: empty ApplicationData, empty or nested elements, control characters', () => {
  assert.deepEqual(unfolded(fromEas([])), ['BEGIN:VCARD', 'VERSION:3.0', 'PRODID:-//Syncpoint//ActiveSync//EN', 'UID:uid-from-server', 'FN:', 'N:;;;;', 'END:VCARD', '']);
  const odd = fromEas([
    c('FirstName'), c('LastName', c('Nested', 'x')), c('Email1Address', '   '), c('Categories'), c('Categories', c('Category')),
    c('Children', 'text instead of Child'), asb('Body'), c('Picture'), c('JobTitle', 'Boss\u0001\u0008\uffff'), c('Unknown', 'x'),
    c2('IMAddress', '\u0000'),
  ]);
  assert.deepEqual(toEas(odd), { JobTitle: 'Boss' });
  // Line breaks where only text can hold them become spaces.
  for (const existing of [undefined, minimal4]) {
    const broken = fromEas([c('MobilePhoneNumber', '555\r\n0101'), c('WebPage', 'https://a\nb'), c2('IMAddress', 'x\ny'), c('FileAs', 'Two\nlines')], existing);
    assert.deepEqual(toEas(broken), { FileAs: 'Two\nlines', MobilePhoneNumber: '555 0101', WebPage: 'https://a b', IMAddress: 'x y' });
  }
});

test('malformed existing items are refused with a clear Error', () => {
  throwsClearly(() => contactMapper.fromEas(ad(), 'not a card', context), /not a (readable|single) vCard/);
  throwsClearly(() => contactMapper.fromEas(ad(), card('BEGIN:VCALENDAR', 'VERSION:2.0', 'END:VCALENDAR'), context), /not a single vCard/);
  throwsClearly(() => contactMapper.toEas('BEGIN:VCARD\r\nFN:x\r\n', options), /not a readable vCard/);
});

test('fuzz: any ApplicationData gives a valid item or a plain Error', () => {
  const names = [...Object.keys(CLIENT_FIELDS), 'Category', 'Child', 'Body', 'Data', 'Type', 'Bogus'];
  const leaf: fc.Arbitrary<WbxmlNode> = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom('1990-05-17T00:00:00.000Z', '2', jpeg, '<p>x</p>', '"A" <a@b.c>'),
    fc.uint8Array({ maxLength: 8 }),
  );
  const node: fc.Arbitrary<WbxmlElement> = fc.letrec<{ e: WbxmlElement }>((tie) => ({
    e: fc.record({
      ns: fc.constantFrom('Contacts', 'Contacts2', 'AirSyncBase'),
      name: fc.constantFrom(...names),
      children: fc.array(fc.oneof({ depthSize: 'small' }, leaf, tie('e')), { maxLength: 3 }),
    }),
  })).e;
  fc.assert(
    fc.property(fc.array(node, { maxLength: 8 }), fc.constantFrom(undefined, rich3, rich4), (kids, existing) => {
      let out: string;
      try {
        out = contactMapper.fromEas(ad(...kids), existing, context);
      } catch (err) {
        assert.equal((err as Error).constructor, Error, String(err));
        return;
      }
      assert.ok(checkItem('contacts', out).ok);
      contactMapper.toEas(out, options);
    }),
    { numRuns: 300 },
  );
});

test('an RTF body the server cannot read is kept as sent in X-SYNCPOINT-EAS-RTF, beside the NOTE, and sent back to clients that ask for RTF (issue 13 D5)', () => {
  mapperHarness(contactMapper, 'contacts', { uid: 'uid-from-server', now: context.now }).keptRtf([c('FirstName', 'Rich'), c('LastName', 'Text')]);
});
