import { createHash } from 'node:crypto';
import { reapDeleted } from '../src/sdk/replica.js';
import { RetryableError } from '../src/sdk/transport.js';
import { runCheckers, type CheckFailure, type DeviceEnd, type UpstreamEnd } from './checkers.js';
import type { SimDatabases } from './database.js';
import { DavDeviceError, type DavDevice } from './dav-device.js';
import type { SimUpstream } from './dav-upstream.js';
import { EasDeviceError, viewOfTruth, type EasDevice, type EasWorkloadSwitches } from './eas-device.js';
import { faultKinds, type Fault } from './network.js';
import type { PlantedBugName } from './planted-bugs.js';
import type { Trace } from './trace.js';
import { buildWorld, type SimDevice, type World } from './world.js';

/**
 * One seed, start to end: a random phase (users edit, devices sync or stay offline, the network and
 * the server misbehave), then a quiet phase without faults in which every device syncs until nothing
 * moves, then the checkers. The same seed always produces the same run and the same report.
 */

export interface SeedStats {
  devices: number;
  rounds: number;
  exchanges: number;
  faults: Record<Fault, number>;
  restarts: number;
  tombstonesPurged: number;
  syncs: number;
  /** syncCollection() calls that ran out of retries; the device tries again later, as a user would. */
  syncsGivenUp: number;
  reinitializations: number;
  /** ActiveSync phones, their syncs and Pings (and how many Pings reported a change). */
  easDevices: number;
  easSyncs: number;
  easPings: number;
  /** DAV clients, their syncs, and the sync-collection tokens they had to start over from. */
  davDevices: number;
  davSyncs: number;
  davTokenResets: number;
  /** Upstream servers; the hub's runs of them (and how many failed); the requests they answered, lost answers, 412s and restarts. */
  upstreams: number;
  upstreamRuns: number;
  upstreamRunsFailed: number;
  upstreamRequests: number;
  upstreamLostAnswers: number;
  upstreamConflicts: number;
  upstreamRestarts: number;
  /** Push notices the server sent, and those a device applied without a sync. */
  notices: number;
  noticesApplied: number;
  userActions: number;
  truthItems: number;
}

export interface SeedReport {
  seed: number;
  failures: CheckFailure[];
  stats: SeedStats;
  /**
   * A hash of the run: the server's commit log (every item version, its id, sequence number and etag, in
   * commit order), the figures and the findings. The same seed gives the same digest (sim/README.md).
   */
  digest: string;
}

export interface RunOptions {
  plantBug?: PlantedBugName | undefined;
  /** Only these network faults; all by default. */
  faults?: readonly Fault[] | undefined;
  /** Receives the run step by step (see trace.ts). */
  trace?: Trace | undefined;
  /** Turn on the phones' requests that find issue 13's D1 and D2 (eas-device.ts). */
  easSwitches?: EasWorkloadSwitches | undefined;
  /** Every world gets this many ActiveSync phones (by default the seed decides: none, one or two). */
  easDevices?: number | undefined;
  /** The phones speak this version (by default the seed decides: 14.1 or 16.1). */
  easVersion?: '14.1' | '16.1' | undefined;
  /** Every world gets this many DAV clients (by default the seed decides: none, one or two). */
  davDevices?: number | undefined;
  /** Where the server keeps its data: a SQLite file per seed by default, or a PostgreSQL database (database.ts). */
  databases?: SimDatabases | undefined;
  /** Every world gets an upstream (1) or none (0) (by default the seed decides). */
  upstreams?: number | undefined;
}

/** Passes over all devices in the quiet phase before a run that still moves counts as not settling. */
const settlePassesMax = 6;
/** Runs of the upstream in one pass of the quiet phase: a run answered by 412 is read and written again by the next. */
const upstreamRunsPerPassMax = 4;

