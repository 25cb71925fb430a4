import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import type { CollectionResponse } from '../../src/protocol/sync.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, change, collectionIds, del, Device } from '../support/sync.js';

/** Windowing: a large collection reaches a new device page by page, each item exactly once. */

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

const itemCount = 10_000;

/** Checks the pages of one pull: keys 1, 2, 3, ..., moreAvailable on all but the last, windows respected. */
function checkPages(pages: CollectionResponse[], window: number): string[] {
  const ids: string[] = [];
  for (const [i, page] of pages.entries()) {
    assert.equal(page.syncKey, i + 1, `page ${i} key`);
    const last = i === pages.length - 1;
    assert.equal(page.moreAvailable, !last, `page ${i} moreAvailable`);
    assert.ok(page.commands.length <= window, `page ${i} holds ${page.commands.length} > ${window}`);
    if (!last) assert.equal(page.commands.length, window, `a page before the last is full`);
    for (const command of page.commands) {
      assert.equal(command.op, 'add');
      ids.push(command.serverId);
    }
  }
  return ids;
}

test(`windowing: ${itemCount} contacts reach a new device page by page, each exactly once`, async () => {
  const { authorization } = await server.addUser('many');
  const { contacts } = await collectionIds(server, authorization);
  assert.ok(contacts);
  const loader = new Device(server, authorization, 'loader');
  const batch = limits.itemsPerRequestMax;
  for (let start = 0; start < itemCount; start += batch) {
    const commands = [];
    for (let i = start; i < Math.min(start + batch, itemCount); i++) commands.push(add(`c${i}`, vcard(`uid-${i}`, `Contact ${i}`)));
    const r = await loader.sync(contacts, { commands });
    assert.equal(r.results.length, commands.length);
    assert.ok(r.results.every((res) => res.status === 'ok'));
  }
  const expected = loader.snapshot(contacts);
  assert.equal(Object.keys(expected).length, itemCount);

  const reader = new Device(server, authorization, 'reader-500');
  const pages = await reader.pull(contacts, { windowSize: 500 });
  assert.equal(pages.length, itemCount / 500);
  const ids = checkPages(pages, 500);
  assert.equal(ids.length, itemCount, 'no item sent twice');
  assert.equal(new Set(ids).size, itemCount);
  assert.deepEqual(reader.snapshot(contacts), expected);

  // In step: nothing more, and an idle exchange keeps its key (docs/protocol.md §5.1).
  const after = await reader.sync(contacts, { windowSize: 500 });
  assert.equal(after.syncKey, pages.length);
  assert.deepEqual(after.commands, []);
  assert.equal(after.moreAvailable, false);

  // Default window, and a window above the maximum (capped).
  for (const [deviceId, windowSize, expectedWindow] of [
    ['reader-default', undefined, limits.windowItemsDefault],
    ['reader-huge', 50_000, limits.windowItemsMax],
  ] as const) {
    const device = new Device(server, authorization, deviceId);
    const pulled = await device.pull(contacts, windowSize === undefined ? {} : { windowSize });
    assert.equal(pulled.length, Math.ceil(itemCount / expectedWindow), deviceId);
    const got = checkPages(pulled, expectedWindow);
    assert.equal(new Set(got).size, itemCount, deviceId);
    assert.equal(got.length, itemCount, deviceId);
    assert.deepEqual(device.snapshot(contacts), expected, deviceId);
  }
});

test('windowing: deletes and changes made while a device is paging reach it', async () => {
  const { authorization } = await server.addUser('paging');
  const { contacts } = await collectionIds(server, authorization);
  assert.ok(contacts);
  const writer = new Device(server, authorization, 'writer');
  const count = 60;
  const r = await writer.sync(contacts, { commands: Array.from({ length: count }, (_, i) => add(`c${i}`, vcard(`uid-${i}`, `Contact ${i}`))) });
  const idOf = (i: number) => r.results[i]?.serverId as string;

  const reader = new Device(server, authorization, 'reader');
  const window = 10;
  const first = await reader.sync(contacts, { windowSize: window });
  const second = await reader.sync(contacts, { windowSize: window });
  assert.ok(first.moreAvailable && second.moreAvailable);
  const delivered = [...first.commands, ...second.commands].map((cmd) => cmd.serverId);
  assert.deepEqual(delivered, Array.from({ length: 20 }, (_, i) => idOf(i)), 'pages follow the change order');

  // Mid-way: delete two delivered items and two not yet delivered; change one of each; add one.
  const w = await writer.sync(contacts, {
    commands: [
      del(idOf(3)),
      del(idOf(15)),
      del(idOf(30)),
      del(idOf(55)),
      change(idOf(5), vcard('uid-5', 'Contact 5 changed')),
      change(idOf(40), vcard('uid-40', 'Contact 40 changed')),
      add('late', vcard('uid-late', 'Late arrival')),
    ],
  });
  assert.ok(w.results.every((res) => res.status === 'ok'));
  const late = w.results[6]?.serverId as string;
  await writer.sync(contacts, { commands: [change(idOf(40), vcard('uid-40', 'Contact 40 changed twice'))] });

  const rest = await reader.pull(contacts, { windowSize: window });
  const pages = [first, second, ...rest];
  pages.forEach((page, i) => assert.equal(page.syncKey, i + 1));
  const later = rest.flatMap((page) => page.commands);
  const opsFor = (id: string) => later.filter((cmd) => cmd.serverId === id).map((cmd) => cmd.op);

  assert.deepEqual(opsFor(idOf(3)), ['delete'], 'a delivered item deleted mid-way arrives as a delete');
  assert.deepEqual(opsFor(idOf(15)), ['delete']);
  assert.ok(!opsFor(idOf(30)).includes('add') && !opsFor(idOf(55)).includes('add'), 'an item deleted before delivery never arrives live');
  assert.equal(opsFor(idOf(5)).length, 1, 'a delivered item changed mid-way arrives again, once');
  assert.equal(opsFor(idOf(40)).length, 1, 'an undelivered item changed twice arrives once');
  assert.equal(opsFor(late).length, 1);

  const view = reader.view(contacts);
  assert.equal(view.get(idOf(5))?.data, vcard('uid-5', 'Contact 5 changed'));
  assert.equal(view.get(idOf(40))?.data, vcard('uid-40', 'Contact 40 changed twice'));
  assert.equal(view.get(late)?.data, vcard('uid-late', 'Late arrival'));
  for (const i of [3, 15, 30, 55]) assert.equal(view.has(idOf(i)), false, `item ${i} is gone`);
  assert.equal(view.size, count - 4 + 1);
  assert.deepEqual(reader.snapshot(contacts), writer.snapshot(contacts));

  // Every item delivered live in the later pages is one not already delivered unchanged.
  const liveLater = later.filter((cmd) => cmd.op !== 'delete').map((cmd) => cmd.serverId);
  assert.equal(new Set(liveLater).size, liveLater.length, 'no item twice in the later pages');
});
