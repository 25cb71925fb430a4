import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsClearly } from './mapper-harness.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { bodyAfter, bodyFromEas, bodyToEas, cleanText, htmlToText, withReadableBody } from './body.js';

const as = namespace('AirSync');
const asb = namespace('AirSyncBase');

/** The Body's children as name → text. */
function parts(body: WbxmlElement | undefined): Record<string, string> {
  assert.ok(body, 'expected a Body');
  assert.equal(body.ns, 'AirSyncBase');
  assert.equal(body.name, 'Body');
  const out: Record<string, string> = {};
  for (const c of body.children) {
    assert.ok(typeof c === 'object' && !(c instanceof Uint8Array));
    out[c.name] = text(c);
  }
  return out;
}

/** The text bodyFromEas reads. */
const bodyText = (app: WbxmlElement) => bodyFromEas(app)?.text;

const htmlBody = (html: string) => as('ApplicationData', asb('Body', asb('Type', '2'), asb('Data', html)));

test('no text, no Body', () => {
  assert.equal(bodyToEas(undefined, undefined), undefined);
  assert.equal(bodyToEas({ text: '' }, { type: 1 }), undefined);
});

test('plain text goes whole as Type 1 with its size in UTF-8 bytes and CRLF line breaks', () => {
  const body = bodyToEas({ text: 'Grüße\nzweite Zeile' }, undefined);
  assert.deepEqual(parts(body), { Type: '1', EstimatedDataSize: String(Buffer.byteLength('Grüße\r\nzweite Zeile')), Data: 'Grüße\r\nzweite Zeile' });
  // The children come in the order MS-ASAIRS gives: Type, EstimatedDataSize, Truncated, Data.
  assert.deepEqual(body?.children.map((c) => (c as WbxmlElement).name), ['Type', 'EstimatedDataSize', 'Data']);
});

test('a client that prefers HTML (or RTF, MIME) still gets plain text, Type 1', () => {
  for (const type of [2, 3, 4]) assert.deepEqual(parts(bodyToEas({ text: 'a < b & c' }, { type })), { Type: '1', EstimatedDataSize: '9', Data: 'a < b & c' });
});

test('a TruncationSize larger than the body sends it whole', () => {
  assert.deepEqual(parts(bodyToEas({ text: 'hello' }, { type: 1, truncationSize: 5 })), { Type: '1', EstimatedDataSize: '5', Data: 'hello' });
});

test('truncation cuts at a UTF-8 character boundary and says so', () => {
  // é is 2 bytes, € 3, 😀 4 (a surrogate pair in UTF-16).
  const s = 'hé€😀!';
  const cases: Array<[number, string]> = [[0, ''], [1, 'h'], [2, 'h'], [3, 'hé'], [5, 'hé'], [6, 'hé€'], [9, 'hé€'], [10, 'hé€😀']];
  for (const [size, expected] of cases) {
    const p = parts(bodyToEas({ text: s }, { type: 1, truncationSize: size }));
    assert.equal(p['EstimatedDataSize'], '11', `size ${size}`);
    assert.equal(p['Truncated'], '1', `size ${size}`);
    assert.equal(p['Data'] ?? '', expected, `size ${size}`);
    assert.ok(Buffer.byteLength(p['Data'] ?? '') <= size);
  }
  const body = bodyToEas({ text: s }, { type: 1, truncationSize: 3 });
  assert.deepEqual(body?.children.map((c) => (c as WbxmlElement).name), ['Type', 'EstimatedDataSize', 'Truncated', 'Data']);
});

test('truncation never leaves half of a CRLF', () => {
  assert.equal(parts(bodyToEas({ text: 'a\nb' }, { type: 1, truncationSize: 2 }))['Data'], 'a');
});

test('what bodyToEas sends, bodyFromEas reads back (line breaks stored as LF)', () => {
  for (const s of ['one line', 'two\nlines', 'tabs\tand  spaces ', 'ünïcødé 😀\n\nend']) {
    assert.equal(bodyText(as('ApplicationData', bodyToEas({ text: s }, undefined) as WbxmlElement)), s);
  }
});

test('bodyFromEas: no Body, no Data or empty Data is no body', () => {
  assert.equal(bodyText(as('ApplicationData')), undefined);
  assert.equal(bodyText(as('ApplicationData', asb('Body', asb('Type', '1')))), undefined);
  assert.equal(bodyText(as('ApplicationData', asb('Body', asb('Type', '1'), asb('Data')))), undefined);
  // A Body in another namespace (protocol 2.5's Contacts:Body) is not the AirSyncBase one.
  assert.equal(bodyText(as('ApplicationData', namespace('Contacts')('Body', 'x'))), undefined);
});

