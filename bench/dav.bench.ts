/**
 * CardDAV/CalDAV benchmark (`npm run bench:dav`; not a test): Syncpoint and Radicale (Debian's
 * package, started here on loopback) side by side, on the same data, driven by the same client code
 * over HTTP/1.1 keep-alive:
 *   - PUT of 10,000 contacts (8 at a time);
 *   - PROPFIND Depth:1 getetag over them (what Evolution and vdirsyncer poll);
 *   - the initial sync-collection (following 507 pages where a server pages), then again after 100
 *     changes, then with no changes;
 *   - addressbook-multiget of 1,000 contacts;
 *   - calendar-query with a one-month time-range over 5,000 events, one in ten weekly-recurring.
 * Each timed phase runs 3 times (except the PUTs) and reports the median; the figure to trust is the
 * ratio, as the machine is shared. Peak RSS of both servers comes from /proc. Flags: --contacts N,
 * --events N.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../sim/random.js';
import { createAccount, freePort, rssKiB, startServer, stopServer } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const contactsTotal = flag('contacts', 10_000);
const eventsTotal = flag('events', 5_000);
const runs = 3;
const account = { user: 'bench', password: 'bench-password-0123' };
const authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;

interface Server {
  name: string;
  child: ChildProcess;
  base: string;
  /** Collection URLs, with the trailing slash. */
  contacts: string;
  events: string;
}

