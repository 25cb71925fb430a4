import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ContentCheck, ItemFormat, Kind } from '../../src/kinds/kind.js';
import { registerKind } from '../../src/kinds/registry.js';
import { EasClient } from '../support/eas-client.js';
import { getJson, postJson, startTestServer, type TestServer } from '../support/server.js';
import { add, change, Device } from '../support/sync.js';

/**
 * A kind the hub has never heard of, registered by this test alone (docs/design.md § Kinds): bookmarks,
 * JSON objects `{ "uid", "url", "title", "tags" }`. Its module decides what is valid, what is indexed,
 * what duplicates what (the same URL) and how two edits merge (field by field); the hub, untouched,
 * stores and syncs it over the native protocol through a real server, and the faces that do not carry
 * it (CardDAV/CalDAV, ActiveSync) do not list it.
 */

type Bookmark = { uid: string; url: string; title: string; tags: string[] };

function parse(data: string): Bookmark | string {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return 'a bookmark is a JSON object';
  }
  const b = value as Partial<Bookmark> | null;
  if (typeof b !== 'object' || b === null || typeof b.uid !== 'string' || b.uid === '' || typeof b.url !== 'string' || !/^https?:\/\//.test(b.url)) {
    return 'a bookmark has a uid and an http(s) url';
  }
  return { uid: b.uid, url: b.url, title: typeof b.title === 'string' ? b.title : '', tags: Array.isArray(b.tags) ? b.tags.map(String) : [] };
}

const bookmarkFormat: ItemFormat = {
  check(_kinds, data): ContentCheck {
    const b = parse(data);
    if (typeof b === 'string') return { ok: false, status: 'invalidItem', message: b };
    // The normalized URL goes where a contact's name goes: the store finds twin candidates by it.
    return { ok: true, kind: 'bookmarks', index: { uid: b.uid, title: b.title, startMs: null, endMs: null, name: b.url.toLowerCase().replace(/\/+$/, ''), contactKeys: [] } };
  },
  merge(base, incoming, truth) {
    const [b, m, t] = [parse(base), parse(incoming), parse(truth)];
    if (typeof b === 'string' || typeof m === 'string' || typeof t === 'string') return null;
    const merged: Record<string, unknown> = {};
    for (const field of ['uid', 'url', 'title', 'tags'] as const) {
      const [bv, mv, tv] = [JSON.stringify(b[field]), JSON.stringify(m[field]), JSON.stringify(t[field])];
      if (mv === tv || tv === bv) merged[field] = m[field];
      else if (mv === bv) merged[field] = t[field];
      else return null;
    }
    return JSON.stringify(merged);
  },
  same(a, b) {
    const [x, y] = [parse(a), parse(b)];
    return typeof x !== 'string' && typeof y !== 'string' && JSON.stringify(x) === JSON.stringify(y);
  },
};

const bookmarksKind: Kind = {
  name: 'bookmarks',
  format: bookmarkFormat,
  contentType: 'application/json',
  fileExtension: '.json',
  areTwins: (a, b) => (a.uid !== null && a.uid === b.uid) || (a.name !== null && a.name === b.name),
  faces: {},
};

const bookmark = (uid: string, url: string, title: string, tags: string[] = []) => JSON.stringify({ uid, url, title, tags });

