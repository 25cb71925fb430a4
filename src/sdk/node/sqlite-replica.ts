import { openDatabase } from '../../sqlite/open.js';
import type { ClientCommand } from '../../protocol/sync.js';
import type { LocalItem, Pending, Replica, ReplicaTx } from '../replica.js';

/** A Replica in a SQLite file, for Node clients (the CLI keeps one per synced folder). */
export function openSqliteReplica(path: string): Replica {
  const { db, prepare } = openDatabase(path);
  db.exec(`
    CREATE TABLE IF NOT EXISTS collections (collection_id TEXT PRIMARY KEY, sync_key INTEGER NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS items (
      collection_id TEXT NOT NULL,
      local_id TEXT NOT NULL,
      server_id TEXT,
      data TEXT,
      etag TEXT,
      pending TEXT,
      rejected TEXT,
      stale INTEGER NOT NULL,
      app_state TEXT,
      edited INTEGER NOT NULL,
      PRIMARY KEY (collection_id, local_id)
    ) STRICT;
    CREATE TABLE IF NOT EXISTS inflight (collection_id TEXT PRIMARY KEY, commands TEXT NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS horizons (collection_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS known_versions (collection_id TEXT NOT NULL, server_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (collection_id, server_id)) STRICT;
    CREATE TABLE IF NOT EXISTS push_tokens (collection_id TEXT NOT NULL, token INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (collection_id, token)) STRICT;
    CREATE INDEX IF NOT EXISTS items_server ON items(collection_id, server_id);
    CREATE INDEX IF NOT EXISTS items_stale ON items(collection_id) WHERE stale = 1;
    CREATE INDEX IF NOT EXISTS items_pending ON items(collection_id, edited) WHERE pending IS NOT NULL AND rejected IS NULL;
  `);
  const getKey = prepare<[string], { sync_key: number }>('SELECT sync_key FROM collections WHERE collection_id = ?');
  const setKey = prepare('INSERT OR REPLACE INTO collections (collection_id, sync_key) VALUES (?, ?)');
  const get = prepare<[string, string], Row>('SELECT * FROM items WHERE collection_id = ? AND local_id = ?');
  const byServer = prepare<[string, string], Row>('SELECT * FROM items WHERE collection_id = ? AND server_id = ?');
  // Positional parameters: binding names from an object costs more than the insert itself on an initial sync.
  const put = prepare<[string, string, string | null, string | null, string | null, string | null, string | null, number, string | null, number]>(`INSERT INTO items (collection_id, local_id, server_id, data, etag, pending, rejected, stale, app_state, edited)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (collection_id, local_id) DO UPDATE SET server_id = excluded.server_id, data = excluded.data, etag = excluded.etag,
      pending = excluded.pending, rejected = excluded.rejected, stale = excluded.stale, app_state = excluded.app_state,
      edited = CASE WHEN excluded.pending IS NOT items.pending OR excluded.data IS NOT items.data THEN excluded.edited ELSE items.edited END`);
  const putNew = prepare<[string, string, string | null, string | null, string | null, string | null, string | null, number, string | null, number]>(
    `INSERT INTO items (collection_id, local_id, server_id, data, etag, pending, rejected, stale, app_state, edited)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection_id, local_id) DO NOTHING`,
  );
  const getInflight = prepare<[string], { commands: string }>('SELECT commands FROM inflight WHERE collection_id = ?');
  const putInflight = prepare('INSERT OR REPLACE INTO inflight (collection_id, commands) VALUES (?, ?)');
  const clearInflight = prepare('DELETE FROM inflight WHERE collection_id = ?');
  const remove = prepare('DELETE FROM items WHERE collection_id = ? AND local_id = ?');
  const pending = prepare<[string, number], Row>('SELECT * FROM items WHERE collection_id = ? AND pending IS NOT NULL AND rejected IS NULL ORDER BY edited LIMIT ?');
  const markStale = prepare('UPDATE items SET stale = 1 WHERE collection_id = ? AND pending IS NULL AND data IS NOT NULL');
  const dropStale = prepare('UPDATE items SET stale = 0, data = NULL, etag = NULL WHERE collection_id = ? AND stale = 1 AND pending IS NULL');
  const all = prepare<[string], Row>('SELECT * FROM items WHERE collection_id = ? ORDER BY local_id');
  const getHorizon = prepare<[string], { seq: number }>('SELECT seq FROM horizons WHERE collection_id = ?');
  const setHorizon = prepare('INSERT OR REPLACE INTO horizons (collection_id, seq) VALUES (?, ?)');
  const knownSeq = prepare<[string, string], { seq: number }>('SELECT seq FROM known_versions WHERE collection_id = ? AND server_id = ?');
  const setKnownSeq = prepare('INSERT OR REPLACE INTO known_versions (collection_id, server_id, seq) VALUES (?, ?, ?)');
  const forgetKnown = prepare('DELETE FROM known_versions WHERE collection_id = ? AND seq <= ?');
  const tokens = prepare<[string], { token: number }>('SELECT token FROM push_tokens WHERE collection_id = ? ORDER BY token');
  const holdToken = prepare('INSERT OR REPLACE INTO push_tokens (collection_id, token, seq) VALUES (?, ?, ?)');
  const releaseToken = prepare('DELETE FROM push_tokens WHERE collection_id = ? AND token = ? AND seq <= ?');
  // Orders pending edits without a clock: a counter that survives restarts.
  let editCounter = prepare<[], { m: number }>('SELECT coalesce(max(edited), 0) AS m FROM items').get()?.m ?? 0;

  const tx: ReplicaTx = {
    syncKey: (c) => getKey.get(c)?.sync_key ?? 0,
    setSyncKey: (c, key) => void setKey.run(c, key),
    get: (c, id) => toItem(get.get(c, id)),
    byServerId: (c, id) => toItem(byServer.get(c, id)),
    put: (c, item) =>
      void put.run(c, item.localId, item.serverId, item.data, item.etag, item.pending, item.rejected, item.stale ? 1 : 0, item.appState, ++editCounter),
    putNew: (c, item) => {
      if (putNew.run(c, item.localId, item.serverId, item.data, item.etag, item.pending, item.rejected, item.stale ? 1 : 0, item.appState, editCounter + 1).changes === 0) return false;
      editCounter++;
      return true;
    },
    remove: (c, id) => void remove.run(c, id),
    pending: (c, limit) => pending.all(c, limit).map((r) => toItem(r) as LocalItem),
    all: (c) => all.all(c).map((r) => toItem(r) as LocalItem),
    inflight: (c) => {
      const row = getInflight.get(c);
      return row ? (JSON.parse(row.commands) as ClientCommand[]) : null;
    },
    setInflight: (c, commands) => void (commands ? putInflight.run(c, JSON.stringify(commands)) : clearInflight.run(c)),
    markStale: (c) => void markStale.run(c),
    dropStale: (c) => void dropStale.run(c),
    horizon: (c) => getHorizon.get(c)?.seq ?? 0,
    setHorizon: (c, seq) => void setHorizon.run(c, seq),
    knownSeq: (c, id) => knownSeq.get(c, id)?.seq,
    setKnownSeq: (c, id, seq) => void setKnownSeq.run(c, id, seq),
    forgetKnownSeqs: (c, seq) => void forgetKnown.run(c, seq),
    heldTokens: (c) => tokens.all(c).map((r) => r.token),
    holdToken: (c, token, seq) => void holdToken.run(c, token, seq),
    releaseTokens: (c, list, seq) => {
      for (const token of list) releaseToken.run(c, token, seq);
    },
  };
  return {
    transaction: <T>(fn: (t: ReplicaTx) => T): T => db.transaction(() => fn(tx)).immediate(),
    close: () => db.close(),
  };
}

interface Row {
  local_id: string;
  server_id: string | null;
  data: string | null;
  etag: string | null;
  pending: string | null;
  rejected: string | null;
  stale: number;
  app_state: string | null;
}

function toItem(r: Row | undefined): LocalItem | undefined {
  return (
    r && {
      localId: r.local_id,
      serverId: r.server_id,
      data: r.data,
      etag: r.etag,
      pending: r.pending as Pending,
      rejected: r.rejected,
      stale: r.stale === 1,
      appState: r.app_state,
    }
  );
}
