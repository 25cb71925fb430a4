import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseFile } from '../../src/server/app.js';
import { HttpTransport } from '../../src/sdk/transport.js';
import { seededRandom } from '../../sim/random.js';
import { checkAcknowledged, checkConvergence, checkIntegrity, readCrashImage, readDatabase, type DatabaseImage } from './checks.js';
import { CrashDevice, sleep } from './device.js';
import { AckLedger } from './ledger.js';
import { addUser, freePort, ServerProcess } from './server-process.js';
import { WireLog } from './wire-log.js';

/**
 * The crash scenario: a real `syncpoint serve` process, several SDK devices editing and syncing without
 * pause, and SIGKILLs at random moments. After every kill the files the dead server left are checked
 * (integrity, every acknowledged change still there) and the server is started again on the same data
 * and port. After the last kill the devices settle and must all hold exactly what the server holds.
 *
 * The seed drives every random decision (kill delays, edits, backoff jitter); timing still varies
 * from run to run, so a seed replays the same kind of run, not the same interleaving.
 */

export interface CrashOptions {
  kills: number;
  seed: number;
  devices?: number;
  /** Progress lines; silent when absent. */
  log?: (line: string) => void;
}

export interface CrashReport {
  seed: number;
  kills: number;
  /** Kills that landed while at least one sync request was on the wire. */
  killsMidExchange: number;
  exchangesAcknowledged: number;
  /** Distinct changes (versions and deletes) the server acknowledged to some device. */
  changesAcknowledged: number;
  /** Sum over all checks of the acknowledged changes verified. */
  acknowledgementsChecked: number;
  integrityChecks: number;
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
  /** Kept for diagnosis when something failed: the data, the replicas and wire.log (every edit, exchange and kill). */
  workDir: string | null;
}

