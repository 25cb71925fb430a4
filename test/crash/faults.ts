import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { seededRandom } from '../../sim/random.js';
import { startPgCluster, withClient, type PgCluster } from '../support/postgres.js';
import type { PushMessage } from '../../src/protocol/push.js';
import { openRawChannel, type RawChannel } from '../support/push.js';
import { checkAcknowledged, checkClientConvergence, checkConvergence, type ServerRow } from './checks.js';
import { parseCard } from './cards.js';
import { sleep } from './device.js';
import { DavDevice, type DavStats } from './dav-device.js';
import { DeviceProcess } from './device-process.js';
import { EasDevice, type EasStats } from './eas-device.js';
import { AckLedger, type Ack } from './ledger.js';
import { contactsCollection, settle, waitForTraffic } from './scenario.js';
import { freePort, syncpointBin } from './server-process.js';
import { WireLog } from './wire-log.js';

/**
 * The multi-process fault scenario (docs/operations.md § PostgreSQL): several `syncpoint serve`
 * processes on one PostgreSQL cluster behind haproxy, and clients of every kind syncing one contacts
 * collection through haproxy without pause: SDK devices (processes with their own SQLite replicas), an
 * ActiveSync phone holding a Ping between its syncs (eas-device.ts) and a CardDAV client syncing with
 * sync-collection and writing with If-Match (dav-device.ts). Faults come at random moments: a SIGKILL of
 * a random server process (started again at once), and every `pgEvery`-th fault an immediate stop of
 * PostgreSQL itself (`pg_ctl stop -m immediate`, the database's crash) and its restart. After each fault:
 *   - every change a client of any kind saw acknowledged is in the database (checks.ts checkAcknowledged);
 *   - push works again: a probe channel (reopened through haproxy if its process died) receives the notices
 *     of contacts a probe writer PUTs over CardDAV straight to each server, so most of them are committed by
 *     a process that does not hold the channel; and each ActiveSync phone has a Ping answered "changes".
 * At the end every client settles and must hold exactly what the database holds: the SDK replicas and the
 * DAV client byte for byte, the ActiveSync phone the fields it carries (checks.ts checkClientConvergence).
 */
