import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serverSql } from '../support/database.js';
import { makeDavCollection, startRadicale, startXandikos, type DavServerProcess } from '../support/dav-servers.js';
import { addCommand, collectionOf, contactData, easAccount, textAt, vtodo } from '../support/eas-client.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { add, change, del, Device, newAccount } from '../support/sync.js';
import type { UpstreamView } from '../../src/hub/upstreams.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';

/**
 * Upstream CardDAV/CalDAV accounts kept in two-way sync (docs/operations.md § Upstream servers), against
 * Debian's Radicale and Xandikos started here on loopback, through a real Syncpoint server: the first run
 * matches what both sides hold by UID; edits, deletes and unknown properties go both ways; an edit on
 * both sides follows priority and keeps the loser as a conflict record; native, DAV and ActiveSync
 * devices see the upstream's changes and theirs reach it; and a run the upstream breaks off (stopped,
 * 503 with Retry-After, a forgotten token) loses and duplicates nothing.
 */
const work = mkdtempSync(join(tmpdir(), 'syncpoint-upstream-sync-'));
let server: TestServer;
let dirs = 0;

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

const basic = `Basic ${Buffer.from('ann:upstream secret').toString('base64')}`;

/** One upstream server with an address book and a calendar, and what a client of it sees. */
interface Upstream {
  name: string;
  /** Where it stores its data. */
  dir: string;
  server: DavServerProcess;
  book: string;
  calendar: string;
}

async function startUpstream(name: 'Radicale' | 'Xandikos'): Promise<Upstream> {
  const dir = join(work, `${name}-${++dirs}`);
  mkdirSync(dir);
  if (name === 'Xandikos') {
    const x = await startXandikos(dir);
    return { name, dir, server: x, book: `${x.base}/user/contacts/addressbook/`, calendar: `${x.base}/user/calendars/calendar/` };
  }
  const r = await startRadicale(dir, { user: 'ann', password: 'upstream secret' });
  await makeDavCollection(`${r.base}/ann/book/`, 'addressbook', basic);
  await makeDavCollection(`${r.base}/ann/calendar/`, 'calendar', basic);
  return { name, dir, server: r, book: `${r.base}/ann/book/`, calendar: `${r.base}/ann/calendar/` };
}

async function dav(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method, headers: { authorization: basic, ...headers }, ...(body === undefined ? {} : { body }) });
}

const put = async (url: string, data: string) => assert.ok([201, 204].includes((await dav('PUT', url, data, { 'content-type': data.startsWith('BEGIN:VCARD') ? 'text/vcard' : 'text/calendar' })).status), `PUT ${url}`);

/** Every member of an upstream collection: its data by href. */
async function members(collection: string): Promise<Map<string, string>> {
  const listing = await (await dav('PROPFIND', collection, '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>', { depth: '1', 'content-type': 'application/xml' })).text();
  const hrefs = [...listing.matchAll(/<(?:\w+:)?href>([^<]+)<\/(?:\w+:)?href>/g)].map((m) => new URL(m[1] as string, collection).href).filter((h) => h !== collection);
  const out = new Map<string, string>();
  for (const href of hrefs) out.set(href, (await (await dav('GET', href)).text()).replace(/\r?\n/g, '\r\n'));
  return out;
}

const uidOf = (data: string) => /^UID:(.*)$/m.exec(data)?.[1]?.trim();
const uids = (datas: Iterable<string>) => [...datas].map((d) => uidOf(d) ?? '?').sort();
const withUid = (datas: Iterable<string>, uid: string) => [...datas].filter((d) => uidOf(d) === uid);

