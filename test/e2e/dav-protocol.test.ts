import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { easAccount, folderEntries, textAt } from '../support/eas-client.js';
import { openRawChannel } from '../support/push.js';
import { postJson, startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { newAccount, syncOnce } from '../support/sync.js';

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
const allow = (headers: Headers) => (headers.get('allow') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').sort();

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

test('DELETE of a collection removes it for every sync point; 405 carries Allow, OPTIONS lists what works, a missing collection is 404', async () => {
  const a = await easAccount(server);
  const home = `/dav/users/${a.accountName}/`;
  const book = `${home}family/`;
  const mkcol = `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Family</d:displayname></d:prop></d:set></d:mkcol>`;
  assert.equal((await dav('MKCOL', book, { auth: a.authorization, body: mkcol })).status, 201);
  assert.equal((await dav('PUT', `${book}ada.vcf`, { auth: a.authorization, body: vcard('ada', 'Ada'), headers: { 'content-type': 'text/vcard' } })).status, 201);
  const familyId = ((await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: a.authorization } })).json()) as { collections: Array<{ id: string; name: string }> }).collections.find(
    (c) => c.name === 'family',
  )?.id as string;
  assert.ok(familyId);
  // A native device and an ActiveSync device know the collection before it goes.
  const native = await syncOnce(server, a.authorization, 'native-1', { collectionId: familyId, syncKey: 0 });
  assert.equal(native.status, 'ok');
  const eas = a.eas('Del1');
  const before = await eas.folders();
  assert.ok(before.folders.some((f) => f.id === familyId));

  // OPTIONS says what each resource answers, and nothing else.
  assert.deepEqual(allow((await dav('OPTIONS', book, { auth: a.authorization })).headers), ['DELETE', 'OPTIONS', 'PROPFIND', 'PROPPATCH', 'REPORT']);
  assert.deepEqual(allow((await dav('OPTIONS', `${book}ada.vcf`, { auth: a.authorization })).headers), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'PUT']);
  assert.deepEqual(allow((await dav('OPTIONS', home, { auth: a.authorization })).headers), ['OPTIONS', 'PROPFIND']);
  assert.deepEqual(allow((await dav('OPTIONS', `${home}nothing-here/`, { auth: a.authorization })).headers), ['MKCALENDAR', 'MKCOL', 'OPTIONS']);
  // A method a resource does not answer gets 405 with Allow.
  for (const [method, path, body] of [['PUT', book, vcard('x', 'X')], ['GET', book, undefined], ['MKCOL', book, mkcol], ['DELETE', home, undefined], ['REPORT', home, propfind('d:getetag')]] as const) {
    const res = await dav(method, path, { auth: a.authorization, ...(body === undefined ? {} : { body }) });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.ok(allow(res.headers).length > 0 && !allow(res.headers).includes(method), `${method} ${path}: Allow names what works: ${res.headers.get('allow')}`);
    assert.ok(allow(res.headers).includes('OPTIONS'));
  }

  // Push: the items go without a notice each, so devices subscribed to the collection (or to all) are asked to sync.
  const contactsId = (await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: a.authorization } })).json() as { collections: Array<{ id: string; name: string }> }).collections.find((c) => c.name === 'contacts')?.id as string;
  const subscribed = openRawChannel(server.url, { device: 'push-family', collections: familyId }, { authorization: a.authorization });
  const everything = openRawChannel(server.url, { device: 'push-all' }, { authorization: a.authorization });
  const elsewhere = openRawChannel(server.url, { device: 'push-contacts', collections: contactsId }, { authorization: a.authorization });
  for (const c of [subscribed, everything, elsewhere]) await c.next((m) => m.type === 'hello');

  const deleted = await dav('DELETE', book, { auth: a.authorization });
  assert.equal(deleted.status, 204, deleted.text);
  await subscribed.next((m) => m.type === 'syncRequest');
  await everything.next((m) => m.type === 'syncRequest');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(!elsewhere.messages.some((m) => m.type === 'syncRequest'), 'a device subscribed to other collections is left alone');
  // DAV: gone from the home, and the collection and its members answer 404.
  const listing = await dav('PROPFIND', home, { auth: a.authorization, depth: '1', body: propfind('d:resourcetype') });
  assert.ok(!responses(listing.text).some((r) => r.href === book), 'the home no longer lists it');
  for (const [method, path] of [['DELETE', book], ['PROPFIND', book], ['GET', book], ['PUT', book], ['GET', `${book}ada.vcf`], ['DELETE', `${home}never-made/`]] as const) {
    assert.equal((await dav(method, path, { auth: a.authorization, depth: '0' })).status, 404, `${method} ${path} after the delete`);
  }
  // Native: the collection is not found any more.
  const after = await postJson(`${server.url}/api/v1/sync`, a.authorization, { version: 1, device: { id: 'native-1' }, collections: [{ collectionId: familyId, syncKey: native.syncKey }] });
  assert.match(JSON.stringify(after.body), /notFound/, `native sync of the deleted collection: ${JSON.stringify(after.body)}`);
  // ActiveSync: FolderSync from the earlier key reports the folder deleted.
  const changes = await eas.folderSync(before.key);
  assert.equal(textAt(changes, 'Status'), '1');
  assert.deepEqual(
    folderEntries(changes, 'Delete').map((f) => f.id),
    [familyId],
  );
  // A calendar made without a component set is two collections (docs/dav.md § Calendars made without a
  // component set): its tasks part is not served on its own, and deleting the calendar deletes both.
  const errands = `${home}errands/`;
  assert.equal((await dav('MKCALENDAR', errands, { auth: a.authorization })).status, 201);
  const names = async () => ((await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: a.authorization } })).json()) as { collections: Array<{ name: string }> }).collections.map((c) => c.name);
  assert.ok((await names()).includes('errands.tasks'));
  assert.equal((await dav('DELETE', `${home}errands.tasks/`, { auth: a.authorization })).status, 404, 'the tasks part is not a DAV collection');
  assert.equal((await dav('OPTIONS', `${home}errands.tasks/`, { auth: a.authorization })).headers.get('allow'), 'OPTIONS, MKCOL, MKCALENDAR');
  const tasksId = (await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: a.authorization } })).json() as { collections: Array<{ id: string; name: string }> }).collections.find((c) => c.name === 'errands.tasks')?.id as string;
  const tasksDevice = openRawChannel(server.url, { device: 'push-errands-tasks', collections: tasksId }, { authorization: a.authorization });
  await tasksDevice.next((m) => m.type === 'hello');
  assert.equal((await dav('DELETE', errands, { auth: a.authorization })).status, 204);
  await tasksDevice.next((m) => m.type === 'syncRequest');
  for (const c of [subscribed, everything, elsewhere, tasksDevice]) c.socket.close();
  assert.deepEqual(
    (await names()).filter((n) => n.startsWith('errands')),
    [],
  );
  // Another account cannot delete this one's collections: its paths are 404.
  const other = await newAccount(server);
  assert.equal((await dav('DELETE', `${home}contacts/`, { auth: other.authorization })).status, 404);
  assert.equal((await dav('PROPFIND', `${home}contacts/`, { auth: a.authorization, depth: '0', body: propfind('d:getetag') })).status, 207);
});

