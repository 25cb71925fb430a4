import type { ClientCommand } from '../protocol/sync.js';

/**
 * The client's durable local state: one row per item it holds, and the sync key of each collection.
 * A backend (SQLite under Node in ./node/sqlite-replica.ts; IndexedDB or memory elsewhere) implements
 * `Replica`; the sync loop only ever changes it inside `transaction`, so a response is applied and its
 * new sync key stored all together, or not at all.
 */

/** What the local side still has to tell the server about an item. */
export type Pending = 'add' | 'change' | 'delete' | null;

export interface LocalItem {
  /** The application's name for the item (a file name, a row id). Sent as the Add's clientId. */
  localId: string;
  /** Null until the server has acknowledged the item. */
  serverId: string | null;
  /** Current content; null for a pending delete, or a server delete the application has not reaped yet. */
  data: string | null;
  /** The server etag of the version last known to be in sync. */
  etag: string | null;
  pending: Pending;
  /** Why the server refused the last upload of this version; cleared by the next local edit. */
  rejected: string | null;
  /** Set during a re-initialization on items the server has not confirmed yet. */
  stale: boolean;
  /** Opaque to the SDK, for the application (the CLI keeps the etag of the file on disk here). */
  appState: string | null;
}

export interface ReplicaTx {
  syncKey(collectionId: string): number;
  setSyncKey(collectionId: string, syncKey: number): void;
  get(collectionId: string, localId: string): LocalItem | undefined;
  byServerId(collectionId: string, serverId: string): LocalItem | undefined;
  put(collectionId: string, item: LocalItem): void;
  /** Puts an item under a local id no row has yet; false (and nothing written) when one has it. */
  putNew(collectionId: string, item: LocalItem): boolean;
  remove(collectionId: string, localId: string): void;
  /** Items with something to send and not refused in their current version, oldest edit first, at most `limit`. */
  pending(collectionId: string, limit: number): LocalItem[];
  all(collectionId: string): LocalItem[];
  /** Marks every clean, present item stale (the start of a re-initialization). */
  markStale(collectionId: string): void;
  /** Turns items still stale into server deletes for the application to reap. */
  dropStale(collectionId: string): void;
  /**
   * The commands of an exchange sent but not yet answered, kept so that a retry, even after a restart,
   * sends exactly them again; null when none is outstanding.
   */
  inflight(collectionId: string): ClientCommand[] | null;
  setInflight(collectionId: string, commands: ClientCommand[] | null): void;

  // Push bookkeeping (docs/design.md § The echo). Sequence numbers are the server's account change sequence.
  /** The sequence the last applied sync answer brought the collection to (0: none yet). */
  horizon(collectionId: string): number;
  setHorizon(collectionId: string, seq: number): void;
  /**
   * The sequence of the item version this replica is known to hold, when a push notice or the result
   * of its own upload says so and it is ahead of the horizon; older notices of the item are old news.
   */
  knownSeq(collectionId: string, serverId: string): number | undefined;
  setKnownSeq(collectionId: string, serverId: string, seq: number): void;
  /** Forgets known sequences at or before `seq` (the horizon has passed them). */
  forgetKnownSeqs(collectionId: string, seq: number): void;
  /** Tokens of applied notices, ascending: each goes out in the next sync request's echo. */
  heldTokens(collectionId: string): number[];
  holdToken(collectionId: string, token: number, seq: number): void;
  /** Forgets these echoed tokens if their change is at or before `seq`: the server has taken them into account. */
  releaseTokens(collectionId: string, tokens: readonly number[], seq: number): void;
}

export interface Replica {
  transaction<T>(fn: (tx: ReplicaTx) => T): T;
  close(): void;
}

export function newLocalItem(localId: string, fields: Partial<LocalItem> = {}): LocalItem {
  return { localId, serverId: null, data: null, etag: null, pending: null, rejected: null, stale: false, appState: null, ...fields };
}

/** Record a local create or edit. */
export function recordLocalPut(tx: ReplicaTx, collectionId: string, localId: string, data: string): void {
  const item = tx.get(collectionId, localId) ?? newLocalItem(localId);
  if (item.data === data && item.pending !== 'delete') return;
  tx.put(collectionId, { ...item, data, rejected: null, stale: false, pending: item.serverId === null ? 'add' : 'change' });
}

/**
 * Record a local delete. An item the server never saw is simply dropped; one whose Add is in flight is
 * kept as a pending delete, which goes out once the Add's answer brings its server id.
 */
export function recordLocalDelete(tx: ReplicaTx, collectionId: string, localId: string): void {
  const item = tx.get(collectionId, localId);
  if (!item) return;
  const addInFlight = tx.inflight(collectionId)?.some((c) => c.op === 'add' && c.clientId === localId) ?? false;
  if (item.serverId === null && !addInFlight) tx.remove(collectionId, localId);
  else tx.put(collectionId, { ...item, data: null, pending: 'delete' });
}

/** Drop the rows of server deletes once the application has removed them from its own view. */
export function reapDeleted(tx: ReplicaTx, collectionId: string): LocalItem[] {
  const gone = tx.all(collectionId).filter((i) => i.data === null && i.pending === null);
  for (const item of gone) tx.remove(collectionId, item.localId);
  return gone;
}

/**
 * Applies the server's answer to moving a message (docs/protocol.md §10.5): the item leaves its folder at
 * once. It arrives in the destination with that folder's next sync (or push notice), as the server's add,
 * never added here: a message deleted there before that sync would otherwise stay, since the server sends
 * a device no add and delete both made after what it last synced (sim --mail seed 286).
 */
export function recordMoved(tx: ReplicaTx, fromCollectionId: string, localId: string): void {
  tx.remove(fromCollectionId, localId);
}
