import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { serverSql } from '../support/database.js';
import { sdkDevice, type SdkDevice } from '../support/push.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/**
 * CardDAV/CalDAV over raw HTTP, the way real clients talk: discovery as DAVx5 and iOS do it,
 * sync-collection with paging, bad and foreign tokens, deletes and re-creates, ETag preconditions,
 * byte-exact round trips, content checks, multiget and queries, account isolation, and DAV changes
 * meeting a native SDK device's changes.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

type Account = Awaited<ReturnType<typeof newAccount>>;

interface DavResponse {
  status: number;
  headers: Headers;
  text: string;
  url: string;
}

async function dav(
  method: string,
  path: string,
  options: { auth?: string | undefined; body?: string; depth?: string; headers?: Record<string, string>; redirect?: RequestRedirect } = {},
): Promise<DavResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.auth !== undefined) headers.authorization = options.auth;
  if (options.depth !== undefined) headers.depth = options.depth;
  if (options.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/xml; charset=utf-8';
  const res = await fetch(`${server.url}${path}`, { method, headers, redirect: options.redirect ?? 'follow', ...(options.body !== undefined ? { body: options.body } : {}) });
  return { status: res.status, headers: res.headers, text: await res.text(), url: res.url };
}

// ---------------------------------------------------------------------------------------------------
// Reading multistatus answers with regexes (no XML dependency).

const unescapeXml = (s: string) =>
  s
    .replace(/&#13;/g, '\r')
    .replace(/&#10;/g, '\n')
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

interface MsResponse {
  href: string;
  /** The whole-resource status line, when the response has one (a deleted member, a 507). */
  status: string | undefined;
  /** Inner XML of the <prop> under the 200 propstat ('' if none). */
  found: string;
  /** Inner XML of the <prop> under the 404 propstat ('' if none). */
  missing: string;
  raw: string;
}

const tag = (name: string) => `(?:[A-Za-z][\\w.-]*:)?${name}`;

function parseMultistatus(xml: string): { responses: MsResponse[]; syncToken: string | undefined } {
  assert.match(xml, new RegExp(`<${tag('multistatus')}[\\s>]`), `not a multistatus: ${xml}`);
  const responses: MsResponse[] = [];
  const responseRe = new RegExp(`<${tag('response')}>([\\s\\S]*?)</${tag('response')}>`, 'g');
  for (const m of xml.matchAll(responseRe)) {
    const raw = m[1] as string;
    const href = new RegExp(`<${tag('href')}>([\\s\\S]*?)</${tag('href')}>`).exec(raw)?.[1];
    assert.ok(href !== undefined, `a response without href: ${raw}`);
    const propstats = [...raw.matchAll(new RegExp(`<${tag('propstat')}>([\\s\\S]*?)</${tag('propstat')}>`, 'g'))].map((p) => p[1] as string);
    const outside = raw.replace(new RegExp(`<${tag('propstat')}>[\\s\\S]*?</${tag('propstat')}>`, 'g'), '');
    const status = new RegExp(`<${tag('status')}>([\\s\\S]*?)</${tag('status')}>`).exec(outside)?.[1];
    const propOf = (code: number) => {
      const ps = propstats.find((p) => new RegExp(`<${tag('status')}>HTTP/1\\.1 ${code} `).test(p));
      return ps ? (new RegExp(`<${tag('prop')}>([\\s\\S]*?)</${tag('prop')}>`).exec(ps)?.[1] ?? '') : '';
    };
    responses.push({ href: decodeURIComponent(unescapeXml(href)), status, found: propOf(200), missing: propOf(404), raw });
  }
  const rest = xml.replace(responseRe, '');
  const token = new RegExp(`<${tag('sync-token')}>([\\s\\S]*?)</${tag('sync-token')}>`).exec(rest)?.[1];
  return { responses, syncToken: token === undefined ? undefined : unescapeXml(token) };
}

/** The text of a property inside a prop XML fragment (unescaped), or undefined if absent. */
function propText(propXml: string, name: string): string | undefined {
  const m = new RegExp(`<${tag(name)}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag(name)}>)`).exec(propXml);
  return m ? unescapeXml(m[1] ?? '') : undefined;
}

const hasProp = (propXml: string, name: string) => propText(propXml, name) !== undefined;

function byHref(responses: MsResponse[]): Map<string, MsResponse> {
  const map = new Map<string, MsResponse>();
  for (const r of responses) {
    assert.ok(!map.has(r.href), `${r.href} is listed twice`);
    map.set(r.href, r);
  }
  return map;
}

const propfindBody = (...props: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:prop>${props.map((p) => `<${p}/>`).join('')}</d:prop></d:propfind>`;

function syncCollectionBody(token: string, limit?: number, props: string[] = ['d:getetag']): string {
  const limitXml = limit === undefined ? '' : `<d:limit><d:nresults>${limit}</d:nresults></d:limit>`;
  const tokenXml = token === '' ? '<d:sync-token/>' : `<d:sync-token>${token}</d:sync-token>`;
  return `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav">${tokenXml}<d:sync-level>1</d:sync-level>${limitXml}<d:prop>${props.map((p) => `<${p}/>`).join('')}</d:prop></d:sync-collection>`;
}

const home = (a: Account) => `/dav/users/${a.accountName}/`;
const principal = (a: Account) => `/dav/principals/${a.accountName}/`;
const collectionHref = (a: Account, name: string) => `${home(a)}${name}/`;
const tokenRe = (collectionId: string) => new RegExp(`^urn:syncpoint:sync:${collectionId}:(\\d+)(?::(\\d+))?$`);

async function syncCollection(a: Account, collection: string, token: string, limit?: number, props?: string[]) {
  const res = await dav('REPORT', collectionHref(a, collection), { auth: a.authorization, depth: '0', body: syncCollectionBody(token, limit, props) });
  assert.equal(res.status, 207, `sync-collection: ${res.status} ${res.text}`);
  const parsed = parseMultistatus(res.text);
  assert.ok(parsed.syncToken, `sync-collection answers carry a sync-token: ${res.text}`);
  return { ...parsed, syncToken: parsed.syncToken, text: res.text };
}

async function put(a: Account, path: string, data: string, headers: Record<string, string> = {}): Promise<DavResponse> {
  const contentType = path.endsWith('.vcf') ? 'text/vcard; charset=utf-8' : 'text/calendar; charset=utf-8';
  return dav('PUT', path, { auth: a.authorization, body: data, headers: { 'content-type': contentType, ...headers } });
}

async function putNew(a: Account, path: string, data: string): Promise<string> {
  const res = await put(a, path, data, { 'if-none-match': '*' });
  assert.equal(res.status, 201, `PUT ${path}: ${res.status} ${res.text}`);
  const etag = res.headers.get('etag');
  assert.ok(etag && /^"[^"]+"$/.test(etag), `a created resource has a strong ETag: ${etag}`);
  return etag;
}

async function ctagAndToken(a: Account, collection: string): Promise<{ ctag: string; token: string }> {
  const res = await dav('PROPFIND', collectionHref(a, collection), { auth: a.authorization, depth: '0', body: propfindBody('cs:getctag', 'd:sync-token') });
  assert.equal(res.status, 207);
  const { responses } = parseMultistatus(res.text);
  assert.equal(responses.length, 1, 'Depth 0 answers for the collection alone');
  const ctag = propText((responses[0] as MsResponse).found, 'getctag');
  const token = propText((responses[0] as MsResponse).found, 'sync-token');
  assert.ok(ctag && token, `getctag and sync-token: ${res.text}`);
  return { ctag, token };
}

// ---------------------------------------------------------------------------------------------------
// 1. Discovery

test('DAVx5 discovery: well-known redirect, current-user-principal, home sets, Depth 1 home listing', async () => {
  const a = await newAccount(server);

  for (const [wellKnown] of [['/.well-known/carddav'], ['/.well-known/caldav']] as const) {
    // The redirect itself, before following it.
    const raw = await dav('PROPFIND', wellKnown, { auth: a.authorization, depth: '0', body: propfindBody('d:current-user-principal'), redirect: 'manual' });
    assert.equal(raw.status, 301, `${wellKnown} redirects`);
    assert.equal(raw.headers.get('location'), '/dav/');
    // Unauthenticated too (DAVx5 probes before it sends credentials), and with a trailing slash.
    const anon = await dav('PROPFIND', `${wellKnown}/`, { depth: '0', redirect: 'manual' });
    assert.equal(anon.status, 301);
    assert.equal(anon.headers.get('location'), '/dav/');

    // Following it: the same PROPFIND reaches the DAV root and names the principal.
    const followed = await dav('PROPFIND', wellKnown, { auth: a.authorization, depth: '0', body: propfindBody('d:current-user-principal') });
    assert.equal(followed.status, 207, followed.text);
    assert.equal(new URL(followed.url).pathname, '/dav/');
    const { responses } = parseMultistatus(followed.text);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]?.href, '/dav/');
    assert.equal(propText(responses[0]?.found ?? '', 'current-user-principal')?.replace(/<[^>]+>/g, ''), principal(a));
  }

  // Unauthenticated PROPFIND on the root asks for Basic credentials.
  const unauth = await dav('PROPFIND', '/dav/', { depth: '0', body: propfindBody('d:current-user-principal') });
  assert.equal(unauth.status, 401);
  assert.match(unauth.headers.get('www-authenticate') ?? '', /^Basic /);

  // The principal: both home sets point at the home.
  const p = await dav('PROPFIND', principal(a), {
    auth: a.authorization,
    depth: '0',
    body: propfindBody('card:addressbook-home-set', 'cal:calendar-home-set', 'd:displayname', 'd:resourcetype', 'cal:calendar-user-address-set'),
  });
  assert.equal(p.status, 207, p.text);
  const pr = parseMultistatus(p.text).responses;
  assert.equal(pr.length, 1);
  assert.equal(pr[0]?.href, principal(a));
  const pFound = pr[0]?.found ?? '';
  assert.equal(propText(pFound, 'addressbook-home-set')?.replace(/<[^>]+>/g, ''), home(a));
  assert.equal(propText(pFound, 'calendar-home-set')?.replace(/<[^>]+>/g, ''), home(a));
  assert.equal(propText(pFound, 'displayname'), a.accountName);
  assert.ok(hasProp(propText(pFound, 'resourcetype') ?? '', 'principal'), 'the principal is a DAV:principal');
  assert.ok(hasProp(pr[0]?.missing ?? '', 'calendar-user-address-set'), 'an unknown property is reported under 404, not dropped');

  // The home, Depth 1: the home itself and one member per collection.
  const h = await dav('PROPFIND', home(a), {
    auth: a.authorization,
    depth: '1',
    body: propfindBody(
      'd:resourcetype',
      'd:displayname',
      'cal:supported-calendar-component-set',
      'cs:getctag',
      'd:sync-token',
      'd:supported-report-set',
      'card:supported-address-data',
      'd:current-user-privilege-set',
    ),
  });
  assert.equal(h.status, 207, h.text);
  const listing = byHref(parseMultistatus(h.text).responses);
  assert.deepEqual(
    [...listing.keys()].sort(),
    [home(a), collectionHref(a, 'calendar'), collectionHref(a, 'contacts'), collectionHref(a, 'notes'), collectionHref(a, 'tasks')].sort(),
  );

  const homeEntry = listing.get(home(a)) as MsResponse;
  const homeType = propText(homeEntry.found, 'resourcetype') ?? '';
  assert.ok(hasProp(homeType, 'collection') && !hasProp(homeType, 'addressbook') && !hasProp(homeType, 'calendar'), `the home is a plain collection: ${homeType}`);
  assert.ok(hasProp(homeEntry.missing, 'getctag') && hasProp(homeEntry.missing, 'sync-token'), 'the home has no ctag or sync-token');

  const expected = [
    { name: 'contacts', id: a.contacts, display: 'Contacts', type: 'addressbook', comp: undefined },
    { name: 'calendar', id: a.calendar, display: 'Calendar', type: 'calendar', comp: 'VEVENT' },
    { name: 'tasks', id: a.tasks, display: 'Tasks', type: 'calendar', comp: 'VTODO' },
    { name: 'notes', id: undefined, display: 'Notes', type: 'calendar', comp: 'VJOURNAL' },
  ];
  for (const c of expected) {
    const entry = listing.get(collectionHref(a, c.name)) as MsResponse;
    const type = propText(entry.found, 'resourcetype') ?? '';
    assert.ok(hasProp(type, 'collection') && hasProp(type, c.type), `${c.name} is a ${c.type}: ${type}`);
    assert.ok(!hasProp(type, c.type === 'calendar' ? 'addressbook' : 'calendar'), `${c.name} is not both kinds`);
    // The namespace of the kind element is the right one.
    if (c.type === 'addressbook') assert.match(entry.raw, /xmlns:card="urn:ietf:params:xml:ns:carddav"|<card:addressbook\/>/);
    assert.equal(propText(entry.found, 'displayname'), c.display);

    const comps = propText(entry.found, 'supported-calendar-component-set');
    if (c.comp === undefined) {
      assert.equal(comps, undefined, 'an address book has no calendar components');
      assert.ok(hasProp(entry.missing, 'supported-calendar-component-set'));
      assert.match(propText(entry.found, 'supported-address-data') ?? '', /content-type="text\/vcard"/);
    } else {
      assert.ok(comps !== undefined, `${c.name} lists its components`);
      const names = [...comps.matchAll(/<(?:\w+:)?comp\s+name="([^"]+)"/g)].map((m) => m[1]);
      assert.deepEqual(names, [c.comp], `${c.name} holds exactly ${c.comp}`);
      assert.ok(hasProp(entry.missing, 'supported-address-data'));
    }

    const ctag = propText(entry.found, 'getctag');
    const token = propText(entry.found, 'sync-token');
    assert.match(ctag ?? '', /^\d+$/, `${c.name} has a ctag`);
    assert.ok(token !== undefined);
    const m = /^urn:syncpoint:sync:([^:]+):(\d+)$/.exec(token);
    assert.ok(m, `${c.name} sync-token ${token}`);
    if (c.id !== undefined) assert.equal(m[1], c.id, 'the token names the collection');
    assert.equal(m[2], ctag, 'token position and ctag agree');

    const reports = propText(entry.found, 'supported-report-set') ?? '';
    assert.match(reports, /<(?:\w+:)?sync-collection\s*\/>/, `${c.name} supports sync-collection`);
    assert.match(reports, c.type === 'addressbook' ? /addressbook-multiget/ : /calendar-multiget/);
    assert.match(reports, c.type === 'addressbook' ? /addressbook-query/ : /calendar-query/);
    const privileges = propText(entry.found, 'current-user-privilege-set') ?? '';
    for (const p of ['read', 'write', 'bind', 'unbind']) assert.match(privileges, new RegExp(`<(?:\\w+:)?${p}\\s*/>`), `${c.name} grants ${p}`);
  }
  // Ids of two collections never coincide in their tokens.
  const tokens = expected.map((c) => propText((listing.get(collectionHref(a, c.name)) as MsResponse).found, 'sync-token')?.split(':')[3]);
  assert.equal(new Set(tokens).size, 4);
});

