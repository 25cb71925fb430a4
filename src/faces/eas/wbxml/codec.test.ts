import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { codePageOf, codePages } from './code-pages.js';
import { child, children, decodeWbxml, el, encodeWbxml, namespace, text, WbxmlError, type WbxmlElement, type WbxmlNode } from './codec.js';
import { fromXml, toXml } from './xml.js';

const as = namespace('AirSync');
const asb = namespace('AirSyncBase');
const contacts = namespace('Contacts');
const cal = namespace('Calendar');
const fh = namespace('FolderHierarchy');

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const header = '03 01 6a 00';
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const roundTrip = (tree: WbxmlElement) => assert.deepEqual(decodeWbxml(encodeWbxml(tree)), tree);

/** Asserts that decoding fails with a WbxmlError whose message matches. */
function refuses(bytes: Uint8Array, message: RegExp, limits = {}): void {
  assert.throws(() => decodeWbxml(bytes, limits), (err: unknown) => {
    assert.ok(err instanceof WbxmlError, `expected a WbxmlError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

test('the MS-ASWBXML encoding example: a Sync response adding a contact, byte for byte', () => {
  const tree = as('Sync',
    as('Collections',
      as('Collection',
        as('Class', 'Contacts'), as('SyncKey', '2'), as('CollectionId', '2'), as('Status', '1'),
        as('Commands',
          as('Add',
            as('ServerId', '2:1'),
            as('ApplicationData',
              asb('Body', asb('Type', '1'), asb('EstimatedDataSize', '0'), asb('Truncated', '1')),
              contacts('FileAs', 'Funk, Don'), contacts('FirstName', 'Don'), contacts('LastName', 'Funk'),
              asb('NativeBodyType', '1')))))));
  // The bytes the specification prints, up to "Funk" of FileAs ...
  const published =
    '03 01 6A 00 45 5C 4F 50 03 43 6F 6E 74 61 63 74 73 00 01 4B 03 32 00 01 52 03 32 00 01 4E 03 31 00 01 56 47 4D 03 32 3A 31 00 01 5D 00 11 4A 46 03 31 00 01 4C 03 30 00 01 4D 03 31 00 01 01 00 01 5E 03 46 75 6E 6B';
  // ... then ", Don", FirstName, LastName, a switch back to AirSyncBase for NativeBodyType, seven ENDs.
  const rest = '2C 20 44 6F 6E 00 01 5F 03 44 6F 6E 00 01 69 03 46 75 6E 6B 00 01 00 11 56 03 31 00 01 01 01 01 01 01 01';
  const bytes = encodeWbxml(tree);
  assert.deepEqual(bytes, hex(published + rest));
  assert.deepEqual(decodeWbxml(bytes), tree);
});

test('round trips: FolderSync request and response', () => {
  roundTrip(fh('FolderSync', fh('SyncKey', '0')));
  roundTrip(
    fh('FolderSync', fh('Status', '1'), fh('SyncKey', '1'),
      fh('Changes', fh('Count', '3'),
        fh('Add', fh('ServerId', 'c1'), fh('ParentId', '0'), fh('DisplayName', 'Contacts'), fh('Type', '9')),
        fh('Add', fh('ServerId', 'k1'), fh('ParentId', '0'), fh('DisplayName', 'Calendar ✓'), fh('Type', '8')),
        fh('Delete', fh('ServerId', 'old')))),
  );
});

test('round trips: Sync with Add, Change, Delete and Fetch of contacts and calendar items', () => {
  const request = as('Sync',
    as('Collections',
      as('Collection', as('SyncKey', '4'), as('CollectionId', 'c1'), as('DeletesAsMoves', '0'), as('GetChanges'),
        as('WindowSize', '100'),
        as('Options', as('FilterType', '0'), asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '32768'))),
        as('Commands',
          as('Add', as('ClientId', 'n-1'),
            as('ApplicationData',
              contacts('FirstName', 'Zoë'), contacts('LastName', "O'Brien"), contacts('Email1Address', '"Zoë" <z@example.org>'),
              contacts('Categories', contacts('Category', 'Friends'), contacts('Category', 'VIP')),
              contacts('Picture', Buffer.from('not really a JPEG').toString('base64')),
              asb('Body', asb('Type', '1'), asb('Data', 'line one\r\nline two & <three>')))),
          as('Change', as('ServerId', 'c1:7'), as('ApplicationData', contacts('JobTitle', 'Engineer'))),
          as('Delete', as('ServerId', 'c1:8')),
          as('Fetch', as('ServerId', 'c1:9')))),
      as('Collection', as('SyncKey', '2'), as('CollectionId', 'k1'),
        as('Commands',
          as('Add', as('ClientId', 'n-2'),
            as('ApplicationData',
              cal('Timezone', 'xP///1cALgAgAEUAdQByAG8AcABlAA=='), cal('DtStamp', '20260101T120000Z'),
              cal('StartTime', '20260105T090000Z'), cal('EndTime', '20260105T100000Z'), cal('Subject', 'Stand-up'),
              cal('UID', 'a1b2@example.org'), cal('AllDayEvent', '0'), cal('Reminder', '10'),
              cal('Attendees', cal('Attendee', cal('Email', 'ann@example.org'), cal('Name', 'Ann'), cal('AttendeeType', '1'))),
              cal('Recurrence', cal('Type', '1'), cal('Interval', '1'), cal('DayOfWeek', '62')),
              cal('Exceptions', cal('Exception', cal('Deleted', '1'), cal('ExceptionStartTime', '20260107T090000Z'))),
              asb('Body', asb('Type', '1'), asb('Data', 'Daily'))))))));
  roundTrip(request);
  roundTrip(as('Sync', as('Collections', as('Collection', as('SyncKey', '5'), as('CollectionId', 'c1'), as('Status', '1'),
    as('Responses', as('Add', as('ClientId', 'n-1'), as('ServerId', 'c1:10'), as('Status', '1'))),
    as('MoreAvailable')))));
});

test('round trips: Ping, Provision and ItemOperations Fetch', () => {
  const ping = namespace('Ping');
  roundTrip(ping('Ping', ping('HeartbeatInterval', '480'),
    ping('Folders', ping('Folder', ping('Id', 'c1'), ping('Class', 'Contacts')), ping('Folder', ping('Id', 'k1'), ping('Class', 'Calendar')))));
  roundTrip(ping('Ping', ping('Status', '2'), ping('Folders', ping('Folder', 'c1'))));
  const prov = namespace('Provision');
  const settings = namespace('Settings');
  roundTrip(prov('Provision',
    settings('DeviceInformation', settings('Set', settings('Model', 'Pixel'), settings('OS', 'Android 15'))),
    prov('Policies', prov('Policy', prov('PolicyType', 'MS-EAS-Provisioning-WBXML')))));
  roundTrip(prov('Provision', prov('Status', '1'),
    prov('Policies', prov('Policy', prov('PolicyType', 'MS-EAS-Provisioning-WBXML'), prov('Status', '1'), prov('PolicyKey', '3942919513'),
      prov('Data', prov('EASProvisionDoc', prov('DevicePasswordEnabled', '0'), prov('AllowCamera', '1'), prov('AccountOnlyRemoteWipe', '0')))))));
  const io = namespace('ItemOperations');
  roundTrip(io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), as('CollectionId', 'c1'), as('ServerId', 'c1:7'),
    io('Options', asb('BodyPreference', asb('Type', '2'), asb('TruncationSize', '5120'), asb('AllOrNone', '0'))))));
  roundTrip(io('ItemOperations', io('Status', '1'), io('Response', io('Fetch', io('Status', '1'), as('ServerId', 'c1:7'), as('Class', 'Contacts'),
    io('Properties', contacts('FileAs', 'Funk, Don'), asb('Body', asb('Type', '2'), asb('Data', '<p>hi</p>')))))));
});

test('encoding switches code page only when it changes, and writes empty elements without the content flag', () => {
  const tree = as('Sync', asb('Body', asb('Type', '1')), asb('Truncated'), as('Status', '1'), as('GetChanges'));
  // Sync(45) SWITCH 17 Body(4A) Type(46) "1" END END Truncated(0D) SWITCH 0 Status(4E) "1" END GetChanges(13) END
  assert.deepEqual(encodeWbxml(tree), hex(`${header} 45 0011 4a 46 03${utf8('1')}00 01 01 0d 0000 4e 03${utf8('1')}00 01 13 01`));
  roundTrip(tree);
  // A redundant SWITCH_PAGE, and an empty element sent with the content flag, decode to the same tree.
  assert.deepEqual(decodeWbxml(hex(`${header} 0000 45 0000 53 01 01`)), as('Sync', as('GetChanges')));
});

test('STR_T references resolve against the string table; adjacent text pieces make one string', () => {
  const table = `${utf8('abc')}00${utf8('défg')}00`;
  const length = (table.length / 2).toString(16).padStart(2, '0');
  // SyncKey: STR_T 0; Status: STR_T 4, STR_I "x", ENTITY U+00E9, STR_T 7 (the tail of "défg")
  const doc = hex(`03 01 6a ${length} ${table} 45 4b 83 00 01 4e 83 04 03 ${utf8('x')} 00 02 81 69 83 07 01 01`);
  assert.deepEqual(decodeWbxml(doc), as('Sync', as('SyncKey', 'abc'), as('Status', 'défgxéfg')));
  refuses(hex(`03 01 6a ${length} ${table} 45 4b 83 0c 01 01`), /string table reference 12 is outside the 10-byte table/);
  // An entry that runs to the end of the table without a NUL.
  refuses(hex(`03 01 6a 03 ${utf8('abc')} 45 4b 83 00 01 01`), /string table reference 0/);
  refuses(hex(`03 01 6a 05 ${utf8('ab')} 45`), /string table of 5 bytes runs past the end at offset 4/);
});

test('OPAQUE data decodes to bytes and encodes back as OPAQUE', () => {
  const mime = namespace('ComposeMail');
  const binary = Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0]);
  const tree = mime('SendMail', mime('ClientId', '1'), mime('SaveInSentItems'), mime('Mime', binary));
  const bytes = encodeWbxml(tree);
  assert.deepEqual(bytes, hex(`${header} 0015 45 51 03 ${utf8('1')} 00 01 08 50 c3 06 000102feff00 01 01`));
  const decoded = decodeWbxml(Buffer.from(bytes)); // a Buffer, as HTTP bodies arrive
  assert.deepEqual(decoded, tree);
  const data = child(decoded, 'Mime')?.children[0];
  assert.ok(data instanceof Uint8Array && !Buffer.isBuffer(data), 'OPAQUE decodes to a plain Uint8Array copy');
  roundTrip(mime('SendMail', mime('Mime', new Uint8Array(0))));
  // A large OPAQUE needs a multi-byte length.
  roundTrip(mime('SendMail', mime('Mime', new Uint8Array(70_000).fill(7))));
  refuses(hex(`${header} 0015 45 50 c3 06 0001 01 01`), /OPAQUE data of 6 bytes runs past the end/);
  refuses(hex(`${header} 0015 45 50 c3 06 000102feff00 01 01`), /OPAQUE of 6 bytes exceeds the limit of 5 at offset 8/, { opaqueBytesMax: 5 });
  refuses(hex(`${header} c3 01 00`), /OPAQUE outside any element at offset 4/);
});

test('ENTITY adds one character; entities that are no character are refused', () => {
  assert.deepEqual(decodeWbxml(hex(`${header} 45 4b 02 41 02 87 80 00 01 01`)), as('Sync', as('SyncKey', 'A\u{1c000}')));
  refuses(hex(`${header} 45 4b 02 00 01 01`), /character entity 0 is not a character at offset 6/);
  refuses(hex(`${header} 45 4b 02 83 b0 00 01 01`), /character entity 55296 is not a character/);
});

test('the header: version, public identifier and charset are checked', () => {
  refuses(hex('02 01 6a 00 45 01'), /unsupported WBXML version 0x02, expected 0x03 \(WBXML 1.3\) at offset 0/);
  refuses(hex('03 00 6a 00 45 01'), /unsupported public identifier 0, expected 1 at offset 1/);
  refuses(hex('03 01 04 00 45 01'), /unsupported charset 4, only 106 \(UTF-8\) is supported at offset 2/);
  refuses(hex('03 01 83 74 00 45 01'), /unsupported charset 500/);
});

test('every truncation of a valid document is refused with an error naming what was expected', () => {
  const bytes = encodeWbxml(as('Sync', as('Collections', as('Collection', as('SyncKey', '1'), asb('Body', asb('Data', 'x')), as('Supported')))));
  for (let i = 0; i < bytes.length; i++) refuses(bytes.subarray(0, i), /^truncated document: /);
  refuses(hex(''), /truncated document: expected the WBXML version at offset 0/);
  refuses(hex(header), /truncated document: expected the root element at offset 4/);
  refuses(hex(`${header} 45 4b`), /truncated document: expected content or END of <SyncKey> at offset 6/);
  refuses(hex(`${header} 45 4b 03 ${utf8('abc')}`), /inline string has no terminating NUL at offset 6/);
  refuses(hex(`${header} 00`), /expected a code page number at offset 5/);
});

test('mb_u_int32: at most 5 bytes and 32 bits', () => {
  refuses(hex('03 80 80 80 80 80 01 6a 00 45 01'), /the public identifier is an mb_u_int32 longer than 5 bytes at offset 1/);
  refuses(hex('03 01 90 80 80 80 00 00 45 01'), /the charset does not fit in 32 bits at offset 2/);
  // The largest value, 2^32 - 1, is read as a number (and then refused as a charset).
  refuses(hex('03 01 8f ff ff ff 7f 00 45 01'), /unsupported charset 4294967295/);
  refuses(hex('03 01 6a 8f ff ff ff 7f 45 01'), /string table of 4294967295 bytes runs past the end/);
});

test('attributes, unknown tokens and pages, stray tokens and unsupported global tokens are refused', () => {
  refuses(hex(`${header} c5 01`), /tag 0xc5 carries attributes, which ActiveSync never uses at offset 4/);
  refuses(hex(`${header} 45 51 01`), /unknown tag token 0x11 in code page 0 \(AirSync\) at offset 5/);
  refuses(hex(`${header} 0003 45 01`), /unknown tag token 0x05 in code page 3 \(AirNotify\) at offset 6/);
  refuses(hex(`${header} 001a 45 01`), /unknown code page 26 at offset 5/);
  refuses(hex(`${header} 01`), /END with no open element at offset 4/);
  refuses(hex(`${header} 03 ${utf8('x')} 00 45 01`), /text outside any element at offset 4/);
  refuses(hex(`${header} 45 01 01`), /unexpected data after the root element at offset 6/);
  refuses(hex(`${header} 05 45 01`), /unexpected data after the root element at offset 5/);
  refuses(hex(`${header} 43 01`), /unsupported global token PI at offset 4/);
  refuses(hex(`${header} 45 04 00 01`), /unsupported global token LITERAL at offset 5/);
  refuses(hex(`${header} 45 c0 01`), /unsupported global token EXT_0 at offset 5/);
  refuses(hex(`${header} 45 4b 03 ff fe 00 01 01`), /invalid UTF-8 in the text of <SyncKey> at offset 6/);
});

test('limits: size, depth, node count and decoded text', () => {
  const nested = (depth: number): WbxmlElement => (depth === 1 ? as('Sync') : as('Sync', nested(depth - 1)));
  assert.deepEqual(decodeWbxml(encodeWbxml(nested(32))), nested(32));
  refuses(encodeWbxml(nested(33)), /elements nested deeper than 32 at offset 36/);
  refuses(encodeWbxml(nested(4)), /elements nested deeper than 3/, { depthMax: 3 });
  const flat = as('Sync', ...Array.from({ length: 10 }, () => as('Status')));
  refuses(encodeWbxml(flat), /more than 10 nodes \(elements, texts and opaque data\) at offset 14/, { nodesMax: 10 });
  assert.equal(children(decodeWbxml(encodeWbxml(flat), { nodesMax: 11 }), 'Status').length, 10);
  // Texts and OPAQUE data count too: each is an object in the tree, and OPAQUE of 0 bytes costs 2.
  const opaques = as('Sync', ...Array.from({ length: 10 }, () => new Uint8Array()));
  refuses(encodeWbxml(opaques), /more than 10 nodes/, { nodesMax: 10 });
  const texts = as('Sync', ...Array.from({ length: 5 }, () => as('SyncKey', '1')));
  refuses(encodeWbxml(texts), /more than 10 nodes/, { nodesMax: 10 });
  assert.equal(children(decodeWbxml(encodeWbxml(texts), { nodesMax: 11 }), 'SyncKey').length, 5);
  const doc = encodeWbxml(as('Sync', as('SyncKey', 'x'.repeat(100))));
  refuses(doc, new RegExp(`document of ${doc.length} bytes exceeds the limit of 100$`), { bytesMax: 100 });
  // A 40-byte string-table entry referenced 30 times would decode to more text than the document's size.
  const table = `${utf8('y'.repeat(39))}00`;
  const refs = Array.from({ length: 30 }, () => '83 00').join(' ');
  refuses(hex(`03 01 6a 28 ${table} 45 4b ${refs} 01 01`), /decoded text exceeds the document's own 108 bytes at offset 50/);
  // ... whatever bytesMax allows: a 1 KiB document cannot become 1 MiB of text.
  const many = Array.from({ length: 300 }, () => '83 00').join(' ');
  refuses(hex(`03 01 6a 28 ${table} 45 4b ${many} 01 01`), /decoded text exceeds the document's own 648 bytes/, { bytesMax: 16 * 1024 * 1024 });
  assert.equal(text(child(decodeWbxml(hex(`03 01 6a 28 ${table} 45 4b 83 00 01 01`)), 'SyncKey')), 'y'.repeat(39));
});

test('the default node limit: 100,000 nodes decode, one more is refused before the tree grows further', () => {
  const body = (n: number) => Buffer.concat([hex(`${header} 45`), Buffer.alloc(n - 1, 0x0e), hex('01')]); // Sync, then empty Status elements
  assert.equal(decodeWbxml(body(100_000)).children.length, 99_999);
  refuses(body(100_001), /more than 100000 nodes .* at offset 100004$/);
});

test('decoding is linear: a million text pieces and a 4 MiB string', () => {
  const pieces = Buffer.alloc(1_000_000 * 2, 0x02); // ENTITY tokens ...
  for (let i = 1; i < pieces.length; i += 2) pieces[i] = 0x61; // ... of 'a'
  const doc = Buffer.concat([hex(`${header} 45 4b`), pieces, hex('01 01')]);
  assert.equal(text(child(decodeWbxml(doc), 'SyncKey'))?.length, 1_000_000);
  const big = 'ü'.repeat(2 * 1024 * 1024);
  assert.equal(text(child(decodeWbxml(encodeWbxml(as('Sync', as('SyncKey', big)))), 'SyncKey')), big);
});

test('encoding sends characters XML 1.0 cannot carry as U+FFFD, so a stored NUL or ESC never fails an answer', () => {
  const stored = 'Team\u0000\u001bcalendar\u0007 \t\n\r\uFFFE\uFFFF \uD800 \u{1F600} ok';
  const decoded = text(child(decodeWbxml(encodeWbxml(fh('FolderSync', fh('DisplayName', stored)))), 'DisplayName'));
  assert.equal(decoded, 'Team\uFFFD\uFFFDcalendar\uFFFD \t\n\r\uFFFD\uFFFD \uFFFD \u{1F600} ok');
  // What a client turns it into is XML again.
  assert.doesNotThrow(() => fromXml(toXml(decodeWbxml(encodeWbxml(fh('FolderSync', fh('DisplayName', stored)))))));
});

test('encoding refuses unknown namespaces and unknown tags', () => {
  assert.throws(() => encodeWbxml(el('Nope', 'Sync')), /unknown namespace "Nope" of <Sync>/);
  assert.throws(() => encodeWbxml(as('Synchronize')), (err) => err instanceof WbxmlError && /unknown tag <Synchronize> in code page 0 \(AirSync\)/.test(err.message));
});

test('canonical trees: empty text is dropped and adjacent text merges', () => {
  assert.deepEqual(encodeWbxml(as('Sync', '')), encodeWbxml(as('Sync')));
  assert.deepEqual(decodeWbxml(encodeWbxml(as('Sync', as('SyncKey', 'a', 'b', ''), '', as('Status')))),
    as('Sync', as('SyncKey', 'ab'), as('Status')));
});

test('helpers: child, children, text and optional children in el', () => {
  const tree = as('Sync', as('SyncKey', '1', '2'), undefined, false, null, as('Status', '3'), as('Status', contacts('Status')));
  assert.equal(tree.children.length, 3);
  assert.equal(text(child(tree, 'SyncKey')), '12');
  assert.equal(text(child(tree, 'Missing')), undefined);
  assert.equal(children(tree, 'Status').length, 2);
  assert.equal(child(child(tree, 'Status', 'AirSync'), 'Status'), undefined);
  assert.equal(children(undefined, 'Status').length, 0);
});

test('toXml writes what wbxml2xml prints; fromXml reads it back', () => {
  const tree = as('Sync', as('Collections', as('Collection', as('SyncKey', '1'), as('GetChanges'),
    asb('Body', asb('Data', `a & b <c> "d" 'e'\r\n`)), namespace('GAL')('Picture', namespace('GAL')('Data', hex('00ff'))))));
  const xml = toXml(tree);
  assert.equal(xml,
    '<?xml version="1.0"?><!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">' +
    '<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>1</SyncKey><GetChanges/>' +
    '<Body xmlns="AirSyncBase:"><Data>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;&#13;\n</Data></Body>' +
    '<Picture xmlns="GAL:"><Data>AP8=</Data></Picture></Collection></Collections></Sync>');
  const back = fromXml(xml);
  assert.equal(text(child(child(child(child(back, 'Collections'), 'Collection'), 'Picture'), 'Data')), 'AP8=');
  // Microsoft's spelling, with prefixes and indentation, and libwbxml's "Gal:".
  assert.deepEqual(
    fromXml('<?xml version="1.0" encoding="utf-8"?>\n<Search xmlns="Search" xmlns:gal="Gal:">\n  <Store>\n    <gal:Alias> x </gal:Alias>\n  </Store>\n</Search>'),
    el('Search', 'Search', el('Search', 'Store', el('GAL', 'Alias', ' x '))));
  assert.throws(() => fromXml('<Sync xmlns="Other"/>'), /no ActiveSync code page/);
  assert.throws(() => fromXml('<!DOCTYPE x [<!ENTITY a "b">]><Sync xmlns="AirSync"/>'), /DOCTYPE is not allowed/);
});

// Random trees over the real code pages.
const tagged = codePages.filter((p) => p.tokens.size > 0);
const tagArb = fc.constantFrom(...tagged).chain((p) => fc.constantFrom(...p.tokens.keys()).map((name) => ({ ns: p.ns, name })));
// Text the encoder sends as it is: characters XML 1.0 can carry (the others become U+FFFD, tested above).
const textArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/u.test(s));
const bytesArb = fc.uint8Array({ maxLength: 40 });

/** Canonical children: no empty strings, never two strings in a row. */
function canonical(nodes: WbxmlNode[]): WbxmlNode[] {
  const out: WbxmlNode[] = [];
  for (const n of nodes) {
    const last = out[out.length - 1];
    if (typeof n === 'string' && typeof last === 'string') out[out.length - 1] = last + n;
    else out.push(n);
  }
  return out;
}

const { tree: treeArb } = fc.letrec<{ tree: WbxmlElement; node: WbxmlNode }>((tie) => ({
  tree: fc.record({ tag: tagArb, children: fc.array(tie('node'), { maxLength: 5 }) })
    .map(({ tag, children }) => ({ ...tag, children: canonical(children) })),
  node: fc.oneof({ maxDepth: 8, depthSize: 'small', withCrossShrink: true }, textArb, bytesArb, tie('tree')),
}));

test('property: random trees from the real code pages round-trip exactly', () => {
  fc.assert(fc.property(treeArb, (tree) => assert.deepEqual(decodeWbxml(encodeWbxml(tree)), tree)), { numRuns: 500 });
});

test('property: random element-or-text trees survive toXml and fromXml', () => {
  // What fromXml can express: an element holds elements or one non-blank text that XML 1.0 can carry.
  const xmlText = (s: string) => s.trim() !== '' && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s);
  const shaped = (e: WbxmlElement): WbxmlElement => {
    const elements = e.children.filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));
    const texts = e.children.filter((c): c is string => typeof c === 'string' && xmlText(c));
    return { ...e, children: elements.length > 0 ? elements.map(shaped) : texts.slice(0, 1) };
  };
  fc.assert(fc.property(treeArb.map(shaped), (tree) => assert.deepEqual(fromXml(toXml(tree)), tree)), { numRuns: 300 });
});

test('property: arbitrary bytes after a valid header only ever fail with WbxmlError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (body) => {
    try {
      decodeWbxml(Buffer.concat([hex(header), body]));
    } catch (err) {
      assert.ok(err instanceof WbxmlError, String(err));
    }
  }), { numRuns: 2000 });
});

test('the code pages: 0-25 in order, tokens 0x05-0x3F, names unique per page', () => {
  assert.deepEqual(codePages.map((p) => p.page), Array.from({ length: 26 }, (_, i) => i));
  for (const p of codePages) {
    assert.equal(codePageOf(p.ns), p);
    for (const [name, token] of p.tokens) {
      assert.ok(token >= 0x05 && token <= 0x3f);
      assert.equal(p.names[token], name);
    }
  }
  assert.equal(codePageOf('AirSyncBase')?.tokens.get('NativeBodyType'), 0x16);
  assert.equal(codePageOf('Find')?.tokens.get('Picture'), 0x22);
});
