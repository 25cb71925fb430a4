import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseFile } from '../../src/server/open-store.js';
import { HttpTransport } from '../../src/sdk/transport.js';
import { seededRandom } from '../../sim/random.js';
import { checkAcknowledged, checkConvergence, checkIntegrity, readCrashImage, readDatabase, type DatabaseImage } from './checks.js';
import { sleep, type DeviceStats } from './device.js';
import { DeviceProcess } from './device-process.js';
import { AckLedger } from './ledger.js';
import { addUser, freePort, ServerProcess, type ServerProcessOptions } from './server-process.js';
import { checkWalSyncedBeforeAnswers } from './wal-sync-check.js';
import { WireLog } from './wire-log.js';

/**
 * The crash scenario: a real `syncpoint serve` process under strace, several SDK devices (each a process
 * with its own SQLite replica) editing and syncing without pause, and SIGKILLs at random moments. After
 * every kill the files the dead server left are checked (integrity, every acknowledged change still
 * there), its system-call trace is checked (no answer written before its commit was fsynced:
 * wal-sync-check.ts), and the server is started again on the same data and port. Every few server lives
 * one device is killed too, in the middle of applying an answer or at a random moment, and relaunched on
 * its replica. After the last kill the devices settle and must all hold exactly what the server holds.
 *
 * The server stays up long enough between kills (serverUptimeMs) that most syncs complete: the run
 * tests steady operation under load as well as recovery.
 *
 * The seed drives every random decision (kill delays, edits, backoff jitter); timing still varies
 * from run to run, so a seed replays the same kind of run, not the same interleaving.
 */

export interface CrashOptions {
  kills: number;
  seed: number;
  devices?: number;
  /** A planted bug, to show that the checks catch it (ServerProcessOptions). */
  plant?: ServerProcessOptions['plant'];
  /** Progress lines; silent when absent. */
  log?: (line: string) => void;
}

export interface CrashReport {
  seed: number;
  /** SIGKILLs of the server. */
  kills: number;
  /** Kills that landed while at least one sync request was on the wire. */
  killsMidExchange: number;
  /** SIGKILLs of a device process, and how many of them inside the transaction applying an answer. */
  deviceKills: number;
  deviceKillsWhileApplying: number;
  exchangesAcknowledged: number;
  /** Distinct changes (versions and deletes) the server acknowledged to some device. */
  changesAcknowledged: number;
  /** Sum over all checks of the acknowledged changes verified. */
  acknowledgementsChecked: number;
  integrityChecks: number;
  /** Server lives whose system-call trace was checked, the HTTP answers and WAL fsyncs seen in them. */
  tracesChecked: number;
  answersTraced: number;
  walSyncs: number;
  /** Adds, changes and deletes the devices made. */
  edits: number;
  /** Local edits the server settled as conflicts (another device's version kept). */
  conflicts: number;
  syncsSucceeded: number;
  /** Syncs that gave up because the server was down. */
  syncsFailed: number;
  liveItemsAtEnd: number;
  /** Each distinct problem once, with the moment it was first seen; empty when every check passed. */
  failures: string[];
  elapsedMs: number;
  /** Kept for diagnosis when something failed: the data, the replicas, wire.log and the failing traces. */
  workDir: string | null;
}

const user = { name: 'crash', password: 'crash-password' };
/** Kills come after the restarted server has answered some exchange, so they land mid-traffic. */
const trafficWaitMs = 10_000;
/**
 * How long the server runs before the next kill, from its start (and at least until its first answer):
 * the minimum plus an exponentially distributed wait with the given mean (kills are memoryless, and some
 * come quickly), capped. A sync takes tens of milliseconds, so most of them complete between kills.
 */
const serverUptimeMsMin = 1_000;
const serverUptimeMsMean = 2_000;
const serverUptimeMsMax = 8_000;
/** Server lives 1, 1 + every, 1 + 2 every, ... see one device killed, alternately while applying and at random. */
const deviceKillEvery = 3;
/** An armed device is syncing all the time; it applies an answer within moments unless something is wrong. */
const armedKillTimeoutMs = 10_000;
const settleRoundsMax = 20;

