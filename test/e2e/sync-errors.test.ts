import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { limits } from '../../src/core/limits.js';
import { errorBodySchema } from '../../src/protocol/collections.js';
import { decodeXml } from '../../src/protocol/xml.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { accountSeq, add, collectionIds, Device, postRaw } from '../support/sync.js';

/**
 * Bad requests: each is refused with the right status, and nothing else is lost — the sending
 * device's key still works and the data already stored is intact.
 */

let server: TestServer;
let accountId: string;
let authorization: string;
let contacts: string;
let calendar: string;
let main: Device;
let expected: Record<string, string>;

before(async () => {
  server = await startTestServer();
  ({ accountId, authorization } = await server.addUser('errors'));
  ({ contacts, calendar } = (await collectionIds(server, authorization)) as { contacts: string; calendar: string });
  main = new Device(server, authorization, 'main');
  await main.sync(contacts, { commands: [add('a', vcard('uid-a', 'Alice')), add('b', vcard('uid-b', 'Bob')), add('c', vcard('uid-c', 'Carol'))] });
  await main.sync(calendar, { commands: [add('e', vevent('uid-e', 'Meeting'))] });
  // The first keyed exchange, which moves the key whatever it carries (docs/protocol.md §5.1): from here an idle one keeps it.
  await main.sync(contacts);
  expected = main.snapshot(contacts);
  assert.equal(Object.keys(expected).length, 3);
});
after(async () => {
  await server.stop();
});

const syncUrl = () => `${server.url}/api/v1/sync`;

/** A valid request from `main` with its current key and one Add that must not survive a refusal. */
function validRequest(extra: Record<string, unknown> = {}) {
  return {
    version: 1,
    device: { id: main.id },
    collections: [{ collectionId: contacts, syncKey: main.key(contacts), commands: [add('intruder', vcard('uid-intruder', 'Intruder'))], ...extra }],
  };
}

function xmlRequest(inner = '') {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><sync><version>1</version><device><id>${main.id}</id></device>` +
    `<collections><collectionId>${contacts}</collectionId><syncKey>${main.key(contacts)}</syncKey>${inner}</collections></sync>`
  );
}

let seqBefore = 0;
/** Run a bad request and check its refusal; then show the server lost nothing. */
async function refused(
  what: string,
  send: () => Promise<{ status: number; headers: Headers; text: string }>,
  httpStatus: number,
  status: string,
  encoding: 'json' | 'xml' = 'json',
) {
  seqBefore = await accountSeq(server, accountId);
  const res = await send();
  assert.equal(res.status, httpStatus, `${what}: ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', encoding === 'json' ? /^application\/json/ : /^application\/xml/, what);
  const body = encoding === 'json' ? JSON.parse(res.text) : decodeXml(res.text, 'error', errorBodySchema, limits.xmlDepthMax);
  const parsed = errorBodySchema.parse(body);
  assert.equal(parsed.status, status, `${what}: ${parsed.message}`);
  assert.equal(parsed.version, 1);
  assert.ok(parsed.message.length > 0);
  await intact(what);
  return parsed;
}

async function intact(what: string) {
  assert.equal(await accountSeq(server, accountId), seqBefore, `${what}: nothing was written`);
  const keyBefore = main.key(contacts);
  const r = await main.sync(contacts);
  assert.equal(r.status, 'ok', `${what}: the device's key still works`);
  assert.equal(r.syncKey, keyBefore, `${what}: an idle exchange keeps its key`);
  assert.deepEqual(r.commands, [], `${what}: no change appeared`);
  const fresh = new Device(server, authorization, `fresh-${Math.random().toString(36).slice(2)}`);
  await fresh.pull(contacts);
  assert.deepEqual(fresh.snapshot(contacts), expected, `${what}: prior data intact`);
  seqBefore = await accountSeq(server, accountId);
}