export interface FaultOptions {
  faults: number;
  seed: number;
  devices?: number;
  /** ActiveSync phones and DAV clients (1 each by default). */
  easDevices?: number;
  davDevices?: number;
  servers?: number;
  /** Every this many faults, PostgreSQL is stopped with -m immediate instead of a server being killed. */
  pgEvery?: number;
  /** A planted bug in every server (planted-no-catch-up.ts), to show that the push probe catches it. */
  plant?: 'no-catch-up';
  /** Keep the run's files (wire.log, server logs, replicas) even when every check passed. */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface FaultReport {
  seed: number;
  serverKills: number;
  databaseCrashes: number;
  exchangesAcknowledged: number;
  changesAcknowledged: number;
  /** Distinct changes acknowledged, by kind of client. */
  changesAcknowledgedBy: { sdk: number; eas: number; dav: number };
  acknowledgementsChecked: number;
  syncsSucceeded: number;
  syncsFailed: number;
  pushProbes: number;
  /** Faults after which every ActiveSync phone had a Ping answered "changes". */
  pingProbes: number;
  eas: EasStats;
  dav: DavStats;
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
/** A phone may be busy syncing a while (a loaded machine answers an ActiveSync Sync in a second) before it Pings. */
const pingProbeTimeoutMs = 20_000;

export async function runFaultScenario(options: FaultOptions): Promise<FaultReport> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-faults-'));
  mkdirSync(join(work, 'replicas'));
  const failures = new Map<string, string>();
  let moment = 'at start';
  const fail = (problem: string) => void (failures.has(problem) || failures.set(problem, moment));
  const ledger = new AckLedger();
  const wireLog = new WireLog(join(work, 'wire.log'));
  const counts = { serverKills: 0, databaseCrashes: 0, acknowledgementsChecked: 0, pushProbes: 0, pingProbes: 0, liveItemsAtEnd: 0 };
  const devices: DeviceProcess[] = [];
  const phones: EasDevice[] = [];
  const davClients: DavDevice[] = [];
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
    const others = { baseUrl: url, user: user.name, password: user.password, ledger, wireLog, problem: fail };
    for (let i = 1; i <= (options.easDevices ?? 1); i++) phones.push(new EasDevice({ ...others, id: `e${i}`, collectionId, random: seededRandom(options.seed * 7919 + 100 + i) }));
    for (let i = 1; i <= (options.davDevices ?? 1); i++) davClients.push(new DavDevice({ ...others, id: `v${i}`, random: seededRandom(options.seed * 7919 + 200 + i) }));
    for (const client of [...phones, ...davClients]) client.start();
    const authorization = `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`;
    // The probes' contacts live apart from the devices' cards (the devices sync the contacts collection only).
    const probes = await fetch(`${url}/api/v1/collections`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'probes', kind: 'contacts' }) });
    if (probes.status !== 201) throw new Error(`making the probes' collection: ${probes.status}`);
    const random = seededRandom(options.seed);
    const check = async () => {
      // The servers keep answering while the database is read: only what was acknowledged before the read
      // began must be in what it reads.
      const acks = [...ledger.lastAcks.values()];
      const { rows, names } = await readRows(database, collectionId);
      const acknowledged = checkAcknowledged(ledger, rows, acks.map(withItemId(names)));
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
    // Each phone's Ping, held on whichever process haproxy gave it, is answered "changes" again after the fault.
    const pingProbe = async (n: number, before: number[]) => {
      const woken = () => phones.every((p, i) => p.stats.pingsWithChanges > (before[i] as number));
      const deadline = performance.now() + pingProbeTimeoutMs;
      while (!woken() && performance.now() < deadline) await sleep(50);
      if (woken()) counts.pingProbes++;
      else fail(`an ActiveSync Ping was not answered "changes" within ${pingProbeTimeoutMs} ms of fault ${n}`);
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
      const pingsBefore = phones.map((p) => p.stats.pingsWithChanges);
      await check();
      await Promise.all([pushProbe(f), pingProbe(f, pingsBefore)]);
      if (f % Math.max(1, Math.round(options.faults / 10)) === 0) {
        options.log?.(`fault ${f}/${options.faults}: ${ledger.exchangesAcknowledged} exchanges and ${ledger.changesAcknowledged} changes acknowledged, ${counts.pushProbes} push probes arrived, ${failures.size} problems`);
      }
    }
    moment = 'after the last fault';
    await Promise.all([...devices, ...phones, ...davClients].map((d) => d.stop()));
    if (!(await settle([...devices, ...phones, ...davClients]))) fail('the clients were still exchanging changes after settling');
    await Promise.all(devices.map((d) => d.exit()));
    const { rows, names } = await readRows(database, collectionId);
    const acknowledged = checkAcknowledged(ledger, rows, [...ledger.lastAcks.values()].map(withItemId(names)));
    counts.acknowledgementsChecked += acknowledged.checked;
    acknowledged.problems.forEach(fail);
    checkConvergence(rows, devices.map((d) => ({ id: d.id, items: d.items() }))).forEach(fail);
    const asFields = (data: string) => `${parseCard(data).crashId} ${parseCard(data).version}`;
    checkClientConvergence(rows, [
      ...phones.map((p) => ({ who: `ActiveSync device ${p.id}`, held: p.held, view: asFields, unsent: p.unsent })),
      ...davClients.map((d) => ({
        who: `DAV client ${d.id}`,
        held: new Map([...d.local].flatMap(([name, c]) => (c.data === null ? [] : [[itemIdOf(names, name), c.data] as const]))),
        view: (data: string) => data,
        unsent: d.unsent,
      })),
    ]).forEach(fail);
    counts.liveItemsAtEnd = [...rows.values()].filter((r) => r.deletedAt === null).length;
  } catch (err) {
    fail(`the run stopped: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await Promise.all([...phones, ...davClients].map((c) => c.stop()));
    probe?.socket.terminate();
    await Promise.all(devices.filter((d) => d.alive).map((d) => d.kill()));
    proxy?.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.kill()));
    wireLog.close();
    cluster?.stop();
  }
  const total = (stat: 'syncsSucceeded' | 'syncsFailed') => devices.reduce((n, d) => n + d.stats[stat], 0);
  const acknowledgedBy = (prefix: string) => [...ledger.changesAcknowledgedBy].reduce((n, [id, k]) => n + (id.startsWith(prefix) ? k : 0), 0);
  const sum = <T extends object>(stats: T[], empty: T): T =>
    stats.reduce((a, b) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, (v as number) + (b[k as keyof T] as number)])) as T, empty);
  const keep = failures.size > 0 || options.keep === true;
  if (!keep) rmSync(work, { recursive: true, force: true });
  return {
    seed: options.seed,
    ...counts,
    exchangesAcknowledged: ledger.exchangesAcknowledged,
    changesAcknowledged: ledger.changesAcknowledged,
    changesAcknowledgedBy: { sdk: acknowledgedBy('d'), eas: acknowledgedBy('e'), dav: acknowledgedBy('v') },
    eas: sum(phones.map((p) => p.stats), { syncsSucceeded: 0, requestsRetried: 0, reinitializations: 0, pings: 0, pingsWithChanges: 0, hangUps: 0, refused: 0 }),
    dav: sum(davClients.map((d) => d.stats), { syncsSucceeded: 0, requestsFailed: 0, preconditionsFailed: 0, fullResyncs: 0 }),
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

/** The collection's rows as the database holds them, and the DAV resource names given to its items. */
async function readRows(database: string, collectionId: string): Promise<{ rows: Map<string, ServerRow>; names: Map<string, string> }> {
  return withClient(database, async (c) => {
    const { rows } = await c.query<{ id: string; data: string | null; etag: string; deleted_at: string | null; origin_device: string | null }>(
      'SELECT id, data, etag, deleted_at, origin_device FROM items WHERE collection_id = $1',
      [collectionId],
    );
    const named = await c.query<{ name: string; item_id: string }>('SELECT name, item_id FROM dav_names WHERE collection_id = $1', [collectionId]);
    return {
      rows: new Map(rows.map((r) => [r.id, { id: r.id, data: r.data, etag: r.etag, deletedAt: r.deleted_at === null ? null : Number(r.deleted_at), originDevice: r.origin_device }])),
      names: new Map(named.rows.map((r) => [r.name, r.item_id])),
    };
  });
}

/** The item a DAV resource name stands for: the name a DAV client gave it, else `ID.vcf` (docs/dav.md § Layout). */
const itemIdOf = (names: Map<string, string>, name: string): string => names.get(name) ?? name.replace(/\.vcf$/, '');

const withItemId = (names: Map<string, string>) => (ack: Ack): Ack => (ack.davName === undefined ? ack : { ...ack, serverId: itemIdOf(names, ack.davName) });

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