test('bodyFromEas: plain text, with or without Type, CRLF and CR become LF, control characters go', () => {
  assert.equal(bodyText(as('ApplicationData', asb('Body', asb('Data', 'a\r\nb\rc\u0001d\u0000')))), 'a\nb\ncd');
  assert.equal(bodyText(as('ApplicationData', asb('Body', asb('Type', ' 1 '), asb('Data', 'x')))), 'x');
});

test('bodyFromEas: OPAQUE data is read as UTF-8', () => {
  const bytes = Uint8Array.from(Buffer.from('opaque ü', 'utf8'));
  assert.equal(bodyText(as('ApplicationData', asb('Body', asb('Type', '1'), asb('Data', bytes)))), 'opaque ü');
});

test('bodyFromEas: HTML is reduced to text', () => {
  const html = [
    '<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style></head>',
    '<body><!-- a comment --><p>Hello&nbsp;<b>World</b> &amp; friends</p>',
    '<div>Line&#10;two<br/>three<BR>four</div><script type="text/javascript">alert("<p>no</p>")</script>',
    '<p title="a > b">1 &lt; 2 &#x263A; &#128512; &bogus; &#0;</p></body></html>',
  ].join('\n');
  assert.equal(bodyText(htmlBody(html)), 'Hello\u00a0World & friends\nLine\ntwo\nthree\nfour\n1 < 2 ☺ 😀 &bogus; \ufffd');
});

test('htmlToText: stray "<", unterminated tags and comments, unclosed script', () => {
  assert.equal(htmlToText('a < b <3 c'), 'a < b <3 c');
  assert.equal(htmlToText('text <a href="x'), 'text');
  assert.equal(htmlToText('before <!-- never closed'), 'before');
  assert.equal(htmlToText('shown<script>hidden'), 'shown');
  assert.equal(htmlToText('<p>  spaced \n\n out  </p>\n\n\n<p>next</p>'), 'spaced out\nnext');
  assert.equal(htmlToText('a<br><br><br><br>b<div><div>c</div></div>'), 'a\n\nb\nc');
  assert.equal(htmlToText(''), '');
});

test('htmlToText takes linear time on hostile input', () => {
  const n = 200_000;
  const inputs = [
    '<'.repeat(n), '<a'.repeat(n), '<a "'.repeat(n), '<!--'.repeat(n), '&#'.repeat(n), '&amp'.repeat(n),
    ' \n'.repeat(n), '<br> '.repeat(n), '<script>'.repeat(n), '</p> '.repeat(n), `<p>${' '.repeat(n)}x`,
  ];
  for (const input of inputs) {
    const started = performance.now();
    htmlToText(input);
    const ms = performance.now() - started;
    assert.ok(ms < 1500, `${JSON.stringify(input.slice(0, 8))}… took ${ms.toFixed(0)} ms`);
  }
});

test('bodyFromEas reads RTF (rtf.ts) and refuses MIME and unknown types with a clear Error', () => {
  const body = (type: string, data = 'e1xydGYxIFx1ODgwND8geFxwYXIgeX0=') => as('ApplicationData', asb('Body', asb('Type', type), asb('Data', data)));
  assert.equal(bodyText(body('3')), '\u2264 x\ny', 'base64 of {\\rtf1 \\u8804? x\\par y}');
  throwsClearly(() => bodyText(body('4')), /Type 4 \(MIME\) is not supported/);
  throwsClearly(() => bodyText(body('9')), /unknown Type "9"/);
});

test('cleanText drops what an item cannot hold', () => {
  assert.equal(cleanText('a\u0007b\uffffc\ud800d\r\ne'), 'abcd\ne');
  assert.equal(cleanText('😀'), '😀');
});

test('a Body element built from a WBXML-like tree reads with child()', () => {
  const body = bodyToEas({ text: 'x' }, undefined);
  assert.equal(text(child(body, 'Data', 'AirSyncBase')), 'x');
});

// RTF bodies the server cannot read (issue 13 D5): kept as sent.

const rtfApp = (data: string | Uint8Array) => as('ApplicationData', asb('Body', asb('Type', '3'), asb('Data', data)));

