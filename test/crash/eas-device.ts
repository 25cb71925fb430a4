import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import {
  addCommand,
  all,
  changeCommand,
  collectionOf,
  commandsOf,
  contacts,
  contacts2,
  deleteCommand,
  EasClient,
  fh,
  folderEntries,
  has,
  maybeText,
  ping,
  syncBody,
  textAt,
  toXml,
} from '../support/eas-client.js';
import { ownerOf, type Card } from './cards.js';
import { sleep } from './device.js';
import { monotonicMicros, type AckLedger } from './ledger.js';
import type { WireLog } from './wire-log.js';

/**
 * An ActiveSync phone of the fault run (faults.ts), talking to the servers through the load balancer
 * like the SDK devices: FolderSync, then Sync of the contacts collection the SDK devices use, with Adds,
 * Changes and Deletes of its own, and a Ping held between its syncs; a Ping that answers "changes"
 * (Status 2) makes it sync at once.
 *
 * It holds what a phone holds: the collection's SyncKey and, per ServerId, the two fields of a crash card
 * it carries (FileAs ⇄ FN `Crash ID`, NickName ⇄ NICKNAME, the version: cards.ts), and its edits not yet
 * acknowledged. A request that got no answer (a killed server, a 5xx from the balancer, a reset, a
 * timeout) is sent again exactly as it was, with the same SyncKey and commands, as a phone does: the
 * server answers a retried key with the replay of its answer (docs/eas.md § Sync), so nothing is applied
 * twice. A Status 3 (the key is not known) makes it start the folder over from key 0 as a phone would,
 * keeping its unacknowledged edits; that is counted, and, since the server keeps every key it issued in
 * its database, reported as a problem: no kill or database restart may make it forget one.
 *
 * Every Add the server acknowledged (collection Status 1 and the Add's own Status 1, with its ServerId)
 * and every Change and Delete it did not refuse (successful ones are not echoed: MS-ASCMD 2.2.3.24.3) go
 * into the ack ledger, by label: the phone never sees the bytes the server stored.
 *
 * It edits only the cards it made itself (their ids start with its own id): an SDK card's UID, which
 * decides who may edit it (cards.ts), is not among the fields ActiveSync carries. The SDK and DAV
 * clients edit its cards (the server gives each a UID), so its edits meet theirs.
 */

export interface EasDeviceOptions {
  id: string;
  baseUrl: string;
  user: string;
  password: string;
  collectionId: string;
  random: () => number;
  ledger: AckLedger;
  wireLog: WireLog;
  problem(problem: string): void;
}

export interface EasStats {
  syncsSucceeded: number;
  /** Sync or FolderSync requests that got no answer, or a 5xx, and were sent again. */
  requestsRetried: number;
  /** Status 3 answers: the folder started over from key 0. */
  reinitializations: number;
  pings: number;
  /** Pings answered Status 2: a change waiting in the folder. */
  pingsWithChanges: number;
  /** Syncs the phone hung up on before their answer (and sent again). */
  hangUps: number;
  /** Own Changes and Deletes the server refused (Status 7 conflict, 8 no such item): another client's edit came first. */
  refused: number;
}

type Pending = { op: 'add'; clientId: string; card: Card } | { op: 'change'; serverId: string; card: Card } | { op: 'delete'; serverId: string };

interface InFlight {
  body: WbxmlElement;
  key: string;
  commands: Pending[];
  /** Sent before and unanswered: this is a retry. */
  retried: boolean;
}

/** Around this many live cards of its own the device stops adding. */
const ownCardsTarget = 15;
const editsPerRoundMax = 3;
const commandsMax = 8;
const windowSize = 100;
const requestTimeoutMs = 5_000;
/** This share of Syncs is hung up on after up to hangUpAfterMsMax, before or while the server works on it. */
const hangUpShare = 0.1;
const hangUpAfterMsMax = 1_500;
const pauseAfterFailureMsBase = 100;
const pauseAfterFailureMsMax = 2_000;
/**
 * A Ping is held this long at most before the phone has edits of its own to send (uniform between the
 * two). A loaded machine takes a second or two to answer even a Ping with changes waiting; a shorter hold
 * would end most Pings before their answer.
 */
const pingHoldMsMin = 2_000;
const pingHoldMsMax = 6_000;
/** A heartbeat the server takes (ping.ts: 30-3540 s) and haproxy's 60 s server timeout allows; the phone ends its Ping long before. */
const heartbeatSeconds = 60;
/** Exchanges of one sync at most (MoreAvailable, queued edits, a restart from key 0). */
const exchangesPerSyncMax = 200;

