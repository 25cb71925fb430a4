/**
 * Sync benchmark. A real `syncpoint serve` child process, the SDK as the client, and a byte-counting
 * TCP proxy between them. It measures, for a collection of 10,000 contacts:
 *   - initial:     a fresh device receives the whole collection;
 *   - incremental: a device that is in sync receives 100 contacts another device changed;
 *   - no changes:  a device that is in sync asks again and gets nothing, interleaved with a CardDAV
 *                  client's sync-collection with nothing to get, and whether either side wrote;
 * and compares the initial sync with a floor: reading the same rows from the server's SQLite file and
 * serializing them into the same response pages (plain, and gzipped as the server sends them), with no
 * HTTP, no sync state and no client. `--cpu-prof DIR` writes CPU profiles (bench/README.md § Profile).
 *
 * It reports figures and asserts nothing about speed; it only fails when a phase does not deliver what
 * it should. Run with `npm run bench`; the figures also go to bench/results/sync-latest.json.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { protocolVersion } from '../src/protocol/version.js';
import { HttpTransport, recordLocalPut, SyncClient, type Replica, type SyncSummary } from '../src/sdk/index.js';
import { openSqliteReplica } from '../src/sdk/node/index.js';
import { windowSizeDefault } from '../src/sdk/sync-loop.js';
import { accountArgs, cpuSeconds, createAccount, freePort, nodeCommand, repoRoot, rssKiB, startServer, stopServer } from './server-process.js';
import { gzipLevel } from '../src/http/body.js';
import { openDatabase, type OpenDatabase } from '../src/sqlite/open.js';
import { sqliteCommitWatcher } from '../test/support/commit-watcher.js';
import type { Statement } from 'better-sqlite3';
import pg from 'pg';
import { postgresBin, startPgCluster } from '../test/support/postgres.js';
// The simulator's PRNG, so every run uploads byte-identical contacts.
import { seededRandom } from '../sim/random.js';

const contactsTotal = 10_000;
const changedTotal = 100;
/** The SDK's default window; the floor pages the same way. */
const windowSize = windowSizeDefault;
/** Runs per measured phase; the median is reported (the bench machine is shared and noisy). */
const runs = 5;
/** Syncs with nothing to get; each is one sample. */
const idleSyncs = 50;
const account = { user: 'bench', password: 'bench-password-0123' };
/** `--cpu-prof DIR`: the server writes a CPU profile to DIR when it stops, and this process one of its initial syncs (bench/README.md § Profile). */
const cpuProfDir = ((i) => (i >= 0 ? process.argv[i + 1] : undefined))(process.argv.indexOf('--cpu-prof'));

const resultsPath = join(repoRoot, 'bench/results/sync-latest.json');

