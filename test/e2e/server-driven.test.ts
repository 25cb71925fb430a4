import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DavPoint } from '../../src/connectors/dav/point.js';
import { Transport, type Fetch } from '../../src/connectors/dav/transport.js';
import { Causality } from '../../sim/causality.js';
import { SimUpstream, upstreamAccount } from '../../sim/dav-upstream.js';
import { Rng } from '../../sim/random.js';
import { Workload } from '../../sim/workload.js';
import type { ServerSyncPoint } from '../../src/protocol/server-point.js';
import { memoryPoint } from '../support/memory-point.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { serverSql } from '../support/database.js';
import { add, change, newAccount } from '../support/sync.js';

/**
 * The two-stage process (docs/design.md § Server-driven sync points) for sync points the server drives (an upstream server, a folder), run
 * against the real hub and SQLite store, side by side with a native device.
 */
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

/** The simulated upstream (sim/dav-upstream.ts) with no faults of its own: a test makes the ones it needs. */
function quietUpstream(): SimUpstream {
  const noFaults = { edit: 0, restart: 0, busy: 0, lostRequest: 0, lostAnswer: 0, hubCrash: 0 };
  return new SimUpstream(new Rng(1), noFaults, 10, new Workload(new Rng(2), [], new Causality(), undefined), new Causality(), undefined);
}

/** The connector's transport to it, through `fetch` (the upstream's own, or one that steps in). */
function transportTo(upstream: SimUpstream, fetch: Fetch = upstream.fetch): Transport {
  return new Transport({ clock: Date, account: upstreamAccount, fetch });
}

/** The upstream's fetch, with the answer to the first PUT lost after the upstream took the PUT. */
function losingFirstPutAnswer(upstream: SimUpstream): Fetch {
  let lose = true;
  return async (url, init) => {
    const answer = await upstream.fetch(url, init);
    if (init.method === 'PUT' && lose) {
      lose = false;
      throw new TypeError('fetch failed: connection reset');
    }
    return answer;
  };
}

/** A DavPoint on the simulated upstream (sim/dav-upstream.ts), its device made first as an upstream's is when it is added. */
async function davPoint(accountId: string, contacts: string, transport: Transport, upstream: SimUpstream): Promise<DavPoint> {
  assert.ok(await server.hub.admitDevice({ accountId, device: { id: 'upstream', name: 'Upstream' }, protocol: 'dav-upstream' }, 100, 'dav-upstream'));
  return new DavPoint({ id: 'upstream', name: 'Upstream', protocol: 'dav-upstream', collectionId: contacts, kind: 'contacts', transport, collectionUrl: upstream.collectionUrl, type: 'addressbook' });
}


test('a server-driven point receives the truth, and its own edits reach native devices', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const x = (await phone.sync(contacts, { commands: [add('x', vcard('ux', 'X'))] })).results[0]?.serverId as string;
  const folder = await memoryPoint(server, accountId, 'folder', 'Folder', contacts);
  let run = await server.hub.runServerDrivenSync(accountId, [folder]);
  assert.deepEqual(run.acknowledged, ['folder']);
  assert.equal(folder.records.get(x), vcard('ux', 'X'));

  folder.edits = [change(x, vcard('ux', 'X from folder')), add('y', vcard('uy', 'Y'))];
  run = await server.hub.runServerDrivenSync(accountId, [folder]);
  assert.deepEqual(run.acknowledged, ['folder']);
  await phone.sync(contacts);
  assert.deepEqual([...phone.view(contacts).values()].map((i) => i.data).sort(), [vcard('ux', 'X from folder'), vcard('uy', 'Y')]);
});

