import { Hub } from '../src/hub/hub.js';
import type { HubPorts } from '../src/hub/ports.js';
import { openMemoryReplica } from '../src/sdk/memory-replica.js';
import type { Replica } from '../src/sdk/replica.js';
import { SyncClient } from '../src/sdk/sync-loop.js';
import { Causality } from './causality.js';
import { sqliteDatabases, type SimDatabases } from './database.js';
import { DavDevice, type DavClientKind } from './dav-device.js';
import { SimDavServer } from './dav-server.js';
import { addSimUpstream, SimUpstream, simUpstreamAccess } from './dav-upstream.js';
import { defaultEasSwitches, EasDevice, type EasWorkloadSwitches } from './eas-device.js';
import { SimEasServer } from './eas-server.js';
import type { EasVersion } from '../src/faces/eas/mapping/item-mapper.js';
import { History } from './history.js';
import { faultKinds, SimNetwork, type Fault, type FaultRates } from './network.js';
import { plantedBugs, type PlantedBug, type PlantedBugName } from './planted-bugs.js';
import { SimPush } from './push.js';
import { Rng } from './random.js';
import { SimServer } from './server.js';
import type { Trace } from './trace.js';
import { serverKey, Workload, type Kind, type SimCollection, type UserDevice } from './workload.js';

/**
 * A world built from a seed: one account on a real hub with three collections (contacts, calendar,
 * tasks), 2 to 8 devices running the real SyncClient on memory replicas, the faulty network between
 * them, and a fake clock that only moves when the simulation says so (pauses between rounds, which now
 * and then set it back, as a corrected system clock does; the client's retry backoff).
 */

export interface Shape {
  devices: number;
  rounds: number;
  faults: FaultRates;
}

export interface SimDevice extends UserDevice {
  client: SyncClient;
  /** Offline until this round: the user still edits, nothing is synced. */
  offlineUntil: number;
}

export interface World {
  shape: Shape;
  clock: FakeClock;
  /** Who is online, who edits, who syncs, and how much time passes. */
  schedule: Rng;
  server: SimServer;
  network: SimNetwork;
  push: SimPush;
  history: History;
  causality: Causality;
  workload: Workload;
  accountId: string;
  collections: SimCollection[];
  devices: SimDevice[];
  /** ActiveSync phones (eas-device.ts), in some worlds; they sync the calendar. */
  easDevices: EasDevice[];
  /** When the phones go offline, act and sync. */
  easSchedule: Rng;
  /** CardDAV/CalDAV clients (dav-device.ts), in some worlds; they sync every collection. */
  davDevices: DavDevice[];
  /** When the DAV clients go offline, act and sync. */
  davSchedule: Rng;
  /** An upstream CardDAV server the account syncs its contacts with (dav-upstream.ts), in some worlds. */
  upstream: SimUpstream | undefined;
  /** When its user acts and the hub runs it. */
  upstreamSchedule: Rng;
  /** A device that joins after the run to pull the truth, through the network without faults. */
  freshDevice(): SimDevice;
  close(): Promise<void>;
}

export interface WorldOptions {
  plantBug?: PlantedBugName | undefined;
  /** Only these network faults (all by default); narrows down which one a failure needs. */
  faults?: readonly Fault[] | undefined;
  /** Receives a line per user action, exchange and restart. */
  trace?: Trace | undefined;
  /** Which ActiveSync requests the phones make that the face does not get right yet (eas-device.ts). */
  easSwitches?: EasWorkloadSwitches | undefined;
  /** Give every world this many ActiveSync phones, instead of none or one or two as the seed says. */
  easDevices?: number | undefined;
  /** The phones' protocol version, instead of 14.1 or 16.1 as the seed says. */
  easVersion?: EasVersion | undefined;
  /** Give every world this many DAV clients, instead of none or one or two as the seed says. */
  davDevices?: number | undefined;
  /** Give every world an upstream (1) or none (0), instead of as the seed says. */
  upstreams?: number | undefined;
  /** Where the server keeps its data: a SQLite file by default (database.ts). */
  databases?: SimDatabases | undefined;
}

export class FakeClock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  /** Forward, or backward for a negative `ms`. */
  advance(ms: number): void {
    this.ms += Math.round(ms);
  }
}

const startOfRun = Date.UTC(2026, 0, 1);