test('iOS discovery: well-known then PROPFIND Depth 0 on the root; OPTIONS names addressbook and calendar-access', async () => {
  const a = await newAccount(server);
  const iosRoot = propfindBody('d:current-user-principal', 'd:principal-URL', 'd:resourcetype');

  // iOS (accountsd) with only a host name: PROPFIND the well-known URI, Depth 0, and follow the redirect.
  for (const wellKnown of ['/.well-known/caldav', '/.well-known/carddav']) {
    const res = await dav('PROPFIND', wellKnown, { auth: a.authorization, depth: '0', body: iosRoot });
    assert.equal(res.status, 207, `${wellKnown}: ${res.status} ${res.text}`);
    assert.equal(new URL(res.url).pathname, '/dav/');
  }

  // The root itself, with and without the trailing slash (a server path typed by hand).
  for (const path of ['/dav/', '/dav']) {
    const root = await dav('PROPFIND', path, { auth: a.authorization, depth: '0', body: iosRoot });
    assert.equal(root.status, 207, root.text);
    const { responses } = parseMultistatus(root.text);
    assert.equal(responses.length, 1, 'Depth 0 lists the root only');
    assert.equal(responses[0]?.href, '/dav/');
    const found = responses[0]?.found ?? '';
    assert.equal(propText(found, 'current-user-principal')?.replace(/<[^>]+>/g, ''), principal(a));
    assert.equal(propText(found, 'principal-URL')?.replace(/<[^>]+>/g, ''), principal(a));
    assert.ok(hasProp(propText(found, 'resourcetype') ?? '', 'collection'));
  }

  // OPTIONS on the root, the principal it was sent to, the home and a collection: the DAV classes, and
  // the methods that work there (docs/dav.md § Methods).
  const collectionMethods = ['OPTIONS', 'PROPFIND', 'PROPPATCH', 'REPORT', 'DELETE'];
  for (const [path, methods] of [
    ['/dav/', ['OPTIONS', 'PROPFIND']],
    ['/dav', ['OPTIONS', 'PROPFIND']],
    [principal(a), ['OPTIONS', 'PROPFIND']],
    [home(a), ['OPTIONS', 'PROPFIND']],
    [collectionHref(a, 'calendar'), collectionMethods],
    [collectionHref(a, 'contacts'), collectionMethods],
  ] as const) {
    const options = await dav('OPTIONS', path, { auth: a.authorization });
    assert.equal(options.status, 200, `OPTIONS ${path}`);
    const classes = (options.headers.get('dav') ?? '').split(',').map((s) => s.trim());
    for (const cls of ['1', '3', 'addressbook', 'calendar-access']) assert.ok(classes.includes(cls), `OPTIONS ${path}: DAV header has ${cls}: ${classes.join(', ')}`);
    const allow = (options.headers.get('allow') ?? '').split(',').map((s) => s.trim());
    assert.deepEqual(allow.sort(), [...methods].sort(), `OPTIONS ${path}: Allow`);
  }

  // Then the principal, Depth 0, with the properties iOS asks for (unknown ones come back under 404).
  const p = await dav('PROPFIND', principal(a), {
    auth: a.authorization,
    depth: '0',
    body: propfindBody('cal:calendar-home-set', 'card:addressbook-home-set', 'd:current-user-principal', 'd:principal-URL', 'd:displayname', 'cs:email-address-set', 'd:principal-collection-set'),
  });
  assert.equal(p.status, 207);
  const pr = parseMultistatus(p.text).responses;
  assert.equal(pr.length, 1);
  const pFound = pr[0]?.found ?? '';
  assert.equal(propText(pFound, 'calendar-home-set')?.replace(/<[^>]+>/g, ''), home(a));
  assert.equal(propText(pFound, 'addressbook-home-set')?.replace(/<[^>]+>/g, ''), home(a));
  assert.equal(propText(pFound, 'principal-URL')?.replace(/<[^>]+>/g, ''), principal(a));
  assert.ok(hasProp(pr[0]?.missing ?? '', 'email-address-set'));

  // An empty PROPFIND body means allprop: the root still answers 207.
  const allprop = await dav('PROPFIND', '/dav/', { auth: a.authorization, depth: '0' });
  assert.equal(allprop.status, 207);
  assert.equal(parseMultistatus(allprop.text).responses.length, 1);
});