test('an unacknowledged run is replayed: the same actions come again, and the report is not applied twice', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const folder = await memoryPoint(server, accountId, 'folder', 'Folder', contacts);
  await server.hub.runServerDrivenSync(accountId, [folder]);
  await phone.sync(contacts, { commands: [add('p', vcard('up', 'From phone'))] });

  // The folder adds a record (no UID, so only the replay can recognize it) and fails to apply its actions.
  folder.edits = [add('mine', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nEND:VCARD\r\n')];
  folder.acknowledge = false;
  let run = await server.hub.runServerDrivenSync(accountId, [folder]);
  assert.deepEqual(run.acknowledged, []);
  folder.acknowledge = true;
  run = await server.hub.runServerDrivenSync(accountId, [folder]);
  assert.deepEqual(run.acknowledged, ['folder']);
  assert.deepEqual([...folder.records.values()].map((d) => /FN:([^\r]*)/.exec(d)?.[1]).sort(), ['From phone', 'No UID']);
  await phone.sync(contacts);
  assert.equal(phone.view(contacts).size, 2, 'the retried report created nothing twice');
});

test('an offline point sits the run out; the others go ahead, and it catches up later', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const up = await memoryPoint(server, accountId, 'upstream', 'Upstream', contacts);
  const folder = await memoryPoint(server, accountId, 'folder', 'Folder', contacts);
  await phone.sync(contacts, { commands: [add('a', vcard('ua', 'A'))] });
  up.online = false;
  let run = await server.hub.runServerDrivenSync(accountId, [up, folder]);
  assert.deepEqual([run.online, run.offline, run.acknowledged], [['folder'], ['upstream'], ['folder']]);
  assert.equal(up.applied, 0);
  up.online = true;
  run = await server.hub.runServerDrivenSync(accountId, [up, folder]);
  assert.deepEqual(run.acknowledged, ['upstream', 'folder']);
  assert.deepEqual([...up.records.values()], [vcard('ua', 'A')]);
});

test('a point whose device is gone (its upstream removed while it reported) runs no exchange and is not brought back', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const gone = await memoryPoint(server, accountId, 'gone', 'Gone', contacts);
  gone.edits = [add('x', vcard('ux', 'X'))];
  await server.hub.revokeDevice(accountId, 'gone');
  const run = await server.hub.runServerDrivenSync(accountId, [gone]);
  assert.deepEqual([run.online, run.acknowledged], [['gone'], []]);
  assert.equal((await server.hub.listDeviceHealth(accountId)).some((d) => d.device.id === 'gone'), false);
  assert.equal((await device('phone').sync(contacts)).commands.length, 0, 'its report was not applied');
});

test('a point asked again from the key it did not acknowledge reports only what changed since: what its last report added stays (sim seed 11100421 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const folder = await memoryPoint(server, accountId, 'folder', 'Folder', contacts);
  await server.hub.runServerDrivenSync(accountId, [folder]);
  await phone.sync(contacts, { commands: [add('p', vcard('up', 'From phone'))] });
  folder.edits = [add('mine', vcard('um', 'Mine'))];
  folder.acknowledge = false;
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [folder])).acknowledged, []);
  // The hub remembered that report with the transaction that applied it (as DavPoint's records and
  // cursor are): the point's next report, from the same key, names nothing of it again.
  folder.edits = [];
  folder.acknowledge = true;
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [folder])).acknowledged, ['folder']);
  await phone.sync(contacts);
  assert.deepEqual([...phone.view(contacts).values()].map((i) => /FN:([^\r]*)/.exec(i.data)?.[1]).sort(), ['From phone', 'Mine']);
  assert.deepEqual([...folder.records.values()].map((d) => /FN:([^\r]*)/.exec(d)?.[1]), ['From phone']);
});

