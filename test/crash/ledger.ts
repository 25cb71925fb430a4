import { etagOf } from '../../src/content/etag.js';
import type { ClientCommand, CollectionResponse } from '../../src/protocol/sync.js';
import { parseCard } from './cards.js';

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
 */

/** Microseconds on the monotonic clock every process of the machine shares. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

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
  private readonly deletesFirstSent = new Map<string, number>();

  /** `at`: before the request left the device (monotonicMicros). */
  noteSent(deviceId: string, commands: readonly ClientCommand[], at: number): void {
    for (const command of commands) {
      if (command.op === 'add' || command.op === 'change') this.version(etagOf(command.data), parseCard(command.data).crashId, at);
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
      if (command.op !== 'delete') this.committed(this.version(command.etag, parseCard(command.data).crashId, 0), at);
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
      this.committed(stored, at);
      this.acknowledge(`${deviceId} ${serverId}`, { deviceId, serverId, sentAt: stored.sentAt, deleted: false, crashId, etag, version });
    }
  }

  private version(etag: string, crashId: string, sentAt: number): VersionRecord {
    let record = this.versions.get(etag);
    if (!record) this.versions.set(etag, (record = { crashId, sentAt, committedBy: null }));
    return record;
  }

  /** Reports from several devices arrive in any order; the earliest answer that showed it is the bound. */
  private committed(record: VersionRecord, at: number): void {
    record.committedBy = record.committedBy === null ? at : Math.min(record.committedBy, at);
  }

  /** A replayed answer acknowledges the same change again; it is counted once. */
  private acknowledge(key: string, ack: Ack): void {
    const previous = this.lastAcks.get(key);
    const same = previous !== undefined && previous.deleted === ack.deleted && (ack.deleted || (!previous.deleted && previous.etag === ack.etag));
    if (!same) this.changesAcknowledged++;
    this.lastAcks.set(key, ack);
  }
}
