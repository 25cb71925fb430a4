/**
 * ActiveSync benchmark (`npm run bench:eas`; not a test). A real `syncpoint serve` child process, and the
 * Ping load in a second child process (bench/eas-load.ts). Three measurements:
 *   1. pings:   how many concurrent Pings one server process holds, each an idle socket of its own, and
 *               its memory per Ping; against a baseline: a bare Node HTTP server (bench/eas-baseline.ts,
 *               its own process) that only holds the same POSTs;
 *   2. wake:    the latency from a change (a native device's sync request) to each held Ping's answer,
 *               p50 and p99, against the bare server answering all its held requests on one trigger;
 *   3. initial: an initial ActiveSync Sync of 10,000 contacts (windows of 512) against the native
 *               protocol's initial sync of the same contacts by the SDK, same server;
 *   4. mail:    a 10,000-message Dovecot Inbox (bench/eas-mail.ts): its initial Sync with Preview and 4 KB
 *               truncated bodies against the native sync of it, the delay from a delivery to the held
 *               Ping's answer, and the memory per Ping held on it. Needs Dovecot and root, as bench:mail.
 * Flags: --pings N (default 20000, capped by the open-file limit), --contacts N (default 10000),
 * --mail-messages N (default 10000; 0 leaves the mail part out), --mail-rounds N (3), --deliveries N (30),
 * --mail-pings N (default 5000, capped as --pings), --only PARTS (some parts only, comma-separated: pings
 * (1 and 2), initial, mail; the results file then holds those parts only), --profile DIR (part 1's server
 * writes a CPU profile to DIR when it stops, and heap snapshots before the Pings and while it holds them; no
 * results file).
 * Figures go to stdout and bench/results/eas-latest.json; nothing is asserted about speed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { limits } from '../src/core/limits.js';
import { child, children, namespace, text } from '../src/faces/eas/wbxml/element.js';
import { HttpTransport, recordLocalPut, SyncClient } from '../src/sdk/index.js';
import { openSqliteReplica } from '../src/sdk/node/index.js';
import type { EasLoadCommand, EasLoadReply } from './eas-load.js';
import { measureMail } from './eas-mail.js';
import { easPost, waitForHeld, type EasTarget } from './eas-wire.js';
import { createAccount, fileDescriptorHardLimit, freePort, rssKiB, startServer, stopServer, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const partNames = ['pings', 'initial', 'mail'] as const;
const onlyAt = process.argv.indexOf('--only');
const parts = new Set(onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : partNames);
for (const part of parts) if (!(partNames as readonly string[]).includes(part)) throw new Error(`--only takes ${partNames.join(', ')}; not ${part}`);
const profileAt = process.argv.indexOf('--profile');
const profileDir = profileAt >= 0 ? process.argv[profileAt + 1] : undefined;
const fdHardLimit = fileDescriptorHardLimit();
const pings = Math.min(flag('pings', 20_000), fdHardLimit - 100);
const contacts = flag('contacts', 10_000);
const account = { user: 'bench', password: 'bench-password-0123' };
const authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
const now = () => performance.timeOrigin + performance.now();
const loadPath = join(dirname(fileURLToPath(import.meta.url)), 'eas-load.js');
const heartbeatSeconds = 3540;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
};
const mib = (kib: number) => Math.round(kib / 102.4) / 10;
const round = (x: number) => Math.round(x * 100) / 100;
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

function startLoad(): { child: ChildProcess; ask(c: EasLoadCommand): Promise<Extract<EasLoadReply, { ok: true }>> } {
  const load = fork(loadPath, [], { execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child: load,
    ask: (c) =>
      new Promise((resolve, reject) => {
        load.once('message', (reply: EasLoadReply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))));
        load.send(c);
      }),
  };
}

async function serve(dataDir: string, nodeArgs: string[] = []) {
  // Every device here belongs to one account: its per-account limits (docs/configuration.md) are raised to fit.
  const perAccount = String(pings + 100);
  Object.assign(process.env, { SYNCPOINT_DEVICES_PER_ACCOUNT_MAX: perAccount, SYNCPOINT_PUSH_CHANNELS_PER_ACCOUNT_MAX: perAccount, SYNCPOINT_EAS_DEVICES_MAX: perAccount });
  const port = await freePort();
  const server = await startServer(['serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'], true, false, nodeArgs);
  return { child: server, url: `http://127.0.0.1:${port}` };
}

async function collectionId(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/collections`, { headers: { authorization } });
  const { collections } = (await res.json()) as { collections: Array<{ id: string; name: string }> };
  return (collections.find((c) => c.name === name) as { id: string }).id;
}

/** An SDK device with the SQLite replica a Node client keeps on disk (in `work`): the native side's real cost. */
function device(url: string, id: string, work: string) {
  const transport = new HttpTransport({ baseUrl: url, credentials: { user: account.user, password: account.password } });
  const replica = openSqliteReplica(join(work, `${id}.db`));
  return { replica, client: new SyncClient({ transport, replica, device: { id }, windowSize: 512, commandsMax: limits.itemsPerRequestMax }) };
}