test('a DavPoint whose create reached the upstream but whose answer was lost does not read the member back as a new item (sim seed 11100414 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  // A card without UID: nothing but the point's own records can tell the member it made from a new one.
  await phone.sync(contacts, { commands: [add('p', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nN:UID;No;;;\r\nEND:VCARD\r\n')] });
  const upstream = quietUpstream();
  const transport = transportTo(upstream, losingFirstPutAnswer(upstream));
  const point = await davPoint(accountId, contacts, transport, upstream);
  const first = await server.hub.runServerDrivenSync(accountId, [point]);
  assert.deepEqual([first.acknowledged, first.failures.length], [[], 1]);
  assert.equal(upstream.contents().size, 1, 'the create reached the upstream');
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, ['upstream']);
  await phone.sync(contacts);
  assert.equal(phone.view(contacts).size, 1, 'the member the point made is the same item, not a second one');
  assert.equal(upstream.contents().size, 1);
});

test('an upstream edit of a contact the point was never told of, and that is deleted in the hub since, is added again, as a device\'s would be (sim seed 11100413 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const card = (note: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-edited\r\nFN:Edited\r\nN:Edited;;;;\r\nNOTE:${note}\r\nEND:VCARD\r\n`;
  const x = (await phone.sync(contacts, { commands: [add('x', card('first'))] })).results[0]?.serverId as string;
  const upstream = quietUpstream();
  const transport = transportTo(upstream, losingFirstPutAnswer(upstream));
  const point = await davPoint(accountId, contacts, transport, upstream);
  // The card reaches the upstream, but the answer does not: the point does not acknowledge, and so was never told of it.
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, []);
  const [href] = [...upstream.contents().keys()] as [string];
  // The phone deletes it; meanwhile another client of the upstream edits it there.
  await phone.sync(contacts, { commands: [{ op: 'delete', serverId: x }] });
  const authorization = `Basic ${Buffer.from(`${upstreamAccount.username}:${upstreamAccount.password}`).toString('base64')}`;
  assert.equal((await upstream.fetch(href, { method: 'PUT', headers: { authorization }, body: card('edited upstream') })).status, 204);
  for (let run = 0; run < 3; run++) await server.hub.runServerDrivenSync(accountId, [point]);
  await phone.sync(contacts);
  assert.deepEqual([...phone.view(contacts).values()].map((i) => i.data), [card('edited upstream')]);
  assert.deepEqual([...upstream.contents().values()], [card('edited upstream')]);
});

test('a point whose key expired starts over, and what was deleted in the hub meanwhile is deleted at the upstream too (sim seed 11100440 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const results = (await phone.sync(contacts, { commands: [add('a', vcard('ua', 'Kept')), add('b', vcard('ub', 'Deleted'))] })).results;
  const upstream = quietUpstream();
  const transport = transportTo(upstream);
  const point = await davPoint(accountId, contacts, transport, upstream);
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, ['upstream']);
  assert.equal(upstream.contents().size, 2);
  const deleted = results[1]?.serverId as string;
  await phone.sync(contacts, { commands: [{ op: 'delete', serverId: deleted }] });
  // The point stays away longer than tombstones are kept: the delete's tombstone is purged, and with it the point's key.
  await serverSql(server, 'UPDATE items SET deleted_at = 1 WHERE account_id = ? AND id = ?', [accountId, deleted]);
  assert.ok((await server.hub.purgeTombstones()) >= 1);
  // One run finds the key expired; the next ones are the initial sync (runs go on while there is more).
  for (let run = 0; run < 3; run++) await server.hub.runServerDrivenSync(accountId, [point]);
  assert.deepEqual([...upstream.contents().values()], [vcard('ua', 'Kept')]);
});

test('a create that never reached the upstream is not taken for deleted there when the upstream forgets its sync token and lists every member (sim seed 11100488 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const upstream = quietUpstream();
  let busy = false;
  let forget = false;
  const transport = transportTo(upstream, async (url, init) => {
    if (init.method === 'PUT' && busy) {
      busy = false;
      return new Response(null, { status: 503, headers: { 'retry-after': '60' } });
    }
    if (init.method === 'REPORT' && forget && /sync-token>[^<]/.test(String(init.body))) {
      forget = false;
      return new Response('<?xml version="1.0"?><d:error xmlns:d="DAV:"><d:valid-sync-token/></d:error>', { status: 403, headers: { 'content-type': 'application/xml' } });
    }
    return upstream.fetch(url, init);
  });
  const point = await davPoint(accountId, contacts, transport, upstream);
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, ['upstream']);
  await phone.sync(contacts, { commands: [add('a', vcard('ua', 'Never landed'))] });
  busy = true;
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, []);
  forget = true;
  for (let run = 0; run < 2; run++) await server.hub.runServerDrivenSync(accountId, [point]);
  await phone.sync(contacts);
  assert.deepEqual([...phone.view(contacts).values()].map((i) => i.data), [vcard('ua', 'Never landed')]);
  assert.deepEqual([...upstream.contents().values()], [vcard('ua', 'Never landed')]);
});