// ---------------------------------------------------------------------------------------------------
// Test data: deterministic, realistic contacts.

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
const digits = (rand: () => number, n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
const hex = (rand: () => number, n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

const givenNames = ['Anna', 'Ben', 'Chloé', 'David', 'Elif', 'François', 'Grace', 'Hiroshi', 'Ingrid', 'José', 'Kofi', 'Léa', 'Mateo', 'Nora', 'Oskar', 'Priya', 'Quentin', 'Rosa', 'Søren', 'Tomás', 'Ursula', 'Viktor', 'Wei', 'Ximena', 'Yusuf', 'Zoë', 'Łukasz', 'Amélie', 'Björn', 'Carmen'];
const familyNames = ['Müller', 'Smith', 'García', 'Nguyen', 'Kowalski', 'Rossi', 'Yamamoto', 'Okafor', 'Johansson', 'Dubois', 'Fischer', 'Silva', 'Novak', 'Papadopoulos', 'Jensen', 'O\'Brien', 'Kaya', 'Schneider', 'Ivanova', 'Haddad', 'Larsen', 'Moreau', 'Bauer', 'Costa', 'Lindqvist'];
const streets = ['Hauptstraße', 'Main Street', 'Rue de la Paix', 'Calle Mayor', 'Via Roma', 'Kingsway', 'Sveavägen', 'Ulica Długa', 'Baker Street', 'Elm Avenue'];
const cities = [['Berlin', '10115', 'Germany'], ['London', 'SW1A 1AA', 'United Kingdom'], ['Paris', '75002', 'France'], ['Madrid', '28013', 'Spain'], ['Rome', '00184', 'Italy'], ['Stockholm', '111 52', 'Sweden'], ['Gdańsk', '80-831', 'Poland'], ['Toronto', 'M5H 2N2', 'Canada'], ['Lisbon', '1100-148', 'Portugal'], ['Copenhagen', '1050', 'Denmark']] as const;
const companies = ['Acme GmbH', 'Globex Corporation', 'Initech Ltd', 'Umbrella SA', 'Stark Industries', 'Wayne Enterprises', 'Tyrell Corp', 'Soylent AB', 'Cyberdyne Systems', 'Hooli Inc'];
const noteWords = ['met', 'at', 'the', 'conference', 'in', 'spring', 'prefers', 'email', 'over', 'phone', 'calls', 'follow', 'up', 'about', 'quarterly', 'review', 'birthday', 'gift', 'idea', 'books', 'coffee', 'project', 'deadline', 'introduced', 'by', 'a', 'colleague', 'speaks', 'three', 'languages', 'allergic', 'to', 'nuts', 'call', 'after', 'lunch'];

/** About `length` characters of plain words (no commas or semicolons, which vCard text would escape). */
function noteText(rand: () => number, length: number): string {
  const words: string[] = [];
  while (words.join(' ').length < length) words.push(pick(rand, noteWords));
  const text = words.join(' ');
  return `${text[0]?.toUpperCase()}${text.slice(1)}.`;
}

/** RFC 2425 line folding at 75 characters, as real address books write long NOTE lines. */
function fold(line: string): string {
  const parts = [line.slice(0, 75)];
  for (let i = 75; i < line.length; i += 74) parts.push(` ${line.slice(i, i + 74)}`);
  return parts.join('\r\n');
}

const asciiLower = (s: string) => s.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase();

/**
 * Contact `index` at `revision`. Identity (UID, name, emails, address, company) depends only on the
 * index; the mobile number and the note change with each revision, like a typical edit.
 */
function contactVcard(index: number, revision: number): string {
  const rand = seededRandom(index + 1);
  const edit = seededRandom((index + 1) * 1_000_003 + revision);
  const given = pick(rand, givenNames);
  const family = pick(rand, familyNames);
  const [city, postcode, country] = pick(rand, cities);
  const uid = `${hex(rand, 8)}-${hex(rand, 4)}-4${hex(rand, 3)}-a${hex(rand, 3)}-${hex(rand, 12)}`;
  const company = pick(rand, companies);
  const lines = [
    'BEGIN:VCARD',
    'VERSION:3.0',
    `UID:${uid}`,
    `FN:${given} ${family}`,
    `N:${family};${given};;;`,
    // Every generated person is distinct: the hub merges contacts with the same name and a shared email or phone.
    `EMAIL;TYPE=INTERNET,HOME:${asciiLower(given)}.${asciiLower(family)}${index}@example.org`,
    `EMAIL;TYPE=INTERNET,WORK:${asciiLower(given)[0]}.${asciiLower(family)}${index}@${asciiLower(company)}.example.com`,
    `TEL;TYPE=CELL:+${digits(edit, 2)} ${digits(edit, 3)} ${digits(edit, 7)}`,
    `TEL;TYPE=WORK,VOICE:+${digits(rand, 2)} ${digits(rand, 2)} ${digits(rand, 7)}`,
    `ADR;TYPE=HOME:;;${1 + Math.floor(rand() * 200)} ${pick(rand, streets)};${city};;${postcode};${country}`,
    `ORG:${company}`,
    fold(`NOTE:${noteText(edit, 100)}`),
    'END:VCARD',
  ];
  return `${lines.join('\r\n')}\r\n`;
}

const localIdOf = (index: number) => `contact-${index}.vcf`;

/** The contacts changed in incremental run `run`: 100 distinct indexes spread over the collection. */
const changedIndexes = (run: number) => Array.from({ length: changedTotal }, (_, k) => (run * 37 + k * (contactsTotal / changedTotal)) % contactsTotal);

// ---------------------------------------------------------------------------------------------------
// The server child process.

const serveArgs = (where: string[], port: number) => ['serve', ...where, '--port', String(port), '--host', '127.0.0.1'];

// ---------------------------------------------------------------------------------------------------
// The byte-counting proxy: every byte the client and the server exchange passes through it, so a
// phase's wire cost includes HTTP headers, chunking and gzip exactly as sent.

interface WireMeter {
  bytes: number;
  connections: number;
  /** The server's process, whose CPU time each sample reads. */
  serverPid: number;
}

interface WireProxy {
  url: string;
  meter: WireMeter;
  close(): Promise<void>;
}

async function startProxy(targetPort: number, serverPid: number): Promise<WireProxy> {
  const meter: WireMeter = { bytes: 0, connections: 0, serverPid };
  const open = new Set<Socket>();
  const server = createServer((client) => {
    meter.connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      // Counting what each side receives counts every byte once: requests on `client`, responses on `upstream`.
      socket.on('data', (chunk: Buffer) => (meter.bytes += chunk.length));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => open.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    meter,
    async close() {
      // The client's keep-alive connections would hold the server (and this process) open.
      for (const socket of open) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Client devices: the SDK with a SQLite replica each, talking to the server through the proxy.

interface Device {
  client: SyncClient;
  replica: Replica;
  /** The replica's file. */
  path: string;
  close(): void;
}

function openDevice(id: string, baseDir: string, proxyUrl: string, openDevices: Set<Device>): Device {
  const dir = join(baseDir, id);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'replica.db');
  const replica = openSqliteReplica(path);
  const transport = new HttpTransport({ baseUrl: proxyUrl, credentials: account, encoding: 'json' });
  const device: Device = {
    client: new SyncClient({ transport, replica, device: { id }, windowSize }),
    replica,
    path,
    close() {
      openDevices.delete(device);
      replica.close();
    },
  };
  openDevices.add(device);
  return device;
}

/** Items the device holds with content (server deletes not yet reaped have none). */
const liveCount = (device: Device, collectionId: string) =>
  device.replica.transaction((tx) => tx.all(collectionId).filter((item) => item.data !== null).length);

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(`bench check failed: ${message}`);
}

function expectClean(summary: SyncSummary, what: string): void {
  expect(summary.rejected.length === 0, `${what}: the server rejected ${summary.rejected.length} items, first: ${JSON.stringify(summary.rejected[0])}`);
  expect(!summary.reinitialized && summary.retries === 0, `${what}: ${summary.retries} retries, reinitialized=${summary.reinitialized}`);
}

// ---------------------------------------------------------------------------------------------------
// Measurement.

interface Sample {
  ms: number;
  bytes: number;
  connections: number;
  exchanges: number;
  /** CPU time spent meanwhile by this process (the SDK devices and the proxy) and by the server. Less noisy than wall time on a shared machine. */
  cpuMs: { client: number; server: number };
}

/** Runs one sync and records its wall time, CPU time and what crossed the proxy meanwhile. */
async function measuredSync(meter: WireMeter, sync: () => Promise<SyncSummary>): Promise<{ sample: Sample; summary: SyncSummary }> {
  const bytes = meter.bytes;
  const connections = meter.connections;
  const client = process.cpuUsage();
  const server = cpuSeconds(meter.serverPid);
  const start = performance.now();
  const summary = await sync();
  const ms = performance.now() - start;
  const used = process.cpuUsage(client);
  const cpuMs = { client: (used.user + used.system) / 1000, server: (cpuSeconds(meter.serverPid) - server) * 1000 };
  return { summary, sample: { ms, bytes: meter.bytes - bytes, connections: meter.connections - connections, exchanges: summary.exchanges, cpuMs } };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface PhaseFigures {
  runs: number;
  itemsPerRun: number;
  msMedian: number;
  msAll: number[];
  itemsPerSecond: number;
  wireBytesMedian: number;
  wireBytesPerItem: number;
  exchangesPerRun: number;
  newConnectionsPerRun: number;
  cpuMsMedian: { client: number; server: number };
}

function phaseFigures(items: number, samples: readonly Sample[]): PhaseFigures {
  const msMedian = median(samples.map((s) => s.ms));
  const wireBytesMedian = median(samples.map((s) => s.bytes));
  return {
    runs: samples.length,
    itemsPerRun: items,
    msMedian: round(msMedian, 1),
    msAll: samples.map((s) => round(s.ms, 1)),
    itemsPerSecond: round((items * 1000) / msMedian, 0),
    wireBytesMedian,
    wireBytesPerItem: round(wireBytesMedian / items, 1),
    exchangesPerRun: median(samples.map((s) => s.exchanges)),
    newConnectionsPerRun: median(samples.map((s) => s.connections)),
    cpuMsMedian: { client: round(median(samples.map((s) => s.cpuMs.client)), 1), server: round(median(samples.map((s) => s.cpuMs.server)), 1) },
  };
}

const round = (value: number, decimals: number) => Math.round(value * 10 ** decimals) / 10 ** decimals;

// ---------------------------------------------------------------------------------------------------
// The phases.

interface Context {
  meter: WireMeter;
  proxyUrl: string;
  devicesDir: string;
  openDevices: Set<Device>;
  collectionId: string;
}

/** Device "seed" uploads every contact. Reported separately: it is the setup, not a measured phase. */
async function seedContacts(ctx: Context): Promise<{ seed: Device; upload: PhaseFigures }> {
  const seed = openDevice('seed', ctx.devicesDir, ctx.proxyUrl, ctx.openDevices);
  seed.replica.transaction((tx) => {
    for (let i = 0; i < contactsTotal; i++) recordLocalPut(tx, ctx.collectionId, localIdOf(i), contactVcard(i, 0));
  });
  const { sample, summary } = await measuredSync(ctx.meter, () => seed.client.syncCollection(ctx.collectionId));
  expectClean(summary, 'upload');
  expect(summary.sent === contactsTotal, `upload sent ${summary.sent} contacts, expected ${contactsTotal}`);
  return { seed, upload: phaseFigures(contactsTotal, [sample]) };
}

/**
 * Fresh devices each receive the whole collection. The first one is kept: it is the in-sync device of
 * the later phases. Each run is followed by a pass of the floor, plain and gzipped, so that a change in
 * the machine's load falls on both sides of the ratio.
 */
async function initialSyncs(ctx: Context, page: FloorPage): Promise<{ reader: Device; initial: PhaseFigures; floor: FloorFigures }> {
  const samples: Sample[] = [];
  const plain: Array<{ ms: number; jsonBytes: number }> = [];
  const gzipped: Array<{ ms: number; gzipBytes: number }> = [];
  let reader: Device | undefined;
  // An untimed pass warms the database's cache and V8, as the first initial sync warms the server.
  await floorPass(page, ctx.collectionId, true);
  for (let run = 1; run <= runs; run++) {
    const device = openDevice(`reader-${run}`, ctx.devicesDir, ctx.proxyUrl, ctx.openDevices);
    const { sample, summary } = await measuredSync(ctx.meter, () => clientProfiled(`initial-${run}`, () => device.client.syncCollection(ctx.collectionId)));
    expectClean(summary, `initial run ${run}`);
    expect(summary.received === contactsTotal, `initial run ${run} received ${summary.received} items, expected ${contactsTotal}`);
    const held = liveCount(device, ctx.collectionId);
    expect(held === contactsTotal, `initial run ${run}: the replica holds ${held} contacts, expected ${contactsTotal}`);
    samples.push(sample);
    if (reader) device.close();
    else reader = device;
    plain.push(await floorPass(page, ctx.collectionId, false));
    gzipped.push(await floorPass(page, ctx.collectionId, true));
  }
  return { reader: reader as Device, initial: phaseFigures(contactsTotal, samples), floor: floorFigures(plain, gzipped) };
}

/** The seed device edits 100 contacts and uploads them; the in-sync device then receives exactly those. */
async function incrementalSyncs(ctx: Context, seed: Device, reader: Device): Promise<PhaseFigures> {
  const samples: Sample[] = [];
  for (let run = 1; run <= runs; run++) {
    seed.replica.transaction((tx) => {
      for (const i of changedIndexes(run)) recordLocalPut(tx, ctx.collectionId, localIdOf(i), contactVcard(i, run));
    });
    const upload = await seed.client.syncCollection(ctx.collectionId);
    expectClean(upload, `incremental run ${run} upload`);
    expect(upload.sent === changedTotal, `incremental run ${run}: the seed sent ${upload.sent} changes, expected ${changedTotal}`);
    const { sample, summary } = await measuredSync(ctx.meter, () => reader.client.syncCollection(ctx.collectionId));
    expectClean(summary, `incremental run ${run}`);
    expect(summary.received === changedTotal, `incremental run ${run} received ${summary.received} items, expected ${changedTotal}`);
    samples.push(sample);
  }
  return phaseFigures(changedTotal, samples);
}

interface IdleFigures {
  syncs: number;
  msMedian: number;
  msP90: number;
  /** Back-to-back requests of one client: exchanges / total wall time. */
  requestsPerSecond: number;
  wireBytesPerSync: number;
  exchangesPerSync: number;
  /** Idle syncs after which the server's database, or the device's replica, had a commit that changed it. */
  syncsThatWrote: { server: number; client: number };
  /** A CardDAV client asking the same collection for changes since its sync token (RFC 6578), interleaved with the syncs above. */
  dav: { msMedian: number; msP90: number; wireBytesPerSync: number };
  /** msMedian over dav.msMedian. */
  overDav: number;
}

const davSyncBody = (token: string) =>
  `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;

/** One sync-collection REPORT from `token`, over the same proxy and the same HTTP client (fetch) as the SDK; returns the new token. */
async function davSync(url: string, token: string): Promise<{ token: string; members: number }> {
  const res = await fetch(url, {
    method: 'REPORT',
    headers: { authorization: `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`, 'content-type': 'application/xml', depth: '1' },
    body: davSyncBody(token),
  });
  const text = await res.text();
  expect(res.status === 207, `sync-collection answered ${res.status}: ${text.slice(0, 200)}`);
  expect(!/507 Insufficient Storage/.test(text), 'the bench reads the whole collection in one sync-collection answer');
  return { token: /<(?:\w+:)?sync-token>([^<]*)</.exec(text)?.[1] ?? '', members: text.match(/<(?:\w+:)?response[ >]/g)?.length ?? 0 };
}

/**
 * The in-sync device asks again and again with nothing to get: the cost of polling. Each of its syncs is
 * followed by a CardDAV client's sync-collection with nothing to get on the same collection (the peer
 * measured in the same run), and each is checked for a durable write on either side of the native sync.
 */
async function idleSyncsPhase(ctx: Context, reader: Device, backend: Backend): Promise<IdleFigures> {
  const davUrl = `${ctx.proxyUrl}/dav/users/${account.user}/contacts/`;
  let { token } = await davSync(davUrl, '');
  const serverWrote = await backend.commitWatcher();
  const clientWrote = sqliteCommitWatcher(reader.path);
  const samples: Sample[] = [];
  const davSamples: Sample[] = [];
  const wrote = { server: 0, client: 0 };
  for (let i = 0; i < idleSyncs; i++) {
    const { sample, summary } = await measuredSync(ctx.meter, () => reader.client.syncCollection(ctx.collectionId));
    expect(summary.received === 0 && summary.sent === 0, `idle sync ${i} moved items: sent ${summary.sent}, received ${summary.received}`);
    samples.push(sample);
    if (await serverWrote()) wrote.server++;
    if (clientWrote()) wrote.client++;
    const { sample: davSample } = await measuredSync(ctx.meter, async () => {
      const answer = await davSync(davUrl, token);
      expect(answer.members === 0, `an idle sync-collection listed ${answer.members} members`);
      token = answer.token;
      return { exchanges: 1 } as SyncSummary;
    });
    davSamples.push(davSample);
  }
  const spread = (list: Sample[]) => {
    const ms = list.map((s) => s.ms).sort((a, b) => a - b);
    return { msMedian: round(median(ms), 2), msP90: round(ms[Math.floor(ms.length * 0.9)] as number, 2), totalMs: ms.reduce((sum, x) => sum + x, 0) };
  };
  const native = spread(samples);
  const dav = spread(davSamples);
  const exchanges = samples.reduce((sum, s) => sum + s.exchanges, 0);
  return {
    syncs: idleSyncs,
    msMedian: native.msMedian,
    msP90: native.msP90,
    requestsPerSecond: round((exchanges * 1000) / native.totalMs, 0),
    wireBytesPerSync: median(samples.map((s) => s.bytes)),
    exchangesPerSync: median(samples.map((s) => s.exchanges)),
    syncsThatWrote: wrote,
    dav: { msMedian: dav.msMedian, msP90: dav.msP90, wireBytesPerSync: median(davSamples.map((s) => s.bytes)) },
    overDav: round(native.msMedian / dav.msMedian, 2),
  };
}

interface FloorFigures {
  runs: number;
  msMedian: number;
  itemsPerSecond: number;
  /** The same pages gzip-compressed as the server's send() does (same level). */
  withGzipMsMedian: number;
  withGzipItemsPerSecond: number;
  jsonBytesPerItem: number;
  gzipBytesPerItem: number;
}

/** A page of live items in seq order after `after`, at most `limit`, as the floor reads them from the server's database. */
type FloorPage = (collectionId: string, after: number, limit: number) => Promise<Array<{ id: string; data: string; etag: string; seq: number }>>;

/**
 * The floor: the live items of the collection read straight from the server's database, page by page
 * in seq order, and serialized as the sync response the server would send for each page (and, for the
 * gzip floor, compressed at the server's level). No sync state, HTTP or client work, so the initial sync
 * cannot be faster than this. `gzip`: whether each page is compressed.
 */
async function floorPass(page: FloorPage, collectionId: string, gzip: boolean): Promise<{ ms: number; items: number; jsonBytes: number; gzipBytes: number }> {
  const start = performance.now();
  let items = 0;
  let jsonBytes = 0;
  let gzipBytes = 0;
  let after = 0;
  for (let syncKey = 1; ; syncKey++) {
    // One more row than the window tells whether more are available, as the server does.
    const rows = await page(collectionId, after, windowSize + 1);
    const sent = rows.slice(0, windowSize);
    const body = Buffer.from(
      JSON.stringify({
        version: protocolVersion,
        status: 'ok',
        collections: [
          {
            collectionId,
            status: 'ok',
            syncKey,
            moreAvailable: rows.length > windowSize,
            commands: sent.map((r) => ({ op: 'add', serverId: r.id, data: r.data, etag: r.etag })),
            results: [],
            fetched: [],
          },
        ],
      }),
    );
    items += sent.length;
    jsonBytes += body.length;
    if (gzip) gzipBytes += gzipSync(body, { level: gzipLevel }).length;
    if (rows.length <= windowSize) break;
    after = (sent[sent.length - 1] as { seq: number }).seq;
  }
  expect(items === contactsTotal, `the floor read ${items} live items, expected ${contactsTotal}`);
  return { ms: performance.now() - start, items, jsonBytes, gzipBytes };
}

function floorFigures(plain: Array<{ ms: number; jsonBytes: number }>, gzipped: Array<{ ms: number; gzipBytes: number }>): FloorFigures {
  const msMedian = median(plain.map((p) => p.ms));
  const withGzipMsMedian = median(gzipped.map((p) => p.ms));
  return {
    runs: plain.length,
    msMedian: round(msMedian, 1),
    itemsPerSecond: round((contactsTotal * 1000) / msMedian, 0),
    withGzipMsMedian: round(withGzipMsMedian, 1),
    withGzipItemsPerSecond: round((contactsTotal * 1000) / withGzipMsMedian, 0),
    jsonBytesPerItem: round((plain[0]?.jsonBytes ?? 0) / contactsTotal, 1),
    gzipBytesPerItem: round((gzipped[0]?.gzipBytes ?? 0) / contactsTotal, 1),
  };
}

/** With `--cpu-prof`, `work` runs under the inspector's profiler and its profile goes to DIR/client-NAME.cpuprofile. */
async function clientProfiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (!cpuProfDir) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(cpuProfDir, { recursive: true });
    writeFileSync(join(cpuProfDir, `client-${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------
// Report.

const mib = (kib: number) => round(kib / 1024, 1);
const fmt = (n: number) => n.toLocaleString('en-US');

function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, col) => Math.max(...cells.map((r) => String(r[col]).length)));
  const line = (r: Array<string | number>) => r.map((c, col) => (col === 0 ? String(c).padEnd(widths[col] ?? 0) : String(c).padStart(widths[col] ?? 0))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

interface Results {
  upload: PhaseFigures;
  initial: PhaseFigures;
  incremental: PhaseFigures;
  noChanges: IdleFigures;
  floor: FloorFigures;
  /** initial.msMedian over floor.msMedian: the floor reads the same rows and writes the same JSON pages. */
  initialOverFloor: number;
  /** initial.msMedian over floor.withGzipMsMedian: the floor also gzips each page as the server does, so it makes the bytes the client receives. */
  initialOverFloorWithGzip: number;
  memory: { clientStartRssMiB: number; clientPeakRssMiB: number; serverPeakRssMiB: number };
}

function report(backend: string, results: Results): void {
  const phaseRow = (name: string, p: PhaseFigures) => [name, p.runs, p.itemsPerRun, p.msMedian, p.itemsPerSecond, p.wireBytesPerItem, p.exchangesPerRun, p.newConnectionsPerRun, p.cpuMsMedian.client, p.cpuMsMedian.server];
  console.log(`\nSyncpoint sync benchmark on ${backend}: ${fmt(contactsTotal)} contacts, window ${windowSize}, JSON over HTTP/1.1 (node ${process.version})\n`);
  printTable(
    ['phase', 'runs', 'items', 'median ms', 'items/s', 'wire B/item', 'exchanges', 'new conns', 'CPU ms client', 'CPU ms server'],
    [
      phaseRow(`upload ${fmt(contactsTotal)} (setup)`, results.upload),
      phaseRow('initial', results.initial),
      phaseRow(`incremental ${changedTotal}`, results.incremental),
    ],
  );
  const idle = results.noChanges;
  console.log(`\nno changes: ${idle.syncs} syncs, median ${idle.msMedian} ms (p90 ${idle.msP90} ms), ${fmt(idle.requestsPerSecond)} requests/s back to back, ${fmt(idle.wireBytesPerSync)} wire bytes/sync, ${idle.exchangesPerSync} exchange/sync`);
  console.log(`  syncs after which a commit changed the server's database: ${idle.syncsThatWrote.server}, the device's replica: ${idle.syncsThatWrote.client}`);
  console.log(`  CardDAV sync-collection with no changes, interleaved: median ${idle.dav.msMedian} ms (p90 ${idle.dav.msP90} ms), ${fmt(idle.dav.wireBytesPerSync)} wire bytes  ->  native ${idle.overDav}× DAV`);
  const f = results.floor;
  console.log(`\nfloor (read ${fmt(contactsTotal)} rows + JSON pages of ${windowSize}): ${f.msMedian} ms = ${fmt(f.itemsPerSecond)} items/s; with gzip: ${f.withGzipMsMedian} ms = ${fmt(f.withGzipItemsPerSecond)} items/s`);
  console.log(`  page JSON ${f.jsonBytesPerItem} B/item, gzipped ${f.gzipBytesPerItem} B/item (the initial sync put ${results.initial.wireBytesPerItem} B/item on the wire)`);
  console.log(`initial sync takes ${results.initialOverFloor}× the floor's time (${results.initialOverFloorWithGzip}× the floor with gzip, which makes the bytes the client receives)`);
  const m = results.memory;
  console.log(`\npeak RSS: client (bench process: SDK devices and proxy) ${m.clientPeakRssMiB} MiB (${m.clientStartRssMiB} MiB at start), server ${m.serverPeakRssMiB} MiB\n`);
}

// ---------------------------------------------------------------------------------------------------

/** Where the server keeps its data, and how the bench reads it beside the server (the floor, and whether a sync wrote). */
interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  /** The CLI's arguments that name the database. */
  where: string[];
  page: FloorPage;
  /** A check, from now on, of whether anything committed a change to the database since the last check. */
  commitWatcher(): Promise<() => Promise<boolean>>;
  close(): Promise<void>;
}

function sqliteBackend(dataDir: string): Backend {
  // The server's database file (databaseFile() in src/server/open-store.ts, not imported so that this
  // process loads only the SDK). WAL lets this process read it beside the server.
  const path = join(dataDir, 'syncpoint.db');
  let opened: OpenDatabase | undefined;
  let statement: Statement<[string, number, number], { id: string; data: string; etag: string; seq: number }> | undefined;
  return {
    name: 'SQLite',
    where: ['--data', dataDir],
    page: async (collectionId, after, limit) => {
      opened ??= openDatabase(path);
      statement ??= opened.prepare<[string, number, number], { id: string; data: string; etag: string; seq: number }>(
        'SELECT id, data, etag, seq FROM items WHERE collection_id = ? AND deleted_at IS NULL AND seq > ? ORDER BY seq LIMIT ?',
      );
      return statement.all(collectionId, after, limit);
    },
    commitWatcher: async () => {
      const changed = sqliteCommitWatcher(path);
      return async () => changed();
    },
    close: async () => void opened?.db.close(),
  };
}

async function postgresBackend(): Promise<Backend> {
  const cluster = await startPgCluster();
  const database = await cluster.createDatabase();
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  // The next transaction id only moves when a transaction writes (a read-only one takes none).
  const nextXid = async () => Number((await client.query<{ x: string }>('SELECT txid_snapshot_xmax(txid_current_snapshot()) AS x')).rows[0]?.x);
  return {
    name: 'PostgreSQL',
    where: ['--database', database],
    page: async (collectionId, after, limit) =>
      (
        await client.query<{ id: string; data: string; etag: string; seq: string }>({
          name: 'floor-page',
          text: 'SELECT id, data, etag, seq FROM items WHERE collection_id = $1 AND deleted_at IS NULL AND seq > $2 ORDER BY seq LIMIT $3',
          values: [collectionId, after, limit],
        })
      ).rows.map((r) => ({ ...r, seq: Number(r.seq) })),
    commitWatcher: async () => {
      let last = await nextXid();
      return async () => {
        const now = await nextXid();
        const changed = now !== last;
        last = now;
        return changed;
      };
    },
    close: async () => {
      await client.end();
      cluster.stop();
    },
  };
}

/** Every phase on one backend, with its own server. */
async function runBackend(backend: Backend, workDir: string): Promise<Results> {
  // The client's peak means more next to what the process held before any work.
  const clientStartRssKiB = process.resourceUsage().maxRSS;
  const openDevices = new Set<Device>();
  let server: ChildProcess | undefined;
  let proxy: WireProxy | undefined;
  try {
    createAccount(backend.where, account);
    const port = await freePort();
    server = await startServer(serveArgs(backend.where, port), false, true, cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(cpuProfDir, backend.name)] : []);
    proxy = await startProxy(port, server.pid as number);

    const collections = await new HttpTransport({ baseUrl: proxy.url, credentials: account }).listCollections();
    const collectionId = collections.find((c) => c.name === 'contacts')?.id;
    if (!collectionId) throw new Error('the new account has no "contacts" collection');
    const ctx: Context = { meter: proxy.meter, proxyUrl: proxy.url, devicesDir: join(workDir, `devices-${backend.name}`), openDevices, collectionId };

    const { seed, upload } = await seedContacts(ctx);
    const { reader, initial, floor } = await initialSyncs(ctx, backend.page);
    const incremental = await incrementalSyncs(ctx, seed, reader);
    const noChanges = await idleSyncsPhase(ctx, reader, backend);
    const clientPeakRssKiB = process.resourceUsage().maxRSS;
    const serverPeakRssKiB = rssKiB(server.pid as number);
    return {
      upload,
      initial,
      incremental,
      noChanges,
      floor,
      initialOverFloor: round(initial.msMedian / floor.msMedian, 2),
      initialOverFloorWithGzip: round(initial.msMedian / floor.withGzipMsMedian, 2),
      memory: { clientStartRssMiB: mib(clientStartRssKiB), clientPeakRssMiB: mib(clientPeakRssKiB), serverPeakRssMiB: mib(serverPeakRssKiB) },
    };
  } finally {
    for (const device of [...openDevices]) device.close();
    await proxy?.close();
    // After an earlier failure, a server that also fails to stop must not hide that failure.
    if (server) await stopServer(server).catch((err: unknown) => console.error(String(err)));
    await backend.close();
  }
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'syncpoint-bench-'));
  try {
    const sqlite = await runBackend(sqliteBackend(join(workDir, 'data')), workDir);
    report('SQLite', sqlite);
    // PostgreSQL runs where Debian's package is installed (.ci/setup installs it); `--sqlite-only` skips it.
    const withPostgres = !process.argv.includes('--sqlite-only') && postgresBin() !== undefined;
    const postgres = withPostgres ? await runBackend(await postgresBackend(), workDir) : undefined;
    if (postgres) report('PostgreSQL', postgres);
    else console.log('PostgreSQL: skipped (not installed, or --sqlite-only)\n');
    mkdirSync(dirname(resultsPath), { recursive: true });
    const output = {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      commands: {
        bench: 'npm run bench',
        createAccount: `${nodeCommand(accountArgs('<tmp>/data', account.user))}  (password on stdin; on PostgreSQL --database URL)`,
        serve: `SYNCPOINT_LOG_LEVEL=warn ${nodeCommand(serveArgs(['--data', '<tmp>/data'], 0))}`,
      },
      config: { contacts: contactsTotal, changed: changedTotal, windowSize, runs, idleSyncs, encoding: 'json' },
      // The SQLite figures at the top, where they have always been; PostgreSQL's in the same shape beside them.
      ...sqlite,
      postgres: postgres ?? null,
    };
    writeFileSync(resultsPath, `${JSON.stringify(output, null, 2)}\n`);
    console.log(`written to ${resultsPath}`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