export async function runSeed(seed: number, options: RunOptions = {}): Promise<SeedReport> {
  const world = await buildWorld(seed, options);
  const counters = { syncs: 0, syncsGivenUp: 0, reinitializations: 0, upstreamRuns: 0, upstreamRunsFailed: 0 };
  const sync = (device: SimDevice, together = false) => syncDevice(world, device, together, counters, options.trace);
  const failures: CheckFailure[] = [];
  let truthItems = 0;
  try {
    const runUpstream = (due: boolean) => upstreamRun(world, due, counters, options.trace);
    await randomPhase(world, sync, runUpstream, options.trace);
    options.trace?.('quiet phase: no more faults');
    if (!(await quietPhase(world, sync, runUpstream))) {
      failures.push({ check: 'run-completes', detail: `devices still had changes to exchange after ${settlePassesMax} passes without faults` });
    }
    const fresh = world.freshDevice();
    await sync(fresh);
    const collectionIds = world.collections.map((c) => c.id);
    const freshItems = fresh.replica.transaction((tx) => collectionIds.flatMap((c) => tx.all(c)));
    const devices: DeviceEnd[] = world.devices.map((d) =>
      d.replica.transaction((tx) => ({ id: d.id, items: collectionIds.flatMap((c) => tx.all(c)), syncKeys: new Map(collectionIds.map((c) => [c, tx.syncKey(c)])) })),
    );
    const truth = await world.server.readTruth(
      world.accountId,
      collectionIds,
      [...world.devices, ...world.easDevices].map((d) => d.id),
    );
    devices.push(...(await easEnds(world)));
    const davNames = await world.server.readDavNames(world.accountId);
    devices.push(...world.davDevices.map((d) => d.end(davNames)));
    truthItems = truth.items.size;
    const upstreams = await upstreamEnds(world);
    const freshDevice = new Map(freshItems.filter((i) => i.data !== null && i.serverId !== null).map((i) => [i.serverId as string, i.data as string]));
    failures.push(...runCheckers({ truth, freshDevice, devices, causality: world.causality, upstreams }, world.history));
  } catch (err) {
    // Whatever stopped the run, the seed reports it and replays it like any other finding.
    failures.push({ check: 'run-completes', detail: err instanceof DeviceError || err instanceof EasDeviceError || err instanceof DavDeviceError ? err.message : `the run stopped: ${(err as Error).stack ?? err}` });
  } finally {
    await world.close();
  }
  const stats: SeedStats = {
    devices: world.shape.devices,
    rounds: world.shape.rounds,
    exchanges: world.network.exchanges,
    faults: { ...world.network.faults },
    restarts: world.server.restarts,
    tombstonesPurged: world.server.tombstonesPurged,
    syncs: counters.syncs,
    syncsGivenUp: counters.syncsGivenUp,
    reinitializations: counters.reinitializations,
    easDevices: world.easDevices.length,
    easSyncs: world.easDevices.reduce((n, d) => n + d.counts.syncs, 0),
    easPings: world.easDevices.reduce((n, d) => n + d.counts.pings, 0),
    davDevices: world.davDevices.length,
    davSyncs: world.davDevices.reduce((n, d) => n + d.counts.syncs, 0),
    davTokenResets: world.davDevices.reduce((n, d) => n + d.counts.tokenResets, 0),
    upstreams: world.upstream ? 1 : 0,
    upstreamRuns: counters.upstreamRuns,
    upstreamRunsFailed: counters.upstreamRunsFailed,
    upstreamRequests: world.upstream?.counts.requests ?? 0,
    upstreamLostAnswers: world.upstream?.counts.lostAnswers ?? 0,
    upstreamConflicts: world.upstream?.counts.conflicts ?? 0,
    upstreamRestarts: world.upstream?.counts.restarts ?? 0,
    notices: world.push.counts.notices,
    noticesApplied: world.push.counts.applied,
    userActions: Object.values(world.workload.counts).reduce((a, b) => a + b, 0),
    truthItems,
  };
  const digest = createHash('sha256').update(`${world.history.commitDigest()}\n${JSON.stringify(stats)}\n${JSON.stringify(failures)}`).digest('hex').slice(0, 16);
  return { seed, failures, stats, digest };
}

/** The phones' end states: what each holds, against the calendar's truth as the face shows it to a phone of its version. */
async function easEnds(world: World): Promise<DeviceEnd[]> {
  if (world.easDevices.length === 0) return [];
  const calendar = world.collections.find((c) => c.kind === 'events')?.id as string;
  const { items } = await world.server.readTruth(world.accountId, [calendar], []);
  return world.easDevices.map((d) => ({
    id: d.id,
    ...d.end(),
    truth: new Map([...items].map(([serverId, data]) => [serverId, viewOfTruth(data, d.version)])),
  }));
}