test('a DavPoint whose server stops after it wrote to the upstream, before the hub stored its records, does not read what it made back as new items (sim seed 11100520 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  // A card without UID: nothing but the point's records can tell the member it made from a new one.
  await phone.sync(contacts, { commands: [add('p', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nN:UID;No;;;\r\nEND:VCARD\r\n')] });
  const upstream = quietUpstream();
  const transport = transportTo(upstream);
  const dav = await davPoint(accountId, contacts, transport, upstream);
  let stop = true;
  const point: ServerSyncPoint = {
    id: dav.id,
    name: dav.name,
    protocol: dav.protocol,
    collectionId: dav.collectionId,
    report: (memory, cursor) => dav.report(memory, cursor),
    async apply(outcome, memory) {
      const applied = await dav.apply(outcome, memory);
      // What the records transaction would have stored is lost with the process.
      if (stop) throw new Error('the server stopped');
      return applied;
    },
  };
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, []);
  assert.equal(upstream.contents().size, 1, 'the create reached the upstream');
  stop = false;
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, ['upstream']);
  await phone.sync(contacts);
  assert.equal(phone.view(contacts).size, 1, 'the member the point made is the same item, not a second one');
  assert.equal(upstream.contents().size, 1);
});

test('a PUT answered without an ETag leaves the member\'s version unknown, to be read at the next report: asked for separately, it may be another client\'s (sim seed 11100535 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const card = (note: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-race\r\nFN:Race\r\nN:Race;;;;\r\nNOTE:${note}\r\nEND:VCARD\r\n`;
  await phone.sync(contacts, { commands: [add('x', card('from the phone'))] });
  const upstream = quietUpstream();
  const authorization = `Basic ${Buffer.from(`${upstreamAccount.username}:${upstreamAccount.password}`).toString('base64')}`;
  let race = true;
  const transport = transportTo(upstream, async (url, init) => {
    const answer = await upstream.fetch(url, init);
    if (init.method !== 'PUT' || !race) return answer;
    race = false;
    // Another client of the upstream writes the member before the hub's client asks for its etag.
    await upstream.fetch(url, { method: 'PUT', headers: { authorization }, body: card('from another client') });
    return new Response(null, { status: answer.status });
  });
  const point = await davPoint(accountId, contacts, transport, upstream);
  for (let run = 0; run < 3; run++) await server.hub.runServerDrivenSync(accountId, [point]);
  await phone.sync(contacts);
  const held = [...phone.view(contacts).values()].map((i) => i.data);
  assert.deepEqual(held, [card('from another client')]);
  assert.deepEqual([...upstream.contents().values()], held);
});

test('a second upstream member matched by UID to an item another member holds takes the item, and the first is deleted at the upstream: one copy each side (sim seed 11100471 with --upstreams 1)', async () => {
  const { accountId, contacts, device } = await newAccount(server);
  const phone = device('phone');
  const card = (note: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-twice\r\nFN:Twice\r\nN:Twice;;;;\r\nNOTE:${note}\r\nEND:VCARD\r\n`;
  await phone.sync(contacts, { commands: [add('x', card('from the phone'))] });
  const upstream = quietUpstream();
  const point = await davPoint(accountId, contacts, transportTo(upstream), upstream);
  assert.deepEqual((await server.hub.runServerDrivenSync(accountId, [point])).acknowledged, ['upstream']);
  const [first] = [...upstream.contents().keys()] as [string];
  // Another client of the upstream writes the same contact as a member of its own, with an edit.
  const authorization = `Basic ${Buffer.from(`${upstreamAccount.username}:${upstreamAccount.password}`).toString('base64')}`;
  const second = new URL('other-copy.vcf', first).href;
  assert.equal((await upstream.fetch(second, { method: 'PUT', headers: { authorization, 'if-none-match': '*' }, body: card('edited upstream') })).status, 201);
  for (let run = 0; run < 2; run++) await server.hub.runServerDrivenSync(accountId, [point]);
  await phone.sync(contacts);
  assert.deepEqual([...phone.view(contacts).values()].map((i) => i.data), [card('edited upstream')]);
  assert.deepEqual([...upstream.contents()], [[second, card('edited upstream')]], 'the first member is gone, the second holds the item');
  // The displaced member's record went with it: later runs hand the point nothing more.
  const run = await server.hub.runServerDrivenSync(accountId, [point]);
  assert.deepEqual([run.acknowledged, run.failures], [['upstream'], []]);
  assert.deepEqual([...upstream.contents().keys()], [second]);
});
