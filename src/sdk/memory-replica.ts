import type { ClientCommand } from '../protocol/sync.js';
import type { LocalItem, Replica, ReplicaTx } from './replica.js';

/**
 * A Replica held in memory: for simulators and tests that want many devices without a file each, and
 * for clients that keep nothing across restarts. It behaves as the SQLite replica does (same orders,
 * same "edited" bookkeeping for the pending queue), and its transactions are real: the first write to
 * a collection inside a transaction saves that collection's state, and a body that throws gets every
 * saved state back, so it leaves no trace.
 */
export function openMemoryReplica(): Replica {
  let collections = new Map<string, CollectionState>();
  // Orders pending edits, as the SQLite replica's `edited` column does.
  let editCounter = 0;
  let active: { saved: Map<string, CollectionState>; touched: Set<string> } | null = null;
  let closed = false;

  /** The collection's state, made safe to change: copied (rows are immutable) on its first write. */
  const writable = (collectionId: string): CollectionState => {
    const tx = active as NonNullable<typeof active>;
    const current = collections.get(collectionId);
    if (tx.touched.has(collectionId) && current) return current;
    tx.touched.add(collectionId);
    // Map order stands in for the rowid order SQLite returns ties in; a copy keeps it.
    const state: CollectionState = {
      syncKey: current?.syncKey ?? 0,
      rows: new Map(current?.rows),
      inflight: current?.inflight ?? null,
      horizon: current?.horizon ?? 0,
      known: new Map(current?.known),
      tokens: new Map(current?.tokens),
    };
    collections.set(collectionId, state);
    return state;
  };

  const rowsOf = (collectionId: string): Row[] => [...(collections.get(collectionId)?.rows.values() ?? [])];

  const tx: ReplicaTx = {
    syncKey: (c) => collections.get(c)?.syncKey ?? 0,
    setSyncKey: (c, syncKey) => {
      writable(c).syncKey = syncKey;
    },
    get: (c, localId) => copy(collections.get(c)?.rows.get(localId)),
    byServerId: (c, serverId) => copy(rowsOf(c).find((r) => r.item.serverId === serverId)),
    put: (c, item) => {
      const rows = writable(c).rows;
      const before = rows.get(item.localId);
      const edited = ++editCounter;
      // As in SQLite: only a change of what is pending, or of the data, moves an item in the queue.
      const moved = !before || before.item.pending !== item.pending || before.item.data !== item.data;
      rows.set(item.localId, { item: { ...item }, edited: moved ? edited : before.edited });
    },
    remove: (c, localId) => {
      if (collections.get(c)?.rows.has(localId)) writable(c).rows.delete(localId);
    },
    pending: (c, limit) =>
      rowsOf(c)
        .filter((r) => r.item.pending !== null && r.item.rejected === null)
        .sort((a, b) => a.edited - b.edited)
        .slice(0, limit)
        .map((r) => ({ ...r.item })),
    all: (c) =>
      rowsOf(c)
        .sort((a, b) => (a.item.localId < b.item.localId ? -1 : a.item.localId > b.item.localId ? 1 : 0))
        .map((r) => ({ ...r.item })),
    markStale: (c) => {
      const stale = rowsOf(c).filter((r) => r.item.pending === null && r.item.data !== null);
      for (const row of stale) writable(c).rows.set(row.item.localId, { ...row, item: { ...row.item, stale: true } });
    },
    inflight: (c) => {
      const commands = collections.get(c)?.inflight;
      return commands ? structuredClone(commands) : null;
    },
    setInflight: (c, commands) => {
      writable(c).inflight = commands ? structuredClone(commands) : null;
    },
    dropStale: (c) => {
      const gone = rowsOf(c).filter((r) => r.item.stale && r.item.pending === null);
      for (const row of gone) writable(c).rows.set(row.item.localId, { ...row, item: { ...row.item, stale: false, data: null, etag: null } });
    },
    horizon: (c) => collections.get(c)?.horizon ?? 0,
    setHorizon: (c, seq) => {
      writable(c).horizon = seq;
    },
    knownSeq: (c, serverId) => collections.get(c)?.known.get(serverId),
    setKnownSeq: (c, serverId, seq) => {
      writable(c).known.set(serverId, seq);
    },
    forgetKnownSeqs: (c, seq) => {
      const known = writable(c).known;
      for (const [serverId, s] of known) if (s <= seq) known.delete(serverId);
    },
    heldTokens: (c) => [...(collections.get(c)?.tokens.keys() ?? [])].sort((a, b) => a - b),
    holdToken: (c, token, seq) => {
      writable(c).tokens.set(token, seq);
    },
    releaseTokens: (c, tokens, seq) => {
      const held = writable(c).tokens;
      for (const token of tokens) if ((held.get(token) ?? Infinity) <= seq) held.delete(token);
    },
  };

  return {
    transaction<T>(fn: (t: ReplicaTx) => T): T {
      if (closed) throw new Error('replica is closed');
      if (active) throw new Error('replica transactions do not nest');
      active = { saved: new Map(collections), touched: new Set() };
      const counterBefore = editCounter;
      try {
        const result = fn(tx);
        // Work done after an await would escape the transaction (better-sqlite3 refuses this too).
        if (result instanceof Promise) throw new TypeError('a replica transaction body must not return a promise');
        return result;
      } catch (err) {
        collections = active.saved;
        editCounter = counterBefore;
        throw err;
      } finally {
        active = null;
      }
    },
    close() {
      closed = true;
    },
  };
}

interface Row {
  item: LocalItem;
  /** Position in the pending queue: the edit counter when the item last changed what it has to send. */
  edited: number;
}

interface CollectionState {
  syncKey: number;
  rows: Map<string, Row>;
  inflight: ClientCommand[] | null;
  horizon: number;
  /** serverId -> sequence of the version known to be held, ahead of the horizon. */
  known: Map<string, number>;
  /** Held push tokens: token -> sequence of the change its notice carried. */
  tokens: Map<number, number>;
}

function copy(row: Row | undefined): LocalItem | undefined {
  return row && { ...row.item };
}
