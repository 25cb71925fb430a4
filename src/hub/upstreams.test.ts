import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { limits } from '../core/limits.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Store } from '../store/store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { Accounts } from './accounts.js';
import type { HubPorts } from './ports.js';
import { newSecretKey } from './sealed-secrets.js';
import { nextRunAt, Upstreams, type DiscoveredCollection, type UpstreamConnector } from './upstreams.js';

/**
 * The hub's upstream configuration on a real SQLite store, with connectors that answer a fixed discovery
 * (what a real upstream answers is test/e2e/upstream-config.test.ts's part): the bounds, the names of the
 * collections it makes, and that a refused add stores nothing.
 */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-upstreams-'));
let store: Store;
let n = 0;
const ports: HubPorts = {
  clock: { now: () => 1_765_000_000_000 },
  random: { id: () => `id${++n}` },
  logger: { info: () => undefined, warn: () => undefined, debug: () => undefined },
};
const key = newSecretKey();
const connector = (found: DiscoveredCollection[]): Pick<UpstreamConnector, 'discover'> => ({ discover: async () => found });
const book = (path: string, displayName?: string): DiscoveredCollection => ({ url: `https://dav.example${path}`, type: 'addressbook', kinds: ['contacts'], displayName });
const calendar = (path: string, kinds: DiscoveredCollection['kinds']): DiscoveredCollection => ({ url: `https://dav.example${path}`, type: 'calendar', kinds });
let accounts: Accounts;
let upstreams: Upstreams;

before(() => {
  store = openSqliteStore(join(dir, 'syncpoint.db'));
  accounts = new Accounts(store, ports);
  upstreams = new Upstreams(store, ports);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const byUrlThenName = (a: string[], b: string[]) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`);
const input = (url: string, over: object = {}) => ({ url, username: 'ann', password: 'secret', ...over });
const status = (status: string, pattern: RegExp) => (err: unknown) => err instanceof ProtocolError && err.status === status && pattern.test(err.message);

async function counts(accountId: string) {
  return store.transaction(async (tx) => ({
    upstreams: (await tx.listUpstreams(accountId)).length,
    collections: (await tx.listCollections(accountId)).length,
    devices: (await tx.listDevices(accountId)).length,
  }));
}

test('collections are named after the upstream’s path, made unique, and a calendar’s kinds decide what is made', async () => {
  const { id } = await accounts.create('names', 'hash');
  const view = await upstreams.add(
    id,
    input('https://dav.example/'),
    {
      connector: connector([book('/ann/contacts/', 'Ann’s book'), calendar('/ann/calendar/', ['events', 'tasks', 'notes']), calendar('/ann/todo/', ['tasks']), calendar('/ann/journal/', ['notes']), book('/ann/%2F%00/')]),
      key: () => key,
    },
  );
  assert.deepEqual(
    view.collections.map((c) => [c.url.replace('https://dav.example', ''), c.collectionName, c.kind]).sort(byUrlThenName),
    [
      ['/ann/%2F%00/', 'contacts-3', 'contacts'],
      ['/ann/calendar/', 'calendar-2', 'events'],
      ['/ann/calendar/', 'calendar-2.notes', 'notes'],
      ['/ann/calendar/', 'calendar-2.tasks', 'tasks'],
      ['/ann/contacts/', 'contacts-2', 'contacts'],
      ['/ann/journal/', 'journal', 'notes'],
      ['/ann/todo/', 'todo', 'tasks'],
    ],
  );
  const made = await accounts.listCollections(id);
  assert.equal(made.find((c) => c.name === 'contacts-2')?.displayName, 'Ann’s book');
  // The calendar's tasks collection is its, as for a DAV calendar made without a component set.
  assert.equal(made.find((c) => c.name === 'calendar-2.tasks')?.calendarId, made.find((c) => c.name === 'calendar-2')?.id);
  assert.equal(view.priority, 0);
  assert.equal(view.state, 'new');
});

test('an account’s upstreams are bounded; past the bound nothing is stored, nor is the upstream asked', async () => {
  const { id } = await accounts.create('many', 'hash');
  for (let i = 0; i < limits.upstreamsPerAccountMax; i++) await upstreams.add(id, input(`https://dav.example/${i}/`), { connector: connector([book(`/${i}/book/`)]), key: () => key });
  const before = await counts(id);
  let asked = false;
  const watching: Pick<UpstreamConnector, 'discover'> = {
    discover: async () => {
      asked = true;
      return [book('/x/')];
    },
  };
  await assert.rejects(upstreams.add(id, input('https://dav.example/one-more/'), { connector: watching, key: () => key }), status('limitReached', /upstreamsPerAccountMax/));
  assert.equal(asked, false);
  assert.deepEqual(await counts(id), before);
  // Removing one makes room again.
  await upstreams.remove(id, (await upstreams.list(id))[0]?.id as string);
  await upstreams.add(id, input('https://dav.example/one-more/'), { connector: watching, key: () => key });
});