const user = { name: 'crash', password: 'crash-password' };
/** Kills come after the restarted server has answered some exchange, so they land mid-traffic. */
const trafficWaitMs = 10_000;
const killDelayMsMin = 2;
const killDelayMsMax = 200;
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
  private readonly devices: CrashDevice[] = [];
  private readonly failures = new Map<string, string>();
  /** When a problem was first seen, for the report. */
  private moment = 'at start';
  private readonly counts = { kills: 0, killsMidExchange: 0, acknowledgementsChecked: 0, integrityChecks: 0, liveItemsAtEnd: 0 };
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
    const dataDir = join(work, 'data');
    addUser(dataDir, user.name, user.password);
    return new CrashRun(options, work, new ServerProcess(dataDir, await freePort()));
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
      this.devices.push(
        new CrashDevice({
          id: `d${i}`,
          replicaFile: join(this.work, 'replicas', `d${i}.db`),
          baseUrl: this.server.url,
          credentials,
          collectionId: this.collectionId,
          ledger: this.ledger,
          wireLog: this.wireLog,
          random: seededRandom(this.options.seed * 7919 + i),
          onProblem: this.fail,
        }),
      );
    }
  }

  /** The devices edit and sync throughout; the server is killed, checked and restarted `kills` times. */
  async killRepeatedly(): Promise<void> {
    let editing = true;
    const loops = this.devices.map((d) => d.run(() => editing));
    const random = seededRandom(this.options.seed);
    const { kills } = this.options;
    try {
      for (let kill = 1; kill <= kills; kill++) {
        this.moment = `before kill ${kill}`;
        await waitForTraffic(this.ledger);
        await sleep(killDelayMsMin + random() * (killDelayMsMax - killDelayMsMin));
        await this.killAndCheck(kill);
        await this.server.start();
        this.wireLog.write({ started: kill });
        if (kill % progressEvery(kills) === 0) this.progress(kill);
      }
    } finally {
      editing = false;
      await Promise.all(loops);
    }
  }

  private async killAndCheck(kill: number): Promise<void> {
    if (this.ledger.inFlight > 0) this.counts.killsMidExchange++;
    await this.server.kill();
    this.counts.kills++;
    this.wireLog.write({ killed: kill, inFlight: this.ledger.inFlight });
    this.moment = `after kill ${kill}`;
    this.checkImage(readCrashImage(this.server.dataDir, join(this.work, 'crash-image'), this.collectionId));
  }

  private checkImage(image: DatabaseImage): void {
    this.counts.integrityChecks++;
    checkIntegrity(image).forEach(this.fail);
    const acknowledged = checkAcknowledged(this.ledger, image.rows);
    this.counts.acknowledgementsChecked += acknowledged.checked;
    acknowledged.problems.forEach(this.fail);
  }

  private progress(kill: number): void {
    const { exchangesAcknowledged, changesAcknowledged } = this.ledger;
    this.options.log?.(`kill ${kill}/${this.options.kills}: ${exchangesAcknowledged} exchanges and ${changesAcknowledged} changes acknowledged, ${this.failures.size} problems`);
  }

  /** No more kills: every device syncs until all are quiet, the server stops cleanly, and all must agree. */
  async settleAndCheck(): Promise<void> {
    this.moment = 'after the last kill';
    this.wireLog.write({ settling: true });
    if (!(await settle(this.devices))) this.fail(`the devices were still exchanging changes after ${settleRoundsMax} rounds`);
    const code = await this.server.stop();
    if (code !== 0) this.fail(`the server exited with ${code} on SIGTERM`);
    const final = readDatabase(databaseFile(this.server.dataDir), this.collectionId);
    this.checkImage(final);
    checkConvergence(final.rows, this.devices.map((d) => ({ id: d.id, items: d.items() }))).forEach(this.fail);
    this.counts.liveItemsAtEnd = [...final.rows.values()].filter((r) => r.deletedAt === null).length;
  }

  async close(): Promise<void> {
    await this.server.kill();
    for (const d of this.devices) d.replica.close();
    this.wireLog.close();
  }

  /** The figures; the run's files are removed unless a check failed. */
  report(): CrashReport {
    const keep = this.failures.size > 0;
    if (!keep) rmSync(this.work, { recursive: true, force: true });
    const total = (stat: keyof CrashDevice['stats']) => this.devices.reduce((n, d) => n + d.stats[stat], 0);
    return {
      seed: this.options.seed,
      ...this.counts,
      exchangesAcknowledged: this.ledger.exchangesAcknowledged,
      changesAcknowledged: this.ledger.changesAcknowledged,
      edits: total('edits'),
      conflicts: total('conflicts'),
      syncsSucceeded: total('syncsSucceeded'),
      syncsFailed: total('syncsFailed'),
      failures: [...this.failures].map(([problem, when]) => `${when}: ${problem}`),
      elapsedMs: Math.round(performance.now() - this.started),
      workDir: keep ? this.work : null,
    };
  }
}

async function contactsCollection(url: string, credentials: { user: string; password: string }): Promise<string> {
  const collections = await new HttpTransport({ baseUrl: url, credentials }).listCollections();
  const contacts = collections.find((c) => c.kind === 'contacts' && c.name === 'contacts');
  if (!contacts) throw new Error('a new account has no contacts collection');
  return contacts.id;
}

/** Resolves once the server has answered an exchange it did not answer before, i.e. traffic is flowing. */
async function waitForTraffic(ledger: AckLedger): Promise<void> {
  const before = ledger.exchangesAcknowledged;
  const deadline = performance.now() + trafficWaitMs;
  while (ledger.exchangesAcknowledged === before) {
    if (performance.now() > deadline) throw new Error(`no device completed an exchange within ${trafficWaitMs} ms of the server starting`);
    await sleep(2);
  }
}

/** Syncs every device in turn until a whole round moves nothing: all sent, all heard. */
async function settle(devices: CrashDevice[]): Promise<boolean> {
  for (let round = 0; round < settleRoundsMax; round++) {
    let moved = 0;
    for (const device of devices) {
      const summary = await device.sync();
      moved += summary ? summary.sent + summary.received : 1;
    }
    if (moved === 0) return true;
  }
  return false;
}

const progressEvery = (kills: number) => Math.max(1, Math.round(kills / 10));
