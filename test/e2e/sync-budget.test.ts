import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import type { CollectionResponse } from '../../src/protocol/sync.js';
import { HttpTransport, SyncClient } from '../../src/sdk/index.js';
import { openSqliteReplica } from '../../src/sdk/node/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { add, Device, fetchItem, newAccount, syncOnce } from '../support/sync.js';
import { all, commandsOf, easAccount, has, textAt } from '../support/eas-client.js';

/**
 * The response budget (docs/protocol.md §6, §8): whatever the window and the fetches ask for, one sync
 * response carries at most limits.syncResponseBytesMax of item data, and every item still arrives.
 */

let server: TestServer;
const work = mkdtempSync(join(tmpdir(), 'syncpoint-budget-'));
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A contact of about `bytes` bytes: a long NOTE folded into short lines (an item line is at most 512 KiB). */
function bigContact(i: number, bytes = 900_000): string {
  const line = `${i}`.padEnd(73, 'x');
  return `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big-${i}\r\nFN:Big ${i}\r\nN:${i};Big;;;\r\nNOTE:${Array.from({ length: Math.floor(bytes / 76) }, () => line).join('\r\n ')}\r\nEND:VCARD\r\n`;
}

/** Item data one collection answer carries, in UTF-8 bytes. */
function dataBytes(r: CollectionResponse): number {
  const sizes = [...r.commands.map((c) => (c.op === 'delete' ? 0 : Buffer.byteLength(c.data))), ...r.fetched.map((f) => Buffer.byteLength(f.data))];
  return sizes.reduce((a, b) => a + b, 0);
}

/** An account with `count` big contacts, written by a device of its own; their server ids in order. */
async function accountWithBigContacts(count: number) {
  const account = await newAccount(server);
  const writer = account.device('writer');
  await writer.sync(account.contacts);
  const ids: string[] = [];
  for (let start = 0; start < count; start += 10) {
    const commands = Array.from({ length: Math.min(10, count - start) }, (_, k) => add(`c${start + k}`, bigContact(start + k)));
    const r = await writer.sync(account.contacts, { commands });
    assert.ok(r.results.every((res) => res.status === 'ok'), JSON.stringify(r.results.filter((res) => res.status !== 'ok')));
    ids.push(...r.results.map((res) => res.serverId as string));
  }
  return { ...account, writer, ids };
}

test('a window of 1000 big contacts is cut by bytes: pages stay under the budget and a device gets each item exactly once', async () => {
  const { contacts, device, writer, ids } = await accountWithBigContacts(30);
  const reader = device('reader');
  const pages = await reader.pull(contacts, { windowSize: 1000 });
  assert.ok(pages.length >= 2, `30 items of 900 KB fit in no single response (${pages.length} page)`);
  for (const [i, page] of pages.entries()) {
    assert.ok(dataBytes(page) <= limits.syncResponseBytesMax, `page ${i} carries ${dataBytes(page)} bytes`);
    assert.ok(page.commands.length > 0, `page ${i} makes progress`);
    assert.equal(page.moreAvailable, i < pages.length - 1);
  }
  const delivered = pages.flatMap((p) => p.commands.map((c) => c.serverId));
  assert.equal(delivered.length, ids.length, 'no item twice');
  assert.deepEqual([...delivered].sort(), [...ids].sort());
  assert.deepEqual(reader.snapshot(contacts), writer.snapshot(contacts));
});

test('a replayed exchange cut by bytes covers exactly the span of the answer it replaces, whatever its fetches', async () => {
  const { authorization, contacts, device, ids } = await accountWithBigContacts(40);
  const reader = device('replayer');
  const first = await reader.sync(contacts, { windowSize: 1000 });
  assert.ok(first.moreAvailable);
  const key = reader.key(contacts);
  const call = { collectionId: contacts, syncKey: key, windowSize: 1000 };
  const answer = await syncOnce(server, authorization, reader.id, call);
  assert.ok(answer.moreAvailable, 'the second page is cut by bytes too');
  // The answer is lost; the retry also fetches items, which must not move where its window ends.
  const replay = await syncOnce(server, authorization, reader.id, { ...call, commands: ids.slice(0, 5).map(fetchItem) });
  assert.equal(replay.syncKey, answer.syncKey);
  assert.equal(replay.seq, answer.seq);
  assert.equal(replay.moreAvailable, answer.moreAvailable);
  assert.deepEqual(
    replay.commands.map((c) => c.serverId),
    answer.commands.map((c) => c.serverId),
  );
  assert.ok(dataBytes(replay) <= limits.syncResponseBytesMax, `the replay carries ${dataBytes(replay)} bytes`);
  assert.ok(replay.results.some((r) => r.status === 'deferred'), 'the full response defers fetches');
});