test('an upstream that would map too many collections is refused whole: no collection, device or upstream is left', async () => {
  const { id } = await accounts.create('wide', 'hash');
  const before = await counts(id);
  const found = Array.from({ length: limits.upstreamCollectionsMax + 1 }, (_, i) => book(`/ann/book${i}/`));
  await assert.rejects(upstreams.add(id, input('https://dav.example/'), { connector: connector(found), key: () => key }), status('limitReached', /upstreamCollectionsMax/));
  assert.deepEqual(await counts(id), before);
  // The account's own collection limit holds too, and rolls back as whole.
  const limited = new Upstreams(store, { ...ports, accountLimits: { appPasswordsPerAccountMax: 1, collectionsPerAccountMax: before.collections + 1, devicesPerAccountMax: 200, pushChannelsPerAccountMax: 1, pollMailboxesPerAccountMax: 1 } });
  await assert.rejects(limited.add(id, input('https://dav.example/'), { connector: connector([book('/a/'), book('/b/')]), key: () => key }), status('limitReached', /collectionsPerAccountMax/));
  assert.deepEqual(await counts(id), before);
  const noDevices = new Upstreams(store, { ...ports, accountLimits: { appPasswordsPerAccountMax: 1, collectionsPerAccountMax: 200, devicesPerAccountMax: before.devices, pushChannelsPerAccountMax: 1, pollMailboxesPerAccountMax: 1 } });
  await assert.rejects(noDevices.add(id, input('https://dav.example/'), { connector: connector([book('/a/')]), key: () => key }), status('limitReached', /devicesPerAccountMax/));
  assert.deepEqual(await counts(id), before);
});

