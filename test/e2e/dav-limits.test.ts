import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import { parseXml, type XmlElement } from '../../src/protocol/xml.js';
import { lowestControl, serverSql } from '../support/database.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/**
 * CardDAV/CalDAV under hostile input, over raw HTTP against a real server (docs/dav.md § Limits):
 * requests that used to amplify (repeated or long property names), quadratic XML, per-item regular
 * expressions, control characters in names on every face, hrefs decoded twice, client data inside an
 * XML comment. Sizes, statuses and caps are asserted; the one CPU bound is far above the fixed cost and
 * far below what the old code took.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

type Account = Awaited<ReturnType<typeof newAccount>>;

interface Answer {
  status: number;
  text: string;
  bytes: number;
}

async function request(method: string, path: string, auth: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/xml; charset=utf-8' } : {}), ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  const buffer = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: buffer.toString('utf8'), bytes: buffer.length };
}

const ns = 'xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav"';
const contacts = (a: Account) => `/dav/users/${a.accountName}/contacts/`;

/** Every element of a well-formed document (parseXml throws if it is not). */
function elements(xml: string): XmlElement[] {
  const out: XmlElement[] = [];
  const stack = [parseXml(xml, 64, true)];
  while (stack.length > 0) {
    const el = stack.pop() as XmlElement;
    out.push(el);
    stack.push(...el.children);
  }
  return out;
}

/**
 * The raw (still percent-encoded) hrefs of one of our multistatus answers, whether it ends with a 507
 * number-of-matches-within-limits, and its sync-token. Read with regular expressions, linear and quick:
 * parsing 16 MB in this process (the server's) would hold the loop long enough to race keep-alive.
 */
function hrefsOf(xml: string): { hrefs: string[]; truncated: boolean; syncToken: string | undefined } {
  const responses = [...xml.matchAll(/<d:response>(.*?)<\/d:response>/gs)].map((m) => m[1] as string);
  const isLimit = (r: string) => r.includes('<d:status>HTTP/1.1 507 ') && r.includes('<d:number-of-matches-within-limits/>');
  const hrefs = responses.filter((r) => !isLimit(r)).map((r) => /<d:href>(.*?)<\/d:href>/.exec(r)?.[1] ?? '');
  return { hrefs, truncated: responses.some(isLimit), syncToken: /<d:sync-token>(.*?)<\/d:sync-token>/.exec(xml)?.[1] };
}

async function putCard(a: Account, name: string, data: string): Promise<Answer> {
  return request('PUT', `${contacts(a)}${name}`, a.authorization, data, { 'content-type': 'text/vcard; charset=utf-8' });
}