export class EasDevice {
  readonly stats: EasStats = { syncsSucceeded: 0, requestsRetried: 0, reinitializations: 0, pings: 0, pingsWithChanges: 0, hangUps: 0, refused: 0 };
  /** What the phone holds: ServerId → `CRASH-ID VERSION` (checks.ts ClientView). */
  readonly held = new Map<string, string>();
  private readonly client: EasClient;
  private key = '0';
  private pending: Pending[] = [];
  private inFlight: InFlight | null = null;
  private itemsCreated = 0;
  private versionsWritten = 0;
  private failuresInARow = 0;
  private pingAbort: AbortController | null = null;
  private running: Promise<void> = Promise.resolve();
  private keepGoing = false;

  constructor(private readonly o: EasDeviceOptions) {
    this.client = new EasClient({ baseUrl: o.baseUrl, user: o.user, password: o.password, deviceId: `fault${o.id}`, deviceType: 'FaultPhone' });
  }

  get id(): string {
    return this.o.id;
  }

  /** Edits not yet acknowledged. */
  get unsent(): number {
    return this.pending.length + (this.inFlight?.commands.length ?? 0);
  }

  /** FolderSync until the contacts collection is among the folders, then edit, sync and Ping until stopped. */
  start(): void {
    this.keepGoing = true;
    // A client that throws stops, and says why; the run goes on to its checks.
    this.running = this.run().catch((err: Error) => this.o.problem(`ActiveSync device ${this.id} stopped: ${err.stack ?? String(err)}`));
  }

  async stop(): Promise<void> {
    this.keepGoing = false;
    this.pingAbort?.abort();
    await this.running;
  }

  /** One sync (for settling): what it moved, sent plus received, or null when it failed. */
  async sync(): Promise<number | null> {
    let moved = 0;
    for (let exchange = 0; exchange < exchangesPerSyncMax; exchange++) {
      const result = await this.exchange();
      if (result === null) return null;
      moved += result.moved;
      if (!result.more && this.key !== '0' && this.pending.length === 0) {
        this.stats.syncsSucceeded++;
        return moved;
      }
    }
    this.o.problem(`ActiveSync device ${this.id}: one sync took more than ${exchangesPerSyncMax} exchanges`);
    return null;
  }

  private async run(): Promise<void> {
    while (this.keepGoing && !(await this.folderSync())) await this.pauseAfterFailure();
    while (this.keepGoing) {
      this.editRandomly();
      if ((await this.sync()) === null) {
        await this.pauseAfterFailure();
        continue;
      }
      this.failuresInARow = 0;
      // Held until a change waits in the folder, or the phone has something of its own to send.
      if ((await this.ping(pingHoldMsMin + this.o.random() * (pingHoldMsMax - pingHoldMsMin))) === 'failed') await this.pauseAfterFailure();
    }
  }

  private async pauseAfterFailure(): Promise<void> {
    this.failuresInARow++;
    await sleep(this.o.random() * Math.min(pauseAfterFailureMsMax, pauseAfterFailureMsBase * 2 ** this.failuresInARow));
  }

  private async folderSync(): Promise<boolean> {
    const res = await this.post('FolderSync', fh('FolderSync', fh('SyncKey', '0')));
    if (res === null) return false;
    const folders = folderEntries(res, 'Add');
    if (textAt(res, 'Status') !== '1' || !folders.some((f) => f.id === this.o.collectionId)) {
      this.o.problem(`ActiveSync device ${this.id}: FolderSync did not list the contacts collection: ${toXml(res).slice(0, 500)}`);
      return false;
    }
    return true;
  }

  /** One Sync request (the unanswered one again, or a new one), and what its answer moved; null: no answer. */
  private async exchange(): Promise<{ moved: number; more: boolean } | null> {
    if (!this.inFlight) {
      const commands = this.key === '0' ? [] : this.pending.splice(0, commandsMax);
      const sentAt = monotonicMicros();
      for (const c of commands) if (c.op !== 'delete') this.o.ledger.noteVersionSent(c.card, null, sentAt);
      const body = syncBody([{ collectionId: this.o.collectionId, syncKey: this.key, windowSize, commands: commands.map(commandElement) }]);
      this.inFlight = { body, key: this.key, commands, retried: false };
      this.o.wireLog.write({ eas: this.id, key: this.key, sends: commands.map(describe) });
    }
    const flight = this.inFlight;
    // Now and then the phone loses its connection while the request is on its way (it walked into a lift):
    // the server may still be working on it when the same request comes again, likely to another process.
    const hangUpAfterMs = this.o.random() < hangUpShare ? Math.round(this.o.random() * hangUpAfterMsMax) : undefined;
    const answer = await this.post('Sync', flight.body, hangUpAfterMs);
    if (answer === null) {
      flight.retried = true;
      return null;
    }
    const at = monotonicMicros();
    const collection = collectionOf(answer);
    const status = textAt(collection, 'Status');
    this.inFlight = null;
    if (status === '3') {
      // The key is not known: start the folder over, keeping the edits nobody acknowledged.
      this.stats.reinitializations++;
      this.o.wireLog.write({ eas: this.id, key: flight.key, status: 3, retried: flight.retried });
      this.o.problem(`ActiveSync device ${this.id}: Status 3 for SyncKey ${flight.key}${flight.retried ? ', sent again after its answer was lost' : ''}: the server forgot a key it issued`);
      this.pending.unshift(...flight.commands.filter((c) => c.op !== 'delete' || this.held.has(c.serverId)));
      this.key = '0';
      this.held.clear();
      return { moved: 0, more: true };
    }
    if (status !== '1') {
      this.o.problem(`ActiveSync device ${this.id}: Sync answered Status ${status}: ${toXml(collection).slice(0, 500)}`);
      this.pending.unshift(...flight.commands);
      return null;
    }
    this.o.ledger.noteExchange();
    this.acknowledge(flight, collection, at);
    const moved = flight.commands.length + this.apply(collection, at);
    this.key = textAt(collection, 'SyncKey');
    this.o.wireLog.write({ eas: this.id, key: flight.key, next: this.key, more: has(collection, 'MoreAvailable'), held: this.held.size });
    return { moved, more: has(collection, 'MoreAvailable') };
  }