export async function buildWorld(seed: number, options: WorldOptions = {}): Promise<World> {
  const root = new Rng(seed);
  const [shapeRng, schedule, workloadRng, networkRng, idRng, pushRng] = [root.fork(), root.fork(), root.fork(), root.fork(), root.fork(), root.fork()];
  // Drawn after the others, so that worlds without a phone run as they did before phones existed.
  const easRng = root.fork();
  const davRng = root.fork();
  const upstreamRng = root.fork();
  const shape: Shape = {
    devices: shapeRng.int(2, 8),
    rounds: shapeRng.int(8, 20),
    faults: { exchange: shapeRng.float() * 0.4, restart: shapeRng.float() * 0.05, kinds: options.faults ?? faultKinds },
  };
  const bug: PlantedBug | undefined = options.plantBug === undefined ? undefined : plantedBugs[options.plantBug];
  const clock = new FakeClock(startOfRun);
  const ports: HubPorts = {
    clock,
    random: { id: () => idRng.id() },
    logger: { info: () => undefined, warn: () => undefined, debug: () => undefined },
  };
  const causality = new Causality();
  const history = new History();
  const database = await (options.databases ?? sqliteDatabases).forSeed();
  // Drawn either way, so that naming the count changes nothing else in the world.
  const upstreamDrawn = upstreamRng.chance(0.3) ? 1 : 0;
  // Small reports in half the worlds with an upstream, so a run takes many rounds (drawn from a fork of its own: the rest of the world is as before).
  const reportRng = root.fork();
  const reportItemsMax = reportRng.chance(0.5) ? reportRng.int(1, 4) : undefined;
  const upstreamCount = options.upstreams ?? bug?.world?.upstreams ?? upstreamDrawn;
  // The hub is made with the upstream's access; the upstream itself once the workload it draws from is.
  let upstream: SimUpstream | undefined;
  const access = upstreamCount > 0 ? simUpstreamAccess(() => upstream as SimUpstream, clock, history, options.trace, bug?.point, reportItemsMax) : undefined;
  const server = await SimServer.start(ports, bug?.hub ?? ((store, p, a) => new Hub(store, p, a)), (writes) => history.recordCommit(writes), database, access);
  const account = await server.hub.accounts.create('sim', 'no-password');
  const listed = await server.hub.accounts.listCollections(account.id);
  const collections = (['contacts', 'events', 'tasks'] as const).map((kind: Kind): SimCollection => {
    const row = listed.find((c) => c.kind === kind);
    if (!row) throw new Error(`a new account has a ${kind} collection`);
    return { id: row.id, kind };
  });
  const network = new SimNetwork(networkRng, server, account.id, shape.faults, (request, response) => history.recordDelivery(request, response), options.trace);
  const push = new SimPush(pushRng, server, account.id, collections.map((c) => c.id), options.trace);
  const workload = new Workload(workloadRng, collections, causality, options.trace);
  if (upstreamCount > 0) {
    const rates = {
      edit: upstreamRng.float() * 0.1,
      restart: upstreamRng.float() * 0.03,
      busy: upstreamRng.float() * 0.03,
      lostRequest: upstreamRng.float() * 0.05,
      lostAnswer: upstreamRng.float() * 0.08,
      hubCrash: upstreamRng.float() * 0.02,
    };
    upstream = new SimUpstream(upstreamRng.fork(), rates, upstreamRng.int(1, 6), workload, causality, options.trace);
    upstream.onHubCrash = () => server.dies();
    await addSimUpstream(server.hub, account.id, (listed.find((c) => c.kind === 'contacts') as { name: string }).name, upstream);
  }

  const device = (id: string, replica: Replica, rng: Rng, windowSize: number, commandsMax: number, attemptsMax: number) => {
    let locals = 0;
    const client = new SyncClient({
      transport: network.transport,
      replica,
      device: { id },
      windowSize,
      commandsMax,
      retry: { attemptsMax, delayMsBase: 250, delayMsMax: 8000 },
      // A client that has not settled after this many exchanges in one call is looping: fail fast.
      exchangesMax: 2000,
      sleep: async (ms) => clock.advance(ms),
      random: () => rng.float(),
    });
    return { id, replica, client, offlineUntil: 0, newLocalId: () => `${id}-${locals++}` };
  };
  const devices: SimDevice[] = [];
  for (let i = 0; i < shape.devices; i++) {
    const replica = bug?.replica ? bug.replica(openMemoryReplica()) : openMemoryReplica();
    // Small windows and batches, so paging and partial uploads happen all the time.
    devices.push(device(`d${i}`, replica, shapeRng.fork(), shapeRng.int(1, 12), shapeRng.int(1, 6), shapeRng.int(2, 5)));
  }
  // What each delete a device sends is about: the version its user deleted (causality.ts).
  network.beforeSend = (request) => {
    const d = devices.find((x) => x.id === request.device.id);
    if (!d) return;
    history.noteAdds(request);
    for (const c of request.collections) {
      for (const command of c.commands ?? []) {
        if (command.op !== 'delete') continue;
        const localId = d.replica.transaction((tx) => tx.byServerId(c.collectionId, command.serverId)?.localId);
        const deleted = (localId === undefined ? undefined : causality.deletedVersion(d.id, localId)) ?? causality.deletedVersion(d.id, serverKey(command.serverId));
        if (deleted !== undefined) history.noteDelete(d.id, command.serverId, deleted);
      }
    }
  };
  // A notice may reach a device while its exchange is in flight, between the server's answer and the device's reading of it.
  network.beforeReply = async (deviceId) => {
    const d = devices.find((x) => x.id === deviceId);
    if (d && pushRng.chance(0.5)) await push.deliver(d, pushRng.int(1, 3));
  };

  const easFace = new SimEasServer(server, ports, { accountId: account.id, accountName: account.name, epoch: account.credentialEpoch }, bug?.easRequest);
  const easCount = options.easDevices ?? bug?.world?.easDevices ?? (easRng.chance(0.4) ? (easRng.chance(0.25) ? 2 : 1) : 0);
  const easDevices: EasDevice[] = [];
  for (let i = 0; i < easCount; i++) {
    const switches = options.easSwitches ?? defaultEasSwitches;
    // Drawn either way, so that naming the switch changes nothing else in the world.
    const editsBeforeCatchingUp = easRng.chance(0.5);
    const settings = {
      deviceId: `e${i}`,
      version: pickVersion(easRng, options.easVersion ?? bug?.world?.easVersion),
      windowSize: easRng.int(1, 6),
      commandsMax: easRng.int(1, 5),
      attemptsMax: easRng.int(2, 5),
      switches: { ...switches, editsBeforeCatchingUp: switches.editsBeforeCatchingUp ?? editsBeforeCatchingUp },
    };
    easDevices.push(new EasDevice(settings, easRng.fork(), easFace, network, history, causality, workload, (ms) => clock.advance(ms), options.trace));
  }

  const davFace = new SimDavServer(server, history, { id: account.id, name: account.name });
  const davCollections = collections.map((c) => ({ ...c, name: (listed.find((row) => row.id === c.id) as { name: string }).name }));
  const davCount = options.davDevices ?? (davRng.chance(0.4) ? (davRng.chance(0.3) ? 2 : 1) : 0);
  const firstDavKind: DavClientKind = davRng.chance(0.5) ? 'poll' : 'sync';
  const davDevices: DavDevice[] = [];
  for (let i = 0; i < davCount; i++) {
    // One of each kind when there are two or more.
    const kind: DavClientKind = i % 2 === 0 ? firstDavKind : firstDavKind === 'poll' ? 'sync' : 'poll';
    const settings = {
      kind,
      tokenId: `${kind}${i}`,
      accountName: account.name,
      collections: davCollections,
      attemptsMax: davRng.int(2, 5),
      multigetMax: davRng.int(1, 10),
      pageMax: davRng.int(1, 5),
    };
    davDevices.push(new DavDevice(settings, davFace, network, history, causality, (ms) => clock.advance(ms), options.trace));
  }

  return {
    shape,
    clock,
    schedule,
    server,
    network,
    push,
    history,
    causality,
    workload,
    accountId: account.id,
    collections,
    devices,
    easDevices,
    easSchedule: easRng.fork(),
    davDevices,
    davSchedule: davRng.fork(),
    upstream,
    upstreamSchedule: upstreamRng.fork(),
    freshDevice: () => device('fresh', openMemoryReplica(), shapeRng.fork(), 3, 6, 1),
    async close() {
      for (const d of devices) d.replica.close();
      for (const d of davDevices) d.replica.close();
      await server.close();
    },
  };
}

/** The seed's draw is made either way, so that naming a version changes nothing else in the world. */
function pickVersion(rng: Rng, named: EasVersion | undefined): EasVersion {
  const drawn = rng.chance(0.5) ? '14.1' : '16.1';
  return named ?? drawn;
}
