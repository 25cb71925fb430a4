import type { ClientCommand, CollectionResponse } from './sync.js';

/**
 * What passes between the hub and a server-driven sync point (docs/design.md § Server-driven sync
 * points): an upstream server's collection, or any other source the hub reaches out to instead of
 * waiting for it to call. The point speaks the sync message's own commands; the hub remembers for it
 * which of its remote objects holds which item (the association of device objects with the
 * objects on another server, docs/design.md § Proxying another server), so a point keeps no state of its own.
 */

/** One item as a point's source holds it. */
export interface PointRecord {
  /** The item's id in the hub; or, for a displaced member, `displacedId(remoteId)`. */
  serverId: string;
  /** Its id at the source (an upstream href): unique within the point. */
  remoteId: string;
  /** The source's version tag of its copy (an upstream ETag); null when unknown, and then read again at the next report. */
  remoteEtag: string | null;
  /** The hub's etag of the version the source's copy holds: an edit there was made from it. */
  heldEtag: string;
}

/**
 * A displaced member: one that held an item until another member of the source was matched to the same
 * item (two members with one UID, e.g. an item deleted in the hub and added again by a device while the
 * source edited its old copy). The hub keeps its record under this id, which no item has (item ids are
 * base64url), and hands the point a delete of it at every run until the member is gone; what it held
 * reached the hub before it was displaced (docs/design.md § Server-driven sync points).
 */
export const displacedId = (remoteId: string): string => `~${remoteId}`;
export const isDisplaced = (record: PointRecord): boolean => record.serverId.startsWith('~');

/** The point's memory, as the hub keeps it, for one report or apply. */
export interface PointMemory {
  /** The records of these remote ids (in any of the point's collections, so a source collection that feeds two of them is told apart). */
  byRemote(remoteIds: readonly string[]): Promise<Array<PointRecord & { collectionId: string }>>;
  /** The records of these items, in this point's collection. */
  byServer(serverIds: readonly string[]): Promise<PointRecord[]>;
  /** Records whose remote version is unknown (a write the source refused as a conflict): read again, at most `max`. */
  stale(max: number): Promise<PointRecord[]>;
  /** Every record of this point's collection, at most `max` (a source that can only list its members whole compares them). */
  all(max: number): Promise<PointRecord[]>;
  /** Stores these records at once, in a transaction of their own: what a write the point is about to make will name, which a crash before the apply's records are stored would otherwise lose. */
  remember(records: readonly PointRecord[]): Promise<void>;
}

/** What a point says changed at its source since its cursor. */
export interface PointReport {
  /** As a device's sync request would: add (with the remote id as client id), change and delete, changes and deletes with the etag they were made from. */
  commands: ClientCommand[];
  /** Per command, the remote copy it was read from (add and change): remembered beside the item it lands on. */
  remotes: Array<{ remoteId: string; remoteEtag: string | null } | null>;
  /** Remote copies that hold what the hub already knows (an echo of the point's own write): remembered, no command. */
  known: PointRecord[];
  /** Remote objects the point could not read as an item of its collection, with why: reported on the point's device, and not asked again until they change. */
  problems: Array<{ remoteId: string; message: string }>;
  /** The source's position once this report is applied (a sync token), stored in the transaction that applies it; absent, the cursor stays. */
  cursor?: string;
  /** More changed than one report carries: the hub asks again. */
  more: boolean;
}

/** What a point did with the hub's actions. */
export interface PointApplied {
  /** Every action reached the source (or was found there already): the hub may drop them. */
  acknowledged: boolean;
  /** Records to remember (written items) and to forget (deleted ones), kept even when not acknowledged. */
  records: PointRecord[];
  forgotten: string[];
  /** Items the source refused for good (their remote ids are unchanged), with why: reported on the point's device. */
  refused: Array<{ serverId: string; message: string }>;
  /** What stopped it before it was through (the source went away, or asked to be left alone for a while). */
  failure?: unknown;
}

/**
 * Whether the hub asked the point to read a member again (docs/design.md § Server-driven sync points): a
 * change of an item it no longer has was answered `notFound`, its remote copy forgotten, and the cursor
 * not stored, so that the next report names the member again, as an add. A point that keeps what its last
 * listing had no room for must then drop it, and list again from the stored cursor: its leftovers would
 * end at the listing's cursor, past the member (sim seed 11100526 with --upstreams 1 and small reports).
 */
export const readAgainAsked = (outcome: CollectionResponse): boolean => outcome.results.some((r) => r.op === 'change' && r.status === 'notFound');

export interface ServerSyncPoint {
  /** The device id it is known by (its priority and conflict records use it). The device exists before the point runs; a point whose device is gone does not run. */
  id: string;
  name: string;
  /** What kind of point it is, e.g. "dav-upstream". */
  protocol: string;
  collectionId: string;
  /** Stage 1: what changed at the source since `cursor` (null: never synced, or it restarts). Throwing means "offline". */
  report(memory: PointMemory, cursor: string | null): Promise<PointReport>;
  /** Stage 3: apply the outcome of its report and the truth's actions. */
  apply(outcome: CollectionResponse, memory: PointMemory): Promise<PointApplied>;
}