for (const name of ['Radicale', 'Xandikos'] as const) {
  describe(name, () => {
    test('the first run matches what both sides hold by UID: every contact, event and task exists once on each side', async () => {
      const up = await startUpstream(name);
      try {
        const account = await newAccount(server);
        const phone = account.device('phone');
        await phone.sync(account.contacts);
        // Upstream: two items the phone also holds (one the same, one edited), and its own.
        await put(`${up.book}same.vcf`, vcard('same', 'Same Person'));
        await put(`${up.book}diff.vcf`, vcard('diff', 'Upstream Version'));
        await put(`${up.book}up-only.vcf`, vcard('up-only', 'Only Upstream'));
        await put(`${up.calendar}ev-same.ics`, vevent('ev-same', 'Standup'));
        await put(`${up.calendar}ev-up.ics`, vevent('ev-up', 'Upstream meeting'));
        await put(`${up.calendar}todo-up.ics`, vtodo('todo-up', 'Upstream task'));
        const added = await addUpstream(server, account.accountId, { url: `${up.server.base}/`, username: 'ann', password: 'upstream secret' });
        const byKind = (kind: string) => added.collections.find((c) => c.url === (kind === 'contacts' ? up.book : up.calendar) && c.kind === kind)?.collectionId as string;
        const [book, events, tasks] = [byKind('contacts'), byKind('events'), byKind('tasks')];
        assert.ok(book && events && tasks, JSON.stringify(added.collections));
        await phone.sync(book, { commands: [add('p1', vcard('same', 'Same Person')), add('p2', vcard('diff', 'Phone Version')), add('p3', vcard('phone-only', 'Only Phone'))] });
        await phone.sync(events, { commands: [add('e1', vevent('ev-same', 'Standup')), add('e2', vevent('ev-phone', 'Phone meeting'))] });
        await phone.sync(tasks, { commands: [add('t1', vtodo('todo-phone', 'Phone task'))] });

        await runUpstreams(server, account.accountId);
        await phone.pull(book);
        await phone.pull(events);
        await phone.pull(tasks);
        const upstreamBook = await members(up.book);
        const upstreamCalendar = await members(up.calendar);
        const datas = (collectionId: string) => [...phone.view(collectionId).values()].map((item) => item.data);
        assert.deepEqual(uids(upstreamBook.values()), ['diff', 'phone-only', 'same', 'up-only'], 'the upstream holds each contact once');
        assert.deepEqual(uids(datas(book)), ['diff', 'phone-only', 'same', 'up-only'], 'the phone holds each contact once');
        assert.deepEqual(uids(upstreamCalendar.values()), ['ev-phone', 'ev-same', 'ev-up', 'todo-phone', 'todo-up']);
        assert.deepEqual(uids(datas(events)), ['ev-phone', 'ev-same', 'ev-up'], 'events to the events collection');
        assert.deepEqual(uids(datas(tasks)), ['todo-phone', 'todo-up'], 'tasks to its tasks collection');
        // The one both held differently: the phone came first, so its version stands on both sides, and the upstream's is a conflict record.
        assert.match(withUid(upstreamBook.values(), 'diff')[0] ?? '', /Phone Version/);
        assert.match(withUid(datas(book), 'diff')[0] ?? '', /Phone Version/);
        const conflicts = (await (await fetch(`${server.url}/api/v1/conflicts`, { headers: { authorization: account.authorization } })).json()) as { conflicts: Array<{ data: string; lostBy: string }> };
        assert.deepEqual(conflicts.conflicts.map((c) => [uidOf(c.data), c.lostBy]), [['diff', added.deviceId]]);
        // A second run finds nothing to do, and changes nothing.
        await runUpstreams(server, account.accountId);
        assert.deepEqual(await members(up.book), upstreamBook);
        assert.equal((await phone.sync(book)).commands.length, 0);
      } finally {
        await up.server.stop();
      }
    });

    test('edits, deletes and unknown properties go both ways; an edit on both sides follows priority, its loser a conflict record; native, DAV and ActiveSync devices take part', async () => {
      const up = await startUpstream(name);
      try {
        const account = await easAccount(server);
        const phone = new Device(server, account.authorization, 'phone');
        await phone.sync(account.contacts);
        const added = await addUpstream(server, account.accountId, { url: `${up.server.base}/`, username: 'ann', password: 'upstream secret', collection: 'contacts' });
        assert.deepEqual(added.collections.map((c) => [c.url, c.collectionId]), [[up.book, account.contacts]]);
        const run = () => runUpstreams(server, account.accountId);
        const onPhone = async (uid: string) => {
          await phone.pull(account.contacts);
          return [...phone.view(account.contacts)].filter(([, item]) => uidOf(item.data) === uid).map(([id, item]) => ({ id, data: item.data }));
        };
        const upstreamHref = async (uid: string) => [...(await members(up.book))].find(([, data]) => uidOf(data) === uid)?.[0] as string;
        const conflicts = async () =>
          ((await (await fetch(`${server.url}/api/v1/conflicts`, { headers: { authorization: account.authorization } })).json()) as { conflicts: Array<{ data: string; lostBy: string; wonBy: string }> }).conflicts;

        // Unknown properties survive both ways.
        await put(`${up.book}ann.vcf`, vcard('ann', 'Ann', 'X-UPSTREAM-ONLY:kept\r\n'));
        await phone.sync(account.contacts, { commands: [add('b', vcard('bob', 'Bob', 'X-PHONE-ONLY:kept too\r\n')), add('s', vcard('shared', 'Shared'))] });
        await run();
        assert.match((await onPhone('ann'))[0]?.data ?? '', /X-UPSTREAM-ONLY:kept/);
        assert.match(withUid((await members(up.book)).values(), 'bob')[0] ?? '', /X-PHONE-ONLY:kept too/);

        // Edits on each side, and the same contact on both: the phone came first, so it wins.
        const [ann, bob, shared] = [(await onPhone('ann'))[0], (await onPhone('bob'))[0], (await onPhone('shared'))[0]];
        assert.ok(ann && bob && shared);
        await put(await upstreamHref('ann'), vcard('ann', 'Ann Edited Upstream', 'X-UPSTREAM-ONLY:kept\r\n'));
        await put(await upstreamHref('shared'), vcard('shared', 'Shared By Upstream'));
        await phone.sync(account.contacts, { commands: [change(bob.id, vcard('bob', 'Bob Edited On Phone', 'X-PHONE-ONLY:kept too\r\n')), change(shared.id, vcard('shared', 'Shared By Phone'))] });
        await run();
        assert.match((await onPhone('ann'))[0]?.data ?? '', /Ann Edited Upstream/);
        assert.match(withUid((await members(up.book)).values(), 'bob')[0] ?? '', /Bob Edited On Phone/);
        assert.match(withUid((await members(up.book)).values(), 'shared')[0] ?? '', /Shared By Phone/);
        assert.match((await onPhone('shared'))[0]?.data ?? '', /Shared By Phone/);
        assert.deepEqual((await conflicts()).map((c) => [uidOf(c.data), /Shared By Upstream/.test(c.data), c.lostBy]), [['shared', true, added.deviceId]]);

        // The upstream put first: now it wins.
        await server.hub.setDevicePriority(account.accountId, [added.deviceId]);
        await put(await upstreamHref('shared'), vcard('shared', 'Shared By Upstream Again'));
        await phone.sync(account.contacts, { commands: [change(shared.id, vcard('shared', 'Shared By Phone Again'))] });
        await run();
        assert.match(withUid((await members(up.book)).values(), 'shared')[0] ?? '', /Shared By Upstream Again/);
        assert.match((await onPhone('shared'))[0]?.data ?? '', /Shared By Upstream Again/);
        assert.ok((await conflicts()).some((c) => /Shared By Phone Again/.test(c.data) && c.lostBy === 'phone'), 'the phone’s edit is kept as a conflict record');

        // Deletes each way.
        assert.ok([200, 204].includes((await dav('DELETE', await upstreamHref('ann'))).status));
        await phone.sync(account.contacts, { commands: [del(bob.id)] });
        await run();
        assert.deepEqual(await onPhone('ann'), []);
        assert.deepEqual(uids((await members(up.book)).values()), ['shared']);

        // A DAV client and an ActiveSync phone on the same account: what they write reaches the upstream, and the upstream's reaches them.
        const davPut = await fetch(`${server.url}/dav/users/${account.accountName}/contacts/from-dav.vcf`, { method: 'PUT', body: vcard('from-dav', 'From Dav Client'), headers: { authorization: account.authorization, 'content-type': 'text/vcard' } });
        assert.equal(davPut.status, 201);
        const eas = account.eas('easphone');
        let key = await eas.primeSync(account.contacts);
        const pulled = await eas.pull(account.contacts, key);
        key = pulled.key;
        const sent = collectionOf(await eas.sync({ collectionId: account.contacts, syncKey: key, commands: [addCommand('e1', ...contactData('Easy', 'Phoner'))] }));
        assert.equal(textAt(sent, 'Status'), '1');
        key = textAt(sent, 'SyncKey');
        await put(`${up.book}late.vcf`, vcard('late', 'Late Upstream Arrival'));
        await run();
        const upstreamNow = [...(await members(up.book)).values()];
        assert.equal(withUid(upstreamNow, 'from-dav').length, 1, 'the DAV client’s card reached the upstream');
        assert.equal(upstreamNow.filter((d) => /Phoner/.test(d)).length, 1, 'the ActiveSync phone’s card reached the upstream');
        const easSees = (await eas.pull(account.contacts, key)).answers.map((a) => JSON.stringify(a)).join();
        assert.match(easSees, /Late Upstream Arrival/, 'the ActiveSync phone sees the upstream’s card');
        const davGet = await fetch(`${server.url}/dav/users/${account.accountName}/contacts/`, { method: 'PROPFIND', headers: { authorization: account.authorization, depth: '1' } });
        assert.equal(((await davGet.text()).match(/\.vcf</g) ?? []).length, 4, 'the DAV client sees four cards (shared, its own, the ActiveSync one, late), none twice');
      } finally {
        await up.server.stop();
      }
    });

    test('a write the upstream refuses with 412 (the member changed there meanwhile) is a conflict the engine decides, in the same run', async () => {
      await withProxiedUpstream(name, async ({ up, proxy, account, phone, added }) => {
        await put(`${up.book}kim.vcf`, vcard('kim', 'Kim'));
        await runUpstreams(server, account.accountId);
        await phone.pull(account.contacts);
        const [kimId] = [...phone.view(account.contacts).keys()];
        assert.ok(kimId);
        await phone.sync(account.contacts, { commands: [change(kimId, vcard('kim', 'Kim By Phone'))] });
        // Just before Syncpoint writes the phone's edit there, another client of the upstream edits the same card.
        proxy.onNextPut(() => put(`${up.book}kim.vcf`, vcard('kim', 'Kim By Another Client')));
        const [run] = await server.hub.upstreams.run(account.accountId);
        assert.equal(run?.error, null, 'a 412 is no error');
        await phone.pull(account.contacts);
        // The phone came first: its edit stands on both sides, and the other client's is a conflict record.
        assert.match((await members(up.book)).get(`${up.book}kim.vcf`) ?? '', /Kim By Phone/);
        assert.match(phone.view(account.contacts).get(kimId)?.data ?? '', /Kim By Phone/);
        const conflicts = ((await (await fetch(`${server.url}/api/v1/conflicts`, { headers: { authorization: account.authorization } })).json()) as { conflicts: Array<{ data: string; lostBy: string }> }).conflicts;
        assert.deepEqual(conflicts.map((c) => [/Kim By Another Client/.test(c.data), c.lostBy]), [[true, added.deviceId]]);
      });
    });

    test('a server without sync-collection is followed by getctag and etags: first run, edits and deletes both ways', async () => {
      await withProxiedUpstream(name, async ({ up, proxy, account, phone, added }) => {
        proxy.withoutSyncCollection();
        await put(`${up.book}one.vcf`, vcard('one', 'One'));
        await put(`${up.book}two.vcf`, vcard('two', 'Two'));
        await phone.sync(account.contacts, { commands: [add('p', vcard('phone', 'Phone'))] });
        await runUpstreams(server, account.accountId);
        const [cursor] = await serverSql<{ cursor: string }>(server, 'SELECT cursor FROM point_keys WHERE device_id = ?', [added.deviceId]);
        assert.match(cursor?.cursor ?? '', /^ctag /, 'the position is the ctag of an etag listing');
        await put(`${up.book}one.vcf`, vcard('one', 'One Edited Upstream'));
        assert.ok([200, 204].includes((await dav('DELETE', `${up.book}two.vcf`)).status));
        await phone.pull(account.contacts);
        const phoneId = [...phone.view(account.contacts)].find(([, item]) => uidOf(item.data) === 'phone')?.[0] as string;
        await phone.sync(account.contacts, { commands: [change(phoneId, vcard('phone', 'Phone Edited'))] });
        await runUpstreams(server, account.accountId);
        await phone.pull(account.contacts);
        const onPhone = [...phone.view(account.contacts).values()].map((item) => item.data);
        const upstreamNow = [...(await members(up.book)).values()];
        assert.deepEqual(uids(onPhone), ['one', 'phone']);
        assert.deepEqual(uids(upstreamNow), ['one', 'phone']);
        assert.match(withUid(onPhone, 'one')[0] ?? '', /One Edited Upstream/);
        assert.match(withUid(upstreamNow, 'phone')[0] ?? '', /Phone Edited/);
        // Nothing changed since: the ctag says so, and nothing moves.
        await runUpstreams(server, account.accountId);
        assert.equal((await phone.sync(account.contacts)).commands.length, 0);
      });
    });

    if (name === 'Radicale') {
      test('a first run of more members than one round reads (500) lists them once, and every one arrives once', async () => {
        await withProxiedUpstream(name, async ({ up, proxy, account, phone }) => {
          // Written straight into Radicale's storage, as a big address book would be there already.
          const storage = join(up.dir, 'collections/collection-root/ann/book');
          for (let i = 0; i < 1100; i++) writeFileSync(join(storage, `bulk-${i}.vcf`), vcard(`bulk-${i}`, `Bulk ${i}`));
          await runUpstreams(server, account.accountId);
          assert.equal(proxy.listings(), 1, 'three rounds, one listing');
          await phone.pull(account.contacts);
          assert.equal(new Set(uids([...phone.view(account.contacts).values()].map((item) => item.data))).size, 1100);
          assert.equal(phone.view(account.contacts).size, 1100);
          await runUpstreams(server, account.accountId);
          assert.equal(proxy.listings(), 2, 'a run with nothing new lists once');
          assert.equal((await phone.sync(account.contacts)).commands.length, 0);
        });
      });
    }

    test('a run the upstream breaks off (stopped mid-run, 503 with Retry-After, a forgotten sync token) loses and duplicates nothing', async () => {
      await withProxiedUpstream(name, async ({ up, proxy, account, phone, added }) => {
        const proxiedBook = new URL(new URL(up.book).pathname, proxy.base).href;
        assert.deepEqual(added.collections.map((c) => c.url), [proxiedBook]);
        for (let i = 0; i < 30; i++) await put(`${up.book}u${i}.vcf`, vcard(`u${i}`, `Upstream ${i}`));
        await phone.sync(account.contacts, { commands: Array.from({ length: 30 }, (_, i) => add(`p${i}`, vcard(`p${i}`, `Phone ${i}`))) });
        const runOnce = async () => (await server.hub.upstreams.run(account.accountId))[0];
        const expected = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${from + i}`);
        const check = async (want: string[]) => {
          await phone.pull(account.contacts);
          assert.deepEqual(uids((await members(up.book)).values()), want, 'the upstream holds each once');
          assert.deepEqual(uids([...phone.view(account.contacts).values()].map((item) => item.data)), want, 'the phone holds each once');
        };

        // Stopped in the middle of writing the phone's cards.
        proxy.failAfter(5);
        const broken = await runOnce();
        assert.ok(broken?.ran && broken.error !== null, JSON.stringify(broken));
        // Busy, come back in two minutes.
        proxy.busy(120);
        const before = Date.now();
        const busy = await runOnce();
        assert.match(busy?.error ?? '', /503/);
        const [row] = await serverSql<{ next_run_at: number | string; failures: number | string }>(server, 'SELECT next_run_at, failures FROM upstreams WHERE id = ?', [added.id]);
        assert.ok(Number(row?.next_run_at) >= before + 120_000, 'the next run waits for Retry-After');
        assert.equal(Number(row?.failures), 2);
        proxy.pass();
        const fine = await runOnce();
        assert.equal(fine?.error, null);
        const all = [...expected(30).map((i) => `p${i}`), ...expected(30).map((i) => `u${i}`)].sort();
        await check(all);

        // The upstream forgets the token while a card is deleted there and one added on each side.
        await serverSql(server, 'UPDATE point_keys SET cursor = ? WHERE device_id = ?', [`sync ${up.book}forgotten-token`, added.deviceId]);
        assert.ok([200, 204].includes((await dav('DELETE', `${up.book}u0.vcf`)).status));
        await put(`${up.book}u30.vcf`, vcard('u30', 'Upstream 30'));
        await phone.sync(account.contacts, { commands: [add('p30', vcard('p30', 'Phone 30'))] });
        assert.equal((await runOnce())?.error, null);
        await check([...all.filter((u) => u !== 'u0'), 'p30', 'u30'].sort());
      });
    });
  });
}

test('the scheduler runs a new upstream on its own, then not again until its interval has passed', async () => {
  const scheduled = await startTestServer({ upstreamRunMinutes: 60 });
  const up = await startUpstream('Radicale');
  try {
    const account = await newAccount(scheduled);
    const phone = account.device('phone');
    await phone.sync(account.contacts);
    await put(`${up.book}on-its-own.vcf`, vcard('on-its-own', 'Arrived On Its Own'));
    const added = await scheduled.hub.upstreams.add(account.accountId, { url: `${up.server.base}/`, username: 'ann', password: 'upstream secret', collection: 'contacts' });
    // A new upstream is due at once: the next look (every 15 s) runs it.
    let ran = (await scheduled.hub.upstreams.list(account.accountId))[0];
    for (let i = 0; i < 100 && ran?.lastRunAt === null; i++) {
      await new Promise((r) => setTimeout(r, 250));
      ran = (await scheduled.hub.upstreams.list(account.accountId))[0];
    }
    assert.ok(ran && ran.lastRunAt !== null && ran.nextRunAt !== null, 'the scheduler ran it');
    assert.equal(ran.lastError, null);
    assert.ok(ran.nextRunAt >= ran.lastRunAt + 60 * 60_000 && ran.nextRunAt <= ran.lastRunAt + 72 * 60_000, 'next in an hour, and up to a fifth more');
    assert.equal(added.id, ran.id);
    await phone.pull(account.contacts);
    assert.deepEqual(uids([...phone.view(account.contacts).values()].map((item) => item.data)), ['on-its-own']);
    // Not due: a look now runs nothing.
    assert.deepEqual(await scheduled.hub.upstreams.runDue(50), []);
  } finally {
    await up.server.stop();
    await scheduled.stop();
  }
});

/**
 * An upstream behind a fault proxy, added to a new account's contacts collection whose phone has synced
 * once; `fn` runs with them, and the upstream and the proxy stop after.
 */
async function withProxiedUpstream(
  name: 'Radicale' | 'Xandikos',
  fn: (setup: { up: Upstream; proxy: Awaited<ReturnType<typeof faultProxy>>; account: Awaited<ReturnType<typeof newAccount>>; phone: Device; added: UpstreamView }) => Promise<void>,
): Promise<void> {
  const up = await startUpstream(name);
  const proxy = await faultProxy(up.server.base);
  try {
    const account = await newAccount(server);
    const phone = account.device('phone');
    await phone.sync(account.contacts);
    const added = await addUpstream(server, account.accountId, { url: `${proxy.base}/`, username: 'ann', password: 'upstream secret', collection: 'contacts' });
    await fn({ up, proxy, account, phone, added });
  } finally {
    await proxy.close();
    await up.server.stop();
  }
}

/** An HTTP proxy in front of an upstream that passes requests, answers 503 with Retry-After, or cuts every request after the first n. */
async function faultProxy(target: string) {
  let mode: { kind: 'pass' } | { kind: 'busy'; seconds: number } | { kind: 'cut'; left: number } = { kind: 'pass' };
  /** Runs once, before the next PUT is passed on. */
  let beforePut: (() => Promise<void>) | undefined;
  /** Answers sync-collection REPORTs 501, as a server without RFC 6578 does. */
  let withoutSyncCollection = false;
  let listings = 0;
  const proxy: Server = createServer(async (req, res) => {
    if (req.method === 'REPORT') {
      const body = Buffer.concat(await req.toArray()).toString();
      if (body.includes('sync-collection')) {
        listings++;
        if (withoutSyncCollection) {
          res.writeHead(501).end();
          return;
        }
      }
      return forward(req, res, body);
    }
    if (req.method === 'PUT' && beforePut) {
      const hook = beforePut;
      beforePut = undefined;
      await hook();
    }
    if (mode.kind === 'busy') {
      req.resume();
      res.writeHead(503, { 'retry-after': String(mode.seconds) }).end();
      return;
    }
    if (mode.kind === 'cut' && mode.left-- <= 0) {
      req.resume();
      req.socket.destroy();
      return;
    }
    forward(req, res);
  });
  function forward(req: IncomingMessage, res: ServerResponse, body?: string): void {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    if (body === undefined) req.pipe(upstream);
    else upstream.end(body);
  }
  await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
  return {
    base: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    pass: () => void (mode = { kind: 'pass' }),
    busy: (seconds: number) => void (mode = { kind: 'busy', seconds }),
    failAfter: (n: number) => void (mode = { kind: 'cut', left: n }),
    onNextPut: (hook: () => Promise<void>) => void (beforePut = hook),
    withoutSyncCollection: () => void (withoutSyncCollection = true),
    /** sync-collection REPORTs asked so far. */
    listings: () => listings,
    close: () => new Promise<void>((done) => proxy.close(() => done())),
  };
}
