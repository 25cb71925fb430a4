import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { seededRandom } from '../../sim/random.js';
import { startPgCluster, withClient, type PgCluster } from '../support/postgres.js';
import type { PushMessage } from '../../src/protocol/push.js';
import { openRawChannel, type RawChannel } from '../support/push.js';
import { checkAcknowledged, checkConvergence, type ServerRow } from './checks.js';
import { sleep } from './device.js';
import { DeviceProcess } from './device-process.js';
import { AckLedger } from './ledger.js';
import { contactsCollection, settle, waitForTraffic } from './scenario.js';
import { freePort, syncpointBin } from './server-process.js';
import { WireLog } from './wire-log.js';

/**
 * The multi-process fault scenario (docs/operations.md § PostgreSQL): several `syncpoint serve`
 * processes on one PostgreSQL cluster behind haproxy, SDK devices (processes with their own SQLite
 * replicas) editing and syncing through haproxy without pause, and faults at random moments: a SIGKILL
 * of a random server process (started again at once), and every `pgEvery`-th fault an immediate stop of
 * PostgreSQL itself (`pg_ctl stop -m immediate`, the database's crash) and its restart. After each fault:
 *   - every change a device saw acknowledged is in the database (checks.ts checkAcknowledged);
 *   - push works again: a probe channel (reopened through haproxy if its process died) receives the notices
 *     of contacts a probe writer PUTs over CardDAV straight to each server, so most of them are committed by
 *     a process that does not hold the channel.
 * At the end the devices settle and must all hold exactly what the database holds.
 */
export interface FaultOptions {
  faults: number;
  seed: number;
  devices?: number;
  servers?: number;
  /** Every this many faults, PostgreSQL is stopped with -m immediate instead of a server being killed. */
  pgEvery?: number;
  /** A planted bug in every server (planted-no-catch-up.ts), to show that the push probe catches it. */
  plant?: 'no-catch-up';
  log?: (line: string) => void;
}

export interface FaultReport {
  seed: number;
  serverKills: number;
  databaseCrashes: number;
  exchangesAcknowledged: number;
  changesAcknowledged: number;
  acknowledgementsChecked: number;
  syncsSucceeded: number;
  syncsFailed: number;
  pushProbes: number;
  liveItemsAtEnd: number;
  failures: string[];
  elapsedMs: number;
  workDir: string | null;
}

const user = { name: 'faults', password: 'faults-password' };
const plantedNoCatchUp = join(dirname(fileURLToPath(import.meta.url)), 'planted-no-catch-up.js');
const uptimeMsMin = 500;
const uptimeMsMean = 1_500;
const uptimeMsMax = 5_000;
const probeTimeoutMs = 8_000;

