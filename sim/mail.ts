import { Hub } from '../src/hub/hub.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { UpstreamAccess } from '../src/hub/upstreams.js';
import type { Store } from '../src/store/store.js';
import { secretKey } from '../src/hub/sealed-secrets.js';
import type { ServerSyncPoint } from '../src/protocol/server-point.js';
import type { ClientCommand, CollectionResponse } from '../src/protocol/sync.js';
import { imapConnector } from '../src/server/upstream-connector.js';
import { sqliteDatabases, type SimDatabases } from './database.js';
import { SimImapServer, simFlags, type ImapFaultRates } from './imap-upstream.js';
import { Rng } from './random.js';
import { SimServer } from './server.js';
import type { Trace } from './trace.js';
import { FakeClock } from './world.js';
import { wrapPoint } from './wrap-point.js';

/**
 * Mail worlds (`npm run sim -- --mail`): an account whose INBOX comes from a simulated IMAP server
 * (imap-upstream.ts) through the real IMAP connector and the real hub and store, with devices on the
 * native protocol that mark messages read, flag and delete them, while the IMAP server's own user does
 * the same, mail arrives, the folder is now and then rebuilt under a new UIDVALIDITY, commands and
 * answers are lost both ways and the server restarts. After a quiet phase:
 *   - `imap-matches-truth`: the IMAP folder holds exactly the messages the hub's INBOX holds, once each,
 *     with the same flags (docs/design.md § Mail);
 *   - `mail-devices-match-truth`: every device holds what the hub holds.
 * Each has a planted bug it alone catches (`mailPlantedBugs`, `--plant-bug NAME` with `--mail`).
 */

export const mailCheckNames = ['imap-matches-truth', 'mail-devices-match-truth'] as const;
export const mailPlantedBugs = {
  'imap-point-drops-expunges': { description: 'the IMAP point leaves out of its reports the messages expunged at the server', caughtBy: ['imap-matches-truth'] },
  'hub-withholds-mail-changes': { description: "the hub's answers to devices leave out the changes of mail items", caughtBy: ['mail-devices-match-truth'] },
} as const;
export type MailPlantedBug = keyof typeof mailPlantedBugs;

export interface MailSeedReport {
  seed: number;
  failures: string[];
  stats: { devices: number; rounds: number; exchanges: number; runs: number; runsFailed: number; restarts: number; imap: SimImapServer['counts'] };
}

const simKey = secretKey(Buffer.alloc(32, 9));

/** A device on the native protocol with one collection, the INBOX, acting on what it holds. */
class MailDevice {
  syncKey = 0;
  readonly replica = new Map<string, string>();
  /** What it did and has not seen answered: sent again, with the same key, until it is. */
  pending: ClientCommand[] = [];
  pendingKey: number | undefined;

  constructor(
    readonly id: string,
    private readonly rng: Rng,
    private readonly trace: Trace | undefined,
  ) {}

  /** Its user marks, flags or deletes a message it holds (one thing at a time). */
  act(): void {
    if (this.pending.length > 0 || this.replica.size === 0) return;
    const ids = [...this.replica.keys()].sort();
    const serverId = ids[this.rng.int(0, ids.length - 1)] as string;
    const data = this.replica.get(serverId) as string;
    if (this.rng.chance(0.2)) {
      this.pending = [{ op: 'delete', serverId }];
      this.trace?.(`${this.id} user: deletes ${messageIdOf(data)}`);
      return;
    }
    const item = JSON.parse(data) as { flags: string[] };
    const flag = simFlags[this.rng.int(0, simFlags.length - 1)] as string;
    const flags = item.flags.includes(flag) ? item.flags.filter((f) => f !== flag) : [...item.flags, flag].sort();
    this.pending = [{ op: 'change', serverId, data: JSON.stringify({ ...item, flags }) }];
    this.trace?.(`${this.id} user: ${messageIdOf(data)} flags ${flags.join(' ') || '(none)'}`);
  }

  request(collectionId: string) {
    this.pendingKey ??= this.syncKey;
    return { version: 1 as const, device: { id: this.id }, collections: [{ collectionId, syncKey: this.pendingKey, commands: this.pending }] };
  }

  /** The answer to its request. */
  receive(response: CollectionResponse): void {
    this.pendingKey = undefined;
    if (response.status === 'invalidSyncKey') {
      this.syncKey = 0;
      this.replica.clear();
      this.pending = [];
      return;
    }
    if (response.status !== 'ok') throw new Error(`${this.id}: sync answered ${response.status} ${response.message ?? ''}`);
    const sent = this.pending;
    this.pending = [];
    for (const result of response.results) {
      const command = sent[result.index];
      if (!command || command.op === 'add' || command.op === 'fetch') continue;
      if (command.op === 'delete' && result.status === 'ok') this.replica.delete(command.serverId);
      else if (command.op === 'change' && result.status === 'ok') this.replica.set(command.serverId, command.data);
      // Gone meanwhile: a message is not added again by a device.
      else if (command.op === 'change' && result.status === 'notFound') this.replica.delete(command.serverId);
    }
    for (const c of response.commands) {
      if (c.op === 'delete') this.replica.delete(c.serverId);
      else this.replica.set(c.serverId, c.data);
    }
    this.syncKey = response.syncKey;
  }
}