let server: TestServer;
before(async () => {
  registerKind(bookmarksKind);
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

async function bookmarksCollection(user: { authorization: string }): Promise<string> {
  const made = await postJson(`${server.url}/api/v1/collections`, user.authorization, { name: 'bookmarks', kind: 'bookmarks', displayName: 'Bookmarks' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.kind, 'bookmarks');
  return made.body.id as string;
}

test('a registered kind syncs over the native protocol: validated, indexed, deduplicated and merged by its own module', async () => {
  const user = await server.addUser('bookmarker');
  const id = await bookmarksCollection(user);
  const listed = await getJson(`${server.url}/api/v1/collections`, user.authorization);
  assert.ok(listed.body.collections.some((c: { id: string; kind: string }) => c.id === id && c.kind === 'bookmarks'));

  const laptop = new Device(server, user.authorization, 'laptop');
  const phone = new Device(server, user.authorization, 'phone');
  const first = await laptop.sync(id, { commands: [add('a', bookmark('b1', 'https://example.org/', 'Example')), add('bad', '{"title": "no url"}'), add('c', 'not json')] });
  assert.deepEqual(
    first.results.map((r) => [r.status, r.message ?? '']),
    [
      ['ok', ''],
      ['invalidItem', 'a bookmark has a uid and an http(s) url'],
      ['invalidItem', 'a bookmark is a JSON object'],
    ],
    'the kind decides what is valid; one bad item fails alone',
  );
  const serverId = first.results[0]?.serverId as string;

  await phone.pull(id);
  assert.deepEqual(phone.snapshot(id), { [serverId]: bookmark('b1', 'https://example.org/', 'Example') });

  // The same page added again on the phone, under another uid: the kind's duplicate rule (same URL) makes it the same item.
  const again = await phone.sync(id, { commands: [add('p', bookmark('other-uid', 'https://EXAMPLE.org', 'Example again'))] });
  assert.equal(again.results[0]?.serverId, serverId, 'the twin landed on the existing bookmark');

  // Both edit different fields of one version: the kind's merge keeps both edits.
  await laptop.pull(id);
  await phone.pull(id);
  const held = laptop.view(id).get(serverId)?.data as string;
  const base = JSON.parse(held) as Bookmark;
  await laptop.sync(id, { commands: [change(serverId, JSON.stringify({ ...base, title: 'Renamed on the laptop' }))] });
  const concurrent = await phone.sync(id, { commands: [change(serverId, JSON.stringify({ ...base, tags: ['phone'] }))] });
  assert.equal(concurrent.results[0]?.status, 'ok');
  await laptop.pull(id);
  assert.deepEqual(JSON.parse(laptop.view(id).get(serverId)?.data as string), { ...base, title: 'Renamed on the laptop', tags: ['phone'] }, 'merged field by field');
  await phone.pull(id);
  assert.deepEqual(phone.snapshot(id), laptop.snapshot(id));
});

test('a kind no module registered is refused with a clear error; the faces that do not carry a kind do not list it', async () => {
  const user = await server.addUser('faces');
  const refused = await postJson(`${server.url}/api/v1/collections`, user.authorization, { name: 'recipes', kind: 'recipes', displayName: 'Recipes' });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.status, 'invalidRequest');
  assert.equal(refused.body.message, 'this server holds no kind named recipes');
  const badName = await postJson(`${server.url}/api/v1/collections`, user.authorization, { name: 'x', kind: 'Not A Kind', displayName: 'X' });
  assert.equal(badName.status, 400);
  // Mail folders come from an IMAP upstream only (docs/protocol.md §10.5).
  const mail = await postJson(`${server.url}/api/v1/collections`, user.authorization, { name: 'Folder', kind: 'mail', displayName: 'Folder' });
  assert.deepEqual([mail.status, mail.body.status, mail.body.message], [400, 'invalidRequest', 'a mail collection comes from its source, not from a device: a message reaches a mail folder by mail']);

  await bookmarksCollection(user);
  const home = await fetch(`${server.url}/dav/users/faces/`, { method: 'PROPFIND', headers: { authorization: user.authorization, depth: '1' } });
  assert.equal(home.status, 207);
  const listing = await home.text();
  assert.match(listing, /\/dav\/users\/faces\/contacts\//);
  assert.doesNotMatch(listing, /bookmarks/, 'DAV does not list a kind without a DAV face');
  const direct = await fetch(`${server.url}/dav/users/faces/bookmarks/`, { method: 'PROPFIND', headers: { authorization: user.authorization, depth: '0' } });
  assert.equal(direct.status, 404);

  const phone = new EasClient({ baseUrl: server.url, user: 'faces', password: user.password, deviceId: 'KindsPhone1', version: '16.1' });
  const { folders } = await phone.folders();
  assert.deepEqual(folders.map((f) => f.name).sort(), ['Calendar', 'Contacts', 'Notes', 'Tasks'], 'ActiveSync lists the four kinds it carries, not bookmarks');
});