/** Asks the server for a heap snapshot (its --heapsnapshot-signal) and waits until it is written to `dir`. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  const snapshots = () => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
  const before = snapshots().length;
  process.kill(pid, 'SIGUSR2');
  for (let tries = 0; tries < 600 && snapshots().length === before; tries++) await sleep(500);
  // The file appears as it is written; its writer is done once its size stops moving.
  let size = -1;
  for (;;) {
    const now = snapshots().reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    if (now === size) return;
    size = now;
    await sleep(2000);
  }
}

const vcard = (i: number) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-${i}\r\nFN:Person ${i}\r\nN:${i};Person;;;\r\nEMAIL:person${i}@example.org\r\nTEL;TYPE=cell:+1 555 ${String(i).padStart(7, '0')}\r\nEND:VCARD\r\n`;

const baselinePath = join(dirname(fileURLToPath(import.meta.url)), 'eas-baseline.js');

/** The bare-server baseline (bench/eas-baseline.ts) in a process of its own, so its memory reads apart. */
async function startBaseline() {
  const server = fork(baselinePath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => server.once('message', (m: { port: number }) => resolve(m.port)));
  const ask = (command: 'count' | 'answer') => new Promise<number>((resolve) => {
    server.once('message', (m: { held: number }) => resolve(m.held));
    server.send(command);
  });
  return { url: `http://127.0.0.1:${port}`, pid: server.pid as number, held: () => ask('count'), answer: () => ask('answer'), close: () => void server.kill() };
}