  /** The answers to the phone's own commands. */
  private acknowledge(flight: InFlight, collection: WbxmlElement, at: number): void {
    const answerFor = (c: Pending) =>
      c.op === 'add'
        ? all(collection, 'Responses/Add').find((r) => maybeText(r, 'ClientId') === c.clientId)
        : all(collection, `Responses/${c.op === 'change' ? 'Change' : 'Delete'}`).find((r) => maybeText(r, 'ServerId') === c.serverId);
    for (const c of flight.commands) {
      const response = answerFor(c);
      const status = response ? maybeText(response, 'Status') : c.op === 'add' ? undefined : '1';
      const log = { eas: this.id, command: describe(c), status: status ?? 'none' };
      if (c.op === 'add') {
        const serverId = response && maybeText(response, 'ServerId');
        if (status !== '1' || !serverId) {
          this.o.wireLog.write(log);
          this.o.problem(`ActiveSync device ${this.id}: Add ${c.clientId} answered ${response ? toXml(response) : 'nothing'}`);
          continue;
        }
        this.held.set(serverId, `${c.card.crashId} ${c.card.version}`);
        this.noteAck(serverId, c.card, at);
      } else if (status === '1') {
        if (c.op === 'change') {
          this.held.set(c.serverId, `${c.card.crashId} ${c.card.version}`);
          this.noteAck(c.serverId, c.card, at);
        } else {
          this.held.delete(c.serverId);
          this.o.ledger.noteAcknowledged({ deviceId: this.id, serverId: c.serverId, sentAt: 0, deleted: true });
        }
      } else if (status === '7' || status === '8') {
        // Another client's edit or delete came first; its version (or the delete) follows as a server command.
        this.stats.refused++;
      } else this.o.problem(`ActiveSync device ${this.id}: ${describe(c)} answered Status ${status}`);
      this.o.wireLog.write(log);
    }
  }

  private noteAck(serverId: string, card: Card, at: number): void {
    this.o.ledger.noteVersionSeen(card, null, at);
    const sentAt = this.o.ledger.labels.get(card.version)?.sentAt ?? 0;
    this.o.ledger.noteAcknowledged({ deviceId: this.id, serverId, sentAt, deleted: false, crashId: card.crashId, version: card.version, etag: null });
  }

  /** The server's Adds, Changes and Deletes; returns how many. */
  private apply(collection: WbxmlElement, at: number): number {
    let n = 0;
    for (const kind of ['Add', 'Change'] as const) {
      for (const command of commandsOf(collection, kind)) {
        const serverId = textAt(command, 'ServerId');
        const fileAs = maybeText(command, 'ApplicationData/FileAs') ?? '';
        const version = maybeText(command, 'ApplicationData/NickName') ?? '';
        const crashId = /^Crash (.+)$/.exec(fileAs)?.[1];
        if (!crashId || !version) {
          this.o.problem(`ActiveSync device ${this.id}: ${kind} ${serverId} is not a crash card: ${toXml(command).slice(0, 300)}`);
          continue;
        }
        this.held.set(serverId, `${crashId} ${version}`);
        this.o.ledger.noteVersionSeen({ crashId, version, withUid: true, owner: ownerOf(crashId) }, null, at);
        n++;
      }
    }
    for (const kind of ['Delete', 'SoftDelete'] as const) {
      for (const command of all(collection, `Commands/${kind}`)) {
        this.held.delete(textAt(command, 'ServerId'));
        n++;
      }
    }
    return n;
  }