/** The upstream's end state: what it holds, against the contacts collection's truth. */
async function upstreamEnds(world: World): Promise<UpstreamEnd[]> {
  if (!world.upstream) return [];
  const contacts = world.collections.find((c) => c.kind === 'contacts')?.id as string;
  const { items } = await world.server.readTruth(world.accountId, [contacts], []);
  return [{ id: world.upstream.id, members: world.upstream.contents(), truth: items }];
}

/**
 * The hub runs the account's upstreams (`due`: only if their next run time has come, as the scheduler
 * does). A run that fails (the upstream lost an answer, was busy, forgot a token twice) is told on the
 * upstream's record and tried again later; one the hub's crash cut short throws, and is tried again too.
 * Whether the run failed.
 */
async function upstreamRun(world: World, due: boolean, counters: { upstreamRuns: number; upstreamRunsFailed: number }, trace: Trace | undefined): Promise<boolean> {
  counters.upstreamRuns++;
  trace?.(`the hub runs its upstream${due ? ' if due' : ''}`);
  let error: string | null;
  try {
    const runs = await world.server.hub.upstreams.run(world.accountId, { due });
    error = runs.find((r) => r.error !== null)?.error ?? null;
    if (runs.some((r) => !r.ran)) trace?.(`  not due until ${new Date(runs[0]?.nextRunAt ?? 0).toISOString()}`);
  } catch (err) {
    error = `the run stopped: ${(err as Error).message}`;
  }
  // A server that died during the run starts again now that the run is over.
  await world.server.afterDeath();
  if (error !== null) {
    counters.upstreamRunsFailed++;
    trace?.(`  the upstream run failed: ${error}`);
  }
  return error !== null;
}

/** The upstream's round: its user acts, and the hub runs it now and then. */
async function upstreamTurn(world: World, runUpstream: (due: boolean) => Promise<boolean>): Promise<void> {
  const rng = world.upstreamSchedule;
  const upstream = world.upstream as SimUpstream;
  const actions = rng.chance(0.7) ? rng.int(1, 3) : 0;
  for (let i = 0; i < actions; i++) upstream.act();
  if (rng.chance(0.6)) await runUpstream(rng.chance(0.5));
}

/** A device failed in a way no retry can fix: the run cannot go on meaningfully. */
class DeviceError extends Error {}

/**
 * A device syncs every collection: one after another, or (`together`) all at once, so that several of
 * its exchanges are in flight together (the SDK runs one at a time per collection, not per device).
 */
async function syncDevice(
  world: World,
  device: SimDevice,
  together: boolean,
  counters: { syncs: number; syncsGivenUp: number; reinitializations: number },
  trace: Trace | undefined,
): Promise<void> {
  counters.syncs++;
  trace?.(`${device.id} syncs${together ? ' every collection at once' : ''}`);
  const one = async (collectionId: string) => {
    try {
      const summary = await device.client.syncCollection(collectionId);
      if (summary.reinitialized) counters.reinitializations++;
    } catch (err) {
      if (!(err instanceof RetryableError)) throw new DeviceError(`${device.id} failed to sync ${collectionId}: ${(err as Error).message}`);
      counters.syncsGivenUp++;
      trace?.(`${device.id} gives up on ${collectionId} until later: ${err.message}`);
    }
    // The application removes what the server deleted, as the CLI does with files.
    device.replica.transaction((tx) => reapDeleted(tx, collectionId));
  };
  if (together) await Promise.all(world.collections.map((c) => one(c.id)));
  else for (const c of world.collections) await one(c.id);
}

/**
 * Pauses between rounds: mostly short, sometimes days, and now and then longer than tombstones are
 * kept, so devices that did not sync in time find their keys expired and re-initialize. Now and then
 * the server's clock is set back (by up to a day), as a corrected system clock is.
 */
function pauseMs(world: World): number {
  const minute = 60_000;
  const day = 24 * 60 * minute;
  const roll = world.schedule.float();
  if (roll < 0.04) return -world.schedule.int(1, 24 * 60) * minute;
  if (roll < 0.7) return world.schedule.int(1, 120) * minute;
  if (roll < 0.95) return world.schedule.int(1, 4) * day;
  return world.schedule.int(45, 100) * day;
}

