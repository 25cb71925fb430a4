import { createHash } from 'node:crypto';
import type { ClientCommand, SyncRequest, SyncResponse } from '../src/protocol/sync.js';
import type { ServerWrite } from './server.js';
import { simIdOf } from './workload.js';

/**
 * The model the checkers judge the end state against: every item version the server committed, and
 * every answer to a client command that reached the device.
 *
 * An `ok` answer acknowledges the version the server then held (its etag is in the result; after a
 * property merge that is not the version the device sent). It is placed at the server write that
 * produced that version, not at the time the reply arrived: a replayed reply can arrive long after
 * the write, and other devices' writes in between are later, not earlier.
 */
export interface Ack {
  deviceId: string;
  op: 'add' | 'change' | 'delete';
  serverId: string;
  /** The Add's clientId: the device's name for the item. */
  clientId?: string;
  /** The version acknowledged; null for a delete. */
  data: string | null;
  /** The record: the card's X-SIM-ID, or for a delete that of the item's last live version. */
  simId: string | null;
  /** Account sequence of the write acknowledged; null if the server never committed that version. */
  seq: number | null;
}

/** A `conflict` answer: the server kept another version, and promised to keep this one as a conflict record. */
export interface Conflicted {
  deviceId: string;
  op: 'add' | 'change' | 'delete';
  serverId: string;
  /** The version sent; null for a delete (a delete that lost keeps nothing). */
  data: string | null;
}

export class History {
  readonly acks: Ack[] = [];
  readonly conflicted: Conflicted[] = [];
  /** Item versions committed so far. */
  committed = 0;
  /** Told of each commit once it is recorded (the DAV server notes the writes each request made: dav-server.ts). */
  onCommit: (writes: readonly ServerWrite[]) => void = () => undefined;
  private readonly versions = new Map<string, ServerWrite[]>();
  /** Of every commit in order: two runs of a seed that hash alike committed the same versions with the same ids in the same order. */
  private readonly commitHash = createHash('sha256');
  private readonly firstCommit = new Map<string, number>();
  /** `device\nserver id` -> the version that device's user deleted, for the tombstones its delete writes. */
  private readonly deletes = new Map<string, string>();
  /**
   * Tombstone seq -> the version its device's user deleted, bound when the tombstone is committed: the
   * same device may delete the same item again after it came back (a DAV client made it again under its
   * name), and that second delete must not rewrite what the first one knew.
   */
  private readonly tombstones = new Map<number, string>();

  /** `device\nversion` -> the clientId of the add that carried it: which add made an item whose reply was lost. */
  private readonly addsSent = new Map<string, string>();

  /** A device is sending (or the server is serving) this request: its adds name their versions' items. */
  noteAdds(request: SyncRequest): void {
    for (const c of request.collections) for (const command of c.commands ?? []) if (command.op === 'add') this.addsSent.set(`${request.device.id}\n${command.data}`, command.clientId);
  }

  /** The clientId of the add in which `deviceId` sent version `data`, if it sent it in one. */
  addOf(deviceId: string, data: string): string | undefined {
    return this.addsSent.get(`${deviceId}\n${data}`);
  }

  /** A device is sending a delete of `serverId`, for its user's delete of version `data`. */
  noteDelete(deviceId: string, serverId: string, data: string): void {
    this.deletes.set(`${deviceId}\n${serverId}`, data);
  }

  /** For a tombstone a device's delete wrote: the version that device's user deleted. */
  deletedVersion(write: ServerWrite): string | undefined {
    return write.originDevice === null ? undefined : (this.tombstones.get(write.seq) ?? this.deletes.get(`${write.originDevice}\n${write.serverId}`));
  }

  /** The hash of the server's commit log so far (hex). */
  commitDigest(): string {
    return this.commitHash.copy().digest('hex');
  }

  recordCommit(writes: readonly ServerWrite[]): void {
    this.committed += writes.length;
    this.commitHash.update(`${JSON.stringify(writes)}\n`);
    for (const write of writes) {
      const list = this.versions.get(write.serverId) ?? [];
      list.push(write);
      this.versions.set(write.serverId, list);
      if (write.data !== null && !this.firstCommit.has(write.data)) this.firstCommit.set(write.data, write.seq);
      const deleted = write.data === null && write.originDevice !== null ? this.deletes.get(`${write.originDevice}\n${write.serverId}`) : undefined;
      if (deleted !== undefined) this.tombstones.set(write.seq, deleted);
    }
    this.onCommit(writes);
  }

  /** A reply the device received. */
  recordDelivery(request: SyncRequest, response: SyncResponse): void {
    for (const answer of response.collections) {
      if (answer.status !== 'ok') continue;
      const commands = request.collections.find((c) => c.collectionId === answer.collectionId)?.commands ?? [];
      for (const result of answer.results) {
        const command = commands[result.index] as ClientCommand | undefined;
        // A delete answered notFound after its tombstone was purged was done all the same: it counts
        // as acknowledged when the server did commit it (the tombstone is in the log).
        const purgedDelete = command?.op === 'delete' && result.status === 'notFound';
        if (!command || command.op === 'fetch' || (result.status !== 'ok' && result.status !== 'conflict' && !purgedDelete)) continue;
        const serverId = result.serverId ?? (command.op === 'add' ? undefined : command.serverId);
        if (serverId === undefined) continue;
        const deviceId = request.device.id;
        if (result.status === 'conflict') {
          this.conflicted.push({ deviceId, op: command.op, serverId, data: command.op === 'delete' ? null : command.data });
          continue;
        }
        // A tombstone keeps the etag of the version it deleted: only live versions match an etag.
        // An add answered for an item deleted since carries no etag: its version is the one it wrote.
        const sameVersion = (w: ServerWrite) => w.etag === result.etag || (result.etag === undefined && command.op !== 'delete' && w.data === command.data);
        const write = this.latestCommit(serverId, (w) => (command.op === 'delete' ? w.data === null : w.data !== null && sameVersion(w)));
        if (purgedDelete && !write) continue;
        const data = command.op === 'delete' ? null : (write?.data ?? command.data);
        this.acks.push({
          deviceId,
          op: command.op,
          serverId,
          ...(command.op === 'add' ? { clientId: command.clientId } : {}),
          data,
          simId: data !== null ? simIdOf(data) : this.lastLiveSimId(serverId, write?.seq ?? Infinity),
          seq: write?.seq ?? null,
        });
      }
    }
  }

  /** Where a version of some record was first committed; versions are unique per user edit. */
  firstCommitOf(data: string): number | undefined {
    return this.firstCommit.get(data);
  }

  /** The sequence of the last version the server committed in the collection (0: none). */
  lastCommitIn(collectionId: string): number {
    let last = 0;
    for (const versions of this.versions.values()) for (const v of versions) if (v.collectionId === collectionId && v.seq > last) last = v.seq;
    return last;
  }

  /** Every item the server committed a version of, with its versions, oldest first. */
  items(): Iterable<[string, readonly ServerWrite[]]> {
    return this.versions.entries();
  }

  /** Every version of an item the server committed, oldest first. */
  versionsOf(serverId: string): readonly ServerWrite[] {
    return this.versions.get(serverId) ?? [];
  }

  private latestCommit(serverId: string, matches: (w: ServerWrite) => boolean): ServerWrite | undefined {
    return this.versions.get(serverId)?.filter(matches).at(-1);
  }

  private lastLiveSimId(serverId: string, beforeSeq: number): string | null {
    const live = this.latestCommit(serverId, (w) => w.data !== null && w.seq < beforeSeq);
    return live?.data ? simIdOf(live.data) : null;
  }
}
