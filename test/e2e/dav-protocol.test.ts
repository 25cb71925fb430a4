import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/**
 * CardDAV/CalDAV protocol details over raw HTTP (docs/dav.md): discovery from the server's root,
 * multiget hrefs with `@` and percent-encoded characters, DELETE of a whole collection (and what the
 * other sync points then see), the methods each resource allows, sync-collection's propstat and
 * sync-level, and error bodies that carry no internal messages.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

async function dav(method: string, path: string, options: { auth?: string; body?: string; depth?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/xml; charset=utf-8', ...(options.headers ?? {}) };
  if (options.auth !== undefined) headers.authorization = options.auth;
  if (options.depth !== undefined) headers.depth = options.depth;
  const res = await fetch(`${server.url}${path}`, { method, headers, redirect: 'manual', ...(options.body !== undefined ? { body: options.body } : {}) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const propfind = (...props: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop>${props.map((p) => `<${p}/>`).join('')}</d:prop></d:propfind>`;

/** Each `<response>` of a multistatus: its href (as written) and its inner XML. */
const responses = (xml: string) => [...xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)].map((m) => ({ href: /<d:href>([^<]*)<\/d:href>/.exec(m[1] as string)?.[1] ?? '', raw: m[1] as string }));
/** The hrefs inside a found property. */
const hrefsIn = (raw: string, prop: string) => [...(new RegExp(`<[a-z]+:${prop}>([\\s\\S]*?)</[a-z]+:${prop}>`).exec(raw)?.[1] ?? '').matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => m[1]);

// ---------------------------------------------------------------------------------------------------

test('discovery from the root: PROPFIND / answers in place with the principal and both home sets', async () => {
  const a = await newAccount(server);
  const principal = `/dav/principals/${a.accountName}/`;
  const home = `/dav/users/${a.accountName}/`;
  const body = propfind('d:current-user-principal', 'd:principal-URL', 'cal:calendar-home-set', 'card:addressbook-home-set', 'd:resourcetype');
  for (const path of ['/', '/dav/', principal]) {
    const res = await dav('PROPFIND', path, { auth: a.authorization, depth: '0', body });
    assert.equal(res.status, 207, `PROPFIND ${path}: ${res.status} ${res.text}`);
    const [only, ...rest] = responses(res.text);
    assert.equal(rest.length, 0);
    assert.equal(only?.href, path, 'the response names the resource asked for');
    assert.doesNotMatch(only?.raw ?? '', /404 Not Found/, `every property is found on ${path}: ${only?.raw}`);
    assert.deepEqual(hrefsIn(only?.raw ?? '', 'current-user-principal'), [principal]);
    assert.deepEqual(hrefsIn(only?.raw ?? '', 'principal-URL'), [principal]);
    assert.deepEqual(hrefsIn(only?.raw ?? '', 'calendar-home-set'), [home]);
    assert.deepEqual(hrefsIn(only?.raw ?? '', 'addressbook-home-set'), [home]);
  }
  // Without credentials the root asks for them, as /dav/ does.
  const anonymous = await dav('PROPFIND', '/', { depth: '0', body });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
  // The well-known paths and OPTIONS on / still redirect; GET / is not DAV.
  for (const [method, path] of [['PROPFIND', '/.well-known/caldav'], ['PROPFIND', '/.well-known/carddav'], ['OPTIONS', '/']] as const) {
    const res = await dav(method, path, { auth: a.authorization, depth: '0', body });
    assert.equal(res.status, 301, `${method} ${path}`);
    assert.equal(res.headers.get('location'), '/dav/');
  }
  const page = await fetch(`${server.url}/`);
  assert.notEqual(page.status, 401, 'GET / is the web app, which asks for no DAV credentials');
});

test('multiget finds its own hrefs when the path holds @ and percent-encoded characters, however the client encodes @', async () => {
  const user = await server.addUser('q.x@example.org');
  const book = `/dav/users/${user.accountName}/contacts/`;
  // Resource names `q%20@.vcf` and `q @.vcf`: one holds a literal "%20", the other a space.
  for (const [sent, uid] of [['q%2520@.vcf', 'percent'], ['q%20@.vcf', 'space']] as const) {
    const res = await dav('PUT', `${book}${sent}`, { auth: user.authorization, body: vcard(uid, uid), headers: { 'content-type': 'text/vcard', 'if-none-match': '*' } });
    assert.equal(res.status, 201, `PUT ${sent}: ${res.text}`);
  }
  const listing = await dav('PROPFIND', book, { auth: user.authorization, depth: '1', body: propfind('d:getetag') });
  const own = responses(listing.text)
    .map((r) => r.href)
    .filter((h) => h.endsWith('.vcf'))
    .sort();
  assert.deepEqual(own, ['/dav/users/q.x@example.org/contacts/q%20@.vcf', '/dav/users/q.x@example.org/contacts/q%2520@.vcf']);
  // The listed hrefs, the same with every @ percent-encoded (as Python's quote() writes them), and absolute.
  const variants = [...own, ...own.map((h) => h.replace(/@/g, '%40')), ...own.map((h) => `${server.url}${h}`)];
  const multiget = await dav('REPORT', book, {
    auth: user.authorization,
    depth: '1',
    body: `<?xml version="1.0" encoding="utf-8"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>${variants.map((h) => `<d:href>${h}</d:href>`).join('')}</card:addressbook-multiget>`,
  });
  assert.equal(multiget.status, 207);
  const got = responses(multiget.text);
  assert.equal(got.length, variants.length);
  for (const [i, r] of got.entries()) {
    assert.doesNotMatch(r.raw, /404 Not Found/, `${variants[i]} is found: ${r.raw}`);
    assert.equal(r.href, own[i % own.length], 'answered under the href the server lists');
    assert.match(r.raw, new RegExp(`UID:${i % 2 === 0 ? 'space' : 'percent'}`), `${variants[i]} names its own member`);
  }
});