async function randomPhase(world: World, sync: (d: SimDevice, together?: boolean) => Promise<void>, runUpstream: (due: boolean) => Promise<boolean>, trace: Trace | undefined): Promise<void> {
  const { schedule, devices } = world;
  for (let round = 0; round < world.shape.rounds; round++) {
    world.clock.advance(pauseMs(world));
    trace?.(`round ${round}, ${new Date(world.clock.now()).toISOString()}`);
    const purgedBefore = world.server.tombstonesPurged;
    await world.server.catchUp();
    if (world.server.tombstonesPurged > purgedBefore) trace?.(`the server purges ${world.server.tombstonesPurged - purgedBefore} expired tombstones`);
    // A different order each round, so no device always syncs first.
    const order = schedule.shuffle(devices);
    for (const device of order) {
      const online = device.offlineUntil <= round;
      if (online && schedule.chance(0.06)) {
        device.offlineUntil = round + schedule.int(3, 12);
        trace?.(`${device.id} goes offline until round ${device.offlineUntil}`);
      }
      await pushTurn(world, device, online);
      const actions = schedule.chance(0.7) ? schedule.int(1, 3) : 0;
      for (let i = 0; i < actions; i++) world.workload.act(device, devices);
      if (device.offlineUntil <= round && schedule.chance(0.6)) await sync(device, schedule.chance(0.4));
    }
    for (const phone of world.easDevices) await easTurn(world, phone, round, trace);
    for (const client of world.davDevices) await davTurn(world, client, round, trace);
    if (world.upstream) await upstreamTurn(world, runUpstream);
  }
}

/** A DAV client's round: it may go offline, its user acts (on the same workload as the SDK devices'), and online it syncs now and then. */
async function davTurn(world: World, client: DavDevice, round: number, trace: Trace | undefined): Promise<void> {
  const rng = world.davSchedule;
  if (client.offlineUntil <= round && rng.chance(0.06)) {
    client.offlineUntil = round + rng.int(3, 12);
    trace?.(`${client.id} goes offline until round ${client.offlineUntil}`);
  }
  const actions = rng.chance(0.7) ? rng.int(1, 3) : 0;
  for (let i = 0; i < actions; i++) world.workload.act(client, world.davDevices);
  if (client.offlineUntil <= round && rng.chance(0.6)) await client.sync();
}

/** A phone's round: it may go offline, its user acts, and online it Pings now and then and syncs. */
async function easTurn(world: World, phone: EasDevice, round: number, trace: Trace | undefined): Promise<void> {
  const rng = world.easSchedule;
  if (phone.offlineUntil <= round && rng.chance(0.06)) {
    phone.offlineUntil = round + rng.int(3, 12);
    trace?.(`${phone.id} goes offline until round ${phone.offlineUntil}`);
  }
  const actions = rng.chance(0.7) ? rng.int(1, 3) : 0;
  for (let i = 0; i < actions; i++) phone.act();
  if (phone.offlineUntil > round) return;
  const told = rng.chance(0.4) && (await phone.ping());
  if (told || rng.chance(0.6)) await phone.sync();
}

/**
 * A device's push channel over a round: an online device may open one, and lose it again; one that
 * has one is handed some of the notices waiting for it.
 */
async function pushTurn(world: World, device: SimDevice, online: boolean): Promise<void> {
  const { push, schedule } = world;
  if (!online || schedule.chance(0.1)) push.disconnect(device.id);
  else if (!push.connected(device.id) && schedule.chance(0.5)) await push.connect(device.id);
  if (push.connected(device.id)) await push.deliver(device, schedule.int(0, 4));
}

/**
 * No faults any more; every device syncs, pass after pass, until a whole pass changes nothing. The
 * upstream (its user stops editing) is run until a run writes nothing to it and fails nothing.
 */
