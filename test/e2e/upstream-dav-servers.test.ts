import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { listChanges } from '../../src/connectors/dav/changes.js';
import { discover, type UpstreamCollection } from '../../src/connectors/dav/discovery.js';
import { UpstreamError } from '../../src/protocol/upstream-errors.js';
import { fetchMembers, type FetchedMember } from '../../src/connectors/dav/multiget.js';
import { memberUrl } from '../../src/connectors/dav/names.js';
import { Transport, type Fetch } from '../../src/connectors/dav/transport.js';
import { deleteMember, putMember, type PutResult } from '../../src/connectors/dav/writes.js';
import { makeDavCollection, startRadicale, startXandikos, type DavServerProcess } from '../support/dav-servers.js';
import { vcard, vevent } from '../support/server.js';

/**
 * The upstream CardDAV/CalDAV client (src/connectors/dav/) against real servers, Debian's Radicale (with
 * a password) and Xandikos, each started here on loopback: discovery from the bare origin, initial and
 * incremental sync-collection, multiget, writes under ETag preconditions with their 412 conflicts, a
 * token each server refuses (Radicale: 403 valid-sync-token; Xandikos: 500), and the ctag/etag listing.
 */
const work = mkdtempSync(join(tmpdir(), 'syncpoint-upstream-'));
const account = { username: 'ann', password: 'upstream secret' };

interface Upstream {
  name: 'Radicale' | 'Xandikos';
  server: DavServerProcess;
  /** What a refused token is reported as. */
  refusal: 'invalid-token' | 'token-refused';
}
const upstreams: Upstream[] = [];
const basic = `Basic ${Buffer.from(`${account.username}:${account.password}`).toString('base64')}`;

/** Every request the client sent, as "METHOD path depth". */
function recording(log: string[], change?: (method: string, response: Response) => Response): Fetch {
  return async (url, init) => {
    const headers = init.headers as Record<string, string>;
    log.push(`${init.method} ${new URL(url).pathname} ${headers.depth ?? '-'}`);
    const response = await fetch(url, init);
    return change ? change(init.method ?? 'GET', response) : response;
  };
}

const transport = (fetchFn: Fetch = fetch, password = account.password) => new Transport({ fetch: fetchFn, clock: Date, account: { username: account.username, password } });

before(async () => {
  const radicaleDir = join(work, 'radicale');
  const xandikosDir = join(work, 'xandikos');
  mkdirSync(radicaleDir);
  mkdirSync(xandikosDir);
  const radicale = await startRadicale(radicaleDir, { user: account.username, password: account.password });
  // Radicale starts empty: an address book and a calendar, made as a client would (extended MKCOL, RFC 5689).
  for (const [name, type] of [
    ['contacts', 'addressbook'],
    ['calendar', 'calendar'],
  ] as const) {
    await makeDavCollection(`${radicale.base}/ann/${name}/`, type, basic, `My ${name}`);
  }
  upstreams.push({ name: 'Radicale', server: radicale, refusal: 'invalid-token' });
  upstreams.push({ name: 'Xandikos', server: await startXandikos(xandikosDir), refusal: 'token-refused' });
});

after(async () => {
  for (const u of upstreams) await u.server.stop();
  rmSync(work, { recursive: true, force: true });
});

async function collectionsOf(u: Upstream): Promise<{ book: UpstreamCollection; calendar: UpstreamCollection }> {
  const found = await discover(transport(), `${u.server.base}/`);
  const book = found.collections.find((c) => c.type === 'addressbook');
  const calendar = found.collections.find((c) => c.type === 'calendar');
  assert.ok(book && calendar, `${u.name}: an address book and a calendar in ${JSON.stringify(found)}`);
  return { book, calendar };
}

async function fetched(t: Transport, c: UpstreamCollection, hrefs: string[]): Promise<FetchedMember[]> {
  const out: FetchedMember[] = [];
  for await (const batch of fetchMembers(t, c.url, c.type, hrefs)) {
    assert.deepEqual(batch.tooLarge, []);
    out.push(...batch.members);
  }
  return out;
}

const sorted = (hrefs: string[]) => [...hrefs].sort();