export async function runCrashScenario(options: CrashOptions): Promise<CrashReport> {
  const run = await CrashRun.create(options);
  try {
    await run.start();
    await run.killRepeatedly();
    await run.settleAndCheck();
  } catch (err) {
    run.fail(`the run stopped: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await run.close();
  }
  return run.report();
}

class CrashRun {
  private readonly started = performance.now();
  private readonly ledger = new AckLedger();
  private readonly wireLog: WireLog;
  private readonly devices: DeviceProcess[] = [];
  private readonly failures = new Map<string, string>();
  /** When a problem was first seen, for the report. */
  private moment = 'at start';
  private readonly counts = { kills: 0, killsMidExchange: 0, acknowledgementsChecked: 0, integrityChecks: 0, tracesChecked: 0, answersTraced: 0, walSyncs: 0, liveItemsAtEnd: 0 };
  private collectionId = '';

  private constructor(
    private readonly options: CrashOptions,
    private readonly work: string,
    private readonly server: ServerProcess,
  ) {
    this.wireLog = new WireLog(join(work, 'wire.log'));
  }

  static async create(options: CrashOptions): Promise<CrashRun> {
    const work = mkdtempSync(join(tmpdir(), 'syncpoint-crash-'));
    mkdirSync(join(work, 'replicas'));
    mkdirSync(join(work, 'traces'));
    const dataDir = join(work, 'data');
    addUser(dataDir, user.name, user.password);
    const plant = options.plant ? { plant: options.plant } : {};
    return new CrashRun(options, work, new ServerProcess(dataDir, await freePort(), { traceDir: join(work, 'traces'), ...plant }));
  }

  /** Records a problem once, with the moment it was first seen. */
  readonly fail = (problem: string): void => {
    if (!this.failures.has(problem)) this.failures.set(problem, this.moment);
  };

  async start(): Promise<void> {
    await this.server.start();
    const credentials = { user: user.name, password: user.password };
    this.collectionId = await contactsCollection(this.server.url, credentials);
    for (let i = 1; i <= (this.options.devices ?? 4); i++) {
      const id = `d${i}`;
      const options = { id, replicaFile: join(this.work, 'replicas', `${id}.db`), baseUrl: this.server.url, credentials, collectionId: this.collectionId, seed: this.options.seed * 7919 + i };
      const device = new DeviceProcess(options, { ledger: this.ledger, wireLog: this.wireLog, problem: this.fail });
      this.devices.push(device);
      device.start();
    }
  }

  /** The devices edit and sync throughout; the server is killed, checked and restarted `kills` times. */
  async killRepeatedly(): Promise<void> {
    const random = seededRandom(this.options.seed);
    const { kills } = this.options;
    for (let kill = 1; kill <= kills; kill++) {
      this.moment = `before kill ${kill}`;
      const killAt = performance.now() + Math.min(serverUptimeMsMax, serverUptimeMsMin - serverUptimeMsMean * Math.log(1 - random()));
      await waitForTraffic(this.ledger);
      const deviceKill = (kill - 1) % deviceKillEvery === 0 ? this.killDevice(random, killAt - performance.now()) : undefined;
      await Promise.all([sleep(killAt - performance.now()), deviceKill]);
      await this.killAndCheck(kill);
      await this.server.start();
      this.wireLog.write({ started: kill });
      if (kill % progressEvery(kills) === 0) this.progress(kill);
    }
  }

  /** Kills one device (while it applies an answer, or at a random moment before the server's kill) and relaunches it. */
  private async killDevice(random: () => number, beforeMs: number): Promise<void> {
    const device = this.devices[Math.floor(random() * this.devices.length)] as DeviceProcess;
    const whileApplying = this.devices.reduce((n, d) => n + d.kills.total, 0) % 2 === 0;
    const delayMs = random() * Math.max(0, beforeMs);
    if (whileApplying) await device.killWhileApplying(armedKillTimeoutMs);
    else {
      await sleep(delayMs);
      await device.kill();
    }
    this.wireLog.write({ device: device.id, killed: whileApplying ? 'while applying an answer' : 'at a random moment' });
    device.start();
  }

  private async killAndCheck(kill: number): Promise<void> {
    if (this.devices.some((d) => d.onWire)) this.counts.killsMidExchange++;
    await this.server.kill();
    this.counts.kills++;
    this.wireLog.write({ killed: kill });
    this.moment = `after kill ${kill}`;
    this.checkImage(readCrashImage(this.server.dataDir, join(this.work, 'crash-image'), this.collectionId));
    this.checkTrace();
  }

  private checkImage(image: DatabaseImage): void {
    this.counts.integrityChecks++;
    checkIntegrity(image).forEach(this.fail);
    const acknowledged = checkAcknowledged(this.ledger, image.rows);
    this.counts.acknowledgementsChecked += acknowledged.checked;
    acknowledged.problems.forEach(this.fail);
  }

  /** The life that just ended: no answer before its commit's fsync. A trace that passes is removed (they are large). */
  private checkTrace(): void {
    const file = this.server.traceFile;
    const trace = checkWalSyncedBeforeAnswers(readFileSync(file, 'utf8'));
    this.counts.tracesChecked++;
    this.counts.answersTraced += trace.answers;
    this.counts.walSyncs += trace.walSyncs;
    if (trace.violations === 0) return rmSync(file);
    this.fail(`${trace.violations} writes to client sockets (${trace.answers} answers) came before the WAL write of a commit was fsynced; the first: ${trace.firstViolation} (${file})`);
  }

  private progress(kill: number): void {
    const { exchangesAcknowledged, changesAcknowledged } = this.ledger;
    const { syncsSucceeded, syncsFailed } = this.deviceTotals();
    this.options.log?.(
      `kill ${kill}/${this.options.kills}: ${exchangesAcknowledged} exchanges and ${changesAcknowledged} changes acknowledged, ` +
        `${syncsSucceeded} of ${syncsSucceeded + syncsFailed} syncs completed, ${this.failures.size} problems`,
    );
  }

  /** No more kills: every device syncs until all are quiet, the server stops cleanly, and all must agree. */
  async settleAndCheck(): Promise<void> {
    this.moment = 'after the last kill';
    this.wireLog.write({ settling: true });
    await Promise.all(this.devices.map((d) => d.stop()));
    if (!(await settle(this.devices))) this.fail(`the devices were still exchanging changes after ${settleRoundsMax} rounds`);
    const code = await this.server.stop();
    if (code !== 0) this.fail(`the server exited with ${code} on SIGTERM`);
    this.checkTrace();
    // Every acknowledged exchange was an answer the server wrote: a trace that missed the server's writes cannot pass.
    if (this.counts.answersTraced < this.ledger.exchangesAcknowledged) {
      this.fail(`the traces hold ${this.counts.answersTraced} answers, fewer than the ${this.ledger.exchangesAcknowledged} exchanges the devices saw acknowledged`);
    }
    await Promise.all(this.devices.map((d) => d.exit()));
    const final = readDatabase(databaseFile(this.server.dataDir), this.collectionId);
    this.checkImage(final);
    checkConvergence(final.rows, this.devices.map((d) => ({ id: d.id, items: d.items() }))).forEach(this.fail);
    this.counts.liveItemsAtEnd = [...final.rows.values()].filter((r) => r.deletedAt === null).length;
  }

  async close(): Promise<void> {
    await this.server.kill();
    await Promise.all(this.devices.filter((d) => d.alive).map((d) => d.kill()));
    this.wireLog.close();
  }

  private deviceTotals(): DeviceStats {
    const total = (stat: keyof DeviceStats) => this.devices.reduce((n, d) => n + d.stats[stat], 0);
    return { edits: total('edits'), conflicts: total('conflicts'), syncsSucceeded: total('syncsSucceeded'), syncsFailed: total('syncsFailed') };
  }

  /** The figures; the run's files are removed unless a check failed. */
  report(): CrashReport {
    const keep = this.failures.size > 0;
    if (!keep) rmSync(this.work, { recursive: true, force: true });
    return {
      seed: this.options.seed,
      ...this.counts,
      deviceKills: this.devices.reduce((n, d) => n + d.kills.total, 0),
      deviceKillsWhileApplying: this.devices.reduce((n, d) => n + d.kills.whileApplying, 0),
      exchangesAcknowledged: this.ledger.exchangesAcknowledged,
      changesAcknowledged: this.ledger.changesAcknowledged,
      ...this.deviceTotals(),
      failures: [...this.failures].map(([problem, when]) => `${when}: ${problem}`),
      elapsedMs: Math.round(performance.now() - this.started),
      workDir: keep ? this.work : null,
    };
  }
}

export async function contactsCollection(url: string, credentials: { user: string; password: string }): Promise<string> {
  const collections = await new HttpTransport({ baseUrl: url, credentials }).listCollections();
  const contacts = collections.find((c) => c.kind === 'contacts' && c.name === 'contacts');
  if (!contacts) throw new Error('a new account has no contacts collection');
  return contacts.id;
}

/** Resolves once the server has answered an exchange it did not answer before, i.e. traffic is flowing. */
export async function waitForTraffic(ledger: AckLedger): Promise<void> {
  const before = ledger.exchangesAcknowledged;
  const deadline = performance.now() + trafficWaitMs;
  while (ledger.exchangesAcknowledged === before) {
    if (performance.now() > deadline) throw new Error(`no device completed an exchange within ${trafficWaitMs} ms of the server starting`);
    await sleep(2);
  }
}

/** Syncs every device (of any kind) in turn until a whole round moves nothing: all sent, all heard. */
export async function settle(devices: ReadonlyArray<{ sync(): Promise<number | null> }>): Promise<boolean> {
  for (let round = 0; round < settleRoundsMax; round++) {
    let moved = 0;
    for (const device of devices) moved += (await device.sync()) ?? 1;
    if (moved === 0) return true;
  }
  return false;
}

const progressEvery = (kills: number) => Math.max(1, Math.round(kills / 10));
