import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { etagOf } from '../../src/content/etag.js';
import { limits } from '../../src/core/limits.js';
import { collectionListSchema } from '../../src/protocol/collections.js';
import { syncResponseSchema, type CollectionResponse } from '../../src/protocol/sync.js';
import { decodeXml } from '../../src/protocol/xml.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, collectionIds, Device, postRaw } from '../support/sync.js';

/** The XML encoding end to end, and gzip in both directions. */

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

/** Written out by hand here (not with the server's encoder): what an XML client would send. */
function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

function decodeResponse(text: string) {
  const parsed = syncResponseSchema.safeParse(decodeXml(text, 'syncResponse', syncResponseSchema, limits.xmlDepthMax));
  assert.ok(parsed.success, `not a valid syncResponse: ${text.slice(0, 500)}`);
  return parsed.data;
}

async function xmlSync(authorization: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await postRaw(`${server.url}/api/v1/sync`, authorization, body, { 'content-type': 'application/xml', ...headers });
  assert.equal(res.status, 200, res.text.slice(0, 500));
  assert.match(res.headers.get('content-type') ?? '', /^application\/xml; charset=utf-8$/);
  assert.ok(res.text.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));
  return { text: res.text, body: decodeResponse(res.text) };
}

const tricky = (uid: string) =>
  'BEGIN:VCARD\r\nVERSION:4.0\r\n' +
  `UID:${uid}\r\n` +
  'FN:Zoë Ångström-Øster 日本語 😀\r\n' +
  'N:Ångström-Øster;Zoë;;;\r\n' +
  'NOTE:Tom & Jerry <cat> "mouse" \'quote\' ]]> a\\, b\\nnext line\r\n' +
  'NOTE:folded line that goes on a\r\n  nd on, with a tab\there\r\n' +
  'ADR;TYPE=home:;;Große Straße 5;Zürich;;8000;Schweiz\r\n' +
  'END:VCARD\r\n';

test('an item with CRLF and non-ASCII text added over XML comes back byte for byte over XML and JSON', async () => {
  const { authorization } = await server.addUser('xml');
  const { contacts } = await collectionIds(server, authorization);
  assert.ok(contacts);
  const item = tricky('uid-tricky');
  assert.ok(item.includes('\r\n') && /[^\x00-\x7f]/.test(item));

  const add = await xmlSync(
    authorization,
    '<?xml version="1.0" encoding="UTF-8"?>\n<sync>\n  <version>1</version>\n  <device><id>xml-phone</id><name>Phone</name></device>\n' +
      `  <collections>\n    <collectionId>${contacts}</collectionId>\n    <syncKey>0</syncKey>\n` +
      `    <commands><op>add</op><clientId>local-1</clientId><data>${escapeXml(item)}</data></commands>\n` +
      '  </collections>\n</sync>\n',
  );
  const added = add.body.collections[0] as CollectionResponse;
  assert.equal(added.status, 'ok');
  assert.equal(added.syncKey, 1);
  assert.deepEqual(added.results.map((r) => [r.op, r.clientId, r.status]), [['add', 'local-1', 'ok']]);
  assert.equal(added.results[0]?.etag, etagOf(item), 'the etag is of exactly the bytes sent');
  const serverId = added.results[0]?.serverId as string;

  // Over JSON.
  const jsonReader = new Device(server, authorization, 'json-reader');
  await jsonReader.pull(contacts);
  assert.equal(jsonReader.view(contacts).get(serverId)?.data, item);
  assert.equal(jsonReader.view(contacts).get(serverId)?.etag, etagOf(item));

  // Over XML: a second device pulls, and also fetches it.
  const pull = await xmlSync(
    authorization,
    `<sync><version>1</version><device><id>xml-reader</id></device><collections><collectionId>${contacts}</collectionId>` +
      `<syncKey>0</syncKey><commands><op>fetch</op><serverId>${serverId}</serverId></commands></collections></sync>`,
  );
  const pulled = pull.body.collections[0] as CollectionResponse;
  assert.deepEqual(pulled.commands, [{ op: 'add', serverId, data: item, etag: etagOf(item) }]);
  assert.deepEqual(pulled.fetched, [{ serverId, data: item, etag: etagOf(item) }]);
  // CR travels as a character reference so XML end-of-line handling cannot eat it.
  assert.ok(pull.text.includes(`<data>${escapeXml(item).replace(/"/g, '&quot;')}</data>`), pull.text);
  assert.ok(!pull.text.includes('\r'), 'no raw CR in the XML');
});

test('an item added over JSON reads back identically over XML, including changes and deletes', async () => {
  const { authorization } = await server.addUser('xml2');
  const { contacts } = await collectionIds(server, authorization);
  assert.ok(contacts);
  const writer = new Device(server, authorization, 'json-writer');
  const r = await writer.sync(contacts, { commands: [add('a', tricky('uid-a')), add('b', vcard('uid-b', 'B'))] });
  const [a, b] = r.results.map((x) => x.serverId as string) as [string, string];

  const body = (key: number) =>
    `<sync><version>1</version><device><id>xml-dev</id></device><collections><collectionId>${contacts}</collectionId>` +
    `<syncKey>${key}</syncKey><windowSize>1</windowSize></collections></sync>`;
  const first = (await xmlSync(authorization, body(0))).body.collections[0] as CollectionResponse;
  assert.equal(first.moreAvailable, true);
  assert.deepEqual(first.commands, [{ op: 'add', serverId: a, data: tricky('uid-a'), etag: etagOf(tricky('uid-a')) }]);
  const second = (await xmlSync(authorization, body(1))).body.collections[0] as CollectionResponse;
  assert.equal(second.moreAvailable, false);
  assert.equal(second.syncKey, 2);
  assert.deepEqual(second.commands.map((c) => [c.op, c.serverId]), [['add', b]]);

  await writer.sync(contacts, { commands: [{ op: 'change', serverId: a, data: tricky('uid-a').replace('Zoë', 'Zoé') }, { op: 'delete', serverId: b }] });
  const third = (await xmlSync(authorization, body(2))).body.collections[0] as CollectionResponse;
  assert.equal(third.moreAvailable, true);
  assert.deepEqual(third.commands, [{ op: 'change', serverId: a, data: tricky('uid-a').replace('Zoë', 'Zoé'), etag: etagOf(tricky('uid-a').replace('Zoë', 'Zoé')) }]);
  const fourth = (await xmlSync(authorization, body(3))).body.collections[0] as CollectionResponse;
  assert.deepEqual(fourth.commands, [{ op: 'delete', serverId: b }]);
  assert.equal(fourth.moreAvailable, false);
});