/** The ETag a PUT was answered with: Radicale and Xandikos send a strong one. */
function strong(written: Extract<PutResult, { outcome: 'written' }>): string {
  if (written.etag === null) assert.fail(`${written.href} was written without a strong ETag`);
  return written.etag;
}

test('discovery from the bare origin finds the address book and the calendar, with their tokens, on both servers', async () => {
  for (const u of upstreams) {
    const log: string[] = [];
    const found = await discover(transport(recording(log)), `${u.server.base}/`);
    // RFC 6764: the bare origin sends the client to the well-known URL first; both servers redirect it to their root.
    assert.match(log[0] ?? '', /^PROPFIND \/\.well-known\/carddav 0$/, u.name);
    const principal = u.name === 'Radicale' ? '/ann/' : '/user/';
    assert.equal(new URL(found.principal).pathname, principal, u.name);
    const { book, calendar } = await collectionsOf(u);
    assert.deepEqual(book.kinds, ['contacts'], u.name);
    assert.ok(calendar.kinds.includes('events') && calendar.kinds.includes('tasks'), `${u.name}: ${calendar.kinds.join()}`);
    for (const c of [book, calendar]) {
      assert.equal(c.syncCollection, true, `${u.name} ${c.url} supports sync-collection`);
      assert.ok(c.syncToken && c.ctag, `${u.name} ${c.url} has a sync-token and a ctag`);
      assert.ok(c.url.startsWith(u.server.base) && c.url.endsWith('/'), c.url);
    }
    if (u.name === 'Radicale') assert.equal(book.displayName, 'My contacts');
    // Collections only: the principal and the homes themselves are not offered.
    assert.equal(found.collections.filter((c) => c.type === 'addressbook').length, 1, u.name);
  }
});

test('writes under ETag preconditions: create, update, a 412 conflict on each, delete; sync-collection sees them, initial then incremental', async () => {
  for (const u of upstreams) {
    const t = transport();
    const { book } = await collectionsOf(u);
    const initial = await listChanges(t, book.url, {});
    assert.equal(initial.method, 'sync-collection');
    assert.equal(initial.initial, true);
    assert.deepEqual(initial.changed, [], `${u.name}: the address book starts empty`);

    const ann = vcard('write-ann', 'Ann One');
    const bob = vcard('write/bob', 'Bob One');
    const annUrl = memberUrl(book.url, 'write-ann', 'addressbook');
    const bobUrl = memberUrl(book.url, 'write/bob', 'addressbook');
    assert.ok(annUrl.endsWith('/write-ann.vcf') && !bobUrl.includes('write/bob'), bobUrl);
    const annMade = await putMember(t, annUrl, ann, 'addressbook', 'create');
    const bobMade = await putMember(t, bobUrl, bob, 'addressbook', 'create');
    assert.equal(annMade.outcome, 'written');
    assert.equal(bobMade.outcome, 'written');
    if (annMade.outcome !== 'written' || bobMade.outcome !== 'written') return;
    if (annMade.etag === null || bobMade.etag === null) assert.fail(`${u.name} answers a PUT with a strong ETag`);
    // A second create of the same name: it exists upstream.
    assert.deepEqual(await putMember(t, annUrl, ann, 'addressbook', 'create'), { outcome: 'conflict', href: annUrl }, u.name);

    const first = await listChanges(t, book.url, { syncToken: initial.syncToken as string });
    assert.equal(first.initial, false);
    assert.deepEqual(sorted(first.changed.map((c) => c.href)), sorted([annUrl, bobUrl]), u.name);
    assert.equal(first.changed.find((c) => c.href === annUrl)?.etag, annMade.etag, `${u.name}: the listing's etag is the one PUT returned`);
    const data = await fetched(t, book, [annUrl, bobUrl]);
    assert.equal(data.find((m) => m.href === annUrl)?.data, ann, `${u.name}: the vCard arrives byte for byte`);
    assert.equal(data.find((m) => m.href === bobUrl)?.data, bob);

    const annEdited = vcard('write-ann', 'Ann Two');
    const updated = await putMember(t, annUrl, annEdited, 'addressbook', { etag: annMade.etag });
    assert.equal(updated.outcome, 'written');
    if (updated.outcome !== 'written') return;
    if (updated.etag === null) assert.fail(`${u.name} answers a PUT with a strong ETag`);
    assert.notEqual(updated.etag, annMade.etag);
    // The etag it replaced is stale now: 412, a conflict, and nothing written.
    assert.deepEqual(await putMember(t, annUrl, vcard('write-ann', 'Ann Lost'), 'addressbook', { etag: annMade.etag }), { outcome: 'conflict', href: annUrl });
    assert.deepEqual(await deleteMember(t, bobUrl, '"not-the-etag"'), { outcome: 'conflict', href: bobUrl });
    assert.deepEqual(await deleteMember(t, bobUrl, bobMade.etag), { outcome: 'deleted', href: bobUrl });
    assert.deepEqual(await deleteMember(t, bobUrl, bobMade.etag), { outcome: 'gone', href: bobUrl }, `${u.name}: a second delete finds it gone`);

    const second = await listChanges(t, book.url, { syncToken: first.syncToken as string });
    assert.deepEqual(second.changed, [{ href: annUrl, etag: updated.etag }], u.name);
    assert.deepEqual(second.removed, [bobUrl], u.name);
    assert.deepEqual((await fetched(t, book, [annUrl]))[0]?.data, annEdited);
    const quiet = await listChanges(t, book.url, { syncToken: second.syncToken as string });
    assert.deepEqual([quiet.changed, quiet.removed], [[], []], `${u.name}: nothing changed since`);
    await deleteMember(t, annUrl, updated.etag);
  }
});