// ---------------------------------------------------------------------------------------------------
// 2. sync-collection

test('sync-collection: initial sync lists every member; limited pages (507) loop to each member exactly once', async () => {
  const a = await newAccount(server);
  const etags = new Map<string, string>();
  for (let i = 0; i < 7; i++) etags.set(`c${i}.vcf`, await putNew(a, `${collectionHref(a, 'contacts')}c${i}.vcf`, vcard(`sync-${i}`, `Person ${i}`)));
  // A deleted member never shows up in an initial sync.
  await putNew(a, `${collectionHref(a, 'contacts')}gone.vcf`, vcard('sync-gone', 'Gone'));
  assert.equal((await dav('DELETE', `${collectionHref(a, 'contacts')}gone.vcf`, { auth: a.authorization })).status, 204);

  const initial = await syncCollection(a, 'contacts', '');
  const members = byHref(initial.responses);
  assert.deepEqual([...members.keys()].sort(), [...etags.keys()].map((n) => `${collectionHref(a, 'contacts')}${n}`).sort());
  for (const [name, etag] of etags) {
    const r = members.get(`${collectionHref(a, 'contacts')}${name}`) as MsResponse;
    assert.equal(r.status, undefined, 'a present member has propstats, not a status');
    assert.equal(propText(r.found, 'getetag'), etag);
  }
  const full = initial.syncToken;
  // A Depth 1 PROPFIND (the listing clients without sync-collection poll) agrees.
  const listing = await dav('PROPFIND', collectionHref(a, 'contacts'), { auth: a.authorization, depth: '1', body: propfindBody('d:getetag', 'd:resourcetype') });
  assert.equal(listing.status, 207);
  const listed = byHref(parseMultistatus(listing.text).responses);
  assert.deepEqual([...listed.keys()].sort(), [collectionHref(a, 'contacts'), ...members.keys()].sort());
  for (const [href, r] of members) assert.equal(propText(listed.get(href)?.found ?? '', 'getetag'), propText(r.found, 'getetag'));
  assert.match(full, tokenRe(a.contacts));
  assert.equal(full, (await ctagAndToken(a, 'contacts')).token, 'the report token is the collection sync-token');

  // The same with a limit of 3: pages of at most 3, a 507 for the collection while more remain.
  const seen: string[] = [];
  let token = '';
  let pages = 0;
  let addedMidway = false;
  for (;;) {
    const page = await syncCollection(a, 'contacts', token, 3);
    pages++;
    assert.ok(pages < 20, 'paging ends');
    const truncated = page.responses.filter((r) => r.status !== undefined && / 507 /.test(r.status));
    const items = page.responses.filter((r) => !(r.status !== undefined && / 507 /.test(r.status)));
    assert.ok(items.length <= 3, `a page holds at most nresults members, got ${items.length}`);
    for (const r of items) {
      assert.equal(r.status, undefined, `no deletes in this initial sync: ${r.raw}`);
      seen.push(r.href);
    }
    assert.match(page.syncToken, tokenRe(a.contacts));
    token = page.syncToken;
    if (truncated.length === 0) break;
    assert.equal(truncated.length, 1);
    assert.equal(truncated[0]?.href, collectionHref(a, 'contacts'), 'the 507 names the collection');
    assert.equal(truncated[0]?.status, 'HTTP/1.1 507 Insufficient Storage');
    assert.equal(items.length, 3, 'a truncated page is full');
    if (!addedMidway) {
      // A member added while the client pages through arrives once, in a later page.
      etags.set('late.vcf', await putNew(a, `${collectionHref(a, 'contacts')}late.vcf`, vcard('sync-late', 'Late')));
      addedMidway = true;
    }
  }
  assert.ok(pages >= 3, `8 members in pages of 3 take at least 3 pages, took ${pages}`);
  assert.equal(seen.length, new Set(seen).size, `no member repeats: ${seen.join(' ')}`);
  assert.deepEqual(seen.sort(), [...etags.keys()].map((n) => `${collectionHref(a, 'contacts')}${n}`).sort(), 'no member is lost');
  assert.equal(token, (await ctagAndToken(a, 'contacts')).token, 'the last page brings the client to the collection token');

  // In step: nothing new, the same token back.
  const again = await syncCollection(a, 'contacts', token);
  assert.deepEqual(again.responses, []);
  assert.equal(again.syncToken, token);
  // The old full token now yields exactly the late member.
  const sinceFull = await syncCollection(a, 'contacts', full);
  assert.deepEqual(
    sinceFull.responses.map((r) => r.href),
    [`${collectionHref(a, 'contacts')}late.vcf`],
  );

  // An incremental sync in pages of 2: two deletes, two edits, two adds, each reported exactly once.
  const base = collectionHref(a, 'contacts');
  for (const n of ['c0.vcf', 'c1.vcf']) assert.equal((await dav('DELETE', `${base}${n}`, { auth: a.authorization })).status, 204);
  const changed = new Map<string, string>();
  for (const n of ['c2.vcf', 'c3.vcf']) {
    const res = await put(a, `${base}${n}`, vcard(`sync-${n[1]}`, `Person ${n[1]}, edited`), { 'if-match': etags.get(n) as string });
    assert.equal(res.status, 204);
    changed.set(`${base}${n}`, res.headers.get('etag') as string);
  }
  for (const n of ['n1.vcf', 'n2.vcf']) changed.set(`${base}${n}`, await putNew(a, `${base}${n}`, vcard(`sync-${n}`, n)));
  const removed: string[] = [];
  const present = new Map<string, string>();
  let incremental = token;
  for (let i = 0; ; i++) {
    assert.ok(i < 10, 'incremental paging ends');
    const page = await syncCollection(a, 'contacts', incremental, 2);
    incremental = page.syncToken;
    const more = page.responses.some((r) => r.href === base && r.status === 'HTTP/1.1 507 Insufficient Storage');
    const items = page.responses.filter((r) => r.href !== base);
    assert.ok(items.length <= 2);
    for (const r of items) {
      assert.ok(!removed.includes(r.href) && !present.has(r.href), `${r.href} is reported once`);
      if (r.status === 'HTTP/1.1 404 Not Found') removed.push(r.href);
      else {
        assert.equal(r.status, undefined, r.raw);
        present.set(r.href, propText(r.found, 'getetag') as string);
      }
    }
    if (!more) break;
  }
  assert.deepEqual(removed.sort(), [`${base}c0.vcf`, `${base}c1.vcf`]);
  assert.deepEqual(new Map([...present].sort()), new Map([...changed].sort()));
  assert.equal(incremental, (await ctagAndToken(a, 'contacts')).token);
});

test('sync-collection: made-up, malformed and foreign tokens get 403 valid-sync-token', async () => {
  const a = await newAccount(server);
  const b = await newAccount(server);
  await putNew(a, `${collectionHref(a, 'contacts')}x.vcf`, vcard('tok-x', 'X'));
  await putNew(a, `${collectionHref(a, 'calendar')}e.ics`, vevent('tok-e', 'E'));
  const calendarToken = (await syncCollection(a, 'calendar', '')).syncToken;
  const otherAccountToken = (await syncCollection(b, 'contacts', '')).syncToken;
  const contactsToken = (await syncCollection(a, 'contacts', '')).syncToken;

  const bad = [
    `urn:syncpoint:sync:${a.contacts}:999999`,
    `urn:syncpoint:sync:${a.contacts}:1:999999`,
    'urn:syncpoint:sync:garbage',
    `urn:syncpoint:sync:${a.contacts}:-1`,
    `urn:syncpoint:sync:${a.contacts}:12abc`,
    'http://example.com/ns/sync/1',
    calendarToken, // another collection of the same account
    otherAccountToken, // another account's collection of the same name
  ];
  for (const token of bad) {
    const res = await dav('REPORT', collectionHref(a, 'contacts'), { auth: a.authorization, depth: '0', body: syncCollectionBody(token) });
    assert.equal(res.status, 403, `${token}: ${res.status} ${res.text}`);
    assert.match(res.text, /<(?:\w+:)?error[\s>][\s\S]*<(?:\w+:)?valid-sync-token\s*\/>/, `${token}: body names valid-sync-token: ${res.text}`);
    assert.match(res.text, /xmlns:d="DAV:"/);
  }
  // The collection's own token still works.
  const ok = await syncCollection(a, 'contacts', contactsToken);
  assert.deepEqual(ok.responses, []);
});