test('bad input is refused before the upstream is asked, and a failed discovery stores nothing and asks for no key', async () => {
  const { id } = await accounts.create('careful', 'hash');
  const never: Pick<UpstreamConnector, 'discover'> = { discover: async () => assert.fail('asked the upstream') };
  const noKey = () => assert.fail('asked for the key');
  for (const [bad, pattern] of [
    [input('dav.example'), /is not a URL/],
    [input('ftp://dav.example/'), /http:\/\/ or https:\/\//],
    [input('https://mail.example/', { kind: 'imap' }), /an upstream URL of kind imap is imap:\/\/ or imaps:\/\//],
    [input('imaps://mail.example/', { kind: 'imap', submissionUrl: 'https://mail.example/' }), /smtps:\/\/ or smtp:\/\//],
    [input('https://dav.example/', { submissionUrl: 'smtps://mail.example/' }), /only an IMAP upstream has a submission server/],
    [input('https://dav.example/', { kind: 'pop' as 'imap' }), /an upstream is dav or imap, not pop/],
    [input('https://ann:pw@dav.example/'), /not in the URL/],
    [input('https://dav.example/', { username: 'a:b' }), /may not hold ":"/],
    [input('https://dav.example/', { password: '' }), /1 to 1024/],
    [input(`https://dav.example/${'x'.repeat(limits.upstreamUrlCharsMax)}`), /at most 2048/],
  ] as const) {
    await assert.rejects(upstreams.add(id, bad, { connector: never, key: noKey }), status('invalidRequest', pattern));
  }
  await assert.rejects(upstreams.add(id, input('https://dav.example/', { collection: 'nosuch' }), { connector: never, key: noKey }), status('notFound', /no collection nosuch/));
  const refused: Pick<UpstreamConnector, 'discover'> = { discover: async () => Promise.reject(new ProtocolError('invalidRequest', 'https://dav.example/ refused the user name and password (401)')) };
  await assert.rejects(upstreams.add(id, input('https://dav.example/'), { connector: refused, key: noKey }), /refused/);
  await assert.rejects(upstreams.add(id, input('https://dav.example/'), { connector: connector([]), key: noKey }), status('invalidRequest', /found no address book or calendar/));
  await assert.rejects(upstreams.add(id, input('https://dav.example/', { collection: 'notes' }), { connector: connector([book('/b/')]), key: () => key }), status('invalidRequest', /holds notes/));
  assert.deepEqual(await upstreams.list(id), []);
});

test('remove is scoped to its account', async () => {
  const { id: a } = await accounts.create('owner', 'hash');
  const { id: b } = await accounts.create('other', 'hash');
  const added = await upstreams.add(a, input('https://dav.example/'), { connector: connector([book('/b/')]), key: () => key });
  await assert.rejects(upstreams.remove(b, added.id), status('notFound', /no upstream/));
  assert.equal((await upstreams.list(a)).length, 1);
  await upstreams.remove(a, added.id);
  assert.deepEqual(await upstreams.list(a), []);
});

test('rotateKey re-seals every account’s passwords under the new key, refuses a wrong old key, and skips what it did', async () => {
  // A store of its own: rotateKey goes through every account of the store.
  const own = openSqliteStore(join(dir, 'rotate.db'));
  try {
    const hubAccounts = new Accounts(own, ports);
    const hubUpstreams = new Upstreams(own, ports);
    const oldKey = newSecretKey();
    const newKey = newSecretKey();
    for (const name of ['rot-a', 'rot-b']) {
      const { id } = await hubAccounts.create(name, 'hash');
      await hubUpstreams.add(id, input('https://rot.example/', { password: `password of ${name}` }), { connector: connector([book('/rot/')]), key: () => oldKey });
    }
    const rows = () =>
      own.transaction(async (tx) => {
        const out = [];
        for (const account of await tx.listAccounts()) out.push(...(await tx.listUpstreams(account.id)));
        return out;
      });
    const before = await rows();
    await assert.rejects(hubUpstreams.rotateKey(newSecretKey(), newKey), /sealed with key/);
    assert.deepEqual((await rows()).map((r) => r.secret), before.map((r) => r.secret), 'a wrong old key re-seals nothing');
    assert.deepEqual(await hubUpstreams.rotateKey(oldKey, newKey), { resealed: 2, already: 0 });
    const after = await rows();
    assert.deepEqual(after.map((r) => hubUpstreams.password(r, [newKey])), ['password of rot-a', 'password of rot-b']);
    for (const r of after) assert.throws(() => hubUpstreams.password(r, [oldKey]), /sealed with key/);
    assert.deepEqual(await hubUpstreams.rotateKey(oldKey, newKey), { resealed: 0, already: 2 });
    assert.deepEqual((await rows()).map((r) => r.secret), after.map((r) => r.secret), 'run again, it writes nothing');
  } finally {
    await own.close();
  }
});

test('run times: every interval plus up to a fifth, spread by upstream; doubling after failures up to the cap; never before Retry-After; none without a schedule', () => {
  const now = 1_765_000_000_000;
  const interval = 5 * 60_000;
  const within = (at: number | null, from: number, to: number) => assert.ok(at !== null && at >= now + from && at <= now + to, `${at === null ? 'null' : at - now} not in [${from}, ${to}]`);
  within(nextRunAt('u1', now, interval, 0), interval, interval * 1.2);
  within(nextRunAt('u1', now, interval, 1), 2 * interval, 2 * interval * 1.2);
  within(nextRunAt('u1', now, interval, 3), 8 * interval, 8 * interval * 1.2);
  within(nextRunAt('u1', now, interval, 40), limits.upstreamBackoffMaxMs, limits.upstreamBackoffMaxMs * 1.2);
  within(nextRunAt('u1', now, interval, 0, 2 * 3600_000), 2 * 3600_000, 2 * 3600_000);
  assert.equal(nextRunAt('u1', now, interval, 0), nextRunAt('u1', now, interval, 0), 'the same upstream and time, the same spread: a simulated run replays it');
  const spread = new Set(Array.from({ length: 20 }, (_, i) => nextRunAt(`u${i}`, now, interval, 0)));
  assert.ok(spread.size > 15, 'upstreams added together run apart');
  assert.equal(nextRunAt('u1', now, 0, 2), null);
  assert.equal(nextRunAt('u1', now, 0, 1, 60_000), now + 60_000);
});