test('sync-collection: an empty <prop/> still gives each member a propstat, an unknown sync-level is 400, the home lists supported-report-set', async () => {
  const a = await newAccount(server);
  const calendar = `/dav/users/${a.accountName}/calendar/`;
  for (const uid of ['one', 'two']) {
    assert.equal((await dav('PUT', `${calendar}${uid}.ics`, { auth: a.authorization, body: vevent(uid, uid), headers: { 'content-type': 'text/calendar' } })).status, 201);
  }
  const sync = (level: string, token = '') =>
    dav('REPORT', calendar, {
      auth: a.authorization,
      body: `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>${level}</d:sync-level><d:prop/></d:sync-collection>`,
    });
  const res = await sync('1');
  assert.equal(res.status, 207, res.text);
  const members = responses(res.text);
  assert.deepEqual(members.map((m) => m.href).sort(), [`${calendar}one.ics`, `${calendar}two.ics`]);
  for (const m of members) assert.match(m.raw, /^<d:href>[^<]*<\/d:href><d:propstat><d:prop\/><d:status>HTTP\/1.1 200 OK<\/d:status><\/d:propstat>$/, `a changed member carries a propstat: ${m.raw}`);
  const token = /<d:sync-token>([^<]*)<\/d:sync-token>/.exec(res.text)?.[1] ?? '';
  assert.equal((await dav('DELETE', `${calendar}two.ics`, { auth: a.authorization })).status, 204);
  const [two, ...rest] = responses((await sync('1', token)).text);
  assert.equal(rest.length, 0);
  assert.equal(two?.href, `${calendar}two.ics`);
  assert.match(two?.raw ?? '', /^<d:href>[^<]*<\/d:href><d:status>HTTP\/1.1 404 Not Found<\/d:status>$/, 'a deleted member carries its status only');
  assert.equal((await sync('infinite')).status, 207, 'infinite lists the same members: collections hold no collections');
  for (const level of ['2', 'bogus', '']) {
    const bad = await sync(level);
    assert.equal(bad.status, 400, `sync-level ${JSON.stringify(level)}: ${bad.text}`);
  }

  const home = await dav('PROPFIND', `/dav/users/${a.accountName}/`, { auth: a.authorization, depth: '0', body: propfind('d:supported-report-set') });
  assert.equal(home.status, 207);
  assert.match(home.text, /<d:propstat><d:prop><d:supported-report-set\/><\/d:prop><d:status>HTTP\/1.1 200 OK/, `the home supports no report, and says so: ${home.text}`);
});

test('a PUT of malformed data is refused with the precondition and no internal error text', async () => {
  const a = await newAccount(server);
  const calendar = `/dav/users/${a.accountName}/calendar/`;
  // An empty RRULE made ical.js throw a TypeError whose text reached the body.
  const malformed = vevent('bad-rule', 'Bad rule', '20260110T100000Z', '20260110T110000Z', 'RRULE:\r\n');
  const res = await dav('PUT', `${calendar}bad-rule.ics`, { auth: a.authorization, body: malformed, headers: { 'content-type': 'text/calendar' } });
  assert.equal(res.status, 403, res.text);
  assert.match(res.text, /<cal:valid-calendar-data\/>/);
  assert.doesNotMatch(res.text, /TypeError|Cannot read|undefined|properties of/, `no internal message: ${res.text}`);
  assert.match(res.text, /bad date or recurrence/, 'the message still says what is wrong');
});