async function measurePings(work: string) {
  const dataDir = join(work, 'pings');
  mkdirSync(dataDir);
  createAccount(dataDir, account);
  const profiling = profileDir ? ['--cpu-prof', '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profileDir}`] : [];
  const server = await serve(dataDir, profiling);
  const load = startLoad();
  const baseline = await startBaseline();
  try {
    const pid = server.child.pid as number;
    const folder = await collectionId(server.url, 'contacts');
    const health = async () => ((await (await fetch(`${server.url}/health`)).json()) as { pushChannels: number }).pushChannels;
    // One snapshot before the Pings and one while they are held: their difference is what the Pings hold.
    if (profileDir) await heapSnapshot(pid, profileDir);
    const rssBefore = rssKiB(pid, 'VmRSS');
    const started = now();
    await load.ask({ cmd: 'pings', baseUrl: server.url, authorization, folderId: folder, count: pings, concurrency: 500, heartbeatSeconds });
    const held = await waitForHeld(pings, health);
    const openSeconds = (now() - started) / 1000;
    await sleep(2000);
    const rssHeld = rssKiB(pid, 'VmRSS');
    // Written by the server itself; the wake-up waits for it (a snapshot stops the process for seconds).
    if (profileDir) await heapSnapshot(pid, profileDir);

    // Pings answered already: refused, or timed out on their way in.
    const early = (await load.ask({ cmd: 'await', count: 0, timeoutMs: 0 })).statuses ?? {};
    // One change to the watched folder wakes every held Ping.
    const writer = device(server.url, 'writer', work);
    await writer.client.syncCollection(folder);
    writer.replica.transaction((tx) => recordLocalPut(tx, folder, 'wake', vcard(-1)));
    const changedAt = now();
    await writer.client.syncCollection(folder);
    const woke = await load.ask({ cmd: 'await', count: held, after: changedAt, timeoutMs: 120_000 });
    const wake = (woke.times ?? []).map((t) => t - changedAt);

    await load.ask({ cmd: 'reset' });
    const baseRssBefore = rssKiB(baseline.pid, 'VmRSS');
    await load.ask({ cmd: 'pings', baseUrl: baseline.url, authorization, folderId: folder, count: pings, concurrency: 500, heartbeatSeconds });
    const baselineHeld = await waitForHeld(pings, baseline.held);
    await sleep(2000);
    const baseRssHeld = rssKiB(baseline.pid, 'VmRSS');
    const triggeredAt = now();
    await baseline.answer();
    const baseWoke = await load.ask({ cmd: 'await', count: baselineHeld, after: triggeredAt, timeoutMs: 120_000 });
    const baseWake = (baseWoke.times ?? []).map((t) => t - triggeredAt);

    const perPing = Math.round(((rssHeld - rssBefore) * 1024) / Math.max(1, held));
    const perBaseline = Math.round(((baseRssHeld - baseRssBefore) * 1024) / Math.max(1, baselineHeld));
    return {
      fileDescriptorHardLimit: fdHardLimit,
      requested: pings,
      held,
      answeredBeforeTheChange: early,
      wokenStatuses: woke.statuses ?? {},
      failed: woke.failed ?? 0,
      failures: woke.failures ?? {},
      openSeconds: round(openSeconds),
      serverRssBeforeMiB: mib(rssBefore),
      serverRssHoldingMiB: mib(rssHeld),
      serverPeakRssMiB: mib(rssKiB(pid)),
      bytesPerPing: perPing,
      baselineHeld,
      baselineBytesPerRequest: perBaseline,
      memoryRatio: round(perPing / Math.max(1, perBaseline)),
      wake: { answered: wake.length, p50Ms: round(percentile(wake, 50)), p99Ms: round(percentile(wake, 99)), maxMs: round(Math.max(...wake)) },
      baselineWake: { answered: baseWake.length, p50Ms: round(percentile(baseWake, 50)), p99Ms: round(percentile(baseWake, 99)) },
      wakeRatioP50: round(percentile(wake, 50) / percentile(baseWake, 50)),
      wakeRatioP99: round(percentile(wake, 99) / percentile(baseWake, 99)),
      loadRssMiB: mib(woke.rssKiB),
    };
  } finally {
    load.child.kill();
    baseline.close();
    await stopServer(server.child);
  }
}

const as = namespace('AirSync');
const fh = namespace('FolderHierarchy');

async function measureInitialSync(work: string) {
  const dataDir = join(work, 'initial');
  mkdirSync(dataDir);
  createAccount(dataDir, account);
  const server = await serve(dataDir);
  try {
    const pid = server.child.pid as number;
    const folder = await collectionId(server.url, 'contacts');
    const importer = device(server.url, 'importer', work);
    await importer.client.syncCollection(folder);
    importer.replica.transaction((tx) => {
      for (let i = 0; i < contacts; i++) recordLocalPut(tx, folder, `c${i}`, vcard(i));
    });
    await importer.client.syncCollection(folder);

    const target: EasTarget = { baseUrl: server.url, authorization, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
    const easStarted = now();
    await easPost(target, 'FolderSync', 'phone1', fh('FolderSync', fh('SyncKey', '0')));
    const collection = (key: string, extra: ReturnType<typeof as>[] = []) =>
      as('Sync', as('Collections', as('Collection', as('SyncKey', key), as('CollectionId', folder), ...extra)));
    let reply = await easPost(target, 'Sync', 'phone1', collection('0'));
    let key = text(child(child(child(reply.body, 'Collections'), 'Collection'), 'SyncKey')) ?? '0';
    let items = 0;
    let bytes = 0;
    let exchanges = 0;
    for (;;) {
      reply = await easPost(target, 'Sync', 'phone1', collection(key, [as('WindowSize', '512')]));
      exchanges++;
      bytes += reply.bytes;
      const c = child(child(reply.body, 'Collections'), 'Collection');
      items += children(child(c, 'Commands'), 'Add').length;
      key = text(child(c, 'SyncKey')) ?? key;
      if (!child(c, 'MoreAvailable')) break;
    }
    const easMs = now() - easStarted;

    const nativeStarted = now();
    const reader = device(server.url, 'reader', work);
    const summary = await reader.client.syncCollection(folder);
    const nativeMs = now() - nativeStarted;
    return {
      contacts,
      eas: { ms: round(easMs), items, exchanges, bytesPerItem: Math.round(bytes / Math.max(1, items)), itemsPerSecond: Math.round((items / easMs) * 1000) },
      native: { ms: round(nativeMs), items: summary.received, exchanges: summary.exchanges, itemsPerSecond: Math.round((summary.received / nativeMs) * 1000) },
      ratio: round(easMs / nativeMs),
      serverPeakRssMiB: mib(rssKiB(pid)),
    };
  } finally {
    await stopServer(server.child);
  }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-eas-bench-'));
  try {
    console.log(`ActiveSync bench: node ${process.version}, ${cpus().length} cores`);
    let p;
    if (parts.has('pings')) {
      p = await measurePings(work);
      console.log(`\n1. held Pings: ${p.held} of ${p.requested} in ${p.openSeconds} s (answered before the change, by status: ${JSON.stringify(p.answeredBeforeTheChange)}; failed: ${p.failed} ${JSON.stringify(p.failures)})`);
      if (pings < flag('pings', 20_000)) console.log(`   (capped: this machine's hard limit on open files per process is ${fdHardLimit})`);
      console.log(`   server RSS ${p.serverRssBeforeMiB} -> ${p.serverRssHoldingMiB} MiB (peak ${p.serverPeakRssMiB} MiB): ${p.bytesPerPing} bytes per Ping`);
      console.log(`   bare HTTP server holding ${p.baselineHeld} requests: ${p.baselineBytesPerRequest} bytes per request  ->  ratio ${p.memoryRatio}x`);
      console.log(`\n2. change -> Ping answer, all ${p.wake.answered} woken (by status: ${JSON.stringify(p.wokenStatuses)}): p50 ${p.wake.p50Ms} ms, p99 ${p.wake.p99Ms} ms (max ${p.wake.maxMs} ms)`);
      console.log(`   bare server answering all on a trigger: p50 ${p.baselineWake.p50Ms} ms, p99 ${p.baselineWake.p99Ms} ms  ->  ratio p50 ${p.wakeRatioP50}x, p99 ${p.wakeRatioP99}x`);
    }
    let s;
    if (parts.has('initial')) {
      s = await measureInitialSync(work);
      console.log(`\n3. initial sync of ${s.contacts} contacts:`);
      console.log(`   ActiveSync ${s.eas.ms} ms (${s.eas.items} items, ${s.eas.exchanges} windows of 512, ${s.eas.bytesPerItem} bytes/item, ${s.eas.itemsPerSecond} items/s)`);
      console.log(`   native SDK ${s.native.ms} ms (${s.native.items} items, ${s.native.exchanges} exchanges, ${s.native.itemsPerSecond} items/s)  ->  ratio ${s.ratio}x`);
      console.log(`   server peak RSS ${s.serverPeakRssMiB} MiB`);
    }
    const mailMessages = parts.has('mail') ? flag('mail-messages', 10_000) : 0;
    let mail;
    if (mailMessages > 0) {
      const load = startLoad();
      try {
        mail = await measureMail(work, { messages: mailMessages, rounds: flag('mail-rounds', 3), deliveries: flag('deliveries', 30), pings: Math.min(flag('mail-pings', 5000), fdHardLimit - 100), account, authorization, load });
      } finally {
        load.child.kill();
      }
      // The bare server's bytes per request come from part 1; without it there is no ratio.
      const mailRatio = p ? round(mail.pings.bytesPerPing / Math.max(1, p.baselineBytesPerRequest)) : undefined;
      console.log(`\n4. mail: initial sync of a ${mail.messages}-message Inbox (Preview 255, bodies truncated at 4 KB), medians of ${mail.rounds} rounds taking turns:`);
      console.log(`   ActiveSync ${mail.initial.easMsMedian} ms (${mail.initial.easBytesPerItem} bytes/item), native ${mail.initial.nativeMsMedian} ms  ->  ratio ${mail.initial.ratio}x`);
      console.log(`   delivered to Dovecot (LMTP) -> held Ping answered, ${mail.deliveryToPing.deliveries} messages: p50 ${mail.deliveryToPing.p50Ms} ms, p99 ${mail.deliveryToPing.p99Ms} ms (max ${mail.deliveryToPing.maxMs} ms)`);
      console.log(`   ${mail.pings.held} Pings held on a mail folder: ${mail.pings.bytesPerPing} bytes per Ping${p ? ` (bare HTTP server: ${p.baselineBytesPerRequest} bytes per request  ->  ratio ${mailRatio}x)` : ''}`);
      console.log(`   server peak RSS ${mail.serverPeakRssMiB} MiB`);
      mail = { ...mail, pings: { ...mail.pings, memoryRatio: mailRatio } };
    }
    const only = onlyAt >= 0 ? ` --only ${[...parts].join(',')}` : '';
    if (!profileDir) writeResults('eas', { command: `npm run bench:eas -- --pings ${pings} --contacts ${contacts} --mail-messages ${mailMessages}${only}`, ...(p ? { pings: p } : {}), ...(s ? { initialSync: s } : {}), ...(mail ? { mail } : {}) });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