function messageIdOf(data: string): string {
  return (JSON.parse(data) as { messageId: string | null }).messageId ?? '(none)';
}

export async function runMailSeed(seed: number, options: { databases?: SimDatabases; trace?: Trace; plantBug?: MailPlantedBug } = {}): Promise<MailSeedReport> {
  const trace = options.trace;
  const root = new Rng(seed);
  const [shapeRng, imapRng, deviceRng, scheduleRng, idRng] = [root.fork(), root.fork(), root.fork(), root.fork(), root.fork()];
  const rates: ImapFaultRates = {
    deliver: 0.2 + shapeRng.float() * 0.4,
    flag: shapeRng.float() * 0.4,
    expunge: shapeRng.float() * 0.15,
    rebuild: shapeRng.float() * 0.02,
    lostCommand: shapeRng.float() * 0.04,
    lostAnswer: shapeRng.float() * 0.05,
  };
  const shape = { devices: shapeRng.int(1, 3), rounds: shapeRng.int(10, 30), dropReply: shapeRng.float() * 0.2, restart: shapeRng.float() * 0.04, upstreamLast: shapeRng.chance(0.5) };
  const imap = new SimImapServer(imapRng, rates, trace);
  for (let i = shapeRng.int(0, 6); i > 0; i--) imap.deliver();
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const ports: HubPorts = { clock, random: { id: () => idRng.id() }, logger: { info: () => undefined, warn: () => undefined, debug: () => undefined } };
  const real = imapConnector(async () => '127.0.0.1', (o) => imap.open(o));
  const access: UpstreamAccess = {
    connectors: {
      imap: {
        ...real,
        open: (u, mappings) => {
          const session = real.open(u, mappings);
          const points = options.plantBug === 'imap-point-drops-expunges' ? session.points.map(dropExpunges) : session.points;
          return { ...session, points: trace ? points.map((p) => traced(p, trace)) : points };
        },
      },
    },
    keys: () => [simKey],
    sealingKey: () => () => simKey,
    intervalMs: 0,
  };
  const database = await (options.databases ?? sqliteDatabases).forSeed();
  const makeHub = options.plantBug === 'hub-withholds-mail-changes' ? (store: Store, p: HubPorts, a?: UpstreamAccess) => new WithholdingHub(store, p, a) : (store: Store, p: HubPorts, a?: UpstreamAccess) => new Hub(store, p, a);
  const server = await SimServer.start(ports, makeHub, () => undefined, database, access);
  const stats: MailSeedReport['stats'] = { devices: shape.devices, rounds: shape.rounds, exchanges: 0, runs: 0, runsFailed: 0, restarts: 0, imap: imap.counts };
  try {
    const account = await server.hub.accounts.create('sim', 'no-password');
    const discovered = [{ url: 'imap://imap.sim/INBOX', type: 'mailbox' as const, displayName: 'INBOX', kinds: ['mail'] }];
    const view = await server.hub.upstreams.add(account.id, { kind: 'imap', url: 'imap://imap.sim', username: 'ann', password: 'sim-password' }, { connector: { discover: async () => discovered }, key: () => simKey });
    const inbox = view.collections[0]?.collectionId as string;
    const devices = Array.from({ length: shape.devices }, (_, i) => new MailDevice(`d${i}`, deviceRng.fork(), trace));
    for (const device of devices) await server.hub.sync(account.id, 'native', device.request(inbox)).then((r) => device.receive(r.collections[0] as CollectionResponse));
    // In some worlds the devices come before the upstream in priority: a device's edit then beats the upstream's, but never its deletes.
    if (shape.upstreamLast) await server.hub.setDevicePriority(account.id, devices.map((d) => d.id));

    const run = async () => {
      stats.runs++;
      const [done] = await server.hub.upstreams.run(account.id);
      if (done?.error) {
        stats.runsFailed++;
        trace?.(`  the upstream run failed: ${done.error}`);
      }
    };
    const exchange = async (device: MailDevice, faults: boolean) => {
      stats.exchanges++;
      const request = device.request(inbox);
      const response = await server.hub.sync(account.id, 'native', request);
      const answer = response.collections[0] as CollectionResponse;
      const lost = faults && deviceRng.chance(shape.dropReply);
      trace?.(`${device.id} key ${request.collections[0]?.syncKey} [${request.collections[0]?.commands.map((c) => c.op).join(' ')}] -> ${answer.status} key ${answer.syncKey}, ${answer.commands.length} changes${lost ? ' (the answer is lost)' : ''}`);
      if (lost) return answer;
      device.receive(answer);
      return answer;
    };

    for (let round = 0; round < shape.rounds; round++) {
      clock.advance(60_000);
      imap.act();
      for (const device of devices) {
        if (!scheduleRng.chance(0.6)) continue;
        device.act();
        await exchange(device, true);
      }
      if (scheduleRng.chance(0.5)) await run();
      if (scheduleRng.chance(rates.lostCommand)) imap.restart();
      if (scheduleRng.chance(shape.restart)) {
        trace?.('the server restarts');
        await server.restart();
        stats.restarts++;
      }
    }

    // Quiet: no more user actions or faults; runs and syncs until nothing moves.
    trace?.('quiet phase');
    rates.lostCommand = 0;
    rates.lostAnswer = 0;
    for (let pass = 0; pass < 6; pass++) {
      await run();
      for (const device of devices) {
        for (let i = 0; i < 50; i++) {
          const answer = await exchange(device, false);
          if (!answer.moreAvailable && device.pending.length === 0) break;
        }
      }
    }

    const failures: string[] = [];
    const truth = await server.readTruth(account.id, [inbox], []);
    const truthByMessage = new Map<string, string[]>();
    for (const data of truth.items.values()) {
      const item = JSON.parse(data) as { messageId: string; flags: string[] };
      if (truthByMessage.has(item.messageId)) failures.push(`imap-matches-truth: the hub holds ${item.messageId} twice`);
      truthByMessage.set(item.messageId, item.flags);
    }
    const there = imap.contents();
    for (const [messageId, flags] of there) {
      const held = truthByMessage.get(messageId);
      if (held === undefined) failures.push(`imap-matches-truth: the IMAP folder holds ${messageId}, which the hub does not`);
      else if (held.join(' ') !== flags.join(' ')) failures.push(`imap-matches-truth: ${messageId} has flags [${flags.join(' ')}] at IMAP, [${held.join(' ')}] in the hub`);
    }
    for (const messageId of truthByMessage.keys()) if (!there.has(messageId)) failures.push(`imap-matches-truth: the hub holds ${messageId}, which the IMAP folder does not`);
    for (const device of devices) {
      const held = [...device.replica].sort(([a], [b]) => a.localeCompare(b));
      const want = [...truth.items].sort(([a], [b]) => a.localeCompare(b));
      if (JSON.stringify(held) !== JSON.stringify(want)) failures.push(`mail-devices-match-truth: ${device.id} holds ${held.length} messages unlike the hub's ${want.length}`);
    }
    return { seed, failures, stats };
  } finally {
    await server.close();
  }
}