  /** Holds a Ping on the contacts folder for at most `holdMs`. */
  private async ping(holdMs: number): Promise<'changes' | 'quiet' | 'failed'> {
    const started = performance.now();
    const result = await this.heldPing(holdMs);
    this.o.wireLog.write({ eas: this.id, ping: result, heldMs: Math.round(performance.now() - started) });
    return result;
  }

  private async heldPing(holdMs: number): Promise<'changes' | 'quiet' | 'failed'> {
    const abort = new AbortController();
    this.pingAbort = abort;
    const timer = setTimeout(() => abort.abort(), holdMs);
    this.stats.pings++;
    try {
      const body = ping('Ping', ping('HeartbeatInterval', String(heartbeatSeconds)), ping('Folders', ping('Folder', ping('Id', this.o.collectionId), ping('Class', 'Contacts'))));
      const res = await this.client.send('Ping', body, { signal: abort.signal });
      if (res.status !== 200 || !res.body) return res.status >= 500 ? 'failed' : this.unexpected('Ping', `HTTP ${res.status} ${res.text.slice(0, 200)}`);
      const status = textAt(res.body, 'Status');
      if (status === '2') {
        this.stats.pingsWithChanges++;
        return 'changes';
      }
      return status === '1' ? 'quiet' : this.unexpected('Ping', `Status ${status}`);
    } catch {
      return abort.signal.aborted ? 'quiet' : 'failed';
    } finally {
      clearTimeout(timer);
      this.pingAbort = null;
    }
  }

  /** A command sent with a timeout; null when it got no answer or a 5xx (it is to be sent again). */
  private async post(command: 'Sync' | 'FolderSync', body: WbxmlElement, hangUpAfterMs = requestTimeoutMs): Promise<WbxmlElement | null> {
    try {
      const res = await this.client.send(command, body, { signal: AbortSignal.timeout(hangUpAfterMs) });
      if (res.status === 200 && res.body) return res.body;
      if (res.status < 500) {
        this.unexpected(command, `HTTP ${res.status} ${res.text.slice(0, 200)}`);
        return null;
      }
      this.o.wireLog.write({ eas: this.id, [command]: `HTTP ${res.status}` });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' && hangUpAfterMs < requestTimeoutMs) this.stats.hangUps++;
      this.o.wireLog.write({ eas: this.id, [command]: `no answer: ${(err as Error).message}` });
    }
    this.stats.requestsRetried++;
    return null;
  }

  private unexpected(command: string, what: string): 'failed' {
    this.o.problem(`ActiveSync device ${this.id}: ${command} answered ${what}`);
    return 'failed';
  }

  private editRandomly(): void {
    const edits = 1 + Math.floor(this.o.random() * editsPerRoundMax);
    for (let i = 0; i < edits; i++) this.editOnce();
  }

  /** An Add, a Change or a Delete of one of its own cards, queued for the next Sync. */
  private editOnce(): void {
    // An item with an edit queued or on the wire (a request being sent again) waits for its answer.
    const busy = new Set([...this.pending, ...(this.inFlight?.commands ?? [])].flatMap((c) => (c.op === 'add' ? [] : [c.serverId])));
    const own = [...this.held].filter(([serverId, shown]) => shown.startsWith(`${this.id}-`) && !busy.has(serverId));
    const roll = this.o.random();
    if (roll < (own.length < ownCardsTarget ? 0.5 : 0.1) || own.length === 0) {
      const crashId = `${this.id}-${++this.itemsCreated}`;
      this.pending.push({ op: 'add', clientId: crashId, card: { crashId, version: this.nextVersion(), withUid: true, owner: this.id } });
      return;
    }
    const [serverId, shown] = own[Math.floor(this.o.random() * own.length)] as [string, string];
    const crashId = shown.split(' ')[0] as string;
    if (roll < 0.85) this.pending.push({ op: 'change', serverId, card: { crashId, version: this.nextVersion(), withUid: true, owner: this.id } });
    else this.pending.push({ op: 'delete', serverId });
  }

  private nextVersion(): string {
    return `${this.id}.${++this.versionsWritten}`;
  }
}

const fields = (card: Card) => [contacts('FileAs', `Crash ${card.crashId}`), contacts2('NickName', card.version)];

function commandElement(c: Pending): WbxmlElement {
  if (c.op === 'add') return addCommand(c.clientId, ...fields(c.card));
  if (c.op === 'change') return changeCommand(c.serverId, ...fields(c.card));
  return deleteCommand(c.serverId);
}

const describe = (c: Pending) => (c.op === 'add' ? `add ${c.clientId} ${c.card.version}` : c.op === 'change' ? `change ${c.serverId} ${c.card.version}` : `delete ${c.serverId}`);