const json = (body: unknown, headers: Record<string, string> = {}) => () =>
  postRaw(syncUrl(), authorization, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json', ...headers });
const xml = (body: string) => () => postRaw(syncUrl(), authorization, body, { 'content-type': 'application/xml' });

test('malformed JSON is a 400 invalidRequest', async () => {
  await refused('truncated JSON', json(JSON.stringify(validRequest()).slice(0, -3)), 400, 'invalidRequest');
  await refused('not JSON at all', json('hello'), 400, 'invalidRequest');
  await refused('empty body', json(''), 400, 'invalidRequest');
});

test('malformed XML is a 400 invalidRequest', async () => {
  await refused('unclosed element', xml(xmlRequest().replace('</sync>', '')), 400, 'invalidRequest', 'xml');
  await refused('mismatched tags', xml(xmlRequest().replace('</device>', '</devise>')), 400, 'invalidRequest', 'xml');
  await refused('undefined entity', xml(xmlRequest().replace('<id>main</id>', '<id>&bogus;</id>')), 400, 'invalidRequest', 'xml');
  await refused('wrong root', xml(xmlRequest().replace(/<sync>/, '<syncResponse>').replace(/<\/sync>$/, '</syncResponse>')), 400, 'invalidRequest', 'xml');
  await refused('empty document', xml(''), 400, 'invalidRequest', 'xml');
});

test('XML with a DOCTYPE is refused, entities are never expanded', async () => {
  const laughs =
    '<?xml version="1.0"?><!DOCTYPE sync [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' +
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' +
    xmlRequest().replace('<?xml version="1.0" encoding="UTF-8"?>', '').replace(`<id>${'main'}</id>`, '<id>&c;</id>');
  const body = await refused('billion laughs', xml(laughs), 400, 'invalidRequest', 'xml');
  assert.match(body.message, /DOCTYPE/);
  const external = '<?xml version="1.0"?><!DOCTYPE sync SYSTEM "file:///etc/passwd">' + xmlRequest().replace('<?xml version="1.0" encoding="UTF-8"?>', '');
  await refused('external DTD', xml(external), 400, 'invalidRequest', 'xml');
});

test(`XML nested deeper than ${limits.xmlDepthMax} elements is refused; exactly ${limits.xmlDepthMax} is fine`, async () => {
  // <sync><device> is depth 2; unknown elements inside it are ignored but still count.
  const nest = (levels: number) => '<x>'.repeat(levels) + '</x>'.repeat(levels);
  const tooDeep = xmlRequest().replace('</device>', `${nest(limits.xmlDepthMax - 1)}</device>`);
  const body = await refused('too deep', xml(tooDeep), 400, 'invalidRequest', 'xml');
  assert.match(body.message, /nested deeper/);

  const deepest = xmlRequest().replace('</device>', `${nest(limits.xmlDepthMax - 2)}</device>`);
  const res = await xml(deepest)();
  assert.equal(res.status, 200, res.text);
  // Nothing to send and nothing new: an idle exchange, which keeps its key (docs/protocol.md §5.1). The answer says which.
  const key = Number(/<syncKey>(\d+)<\/syncKey>/.exec(res.text)?.[1]);
  assert.equal(key, main.key(contacts));
  main.keys.set(contacts, key);
  seqBefore = await accountSeq(server, accountId);
  await intact('deepest allowed');
});

test('wrong types and shapes are a 400 invalidRequest naming the field', async () => {
  const bad = validRequest();
  (bad.collections[0] as Record<string, unknown>).syncKey = 'abc';
  const body = await refused('syncKey "abc"', json(bad), 400, 'invalidRequest');
  assert.ok(body.issues?.some((i) => i.path === 'collections.0.syncKey'), JSON.stringify(body.issues));

  await refused('syncKey abc in XML', xml(xmlRequest().replace(/<syncKey>\d+<\/syncKey>/, '<syncKey>abc</syncKey>')), 400, 'invalidRequest', 'xml');
  await refused('negative key', json(validRequest({ syncKey: -1 })), 400, 'invalidRequest');
  await refused('fractional key', json(validRequest({ syncKey: 1.5 })), 400, 'invalidRequest');
  await refused('version as string', json({ ...validRequest(), version: '1' }), 400, 'invalidRequest');
  await refused('no collections', json({ ...validRequest(), collections: [] }), 400, 'invalidRequest');
  await refused('no device', json({ version: 1, collections: validRequest().collections }), 400, 'invalidRequest');
  await refused('commands not a list', json(validRequest({ commands: { op: 'add' } })), 400, 'invalidRequest');
  await refused('unknown op', json(validRequest({ commands: [{ op: 'explode', serverId: 'x' }] })), 400, 'invalidRequest');
  await refused('add without data', json(validRequest({ commands: [{ op: 'add', clientId: 'x' }] })), 400, 'invalidRequest');
  await refused('windowSize 0', json(validRequest({ windowSize: 0 })), 400, 'invalidRequest');
  await refused('JSON array body', json([validRequest()]), 400, 'invalidRequest');
  await refused('bad timeRange date', json(validRequest({ options: { timeRange: { start: 'yesterday', end: '2026-01-01T00:00:00Z' } } })), 400, 'invalidRequest');
});

test('an invalid body of any size gets a short error: the first issues, clipped, never the input echoed back', async () => {
  const errorBytesMax = 4096;
  const small = async (what: string, body: ReturnType<typeof json>, encoding: 'json' | 'xml' = 'json') => {
    const res = await body();
    assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 300)}`);
    assert.ok(res.text.length < errorBytesMax, `${what}: the error body is ${res.text.length} bytes`);
    seqBefore = await accountSeq(server, accountId);
    const parsed = errorBodySchema.parse(encoding === 'json' ? JSON.parse(res.text) : decodeXml(res.text, 'error', errorBodySchema, limits.xmlDepthMax));
    assert.equal(parsed.status, 'invalidRequest');
    assert.ok((parsed.issues?.length ?? 0) <= limits.errorIssuesMax, `${what}: ${parsed.issues?.length} issues`);
    await intact(what);
    return parsed;
  };
  // Finding: a 1 MB invalid collections array was answered with a 45 MB error listing every entry.
  const million = `{"version":1,"device":{"id":"${main.id}"},"collections":[${'1,'.repeat(500_000)}1]}`;
  assert.ok(million.length > 1_000_000);
  const capped = await small('1 MB collections array', json(million));
  assert.match(capped.message, new RegExp(`a list has more than ${limits.bodyListItemsMax} entries`));
  // Under the scan's bound, a list over its own cap is named by its path.
  const overCap = `{"version":1,"device":{"id":"${main.id}"},"collections":[${'1,'.repeat(limits.bodyListItemsMax - 1)}1]}`;
  assert.match((await small('1,000 collections', json(overCap))).message, /collections: .*at most 64/);
  // Nesting is bounded before parsing too.
  assert.match((await small('deep nesting', json(`{"version":1,"device":${'['.repeat(500_000)}${']'.repeat(500_000)}}`))).message, /nested deeper/);
  // Within every cap, but every one of 64,000 commands wrong: validation stops at the first issues.
  const everyCommandWrong = {
    version: 1,
    device: { id: main.id },
    collections: Array.from({ length: limits.collectionsPerRequestMax }, (_, i) => ({
      collectionId: i === 0 ? contacts : `c${i}`,
      syncKey: 0,
      commands: Array.from({ length: limits.commandsPerCollectionMax }, () => ({ op: 'add', clientId: 7, data: 'x'.repeat(8) })),
    })),
  };
  const stopped = await small('64,000 wrong commands', json(everyCommandWrong));
  assert.equal(stopped.issues?.length, limits.errorIssuesMax);
  assert.equal(stopped.issuesTruncated, true);
  assert.equal(stopped.issues?.[0]?.path, 'collections.0.commands.0.clientId');
  // A huge value where a short one belongs is named, not quoted.
  const longId = await small('a 1 MB device id', json({ ...validRequest(), device: { id: 'x'.repeat(1 << 20) } }));
  assert.equal(longId.issues?.[0]?.path, 'device.id');
  // Malformed JSON: the parser's message can quote the text; it is clipped.
  await small('malformed JSON quoting a long token', json(`{"version":1,"device":${'q'.repeat(1 << 20)}}`));
  // The same caps hold for XML, whose repeated elements become the lists: a list longer than any message
  // has stops the parse when its next element opens; a shorter one over its own cap is named by its path.
  const xmlCollections = (n: number) =>
    xmlRequest().replace(/<collections>.*<\/collections>/, '<collections><collectionId>x</collectionId><syncKey>0</syncKey></collections>'.repeat(n));
  const xmlStopped = await small('20,000 collections in XML', xml(xmlCollections(20_000)), 'xml');
  assert.match(xmlStopped.message, /more than \d+ child elements in <sync>/);
  const xmlCapped = await small('1,000 collections in XML', xml(xmlCollections(limits.bodyListItemsMax)), 'xml');
  assert.match(xmlCapped.message, /collections: .*at most 64/);
});

test('request-level limits: too many commands, a collection twice, a backwards time range — nothing committed', async () => {
  const many = Array.from({ length: limits.commandsPerCollectionMax + 1 }, (_, i) => add(`m${i}`, vcard(`uid-m${i}`, `M${i}`)));
  await refused('too many commands', json(validRequest({ commands: many })), 400, 'invalidRequest');
  // Adds and changes are counted over the whole request, before any item is read: one past the limit,
  // split over two collections, is a 413 the client answers with a smaller batch (docs/protocol.md §6).
  const items = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => add(`${prefix}${i}`, vcard(`uid-${prefix}${i}`, `${prefix.toUpperCase()}${i}`)));
  const overItems = validRequest({ commands: items(limits.itemsPerRequestMax - 10, 'o') });
  overItems.collections.push({ collectionId: calendar, syncKey: main.key(calendar), commands: Array.from({ length: 11 }, (_, i) => add(`oc${i}`, vevent(`uid-oc${i}`, `Over ${i}`))) });
  const tooManyItems = await refused('too many adds and changes in all collections', json(overItems), 413, 'bodyTooLarge');
  assert.match(tooManyItems.message, new RegExp(`carries ${limits.itemsPerRequestMax + 1} adds and changes; at most ${limits.itemsPerRequestMax}`));
  // Fetches are not items: the limit's worth of adds and a fetch besides fit one request (another account's, so this one's items stay as they are).
  const other = await server.addUser('items-fit');
  const otherContacts = (await collectionIds(server, other.authorization)).contacts as string;
  const filler = new Device(server, other.authorization, 'filler');
  await filler.sync(otherContacts);
  const full = await filler.sync(otherContacts, { commands: [...items(limits.itemsPerRequestMax, 'f'), { op: 'fetch', serverId: 'no-such-item' }] });
  assert.equal(full.results.filter((r) => r.status === 'ok').length, limits.itemsPerRequestMax);
  const twice = validRequest();
  twice.collections.push({ ...(twice.collections[0] as (typeof twice.collections)[0]) });
  await refused('collection twice', json(twice), 400, 'invalidRequest');
  const tooMany = { ...validRequest(), collections: Array.from({ length: limits.collectionsPerRequestMax + 1 }, (_, i) => ({ collectionId: `c${i}`, syncKey: 0 })) };
  await refused('too many collections', json(tooMany), 400, 'invalidRequest');
  // The contacts Add is valid, but the calendar part of the same request is not: the whole exchange rolls back.
  const mixed = validRequest();
  mixed.collections.push({
    collectionId: calendar,
    syncKey: main.key(calendar),
    options: { timeRange: { start: '2026-02-01T00:00:00Z', end: '2026-01-01T00:00:00Z' } },
  } as never);
  await refused('backwards time range', json(mixed), 400, 'invalidRequest');
  const cal = await main.sync(calendar);
  assert.equal(cal.syncKey, 2, 'the calendar key did not move either');
});

test('an unknown protocol version is a 400 unsupportedVersion listing the supported ones', async () => {
  const body = await refused('version 2', json({ ...validRequest(), version: 2 }), 400, 'unsupportedVersion');
  assert.deepEqual(body.supportedVersions, [1]);
  const x = await refused('version 0 in XML', xml(xmlRequest().replace('<version>1</version>', '<version>0</version>')), 400, 'unsupportedVersion', 'xml');
  assert.deepEqual(x.supportedVersions, [1]);
});

test('an oversized body is a 413 bodyTooLarge: declared, streamed, and a gzip bomb', async () => {
  // A syntactically valid request whose one item pads it past the limit.
  const padded = (bytes: number) => {
    const request = validRequest();
    const text = JSON.stringify(request);
    return text.replace('"commands":[', `"padding":"${' '.repeat(bytes - text.length)}","commands":[`);
  };
  const big = padded(limits.requestBytesMax + 1);
  assert.ok(Buffer.byteLength(big) > limits.requestBytesMax);
  await refused('declared length', json(big), 413, 'bodyTooLarge');

  await refused(
    'chunked, no length',
    async () => {
      const bytes = Buffer.from(big);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 1 << 20) controller.enqueue(new Uint8Array(bytes.subarray(i, i + (1 << 20))));
          controller.close();
        },
      });
      const res = await fetch(syncUrl(), {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      return { status: res.status, headers: res.headers, text: await res.text() };
    },
    413,
    'bodyTooLarge',
  );

  const bomb = gzipSync(Buffer.from(padded(limits.requestBytesMax + 1024)), { level: 9 });
  assert.ok(bomb.length < 100_000, 'small on the wire');
  await refused('gzip bomb', () => postRaw(syncUrl(), authorization, bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 413, 'bodyTooLarge');

  // Compressing 100 times or more is refused long before the size limit: 20 KB may not become 2 MB.
  const ratio = gzipSync(Buffer.from(padded(2 * limits.gzipInflatedBytesFree)));
  assert.ok(ratio.length * limits.gzipRatioMax < 2 * limits.gzipInflatedBytesFree);
  const refusedRatio = await refused('inflates over 100 times', () => postRaw(syncUrl(), authorization, ratio, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 413, 'bodyTooLarge');
  assert.match(refusedRatio.message, /inflates more than/);

  // Just under the limit after decoding is accepted, at the compression real data gets (base64 noise: about 1.3).
  const noise = randomBytes(((limits.requestBytesMax - 4096) * 3) / 4).toString('base64');
  const fits = gzipSync(Buffer.from(JSON.stringify(validRequest()).replace('"commands":[', `"padding":"${noise}","commands":[`)));
  const res = await postRaw(syncUrl(), authorization, fits, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  const accepted = JSON.parse(res.text);
  assert.equal(accepted.collections[0].results[0].status, 'ok');
  main.apply(contacts, validRequest().collections[0]?.commands ?? [], accepted.collections[0]);
  expected = main.snapshot(contacts);
  seqBefore = await accountSeq(server, accountId);
  await intact('after the accepted large body');
});

test('unsupported content types and encodings are a 415', async () => {
  const body = JSON.stringify(validRequest());
  await refused('text/plain', () => postRaw(syncUrl(), authorization, body, { 'content-type': 'text/plain' }), 415, 'unsupportedMediaType');
  await refused('form', () => postRaw(syncUrl(), authorization, body, { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupportedMediaType');
  await refused('brotli', () => postRaw(syncUrl(), authorization, body, { 'content-type': 'application/json', 'content-encoding': 'br' }), 415, 'unsupportedMediaType');
  await refused('not really gzip', () => postRaw(syncUrl(), authorization, body, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400, 'invalidRequest');
});

test('invalid vCard and iCalendar items fail alone with invalidItem; the request and other items succeed', async () => {
  const r = await main.sync(contacts, {
    commands: [
      add('garbage', 'this is not a vcard'),
      add('unclosed', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Open\r\n'),
      add('two', vcard('uid-t1', 'T1') + vcard('uid-t2', 'T2')),
      // Characters XML 1.0 cannot carry: accepted over JSON, no XML client could sync the collection again.
      add('xml-poison', vcard('uid-p', 'Poison \uffff')),
      add('lone-surrogate', vcard('uid-ls', 'Half \ud800 a pair')),
      add('good', vcard('uid-good', 'Good 😀')),
    ],
  });
  assert.deepEqual(
    r.results.map((res) => res.status),
    ['invalidItem', 'invalidItem', 'invalidItem', 'invalidItem', 'invalidItem', 'ok'],
  );
  const cal = await main.sync(calendar, {
    commands: [
      add('no-uid', vevent('', 'No UID')),
      add('bad-date', vevent('uid-bd', 'Bad date', 'tomorrow', '20260101T000000Z')),
      add('empty', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nEND:VCALENDAR\r\n'),
      add('mixed-uids', vevent('u1', 'A').replace('END:VCALENDAR\r\n', 'BEGIN:VEVENT\r\nUID:u2\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n')),
      add('fine', vevent('uid-fine', 'Fine')),
    ],
  });
  assert.deepEqual(
    cal.results.map((res) => res.status),
    ['invalidItem', 'invalidItem', 'invalidItem', 'invalidItem', 'ok'],
  );
  expected = main.snapshot(contacts);
  assert.equal(Object.keys(expected).length, 5);
  seqBefore = await accountSeq(server, accountId);
  await intact('after invalid items');
});

test('errors come back in the request’s encoding and unknown routes are 404', async () => {
  const res = await postRaw(`${server.url}/api/v1/nothing`, authorization, '{}', { 'content-type': 'application/json' });
  assert.equal(res.status, 404);
  assert.equal(JSON.parse(res.text).status, 'notFound');
  const outside = await fetch(`${server.url}/elsewhere`, { headers: { authorization } });
  assert.equal(outside.status, 404);
  seqBefore = await accountSeq(server, accountId);
  await intact('after 404s');
});
