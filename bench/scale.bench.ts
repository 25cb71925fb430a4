/**
 * Scale benchmark (`npm run bench:scale`; not a test): SQLite with one server process, PostgreSQL with one,
 * and PostgreSQL with two on the same database, side by side on the same workload, each on loopback:
 *   1. exchanges per second for a mix of small syncs: `--accounts` accounts with two devices each, every
 *      device changing its own contact and receiving the other's change, all at once, in rounds that
 *      alternate between the setups (devices of the two-process setup alternate between the processes);
 *   2. the initial sync of `--contacts` contacts by the SDK (SQLite replica on disk), seeded through the
 *      first process and read through the last;
 *   3. push latency, from sending a change to the notice arriving on a channel of another device, with the
 *      change made through the last process and the channel on the first (so across processes in the
 *      two-process setup).
 * It prints each figure, the ratios the issue asks for (2 processes ÷ 1 on PostgreSQL; PostgreSQL ÷ SQLite
 * per exchange; cross-process ÷ same-process push p99) and each server's peak RSS, and writes
 * bench/results/scale-latest.json. The machine's cores are shared by the servers, PostgreSQL and this
 * client: read the ratios with that in mind.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSqliteReplica } from '../src/sdk/node/sqlite-replica.js';
import { SyncClient } from '../src/sdk/sync-loop.js';
import { HttpTransport } from '../src/sdk/transport.js';
import { startPgCluster } from '../test/support/postgres.js';
import { openRawChannel } from '../test/support/push.js';
import { cliPath, cpuSeconds, freePort, machineBusySeconds, rssKiB, startServer, stopServer, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const accounts = flag('accounts', 20);
const contacts = flag('contacts', 10_000);
const roundSeconds = flag('seconds', 5);
const rounds = 3;
const pushChanges = flag('changes', 200);
/** `--cpu-prof DIR`: each server writes a CPU profile there when it stops (bench/README.md § Profile). */
const profileDir = process.argv.includes('--cpu-prof') ? (process.argv[process.argv.indexOf('--cpu-prof') + 1] as string) : undefined;
/** `--only 1,2`: run only these setups (0 SQLite, 1 PostgreSQL with one process, 2 with two), for profiling; the ratios need all three. */
const only = process.argv.includes('--only') ? (process.argv[process.argv.indexOf('--only') + 1] as string).split(',').map(Number) : [0, 1, 2];
const password = 'scale-password-0123';

interface Setup {
  name: string;
  urls: string[];
  children: ChildProcess[];
  /** The account store: `--data DIR` or `--database URL`. */
  where: string[];
}

const card = (uid: string, name: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${name}\r\nN:${name};;;;\r\nEND:VCARD\r\n`;
const basic = (user: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function addUsers(where: string[], names: string[]): void {
  for (const name of names) {
    const run = spawnSync(process.execPath, [cliPath, 'user', 'add', name, '--password-stdin', ...where], { input: `${password}\n`, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`user add ${name}: ${run.stderr}`);
  }
}

async function startSetup(name: string, where: string[], processes: number): Promise<Setup> {
  const setup: Setup = { name, urls: [], children: [], where };
  for (let i = 0; i < processes; i++) {
    const port = await freePort();
    const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
    setup.children.push(await startServer(['serve', ...where, '--port', String(port), '--host', '127.0.0.1'], false, true, nodeArgs));
    setup.urls.push(`http://127.0.0.1:${port}`);
  }
  return setup;
}