async function dav(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method, headers: { authorization, 'content-type': 'application/xml; charset=utf-8', ...headers }, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark check failed: ${what}`);
}

const card = (i: number, rand: () => number, note = '') =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-${i}\r\nFN:Person ${i}\r\nN:${i};Person;;;\r\nEMAIL;TYPE=work:person${i}@example.org\r\nTEL;TYPE=cell:+44 20 7946 ${String(Math.floor(rand() * 10000)).padStart(4, '0')}\r\nORG:Company ${i % 97}\r\n${note}END:VCARD\r\n`;

function event(i: number): string {
  // Spread over 2026; every tenth recurs weekly for a year.
  const day = new Date(Date.UTC(2026, 0, 1) + (i % 365) * 86_400_000);
  const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const start = new Date(day.getTime() + 9 * 3_600_000);
  const end = new Date(start.getTime() + 3_600_000);
  const rrule = i % 10 === 0 ? 'RRULE:FREQ=WEEKLY;COUNT=52\r\n' : '';
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:ev-${i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:${stamp(start)}\r\nDTEND:${stamp(end)}\r\n${rrule}SUMMARY:Event ${i}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
}

/** Runs `task` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(fn: () => Promise<void>, times = runs): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

const syncBody = (token: string, limit?: number) =>
  `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level>${limit ? `<d:limit><d:nresults>${limit}</d:nresults></d:limit>` : ''}<d:prop><d:getetag/></d:prop></d:sync-collection>`;

/** A whole sync-collection from `token`, following 507 pages; returns the members seen and the final token. */
async function syncAll(url: string, token: string): Promise<{ members: number; token: string }> {
  let members = 0;
  for (let page = 0; page < 10_000; page++) {
    const res = await dav('REPORT', url, syncBody(token), { depth: '1' });
    expect(res.status === 207, `sync-collection answered ${res.status}: ${res.text.slice(0, 200)}`);
    const next = /<(?:\w+:)?sync-token>([^<]*)</.exec(res.text)?.[1] ?? '';
    const truncated = /507 Insufficient Storage/.test(res.text);
    members += (res.text.match(/<(?:\w+:)?response>/g)?.length ?? 0) - (truncated ? 1 : 0);
    token = next;
    if (!truncated) return { members, token };
  }
  throw new Error('sync-collection never finished');
}

async function startRadicale(dir: string): Promise<Server> {
  const port = await freePort();
  const config = join(dir, 'radicale.conf');
  writeFileSync(config, `[server]\nhosts = 127.0.0.1:${port}\nmax_content_length = 100000000\n[auth]\ntype = none\n[storage]\nfilesystem_folder = ${join(dir, 'collections')}\n[logging]\nlevel = warning\n`);
  const child = spawn('/usr/bin/python3', ['-m', 'radicale', '--config', config], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(base);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { name: 'Radicale', child, base, contacts: `${base}/${account.user}/contacts/`, events: `${base}/${account.user}/events/` };
}

async function startSyncpoint(dir: string): Promise<Server> {
  createAccount(dir, account);
  const port = await freePort();
  const child = await startServer(['serve', '--data', dir, '--port', String(port), '--host', '127.0.0.1']);
  const base = `http://127.0.0.1:${port}`;
  return { name: 'Syncpoint', child, base, contacts: `${base}/dav/users/${account.user}/bench-contacts/`, events: `${base}/dav/users/${account.user}/bench-events/` };
}

/** The same extended MKCOL for both servers. */
async function makeCollections(s: Server): Promise<void> {
  const addressbook = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>`;
  const calendar = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set></d:prop></d:set></d:mkcol>`;
  expect((await dav('MKCOL', s.contacts, addressbook)).status === 201, `${s.name} MKCOL addressbook`);
  expect((await dav('MKCOL', s.events, calendar)).status === 201, `${s.name} MKCOL calendar`);
}

async function measure(s: Server) {
  await makeCollections(s);
  const rand = seededRandom(7);
  const indexes = Array.from({ length: contactsTotal }, (_, i) => i);
  const cards = indexes.map((i) => card(i, rand));
  const putStart = performance.now();
  await pool(indexes, 8, async (i) => {
    const res = await dav('PUT', `${s.contacts}c${i}.vcf`, cards[i], { 'content-type': 'text/vcard; charset=utf-8', 'if-none-match': '*' });
    expect(res.status === 201, `${s.name} PUT c${i}: ${res.status}`);
  });
  const putMs = performance.now() - putStart;

  const propfindBody = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`;
  const propfindMs = await timed(async () => {
    const res = await dav('PROPFIND', s.contacts, propfindBody, { depth: '1' });
    expect(res.status === 207 && (res.text.match(/getetag>/g)?.length ?? 0) >= contactsTotal * 2, `${s.name} PROPFIND lists every contact`);
  });

  let token = '';
  const initialMs = await timed(async () => {
    const all = await syncAll(s.contacts, '');
    expect(all.members === contactsTotal, `${s.name} initial sync saw ${all.members} members`);
    token = all.token;
  });

  // 100 changes, then the sync that picks them up; only the sync is timed.
  const changedSamples: number[] = [];
  for (let round = 1; round <= runs; round++) {
    await pool(
      Array.from({ length: 100 }, (_, k) => (k * 97 + round) % contactsTotal),
      8,
      async (i) => {
        const res = await dav('PUT', `${s.contacts}c${i}.vcf`, card(i, rand, `NOTE:round ${round}\r\n`), { 'content-type': 'text/vcard; charset=utf-8' });
        expect(res.status === 204 || res.status === 201, `${s.name} PUT change: ${res.status}`);
      },
    );
    const t = performance.now();
    const delta = await syncAll(s.contacts, token);
    changedSamples.push(performance.now() - t);
    expect(delta.members === 100, `${s.name} incremental sync saw ${delta.members} members`);
    token = delta.token;
  }
  const noChangeMs = await timed(async () => {
    const delta = await syncAll(s.contacts, token);
    expect(delta.members === 0, `${s.name} no-change sync saw ${delta.members} members`);
  });

  const multigetBody = `<?xml version="1.0"?><c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>${Array.from({ length: 1000 }, (_, k) => `<d:href>${new URL(`${s.contacts}c${k * Math.floor(contactsTotal / 1000)}.vcf`).pathname}</d:href>`).join('')}</c:addressbook-multiget>`;
  const multigetMs = await timed(async () => {
    const res = await dav('REPORT', s.contacts, multigetBody, { depth: '1' });
    expect(res.status === 207 && (res.text.match(/BEGIN:VCARD/g)?.length ?? 0) === 1000, `${s.name} multiget returns 1000 cards`);
  });

  await pool(
    Array.from({ length: eventsTotal }, (_, i) => i),
    8,
    async (i) => {
      const res = await dav('PUT', `${s.events}e${i}.ics`, event(i), { 'content-type': 'text/calendar; charset=utf-8' });
      expect(res.status === 201, `${s.name} PUT event ${i}: ${res.status}`);
    },
  );
  const queryBody = `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260601T000000Z" end="20260701T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`;
  let matched = 0;
  const queryMs = await timed(async () => {
    const res = await dav('REPORT', s.events, queryBody, { depth: '1' });
    expect(res.status === 207, `${s.name} calendar-query: ${res.status}`);
    matched = res.text.match(/getetag>/g)?.length ?? 0;
  });
  return { putMs, propfindMs, initialMs, changedMs: median(changedSamples), noChangeMs, multigetMs, queryMs, queryMatches: matched / 2, peakRssMiB: Math.round(rssKiB(s.child.pid as number) / 102.4) / 10 };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-dav-bench-'));
  const servers: Server[] = [];
  try {
    mkdirSync(join(work, 'syncpoint'));
    mkdirSync(join(work, 'radicale'));
    servers.push(await startSyncpoint(join(work, 'syncpoint')), await startRadicale(join(work, 'radicale')));
    const results = [];
    for (const s of servers) results.push(await measure(s));
    const [ours, theirs] = results as [Awaited<ReturnType<typeof measure>>, Awaited<ReturnType<typeof measure>>];
    console.log(`\nDAV benchmark: ${contactsTotal} contacts, ${eventsTotal} events; node ${process.version}, ${cpus().length} cores; medians of ${runs} runs (PUTs once)\n`);
    const rows: Array<[string, number, number]> = [
      [`PUT ${contactsTotal} contacts (8 at a time)`, ours.putMs, theirs.putMs],
      ['PROPFIND Depth:1 getetag', ours.propfindMs, theirs.propfindMs],
      ['initial sync-collection', ours.initialMs, theirs.initialMs],
      ['sync-collection after 100 changes', ours.changedMs, theirs.changedMs],
      ['sync-collection, no changes', ours.noChangeMs, theirs.noChangeMs],
      ['addressbook-multiget of 1,000', ours.multigetMs, theirs.multigetMs],
      [`calendar-query, 1 month of ${eventsTotal} events`, ours.queryMs, theirs.queryMs],
    ];
    console.log('phase                                     Syncpoint ms   Radicale ms   Radicale/Syncpoint');
    for (const [phase, a, b] of rows) console.log(`${phase.padEnd(42)}${a.toFixed(1).padStart(12)}${b.toFixed(1).padStart(14)}${(b / a).toFixed(2).padStart(20)}x`);
    console.log(`\ncalendar-query matches: Syncpoint ${ours.queryMatches}, Radicale ${theirs.queryMatches}`);
    console.log(`peak RSS: Syncpoint ${ours.peakRssMiB} MiB, Radicale ${theirs.peakRssMiB} MiB`);
  } finally {
    for (const s of servers) {
      if (s.name === 'Syncpoint') await stopServer(s.child);
      else s.child.kill();
    }
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
