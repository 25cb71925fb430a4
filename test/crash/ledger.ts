import { etagOf } from '../../src/content/etag.js';
import type { Collection } from '../../src/protocol/collections.js';
import type { ClientCommand, CollectionResponse, SyncRequest, SyncResponse } from '../../src/protocol/sync.js';
import type { Transport } from '../../src/sdk/transport.js';
import { parseCard } from './cards.js';
import { describeAnswer, describeCommand, type WireLog } from './wire-log.js';

/**
 * What the server acknowledged, seen on the wire. The server sends a sync response only after its
 * transaction committed, so every `ok` result in a response the client received promises that the
 * change is durable, however the server dies afterwards.
 *
 * Versions are known by etag (the server's etag is a hash of the bytes it stores), which also covers
 * versions the server writes itself when it merges two devices' edits. Times are ticks of one logical
 * clock (the test process is single-threaded) and bound when a version was committed: not before it was
 * first sent, and no later than the first response that showed it. Comparing those bounds is the only
 * sound way to order two devices' writes of one item without asking the server.
 */

export interface VersionRecord {
  crashId: string;
  /** The earliest moment it can have been committed: when a request first carried it (0: unknown). */
  sentAt: number;
  /** When a response first showed it committed (an acknowledgement or a server change); null until then. */
  committedBy: number | null;
}

/** The last change of one server item that one device had acknowledged. */
export type Ack = { deviceId: string; serverId: string; sentAt: number } & (
  | { deleted: false; crashId: string; etag: string; version: string }
  | { deleted: true }
);

export class AckLedger {
  /** Every version sent or seen, by etag. */
  readonly versions = new Map<string, VersionRecord>();
  /** By `${deviceId} ${serverId}`; a device's exchanges are sequential, so its latest ack is its newest change. */
  readonly lastAcks = new Map<string, Ack>();
  exchangesAcknowledged = 0;
  changesAcknowledged = 0;
  inFlight = 0;
  private clock = 0;
  private readonly deletesFirstSent = new Map<string, number>();

  noteSent(deviceId: string, commands: readonly ClientCommand[]): void {
    const now = ++this.clock;
    for (const command of commands) {
      if (command.op === 'add' || command.op === 'change') this.version(etagOf(command.data), parseCard(command.data).crashId, now);
      else if (command.op === 'delete') {
        const key = `${deviceId} ${command.serverId}`;
        if (!this.deletesFirstSent.has(key)) this.deletesFirstSent.set(key, now);
      }
    }
  }

  noteAnswered(deviceId: string, commands: readonly ClientCommand[], response: CollectionResponse): void {
    const now = ++this.clock;
    if (response.status !== 'ok') return;
    this.exchangesAcknowledged++;
    for (const command of response.commands) {
      if (command.op !== 'delete') this.committed(this.version(command.etag, parseCard(command.data).crashId, 0), now);
    }
    for (const result of response.results) {
      const command = commands[result.index];
      if (result.status !== 'ok' || !command || command.op === 'fetch') continue;
      if (command.op === 'delete') {
        const key = `${deviceId} ${command.serverId}`;
        this.acknowledge(key, { deviceId, serverId: command.serverId, sentAt: this.deletesFirstSent.get(key) as number, deleted: true });
        continue;
      }
      const serverId = result.serverId ?? (command.op === 'change' ? command.serverId : undefined);
      if (serverId === undefined) throw new Error(`an ok ${command.op} result without a server id: ${JSON.stringify(result)}`);
      const { crashId, version } = parseCard(command.data);
      const sent = this.versions.get(etagOf(command.data)) as VersionRecord;
      // A merge the server made of this edit and another one cannot predate this edit's first sending.
      const etag = result.etag ?? etagOf(command.data);
      const stored = this.version(etag, crashId, sent.sentAt);
      this.committed(stored, now);
      this.acknowledge(`${deviceId} ${serverId}`, { deviceId, serverId, sentAt: stored.sentAt, deleted: false, crashId, etag, version });
    }
  }

  private version(etag: string, crashId: string, sentAt: number): VersionRecord {
    let record = this.versions.get(etag);
    if (!record) this.versions.set(etag, (record = { crashId, sentAt, committedBy: null }));
    return record;
  }

  private committed(record: VersionRecord, now: number): void {
    record.committedBy ??= now;
  }

  /** A replayed answer acknowledges the same change again; it is counted once. */
  private acknowledge(key: string, ack: Ack): void {
    const previous = this.lastAcks.get(key);
    const same = previous !== undefined && previous.deleted === ack.deleted && (ack.deleted || (!previous.deleted && previous.etag === ack.etag));
    if (!same) this.changesAcknowledged++;
    this.lastAcks.set(key, ack);
  }
}

/** A Transport that tells the ledger (and the wire log) what each sync request carried and what the server answered. */
export class RecordingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly ledger: AckLedger,
    private readonly wireLog: WireLog,
    private readonly deviceId: string,
  ) {}

  async sync(request: SyncRequest): Promise<SyncResponse> {
    for (const c of request.collections) {
      this.ledger.noteSent(this.deviceId, c.commands ?? []);
      this.wireLog.write({ device: this.deviceId, sent: c.syncKey, commands: (c.commands ?? []).map(describeCommand) });
    }
    this.ledger.inFlight++;
    try {
      const response = await this.inner.sync(request);
      for (const c of request.collections) {
        const answer = response.collections.find((r) => r.collectionId === c.collectionId);
        if (!answer) continue;
        this.ledger.noteAnswered(this.deviceId, c.commands ?? [], answer);
        this.wireLog.write({ device: this.deviceId, answered: c.syncKey, ...describeAnswer(answer) });
      }
      return response;
    } catch (err) {
      this.wireLog.write({ device: this.deviceId, failed: (err as Error).message });
      throw err;
    } finally {
      this.ledger.inFlight--;
    }
  }

  listCollections(): Promise<Collection[]> {
    return this.inner.listCollections();
  }

  createCollection(input: Parameters<Transport['createCollection']>[0]): Promise<Collection> {
    return this.inner.createCollection(input);
  }
}
