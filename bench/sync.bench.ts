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
import { openDatabase } from '../src/sqlite/open.js';
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

const serveArgs = (dataDir: string, port: number) => ['serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'];

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
 * the later phases.
 */
async function initialSyncs(ctx: Context): Promise<{ reader: Device; initial: PhaseFigures }> {
  const samples: Sample[] = [];
  let reader: Device | undefined;
  for (let run = 1; run <= runs; run++) {
    const device = openDevice(`reader-${run}`, ctx.devicesDir, ctx.proxyUrl, ctx.openDevices);
    const { sample, summary } = await measuredSync(ctx.meter, () => device.client.syncCollection(ctx.collectionId));
    expectClean(summary, `initial run ${run}`);
    expect(summary.received === contactsTotal, `initial run ${run} received ${summary.received} items, expected ${contactsTotal}`);
    const held = liveCount(device, ctx.collectionId);
    expect(held === contactsTotal, `initial run ${run}: the replica holds ${held} contacts, expected ${contactsTotal}`);
    samples.push(sample);
    if (reader) device.close();
    else reader = device;
  }
  return { reader: reader as Device, initial: phaseFigures(contactsTotal, samples) };
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

/**
 * Whether another connection committed a change to a SQLite file since the last call: `PRAGMA data_version`
 * changes then, and only then (a transaction that wrote nothing leaves it as it was).
 */
function commitWatcher(path: string): () => boolean {
  const { db } = openDatabase(path, { readonly: true });
  const version = () => db.prepare('PRAGMA data_version').pluck().get() as number;
  let last = version();
  return () => {
    const now = version();
    const changed = now !== last;
    last = now;
    return changed;
  };
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
async function idleSyncsPhase(ctx: Context, reader: Device, serverDatabase: string): Promise<IdleFigures> {
  const davUrl = `${ctx.proxyUrl}/dav/users/${account.user}/contacts/`;
  let { token } = await davSync(davUrl, '');
  const serverWrote = commitWatcher(serverDatabase);
  const clientWrote = commitWatcher(reader.path);
  const samples: Sample[] = [];
  const davSamples: Sample[] = [];
  const wrote = { server: 0, client: 0 };
  for (let i = 0; i < idleSyncs; i++) {
    const { sample, summary } = await measuredSync(ctx.meter, () => reader.client.syncCollection(ctx.collectionId));
    expect(summary.received === 0 && summary.sent === 0, `idle sync ${i} moved items: sent ${summary.sent}, received ${summary.received}`);
    samples.push(sample);
    if (serverWrote()) wrote.server++;
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

/**
 * The floor: the live items of the collection read straight from the server's database file, page by
 * page in seq order, and serialized as the sync response the server would send for each page. No
 * sync state, HTTP or client work, so the initial sync cannot be faster than this.
 */
function floor(databasePath: string, collectionId: string): FloorFigures {
  const { db, prepare } = openDatabase(databasePath);
  try {
    // One more row than the window tells whether more are available, as the server does.
    const page = prepare<[string, number, number], { id: string; data: string; etag: string; seq: number }>(
      'SELECT id, data, etag, seq FROM items WHERE collection_id = ? AND deleted_at IS NULL AND seq > ? ORDER BY seq LIMIT ?',
    );
    const readAll = (gzip: boolean) => {
      let items = 0;
      let jsonBytes = 0;
      let gzipBytes = 0;
      let after = 0;
      for (let syncKey = 1; ; syncKey++) {
        const rows = page.all(collectionId, after, windowSize + 1);
        const sent = rows.slice(0, windowSize);
        const body = JSON.stringify({
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
        });
        items += sent.length;
        jsonBytes += Buffer.byteLength(body);
        if (gzip) gzipBytes += gzipSync(body, { level: gzipLevel }).length;
        if (rows.length <= windowSize) return { items, jsonBytes, gzipBytes };
        after = (sent[sent.length - 1] as { seq: number }).seq;
      }
    };
    const timed = (gzip: boolean) => {
      const ms: number[] = [];
      let last = readAll(gzip);
      for (let run = 0; run < runs; run++) {
        const start = performance.now();
        last = readAll(gzip);
        ms.push(performance.now() - start);
      }
      expect(last.items === contactsTotal, `the floor read ${last.items} live items, expected ${contactsTotal}`);
      return { msMedian: median(ms), ...last };
    };
    // The untimed first pass inside timed() warms SQLite's page cache and V8, as the server is warm too.
    const plain = timed(false);
    const gzipped = timed(true);
    return {
      runs,
      msMedian: round(plain.msMedian, 1),
      itemsPerSecond: round((contactsTotal * 1000) / plain.msMedian, 0),
      withGzipMsMedian: round(gzipped.msMedian, 1),
      withGzipItemsPerSecond: round((contactsTotal * 1000) / gzipped.msMedian, 0),
      jsonBytesPerItem: round(plain.jsonBytes / contactsTotal, 1),
      gzipBytesPerItem: round(gzipped.gzipBytes / contactsTotal, 1),
    };
  } finally {
    db.close();
  }
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

function report(results: Results): void {
  const phaseRow = (name: string, p: PhaseFigures) => [name, p.runs, p.itemsPerRun, p.msMedian, p.itemsPerSecond, p.wireBytesPerItem, p.exchangesPerRun, p.newConnectionsPerRun, p.cpuMsMedian.client, p.cpuMsMedian.server];
  console.log(`\nSyncpoint sync benchmark: ${fmt(contactsTotal)} contacts, window ${windowSize}, JSON over HTTP/1.1 (node ${process.version})\n`);
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

async function main(): Promise<void> {
  // The client's peak means more next to what the process held before any work.
  const clientStartRssKiB = process.resourceUsage().maxRSS;
  const workDir = mkdtempSync(join(tmpdir(), 'syncpoint-bench-'));
  const dataDir = join(workDir, 'server');
  const openDevices = new Set<Device>();
  let server: ChildProcess | undefined;
  let proxy: WireProxy | undefined;
  try {
    createAccount(dataDir, account);
    const port = await freePort();
    server = await startServer(serveArgs(dataDir, port), false, false, cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []);
    proxy = await startProxy(port, server.pid as number);

    const collections = await new HttpTransport({ baseUrl: proxy.url, credentials: account }).listCollections();
    const collectionId = collections.find((c) => c.name === 'contacts')?.id;
    if (!collectionId) throw new Error('the new account has no "contacts" collection');
    const ctx: Context = { meter: proxy.meter, proxyUrl: proxy.url, devicesDir: join(workDir, 'devices'), openDevices, collectionId };

    // The server's database file (databaseFile() in src/server/open-store.ts, not imported so that this
    // process loads only the SDK). WAL lets this process read it beside the server.
    const serverDatabase = join(dataDir, 'syncpoint.db');
    const { seed, upload } = await seedContacts(ctx);
    const { reader, initial } = await clientProfiled('initial', () => initialSyncs(ctx));
    const incremental = await incrementalSyncs(ctx, seed, reader);
    const noChanges = await idleSyncsPhase(ctx, reader, serverDatabase);
    // Taken before the floor runs in this process, so it is the client's peak during the phases.
    const clientPeakRssKiB = process.resourceUsage().maxRSS;

    const floorFigures = floor(serverDatabase, collectionId);
    const serverPeakRssKiB = rssKiB(server.pid as number);
    await stopServer(server);

    const results: Results = {
      upload,
      initial,
      incremental,
      noChanges,
      floor: floorFigures,
      initialOverFloor: round(initial.msMedian / floorFigures.msMedian, 2),
      initialOverFloorWithGzip: round(initial.msMedian / floorFigures.withGzipMsMedian, 2),
      memory: { clientStartRssMiB: mib(clientStartRssKiB), clientPeakRssMiB: mib(clientPeakRssKiB), serverPeakRssMiB: mib(serverPeakRssKiB) },
    };
    report(results);
    mkdirSync(dirname(resultsPath), { recursive: true });
    const output = {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      commands: {
        bench: 'npm run bench',
        createAccount: `${nodeCommand(accountArgs('<tmp>/server', account.user))}  (password on stdin)`,
        serve: `SYNCPOINT_LOG_LEVEL=warn ${nodeCommand(serveArgs('<tmp>/server', port))}`,
      },
      config: { contacts: contactsTotal, changed: changedTotal, windowSize, runs, idleSyncs, encoding: 'json' },
      ...results,
    };
    writeFileSync(resultsPath, `${JSON.stringify(output, null, 2)}\n`);
    console.log(`written to ${resultsPath}`);
  } finally {
    for (const device of [...openDevices]) device.close();
    await proxy?.close();
    // After an earlier failure, a server that also fails to stop must not hide that failure.
    if (server) await stopServer(server).catch((err: unknown) => console.error(String(err)));
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