test('sync-collection: a delete comes back as 404 Not Found; delete-then-recreate reports the new version', async () => {
  const a = await newAccount(server);
  const base = collectionHref(a, 'contacts');
  const keepEtag = await putNew(a, `${base}keep.vcf`, vcard('del-keep', 'Keep'));
  await putNew(a, `${base}drop.vcf`, vcard('del-drop', 'Drop'));
  await putNew(a, `${base}again.vcf`, vcard('del-again', 'Again'));
  const t0 = (await syncCollection(a, 'contacts', '')).syncToken;

  assert.equal((await dav('DELETE', `${base}drop.vcf`, { auth: a.authorization })).status, 204);
  const afterDelete = await syncCollection(a, 'contacts', t0, undefined, ['d:getetag', 'card:address-data']);
  assert.equal(afterDelete.responses.length, 1, afterDelete.text);
  const gone = afterDelete.responses[0] as MsResponse;
  assert.equal(gone.href, `${base}drop.vcf`);
  assert.equal(gone.status, 'HTTP/1.1 404 Not Found');
  assert.doesNotMatch(gone.raw, /propstat/, 'a removed member has a status, no properties');
  const t1 = afterDelete.syncToken;
  assert.notEqual(t1, t0);

  // Delete, then PUT again under the same name.
  assert.equal((await dav('DELETE', `${base}again.vcf`, { auth: a.authorization })).status, 204);
  assert.equal((await dav('GET', `${base}again.vcf`, { auth: a.authorization })).status, 404);
  const recreated = vcard('del-again', 'Again, reborn');
  const newEtag = await putNew(a, `${base}again.vcf`, recreated);
  for (const from of [t1, t0]) {
    const next = await syncCollection(a, 'contacts', from, undefined, ['d:getetag', 'card:address-data']);
    const entries = byHref(next.responses);
    const again = entries.get(`${base}again.vcf`);
    assert.ok(again, `the re-created member is listed (from ${from}): ${next.text}`);
    assert.equal(again.status, undefined, `the re-created member is not reported as removed: ${again.raw}`);
    assert.doesNotMatch(again.raw, /HTTP\/1\.1 404/, 'no 404 anywhere in the re-created member’s response');
    assert.equal(propText(again.found, 'getetag'), newEtag);
    assert.equal(propText(again.found, 'address-data'), recreated);
    assert.ok(!entries.has(`${base}keep.vcf`), 'an unchanged member is not listed');
    if (from === t0) assert.equal(entries.get(`${base}drop.vcf`)?.status, 'HTTP/1.1 404 Not Found');
    else assert.equal(entries.size, 1);
  }
  const get = await dav('GET', `${base}again.vcf`, { auth: a.authorization });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('etag'), newEtag);
  assert.equal(get.text, recreated);

  // A fresh initial sync lists the live members only.
  const fresh = await syncCollection(a, 'contacts', '');
  const members = byHref(fresh.responses);
  assert.deepEqual([...members.keys()].sort(), [`${base}again.vcf`, `${base}keep.vcf`]);
  assert.equal(propText(members.get(`${base}keep.vcf`)?.found ?? '', 'getetag'), keepEtag);
  assert.equal(propText(members.get(`${base}again.vcf`)?.found ?? '', 'getetag'), newEtag);
});

test('a device that held a resource hears of its delete after a DAV client deleted it, made it again under its name and deleted it again (sim seed 4000041)', async () => {
  const a = await newAccount(server);
  const book = collectionHref(a, 'contacts');
  const phone = a.device('phone');
  for (const name of ['given.vcf', 'kept-by-the-phone']) {
    // A name a DAV client gave, and the name an item the phone added has (its id and .vcf).
    let path = `${book}${name}`;
    if (name === 'given.vcf') await putNew(a, path, vcard(`again-${name}`, 'Again'));
    else {
      const added = await phone.sync(a.contacts, { commands: [{ op: 'add', clientId: 'c1', data: vcard(`again-${name}`, 'Again') }] });
      path = `${book}${added.results[0]?.serverId}.vcf`;
    }
    await phone.pull(a.contacts);
    const held = Object.keys(phone.snapshot(a.contacts));
    assert.equal(held.length, 1, 'the phone holds the resource');
    // The phone does not sync while a DAV client deletes the resource, makes it again, and deletes it again.
    assert.equal((await dav('DELETE', path, { auth: a.authorization })).status, 204);
    await putNew(a, path, vcard(`again-${name}`, 'Again, reborn'));
    assert.equal((await dav('DELETE', path, { auth: a.authorization })).status, 204);
    await phone.pull(a.contacts);
    assert.deepEqual(phone.snapshot(a.contacts), {}, `the phone holds nothing of ${path} any more`);
  }
});

test('getctag changes exactly when the sync-token changes', async () => {
  const a = await newAccount(server);
  const base = collectionHref(a, 'calendar');
  const s0 = await ctagAndToken(a, 'calendar');
  const check = (s: { ctag: string; token: string }) => assert.equal(s.token, `urn:syncpoint:sync:${a.calendar}:${s.ctag}`);
  check(s0);

  // Reads change nothing: PROPFIND at every depth, GET, reports.
  await dav('PROPFIND', base, { auth: a.authorization, depth: '1', body: propfindBody('d:getetag', 'cs:getctag') });
  await syncCollection(a, 'calendar', '');
  assert.deepEqual(await ctagAndToken(a, 'calendar'), s0);

  // A PUT changes both.
  const event = vevent('ctag-1', 'First');
  const etag = await putNew(a, `${base}one.ics`, event);
  const s1 = await ctagAndToken(a, 'calendar');
  check(s1);
  assert.notEqual(s1.ctag, s0.ctag);
  assert.notEqual(s1.token, s0.token);
  assert.deepEqual(await ctagAndToken(a, 'calendar'), s1, 'a second PROPFIND sees the same');
  await dav('GET', `${base}one.ics`, { auth: a.authorization });
  assert.deepEqual(await ctagAndToken(a, 'calendar'), s1, 'GET changes neither');

  // Writing the same bytes again is no change.
  const same = await put(a, `${base}one.ics`, event, { 'if-match': etag });
  assert.equal(same.status, 204);
  assert.equal(same.headers.get('etag'), etag);
  assert.deepEqual(await ctagAndToken(a, 'calendar'), s1, 'an identical PUT changes neither');

  // Refused writes change nothing.
  assert.equal((await put(a, `${base}one.ics`, vevent('ctag-1', 'Nope'), { 'if-match': '"stale"' })).status, 412);
  assert.equal((await put(a, `${base}todo.ics`, vevent('ctag-2', 'x').replace(/VEVENT/g, 'VTODO'))).status, 403);
  assert.deepEqual(await ctagAndToken(a, 'calendar'), s1, 'refused writes change neither');

  // A change in another collection changes neither here.
  await putNew(a, `${collectionHref(a, 'contacts')}p.vcf`, vcard('ctag-p', 'P'));
  assert.deepEqual(await ctagAndToken(a, 'calendar'), s1, 'another collection’s change changes neither');

  // An edit and a delete each change both.
  const edited = await put(a, `${base}one.ics`, vevent('ctag-1', 'Edited'), { 'if-match': etag });
  assert.equal(edited.status, 204);
  const s2 = await ctagAndToken(a, 'calendar');
  check(s2);
  assert.ok(s2.ctag !== s1.ctag && s2.token !== s1.token);
  assert.equal((await dav('DELETE', `${base}one.ics`, { auth: a.authorization })).status, 204);
  const s3 = await ctagAndToken(a, 'calendar');
  check(s3);
  assert.ok(s3.ctag !== s2.ctag && s3.token !== s2.token);
  // And each such token is what a sync-collection from the previous one ends at.
  assert.equal((await syncCollection(a, 'calendar', s2.token)).syncToken, s3.token);
});

test('sync-collection and multiget hrefs: names with spaces, @, + and non-ASCII are percent-encoded and accepted back', async () => {
  const a = await newAccount(server);
  const book = collectionHref(a, 'contacts');
  const names = ['with space.vcf', 'user@host.vcf', 'plus+sign.vcf', 'Ünïcødé.vcf', '4F9A1C2E-0D3B-4B7A-9E51-AB12CD34EF56.vcf'];
  const etags = new Map<string, string>();
  for (const [i, name] of names.entries()) etags.set(name, await putNew(a, `${book}${encodeURIComponent(name)}`, vcard(`enc-${i}`, `Encoded ${i}`)));

  const initial = await syncCollection(a, 'contacts', '');
  // Every href is a valid URI path: no raw spaces or non-ASCII.
  for (const m of initial.text.matchAll(/<d:href>([^<]*)<\/d:href>/g)) assert.match(m[1] as string, /^[\x21-\x7e]+$/, `href is percent-encoded: ${m[1]}`);
  const members = byHref(initial.responses);
  assert.deepEqual([...members.keys()].sort(), names.map((n) => `${book}${n}`).sort());
  for (const name of names) assert.equal(propText(members.get(`${book}${name}`)?.found ?? '', 'getetag'), etags.get(name));

  // The hrefs exactly as the server wrote them work for multiget and GET.
  const rawHrefs = [...initial.text.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => unescapeXml(m[1] as string));
  const multiget = await dav('REPORT', book, {
    auth: a.authorization,
    depth: '1',
    body: `<?xml version="1.0" encoding="utf-8"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop>${rawHrefs.map((h) => `<d:href>${h}</d:href>`).join('')}</card:addressbook-multiget>`,
  });
  assert.equal(multiget.status, 207);
  const got = byHref(parseMultistatus(multiget.text).responses);
  assert.deepEqual([...got.keys()].sort(), names.map((n) => `${book}${n}`).sort());
  for (const name of names) assert.equal(propText(got.get(`${book}${name}`)?.found ?? '', 'getetag'), etags.get(name), `multiget finds ${name}`);
  for (const href of rawHrefs) {
    const res = await dav('GET', href, { auth: a.authorization });
    assert.equal(res.status, 200, `GET ${href}`);
  }
  // An absolute URL in a multiget href names the same member.
  const absolute = await dav('REPORT', book, {
    auth: a.authorization,
    depth: '1',
    body: `<?xml version="1.0" encoding="utf-8"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><d:href>${server.url}${rawHrefs[0]}</d:href><d:href>${collectionHref(a, 'calendar')}x.ics</d:href></card:addressbook-multiget>`,
  });
  const abs = parseMultistatus(absolute.text).responses;
  assert.equal(abs.length, 2);
  assert.equal(abs[0]?.status, undefined, `an absolute href is understood: ${abs[0]?.raw}`);
  assert.equal(abs[1]?.status, 'HTTP/1.1 404 Not Found', 'an href outside the collection is not a member');
});

