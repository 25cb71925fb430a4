import { etagOf } from '../../src/content/etag.js';
import type { ClientCommand, CollectionResponse } from '../../src/protocol/sync.js';
import { parseCard, type Card } from './cards.js';

/**
 * What the server acknowledged, seen on the wire. The server sends a sync response only after its
 * transaction committed, so every `ok` result in a response the client received promises that the
 * change is durable, however the server dies afterwards.
 *
 * Versions are known by etag (the server's etag is a hash of the bytes it stores), which also covers
 * versions the server writes itself when it merges two devices' edits. Times bound when a version was
 * committed: not before it was first sent, and no later than the first response that showed it.
 * Comparing those bounds is the only sound way to order two devices' writes of one item without asking
 * the server. The devices are separate processes, so a time is read where it happens, in the device, on
 * the machine's monotonic clock (one clock for every process): before a request leaves, after an answer
 * arrived. The order in which the devices' reports reach this process says nothing.
 *
 * An ActiveSync device is never told the bytes the server stored (it sends fields, the server writes the
 * card), so its versions are known by their label (the card's NICKNAME, unique per edit: cards.ts) as
 * well: every version is recorded under both, and an ActiveSync acknowledgement names its label only.
 */

/** Microseconds on the monotonic clock every process of the machine shares. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

export interface VersionRecord {
  crashId: string;
  /** The edit that wrote it (the card's NICKNAME). */
  label: string;
  /** The earliest moment it can have been committed: when a request first carried it (0: unknown). */
  sentAt: number;
  /** When a response first showed it committed (an acknowledgement or a server change); null until then. */
  committedBy: number | null;
}

/** The last change of one server item that one device had acknowledged. */
export type Ack = {
  deviceId: string;
  /** For a DAV client, '' until the check reads which item its resource name belongs to (davName). */
  serverId: string;
  davName?: string;
  sentAt: number;
} & (
  | { deleted: false; crashId: string; version: string; /** Null when the client is not told the stored bytes (ActiveSync): then the version is known by its label. */ etag: string | null }
  | { deleted: true }
);

export class AckLedger {
  /** Every version sent or seen, by etag. */
  readonly versions = new Map<string, VersionRecord>();
  /** Every version sent or seen, by label, whatever bytes the server stored it as. */
  readonly labels = new Map<string, VersionRecord>();
  /** By `${deviceId} ${serverId}`; a device's exchanges are sequential, so its latest ack is its newest change. */
  readonly lastAcks = new Map<string, Ack>();
  exchangesAcknowledged = 0;
  changesAcknowledged = 0;
  /** Distinct changes acknowledged, by device. */
  readonly changesAcknowledgedBy = new Map<string, number>();
  private readonly deletesFirstSent = new Map<string, number>();

  /** `at`: before the request left the device (monotonicMicros). */
  noteSent(deviceId: string, commands: readonly ClientCommand[], at: number): void {
    for (const command of commands) {
      if (command.op === 'add' || command.op === 'change') this.version(etagOf(command.data), parseCard(command.data), at);
      else if (command.op === 'delete') {
        const key = `${deviceId} ${command.serverId}`;
        if (!this.deletesFirstSent.has(key)) this.deletesFirstSent.set(key, at);
      }
    }
  }

  /** `at`: after the answer arrived at the device (monotonicMicros). */
  noteAnswered(deviceId: string, commands: readonly ClientCommand[], response: CollectionResponse, at: number): void {
    if (response.status !== 'ok') return;
    this.exchangesAcknowledged++;
    for (const command of response.commands) {
      if (command.op !== 'delete') this.committed(this.version(command.etag, parseCard(command.data), 0), at);
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
      const card = parseCard(command.data);
      const { crashId, version } = card;
      const sent = this.versions.get(etagOf(command.data)) as VersionRecord;
      // A merge the server made of this edit and another one cannot predate this edit's first sending.
      const etag = result.etag ?? etagOf(command.data);
      const stored = this.version(etag, card, sent.sentAt);
      this.committed(stored, at);
      this.acknowledge(`${deviceId} ${serverId}`, { deviceId, serverId, sentAt: stored.sentAt, deleted: false, crashId, etag, version });
    }
  }

  /**
   * An ActiveSync or DAV client is about to send a version: `etag` when it sends the bytes the server
   * stores (DAV), null when the server writes the card from its fields (ActiveSync). `at` as in noteSent.
   */
  noteVersionSent(card: Card, etag: string | null, at: number): void {
    if (etag === null) this.labelled(card, at);
    else this.version(etag, card, at);
  }

  /** Such a client saw a version committed (an answer to its write, or a server change it received); `at` as in noteAnswered. */
  noteVersionSeen(card: Card, etag: string | null, at: number): void {
    this.committed(etag === null ? this.labelled(card, 0) : this.version(etag, card, 0), at);
  }

  /** Such a client's exchange the server answered (it acknowledged what the client sent in it). */
  noteExchange(): void {
    this.exchangesAcknowledged++;
  }

  /** Such a client's acknowledged change; a DAV client's is keyed by its resource name until the check resolves it. */
  noteAcknowledged(ack: Ack): void {
    this.acknowledge(`${ack.deviceId} ${ack.davName ?? ack.serverId}`, ack);
  }

  private version(etag: string, card: Card, sentAt: number): VersionRecord {
    this.labelled(card, sentAt);
    let record = this.versions.get(etag);
    if (!record) this.versions.set(etag, (record = { crashId: card.crashId, label: card.version, sentAt, committedBy: null }));
    return record;
  }

  private labelled(card: Card, sentAt: number): VersionRecord {
    let record = this.labels.get(card.version);
    if (!record) this.labels.set(card.version, (record = { crashId: card.crashId, label: card.version, sentAt, committedBy: null }));
    return record;
  }

  /** Reports from several devices arrive in any order; the earliest answer that showed it is the bound. */
  private committed(record: VersionRecord, at: number): void {
    for (const r of new Set([record, this.labels.get(record.label) as VersionRecord])) r.committedBy = r.committedBy === null ? at : Math.min(r.committedBy, at);
  }

  /** A replayed answer acknowledges the same change again; it is counted once. */
  private acknowledge(key: string, ack: Ack): void {
    const previous = this.lastAcks.get(key);
    const same = previous !== undefined && previous.deleted === ack.deleted && (ack.deleted || (!previous.deleted && previous.etag === ack.etag && previous.version === ack.version));
    if (!same) {
      this.changesAcknowledged++;
      this.changesAcknowledgedBy.set(ack.deviceId, (this.changesAcknowledgedBy.get(ack.deviceId) ?? 0) + 1);
    }
    this.lastAcks.set(key, ack);
  }
}