test('1,000 fetches of one 1 MB item cost one item; fetches of many big items past the budget are deferred and all arrive later', async () => {
  const { authorization, contacts, device, ids } = await accountWithBigContacts(30);
  const reader = device('fetcher');
  await reader.pull(contacts, { windowSize: 1 });
  const [one] = ids as [string];

  const started = process.memoryUsage().rss;
  const same = await syncOnce(server, authorization, reader.id, { collectionId: contacts, syncKey: reader.key(contacts), commands: Array.from({ length: 1000 }, () => fetchItem(one)) });
  reader.keys.set(contacts, same.syncKey);
  assert.equal(same.results.length, 1000);
  assert.ok(same.results.every((r, i) => r.index === i && r.op === 'fetch' && r.status === 'ok' && r.serverId === one));
  assert.equal(same.fetched.length, 1, 'a repeated fetch is carried once');
  assert.ok(process.memoryUsage().rss - started < 256 * 1024 * 1024, 'the server did not build a gigabyte');

  // Every big item, each twice: what does not fit waits for a later exchange.
  let wanted = [...ids, ...ids];
  const got = new Map<string, string>();
  let exchanges = 0;
  while (wanted.length > 0) {
    assert.ok(++exchanges <= ids.length, 'fetching makes progress');
    const r = await syncOnce(server, authorization, reader.id, { collectionId: contacts, syncKey: reader.key(contacts), commands: wanted.map(fetchItem) });
    reader.keys.set(contacts, r.syncKey);
    assert.ok(dataBytes(r) <= limits.syncResponseBytesMax, `exchange ${exchanges} carries ${dataBytes(r)} bytes`);
    assert.ok(r.fetched.length > 0);
    for (const f of r.fetched) {
      assert.ok(!got.has(f.serverId), `${f.serverId} fetched once`);
      got.set(f.serverId, f.data);
    }
    assert.ok(r.results.every((res) => res.status === 'ok' || res.status === 'deferred'));
    wanted = r.results.filter((res) => res.status === 'deferred').map((res) => res.serverId as string);
  }
  assert.ok(exchanges >= 2, 'the budget deferred some fetches');
  assert.deepEqual([...got.keys()].sort(), [...ids].sort());
  assert.equal(got.get(one), bigContact(0));
});

test('the SDK fetches what it asks for, again in later exchanges when the server defers it', async () => {
  const { contacts, accountName, password, ids } = await accountWithBigContacts(30);
  const transport = new HttpTransport({ baseUrl: server.url, credentials: { user: accountName, password } });
  const replica = openSqliteReplica(join(work, 'sdk-fetcher.db'));
  const client = new SyncClient({ transport, replica, device: { id: 'sdk-fetcher' }, windowSize: 1000 });
  const synced = await client.syncCollection(contacts);
  assert.ok(synced.exchanges >= 2, 'the initial sync follows moreAvailable past the byte budget');
  assert.equal(replica.transaction((tx) => tx.all(contacts).filter((i) => i.data !== null).length), ids.length);

  // The replica lost its copies' content (say, a cache evicted them); fetching brings every one back.
  replica.transaction((tx) => {
    for (const item of tx.all(contacts)) tx.put(contacts, { ...item, data: 'evicted' });
  });
  const fetched = await client.fetchItems(contacts, ids);
  assert.ok(fetched.exchanges >= 2, `the fetches took ${fetched.exchanges} exchanges`);
  const held = replica.transaction((tx) => ids.map((id) => tx.byServerId(contacts, id)?.data));
  assert.deepEqual(held, ids.map((_, i) => bigContact(i)));
  replica.close();
});

test('an ActiveSync window of 512 big contacts is cut by the same budget and pages to every item once', async () => {
  const account = await easAccount(server);
  const writer = new Device(server, account.authorization, 'eas-writer');
  await writer.sync(account.contacts);
  for (let start = 0; start < 30; start += 10) {
    const r = await writer.sync(account.contacts, { commands: Array.from({ length: 10 }, (_, k) => add(`c${start + k}`, bigContact(start + k))) });
    assert.ok(r.results.every((res) => res.status === 'ok'));
  }
  const client = account.eas('BudgetPhone');
  const { answers } = await client.pull(account.contacts, await client.primeSync(account.contacts), { windowSize: 512 });
  assert.ok(answers.length >= 2, `30 items of 900 KB fit in no single Sync (${answers.length})`);
  answers.forEach((answer, i) => {
    assert.equal(textAt(answer, 'Status'), '1');
    assert.ok(commandsOf(answer, 'Add').length > 0, `answer ${i} makes progress`);
    assert.equal(has(answer, 'MoreAvailable'), i < answers.length - 1);
  });
  const ids = answers.flatMap((answer) => all(answer, 'Commands/Add').map((add) => textAt(add, 'ServerId')));
  assert.equal(ids.length, 30);
  assert.equal(new Set(ids).size, 30);
});