export async function runFaultScenario(options: FaultOptions): Promise<FaultReport> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-faults-'));
  mkdirSync(join(work, 'replicas'));
  const failures = new Map<string, string>();
  let moment = 'at start';
  const fail = (problem: string) => void (failures.has(problem) || failures.set(problem, moment));
  const ledger = new AckLedger();
  const wireLog = new WireLog(join(work, 'wire.log'));
  const counts = { serverKills: 0, databaseCrashes: 0, acknowledgementsChecked: 0, pushProbes: 0, liveItemsAtEnd: 0 };
  const devices: DeviceProcess[] = [];
  let cluster: PgCluster | undefined;
  const servers: ServeProcess[] = [];
  let proxy: ChildProcess | undefined;
  let probe: RawChannel | undefined;
  try {
    cluster = await startPgCluster();
    const database = await cluster.createDatabase();
    await runCli(['user', 'add', user.name, '--password-stdin', '--database', database], `${user.password}\n`);
    for (let i = 0; i < (options.servers ?? 3); i++) servers.push(new ServeProcess(database, await freePort(), work, options.plant));
    await Promise.all(servers.map((s) => s.start()));
    const proxyPort = await freePort();
    proxy = startHaproxy(work, proxyPort, servers);
    const url = `http://127.0.0.1:${proxyPort}`;
    await waitUntil(async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true, 'haproxy forwards to the servers');
    const credentials = { user: user.name, password: user.password };
    const collectionId = await contactsCollection(url, credentials);
    for (let i = 1; i <= (options.devices ?? 4); i++) {
      const id = `d${i}`;
      const device = new DeviceProcess(
        { id, replicaFile: join(work, 'replicas', `${id}.db`), baseUrl: url, credentials, collectionId, seed: options.seed * 7919 + i },
        { ledger, wireLog, problem: fail },
      );
      devices.push(device);
      device.start();
    }
    const authorization = `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`;
    // The probes' contacts live apart from the devices' cards (the devices sync the contacts collection only).
    const probes = await fetch(`${url}/api/v1/collections`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'probes', kind: 'contacts' }) });
    if (probes.status !== 201) throw new Error(`making the probes' collection: ${probes.status}`);
    const random = seededRandom(options.seed);
    const check = async () => {
      // The servers keep answering while the database is read: only what was acknowledged before the read
      // began must be in what it reads.
      const acks = [...ledger.lastAcks.values()];
      const rows = await readRows(database, collectionId);
      const acknowledged = checkAcknowledged(ledger, rows, acks);
      counts.acknowledgementsChecked += acknowledged.checked;
      acknowledged.problems.forEach(fail);
    };
    const pushProbe = async (n: number) => {
      // A device notices that its channel died (here: no pong within a second) and opens another, which
      // haproxy gives to a live process.
      if (!probe || !(await answersPing(probe))) {
        probe?.socket.terminate();
        wireLog.write({ probe: n, reopened: true });
        probe = openRawChannel(url, { device: 'probe-phone' }, { authorization });
        await probe.next((m) => m.type === 'hello', probeTimeoutMs);
      }
      const channel = probe;
      const before = channel.messages.length;
      // One contact PUT straight to each server, so every probe has commits on processes that do not hold
      // the channel; a PUT whose answer is lost is sent again, and If-None-Match makes the copy a 412.
      const names = servers.map((s, i) => ({ name: `probe-${n}-${i + 1}`, server: s }));
      for (const { name, server } of names) {
        await waitUntil(async () => {
          const res = await fetch(`http://127.0.0.1:${server.port}/dav/users/${user.name}/probes/${name}.vcf`, {
            method: 'PUT',
            headers: { authorization, 'content-type': 'text/vcard', 'if-none-match': '*' },
            body: `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${name}\r\nFN:Probe ${name}\r\nN:Probe;${name};;;\r\nEND:VCARD\r\n`,
          }).catch(() => undefined);
          wireLog.write({ probe: name, put: res?.status ?? 'no answer' });
          return res?.status === 201 || res?.status === 412;
        }, `the probe PUT ${name} went through`);
      }
      const arrived = (name: string) => (m: PushMessage) => channel.messages.indexOf(m) >= before && m.type === 'change' && m.command.op !== 'delete' && (m.command.data ?? '').includes(`UID:${name}\r`);
      try {
        for (const { name } of names) await channel.next(arrived(name), probeTimeoutMs);
        counts.pushProbes++;
      } catch {
        wireLog.write({ probe: n, failed: true, missing: names.map((p) => p.name).filter((name) => !channel.messages.some(arrived(name))) });
        fail(`push did not bring probe ${n} to a channel held through haproxy`);
      }
    };
    await waitForTraffic(ledger);
    await pushProbe(0);
    for (let f = 1; f <= options.faults; f++) {
      moment = `fault ${f}`;
      await sleep(Math.min(uptimeMsMax, uptimeMsMin - uptimeMsMean * Math.log(1 - random())));
      if (f % (options.pgEvery ?? 10) === 0) {
        wireLog.write({ fault: f, database: 'stop -m immediate' });
        cluster.crashAndRestart();
        counts.databaseCrashes++;
      } else {
        const victim = servers[Math.floor(random() * servers.length)] as ServeProcess;
        wireLog.write({ fault: f, killed: victim.port });
        await victim.kill();
        counts.serverKills++;
        await victim.start();
      }
      moment = `after fault ${f}`;
      await check();
      await pushProbe(f);
      if (f % Math.max(1, Math.round(options.faults / 10)) === 0) {
        options.log?.(`fault ${f}/${options.faults}: ${ledger.exchangesAcknowledged} exchanges and ${ledger.changesAcknowledged} changes acknowledged, ${counts.pushProbes} push probes arrived, ${failures.size} problems`);
      }
    }
    moment = 'after the last fault';
    await Promise.all(devices.map((d) => d.stop()));
    if (!(await settle(devices))) fail('the devices were still exchanging changes after settling');
    await Promise.all(devices.map((d) => d.exit()));
    const rows = await readRows(database, collectionId);
    const acknowledged = checkAcknowledged(ledger, rows);
    counts.acknowledgementsChecked += acknowledged.checked;
    acknowledged.problems.forEach(fail);
    checkConvergence(rows, devices.map((d) => ({ id: d.id, items: d.items() }))).forEach(fail);
    counts.liveItemsAtEnd = [...rows.values()].filter((r) => r.deletedAt === null).length;
  } catch (err) {
    fail(`the run stopped: ${(err as Error).stack ?? String(err)}`);
  } finally {
    probe?.socket.terminate();
    await Promise.all(devices.filter((d) => d.alive).map((d) => d.kill()));
    proxy?.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.kill()));
    wireLog.close();
    cluster?.stop();
  }
  const total = (stat: 'syncsSucceeded' | 'syncsFailed') => devices.reduce((n, d) => n + d.stats[stat], 0);
  const keep = failures.size > 0;
  if (!keep) rmSync(work, { recursive: true, force: true });
  return {
    seed: options.seed,
    ...counts,
    exchangesAcknowledged: ledger.exchangesAcknowledged,
    changesAcknowledged: ledger.changesAcknowledged,
    syncsSucceeded: total('syncsSucceeded'),
    syncsFailed: total('syncsFailed'),
    failures: [...failures].map(([problem, when]) => `${when}: ${problem}`),
    elapsedMs: Math.round(performance.now() - started),
    workDir: keep ? work : null,
  };
}

