/**
 * Push benchmark (`npm run bench:push`; not a test). A real `syncpoint serve` child process on SQLite and
 * on PostgreSQL (a throwaway cluster), the client load in a second child process (bench/push-load.ts),
 * and the writer in this one. For each database, three measurements:
 *   1. idle:    how many idle push WebSockets one server process holds, its memory per connection,
 *               and what holding them does to a plain sync's latency (ratio against before);
 *   2. fanout:  latency from one device sending a change to each of 1,000 connected SDK devices holding
 *               it, p50 and p99, against a baseline: a bare `ws` server in a child process of its own
 *               (bench/push-baseline.ts) that broadcasts a message of the notice's size to as many
 *               sockets of the same load process when it gets an HTTP POST. Both are timed from the
 *               moment the writer sends its request; the rounds of the two alternate, so a change in the
 *               machine's load falls on both. Beside the time until the replica holds the change, the time
 *               until the notice is on the device's socket (as the baseline's messages are timed);
 *   3. lossy:   the same with 30% of notices lost on arrival: the time until every device holds the
 *               change, the lost ones through the sync that their gap detection starts. A server with a
 *               1-second heartbeat (which bounds how long a lost last notice goes unnoticed); the clean
 *               fan-out runs on the default (30 s), whose beats would otherwise fall into its rounds.
 * Flags: --connections N (default 20000), --devices N (default 1000), --changes N (default 10),
 * --database sqlite|postgres|both (default both), --cpu-prof DIR (the clean fan-out's server, load and
 * baseline processes write CPU profiles there: bench/README.md § Profile).
 * Figures go to stdout and bench/results/push-latest.json; nothing is asserted about speed.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { protocolVersion } from '../src/protocol/version.js';
import { HttpTransport, openMemoryReplica, recordLocalPut, SyncClient } from '../src/sdk/index.js';
import { startPgCluster, type PgCluster } from '../test/support/postgres.js';
import type { LoadCommand, LoadReply } from './push-load.js';
import { cliPath, fileDescriptorHardLimit, freePort, median, rssKiB, startServer, stopServer, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
/** No process here can open more files than this; sockets count, and the server needs a few for itself. */
const fdHardLimit = fileDescriptorHardLimit();
const connectionsMax = fdHardLimit - 100;
const connections = Math.min(flag('connections', 20_000), connectionsMax);
const fanoutDevices = flag('devices', 1000);
const changes = flag('changes', 10);
const account = { user: 'bench', password: 'bench-password-0123' };
const authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
const now = () => performance.timeOrigin + performance.now();
const here = dirname(fileURLToPath(import.meta.url));
const loadPath = join(here, 'push-load.js');
const baselinePath = join(here, 'push-baseline.js');
const databaseFlag = process.argv.includes('--database') ? (process.argv[process.argv.indexOf('--database') + 1] as string) : 'both';
if (!['sqlite', 'postgres', 'both'].includes(databaseFlag)) throw new Error('--database takes sqlite, postgres or both');
/** `--cpu-prof DIR` (bench/README.md § Profile). */
const profileDir = process.argv.includes('--cpu-prof') ? (process.argv[process.argv.indexOf('--cpu-prof') + 1] as string) : undefined;
/** Node's arguments for a process of the clean fan-out, writing its profile as DIR/NAME.cpuprofile. */
const profileArgs = (name: string) => (profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`]);

/** Where a server keeps the account's data: `--data DIR` or `--database URL`; a new one for each measurement. */
interface Store {
  where: string[];
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
};
const mib = (kib: number) => Math.round(kib / 102.4) / 10;
const ms = (x: number) => Math.round(x * 100) / 100;

/** The load process, driven one command at a time. */
function startLoad(nodeArgs: string[] = []): { child: ChildProcess; ask(c: LoadCommand): Promise<Extract<LoadReply, { ok: true }>> } {
  const child = fork(loadPath, [], { execArgv: [`--max-old-space-size=4096`, ...nodeArgs], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child,
    ask: (c) =>
      new Promise((resolve, reject) => {
        child.once('message', (reply: LoadReply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))));
        child.send(c);
      }),
  };
}

async function serve(store: Store, heartbeatSeconds: number, nodeArgs: string[] = []) {
  // Every device here belongs to one account: its per-account limits (docs/configuration.md) are raised to fit.
  const perAccount = String(connections + fanoutDevices + 100);
  Object.assign(process.env, { SYNCPOINT_DEVICES_PER_ACCOUNT_MAX: perAccount, SYNCPOINT_PUSH_CHANNELS_PER_ACCOUNT_MAX: perAccount });
  const port = await freePort();
  const child = await startServer(['serve', ...store.where, '--port', String(port), '--host', '127.0.0.1', '--push-heartbeat-seconds', String(heartbeatSeconds)], true, false, nodeArgs);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function contactsId(url: string): Promise<string> {
  const collections = await new HttpTransport({ baseUrl: url, credentials: account }).listCollections();
  const id = collections.find((c) => c.name === 'contacts')?.id;
  if (!id) throw new Error('no contacts collection');
  return id;
}

/** Median latency of syncs with nothing to get, from one device in this process. */
async function idleSyncMs(url: string, collectionId: string, samples = 50): Promise<number> {
  const client = new SyncClient({ transport: new HttpTransport({ baseUrl: url, credentials: account }), replica: openMemoryReplica(), device: { id: 'prober' } });
  await client.syncCollection(collectionId);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = now();
    await client.syncCollection(collectionId);
    times.push(now() - t);
  }
  return percentile(times, 50);
}

async function health(url: string): Promise<{ pushChannels: number }> {
  return (await (await fetch(`${url}/health`)).json()) as { pushChannels: number };
}

const card = (marker: string) =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${marker}\r\nFN:Fan Out ${marker}\r\nN:Out;Fan;;;\r\nEMAIL:${marker}@example.org\r\nTEL:+44 20 7946 0000\r\nNOTE:${marker}\r\nEND:VCARD\r\n`;

/** A new SQLite data directory, or a new database in the cluster, holding the bench's account. */
async function newStore(work: string, cluster: PgCluster | undefined, name: string): Promise<Store> {
  let where: string[];
  if (cluster) where = ['--database', await cluster.createDatabase()];
  else {
    const dataDir = join(work, name);
    mkdirSync(dataDir);
    where = ['--data', dataDir];
  }
  const run = spawnSync(process.execPath, [cliPath, 'user', 'add', account.user, '--password-stdin', ...where], { input: `${account.password}\n`, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`user add failed (exit ${run.status}): ${run.stderr}`);
  return { where };
}

async function measureIdle(store: Store) {
  const server = await serve(store, 30);
  const load = startLoad();
  try {
    const pid = server.child.pid as number;
    const collectionId = await contactsId(server.url);
    const syncBeforeMs = await idleSyncMs(server.url, collectionId);
    const rssBefore = rssKiB(pid, 'VmRSS');
    const wsUrl = `${server.url.replace('http:', 'ws:')}/api/v1/push/ws?collections=${collectionId}`;
    const opened = await load.ask({ cmd: 'idle', url: wsUrl, authorization, count: connections, concurrency: 200 });
    await new Promise((r) => setTimeout(r, 2000));
    const held = (await health(server.url)).pushChannels;
    const rssAfter = rssKiB(pid, 'VmRSS');
    const syncDuringMs = await idleSyncMs(server.url, collectionId);
    const result = {
      fileDescriptorHardLimit: fdHardLimit,
      requested: connections,
      held,
      failed: opened.failed ?? 0,
      connectSeconds: ms((opened.elapsedMs ?? 0) / 1000),
      serverRssBeforeMiB: mib(rssBefore),
      serverRssAfterMiB: mib(rssAfter),
      serverPeakRssMiB: mib(rssKiB(pid)),
      bytesPerConnection: Math.round(((rssAfter - rssBefore) * 1024) / Math.max(1, held)),
      loadRssMiB: mib(opened.rssKiB),
      idleSyncBeforeMs: ms(syncBeforeMs),
      idleSyncWhileHoldingMs: ms(syncDuringMs),
      idleSyncRatio: ms(syncDuringMs / syncBeforeMs),
    };
    await load.ask({ cmd: 'closeIdle' });
    return result;
  } finally {
    await release(load.child);
    await stopServer(server.child);
  }
}

/** A child process that lets go of its IPC channel exits by itself (writing its --cpu-prof profile); wait for that. */
async function release(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.disconnect();
  const timeout = setTimeout(() => child.kill(), 10_000);
  await exited;
  clearTimeout(timeout);
}

/** A bare `ws` broadcast server in a child process: the floor for fan-out over WebSockets on this machine. */
async function startBaseline(nodeArgs: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(baselinePath, [], { execArgv: nodeArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`the baseline server exited (code ${code})`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Figures of one set of latencies. */
const summary = (values: number[]) => ({ p50Ms: ms(percentile(values, 50)), p99Ms: ms(percentile(values, 99)), deliveries: values.length });

async function measureFanout(store: Store, label: string) {
  const load = startLoad(profileArgs(`load-${label}`));
  const baseline = await startBaseline(profileArgs(`baseline-${label}`));
  let server = await serve(store, 30, profileArgs(`server-${label}`));
  try {
    const collectionId = await contactsId(server.url);
    const writerReplica = openMemoryReplica();
    const writerAt = (url: string) => new SyncClient({ transport: new HttpTransport({ baseUrl: url, credentials: account }), replica: writerReplica, device: { id: 'writer' } });
    let writer = writerAt(server.url);
    await writer.syncCollection(collectionId);
    let markers = 0;
    /** One change through the server: when each device got it, and when its notice arrived. */
    const change = async (timeoutMs: number) => {
      const marker = `marker-${++markers}`;
      writerReplica.transaction((tx) => recordLocalPut(tx, collectionId, marker, card(marker)));
      const t0 = now();
      await writer.syncCollection(collectionId);
      const reply = await load.ask({ cmd: 'await', marker, timeoutMs });
      return { ...reply, times: (reply.times ?? []).map((t) => t - t0), arrived: (reply.arrived ?? []).map((t) => t - t0) };
    };
    /** The same for the baseline: a message of the notice's size, posted to the broadcast server. */
    const broadcast = async (k: number, noticeBytes: number) => {
      const marker = `marker-${k + 1}`;
      const message = JSON.stringify({ type: 'change', token: k + 1, collectionId, seq: k + 1, command: { op: 'add', serverId: 'x'.repeat(16), data: card(marker), etag: '' } });
      // Padded in the etag to the size of the notice the devices got (they differ by a few digits of ids).
      const sized = message.replace('"etag":""', `"etag":"${'e'.repeat(Math.max(0, noticeBytes - Buffer.byteLength(message)))}"`);
      const t0 = now();
      await fetch(baseline.url, { method: 'POST', body: sized });
      const reply = await load.ask({ cmd: 'awaitRaw', marker, timeoutMs: 30_000 });
      return { ...reply, times: (reply.times ?? []).map((t) => t - t0) };
    };
    const pause = () => new Promise((r) => setTimeout(r, 200));

    await load.ask({ cmd: 'fanout', baseUrl: server.url, user: account.user, password: account.password, collectionId, count: fanoutDevices, dropRate: 0, seed: 1 });
    await load.ask({ cmd: 'raw', url: baseline.url.replace('http:', 'ws:'), count: fanoutDevices });
    // Untimed: the first change of each opens the writer's connection, and sizes the baseline's message.
    const first = await change(30_000);
    await pause();
    await fetch(baseline.url, { method: 'POST', body: 'warm-up' });
    const noticeBytes = first.messageBytes ?? 0;
    const clean = { held: [] as number[], arrived: [] as number[], missing: 0 };
    const base: number[] = [];
    // Per change: when the first device got it (the server's work before it sends anything: for Syncpoint the
    // writer's exchange and its durable commit), and how long after that the last one did (the fan-out itself).
    const spans = { syncpoint: { first: [] as number[], spread: [] as number[] }, baseline: { first: [] as number[], spread: [] as number[] } };
    const span = (into: { first: number[]; spread: number[] }, times: number[]) => {
      into.first.push(Math.min(...times));
      into.spread.push(Math.max(...times) - Math.min(...times));
    };
    let baseBytes = 0;
    // Alternating which goes first, so neither always follows the other's pause.
    for (let k = 0; k < changes; k++) {
      for (const which of k % 2 === 0 ? ['syncpoint', 'baseline'] : ['baseline', 'syncpoint']) {
        if (which === 'syncpoint') {
          const r = await change(30_000);
          clean.held.push(...r.times);
          clean.arrived.push(...r.arrived);
          span(spans.syncpoint, r.times);
          clean.missing += r.missing ?? 0;
        } else {
          const r = await broadcast(k, noticeBytes);
          base.push(...r.times);
          span(spans.baseline, r.times);
          baseBytes = r.messageBytes ?? 0;
        }
        await pause();
      }
    }
    await load.ask({ cmd: 'closeFanout' });
    await load.ask({ cmd: 'closeRaw' });
    const serverPeakRssMiB = mib(rssKiB(server.child.pid as number));
    await stopServer(server.child);

    // The lossy run, on a server with a short heartbeat (the same store).
    server = await serve(store, 1);
    writer = writerAt(server.url);
    const lossyReady = await load.ask({ cmd: 'fanout', baseUrl: server.url, user: account.user, password: account.password, collectionId, count: fanoutDevices, dropRate: 0.3, seed: 2 });
    const lossy = { held: [] as number[], completions: [] as number[], viaSync: 0, missing: 0 };
    for (let k = 0; k < changes; k++) {
      const r = await change(60_000);
      lossy.held.push(...r.times);
      lossy.completions.push(Math.max(...r.times));
      lossy.viaSync += r.viaSync ?? 0;
      lossy.missing += r.missing ?? 0;
      await pause();
    }
    await load.ask({ cmd: 'closeFanout' });
    return {
      devices: fanoutDevices,
      changes,
      heartbeatSeconds: { clean: 30, lossy: 1 },
      messageBytes: { notice: noticeBytes, baseline: baseBytes },
      fanout: { ...summary(clean.held), missing: clean.missing },
      onSocket: summary(clean.arrived),
      baseline: summary(base),
      ratioP50: ms(percentile(clean.held, 50) / percentile(base, 50)),
      ratioP99: ms(percentile(clean.held, 99) / percentile(base, 99)),
      onSocketRatioP50: ms(percentile(clean.arrived, 50) / percentile(base, 50)),
      onSocketRatioP99: ms(percentile(clean.arrived, 99) / percentile(base, 99)),
      /** Medians over the changes: the first device's time, and the last device's time after it. */
      firstMsMedian: { syncpoint: ms(median(spans.syncpoint.first)), baseline: ms(median(spans.baseline.first)) },
      spreadMsMedian: { syncpoint: ms(median(spans.syncpoint.spread)), baseline: ms(median(spans.baseline.spread)) },
      lossy: {
        dropRate: 0.3,
        p50Ms: ms(percentile(lossy.held, 50)),
        p99Ms: ms(percentile(lossy.held, 99)),
        allDevicesMedianMs: ms(median(lossy.completions)),
        allDevicesMaxMs: ms(Math.max(...lossy.completions)),
        viaSync: lossy.viaSync,
        deliveries: lossy.held.length,
        missing: lossy.missing,
      },
      serverPeakRssMiB,
      loadRssMiB: mib(lossyReady.rssKiB),
    };
  } finally {
    await release(baseline.child);
    await release(load.child);
    await stopServer(server.child);
  }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-push-bench-'));
  const databases = databaseFlag === 'both' ? ['sqlite', 'postgres'] : [databaseFlag];
  const cluster = databases.includes('postgres') ? await startPgCluster() : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const results: Record<string, unknown> = {};
  try {
    console.log(`push bench: node ${process.version}, ${cpus().length} cores, protocol ${protocolVersion}`);
    for (const database of databases) {
      const on = database === 'postgres' ? cluster : undefined;
      console.log(`\n== ${database === 'postgres' ? 'PostgreSQL' : 'SQLite'}`);
      const idle = await measureIdle(await newStore(work, on, 'idle'));
      console.log(`1. idle connections: held ${idle.held} of ${idle.requested} (${idle.failed} failed) in ${idle.connectSeconds} s`);
      if (connections < flag('connections', 20_000)) console.log(`   (capped: this machine's hard limit on open files per process is ${fdHardLimit})`);
      console.log(`   server RSS ${idle.serverRssBeforeMiB} -> ${idle.serverRssAfterMiB} MiB (peak ${idle.serverPeakRssMiB} MiB): ${idle.bytesPerConnection} bytes per connection; load process ${idle.loadRssMiB} MiB`);
      console.log(`   a sync with no changes: ${idle.idleSyncBeforeMs} ms before, ${idle.idleSyncWhileHoldingMs} ms while holding them (${idle.idleSyncRatio}x)`);
      const fan = await measureFanout(await newStore(work, on, 'fanout'), database);
      console.log(`2. fan-out to ${fan.devices} SDK devices, ${fan.changes} changes, from the writer's request (messages of ${fan.messageBytes.notice} and ${fan.messageBytes.baseline} bytes):`);
      console.log(`   syncpoint, in the replica p50 ${fan.fanout.p50Ms} ms, p99 ${fan.fanout.p99Ms} ms (${fan.fanout.deliveries} deliveries, ${fan.fanout.missing} missing)`);
      console.log(`   syncpoint, on the socket  p50 ${fan.onSocket.p50Ms} ms, p99 ${fan.onSocket.p99Ms} ms`);
      console.log(`   bare ws broadcast         p50 ${fan.baseline.p50Ms} ms, p99 ${fan.baseline.p99Ms} ms`);
      console.log(`   ratio p50 ${fan.ratioP50}x, p99 ${fan.ratioP99}x (on the socket: p50 ${fan.onSocketRatioP50}x, p99 ${fan.onSocketRatioP99}x)`);
      console.log(`   first device after (median) ${fan.firstMsMedian.syncpoint} ms against ${fan.firstMsMedian.baseline} ms; the last ${fan.spreadMsMedian.syncpoint} ms after it against ${fan.spreadMsMedian.baseline} ms`);
      console.log(`3. with 30% of notices lost (heartbeat ${fan.heartbeatSeconds.lossy} s finds a lost last notice):`);
      console.log(`   every device holds the change after median ${fan.lossy.allDevicesMedianMs} ms, worst ${fan.lossy.allDevicesMaxMs} ms; per device p50 ${fan.lossy.p50Ms} ms, p99 ${fan.lossy.p99Ms} ms`);
      console.log(`   ${fan.lossy.viaSync} of ${fan.lossy.deliveries} deliveries came through a repairing sync; ${fan.lossy.missing} missing`);
      console.log(`   server peak RSS ${fan.serverPeakRssMiB} MiB; load process ${fan.loadRssMiB} MiB`);
      results[database] = { idle, fanout: fan };
    }
    const command = `npm run bench:push -- --connections ${connections} --devices ${fanoutDevices} --changes ${changes} --database ${databaseFlag}`;
    writeResults('push', { command, ...results });
  } finally {
    cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