// ---------------------------------------------------------------------------------------------------
// 3. PUT / GET / DELETE

test('PUT/GET/DELETE: ETag preconditions, byte-exact round trip, content checks, UID conflicts', async () => {
  const a = await newAccount(server);
  const base = collectionHref(a, 'contacts');
  const card = vcard('rt-1', 'Zoë Ünïcode', 'X-CUSTOM-FIELD;X-PARAM=odd:keep me exactly \\, as is\r\nNOTE:line one\\nline two\r\nEMAIL;TYPE=work:zoe@example.org\r\n');
  assert.ok(card.includes('\r\n') && !/[^\r]\n/.test(card), 'the fixture has CRLF line ends only');

  const etag1 = await putNew(a, `${base}zoe.vcf`, card);
  const get1 = await fetch(`${server.url}${base}zoe.vcf`, { headers: { authorization: a.authorization } });
  assert.equal(get1.status, 200);
  assert.equal(get1.headers.get('etag'), etag1);
  assert.match(get1.headers.get('content-type') ?? '', /^text\/vcard/);
  assert.deepEqual(Buffer.from(await get1.arrayBuffer()), Buffer.from(card, 'utf8'), 'GET returns the uploaded bytes');

  // HEAD: same ETag, no body.
  const head = await fetch(`${server.url}${base}zoe.vcf`, { method: 'HEAD', headers: { authorization: a.authorization } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('etag'), etag1);

  // If-None-Match: * on an existing href.
  const exists = await put(a, `${base}zoe.vcf`, vcard('rt-1', 'Other'), { 'if-none-match': '*' });
  assert.equal(exists.status, 412);
  // A stale If-Match.
  const stale = await put(a, `${base}zoe.vcf`, vcard('rt-1', 'Other'), { 'if-match': '"not-the-etag"' });
  assert.equal(stale.status, 412);
  // If-Match on an href that does not exist.
  assert.equal((await put(a, `${base}nobody.vcf`, vcard('rt-none', 'None'), { 'if-match': etag1 })).status, 412);
  assert.equal((await dav('GET', `${base}nobody.vcf`, { auth: a.authorization })).status, 404);
  // Nothing changed.
  const still = await dav('GET', `${base}zoe.vcf`, { auth: a.authorization });
  assert.equal(still.text, card);
  assert.equal(still.headers.get('etag'), etag1);

  // The correct If-Match: 204 and a new ETag that GET agrees with.
  const card2 = card.replace('NOTE:line one', 'NOTE:line zero\\nline one');
  const ok = await put(a, `${base}zoe.vcf`, card2, { 'if-match': etag1 });
  assert.equal(ok.status, 204, ok.text);
  const etag2 = ok.headers.get('etag');
  assert.ok(etag2 && /^"[^"]+"$/.test(etag2));
  assert.notEqual(etag2, etag1);
  const get2 = await fetch(`${server.url}${base}zoe.vcf`, { headers: { authorization: a.authorization } });
  assert.equal(get2.headers.get('etag'), etag2);
  assert.deepEqual(Buffer.from(await get2.arrayBuffer()), Buffer.from(card2, 'utf8'));
  // The old ETag is now stale.
  assert.equal((await put(a, `${base}zoe.vcf`, card, { 'if-match': etag1 })).status, 412);
  // The PROPFIND getetag agrees.
  const pf = await dav('PROPFIND', `${base}zoe.vcf`, { auth: a.authorization, depth: '0', body: propfindBody('d:getetag', 'd:getcontenttype') });
  assert.equal(pf.status, 207);
  assert.equal(propText(parseMultistatus(pf.text).responses[0]?.found ?? '', 'getetag'), etag2);

  // Invalid vCards: 403 valid-address-data, nothing stored.
  for (const invalid of ['this is not a vcard', 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:rt-bad\r\nEND:VCARD\r\n', 'BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nEND:VCARD\r\n']) {
    const res = await put(a, `${base}bad.vcf`, invalid);
    assert.equal(res.status, 403, `${JSON.stringify(invalid)}: ${res.status} ${res.text}`);
    assert.match(res.text, /<(?:\w+:)?valid-address-data\s*\/>/);
    assert.match(res.text, /xmlns:card="urn:ietf:params:xml:ns:carddav"/);
  }
  assert.equal((await dav('GET', `${base}bad.vcf`, { auth: a.authorization })).status, 404);

  // A VTODO into the events calendar, a VEVENT into the tasks list: 403 supported-calendar-component.
  const todo = vevent('rt-todo', 'A task').replace(/VEVENT/g, 'VTODO').replace(/DTEND/g, 'DUE');
  const wrongKind = await put(a, `${collectionHref(a, 'calendar')}todo.ics`, todo);
  assert.equal(wrongKind.status, 403, wrongKind.text);
  assert.match(wrongKind.text, /<cal:supported-calendar-component\s*\/>/);
  assert.match(wrongKind.text, /xmlns:cal="urn:ietf:params:xml:ns:caldav"/);
  assert.equal((await dav('GET', `${collectionHref(a, 'calendar')}todo.ics`, { auth: a.authorization })).status, 404);
  const eventInTasks = await put(a, `${collectionHref(a, 'tasks')}ev.ics`, vevent('rt-ev', 'An event'));
  assert.equal(eventInTasks.status, 403);
  assert.match(eventInTasks.text, /<cal:supported-calendar-component\s*\/>/);
  // Where it belongs, it is accepted.
  await putNew(a, `${collectionHref(a, 'tasks')}todo.ics`, todo);
  // A vCard in a calendar: not calendar data at all.
  const cardInCalendar = await put(a, `${collectionHref(a, 'calendar')}card.ics`, vcard('rt-c', 'C'));
  assert.equal(cardInCalendar.status, 403);
  // A broken iCalendar: 403 valid-calendar-data.
  const brokenIcs = await put(a, `${collectionHref(a, 'calendar')}broken.ics`, 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n');
  assert.equal(brokenIcs.status, 403);
  assert.match(brokenIcs.text, /<cal:valid-calendar-data\s*\/>/);

  // The same UID under a second name: 409 no-uid-conflict, nothing stored there.
  const dup = await put(a, `${base}zoe-copy.vcf`, vcard('rt-1', 'Copy'), { 'if-none-match': '*' });
  assert.equal(dup.status, 409, dup.text);
  assert.match(dup.text, /<card:no-uid-conflict\s*\/>/);
  assert.equal((await dav('GET', `${base}zoe-copy.vcf`, { auth: a.authorization })).status, 404);
  const eventUid = await putNew(a, `${collectionHref(a, 'calendar')}one.ics`, vevent('rt-ev-uid', 'One'));
  const dupEvent = await put(a, `${collectionHref(a, 'calendar')}two.ics`, vevent('rt-ev-uid', 'Two'));
  assert.equal(dupEvent.status, 409);
  assert.match(dupEvent.text, /<cal:no-uid-conflict\s*\/>/);
  assert.ok(eventUid);

  // DELETE: a missing item is 404; a stale If-Match is 412; then 204 and gone.
  assert.equal((await dav('DELETE', `${base}missing.vcf`, { auth: a.authorization })).status, 404);
  assert.equal((await dav('DELETE', `${base}zoe.vcf`, { auth: a.authorization, headers: { 'if-match': etag1 } })).status, 412);
  assert.equal((await dav('GET', `${base}zoe.vcf`, { auth: a.authorization })).status, 200);
  assert.equal((await dav('DELETE', `${base}zoe.vcf`, { auth: a.authorization, headers: { 'if-match': etag2 } })).status, 204);
  assert.equal((await dav('GET', `${base}zoe.vcf`, { auth: a.authorization })).status, 404);
  assert.equal((await dav('DELETE', `${base}zoe.vcf`, { auth: a.authorization })).status, 404, 'a second DELETE finds nothing');
  // With the holder gone, its UID may be used under another name.
  await putNew(a, `${base}zoe-copy.vcf`, vcard('rt-1', 'Copy'));
});

// ---------------------------------------------------------------------------------------------------
// 4. Reports

test('REPORT: addressbook-multiget with a missing href, calendar-query by time-range, addressbook-query by EMAIL', async () => {
  const a = await newAccount(server);
  const book = collectionHref(a, 'contacts');
  const cal = collectionHref(a, 'calendar');

  const ada = vcard('q-ada', 'Ada Lovelace', 'EMAIL;TYPE=home:Ada@Example.org\r\nX-MARK:a & b <c>\r\n');
  const grace = vcard('q-grace', 'Grace Hopper', 'EMAIL:grace@navy.example\r\n');
  const alan = vcard('q-alan', 'Alan Turing', 'TEL:+44 20 7946 0000\r\nNOTE:example.org is mentioned here but not as an email\r\n');
  const adaEtag = await putNew(a, `${book}ada.vcf`, ada);
  await putNew(a, `${book}grace.vcf`, grace);
  await putNew(a, `${book}alan.vcf`, alan);

  // addressbook-multiget: one present, one missing.
  const multiget = await dav('REPORT', book, {
    auth: a.authorization,
    depth: '1',
    body: `<?xml version="1.0" encoding="utf-8"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop><d:href>${book}ada.vcf</d:href><d:href>${book}nobody.vcf</d:href></card:addressbook-multiget>`,
  });
  assert.equal(multiget.status, 207, multiget.text);
  const mg = byHref(parseMultistatus(multiget.text).responses);
  assert.deepEqual([...mg.keys()].sort(), [`${book}ada.vcf`, `${book}nobody.vcf`]);
  const adaEntry = mg.get(`${book}ada.vcf`) as MsResponse;
  assert.equal(adaEntry.status, undefined);
  assert.equal(propText(adaEntry.found, 'getetag'), adaEtag);
  assert.equal(propText(adaEntry.found, 'address-data'), ada, 'address-data is the vCard byte for byte (CRs and markup escaped)');
  // CRs travel as &#13; (an XML parser would turn a raw CR LF into LF), markup as entities.
  assert.ok(!multiget.text.includes('\r'), 'no raw CR in the XML');
  assert.match(adaEntry.found, /UID:q-ada&#13;\n/);
  assert.match(adaEntry.found, /X-MARK:a &amp; b &lt;c&gt;&#13;\n/);
  assert.equal(mg.get(`${book}nobody.vcf`)?.status, 'HTTP/1.1 404 Not Found');
  assert.doesNotMatch(mg.get(`${book}nobody.vcf`)?.raw ?? '', /propstat/);

  // calendar-query: January 2026 includes one event and excludes the March one.
  const january = vevent('q-jan', 'January meeting', '20260110T100000Z', '20260110T110000Z');
  const march = vevent('q-mar', 'March meeting', '20260315T100000Z', '20260315T110000Z');
  const janEtag = await putNew(a, `${cal}jan.ics`, january);
  await putNew(a, `${cal}mar.ics`, march);
  const query = (comp: string, range: string) =>
    `<?xml version="1.0" encoding="utf-8"?><cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><cal:calendar-data/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="${comp}">${range}</cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>`;
  const jan = await dav('REPORT', cal, { auth: a.authorization, depth: '1', body: query('VEVENT', '<cal:time-range start="20260101T000000Z" end="20260201T000000Z"/>') });
  assert.equal(jan.status, 207, jan.text);
  const janResponses = parseMultistatus(jan.text).responses;
  assert.deepEqual(
    janResponses.map((r) => r.href),
    [`${cal}jan.ics`],
  );
  assert.equal(propText(janResponses[0]?.found ?? '', 'getetag'), janEtag);
  assert.equal(propText(janResponses[0]?.found ?? '', 'calendar-data'), january);
  // The boundaries: a range ending exactly at the event's start excludes it; one overlapping its last minute includes it.
  const before = await dav('REPORT', cal, { auth: a.authorization, depth: '1', body: query('VEVENT', '<cal:time-range start="20260101T000000Z" end="20260110T100000Z"/>') });
  assert.deepEqual(
    parseMultistatus(before.text).responses.map((r) => r.href),
    [],
  );
  const overlap = await dav('REPORT', cal, { auth: a.authorization, depth: '1', body: query('VEVENT', '<cal:time-range start="20260110T105900Z" end="20260316T000000Z"/>') });
  assert.deepEqual(parseMultistatus(overlap.text).responses.map((r) => r.href).sort(), [`${cal}jan.ics`, `${cal}mar.ics`]);
  // No time-range: every event. A VTODO filter on the events calendar: none.
  const all = await dav('REPORT', cal, { auth: a.authorization, depth: '1', body: query('VEVENT', '') });
  assert.deepEqual(parseMultistatus(all.text).responses.map((r) => r.href).sort(), [`${cal}jan.ics`, `${cal}mar.ics`]);
  const todos = await dav('REPORT', cal, { auth: a.authorization, depth: '1', body: query('VTODO', '') });
  assert.equal(todos.status, 207);
  assert.deepEqual(parseMultistatus(todos.text).responses, []);
  // A malformed time-range is refused.
  const badRange = await dav('REPORT', cal, { auth: a.authorization, depth: '1', body: query('VEVENT', '<cal:time-range start="2026-01-01" end="20260201T000000Z"/>') });
  assert.equal(badRange.status, 403);
  assert.match(badRange.text, /valid-filter/);

  // addressbook-query: EMAIL contains "example.org", case-insensitively; a NOTE mentioning it does not count.
  const aq = (text: string, extra = '') =>
    `<?xml version="1.0" encoding="utf-8"?><card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop><card:filter${extra}><card:prop-filter name="EMAIL"><card:text-match collation="i;unicode-casemap" match-type="contains">${text}</card:text-match></card:prop-filter></card:filter></card:addressbook-query>`;
  const byEmail = await dav('REPORT', book, { auth: a.authorization, depth: '1', body: aq('example.org') });
  assert.equal(byEmail.status, 207, byEmail.text);
  const found = parseMultistatus(byEmail.text).responses;
  assert.deepEqual(
    found.map((r) => r.href),
    [`${book}ada.vcf`],
  );
  assert.equal(propText(found[0]?.found ?? '', 'address-data'), ada);
  const upper = await dav('REPORT', book, { auth: a.authorization, depth: '1', body: aq('NAVY.EXAMPLE') });
  assert.deepEqual(
    parseMultistatus(upper.text).responses.map((r) => r.href),
    [`${book}grace.vcf`],
  );
  const none = await dav('REPORT', book, { auth: a.authorization, depth: '1', body: aq('nobody@nowhere') });
  assert.deepEqual(parseMultistatus(none.text).responses, []);
});

// ---------------------------------------------------------------------------------------------------
// 5. Isolation and hostile XML

test('isolation: another account gets 404 for everything under /dav/users/A/; a DOCTYPE is refused with 400', async () => {
  const a = await newAccount(server);
  const b = await newAccount(server);
  const book = collectionHref(a, 'contacts');
  const card = vcard('iso-1', 'Private');
  const etag = await putNew(a, `${book}secret.vcf`, card);
  const before = await ctagAndToken(a, 'contacts');
  const aToken = (await syncCollection(a, 'contacts', '')).syncToken;

  // What B gets for A's paths is what anyone gets for a path that does not exist.
  const nobody = await dav('PROPFIND', '/dav/users/no-such-user/contacts/', { auth: b.authorization, depth: '0', body: propfindBody('d:getetag') });
  assert.equal(nobody.status, 404);

  const attempts: Array<[string, string, Parameters<typeof dav>[2]]> = [
    ['PROPFIND', home(a), { depth: '1', body: propfindBody('d:resourcetype', 'd:displayname') }],
    ['PROPFIND', principal(a), { depth: '0', body: propfindBody('card:addressbook-home-set') }],
    ['PROPFIND', book, { depth: '1', body: propfindBody('d:getetag') }],
    ['PROPFIND', `${book}secret.vcf`, { depth: '0', body: propfindBody('d:getetag') }],
    ['GET', `${book}secret.vcf`, {}],
    ['HEAD', `${book}secret.vcf`, {}],
    ['PUT', `${book}secret.vcf`, { body: vcard('iso-1', 'Overwritten'), headers: { 'content-type': 'text/vcard' } }],
    ['PUT', `${book}secret.vcf`, { body: vcard('iso-1', 'Overwritten'), headers: { 'content-type': 'text/vcard', 'if-match': etag } }],
    ['PUT', `${book}planted.vcf`, { body: vcard('iso-2', 'Planted'), headers: { 'content-type': 'text/vcard', 'if-none-match': '*' } }],
    ['DELETE', `${book}secret.vcf`, {}],
    ['PROPPATCH', book, { body: '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Hijacked</d:displayname></d:prop></d:set></d:propertyupdate>' }],
    ['MKCOL', `${home(a)}planted/`, { body: '<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>' }],
    ['MKCALENDAR', `${home(a)}planted-cal/`, {}],
    ['REPORT', book, { depth: '0', body: syncCollectionBody('') }],
    ['REPORT', book, { depth: '0', body: syncCollectionBody(aToken) }],
    [
      'REPORT',
      book,
      {
        depth: '1',
        body: `<?xml version="1.0"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:address-data/></d:prop><d:href>${book}secret.vcf</d:href></card:addressbook-multiget>`,
      },
    ],
    ['REPORT', collectionHref(a, 'calendar'), { depth: '1', body: `<?xml version="1.0"?><cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><cal:calendar-data/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"/></cal:filter></cal:calendar-query>` }],
  ];
  for (const [method, path, options] of attempts) {
    const res = await dav(method, path, { ...options, auth: b.authorization });
    assert.equal(res.status, 404, `B ${method} ${path}: ${res.status} ${res.text}`);
    assert.doesNotMatch(res.text, /Private|secret|iso-1/, 'nothing of A leaks');
    if (method !== 'HEAD') assert.equal(res.text, nobody.text, `B ${method} ${path} looks like a path that does not exist`);
  }
  // Percent-encoded and differently spelled paths to A's data are no way in either.
  for (const path of [`/dav/users/${encodeURIComponent(a.accountName)}/contacts/secret.vcf`, `/dav/users/${a.accountName.toUpperCase()}/contacts/secret.vcf`, `/dav/users/${b.accountName}/../${a.accountName}/contacts/secret.vcf`]) {
    const res = await dav('GET', path, { auth: b.authorization });
    assert.equal(res.status, 404, `GET ${path}: ${res.status}`);
  }
  // B's own discovery names B's principal and home, never A's.
  const root = await dav('PROPFIND', '/dav/', { auth: b.authorization, depth: '0', body: propfindBody('d:current-user-principal') });
  assert.ok(root.text.includes(principal(b)) && !root.text.includes(principal(a)));

  // A's data is untouched.
  const get = await dav('GET', `${book}secret.vcf`, { auth: a.authorization });
  assert.equal(get.status, 200);
  assert.equal(get.text, card);
  assert.equal(get.headers.get('etag'), etag);
  assert.equal((await dav('GET', `${book}planted.vcf`, { auth: a.authorization })).status, 404);
  assert.deepEqual(await ctagAndToken(a, 'contacts'), before);
  const aHome = await dav('PROPFIND', home(a), { auth: a.authorization, depth: '1', body: propfindBody('d:displayname') });
  const aListing = byHref(parseMultistatus(aHome.text).responses);
  assert.deepEqual([...aListing.keys()].sort(), [home(a), ...['calendar', 'contacts', 'notes', 'tasks'].map((n) => collectionHref(a, n))].sort(), 'no collection was planted');
  assert.equal(propText(aListing.get(book)?.found ?? '', 'displayname'), 'Contacts', 'the display name is A’s own');
  assert.deepEqual((await syncCollection(a, 'contacts', aToken)).responses, []);

  // A DOCTYPE is refused outright, with or without entities, on PROPFIND and REPORT.
  const doctypes = [
    `<?xml version="1.0"?><!DOCTYPE d:propfind [<!ENTITY x "current-user-principal">]><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>`,
    `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&lol2;</d:displayname></d:prop></d:propfind>`,
    `<?xml version="1.0"?><!DOCTYPE d:propfind SYSTEM "file:///etc/passwd"><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>`,
  ];
  for (const body of doctypes) {
    const res = await dav('PROPFIND', '/dav/', { auth: a.authorization, depth: '0', body });
    assert.equal(res.status, 400, `${body}: ${res.status} ${res.text}`);
    assert.doesNotMatch(res.text, /root:|multistatus/);
  }
  const reportDoctype = await dav('REPORT', book, {
    auth: a.authorization,
    depth: '0',
    body: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY t "">]><d:sync-collection xmlns:d="DAV:"><d:sync-token>&t;</d:sync-token><d:prop><d:getetag/></d:prop></d:sync-collection>`,
  });
  assert.equal(reportDoctype.status, 400);
  // Malformed XML and a body that is not a propfind are 400 as well.
  assert.equal((await dav('PROPFIND', '/dav/', { auth: a.authorization, depth: '0', body: '<d:propfind xmlns:d="DAV:"><d:prop>' })).status, 400);
  assert.equal((await dav('PROPFIND', '/dav/', { auth: a.authorization, depth: '0', body: '<d:multistatus xmlns:d="DAV:"/>' })).status, 400);
});

// ---------------------------------------------------------------------------------------------------
// 6. DAV and a native SDK device

const replicaItems = (device: SdkDevice, collectionId: string) => device.replica.transaction((tx) => tx.all(collectionId)).filter((i) => i.data !== null);

test('a change through DAV reaches a native SDK device, and the device’s changes reach the next sync-collection', async () => {
  const a = await newAccount(server);
  const book = collectionHref(a, 'contacts');
  const cal = collectionHref(a, 'calendar');
  const phone = sdkDevice(server.url, a.accountName, a.password, 'phone');
  await phone.client.syncCollection(a.contacts);
  await phone.client.syncCollection(a.calendar);
  const t0 = (await syncCollection(a, 'contacts', '')).syncToken;
  const c0 = (await syncCollection(a, 'calendar', '')).syncToken;

  // DAV -> device: an add, byte for byte.
  const card = vcard('mix-1', 'From DAV', 'X-DAV-ONLY:yes\r\n');
  const event = vevent('mix-ev', 'From DAV', '20260401T090000Z', '20260401T100000Z', 'X-DAV-EV:1\r\n');
  const cardEtag = await putNew(a, `${book}from-dav.vcf`, card);
  await putNew(a, `${cal}from-dav.ics`, event);
  await phone.client.syncCollection(a.contacts);
  await phone.client.syncCollection(a.calendar);
  const onPhone = replicaItems(phone, a.contacts);
  assert.deepEqual(
    onPhone.map((i) => i.data),
    [card],
  );
  assert.equal(`"${onPhone[0]?.etag}"`, cardEtag, 'the device holds the version DAV wrote');
  assert.deepEqual(
    replicaItems(phone, a.calendar).map((i) => i.data),
    [event],
  );

  // DAV edit -> device.
  const cardEdited = card.replace('FN:From DAV', 'FN:From DAV, edited');
  const editRes = await put(a, `${book}from-dav.vcf`, cardEdited, { 'if-match': cardEtag });
  assert.equal(editRes.status, 204);
  await phone.client.syncCollection(a.contacts);
  assert.deepEqual(
    replicaItems(phone, a.contacts).map((i) => i.data),
    [cardEdited],
  );
  const t1 = (await syncCollection(a, 'contacts', t0)).syncToken;

  // Device -> DAV: an add, an edit of the DAV-made card, and (in the calendar) a delete.
  const phoneCard = vcard('mix-2', 'From phone', 'X-PHONE:1\r\nEMAIL:phone@example.org\r\n');
  const cardFromPhone = cardEdited.replace('X-DAV-ONLY:yes', 'X-DAV-ONLY:yes\r\nNOTE:edited on the phone');
  const davCardLocalId = replicaItems(phone, a.contacts)[0]?.localId as string;
  const davEventLocalId = replicaItems(phone, a.calendar)[0]?.localId as string;
  phone.replica.transaction((tx) => {
    recordLocalPut(tx, a.contacts, 'phone-card', phoneCard);
    recordLocalPut(tx, a.contacts, davCardLocalId, cardFromPhone);
    recordLocalDelete(tx, a.calendar, davEventLocalId);
  });
  const summary = await phone.client.syncCollection(a.contacts);
  assert.deepEqual(summary.rejected, []);
  assert.deepEqual(summary.conflicts, []);
  await phone.client.syncCollection(a.calendar);

  const next = await syncCollection(a, 'contacts', t1, undefined, ['d:getetag', 'card:address-data']);
  assert.equal(next.responses.length, 2, next.text);
  const entries = byHref(next.responses);
  const edited = entries.get(`${book}from-dav.vcf`);
  assert.ok(edited, 'the device’s edit is reported under the name DAV gave the card');
  assert.equal(propText(edited.found, 'address-data'), cardFromPhone);
  const added = [...entries.values()].find((r) => r.href !== `${book}from-dav.vcf`) as MsResponse;
  assert.match(added.href, new RegExp(`^${book.replace(/[/.]/g, '\\$&')}[^/]+\\.vcf$`), 'the device’s add has a name in the address book');
  assert.equal(added.status, undefined);
  assert.equal(propText(added.found, 'address-data'), phoneCard);
  const addedEtag = propText(added.found, 'getetag') as string;
  // GET agrees byte for byte.
  const got = await dav('GET', added.href, { auth: a.authorization });
  assert.equal(got.status, 200);
  assert.equal(got.text, phoneCard);
  assert.equal(got.headers.get('etag'), addedEtag);

  const calNext = await syncCollection(a, 'calendar', c0);
  assert.deepEqual(
    calNext.responses.map((r) => [r.href, r.status]),
    [[`${cal}from-dav.ics`, 'HTTP/1.1 404 Not Found']],
    'the device’s delete is a 404 in the next sync-collection',
  );
  assert.equal((await dav('GET', `${cal}from-dav.ics`, { auth: a.authorization })).status, 404);

  // DAV edits and deletes the device's card under the name sync-collection gave it -> device.
  const phoneCardEdited = phoneCard.replace('FN:From phone', 'FN:From phone, edited over DAV');
  assert.equal((await put(a, added.href, phoneCardEdited, { 'if-match': addedEtag })).status, 204);
  await phone.client.syncCollection(a.contacts);
  assert.deepEqual(replicaItems(phone, a.contacts).map((i) => i.data).sort(), [cardFromPhone, phoneCardEdited].sort());
  assert.equal((await dav('DELETE', `${book}from-dav.vcf`, { auth: a.authorization })).status, 204);
  await phone.client.syncCollection(a.contacts);
  assert.deepEqual(
    replicaItems(phone, a.contacts).map((i) => i.data),
    [phoneCardEdited],
  );
  // DAV deletes and re-creates a name with no device sync in between, then once more with one: the
  // device ends with the new content under one item, never a duplicate.
  const again1 = vcard('mix-3', 'Again', 'X-ROUND:1\r\n');
  const againEtag = await putNew(a, `${book}again.vcf`, again1);
  await phone.client.syncCollection(a.contacts);
  assert.equal((await dav('DELETE', `${book}again.vcf`, { auth: a.authorization, headers: { 'if-match': againEtag } })).status, 204);
  const again2 = again1.replace('X-ROUND:1', 'X-ROUND:2');
  await putNew(a, `${book}again.vcf`, again2);
  await phone.client.syncCollection(a.contacts);
  assert.deepEqual(replicaItems(phone, a.contacts).map((i) => i.data).sort(), [phoneCardEdited, again2].sort());
  assert.equal((await dav('DELETE', `${book}again.vcf`, { auth: a.authorization })).status, 204);
  await phone.client.syncCollection(a.contacts);
  assert.deepEqual(
    replicaItems(phone, a.contacts).map((i) => i.data),
    [phoneCardEdited],
  );
  const again3 = again1.replace('X-ROUND:1', 'X-ROUND:3');
  await putNew(a, `${book}again.vcf`, again3);
  await phone.client.syncCollection(a.contacts);
  assert.deepEqual(replicaItems(phone, a.contacts).map((i) => i.data).sort(), [phoneCardEdited, again3].sort());
  assert.equal((await dav('DELETE', `${book}again.vcf`, { auth: a.authorization })).status, 204);
  await phone.client.syncCollection(a.contacts);

  // And the DAV client's own view ends in the same place.
  const final = await syncCollection(a, 'contacts', '', undefined, ['card:address-data']);
  assert.deepEqual(
    final.responses.map((r) => propText(r.found, 'address-data')),
    [phoneCardEdited],
  );
});

test('a client given only the server address finds DAV at /, the principal collection lists the own principal, and reports of the other protocol are refused', async () => {
  const a = await newAccount(server);
  const probe = await dav('PROPFIND', '/', { auth: a.authorization, depth: '0', body: propfindBody('d:current-user-principal'), redirect: 'manual' });
  // Answered in place: clients that follow a redirect drop the PROPFIND body (dav-protocol.test.ts has the rest).
  assert.equal(probe.status, 207);
  assert.equal(propText(parseMultistatus(probe.text).responses[0]?.found ?? '', 'current-user-principal')?.replace(/<[^>]+>/g, ''), principal(a));
  const principals = await dav('PROPFIND', '/dav/principals/', { auth: a.authorization, depth: '1', body: propfindBody('d:resourcetype') });
  assert.equal(principals.status, 207);
  assert.deepEqual(
    parseMultistatus(principals.text).responses.map((r) => r.href),
    ['/dav/principals/', principal(a)],
  );
  const query = `<?xml version="1.0"?><card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop></card:addressbook-query>`;
  const wrong = await dav('REPORT', collectionHref(a, 'calendar'), { auth: a.authorization, depth: '1', body: query });
  assert.equal(wrong.status, 403);
  assert.match(wrong.text, /supported-report/);
});

test('MKCOL and MKCALENDAR make collections of the right kind, and PROPPATCH changes their names, colours and descriptions all or nothing', async () => {
  const a = await newAccount(server);
  const mkcol = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Friends</d:displayname></d:prop></d:set></d:mkcol>`;
  assert.equal((await dav('MKCOL', collectionHref(a, 'Friends-2026'), { auth: a.authorization, body: mkcol })).status, 201);
  assert.equal((await dav('MKCOL', collectionHref(a, 'Friends-2026'), { auth: a.authorization, body: mkcol })).status, 405, 'it exists now');
  const mkcalendar = `<?xml version="1.0"?><cal:mkcalendar xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Chores</d:displayname><cal:supported-calendar-component-set><cal:comp name="VTODO"/></cal:supported-calendar-component-set></d:prop></d:set></cal:mkcalendar>`;
  assert.equal((await dav('MKCALENDAR', collectionHref(a, 'chores'), { auth: a.authorization, body: mkcalendar })).status, 201);
  const listing = await dav('PROPFIND', home(a), { auth: a.authorization, depth: '1', body: propfindBody('d:resourcetype', 'd:displayname', 'cal:supported-calendar-component-set') });
  const byPath = byHref(parseMultistatus(listing.text).responses);
  assert.match(byPath.get(collectionHref(a, 'Friends-2026'))?.found ?? '', /addressbook/);
  assert.match(byPath.get(collectionHref(a, 'chores'))?.found ?? '', /comp name="VTODO"/);
  assert.equal(propText(byPath.get(collectionHref(a, 'chores'))?.found ?? '', 'displayname'), 'Chores');
  // The new task list takes tasks, not events.
  assert.equal((await put(a, `${collectionHref(a, 'chores')}t.ics`, vevent('not-a-task', 'Event'))).status, 403);

  const patch = (inner: string) =>
    dav('PROPPATCH', collectionHref(a, 'chores'), {
      auth: a.authorization,
      body: `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:ical="http://apple.com/ns/ical/" xmlns:x="urn:example:x"><d:set><d:prop>${inner}</d:prop></d:set></d:propertyupdate>`,
    });
  const ok = await patch('<d:displayname>House chores</d:displayname><ical:calendar-color>#00FF00FF</ical:calendar-color><cal:calendar-description>weekly</cal:calendar-description>');
  assert.equal(ok.status, 207);
  assert.match(ok.text, /HTTP\/1\.1 200 OK/);
  const refused = await patch('<d:displayname>Ignored</d:displayname><x:custom>no</x:custom>');
  assert.match(refused.text, /HTTP\/1\.1 403 Forbidden/);
  assert.match(refused.text, /HTTP\/1\.1 424 Failed Dependency/);
  const props = await dav('PROPFIND', collectionHref(a, 'chores'), {
    auth: a.authorization,
    depth: '0',
    body: `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:ical="http://apple.com/ns/ical/"><d:prop><d:displayname/><ical:calendar-color/><cal:calendar-description/></d:prop></d:propfind>`,
  });
  const found = (parseMultistatus(props.text).responses[0] as MsResponse).found;
  assert.equal(propText(found, 'displayname'), 'House chores', 'the refused PROPPATCH changed nothing');
  assert.equal(propText(found, 'calendar-color'), '#00FF00FF');
  assert.equal(propText(found, 'calendar-description'), 'weekly');
});

test('a paged initial sync-collection of a calendar whose last change is older than the purged tombstones of the account reaches its end (sim seed 74)', async () => {
  const a = await newAccount(server);
  const calendar = collectionHref(a, 'calendar');
  await putNew(a, `${calendar}one.ics`, vevent('quiet-1', 'One'));
  await putNew(a, `${calendar}two.ics`, vevent('quiet-2', 'Two'));
  // Another collection changes since, and its tombstones are purged (as after 90 days): the account's floor passes the calendar's last change.
  const book = collectionHref(a, 'contacts');
  await putNew(a, `${book}gone.vcf`, vcard('quiet-gone', 'Gone'));
  assert.equal((await dav('DELETE', `${book}gone.vcf`, { auth: a.authorization })).status, 204);
  await serverSql(server, 'UPDATE accounts SET tombstone_floor = seq WHERE id = ?', [a.accountId]);
  const members: string[] = [];
  let token = '';
  for (let page = 0; ; page++) {
    assert.ok(page < 5, `the sync ends: ${members.join(', ')}`);
    const answer = await syncCollection(a, 'calendar', token, 1);
    members.push(...answer.responses.filter((r) => r.status === undefined).map((r) => r.href));
    token = answer.syncToken;
    if (!answer.responses.some((r) => r.status?.includes('507'))) break;
  }
  assert.deepEqual(members.sort(), [`${calendar}one.ics`, `${calendar}two.ics`]);
  // The token the last page gave is the calendar's token now, and it is valid.
  assert.equal((await ctagAndToken(a, 'calendar')).token, token);
  assert.equal((await syncCollection(a, 'calendar', token)).responses.length, 0);
});

test('calendar-query finds a weekly series by an instance months after its start; a token older than the purged tombstones gets 403', async () => {
  const a = await newAccount(server);
  const calendar = collectionHref(a, 'calendar');
  await putNew(a, `${calendar}weekly.ics`, vevent('weekly', 'Standup', '20260105T090000Z', '20260105T091500Z', 'RRULE:FREQ=WEEKLY;COUNT=52\r\n'));
  await putNew(a, `${calendar}once.ics`, vevent('once', 'Kick-off', '20260105T100000Z', '20260105T110000Z'));
  const query = `<?xml version="1.0"?><cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT"><cal:time-range start="20260901T000000Z" end="20261001T000000Z"/></cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>`;
  const res = await dav('REPORT', calendar, { auth: a.authorization, depth: '1', body: query });
  assert.deepEqual(parseMultistatus(res.text).responses.map((r) => r.href), [`${calendar}weekly.ics`]);

  const { token } = await ctagAndToken(a, 'calendar');
  // The tombstone purge raised the floor past this token (as after 90 days): it is expired.
  await serverSql(server, 'UPDATE accounts SET tombstone_floor = seq + 1 WHERE id = ?', [a.accountId]);
  const expired = await dav('REPORT', calendar, { auth: a.authorization, depth: '0', body: syncCollectionBody(token) });
  assert.equal(expired.status, 403);
  assert.match(expired.text, /valid-sync-token/);
  assert.equal((await syncCollection(a, 'calendar', '')).responses.length, 2, 'an initial sync still works');
});