test('gzip request bodies are accepted over JSON and XML', async () => {
  const { authorization } = await server.addUser('gzip-in');
  const { contacts } = await collectionIds(server, authorization);
  assert.ok(contacts);
  const jsonBody = JSON.stringify({
    version: 1,
    device: { id: 'gz-json' },
    collections: [{ collectionId: contacts, syncKey: 0, commands: [add('j', tricky('uid-j'))] }],
  });
  const res = await postRaw(`${server.url}/api/v1/sync`, authorization, gzipSync(jsonBody), {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(JSON.parse(res.text).collections[0].results[0].status, 'ok');

  const xmlBody =
    `<sync><version>1</version><device><id>gz-xml</id></device><collections><collectionId>${contacts}</collectionId>` +
    `<syncKey>0</syncKey><commands><op>add</op><clientId>x</clientId><data>${escapeXml(vcard('uid-x', 'Xavier'))}</data></commands></collections></sync>`;
  const xmlRes = await xmlSync(authorization, gzipSync(xmlBody), { 'content-encoding': 'gzip' });
  const collection = xmlRes.body.collections[0] as CollectionResponse;
  assert.deepEqual(collection.results.map((r) => r.status), ['ok']);
  // The XML device's pull included the JSON device's item, intact.
  assert.deepEqual(collection.commands.map((c) => (c.op === 'delete' ? null : c.data)), [tricky('uid-j')]);

  const reader = new Device(server, authorization, 'reader');
  await reader.pull(contacts);
  assert.deepEqual(Object.values(reader.snapshot(contacts)).sort(), [tricky('uid-j'), vcard('uid-x', 'Xavier')].sort());
});

/** A raw HTTP exchange, so the test sees the bytes on the wire (fetch would inflate them silently). */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('responses are gzipped when the client accepts gzip (and only then)', async () => {
  const { authorization } = await server.addUser('gzip-out');
  const { contacts } = await collectionIds(server, authorization);
  assert.ok(contacts);
  const writer = new Device(server, authorization, 'writer');
  await writer.sync(contacts, { commands: Array.from({ length: 20 }, (_, i) => add(`c${i}`, tricky(`uid-${i}`))) });

  for (const encoding of ['json', 'xml'] as const) {
    const body =
      encoding === 'json'
        ? JSON.stringify({ version: 1, device: { id: `r-${encoding}` }, collections: [{ collectionId: contacts, syncKey: 0 }] })
        : `<sync><version>1</version><device><id>r-${encoding}</id></device><collections><collectionId>${contacts}</collectionId><syncKey>0</syncKey></collections></sync>`;
    const headers = { authorization, 'content-type': `application/${encoding}` };
    const zipped = await rawPost(`${server.url}/api/v1/sync`, { ...headers, 'accept-encoding': 'gzip, deflate' }, body);
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(Number(zipped.headers['content-length']), zipped.bytes.length);
    assert.deepEqual([...zipped.bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
    const text = gunzipSync(zipped.bytes).toString('utf8');
    const parsed = encoding === 'json' ? syncResponseSchema.parse(JSON.parse(text)) : decodeResponse(text);
    assert.equal(parsed.collections[0]?.commands.length, 20);
    assert.ok(parsed.collections[0]?.commands.every((c) => c.op === 'add' && c.data.startsWith('BEGIN:VCARD\r\n')));

    // The same request again (a retry of key 0), without accept-encoding: plain bytes.
    const plain = await rawPost(`${server.url}/api/v1/sync`, headers, body);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    const plainParsed = encoding === 'json' ? syncResponseSchema.parse(JSON.parse(plain.bytes.toString('utf8'))) : decodeResponse(plain.bytes.toString('utf8'));
    assert.deepEqual(plainParsed.collections[0]?.commands, parsed.collections[0]?.commands);
  }
});

test('the collection list is served as XML when asked for', async () => {
  const { authorization } = await server.addUser('xml-list');
  const res = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization, accept: 'application/xml' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/xml/);
  const list = collectionListSchema.parse(decodeXml(await res.text(), 'collections', collectionListSchema, limits.xmlDepthMax));
  assert.deepEqual(list.collections.map((c) => c.kind).sort(), ['contacts', 'events', 'notes', 'tasks']);
  const created = await postRaw(`${server.url}/api/v1/collections`, authorization, '<createCollection><name>work</name><kind>events</kind><displayName>Work &amp; co</displayName></createCollection>', {
    'content-type': 'application/xml',
  });
  assert.equal(created.status, 201, created.text);
  assert.match(created.text, /<displayName>Work &amp; co<\/displayName>/);
});
