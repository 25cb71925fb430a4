/**
 * Push benchmark (`npm run bench:push`; not a test). A real `syncpoint serve` child process, and the
 * client load in a second child process (bench/push-load.ts). Three measurements:
 *   1. idle:    how many idle push WebSockets one server process holds, its memory per connection,
 *               and what holding them does to a plain sync's latency (ratio against before);
 *   2. fanout:  latency from a change being sent by one device to each of 1,000 connected SDK devices
 *               holding it, p50 and p99, against a baseline: a bare `ws` server in this process that
 *               broadcasts a message of the same size when it gets an HTTP POST;
 *   3. lossy:   the same with 30% of notices lost on arrival: the time until every device holds the
 *               change, the lost ones through the sync that their gap detection starts.
 * Flags: --connections N (default 20000), --devices N (default 1000), --changes N (default 10).
 * Figures go to stdout and bench/results/push-latest.json; nothing is asserted about speed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { protocolVersion } from '../src/protocol/version.js';
import { HttpTransport, openMemoryReplica, recordLocalPut, SyncClient } from '../src/sdk/index.js';
import type { LoadCommand, LoadReply } from './push-load.js';
import { createAccount, fileDescriptorHardLimit, freePort, rssKiB, startServer, stopServer, writeResults } from './server-process.js';

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
const loadPath = join(dirname(fileURLToPath(import.meta.url)), 'push-load.js');

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
};
const mib = (kib: number) => Math.round(kib / 102.4) / 10;
const ms = (x: number) => Math.round(x * 100) / 100;

/** The load process, driven one command at a time. */
function startLoad(): { child: ChildProcess; ask(c: LoadCommand): Promise<Extract<LoadReply, { ok: true }>> } {
  const child = fork(loadPath, [], { execArgv: [`--max-old-space-size=4096`], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child,
    ask: (c) =>
      new Promise((resolve, reject) => {
        child.once('message', (reply: LoadReply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))));
        child.send(c);
      }),
  };
}

async function serve(dataDir: string, heartbeatSeconds: number) {
  // Every device here belongs to one account: its per-account limits (docs/configuration.md) are raised to fit.
  const perAccount = String(connections + fanoutDevices + 100);
  Object.assign(process.env, { SYNCPOINT_DEVICES_PER_ACCOUNT_MAX: perAccount, SYNCPOINT_PUSH_CHANNELS_PER_ACCOUNT_MAX: perAccount });
  const port = await freePort();
  const child = await startServer(['serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1', '--push-heartbeat-seconds', String(heartbeatSeconds)], true);
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

async function measureIdle(work: string) {
  const dataDir = join(work, 'idle');
  mkdirSync(dataDir);
  createAccount(dataDir, account);
  const server = await serve(dataDir, 30);
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
    load.child.kill();
    await stopServer(server.child);
  }
}

/** A bare `ws` broadcast server: the floor for fan-out over WebSockets on this machine. */
async function startBaseline() {
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      for (const client of wss.clients) client.send(body);
      res.end('ok');
    });
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => { wss.close(); http.close(() => r()); }) };
}

