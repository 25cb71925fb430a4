import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { limits } from '../core/limits.js';
import { errorBodySchema, updateCollectionSchema } from './collections.js';
import { syncRequestSchema, syncResponseSchema, type SyncRequest, type SyncResponse } from './sync.js';
import { decodeXml, encodeXml, parseXml, XmlDecodeError } from './xml.js';

const depth = 16;

test('decodeXml: a sync request becomes the value the schema validates', () => {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<sync>\n' +
    '  <version>1</version>\n' +
    '  <device><id>phone</id><name>My phone</name></device>\n' +
    '  <collections>\n' +
    '    <collectionId>c1</collectionId><syncKey> 4 </syncKey><windowSize>50</windowSize><getChanges>false</getChanges>\n' +
    '    <options><bodyBytesMax>100</bodyBytesMax><timeRange><start>2026-01-01T00:00:00Z</start><end>2026-02-01T00:00:00Z</end></timeRange></options>\n' +
    '    <commands><op>add</op><clientId>n1</clientId><data>BEGIN:VCARD</data></commands>\n' +
    '    <commands><op>change</op><serverId>s1</serverId><data>x</data></commands>\n' +
    '    <commands><op>delete</op><serverId>s2</serverId></commands>\n' +
    '    <commands><op>fetch</op><serverId>s3</serverId></commands>\n' +
    '    <tokens><from>1</from><to>4</to></tokens><tokens><from>7</from><to>7</to></tokens>\n' +
    '  </collections>\n' +
    '  <collections><collectionId>c2</collectionId><syncKey>0</syncKey></collections>\n' +
    '</sync>\n';
  const value = decodeXml(xml, 'sync', syncRequestSchema, depth);
  const expected: SyncRequest = {
    version: 1,
    device: { id: 'phone', name: 'My phone' },
    collections: [
      {
        collectionId: 'c1',
        syncKey: 4,
        windowSize: 50,
        getChanges: false,
        options: { bodyBytesMax: 100, timeRange: { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' } },
        commands: [
          { op: 'add', clientId: 'n1', data: 'BEGIN:VCARD' },
          { op: 'change', serverId: 's1', data: 'x' },
          { op: 'delete', serverId: 's2' },
          { op: 'fetch', serverId: 's3' },
        ],
        tokens: [
          { from: 1, to: 4 },
          { from: 7, to: 7 },
        ],
      },
      { collectionId: 'c2', syncKey: 0 },
    ],
  };
  assert.deepEqual(value, expected);
  assert.deepEqual(syncRequestSchema.parse(value), expected);
});

test('decodeXml: values that are not what the schema wants stay as text, so validation refuses them', () => {
  const value = decodeXml(
    '<sync><version>one</version><device><id>d</id></device><collections><collectionId>c</collectionId><syncKey>1e3</syncKey><getChanges>yes</getChanges></collections></sync>',
    'sync',
    syncRequestSchema,
    depth,
  ) as { version: unknown; collections: Array<{ syncKey: unknown; getChanges: unknown }> };
  assert.equal(value.version, 'one');
  assert.equal(value.collections[0]?.syncKey, '1e3');
  assert.equal(value.collections[0]?.getChanges, 'yes');
  assert.equal(syncRequestSchema.safeParse(value).success, false);
  // A command without its discriminator has nothing to pick a member by.
  const noOp = decodeXml(
    '<sync><version>1</version><device><id>d</id></device><collections><collectionId>c</collectionId><syncKey>1</syncKey><commands><serverId>s</serverId></commands></collections></sync>',
    'sync',
    syncRequestSchema,
    depth,
  );
  assert.equal(syncRequestSchema.safeParse(noOp).success, false);
});

test('encodeXml then decodeXml round-trips a response, with empty and repeated arrays', () => {
  const response: SyncResponse = {
    version: 1,
    status: 'ok',
    collections: [
      {
        collectionId: 'c1',
        status: 'ok',
        syncKey: 3,
        seq: 41,
        moreAvailable: true,
        commands: [
          { op: 'add', serverId: 's1', data: 'a & b < c > d "e" \'f\'', etag: 'e1' },
          { op: 'change', serverId: 's2', data: 'long', etag: 'e2', truncated: true, size: 1234 },
          { op: 'delete', serverId: 's3' },
        ],
        results: [{ index: 0, op: 'add', status: 'ok', clientId: 'n1', serverId: 's9', etag: 'e9' }],
        fetched: [],
        warning: 'reinitLoop',
      },
      { collectionId: 'c2', status: 'notFound', syncKey: 0, seq: 0, moreAvailable: false, commands: [], results: [], fetched: [], message: 'no such collection' },
    ],
  };
  const xml = encodeXml('syncResponse', response);
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<syncResponse>'));
  assert.ok(xml.includes('<data>a &amp; b &lt; c &gt; d &quot;e&quot; \'f\'</data>'));
  assert.equal((xml.match(/<commands>/g) ?? []).length, 3, 'one element per array entry');
  assert.ok(!xml.includes('<fetched>'), 'an empty array writes nothing');
  const decoded = decodeXml(xml, 'syncResponse', syncResponseSchema, depth);
  assert.deepEqual(syncResponseSchema.parse(decoded), response);
});

test('CR survives: written as &#13; and read back, while raw CRLF in the source is normalized by XML', () => {
  const data = 'BEGIN:VCARD\r\nFN:Zoë 😀\r\nEND:VCARD\r\n';
  const schema = z.object({ data: z.string() });
  const xml = encodeXml('item', { data });
  assert.ok(xml.includes('BEGIN:VCARD&#13;\nFN:Zoë 😀&#13;\n'));
  assert.ok(!xml.includes('\r'));
  assert.deepEqual(decodeXml(xml, 'item', schema, depth), { data });
  // Why the reference is needed: a literal CRLF reaches the application as LF.
  assert.deepEqual(decodeXml('<item><data>a\r\nb\rc</data></item>', 'item', schema, depth), { data: 'a\nb\nc' });
  // CDATA and references are text like any other.
  assert.deepEqual(decodeXml('<item><data><![CDATA[<x>&]]>&#x263A;&#13;</data></item>', 'item', schema, depth), { data: '<x>&☺\r' });
});

test('a DOCTYPE is refused outright, with or without entities', () => {
  const schema = z.object({ data: z.string() });
  const laughs = '<?xml version="1.0"?><!DOCTYPE item [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><item><data>&b;</data></item>';
  assert.throws(() => decodeXml(laughs, 'item', schema, depth), (err: unknown) => err instanceof XmlDecodeError && /DOCTYPE/.test(err.message));
  assert.throws(() => decodeXml('<!DOCTYPE item><item><data>x</data></item>', 'item', schema, depth), /DOCTYPE/);
  assert.throws(() => decodeXml('<!DOCTYPE item SYSTEM "http://example.com/x.dtd"><item/>', 'item', schema, depth), /DOCTYPE/);
  // No DTD, so no entity other than the five predefined ones exists.
  assert.throws(() => decodeXml('<item><data>&a;</data></item>', 'item', schema, depth), XmlDecodeError);
});

test('nesting is limited to depthMax elements', () => {
  const nested = (levels: number) => '<a>'.repeat(levels) + '</a>'.repeat(levels);
  assert.equal(parseXml(nested(3), 3).name, 'a');
  assert.throws(() => parseXml(nested(4), 3), (err: unknown) => err instanceof XmlDecodeError && /deeper than 3/.test(err.message));
  assert.doesNotThrow(() => parseXml(nested(depth), depth));
  assert.throws(() => parseXml(nested(depth + 1), depth), XmlDecodeError);
  // Siblings do not add depth.
  assert.doesNotThrow(() => parseXml(`<a>${'<b><c/></b>'.repeat(1000)}</a>`, 3));
  // A very deep document fails fast instead of building the whole tree.
  assert.throws(() => parseXml(nested(100_000), depth), XmlDecodeError);
});

test('a scalar element repeated is an error; unknown elements are ignored', () => {
  const schema = z.object({ a: z.string(), list: z.array(z.string()).optional(), obj: z.object({ b: z.string() }).optional() });
  assert.throws(
    () => decodeXml('<r><a>1</a><a>2</a></r>', 'r', schema, depth),
    (err: unknown) => err instanceof XmlDecodeError && /<a> appears more than once in <r>/.test(err.message),
  );
  assert.throws(() => decodeXml('<r><a>1</a><obj><b>x</b></obj><obj><b>y</b></obj></r>', 'r', schema, depth), XmlDecodeError);
  assert.throws(() => decodeXml('<r><a>1</a><obj><b>x</b><b>y</b></obj></r>', 'r', schema, depth), /<b> appears more than once in <obj>/);
  assert.deepEqual(decodeXml('<r><unknown><deep>x</deep></unknown><a>1</a><extra>2</extra><obj><b>x</b><c>?</c></obj></r>', 'r', schema, depth), {
    a: '1',
    obj: { b: 'x' },
  });
});

test('arrays: repeated elements in order, a missing required array is empty, a missing optional one absent', () => {
  const schema = z.object({ required: z.array(z.number()), optional: z.array(z.string()).optional() });
  assert.deepEqual(decodeXml('<r><required>3</required><optional>x</optional><required>1</required><required>2</required></r>', 'r', schema, depth), {
    required: [3, 1, 2],
    optional: ['x'],
  });
  assert.deepEqual(decodeXml('<r/>', 'r', schema, depth), { required: [] });
  const errorXml = encodeXml('error', { version: 1, status: 'unsupportedVersion', message: 'no', supportedVersions: [1, 2] });
  assert.deepEqual(errorBodySchema.parse(decodeXml(errorXml, 'error', errorBodySchema, depth)).supportedVersions, [1, 2]);
});

test('the wrong root, malformed input and an empty document are errors', () => {
  const schema = z.object({ a: z.string().optional() });
  assert.throws(() => decodeXml('<other><a>1</a></other>', 'r', schema, depth), /expected root element <r>, got <other>/);
  assert.throws(() => decodeXml('<r><a>1</r>', 'r', schema, depth), (err: unknown) => err instanceof XmlDecodeError && /malformed/.test(err.message));
  assert.throws(() => decodeXml('<r><a>1</a>', 'r', schema, depth), XmlDecodeError);
  assert.throws(() => decodeXml('<r/><r/>', 'r', schema, depth), XmlDecodeError);
  assert.throws(() => decodeXml('', 'r', schema, depth), XmlDecodeError);
  assert.throws(() => decodeXml('just text', 'r', schema, depth), XmlDecodeError);
  assert.throws(() => decodeXml('<r><a>&#1;</a></r>', 'r', schema, depth), XmlDecodeError, 'XML 1.0 cannot carry C0 controls');
});

test('an empty element clears a nullable field (JSON null); a non-nullable one stays an empty string', () => {
  const value = decodeXml(
    '<updateCollection><color/><description></description><displayName></displayName></updateCollection>',
    'updateCollection',
    updateCollectionSchema,
    depth,
  );
  assert.deepEqual(value, { color: null, description: null, displayName: '' });
  assert.ok(!updateCollectionSchema.safeParse(value).success, 'an empty displayName is still refused');
  const kept = decodeXml('<updateCollection><description> </description></updateCollection>', 'updateCollection', updateCollectionSchema, depth);
  assert.deepEqual(kept, { description: ' ' }, 'text, even blank, is a value');
});

test('a depth bomb stops at the bound at once, with or without namespaces; elements and attributes are capped', () => {
  // Reading on past the bound made saxes resolve each tag through every open tag: seconds for 1 MB.
  for (const namespaces of [false, true]) {
    const started = process.cpuUsage();
    assert.throws(() => parseXml(`<r xmlns="urn:x">${'<a>'.repeat(330_000)}`, depth, namespaces), /deeper than 16/);
    const { user, system } = process.cpuUsage(started);
    assert.ok((user + system) / 1000 < 500, `${(user + system) / 1000} ms of CPU`);
  }
  assert.doesNotThrow(() => parseXml(`<r>${'<a/>'.repeat(99)}</r>`, depth, true, 100));
  assert.throws(() => parseXml(`<r>${'<a/>'.repeat(100)}</r>`, depth, true, 100), /more than 100 XML elements/);
  const attrs = (n: number) => `<r ${Array.from({ length: n }, (_, i) => `a${i}="1"`).join(' ')}/>`;
  assert.equal(Object.keys(parseXml(attrs(limits.xmlAttributesPerElementMax), depth).attrs).length, limits.xmlAttributesPerElementMax);
  assert.throws(() => parseXml(attrs(limits.xmlAttributesPerElementMax + 1), depth), /more than 64 attributes/);
});

test('escapeText never writes a character XML cannot carry: stored controls, noncharacters and lone surrogates become U+FFFD', () => {
  const stored = 'a\u0000b\u001bc\ufffed\ud800e\udc00f\u{1F600}\t\n\r<&>"';
  const xml = encodeXml('item', { data: stored });
  assert.deepEqual(decodeXml(xml, 'item', z.object({ data: z.string() }), depth), { data: 'a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\u{1F600}\t\n\r<&>"' });
});

test('an element with more children than any message has is refused when the next one opens, before the rest is read', () => {
  const many = (n: number) => `<sync><version>1</version>${'<collections/>'.repeat(n)}</sync>`;
  assert.doesNotThrow(() => decodeXml(many(limits.bodyListItemsMax), 'sync', syncRequestSchema, depth));
  assert.throws(() => decodeXml(many(limits.bodyListItemsMax + 40), 'sync', syncRequestSchema, depth), /more than \d+ child elements in <sync>/);
  const started = process.cpuUsage();
  assert.throws(() => decodeXml(many(80_000) + 'x'.repeat(4_000_000), 'sync', syncRequestSchema, depth), XmlDecodeError);
  const { user, system } = process.cpuUsage(started);
  assert.ok((user + system) / 1000 < 200, `${(user + system) / 1000} ms of CPU`);
});