async function answersPing(channel: RawChannel): Promise<boolean> {
  if (channel.socket.readyState !== 1) return false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 1000);
    channel.socket.once('pong', () => {
      clearTimeout(timer);
      resolve(true);
    });
    channel.socket.ping();
  });
}

/** The collection's rows as the database holds them. */
async function readRows(database: string, collectionId: string): Promise<Map<string, ServerRow>> {
  const { rows } = await withClient(database, (c) =>
    c.query<{ id: string; data: string | null; etag: string; deleted_at: string | null; origin_device: string | null }>(
      'SELECT id, data, etag, deleted_at, origin_device FROM items WHERE collection_id = $1',
      [collectionId],
    ),
  );
  return new Map(rows.map((r) => [r.id, { id: r.id, data: r.data, etag: r.etag, deletedAt: r.deleted_at === null ? null : Number(r.deleted_at), originDevice: r.origin_device }]));
}

/** `syncpoint serve --database` as a process that can be SIGKILLed and started again on the same port. */
class ServeProcess {
  private child: ChildProcess | undefined;

  constructor(
    private readonly database: string,
    readonly port: number,
    /** Where its log goes (server-PORT.log), kept with the run's files when a check fails. */
    private readonly work: string,
    private readonly plant: FaultOptions['plant'],
  ) {}

  async start(): Promise<void> {
    const log = openSync(join(this.work, `server-${this.port}.log`), 'a');
    const planted = this.plant ? ['--import', pathToFileURL(plantedNoCatchUp).href] : [];
    const child = spawn(process.execPath, [...planted, syncpointBin, 'serve', '--database', this.database, '--port', String(this.port), '--log-level', 'warn', '--push-heartbeat-seconds', '1'], {
      stdio: ['ignore', log, 'pipe'],
    });
    closeSync(log);
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        out = (out + chunk.toString()).slice(-4000);
        if (!/syncpoint serving /.test(out)) return;
        if (this.plant && !/planted bug: no catch-up/.test(out)) reject(new Error(`the planted bug did not take: ${out}`));
        else resolve();
      });
      child.once('exit', (code, signal) => reject(new Error(`serve on ${this.port} exited during start-up (${code ?? signal}): ${out}`)));
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Debian's haproxy in front of the servers, round robin with health checks every 200 ms: a dead server
 * leaves the rotation within moments, and a connection refused is tried on another (a request whose
 * answer was lost is not: the client retries it, as in production).
 */
function startHaproxy(work: string, port: number, servers: ServeProcess[]): ChildProcess {
  const config = join(work, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  timeout tunnel 120s',
      '  option redispatch',
      '  retries 3',
      'frontend syncpoint',
      `  bind 127.0.0.1:${port}`,
      '  default_backend servers',
      'backend servers',
      '  balance roundrobin',
      '  option httpchk GET /health',
      '  default-server inter 200ms fall 1 rise 1',
      ...servers.map((s, i) => `  server s${i + 1} 127.0.0.1:${s.port} check`),
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.once('error', (err) => {
    throw new Error(`cannot run haproxy (Debian package haproxy; .ci/setup installs it): ${err.message}`);
  });
  return child;
}

function runCli(args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [syncpointBin, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`syncpoint ${args[0]} failed (${code}): ${err}`))));
    child.stdin?.end(input);
  });
}

async function waitUntil(ok: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}
