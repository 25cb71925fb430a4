import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { listChanges } from '../../src/connectors/dav/changes.js';
import { discover } from '../../src/connectors/dav/discovery.js';
import { UpstreamError, type UpstreamErrorReason } from '../../src/protocol/upstream-errors.js';
import { fetchMembers, type FetchBatch } from '../../src/connectors/dav/multiget.js';
import { Transport } from '../../src/connectors/dav/transport.js';
import { limits } from '../../src/core/limits.js';

/**
 * What the upstream client does with answers no well-behaved test server gives on demand, from tiny HTTP
 * servers on loopback: 503/429 with `Retry-After` (seconds and an HTTP-date), a server that never
 * answers, an abort, an answer past the byte bound, a multiget batch too large (split until the giant is
 * alone), sync-collection paged with 507, a redirect to another origin, and a DOCTYPE.
 */
const servers: Server[] = [];
after(async () => {
  for (const s of servers) await new Promise((done) => s.close(done));
});

interface Seen {
  method: string;
  url: string;
  body: string;
  authorization?: string;
}

/** An HTTP server on loopback answering with `handler`; returns its base URL and the requests it saw. */
async function fake(handler: (req: Seen, res: ServerResponse) => void): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r: Seen = { method: req.method ?? '', url: req.url ?? '', body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
      seen.push(r);
      handler(r, res);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const now = Date.parse('2026-12-07T10:00:00Z');
const transport = (options: { timeoutMs?: number; signal?: AbortSignal } = {}) => new Transport({ fetch, clock: { now: () => now }, account: { username: 'ann', password: 'pw' }, ...options });

async function rejection(work: Promise<unknown>): Promise<UpstreamError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `an UpstreamError, not ${String(err)}`);
    return err;
  }
  assert.fail('it did not fail');
}

const multistatus = (inner: string) => `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">${inner}</d:multistatus>`;

test('503 and 429 with Retry-After are "retry after N s" (seconds, or an HTTP-date against the clock); without it, transient', async () => {
  const { base } = await fake((req, res) => {
    if (req.url === '/seconds/') res.writeHead(503, { 'retry-after': '120' }).end();
    else if (req.url === '/date/') res.writeHead(429, { 'retry-after': new Date(now + 90_500).toUTCString() }).end();
    else if (req.url === '/huge/') res.writeHead(503, { 'retry-after': '99999999' }).end();
    else res.writeHead(503).end();
  });
  const of = async (path: string) => rejection(listChanges(transport(), `${base}${path}`, { syncToken: 'x' }));
  const seconds = await of('/seconds/');
  assert.deepEqual([seconds.reason, seconds.details.retryAfterSeconds, seconds.details.status], ['retry-after', 120, 503]);
  // HTTP-dates have whole seconds: 90.5 s ahead is written as 90 s ahead.
  const date = await of('/date/');
  assert.deepEqual([date.reason, date.details.retryAfterSeconds, date.details.status], ['retry-after', 90, 429]);
  assert.equal((await of('/huge/')).details.retryAfterSeconds, limits.upstreamRetryAfterSecondsMax);
  const bare = await of('/bare/');
  assert.deepEqual([bare.reason, bare.details.retryAfterSeconds, bare.details.status], ['transient', undefined, 503]);
});

test('a server that never answers times out, and an abort ends a request in flight: both transient', async () => {
  const { base } = await fake(() => {
    // Never answers.
  });
  const started = performance.now();
  const timedOut = await rejection(discover(transport({ timeoutMs: 200 }), `${base}/dav/`));
  assert.equal(timedOut.reason, 'transient');
  assert.match(timedOut.message, /timed out/);
  assert.ok(performance.now() - started < 2000);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const aborted = await rejection(discover(transport({ signal: controller.signal }), `${base}/dav/`));
  assert.deepEqual([aborted.reason, /aborted/.test(aborted.message)], ['transient', true]);
});