/** The point, each report and apply told in the trace. */
function traced(point: ServerSyncPoint, trace: Trace): ServerSyncPoint {
  const describe = (c: ClientCommand) => (c.op === 'delete' ? `delete ${c.serverId}` : c.op === 'add' ? `add ${messageIdOf(c.data)}` : c.op === 'change' ? `change ${c.serverId} ${messageIdOf(c.data)} [${(JSON.parse(c.data) as { flags: string[] }).flags.join(' ')}]` : c.op);
  return wrapPoint(point, {
    async report(memory, cursor) {
      const report = await point.report(memory, cursor);
      trace(`point reports from ${cursor}: ${report.commands.map(describe).join('; ')}${report.known.length > 0 ? ` (${report.known.length} known)` : ''} -> cursor ${report.cursor}`);
      return report;
    },
    async apply(outcome, memory) {
      trace(`point answered: results [${outcome.results.map((r) => `${r.op} ${r.status} ${r.serverId ?? ''}`).join('; ')}] actions [${outcome.commands.map((c) => (c.op === 'delete' ? `delete ${c.serverId}` : `${c.op} ${c.serverId} [${(JSON.parse(c.data) as { flags: string[] }).flags.join(' ')}]`)).join('; ')}]`);
      const applied = await point.apply(outcome, memory);
      trace(`point applied: ${applied.acknowledged ? 'acknowledged' : 'not acknowledged'}, records ${applied.records.map((r) => `${r.serverId}@${r.remoteId}:${r.remoteEtag}`).join(' ')}, forgotten ${applied.forgotten.join(' ')}`);
      return applied;
    },
  });
}

/** The planted bug of a hub whose answers to devices leave out changes. */
class WithholdingHub extends Hub {
  override async sync(...args: Parameters<Hub['sync']>): ReturnType<Hub['sync']> {
    const response = await super.sync(...args);
    return { ...response, collections: response.collections.map((c) => ({ ...c, commands: c.commands.filter((command) => command.op !== 'change') })) };
  }
}

/** The planted bug: reports that leave out what was expunged at the IMAP server (delete commands). */
function dropExpunges(point: ServerSyncPoint): ServerSyncPoint {
  return wrapPoint(point, {
    async report(memory, cursor) {
      const report = await point.report(memory, cursor);
      const keep = report.commands.map((c) => c.op !== 'delete');
      return { ...report, commands: report.commands.filter((_, i) => keep[i]), remotes: report.remotes.filter((_, i) => keep[i]) };
    },
  });
}