test('events go through calendar-multiget, and a multiget names a member deleted meanwhile as missing', async () => {
  for (const u of upstreams) {
    const t = transport();
    const { calendar } = await collectionsOf(u);
    const start = await listChanges(t, calendar.url, {});
    const event = vevent('cal-1', 'Standup');
    const href = memberUrl(calendar.url, 'cal-1', 'calendar');
    const made = await putMember(t, href, event, 'calendar', 'create');
    assert.equal(made.outcome, 'written');
    const changes = await listChanges(t, calendar.url, { syncToken: start.syncToken as string });
    assert.deepEqual(changes.changed.map((c) => c.href), [href]);
    const gone = memberUrl(calendar.url, 'never-made', 'calendar');
    const batches = [];
    for await (const b of fetchMembers(t, calendar.url, 'calendar', [href, gone])) batches.push(b);
    assert.equal(batches.length, 1);
    // Radicale stores an event re-serialized (its properties in another order): the multiget must carry what a GET does, byte for byte.
    const stored = await (await fetch(href, { headers: { authorization: basic } })).text();
    assert.ok(stored.includes('SUMMARY:Standup\r\n'), stored);
    assert.deepEqual(batches[0]?.members.map((m) => [m.href, m.data]), [[href, stored]], u.name);
    assert.deepEqual(batches[0]?.missing, [gone], u.name);
    if (made.outcome === 'written') await deleteMember(t, href, strong(made));
  }
});

test('a token the server refuses restarts as an initial sync that names every member, reported as such', async () => {
  for (const u of upstreams) {
    const log: string[] = [];
    const t = transport(recording(log));
    const { book } = await collectionsOf(u);
    const href = memberUrl(book.url, 'restart-1', 'addressbook');
    const made = await putMember(t, href, vcard('restart-1', 'Restart One'), 'addressbook', 'create');
    log.length = 0;
    const token = u.name === 'Radicale' ? 'http://radicale.org/ns/sync/0000' : '0000000000000000000000000000000000000000';
    const restarted = await listChanges(t, book.url, { syncToken: token });
    assert.equal(restarted.initial, true, u.name);
    assert.equal(restarted.restarted, u.refusal, u.name);
    assert.deepEqual(restarted.removed, []);
    assert.ok(restarted.changed.some((c) => c.href === href), `${u.name}: the member is listed`);
    assert.ok(restarted.syncToken && restarted.syncToken !== token);
    // Radicale names the precondition at once; Xandikos's 500 is asked once more before the token is given up.
    const reports = log.filter((l) => l.startsWith('REPORT')).length;
    assert.equal(reports, u.name === 'Radicale' ? 2 : 3, `${u.name}: ${log.join(', ')}`);
    // The restart's token works from there on.
    const next = await listChanges(t, book.url, { syncToken: restarted.syncToken as string });
    assert.deepEqual([next.initial, next.changed, next.restarted], [false, [], undefined]);
    if (made.outcome === 'written') await deleteMember(t, href, strong(made));
  }
});