async function sync(url: string, user: string, body: unknown): Promise<{ collections: Array<{ syncKey: number; results: Array<{ serverId?: string }> }> }> {
  const res = await fetch(`${url}/api/v1/sync`, { method: 'POST', headers: { authorization: basic(user), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`sync: ${res.status} ${await res.text()}`);
  return (await res.json()) as never;
}

async function contactsOf(url: string, user: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/collections`, { headers: { authorization: basic(user) } });
  const list = ((await res.json()) as { collections: Array<{ id: string; name: string }> }).collections;
  return (list.find((c) => c.name === 'contacts') as { id: string }).id;
}

/** A device of the small-syncs workload: its key, and the contact it keeps changing. */
interface SmallDevice {
  user: string;
  id: string;
  url: string;
  collectionId: string;
  syncKey: number;
  serverId: string;
  edits: number;
}

async function smallDevices(setup: Setup): Promise<SmallDevice[]> {
  const devices: SmallDevice[] = [];
  for (let a = 0; a < accounts; a++) {
    const user = `u${a}`;
    const collectionId = await contactsOf(setup.urls[0] as string, user);
    for (const d of [0, 1]) {
      const url = setup.urls[(a * 2 + d) % setup.urls.length] as string;
      const id = `${user}-d${d}`;
      const first = await sync(url, user, { version: 1, device: { id }, collections: [{ collectionId, syncKey: 0, commands: [{ op: 'add', clientId: 'c0', data: card(`${id}-card`, id) }] }] });
      const c = first.collections[0] as { syncKey: number; results: Array<{ serverId?: string }> };
      devices.push({ user, id, url, collectionId, syncKey: c.syncKey, serverId: c.results[0]?.serverId as string, edits: 0 });
    }
  }
  return devices;
}

/** Every device syncs a change of its contact, again and again, for `seconds`; returns exchanges and their times. */
async function smallSyncRound(devices: SmallDevice[], seconds: number): Promise<{ exchanges: number; ms: number[] }> {
  const until = performance.now() + seconds * 1000;
  const ms: number[] = [];
  await Promise.all(
    devices.map(async (device) => {
      while (performance.now() < until) {
        const t = performance.now();
        const answer = await sync(device.url, device.user, {
          version: 1,
          device: { id: device.id },
          collections: [{ collectionId: device.collectionId, syncKey: device.syncKey, commands: [{ op: 'change', serverId: device.serverId, data: card(`${device.id}-card`, `${device.id} ${++device.edits}`) }] }],
        });
        device.syncKey = (answer.collections[0] as { syncKey: number }).syncKey;
        ms.push(performance.now() - t);
      }
    }),
  );
  return { exchanges: ms.length, ms };
}

async function seedContacts(setup: Setup, user: string): Promise<string> {
  const url = setup.urls[0] as string;
  const collectionId = await contactsOf(url, user);
  let syncKey = 0;
  for (let at = 0; at < contacts; at += 200) {
    const commands = Array.from({ length: Math.min(200, contacts - at) }, (_, i) => ({ op: 'add', clientId: `s${at + i}`, data: card(`seed-${at + i}`, `Person ${at + i}`) }));
    const answer = await sync(url, user, { version: 1, device: { id: 'seeder' }, collections: [{ collectionId, syncKey, commands, getChanges: false }] });
    syncKey = (answer.collections[0] as { syncKey: number }).syncKey;
  }
  return collectionId;
}

async function initialSync(setup: Setup, user: string, collectionId: string, work: string, sample: number): Promise<number> {
  const replica = openSqliteReplica(join(work, `${setup.name}-${sample}.db`));
  const transport = new HttpTransport({ baseUrl: setup.urls[setup.urls.length - 1] as string, credentials: { user, password } });
  const client = new SyncClient({ transport, replica, device: { id: `reader-${sample}` } });
  const t = performance.now();
  await client.syncCollection(collectionId);
  const ms = performance.now() - t;
  const held = replica.transaction((tx) => tx.all(collectionId).length);
  if (held !== contacts) throw new Error(`${setup.name}: the initial sync brought ${held} of ${contacts} contacts`);
  replica.close();
  return ms;
}

async function pushLatency(setup: Setup, user: string): Promise<number[]> {
  const collectionId = await contactsOf(setup.urls[0] as string, user);
  const channel = openRawChannel(setup.urls[0] as string, { device: 'listener' }, { authorization: basic(user) });
  await channel.next((m) => m.type === 'hello');
  const writer = setup.urls[setup.urls.length - 1] as string;
  let syncKey = 0;
  const ms: number[] = [];
  for (let i = 0; i < pushChanges; i++) {
    const uid = `push-${i}`;
    const t = performance.now();
    const answered = sync(writer, user, { version: 1, device: { id: 'writer' }, collections: [{ collectionId, syncKey, commands: [{ op: 'add', clientId: uid, data: card(uid, uid) }], getChanges: false }] });
    await channel.next((m) => m.type === 'change' && m.command.op === 'add' && (m.command.data ?? '').includes(`UID:${uid}\r`), 10_000);
    ms.push(performance.now() - t);
    syncKey = ((await answered).collections[0] as { syncKey: number }).syncKey;
  }
  channel.socket.close();
  return ms;
}

/** CPU seconds of the PostgreSQL cluster on `port`: its postmaster, the backends it ended, and those alive. */
function postgresCpuSeconds(port: number): number {
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const parentOf = (pid: string) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    } catch {
      return undefined;
    }
  };
  const postmaster = procs.find((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0]?.endsWith('/postgres') === true && argv.includes(`port=${port}`);
    } catch {
      return false;
    }
  });
  if (postmaster === undefined) throw new Error(`no PostgreSQL postmaster on port ${port}`);
  return cpuSeconds(Number(postmaster), true) + procs.filter((pid) => parentOf(pid) === postmaster).reduce((sum, pid) => sum + cpuSeconds(Number(pid)), 0);
}

/** CPU seconds used so far by this bench (the load generator), the setup's servers, PostgreSQL, and the whole machine. */
function cpuNow(setup: Setup, pgPort: number) {
  const own = process.cpuUsage();
  return {
    client: (own.user + own.system) / 1e6,
    servers: setup.children.reduce((sum, c) => sum + cpuSeconds(c.pid as number), 0),
    postgres: postgresCpuSeconds(pgPort),
    machine: machineBusySeconds(),
    wall: performance.now() / 1000,
  };
}
type Cpu = ReturnType<typeof cpuNow>;
const noCpu = (): Cpu => ({ client: 0, servers: 0, postgres: 0, machine: 0, wall: 0 });

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const quantile = (xs: number[], q: number) => {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};
const median = (xs: number[]) => quantile(xs, 0.5);
const r2 = (x: number) => Number(x.toFixed(2));

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-scale-'));
  const cluster = await startPgCluster();
  const setups: Setup[] = [];
  try {
    const users = Array.from({ length: accounts }, (_, a) => `u${a}`);
    const dataDir = join(work, 'sqlite');
    mkdirSync(dataDir);
    const stores = [
      { name: 'SQLite, 1 process', where: ['--data', dataDir], processes: 1 },
      { name: 'PostgreSQL, 1 process', where: ['--database', await cluster.createDatabase()], processes: 1 },
      { name: 'PostgreSQL, 2 processes', where: ['--database', await cluster.createDatabase()], processes: 2 },
    ].filter((_, i) => only.includes(i));
    for (const s of stores) addUsers(s.where, [...users, 'reader', 'pusher']);
    for (const s of stores) setups.push(await startSetup(s.name, s.where, s.processes));
    console.log(`scale bench: node ${process.version}, ${cpus().length} cores; ${accounts} accounts × 2 devices, ${contacts} contacts, ${pushChanges} push changes`);

    const devices = new Map<Setup, SmallDevice[]>();
    for (const s of setups) devices.set(s, await smallDevices(s));
    const small = new Map<Setup, { exchanges: number; ms: number[]; cpu: Cpu }>(setups.map((s) => [s, { exchanges: 0, ms: [], cpu: noCpu() }]));
    for (let round = 0; round < rounds; round++) {
      for (const s of setups) {
        const before = cpuNow(s, cluster.port);
        const r = await smallSyncRound(devices.get(s) as SmallDevice[], roundSeconds);
        const after = cpuNow(s, cluster.port);
        const total = small.get(s) as { exchanges: number; ms: number[]; cpu: Cpu };
        total.exchanges += r.exchanges;
        total.ms.push(...r.ms);
        for (const k of Object.keys(before) as (keyof Cpu)[]) total.cpu[k] += after[k] - before[k];
      }
    }
    const seeded = new Map<Setup, string>();
    for (const s of setups) seeded.set(s, await seedContacts(s, 'reader'));
    const initial = new Map<Setup, number[]>(setups.map((s) => [s, []]));
    for (let sample = 0; sample < 2; sample++) for (const s of setups) initial.get(s)?.push(await initialSync(s, 'reader', seeded.get(s) as string, work, sample));
    const push = new Map<Setup, number[]>();
    for (const s of setups) push.set(s, await pushLatency(s, 'pusher'));

    const rows = setups.map((s) => {
      const sm = small.get(s) as { exchanges: number; ms: number[]; cpu: Cpu };
      const ours = sm.cpu.client + sm.cpu.servers + sm.cpu.postgres;
      const perExchange = (cpuSeconds: number) => r2((cpuSeconds * 1000) / sm.exchanges);
      const p = push.get(s) as number[];
      return {
        setup: s.name,
        exchangesPerSecond: r2(sm.exchanges / (rounds * roundSeconds)),
        exchangeMsP50: r2(median(sm.ms)),
        // Where the 2 cores went during the small syncs: CPU ms per exchange of the load generator, the servers and PostgreSQL.
        cpuMsPerExchange: { client: perExchange(sm.cpu.client), servers: perExchange(sm.cpu.servers), postgres: perExchange(sm.cpu.postgres) },
        // Cores in use on average meanwhile: by the above, and by anything else on the machine (other work skews a run).
        coresBusy: { bench: r2(ours / sm.cpu.wall), otherProcesses: r2(Math.max(0, sm.cpu.machine - ours) / sm.cpu.wall) },
        initialSyncMs: r2(median(initial.get(s) as number[])),
        pushMsP50: r2(median(p)),
        pushMsP99: r2(quantile(p, 0.99)),
        peakRssMiB: s.children.map((c) => r2(rssKiB(c.pid as number) / 1024)),
      };
    });
    console.log(`\n${'setup'.padEnd(26)}${'exchanges/s'.padStart(12)}${'p50 ms'.padStart(9)}${'initial ms'.padStart(12)}${'push p50'.padStart(10)}${'push p99'.padStart(10)}  ${'CPU ms/exchange: client, servers, PostgreSQL'.padEnd(46)}${'cores: bench, others'.padEnd(22)}peak RSS MiB`);
    for (const r of rows) {
      const cpu = `${r.cpuMsPerExchange.client}, ${r.cpuMsPerExchange.servers}, ${r.cpuMsPerExchange.postgres}`;
      console.log(`${r.setup.padEnd(26)}${String(r.exchangesPerSecond).padStart(12)}${String(r.exchangeMsP50).padStart(9)}${String(r.initialSyncMs).padStart(12)}${String(r.pushMsP50).padStart(10)}${String(r.pushMsP99).padStart(10)}  ${cpu.padEnd(46)}${`${r.coresBusy.bench}, ${r.coresBusy.otherProcesses}`.padEnd(22)}${r.peakRssMiB.join(', ')}`);
    }
    if (rows.length < 3) return; // --only: no ratios, nothing written
    const [sqlite, pg1, pg2] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    const ratios = {
      twoProcessesOverOne: r2(pg2.exchangesPerSecond / pg1.exchangesPerSecond),
      postgresOverSqlitePerExchange: r2(sqlite.exchangesPerSecond / pg1.exchangesPerSecond),
      crossProcessOverSameProcessPushP99: r2(pg2.pushMsP99 / pg1.pushMsP99),
    };
    console.log(`\n2 processes ÷ 1 (exchanges/s, PostgreSQL): ${ratios.twoProcessesOverOne} (goal at least 1.6)`);
    console.log(`PostgreSQL ÷ SQLite, time per exchange: ${ratios.postgresOverSqlitePerExchange} (goal at most 2)`);
    console.log(`push p99, across processes ÷ within one: ${ratios.crossProcessOverSameProcessPushP99} (goal at most 1.5)`);
    const command = `npm run bench:scale${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    console.log(`written to ${writeResults('scale', { command, accounts, contacts, roundSeconds, rounds, pushChanges, rows, ratios })}`);
  } finally {
    for (const s of setups) for (const c of s.children) await stopServer(c).catch(() => c.kill('SIGKILL'));
    cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