async function quietPhase(world: World, sync: (d: SimDevice) => Promise<void>, runUpstream: (due: boolean) => Promise<boolean>): Promise<boolean> {
  await world.network.settle();
  world.push.settle();
  if (world.upstream) world.upstream.faultsOn = false;
  for (let pass = 0; pass < settlePassesMax; pass++) {
    const committedBefore = world.history.committed;
    for (const device of world.devices) {
      // Late notices still arrive, in order now; the sync after them must leave the device right.
      await world.push.deliver(device, Number.MAX_SAFE_INTEGER);
      await sync(device);
    }
    for (const phone of world.easDevices) await phone.sync();
    for (const client of world.davDevices) await client.sync();
    let upstreamMoved = false;
    for (let run = 0; world.upstream && run < upstreamRunsPerPassMax; run++) {
      const [committed, written, acknowledged] = [world.history.committed, world.upstream.counts.writes, world.upstream.counts.acknowledged];
      const failed = await runUpstream(false);
      // Settled: a run that acknowledged, and changed nothing on either side (a run whose exchange the hub refused, its key expired, acknowledged nothing).
      const moved = failed || world.history.committed !== committed || world.upstream.counts.writes !== written || world.upstream.counts.acknowledged === acknowledged;
      upstreamMoved ||= moved;
      if (!moved) break;
    }
    const pending =
      upstreamMoved ||
      world.devices.some((d) => d.replica.transaction((tx) => world.collections.some((c) => tx.pending(c.id, 1).length > 0))) || world.easDevices.some((d) => d.hasPending()) || world.davDevices.some((d) => d.hasPending());
    if (world.history.committed === committedBefore && !pending) return true;
  }
  return false;
}

export interface RunSummary {
  seeds: number;
  failedSeeds: number[];
  exchanges: number;
  faults: Record<Fault, number>;
  restarts: number;
}

export interface RunSeedsOptions extends RunOptions {
  from: number;
  count: number;
  verbose?: boolean;
  /** Where report lines go. */
  print: (line: string) => void;
}

/** Findings per check printed for a failing seed unless verbose. */
const findingsShown = 3;

export async function runSeeds(options: RunSeedsOptions): Promise<RunSummary> {
  const summary: RunSummary = {
    seeds: 0,
    failedSeeds: [],
    exchanges: 0,
    faults: Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<Fault, number>,
    restarts: 0,
  };
  for (let seed = options.from; seed < options.from + options.count; seed++) {
    const report = await runSeed(seed, options);
    summary.seeds++;
    summary.exchanges += report.stats.exchanges;
    summary.restarts += report.stats.restarts;
    for (const kind of faultKinds) summary.faults[kind] += report.stats.faults[kind];
    if (options.verbose) options.print(`seed ${seed}: ${report.failures.length === 0 ? 'ok' : 'FAILED'}  digest ${report.digest}, ${describeStats(report.stats)}`);
    if (report.failures.length === 0) continue;
    summary.failedSeeds.push(seed);
    const shown = new Map<string, number>();
    for (const failure of report.failures) {
      const count = (shown.get(failure.check) ?? 0) + 1;
      shown.set(failure.check, count);
      if (options.verbose || count <= findingsShown) options.print(`seed ${seed}: FAIL ${failure.check}: ${failure.detail}`);
    }
    for (const [check, count] of shown) {
      if (!options.verbose && count > findingsShown) options.print(`seed ${seed}: FAIL ${check}: ... and ${count - findingsShown} more`);
    }
  }
  return summary;
}

export function describeStats(s: SeedStats): string {
  const faults = faultKinds.map((k) => `${k} ${s.faults[k]}`).join(', ');
  return (
    `devices ${s.devices}, rounds ${s.rounds}, user actions ${s.userActions}, syncs ${s.syncs} (${s.syncsGivenUp} gave up), ` +
    `exchanges ${s.exchanges}, faults: ${faults}, restarts ${s.restarts}, tombstones purged ${s.tombstonesPurged}, ` +
    `re-initializations ${s.reinitializations}, ActiveSync phones ${s.easDevices} (${s.easSyncs} syncs, ${s.easPings} pings), DAV clients ${s.davDevices} (${s.davSyncs} syncs, ${s.davTokenResets} token resets), ` +
    `upstreams ${s.upstreams} (${s.upstreamRuns} runs, ${s.upstreamRunsFailed} failed; ${s.upstreamRequests} requests, ${s.upstreamLostAnswers} answers lost, ${s.upstreamConflicts} 412s, ${s.upstreamRestarts} restarts), push notices ${s.notices} (${s.noticesApplied} applied), items at the end ${s.truthItems}`
  );
}