test('bodyFromEas keeps an RTF body it cannot read as the client sent it (base64, white space dropped), never throwing', () => {
  assert.deepEqual(bodyFromEas(rtfApp('////')), { rtf: '////' });
  assert.deepEqual(bodyFromEas(rtfApp('bm90IGNvbXBy\r\nZXNzZWQgcnRm')), { rtf: 'bm90IGNvbXByZXNzZWQgcnRm' });
  // Not base64 at all: its bytes, as base64, so it is stored and sent back as RTF bodies travel.
  assert.deepEqual(bodyFromEas(rtfApp('not base64!')), { rtf: Buffer.from('not base64!').toString('base64') });
  assert.deepEqual(bodyFromEas(rtfApp(Uint8Array.from([0xff, 0xfe, 0x00]))), { rtf: '//4A' });
  // Too large to keep in an item (more than half of itemBytesMax): a clear Error here; the Sync command leaves it out first.
  throwsClearly(() => bodyFromEas(rtfApp('A'.repeat(600 * 1024))), /too large to keep/);
});

test('bodyToEas sends a kept RTF body as Type 3 to a client that asks for RTF, whole or not at all; others get the text or nothing', () => {
  assert.deepEqual(parts(bodyToEas({ rtf: '////' }, { type: 3 })), { Type: '3', EstimatedDataSize: '4', Data: '////' });
  assert.deepEqual(parts(bodyToEas({ text: 'old', rtf: '////' }, { type: 3 })), { Type: '3', EstimatedDataSize: '4', Data: '////' });
  assert.deepEqual(parts(bodyToEas({ rtf: '////' }, { type: 3, truncationSize: 3 })), { Type: '3', EstimatedDataSize: '4', Truncated: '1' });
  assert.deepEqual(parts(bodyToEas({ text: 'old', rtf: '////' }, { type: 1 })), { Type: '1', EstimatedDataSize: '3', Data: 'old' });
  assert.equal(bodyToEas({ rtf: '////' }, { type: 1 }), undefined);
  assert.equal(bodyToEas({ rtf: '////' }, undefined), undefined);
});

test('bodyAfter: a kept RTF body joins the text; a readable body that differs replaces both; the same text or none keeps both', () => {
  const kept = { text: 'note', rtf: '////' };
  assert.deepEqual(bodyAfter({ text: 'note' }, { rtf: '////' }), kept, 'an unreadable RTF body is kept beside the text');
  assert.deepEqual(bodyAfter(kept, { rtf: 'AAAA' }), { text: 'note', rtf: 'AAAA' });
  assert.equal(bodyAfter(kept, { rtf: '////' }), kept);
  assert.equal(bodyAfter(kept, { text: 'note' }), kept, 'the text the client was sent, back: nothing changes');
  const only = { rtf: '////' };
  assert.equal(bodyAfter(only, undefined), only, 'none keeps an RTF-only body');
  assert.equal(bodyAfter(only, { text: '' }), only);
  assert.deepEqual(bodyAfter(kept, { text: 'new' }), { text: 'new' }, 'a readable body replaces it');
  assert.equal(bodyAfter(kept, undefined), undefined, 'a cleared body clears both');
  assert.deepEqual(bodyAfter(undefined, { rtf: '////' }), only);
});

test('withReadableBody: RTF bodies of the item and of each Exception read once; unreadable ones kept, too large ones left out, each said', () => {
  const cal = namespace('Calendar');
  const rtf = (data: string) => asb('Body', asb('Type', '3'), asb('Data', data));
  const readable = Buffer.from('{\\rtf1 hi}').toString('base64');
  const app = as('ApplicationData', rtf(readable), cal('Exceptions',
    cal('Exception', cal('ExceptionStartTime', '20260301T090000Z'), rtf('////')),
    cal('Exception', cal('ExceptionStartTime', '20260308T090000Z'), rtf(readable)),
    cal('Exception', cal('ExceptionStartTime', '20260315T090000Z'), rtf('A'.repeat(600 * 1024)))));
  const { data, problem } = withReadableBody(app);
  assert.equal(bodyText(data), 'hi');
  const exceptions = (child(data, 'Exceptions', 'Calendar') as WbxmlElement).children as WbxmlElement[];
  assert.deepEqual(bodyFromEas(exceptions[0] as WbxmlElement), { rtf: '////' });
  assert.deepEqual(bodyFromEas(exceptions[1] as WbxmlElement), { text: 'hi' });
  assert.equal(child(exceptions[2], 'Body', 'AirSyncBase'), undefined, 'too large to keep: left out');
  assert.match(problem ?? '', /RTF body of an Exception could not be read .*kept as the client sent it.*RTF body of an Exception could not be read .*left out/);
  assert.equal(withReadableBody(as('ApplicationData', rtf(readable))).problem, undefined);
});