async function fillContacts(a: Account, count: number): Promise<void> {
  for (let i = 0; i < count; i++) assert.equal((await putCard(a, `c${i}.vcf`, vcard(`uid-${i}`, `Person ${i}`))).status, 201);
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// ---------------------------------------------------------------------------------------------------
// 1. PROPFIND amplification

test('PROPFIND: a property named 9,000 times is answered once per member; 35,000 elements are refused', async () => {
  const a = await newAccount(server);
  await fillContacts(a, 30);
  // 108 KB of one repeated property: the old answer repeated it 9,000 times for each of 31 responses (about 13 MB).
  const body = (times: number) => `<d:propfind ${ns}><d:prop>${'<d:getetag/>'.repeat(times)}</d:prop></d:propfind>`;
  const res = await request('PROPFIND', contacts(a), a.authorization, body(9000), { depth: '1' });
  assert.equal(res.status, 207, res.text.slice(0, 300));
  assert.equal(hrefsOf(res.text).hrefs.length, 31, 'the collection and its 30 members');
  assert.ok(res.bytes < 64 * 1024, `the answer names each property once per member: ${res.bytes} bytes`);
  // The 429 KB form of it (the old answer: 215 MB for a larger collection) is past the element cap.
  const big = await request('PROPFIND', contacts(a), a.authorization, body(35_000), { depth: '1' });
  assert.equal(big.status, 400);
  assert.match(big.text, /more than 10000 XML elements/);
});

test('PROPFIND: more distinct properties than the cap, or a namespace longer than the cap, is 413 before any work', async () => {
  const a = await newAccount(server);
  const many = `<d:propfind ${ns} xmlns:x="urn:x"><d:prop>${Array.from({ length: 5000 }, (_, i) => `<x:p${i}/>`).join('')}</d:prop></d:propfind>`;
  const res = await request('PROPFIND', contacts(a), a.authorization, many, { depth: '1' });
  assert.equal(res.status, 413, res.text.slice(0, 300));
  assert.match(res.text, /more than 100 properties/);
  // The long-namespace case: every unknown property is echoed with its namespace declared in place.
  const long = `<d:propfind ${ns} xmlns:x="urn:${'n'.repeat(100_000)}"><d:prop><x:a/><x:b/><x:c/><x:d/></d:prop></d:propfind>`;
  const res2 = await request('PROPFIND', contacts(a), a.authorization, long, { depth: '1' });
  assert.equal(res2.status, 413, res2.text.slice(0, 300));
  assert.match(res2.text, /longer than 256 characters/);
});

test('a multistatus past the byte cap ends with 507 number-of-matches-within-limits; sync-collection pages on to every member', async () => {
  const a = await newAccount(server);
  // 20 vCards of about 900 KB: 18 MB of address-data, more than the 16 MiB answer cap.
  const note = 'x'.repeat(900_000).replace(/(.{74})/g, '$1\r\n ');
  for (let i = 0; i < 20; i++) assert.equal((await putCard(a, `big${i}.vcf`, vcard(`big-${i}`, `Big ${i}`, `NOTE:${note}\r\n`))).status, 201);
  const propfind = await request('PROPFIND', contacts(a), a.authorization, `<d:propfind ${ns}><d:prop><d:getetag/><card:address-data/></d:prop></d:propfind>`, { depth: '1' });
  assert.equal(propfind.status, 207);
  assert.ok(propfind.bytes <= limits.davResponseBytesMax + 4096, `the answer is bounded: ${propfind.bytes}`);
  const listed = hrefsOf(propfind.text);
  assert.ok(listed.truncated, 'the truncated answer says so');
  assert.ok(listed.hrefs.length < 21 && listed.hrefs.length > 1);

  const seen = new Set<string>();
  let token = '';
  for (let page = 0; page < 10; page++) {
    const tokenXml = token === '' ? '<d:sync-token/>' : `<d:sync-token>${token}</d:sync-token>`;
    const body = `<d:sync-collection ${ns}>${tokenXml}<d:sync-level>1</d:sync-level><d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>`;
    const res = await request('REPORT', contacts(a), a.authorization, body);
    assert.equal(res.status, 207);
    assert.ok(res.bytes <= limits.davResponseBytesMax + 4096, `a page is bounded: ${res.bytes}`);
    const { hrefs, truncated, syncToken } = hrefsOf(res.text);
    for (const h of hrefs) {
      assert.ok(!seen.has(h), `${h} is reported once`);
      seen.add(h);
    }
    token = syncToken ?? '';
    if (!truncated) break;
  }
  assert.equal(seen.size, 20, 'following the tokens reports every member');
});

// ---------------------------------------------------------------------------------------------------
// 2. XML parsing

test('XML nested 330,000 deep is refused at the depth bound at once; element and attribute counts are capped', async () => {
  const a = await newAccount(server);
  const deep = `<propfind xmlns="DAV:">${'<a>'.repeat(330_000)}`;
  const before = cpuMs();
  const res = await request('PROPFIND', contacts(a), a.authorization, deep, { depth: '0' });
  const spent = cpuMs() - before;
  assert.equal(res.status, 400);
  assert.match(res.text, /nested deeper than 16/);
  // The old parser read on past the bound and resolved each tag's namespace through every open tag: seconds of CPU.
  assert.ok(spent < 1500, `a depth bomb costs little CPU: ${spent.toFixed(0)} ms (test and server together)`);

  const wide = `<d:propfind ${ns}>${'<d:x/>'.repeat(limits.davXmlElementsMax + 1)}</d:propfind>`;
  const res2 = await request('PROPFIND', contacts(a), a.authorization, wide, { depth: '0' });
  assert.equal(res2.status, 400);
  assert.match(res2.text, /more than 10000 XML elements/);

  const attributes = `<d:propfind ${ns} ${Array.from({ length: 1000 }, (_, i) => `a${i}="v"`).join(' ')}/>`;
  const res3 = await request('PROPFIND', contacts(a), a.authorization, attributes, { depth: '0' });
  assert.equal(res3.status, 400);
  assert.match(res3.text, /more than 64 attributes/);
});

// ---------------------------------------------------------------------------------------------------
// 3. Queries

test('addressbook-query matches plain text case-insensitively, and refuses more filters than the cap with 403 supported-filter', async () => {
  const a = await newAccount(server);
  assert.equal((await putCard(a, 'ann.vcf', vcard('ann', 'Ann', 'item1.EMAIL;TYPE=work:Ann.Example@Mail.test\r\n'))).status, 201);
  assert.equal((await putCard(a, 'bob.vcf', vcard('bob', 'Bob (.*)+', 'EMAIL:bob@mail.test\r\n'))).status, 201);
  const query = (filters: string, test = 'anyof') =>
    `<card:addressbook-query ${ns}><d:prop><d:getetag/></d:prop><card:filter test="${test}">${filters}</card:filter></card:addressbook-query>`;
  const match = (name: string, text: string, negate = false) =>
    `<card:prop-filter name="${name}"><card:text-match${negate ? ' negate-condition="yes"' : ''}>${text}</card:text-match></card:prop-filter>`;
  const found = async (body: string) => hrefsOf((await request('REPORT', contacts(a), a.authorization, body, { depth: '1' })).text).hrefs.map((h) => h.split('/').pop()).sort();
  assert.deepEqual(await found(query(match('EMAIL', 'ann.EXAMPLE@'))), ['ann.vcf'], 'a grouped property, case-insensitive');
  // Text is text: characters that mean something in a regular expression match themselves only.
  assert.deepEqual(await found(query(match('FN', '(.*)+'))), ['bob.vcf']);
  assert.deepEqual(await found(query(match('FN', 'b.b'))), []);
  assert.deepEqual(await found(query(match('EMAIL', 'mail.test') + match('FN', 'ann', true), 'allof')), ['bob.vcf']);

  const tooMany = query(Array.from({ length: 17 }, (_, i) => match('FN', `x${i}`)).join(''));
  const res = await request('REPORT', contacts(a), a.authorization, tooMany, { depth: '1' });
  assert.equal(res.status, 403);
  assert.ok(elements(res.text).some((e) => e.name === 'supported-filter' && e.ns === 'urn:ietf:params:xml:ns:carddav'), res.text);

  const hrefs = Array.from({ length: limits.davHrefsMax + 1 }, (_, i) => `<d:href>${contacts(a)}c${i}.vcf</d:href>`).join('');
  const multiget = await request('REPORT', contacts(a), a.authorization, `<card:addressbook-multiget ${ns}><d:prop><d:getetag/></d:prop>${hrefs}</card:addressbook-multiget>`);
  assert.equal(multiget.status, 413);
});

// ---------------------------------------------------------------------------------------------------
// 4. Control characters in names

test('control characters are refused in collection names, display names, descriptions, labels and device names on every face', async () => {
  const a = await newAccount(server);
  const json = (method: string, path: string, body: unknown) => request(method, path, a.authorization, JSON.stringify(body), { 'content-type': 'application/json' });
  assert.equal((await json('POST', '/api/v1/collections', { name: 'nul', kind: 'contacts', displayName: 'a\u0000b' })).status, 400);
  assert.equal((await json('POST', '/api/v1/collections', { name: 'esc', kind: 'events', description: '\u001b[31mred' })).status, 400);
  const ok = await json('POST', '/api/v1/collections', { name: 'fine', kind: 'events', displayName: 'Fine', description: 'line one\nline two\tand a tab' });
  assert.equal(ok.status, 201, ok.text);
  const id = JSON.parse(ok.text).collection?.id ?? JSON.parse(ok.text).id;
  assert.equal((await json('PATCH', `/api/v1/collections/${id}`, { displayName: 'x\u0085y' })).status, 400);
  assert.equal((await json('POST', '/api/v1/tokens', { label: 'phone\u0007' })).status, 400);
  const sync = (name: string) => json('POST', '/api/v1/sync', { version: 1, device: { id: 'dev1', name }, collections: [{ collectionId: a.contacts, syncKey: 0 }] });
  assert.equal((await sync('my phone')).status, 200);
  const badDevice = await sync('my\u001bphone');
  assert.equal(badDevice.status, 400, badDevice.text);

  // DAV: the URL name follows the collection-name rule; displayname and descriptions the name rule.
  const home = `/dav/users/${a.accountName}/`;
  const mkcol = (path: string, props = '') =>
    request('MKCOL', path, a.authorization, `<d:mkcol ${ns}><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>${props}</d:prop></d:set></d:mkcol>`);
  assert.equal((await mkcol(`${home}a%00b/`)).status, 403);
  assert.equal((await mkcol(`${home}a%1Bb/`)).status, 403);
  const badName = await mkcol(`${home}book1/`, '<d:displayname>Book\u009b1</d:displayname>');
  assert.equal(badName.status, 403);
  assert.ok(elements(badName.text).some((e) => e.name === 'mkcol-response'), badName.text);
  const proppatch = await request('PROPPATCH', `${home}calendar/`, a.authorization, `<d:propertyupdate ${ns}><d:set><d:prop><d:displayname>Cal\u0085</d:displayname></d:prop></d:set></d:propertyupdate>`);
  assert.equal(proppatch.status, 207);
  assert.match(proppatch.text, /403 Forbidden/);
  const listing = await request('PROPFIND', home, a.authorization, `<d:propfind ${ns}><d:prop><d:displayname/></d:prop></d:propfind>`, { depth: '1' });
  const names = hrefsOf(listing.text).hrefs;
  assert.ok(!names.some((h) => /a%00b|a%1Bb|book1/.test(h)), `nothing was made: ${names.join(' ')}`);
  assert.ok(!listing.text.includes('\u0085'), 'the refused display name was not stored');
});

test('a DAV client may name a collection with spaces, "@", "%" and accents: it is made, listed under its encoded href and used there', async () => {
  const a = await newAccount(server);
  const home = `/dav/users/${a.accountName}/`;
  const mkcol = (path: string) =>
    request('MKCOL', path, a.authorization, `<d:mkcol ${ns}><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>`);
  // vdirsyncer's own test of special characters names its collection like this; "q%20@" holds a literal "%".
  for (const [segment, name] of [['test%20@%20foo%20%C3%A4t%20bar-1', 'test @ foo ät bar-1'], ['q%2520@', 'q%20@']] as const) {
    const made = await mkcol(`${home}${segment}/`);
    assert.equal(made.status, 201, made.text);
    const listing = await request('PROPFIND', home, a.authorization, `<d:propfind ${ns}><d:prop><d:displayname/></d:prop></d:propfind>`, { depth: '1' });
    assert.ok(hrefsOf(listing.text).hrefs.includes(`${home}${segment}/`), listing.text);
    const put = await request('PUT', `${home}${segment}/x.vcf`, a.authorization, vcard('special-1', 'Special Person'), { 'content-type': 'text/vcard' });
    assert.equal(put.status, 201, put.text);
    assert.equal((await request('GET', `${home}${segment}/x.vcf`, a.authorization)).status, 200);
    const native = await request('GET', '/api/v1/collections', a.authorization);
    assert.ok((JSON.parse(native.text) as { collections: Array<{ name: string }> }).collections.some((c) => c.name === name), native.text);
  }
  // "." and ".." are path steps, and a "/" cannot be in a path segment.
  const slash = await mkcol(`${home}a%2Fb/`);
  assert.notEqual(slash.status, 201, slash.text);
  assert.equal((await request('POST', '/api/v1/collections', a.authorization, JSON.stringify({ name: 'a/b', kind: 'contacts' }), { 'content-type': 'application/json' })).status, 400);
  assert.equal((await request('POST', '/api/v1/collections', a.authorization, JSON.stringify({ name: '..', kind: 'contacts' }), { 'content-type': 'application/json' })).status, 400);
  assert.equal((await request('POST', '/api/v1/collections', a.authorization, JSON.stringify({ name: 'x'.repeat(129), kind: 'contacts' }), { 'content-type': 'application/json' })).status, 400);
});

test('a name with control characters stored before the rule still gives well-formed DAV and native XML listings', async () => {
  const a = await newAccount(server);
  await serverSql(server, 'UPDATE collections SET display_name = ? WHERE account_id = ? AND name = ?', [`Old${lowestControl(server)}\u001bname\uffff`, a.accountId, 'contacts']);
  const dav = await request('PROPFIND', `/dav/users/${a.accountName}/`, a.authorization, `<d:propfind ${ns}><d:prop><d:displayname/></d:prop></d:propfind>`, { depth: '1' });
  assert.equal(dav.status, 207);
  assert.ok(elements(dav.text).some((e) => e.name === 'displayname' && e.text === 'Old\ufffd\ufffdname\ufffd'), dav.text);
  const native = await request('GET', '/api/v1/collections', a.authorization, undefined, { accept: 'application/xml' });
  assert.equal(native.status, 200);
  assert.ok(elements(native.text).some((e) => e.name === 'displayName' && e.text === 'Old\ufffd\ufffdname\ufffd'), native.text);
});

// ---------------------------------------------------------------------------------------------------
// 5. Names in URLs are decoded exactly once

test('hrefs are decoded exactly once: %41.vcf, %2541.vcf, A.vcf and "a b.vcf" are four resources, listed and deleted as themselves', async () => {
  const a = await newAccount(server);
  const names: Record<string, string> = { '%2541.vcf': 'pct41', '%252541.vcf': 'pct2541', 'A.vcf': 'plainA', 'a%20b.vcf': 'space', 'q%2520%40.vcf': 'q20at' };
  for (const [encoded, uid] of Object.entries(names)) assert.equal((await putCard(a, encoded, vcard(uid, uid))).status, 201, encoded);
  const listing = await request('PROPFIND', contacts(a), a.authorization, `<d:propfind ${ns}><d:prop><d:getetag/></d:prop></d:propfind>`, { depth: '1' });
  const listed = hrefsOf(listing.text).hrefs.map((h) => h.slice(contacts(a).length)).filter((h) => h !== '').sort();
  assert.deepEqual(listed, ['%252541.vcf', '%2541.vcf', 'A.vcf', 'a%20b.vcf', 'q%2520@.vcf'], 'each name is encoded once');
  // A multiget with the listed hrefs returns each resource's own data.
  const hrefs = listed.map((h) => `<d:href>${contacts(a)}${h}</d:href>`).join('');
  const multiget = await request('REPORT', contacts(a), a.authorization, `<card:addressbook-multiget ${ns}><d:prop><card:address-data/></d:prop>${hrefs}</card:addressbook-multiget>`);
  const byHref = new Map(
    elements(multiget.text)
      .filter((e) => e.name === 'response')
      .map((r) => [r.children.find((c) => c.name === 'href')?.text ?? '', /UID:(\w+)/.exec(JSON.stringify(r))?.[1]]),
  );
  assert.equal(byHref.get(`${contacts(a)}%2541.vcf`), 'pct41');
  assert.equal(byHref.get(`${contacts(a)}A.vcf`), 'plainA');
  assert.equal(byHref.get(`${contacts(a)}q%2520@.vcf`), 'q20at');
  // Deleting the listed href removes that resource and no other.
  assert.equal((await request('DELETE', `${contacts(a)}%2541.vcf`, a.authorization)).status, 204);
  assert.equal((await request('GET', `${contacts(a)}A.vcf`, a.authorization)).status, 200, 'A.vcf is still there');
  assert.equal((await request('GET', `${contacts(a)}%2541.vcf`, a.authorization)).status, 404);
  assert.equal((await request('GET', `${contacts(a)}%252541.vcf`, a.authorization)).status, 200);
});

// ---------------------------------------------------------------------------------------------------
// 6. Error bodies

test('a UID with "-->" stays text in the error body: no markup from the client reaches it', async () => {
  const a = await newAccount(server);
  const uid = 'x--->y<inject/><!--';
  assert.equal((await putCard(a, 'one.vcf', vcard(uid, 'One'))).status, 201);
  const res = await putCard(a, 'two.vcf', vcard(uid, 'Two'));
  assert.equal(res.status, 409);
  const all = elements(res.text);
  assert.ok(!all.some((e) => e.name === 'inject'), res.text);
  assert.ok(!res.text.includes('<!--'), 'no comment carries client data');
  assert.ok(all.some((e) => e.text.includes(uid)), 'the message names the UID as text');
});
