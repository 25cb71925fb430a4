import type { ClientCommand } from '../protocol/sync.js';
import type { LocalItem, Replica, ReplicaTx } from './replica.js';

/**
 * A Replica held in memory: for simulators and tests that want many devices without a file each, and
 * for clients that keep nothing across restarts. It behaves as the SQLite replica does (same orders,
 * same "edited" bookkeeping for the pending queue), and its transactions are real: every change inside
 * one is journalled with what it replaced, and a body that throws gets it all undone, newest first, so
 * it leaves no trace. Its cost is that of the changes made, never of what the replica holds: an item is
 * found by its server id through an index, and a transaction copies nothing.
 */
export function openMemoryReplica(): Replica {
  const collections = new Map<string, CollectionState>();
  // Orders pending edits, as the SQLite replica's `edited` column does.
  let editCounter = 0;
  /** The open transaction's undo journal. */
  let undo: Array<() => void> | null = null;
  let closed = false;

  const journal = (step: () => void) => (undo as Array<() => void>).push(step);

  /** The collection's state for a change, made (and its making journalled) when it has none. */
  const state = (collectionId: string): CollectionState => {
    let s = collections.get(collectionId);
    if (!s) {
      s = { syncKey: 0, rows: new Map(), byServer: new Map(), inflight: null, horizon: 0, known: new Map(), tokens: new Map() };
      collections.set(collectionId, s);
      journal(() => collections.delete(collectionId));
    }
    return s;
  };
  const setField = <K extends 'syncKey' | 'inflight' | 'horizon'>(s: CollectionState, key: K, value: CollectionState[K]) => {
    const before = s[key];
    journal(() => (s[key] = before));
    s[key] = value;
  };
  const mapSet = <K, V>(map: Map<K, V>, key: K, value: V) => {
    const had = map.has(key);
    const before = map.get(key) as V;
    journal(() => (had ? map.set(key, before) : map.delete(key)));
    map.set(key, value);
  };
  const mapDelete = <K, V>(map: Map<K, V>, key: K) => {
    if (!map.has(key)) return;
    const before = map.get(key) as V;
    journal(() => map.set(key, before));
    map.delete(key);
  };

  /** Sets or removes a row, keeping the server-id index in step. */
  const setRow = (s: CollectionState, localId: string, row: Row | undefined) => {
    const before = s.rows.get(localId)?.item.serverId ?? null;
    const after = row?.item.serverId ?? null;
    if (before !== after) {
      if (before !== null) indexDelete(s, before, localId);
      if (after !== null) indexAdd(s, after, localId);
    }
    if (row) mapSet(s.rows, localId, row);
    else mapDelete(s.rows, localId);
  };
  // Several rows may name one server id for a moment (as the SQLite replica's index allows): the first one put is found.
  const indexAdd = (s: CollectionState, serverId: string, localId: string) => {
    const ids = s.byServer.get(serverId);
    if (ids) {
      ids.add(localId);
      journal(() => ids.delete(localId));
    } else mapSet(s.byServer, serverId, new Set([localId]));
  };
  const indexDelete = (s: CollectionState, serverId: string, localId: string) => {
    const ids = s.byServer.get(serverId) as Set<string>;
    if (ids.size === 1) return mapDelete(s.byServer, serverId);
    const order = [...ids];
    ids.delete(localId);
    journal(() => {
      ids.clear();
      for (const id of order) ids.add(id);
    });
  };

  const rowsOf = (collectionId: string): Row[] => [...(collections.get(collectionId)?.rows.values() ?? [])];

  const tx: ReplicaTx = {
    syncKey: (c) => collections.get(c)?.syncKey ?? 0,
    setSyncKey: (c, syncKey) => setField(state(c), 'syncKey', syncKey),
    get: (c, localId) => copy(collections.get(c)?.rows.get(localId)),
    byServerId: (c, serverId) => {
      const s = collections.get(c);
      const [first] = s?.byServer.get(serverId) ?? [];
      return first === undefined ? undefined : copy(s?.rows.get(first));
    },
    put: (c, item) => {
      const s = state(c);
      const before = s.rows.get(item.localId);
      const edited = ++editCounter;
      // As in SQLite: only a change of what is pending, or of the data, moves an item in the queue.
      const moved = !before || before.item.pending !== item.pending || before.item.data !== item.data;
      setRow(s, item.localId, { item: { ...item }, edited: moved ? edited : before.edited });
    },
    putNew: (c, item) => {
      if (collections.get(c)?.rows.has(item.localId)) return false;
      tx.put(c, item);
      return true;
    },
    remove: (c, localId) => {
      const s = collections.get(c);
      if (s?.rows.has(localId)) setRow(s, localId, undefined);
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
      const s = collections.get(c);
      if (!s) return;
      for (const row of rowsOf(c)) if (row.item.pending === null && row.item.data !== null) setRow(s, row.item.localId, { ...row, item: { ...row.item, stale: true } });
    },
    inflight: (c) => {
      const commands = collections.get(c)?.inflight;
      return commands ? structuredClone(commands) : null;
    },
    setInflight: (c, commands) => setField(state(c), 'inflight', commands ? structuredClone(commands) : null),
    dropStale: (c) => {
      const s = collections.get(c);
      if (!s) return;
      for (const row of rowsOf(c)) if (row.item.stale && row.item.pending === null) setRow(s, row.item.localId, { ...row, item: { ...row.item, stale: false, data: null, etag: null } });
    },
    horizon: (c) => collections.get(c)?.horizon ?? 0,
    setHorizon: (c, seq) => setField(state(c), 'horizon', seq),
    knownSeq: (c, serverId) => collections.get(c)?.known.get(serverId),
    setKnownSeq: (c, serverId, seq) => mapSet(state(c).known, serverId, seq),
    forgetKnownSeqs: (c, seq) => {
      const known = collections.get(c)?.known;
      if (!known) return;
      for (const [serverId, s] of [...known]) if (s <= seq) mapDelete(known, serverId);
    },
    heldTokens: (c) => [...(collections.get(c)?.tokens.keys() ?? [])].sort((a, b) => a - b),
    holdToken: (c, token, seq) => mapSet(state(c).tokens, token, seq),
    releaseTokens: (c, tokens, seq) => {
      const held = collections.get(c)?.tokens;
      if (!held) return;
      for (const token of tokens) if ((held.get(token) ?? Infinity) <= seq) mapDelete(held, token);
    },
  };

  return {
    transaction<T>(fn: (t: ReplicaTx) => T): T {
      if (closed) throw new Error('replica is closed');
      if (undo) throw new Error('replica transactions do not nest');
      const steps: Array<() => void> = (undo = []);
      const counterBefore = editCounter;
      try {
        const result = fn(tx);
        // Work done after an await would escape the transaction (better-sqlite3 refuses this too).
        if (result instanceof Promise) throw new TypeError('a replica transaction body must not return a promise');
        return result;
      } catch (err) {
        for (let i = steps.length - 1; i >= 0; i--) (steps[i] as () => void)();
        editCounter = counterBefore;
        throw err;
      } finally {
        undo = null;
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
  /** serverId -> the local ids of the rows that name it, in the order they were put. */
  byServer: Map<string, Set<string>>;
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