async function measureFanout(work: string) {
  const dataDir = join(work, 'fanout');
  mkdirSync(dataDir);
  createAccount(dataDir, account);
  // A short heartbeat: it bounds how long a device takes to notice that it lost the last notice.
  const heartbeatSeconds = 1;
  const server = await serve(dataDir, heartbeatSeconds);
  const load = startLoad();
  const baseline = await startBaseline();
  try {
    const collectionId = await contactsId(server.url);
    const writerReplica = openMemoryReplica();
    const writer = new SyncClient({ transport: new HttpTransport({ baseUrl: server.url, credentials: account }), replica: writerReplica, device: { id: 'writer' } });
    await writer.syncCollection(collectionId);
    let markers = 0;
    const runChanges = async (timeoutMs: number) => {
      const latencies: number[] = [];
      const completions: number[] = [];
      let viaSync = 0;
      let missing = 0;
      for (let k = 0; k < changes; k++) {
        const marker = `marker-${++markers}`;
        writerReplica.transaction((tx) => recordLocalPut(tx, collectionId, marker, card(marker)));
        const t0 = now();
        await writer.syncCollection(collectionId);
        const reply = await load.ask({ cmd: 'await', marker, timeoutMs });
        const times = (reply.times ?? []).map((t) => t - t0);
        latencies.push(...times);
        completions.push(Math.max(...times));
        viaSync += reply.viaSync ?? 0;
        missing += reply.missing ?? 0;
        await new Promise((r) => setTimeout(r, 200));
      }
      return { latencies, completions, viaSync, missing };
    };

    await load.ask({ cmd: 'fanout', baseUrl: server.url, user: account.user, password: account.password, collectionId, count: fanoutDevices, dropRate: 0, seed: 1 });
    const clean = await runChanges(30_000);
    await load.ask({ cmd: 'closeFanout' });

    const lossyReady = await load.ask({ cmd: 'fanout', baseUrl: server.url, user: account.user, password: account.password, collectionId, count: fanoutDevices, dropRate: 0.3, seed: 2 });
    const lossy = await runChanges(60_000);
    await load.ask({ cmd: 'closeFanout' });

    // Baseline: the same number of sockets, messages of the same size, one HTTP POST per change.
    await load.ask({ cmd: 'raw', url: baseline.url.replace('http:', 'ws:'), count: fanoutDevices });
    const base: number[] = [];
    for (let k = 0; k < changes; k++) {
      const marker = `marker-${900_000 + k}`;
      const message = JSON.stringify({ type: 'change', token: k + 1, collectionId, seq: k + 1, command: { op: 'add', serverId: 'x'.repeat(16), data: card(marker), etag: 'e'.repeat(27) } });
      const t0 = now();
      await fetch(baseline.url, { method: 'POST', body: message });
      const reply = await load.ask({ cmd: 'awaitRaw', marker, timeoutMs: 30_000 });
      base.push(...(reply.times ?? []).map((t) => t - t0));
      await new Promise((r) => setTimeout(r, 200));
    }
    await load.ask({ cmd: 'closeRaw' });
    return {
      devices: fanoutDevices,
      changes,
      heartbeatSeconds,
      fanout: { p50Ms: ms(percentile(clean.latencies, 50)), p99Ms: ms(percentile(clean.latencies, 99)), deliveries: clean.latencies.length, missing: clean.missing },
      baseline: { p50Ms: ms(percentile(base, 50)), p99Ms: ms(percentile(base, 99)), deliveries: base.length },
      ratioP50: ms(percentile(clean.latencies, 50) / percentile(base, 50)),
      ratioP99: ms(percentile(clean.latencies, 99) / percentile(base, 99)),
      lossy: {
        dropRate: 0.3,
        p50Ms: ms(percentile(lossy.latencies, 50)),
        p99Ms: ms(percentile(lossy.latencies, 99)),
        allDevicesMedianMs: ms(percentile(lossy.completions, 50)),
        allDevicesMaxMs: ms(Math.max(...lossy.completions)),
        viaSync: lossy.viaSync,
        deliveries: lossy.latencies.length,
        missing: lossy.missing,
      },
      serverPeakRssMiB: mib(rssKiB(server.child.pid as number)),
      loadRssMiB: mib(lossyReady.rssKiB),
    };
  } finally {
    await baseline.close();
    load.child.kill();
    await stopServer(server.child);
  }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-push-bench-'));
  try {
    console.log(`push bench: node ${process.version}, ${cpus().length} cores, protocol ${protocolVersion}`);
    const idle = await measureIdle(work);
    console.log(`\n1. idle connections: held ${idle.held} of ${idle.requested} (${idle.failed} failed) in ${idle.connectSeconds} s`);
    if (connections < flag('connections', 20_000)) console.log(`   (capped: this machine's hard limit on open files per process is ${fdHardLimit})`);
    console.log(`   server RSS ${idle.serverRssBeforeMiB} -> ${idle.serverRssAfterMiB} MiB (peak ${idle.serverPeakRssMiB} MiB): ${idle.bytesPerConnection} bytes per connection; load process ${idle.loadRssMiB} MiB`);
    console.log(`   a sync with no changes: ${idle.idleSyncBeforeMs} ms before, ${idle.idleSyncWhileHoldingMs} ms while holding them (${idle.idleSyncRatio}x)`);
    const fan = await measureFanout(work);
    console.log(`\n2. fan-out to ${fan.devices} SDK devices, ${fan.changes} changes (from the writer's request to the device's replica):`);
    console.log(`   syncpoint p50 ${fan.fanout.p50Ms} ms, p99 ${fan.fanout.p99Ms} ms (${fan.fanout.deliveries} deliveries, ${fan.fanout.missing} missing)`);
    console.log(`   bare ws broadcast p50 ${fan.baseline.p50Ms} ms, p99 ${fan.baseline.p99Ms} ms  ->  ratio p50 ${fan.ratioP50}x, p99 ${fan.ratioP99}x`);
    console.log(`\n3. with 30% of notices lost (heartbeat ${fan.heartbeatSeconds} s finds a lost last notice):`);
    console.log(`   every device holds the change after median ${fan.lossy.allDevicesMedianMs} ms, worst ${fan.lossy.allDevicesMaxMs} ms; per device p50 ${fan.lossy.p50Ms} ms, p99 ${fan.lossy.p99Ms} ms`);
    console.log(`   ${fan.lossy.viaSync} of ${fan.lossy.deliveries} deliveries came through a repairing sync; ${fan.lossy.missing} missing`);
    console.log(`   server peak RSS ${fan.serverPeakRssMiB} MiB; load process ${fan.loadRssMiB} MiB`);
    writeResults('push', { command: `npm run bench:push -- --connections ${connections} --devices ${fanoutDevices} --changes ${changes}`, idle, fanout: fan });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
