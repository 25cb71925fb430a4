import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsClearly } from './mapper-harness.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { bodyFromEas, bodyToEas, cleanText, htmlToText } from './body.js';

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

const htmlBody = (html: string) => as('ApplicationData', asb('Body', asb('Type', '2'), asb('Data', html)));

test('no text, no Body', () => {
  assert.equal(bodyToEas(undefined, undefined), undefined);
  assert.equal(bodyToEas('', { type: 1 }), undefined);
});

test('plain text goes whole as Type 1 with its size in UTF-8 bytes and CRLF line breaks', () => {
  const body = bodyToEas('Grüße\nzweite Zeile', undefined);
  assert.deepEqual(parts(body), { Type: '1', EstimatedDataSize: String(Buffer.byteLength('Grüße\r\nzweite Zeile')), Data: 'Grüße\r\nzweite Zeile' });
  // The children come in the order MS-ASAIRS gives: Type, EstimatedDataSize, Truncated, Data.
  assert.deepEqual(body?.children.map((c) => (c as WbxmlElement).name), ['Type', 'EstimatedDataSize', 'Data']);
});

test('a client that prefers HTML (or RTF, MIME) still gets plain text, Type 1', () => {
  for (const type of [2, 3, 4]) assert.deepEqual(parts(bodyToEas('a < b & c', { type })), { Type: '1', EstimatedDataSize: '9', Data: 'a < b & c' });
});

test('a TruncationSize larger than the body sends it whole', () => {
  assert.deepEqual(parts(bodyToEas('hello', { type: 1, truncationSize: 5 })), { Type: '1', EstimatedDataSize: '5', Data: 'hello' });
});

test('truncation cuts at a UTF-8 character boundary and says so', () => {
  // é is 2 bytes, € 3, 😀 4 (a surrogate pair in UTF-16).
  const s = 'hé€😀!';
  const cases: Array<[number, string]> = [[0, ''], [1, 'h'], [2, 'h'], [3, 'hé'], [5, 'hé'], [6, 'hé€'], [9, 'hé€'], [10, 'hé€😀']];
  for (const [size, expected] of cases) {
    const p = parts(bodyToEas(s, { type: 1, truncationSize: size }));
    assert.equal(p['EstimatedDataSize'], '11', `size ${size}`);
    assert.equal(p['Truncated'], '1', `size ${size}`);
    assert.equal(p['Data'] ?? '', expected, `size ${size}`);
    assert.ok(Buffer.byteLength(p['Data'] ?? '') <= size);
  }
  const body = bodyToEas(s, { type: 1, truncationSize: 3 });
  assert.deepEqual(body?.children.map((c) => (c as WbxmlElement).name), ['Type', 'EstimatedDataSize', 'Truncated', 'Data']);
});

test('truncation never leaves half of a CRLF', () => {
  assert.equal(parts(bodyToEas('a\nb', { type: 1, truncationSize: 2 }))['Data'], 'a');
});

test('what bodyToEas sends, bodyFromEas reads back (line breaks stored as LF)', () => {
  for (const s of ['one line', 'two\nlines', 'tabs\tand  spaces ', 'ünïcødé 😀\n\nend']) {
    assert.equal(bodyFromEas(as('ApplicationData', bodyToEas(s, undefined) as WbxmlElement)), s);
  }
});

test('bodyFromEas: no Body, no Data or empty Data is no body', () => {
  assert.equal(bodyFromEas(as('ApplicationData')), undefined);
  assert.equal(bodyFromEas(as('ApplicationData', asb('Body', asb('Type', '1')))), undefined);
  assert.equal(bodyFromEas(as('ApplicationData', asb('Body', asb('Type', '1'), asb('Data')))), undefined);
  // A Body in another namespace (protocol 2.5's Contacts:Body) is not the AirSyncBase one.
  assert.equal(bodyFromEas(as('ApplicationData', namespace('Contacts')('Body', 'x'))), undefined);
});

test('bodyFromEas: plain text, with or without Type, CRLF and CR become LF, control characters go', () => {
  assert.equal(bodyFromEas(as('ApplicationData', asb('Body', asb('Data', 'a\r\nb\rc\u0001d\u0000')))), 'a\nb\ncd');
  assert.equal(bodyFromEas(as('ApplicationData', asb('Body', asb('Type', ' 1 '), asb('Data', 'x')))), 'x');
});

test('bodyFromEas: OPAQUE data is read as UTF-8', () => {
  const bytes = Uint8Array.from(Buffer.from('opaque ü', 'utf8'));
  assert.equal(bodyFromEas(as('ApplicationData', asb('Body', asb('Type', '1'), asb('Data', bytes)))), 'opaque ü');
});

test('bodyFromEas: HTML is reduced to text', () => {
  const html = [
    '<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style></head>',
    '<body><!-- a comment --><p>Hello&nbsp;<b>World</b> &amp; friends</p>',
    '<div>Line&#10;two<br/>three<BR>four</div><script type="text/javascript">alert("<p>no</p>")</script>',
    '<p title="a > b">1 &lt; 2 &#x263A; &#128512; &bogus; &#0;</p></body></html>',
  ].join('\n');
  assert.equal(bodyFromEas(htmlBody(html)), 'Hello\u00a0World & friends\nLine\ntwo\nthree\nfour\n1 < 2 ☺ 😀 &bogus; \ufffd');
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

test('bodyFromEas reads RTF (rtf.ts) and refuses RTF it cannot read, MIME and unknown types with a clear Error', () => {
  const body = (type: string, data = 'e1xydGYxIFx1ODgwND8geFxwYXIgeX0=') => as('ApplicationData', asb('Body', asb('Type', type), asb('Data', data)));
  assert.equal(bodyFromEas(body('3')), '\u2264 x\ny', 'base64 of {\\rtf1 \\u8804? x\\par y}');
  throwsClearly(() => bodyFromEas(body('3', '////')), /compressed RTF/);
  throwsClearly(() => bodyFromEas(body('4')), /Type 4 \(MIME\) is not supported/);
  throwsClearly(() => bodyFromEas(body('9')), /unknown Type "9"/);
});

test('cleanText drops what an item cannot hold', () => {
  assert.equal(cleanText('a\u0007b\uffffc\ud800d\r\ne'), 'abcd\ne');
  assert.equal(cleanText('😀'), '😀');
});

test('a Body element built from a WBXML-like tree reads with child()', () => {
  const body = bodyToEas('x', undefined);
  assert.equal(text(child(body, 'Data', 'AirSyncBase')), 'x');
});