test('the ctag and etag listing: an unchanged ctag costs one request, then only changed members are named, and deletes are seen', async () => {
  for (const u of upstreams) {
    const log: string[] = [];
    const t = transport(recording(log));
    const { book } = await collectionsOf(u);
    const hrefs = ['etag-1', 'etag-2'].map((uid) => memberUrl(book.url, uid, 'addressbook'));
    const etags: string[] = [];
    for (const [i, href] of hrefs.entries()) {
      const made = await putMember(t, href, vcard(`etag-${i + 1}`, `Etag ${i + 1}`), 'addressbook', 'create');
      if (made.outcome === 'written') etags.push(strong(made));
    }
    const all = await listChanges(t, book.url, {}, { method: 'etag-listing' });
    assert.equal(all.method, 'etag-listing');
    assert.equal(all.initial, true);
    assert.ok(all.ctag, `${u.name} has a ctag`);
    assert.deepEqual(sorted(all.changed.map((c) => c.href)), sorted(hrefs), u.name);
    const known = new Map(all.changed.map((c) => [c.href, c.etag as string]));

    log.length = 0;
    const same = await listChanges(t, book.url, { ctag: all.ctag as string, etags: known }, { method: 'etag-listing' });
    assert.deepEqual([same.changed, same.removed], [[], []]);
    assert.deepEqual(log, [`PROPFIND ${new URL(book.url).pathname} 0`], `${u.name}: the ctag alone answers`);

    const edited = await putMember(t, hrefs[0] as string, vcard('etag-1', 'Etag One Edited'), 'addressbook', { etag: etags[0] as string });
    await deleteMember(t, hrefs[1] as string, etags[1] as string);
    const after = await listChanges(t, book.url, { ctag: all.ctag as string, etags: known }, { method: 'etag-listing' });
    assert.equal(after.initial, false);
    assert.notEqual(after.ctag, all.ctag);
    assert.deepEqual(after.changed, [{ href: hrefs[0], etag: edited.outcome === 'written' ? edited.etag : '' }], u.name);
    assert.deepEqual(after.removed, [hrefs[1]], u.name);
    if (edited.outcome === 'written') await deleteMember(t, hrefs[0] as string, strong(edited));
  }
});

test('a PUT answered without an ETag: the member is read, and its etag taken if it holds what was written', async () => {
  for (const u of upstreams) {
    const log: string[] = [];
    const withoutEtag = (method: string, r: Response) => {
      if (method !== 'PUT') return r;
      const headers = new Headers(r.headers);
      headers.delete('etag');
      return new Response(r.body, { status: r.status, headers });
    };
    const t = transport(recording(log, withoutEtag));
    const { book } = await collectionsOf(u);
    const href = memberUrl(book.url, 'no-etag', 'addressbook');
    log.length = 0;
    const made = await putMember(t, href, vcard('no-etag', 'No Etag'), 'addressbook', 'create');
    assert.equal(made.outcome, 'written');
    assert.deepEqual(log, [`PUT ${new URL(href).pathname} -`, `GET ${new URL(href).pathname} -`]);
    const listed = await listChanges(t, book.url, {}, { method: 'etag-listing' });
    assert.equal(listed.changed.find((c) => c.href === href)?.etag, made.outcome === 'written' ? made.etag : undefined, u.name);
    if (made.outcome === 'written') await deleteMember(t, href, strong(made));
  }
});

test('wrong credentials are an auth failure (Radicale checks them)', async () => {
  const radicale = upstreams.find((u) => u.name === 'Radicale') as Upstream;
  await assert.rejects(discover(transport(fetch, 'wrong'), `${radicale.server.base}/`), (err: unknown) => err instanceof UpstreamError && err.reason === 'auth' && err.details.status === 401);
});