test('an answer past upstreamResponseBytesMax is refused as too large, and reading it stops there', async () => {
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  let written = 0;
  let closed = false;
  const { base } = await fake((_req, res) => {
    res.writeHead(207, { 'content-type': 'application/xml' });
    res.write(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/x</d:href><d:responsedescription>`);
    // Up to four times the bound, written as fast as the client reads; a client that stops reading ends it.
    const more = () => {
      while (!closed && written < 4 * limits.upstreamResponseBytesMax) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end('</d:responsedescription></d:response></d:multistatus>');
    };
    res.on('close', () => (closed = true));
    more();
  });
  const err = await rejection(listChanges(transport(), `${base}/c/`, {}));
  assert.equal(err.reason, 'too-large');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(closed && written < 2 * limits.upstreamResponseBytesMax, `the client stopped reading (${written} bytes sent)`);
});

test('a multiget whose answer is too large is split until the giant member is alone; the others arrive', async () => {
  const hrefs = Array.from({ length: 8 }, (_, i) => `/c/m${i}.vcf`);
  const giant = hrefs[5] as string;
  const { base, seen } = await fake((req, res) => {
    const asked = [...req.body.matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => m[1] as string);
    res.writeHead(207, { 'content-type': 'application/xml' });
    const card = (h: string) => `BEGIN:VCARD\nVERSION:3.0\nUID:${h}\nFN:${h === giant ? 'x'.repeat(limits.upstreamResponseBytesMax) : h}\nEND:VCARD\n`;
    res.end(multistatus(asked.map((h) => `<d:response><d:href>${h}</d:href><d:propstat><d:prop><d:getetag>"${h}"</d:getetag><card:address-data xmlns:card="urn:ietf:params:xml:ns:carddav">${card(h)}</card:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`).join('')));
  });
  const batches: FetchBatch[] = [];
  for await (const b of fetchMembers(transport(), `${base}/c/`, 'addressbook', hrefs.map((h) => `${base}${h}`))) batches.push(b);
  const members = batches.flatMap((b) => b.members);
  assert.deepEqual(members.map((m) => new URL(m.href).pathname).sort(), hrefs.filter((h) => h !== giant).sort());
  assert.deepEqual(batches.flatMap((b) => b.tooLarge), [`${base}${giant}`]);
  assert.equal(members[0]?.data, `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:/c/m0.vcf\r\nFN:/c/m0.vcf\r\nEND:VCARD\r\n`, 'line ends come back as CRLF');
  // The 8 fail; of their halves the first arrives, the second (m4-m7) fails; of its halves m4-m5 fails, then m4 and the giant alone; then m6-m7.
  assert.deepEqual(seen.map((s) => [...s.body.matchAll(/<d:href>/g)].length), [8, 4, 4, 2, 1, 1, 2]);
});

test('a sync-collection truncated with 507 is asked again from the token its page ended with, until it is complete', async () => {
  const member = (name: string, status = '') => `<d:response><d:href>/c/${name}</d:href>${status ? `<d:status>HTTP/1.1 ${status}</d:status>` : `<d:propstat><d:prop><d:getetag>"${name}"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>`}</d:response>`;
  const truncated = `<d:response><d:href>/c/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status><d:error><d:number-of-matches-within-limits/></d:error></d:response>`;
  const pages: Record<string, string> = {
    t1: member('a') + member('b') + truncated + '<d:sync-token>t2</d:sync-token>',
    t2: member('c') + member('b', '404 Not Found') + truncated + '<d:sync-token>t3</d:sync-token>',
    t3: member('d', '404 Not Found') + '<d:sync-token>t4</d:sync-token>',
  };
  const { base, seen } = await fake((req, res) => {
    const token = /<d:sync-token>([^<]*)<\/d:sync-token>/.exec(req.body)?.[1] ?? '';
    res.writeHead(207, { 'content-type': 'application/xml' }).end(multistatus(pages[token] ?? ''));
  });
  const list = await listChanges(transport(), `${base}/c/`, { syncToken: 't1' });
  assert.deepEqual(
    seen.map((s) => /<d:sync-token>([^<]*)/.exec(s.body)?.[1]),
    ['t1', 't2', 't3'],
  );
  assert.equal(list.syncToken, 't4');
  assert.equal(list.initial, false);
  assert.deepEqual(list.changed, [{ href: `${base}/c/a`, etag: '"a"' }, { href: `${base}/c/c`, etag: '"c"' }]);
  assert.deepEqual(list.removed.sort(), [`${base}/c/b`, `${base}/c/d`]);
  // Never a DAV:limit (docs/architecture.md § Connectors).
  assert.ok(seen.every((s) => !s.body.includes('limit')));
});

test('a server that refuses an initial sync-collection is listed by ctag and etags instead', async () => {
  const { base, seen } = await fake((req, res) => {
    if (req.method === 'REPORT') return void res.writeHead(501).end();
    const depth0 = multistatus(`<d:response><d:href>/c/</d:href><d:propstat><d:prop><cs:getctag xmlns:cs="http://calendarserver.org/ns/">ctag-1</cs:getctag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`);
    const member = (name: string) => `<d:response><d:href>/c/${name}</d:href><d:propstat><d:prop><d:getetag>"${name}"</d:getetag><d:resourcetype/></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`;
    const depth1 = multistatus(`<d:response><d:href>/c/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>${member('a.vcf')}${member('b.vcf')}`);
    res.writeHead(207, { 'content-type': 'application/xml' }).end(req.url === '/c/' && /<d:getctag|<cs:getctag/.test(req.body) ? depth0 : depth1);
  });
  const list = await listChanges(transport(), `${base}/c/`, {});
  assert.deepEqual(seen.map((s) => s.method), ['REPORT', 'PROPFIND', 'PROPFIND']);
  assert.deepEqual([list.method, list.initial, list.ctag, list.syncToken], ['etag-listing', true, 'ctag-1', undefined]);
  assert.deepEqual(list.changed, [
    { href: `${base}/c/a.vcf`, etag: '"a.vcf"' },
    { href: `${base}/c/b.vcf`, etag: '"b.vcf"' },
  ]);
});

test('a redirect to another origin is refused and the credentials never reach it; a DOCTYPE is refused', async () => {
  const elsewhere = await fake((_req, res) => res.writeHead(207).end(multistatus('')));
  const { base } = await fake((req, res) => {
    if (req.url === '/doctype/') res.writeHead(207, { 'content-type': 'application/xml' }).end(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>${multistatus('')}`);
    else res.writeHead(301, { location: `${elsewhere.base}/dav/` }).end();
  });
  const redirected = await rejection(discover(transport(), `${base}/dav/`));
  assert.equal(redirected.reason, 'redirect');
  assert.equal(redirected.details.url, `${elsewhere.base}/dav/`);
  assert.equal(elsewhere.seen.length, 0);
  const doctype = await rejection(listChanges(transport(), `${base}/doctype/`, {}));
  assert.deepEqual([doctype.reason, /DOCTYPE/.test(doctype.message)], ['protocol', true] as [UpstreamErrorReason, boolean]);
});
