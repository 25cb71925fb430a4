import type { CollectionKind } from '../../protocol/collections.js';
import type {
  AccountRow,
  ConflictRow,
  AppTokenRow,
  ChangeQuery,
  ChangeRow,
  CollectionRow,
  DeviceErrorRow,
  DeviceRow,
  CommitObserver,
  ItemRow,
  MemberQuery,
  MemberRow,
  PushTicketRow,
  PushTokenRow,
  AuthFailureRow,
  Store,
  StoreOptions,
  StoreTx,
  SyncStateRow,
  TransactionTimer,
} from '../store.js';
import { noStoreOptions } from '../store.js';
import { openDatabase, type OpenDatabase } from '../../sqlite/open.js';
import { migrations } from './schema.js';
import { spanOf, withinRanges } from '../token-ranges.js';
import { pointRecordTx } from './point-records-tx.js';
import { upstreamTx } from './upstreams-tx.js';
import { mailPartTx } from './mail-parts-tx.js';
import { mailSendTx } from './mail-sends-tx.js';
import { blobHash, checkBlobSize, versionBody } from '../blobs.js';

/**
 * The embedded SQLite backend. WAL with synchronous=FULL: a transaction is on disk when COMMIT returns,
 * so the hub can acknowledge it. better-sqlite3 is synchronous, so transactions are serialized here
 * with a promise chain; each one runs BEGIN IMMEDIATE ... COMMIT around the caller's async body, and
 * because every method below completes synchronously no other transaction can interleave.
 */
export interface SqliteStore extends Store {
  /**
   * A number that changes whenever another process (the CLI, a database shell) commits to the file;
   * this process's own commits leave it alone. Cheap enough to read every second.
   */
  foreignWrites(): number;
}

export function openSqliteStore(path: string, timer?: TransactionTimer, options: StoreOptions = noStoreOptions): SqliteStore {
  const opened = openDatabase(path);
  const { db } = opened;
  migrate(opened);
  const written: ItemRow[] = [];
  const tx = sqliteTx(opened, written, options);
  const observers: CommitObserver[] = [];
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  const turnAfterMs = options.turnAfterMs;
  /**
   * When the transactions run since the event loop's last turn began (StoreOptions.turnAfterMs); undefined
   * once it has had a turn (`turned`, queued when the slice began, runs then).
   */
  let sliceBegan: number | undefined;
  const turned = () => {
    sliceBegan = undefined;
  };
  // One process per data directory (src/server/data-dir-lock.ts), so exclusive within it is exclusive.
  const running = new Set<string>();
  const dataVersion = opened.prepare<[], { data_version: number }>('PRAGMA data_version');

  return {
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      const run = async (): Promise<T> => {
        if (turnAfterMs !== undefined) {
          if (sliceBegan !== undefined && performance.now() - sliceBegan > turnAfterMs) await new Promise((resolve) => setImmediate(resolve));
          if (sliceBegan === undefined) {
            sliceBegan = performance.now();
            setImmediate(turned);
          }
        }
        if (closed) throw new Error('store is closed');
        written.length = 0;
        const began = performance.now();
        db.exec('BEGIN IMMEDIATE');
        let result: T;
        let prepared: unknown[];
        try {
          result = await fn(tx);
          const changes = written.splice(0);
          prepared = changes.length === 0 ? [] : await Promise.all(observers.map((o) => o.beforeCommit(tx, changes)));
          db.exec('COMMIT');
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          timer?.((performance.now() - began) / 1000, false);
          throw err;
        }
        timer?.((performance.now() - began) / 1000, true);
        // Committed: what observers do now cannot undo it.
        prepared.forEach((p, i) => observers[i]?.afterCommit(p));
        return result;
      };
      const next = tail.then(run, run);
      tail = next.catch(() => undefined);
      return next;
    },
    observeCommits(observer) {
      observers.push(observer);
    },
    async tryExclusive(name, fn) {
      if (running.has(name)) return false;
      running.add(name);
      try {
        await fn();
        return true;
      } finally {
        running.delete(name);
      }
    },
    foreignWrites() {
      // SQLite's data_version changes only for commits made through other connections.
      return closed ? 0 : (dataVersion.get()?.data_version ?? 0);
    },
    async close() {
      await tail;
      closed = true;
      db.close();
    },
  };
}

/**
 * Runs the migrations not yet run, each in its own transaction, with foreign keys off: a migration that
 * rebuilds a table (the only way SQLite drops a constraint) must not cascade its drop into the rows that
 * name it. Each is checked for broken references before it commits.
 */
function migrate({ db, prepare }: OpenDatabase): void {
  const done = prepare<[], { user_version: number }>('PRAGMA user_version').get()?.user_version ?? 0;
  if (done >= migrations.length) return;
  const brokenReferences = prepare<[], { table: string; parent: string }>('PRAGMA foreign_key_check');
  db.exec('PRAGMA foreign_keys = OFF;');
  try {
    for (let i = done; i < migrations.length; i++) {
      db.exec(`BEGIN IMMEDIATE; ${migrations[i] as string}; PRAGMA user_version = ${i + 1};`);
      const broken = brokenReferences.get();
      if (broken) {
        db.exec('ROLLBACK;');
        throw new Error(`migration ${i + 1} would leave a row of ${broken.table} naming a missing ${broken.parent} row`);
      }
      db.exec('COMMIT;');
    }
  } finally {
    db.exec('PRAGMA foreign_keys = ON;');
  }
}

interface PushDbRow {
  token: number;
  collection_id: string;
  item_id: string;
  seq: number;
}

interface ItemDbRow {
  id: string;
  account_id: string;
  collection_id: string;
  uid: string | null;
  data: string | null;
  etag: string;
  seq: number;
  created_seq: number;
  created_by: string | null;
  origin_device: string | null;
  deleted_at: number | null;
  title: string;
  start_ms: number | null;
  end_ms: number | null;
  match_name: string | null;
  contact_keys: string;
}

const toItem = (r: ItemDbRow): ItemRow => ({
  id: r.id,
  accountId: r.account_id,
  collectionId: r.collection_id,
  uid: r.uid,
  data: r.data,
  etag: r.etag,
  seq: r.seq,
  createdSeq: r.created_seq,
  createdBy: r.created_by,
  originDevice: r.origin_device,
  deletedAt: r.deleted_at,
  title: r.title,
  startMs: r.start_ms,
  endMs: r.end_ms,
  matchName: r.match_name,
  contactKeys: JSON.parse(r.contact_keys) as string[],
});

// The rules of core/sync-key.ts Checkpoint, as one indexed range scan on (collection_id, seq).
const changesSql = `      SELECT * FROM items
      WHERE collection_id = @collectionId AND account_id = @accountId AND seq > @seq AND (@untilSeq IS NULL OR seq <= @untilSeq)
        AND (deleted_at IS NULL OR seq > @baseSeq)
        AND NOT (origin_device IS @deviceId AND seq > @baseSeq)
        AND (@rangeStart IS NULL OR deleted_at IS NOT NULL OR
             ((start_ms IS NULL OR start_ms < @rangeEnd) AND (end_ms IS NULL OR end_ms > @rangeStart OR start_ms >= @rangeStart)))`;

// The time-range rule of changesSql for live members: a timeless item matches any range.
const rangeSql = `(@rangeStart IS NULL OR ((start_ms IS NULL OR start_ms < @rangeEnd) AND (end_ms IS NULL OR end_ms > @rangeStart OR start_ms >= @rangeStart)))`;

// A DAV member: its name looked up in the same statement (dav_names' unique item_id index), its data
// only when asked for (@withData), so a listing of etags reads no item text.
const memberColumns = `id, (SELECT name FROM dav_names WHERE dav_names.item_id = items.id) AS dav_name, etag, seq, deleted_at, CASE WHEN @withData THEN data END AS data`;

// A page of live members in id order, on items_members (collection_id, id, …) for the keyset. Without data
// every column comes from that index and dav_names_item: the table is not read; with data only the rows
// that pass the time range are.
// SQLite would look the name up by the UNIQUE index on item_id, then read the row: INDEXED BY keeps it on the index that holds the name.
export const membersSql = (data: 'data' | 'NULL') => `SELECT id, (SELECT name FROM dav_names INDEXED BY dav_names_item WHERE dav_names.item_id = items.id) AS dav_name, etag, seq, ${data} AS data
  FROM items WHERE collection_id = @collectionId AND account_id = @accountId AND deleted_at IS NULL AND id > @afterId AND ${rangeSql}
  ORDER BY id LIMIT @limit`;

/** A changed item as the changes statement reads it: the columns of ChangeRow, in its order. */
type ChangeTuple = [string, string | null, string, number, number, string | null, string | null, number | null];

/** A live member as membersSql reads it: id, DAV name, etag, seq, data. */
type MemberTuple = [string, string | null, string, number, string | null];

interface MemberDbRow {
  id: string;
  dav_name: string | null;
  etag: string;
  seq: number;
  deleted_at: number | null;
  data: string | null;
}

const toMember = (r: MemberDbRow): MemberRow => ({ id: r.id, davName: r.dav_name, etag: r.etag, seq: r.seq, deletedAt: r.deleted_at, data: r.data });

const changeParams = (query: ChangeQuery) => ({
  accountId: query.accountId,
  collectionId: query.collectionId,
  seq: query.checkpoint.seq,
  baseSeq: query.checkpoint.baseSeq,
  deviceId: query.deviceId,
  rangeStart: query.timeRange?.startMs ?? null,
  rangeEnd: query.timeRange?.endMs ?? null,
  untilSeq: query.untilSeq ?? null,
  limit: query.limit,
});

function sqliteTx(opened: OpenDatabase, written: ItemRow[], { pushTokenFloor: tokenFloor }: StoreOptions): StoreTx {
  const q = opened.prepare;
  const account = {
    insert: q('INSERT INTO accounts (id, name, password_hash, created_at, email) VALUES (?, ?, ?, ?, ?)'),
    byName: q<[string], { id: string; name: string; password_hash: string; created_at: number; credential_epoch: number; email: string | null }>(
      'SELECT id, name, password_hash, created_at, credential_epoch, email FROM accounts WHERE name = ?',
    ),
    byId: q<[string], { id: string; name: string; password_hash: string; created_at: number; credential_epoch: number; email: string | null }>(
      'SELECT id, name, password_hash, created_at, credential_epoch, email FROM accounts WHERE id = ?',
    ),
    all: q<[], { id: string; name: string; password_hash: string; created_at: number; credential_epoch: number; email: string | null }>(
      'SELECT id, name, password_hash, created_at, credential_epoch, email FROM accounts ORDER BY name',
    ),
    setPassword: q('UPDATE accounts SET password_hash = ? WHERE id = ?'),
    setEmail: q('UPDATE accounts SET email = ? WHERE id = ?'),
    nextSeq: q<[string], { seq: number }>('UPDATE accounts SET seq = seq + 1 WHERE id = ? RETURNING seq'),
    seq: q<[string], { seq: number; tombstone_floor: number }>('SELECT seq, tombstone_floor FROM accounts WHERE id = ?'),
    raiseFloor: q('UPDATE accounts SET tombstone_floor = max(tombstone_floor, ?) WHERE id = ?'),
  };
  const token = {
    insert: q('INSERT INTO app_tokens (id, account_id, label, secret_hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)'),
    byId: q<[string], Record<string, unknown>>('SELECT * FROM app_tokens WHERE id = ?'),
    list: q<[string], Record<string, unknown>>('SELECT * FROM app_tokens WHERE account_id = ? ORDER BY created_at, id'),
    delete: q('DELETE FROM app_tokens WHERE account_id = ? AND id = ?'),
    touch: q('UPDATE app_tokens SET last_used_at = ? WHERE account_id = ? AND id = ?'),
  };
  const collection = {
    insert: q('INSERT INTO collections (id, account_id, name, kind, display_name, color, description, created_at, calendar_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    update: q('UPDATE collections SET display_name = ?, color = ?, description = ? WHERE account_id = ? AND id = ?'),
    list: q<[string], Record<string, unknown>>('SELECT * FROM collections WHERE account_id = ? ORDER BY created_at, name'),
    byId: q<[string, string], Record<string, unknown>>('SELECT * FROM collections WHERE account_id = ? AND id = ?'),
    byName: q<[string, string], Record<string, unknown>>('SELECT * FROM collections WHERE account_id = ? AND name = ?'),
    delete: q('DELETE FROM collections WHERE account_id = ? AND id = ?'),
  };
  const item = {
    byId: q<[string, string, string], ItemDbRow>('SELECT * FROM items WHERE account_id = ? AND collection_id = ? AND id = ?'),
    byUid: q<[string, string, string], ItemDbRow>(
      'SELECT * FROM items WHERE account_id = ? AND collection_id = ? AND uid = ? AND deleted_at IS NULL',
    ),
    // An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, which would cascade to its history.
    put: q(`INSERT INTO items (id, account_id, collection_id, uid, data, etag, seq, created_seq, created_by, origin_device, deleted_at, title, start_ms, end_ms, match_name, contact_keys)
            VALUES (@id, @accountId, @collectionId, @uid, @data, @etag, @seq, @createdSeq, @createdBy, @originDevice, @deletedAt, @title, @startMs, @endMs, @matchName, @contactKeys)
            ON CONFLICT (id) DO UPDATE SET uid = excluded.uid, data = excluded.data, etag = excluded.etag, seq = excluded.seq, created_seq = excluded.created_seq, created_by = excluded.created_by,
              origin_device = excluded.origin_device, deleted_at = excluded.deleted_at, title = excluded.title, start_ms = excluded.start_ms,
              end_ms = excluded.end_ms, match_name = excluded.match_name, contact_keys = excluded.contact_keys
            WHERE items.account_id = excluded.account_id AND items.collection_id = excluded.collection_id`),
    putVersion: q('INSERT OR REPLACE INTO item_versions (item_id, seq, data, written_at, origin_device, blob_hash) VALUES (?, ?, ?, ?, ?, ?)'),
    // The blob of a version's body, in the account of its item (docs/design.md § Blobs).
    putVersionBlob: q('INSERT INTO blobs (account_id, hash, data, bytes) SELECT account_id, ?, ?, ? FROM items WHERE id = ? ON CONFLICT DO NOTHING'),
    putEtag: q('INSERT OR IGNORE INTO item_etags (item_id, etag) VALUES (?, ?)'),
    hadVersion: q<[string, string, string], { found: number }>(
      `SELECT 1 AS found FROM item_etags e JOIN items i ON i.id = e.item_id WHERE i.account_id = ? AND e.item_id = ? AND e.etag = ?`,
    ),
    versionHeld: q<Record<string, unknown>, { data: string; seq: number; originDevice: string | null }>(
      `SELECT CASE WHEN v.blob_hash IS NULL THEN v.data ELSE (SELECT CAST(b.data AS TEXT) FROM blobs b WHERE b.account_id = i.account_id AND b.hash = v.blob_hash) END AS data,
         v.seq, v.origin_device AS originDevice FROM item_versions v JOIN items i ON i.id = v.item_id
       WHERE i.account_id = @accountId AND v.item_id = @itemId
         AND (v.seq <= @seq OR (v.origin_device = @deviceId AND v.seq > @baseSeq)) ORDER BY v.seq DESC LIMIT 1`,
    ),
    // A version can be a merge base only while some device may still hold it: until the version that
    // superseded it is older than the horizon.
    pruneVersions: q(`DELETE FROM item_versions WHERE item_id IN (SELECT id FROM items WHERE account_id = ?)
       AND EXISTS (SELECT 1 FROM item_versions n WHERE n.item_id = item_versions.item_id AND n.seq > item_versions.seq AND n.written_at < ?)`),
    // Two lookups rather than one with OR: each uses its partial index, where OR scans the collection.
    byName: q<[string, string, string], ItemDbRow>(
      'SELECT * FROM items WHERE collection_id = ? AND match_name = ? AND deleted_at IS NULL AND account_id = ?',
    ),
    // Rows as arrays of the ChangeRow columns: no object per row with sixteen keys, no parse of contact_keys.
    changes: q<Record<string, unknown>, ChangeTuple>(
      `${changesSql.replace('SELECT * ', 'SELECT id, data, etag, seq, created_seq, created_by, origin_device, deleted_at ')} ORDER BY seq LIMIT @limit`,
    ).raw(true),
    // Rows as arrays: a listing of 10,000 members makes one object per member, not two.
    members: q<Record<string, unknown>, MemberTuple>(membersSql('NULL')).raw(true),
    membersWithData: q<Record<string, unknown>, MemberTuple>(membersSql('data')).raw(true),
    memberChanges: q<Record<string, unknown>, MemberDbRow>(
      `${changesSql.replace('SELECT * ', `SELECT ${memberColumns} `)} ORDER BY seq LIMIT @limit`,
    ),
    countChanges: q<Record<string, unknown>, { n: number }>(`SELECT count(*) AS n FROM (SELECT 1 ${changesSql.replace('SELECT * ', '')} LIMIT @limit)`),
    // octet_length reads a text's size from the record header, not the text itself.
    changeSizes: q<Record<string, unknown>, { seq: number; bytes: number }>(
      `${changesSql.replace('SELECT * ', 'SELECT seq, coalesce(octet_length(data), 0) AS bytes ')} ORDER BY seq LIMIT @limit`,
    ),
    liveBytes: q<[string, string, string], { bytes: number }>(
      'SELECT octet_length(data) AS bytes FROM items WHERE account_id = ? AND collection_id = ? AND id = ? AND data IS NOT NULL',
    ),
    maxPurged: q<[string, number], { m: number | null }>(
      'SELECT max(seq) AS m FROM items WHERE account_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?',
    ),
    keepPurged: q(`INSERT OR IGNORE INTO purged_items (account_id, collection_id, item_id, etag)
       SELECT account_id, collection_id, id, etag FROM items WHERE account_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?`),
    purge: q('DELETE FROM items WHERE account_id = ? AND deleted_at IS NOT NULL AND deleted_at < ?'),
  };
  const blob = {
    put: q('INSERT INTO blobs (account_id, hash, data, bytes) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    get: q<[string, string], { data: Buffer }>('SELECT data FROM blobs WHERE account_id = ? AND hash = ?'),
    usage: q<[string], { count: number; bytes: number }>('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM blobs WHERE account_id = ?'),
    // A kept mail part goes once its item is no longer live in its collection (docs/protocol.md §10.6).
    forgetMailParts: q(`DELETE FROM mail_parts WHERE account_id = ? AND NOT EXISTS (
       SELECT 1 FROM items i WHERE i.id = mail_parts.item_id AND i.collection_id = mail_parts.collection_id AND i.deleted_at IS NULL)`),
    // Mark and sweep: a blob stays while a kept version of the account's items, or a kept mail part, names it.
    sweep: q(`DELETE FROM blobs WHERE account_id = ? AND NOT EXISTS (
       SELECT 1 FROM item_versions v JOIN items i ON i.id = v.item_id WHERE v.blob_hash = blobs.hash AND i.account_id = blobs.account_id)
       AND NOT EXISTS (SELECT 1 FROM mail_parts p WHERE p.account_id = blobs.account_id AND p.blob_hash = blobs.hash)`),
  };
  /** A version in the item's history, its body inline or as a blob (blobs.ts versionBody), and its etag. */
  const keepVersion = (itemId: string, seq: number, data: string, etag: string, writtenAt: number, originDevice: string | null) => {
    const body = versionBody(data);
    if (body.blob) item.putVersionBlob.run(body.blob.hash, body.blob.bytes, body.blob.bytes.byteLength, itemId);
    item.putVersion.run(itemId, seq, body.inline, writtenAt, originDevice, body.blob?.hash ?? null);
    item.putEtag.run(itemId, etag);
  };
  const dav = {
    seq: q<[string, string], { m: number | null }>('SELECT max(seq) AS m FROM items WHERE collection_id = ? AND account_id = ?'),
    find: q<[string, string, string], { item_id: string }>('SELECT item_id FROM dav_names WHERE account_id = ? AND collection_id = ? AND name = ?'),
    nameOf: q<[string, string], { name: string }>('SELECT name FROM dav_names WHERE account_id = ? AND item_id = ?'),
    set: q('INSERT OR REPLACE INTO dav_names (account_id, collection_id, name, item_id) VALUES (?, ?, ?, ?)'),
  };
  const push = {
    next: q<[string, string], { next_token: number }>('SELECT next_token FROM push_counters WHERE account_id = ? AND device_id = ?'),
    reserve: q<{ accountId: string; deviceId: string; floor: number; count: number }, { next_token: number }>(`INSERT INTO push_counters (account_id, device_id, next_token)
      VALUES (@accountId, @deviceId, @floor + @count)
      ON CONFLICT (account_id, device_id) DO UPDATE SET next_token = max(next_token, @floor) + @count RETURNING next_token`),
    insert: q(`INSERT INTO push_tokens (account_id, device_id, token, collection_id, item_id, seq, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    byToken: q<[string, string, number], PushDbRow>(
      'SELECT token, collection_id, item_id, seq FROM push_tokens WHERE account_id = ? AND device_id = ? AND token = ?',
    ),
    inRange: q<[string, string, string, number, number], PushDbRow>(
      'SELECT token, collection_id, item_id, seq FROM push_tokens WHERE account_id = ? AND device_id = ? AND collection_id = ? AND token BETWEEN ? AND ? ORDER BY token',
    ),
    covered: q<[string, string, string, number], { token: number }>(
      'SELECT token FROM push_tokens WHERE account_id = ? AND device_id = ? AND collection_id = ? AND seq <= ?',
    ),
    release: q('DELETE FROM push_tokens WHERE account_id = ? AND device_id = ? AND token = ?'),
    after: q<[string, string, number, number], PushDbRow>(
      'SELECT token, collection_id, item_id, seq FROM push_tokens WHERE account_id = ? AND device_id = ? AND token > ? ORDER BY token LIMIT ?',
    ),
    putChannel: q(`INSERT INTO push_channels (account_id, device_id, process_id, mailbox, collections, seen_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (account_id, device_id) DO UPDATE SET process_id = excluded.process_id, mailbox = excluded.mailbox, collections = excluded.collections, seen_at = excluded.seen_at`),
    raise: q(`INSERT INTO push_counters (account_id, device_id, next_token) VALUES (?, ?, ?)
      ON CONFLICT (account_id, device_id) DO UPDATE SET next_token = max(next_token, ?)`),
    deleteChannel: q('DELETE FROM push_channels WHERE account_id = ? AND device_id = ? AND process_id = ?'),
    channels: q<[string, number], { device_id: string; process_id: string; mailbox: number; collections: string | null; seen_at: number }>(
      'SELECT device_id, process_id, mailbox, collections, seen_at FROM push_channels WHERE account_id = ? AND seen_at >= ? ORDER BY device_id',
    ),
    touchChannels: q('UPDATE push_channels SET seen_at = ? WHERE process_id = ?'),
    putTicket: q<PushTicketRow>(`INSERT INTO push_tickets (ticket_hash, account_id, token_id, session_id_hash, epoch, expires_at)
      VALUES (@ticketHash, @accountId, @tokenId, @sessionIdHash, @epoch, @expiresAt)`),
    expireTickets: q('DELETE FROM push_tickets WHERE account_id = ? AND expires_at <= ?'),
    trimTickets: q<{ accountId: string; keep: number }>(`DELETE FROM push_tickets WHERE account_id = @accountId AND ticket_hash NOT IN
      (SELECT ticket_hash FROM push_tickets WHERE account_id = @accountId ORDER BY expires_at DESC, ticket_hash LIMIT @keep)`),
    takeTicket: q<[string], { ticket_hash: string; account_id: string; token_id: string | null; session_id_hash: string | null; epoch: number; expires_at: number }>(
      'DELETE FROM push_tickets WHERE ticket_hash = ? RETURNING *',
    ),
    purgeTickets: q('DELETE FROM push_tickets WHERE expires_at <= ?'),
    // A device may echo a token as long as its sync state is valid, however old the token: only an
    // expired state (which forces a re-initialization, where the client drops its tokens) or no state
    // at all (the client ignores notices for a collection it never synced) lets it go.
    purge: q<{ accountId: string; before: number }>(`DELETE FROM push_tokens WHERE account_id = @accountId AND (
      EXISTS (SELECT 1 FROM sync_states s JOIN accounts a ON a.id = s.account_id
              WHERE s.account_id = push_tokens.account_id AND s.device_id = push_tokens.device_id AND s.collection_id = push_tokens.collection_id
                AND max(json_extract(s.checkpoint, '$.seq'), json_extract(s.checkpoint, '$.baseSeq')) < a.tombstone_floor)
      OR (issued_at < @before AND NOT EXISTS (SELECT 1 FROM sync_states s
              WHERE s.account_id = push_tokens.account_id AND s.device_id = push_tokens.device_id AND s.collection_id = push_tokens.collection_id)))`),
  };
  const authFailure = {
    get: q<[string], { failures: number; last_at: number }>('SELECT failures, last_at FROM auth_failures WHERE key_hash = ?'),
    put: q<AuthFailureRow>(`INSERT INTO auth_failures (key_hash, failures, last_at) VALUES (@keyHash, @failures, @lastAt)
      ON CONFLICT (key_hash) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at`),
    delete: q('DELETE FROM auth_failures WHERE key_hash = ?'),
    purge: q('DELETE FROM auth_failures WHERE last_at < ?'),
  };
  const toPushToken = (r: PushDbRow): PushTokenRow => ({ token: r.token, collectionId: r.collection_id, itemId: r.item_id, seq: r.seq });
  const conflict = {
    insert: q(`INSERT INTO conflicts (id, account_id, collection_id, item_id, data, lost_by, won_by, reason, created_at, restored_at)
               VALUES (@id, @accountId, @collectionId, @itemId, @data, @lostBy, @wonBy, @reason, @createdAt, @restoredAt)`),
    list: q<[string], Record<string, unknown>>('SELECT * FROM conflicts WHERE account_id = ? ORDER BY created_at DESC, id'),
    byId: q<[string, string], Record<string, unknown>>('SELECT * FROM conflicts WHERE account_id = ? AND id = ?'),
    restored: q('UPDATE conflicts SET restored_at = ? WHERE account_id = ? AND id = ?'),
  };
  const toConflict = (r: Record<string, unknown>): ConflictRow => ({
    id: r.id as string,
    accountId: r.account_id as string,
    collectionId: r.collection_id as string,
    itemId: r.item_id as string,
    data: r.data as string,
    lostBy: r.lost_by as string | null,
    wonBy: r.won_by as string | null,
    reason: r.reason as ConflictRow['reason'],
    createdAt: r.created_at as number,
    restoredAt: r.restored_at as number | null,
  });
  const device = {
    byId: q<[string, string], Record<string, unknown>>('SELECT * FROM devices WHERE account_id = ? AND id = ?'),
    put: q(`INSERT INTO devices (account_id, id, name, protocol, priority, created_at, last_seen_at, token_id)
            VALUES (@accountId, @id, @name, @protocol, @priority, @createdAt, @lastSeenAt, @tokenId)
            ON CONFLICT (account_id, id) DO UPDATE SET name = excluded.name, protocol = excluded.protocol,
              priority = excluded.priority, last_seen_at = excluded.last_seen_at, token_id = excluded.token_id`),
    list: q<[string], Record<string, unknown>>('SELECT * FROM devices WHERE account_id = ? ORDER BY priority, created_at, id'),
    count: q<[string], { protocol: string; n: number }>('SELECT protocol, COUNT(*) AS n FROM devices WHERE account_id = ? GROUP BY protocol'),
    setPriority: q('UPDATE devices SET priority = ? WHERE account_id = ? AND id = ?'),
    delete: q('DELETE FROM devices WHERE account_id = ? AND id = ?'),
    deletePushTokens: q('DELETE FROM push_tokens WHERE account_id = ? AND device_id = ?'),
    deleteFaceStates: q('DELETE FROM face_states WHERE account_id = ? AND device_id = ?'),
    getFaceState: q<[string, string, string], { value: string }>('SELECT value FROM face_states WHERE account_id = ? AND device_id = ? AND key = ?'),
    putFaceState: q(`INSERT INTO face_states (account_id, device_id, key, value) VALUES (?, ?, ?, ?)
            ON CONFLICT (account_id, device_id, key) DO UPDATE SET value = excluded.value`),
    deleteFaceState: q('DELETE FROM face_states WHERE account_id = ? AND device_id = ? AND key = ?'),
    syncStates: q<[string, string], Record<string, unknown>>('SELECT * FROM sync_states WHERE account_id = ? AND device_id = ? ORDER BY collection_id'),
    addError: q('INSERT INTO device_errors (account_id, device_id, at, status, message) VALUES (?, ?, ?, ?, ?)'),
    trimErrors: q(`DELETE FROM device_errors WHERE account_id = @accountId AND device_id = @deviceId AND rowid NOT IN
      (SELECT rowid FROM device_errors WHERE account_id = @accountId AND device_id = @deviceId ORDER BY at DESC, rowid DESC LIMIT @keep)`),
    errors: q<[string, string], DeviceErrorRow>('SELECT at, status, message FROM device_errors WHERE account_id = ? AND device_id = ? ORDER BY at DESC, rowid DESC'),
  };
  const activity = {
    add: q(`INSERT INTO sync_activity (account_id, device_id, day, changes) VALUES (?, ?, ?, ?)
            ON CONFLICT (account_id, day, device_id) DO UPDATE SET changes = changes + excluded.changes`),
    since: q<[string, string], { device_id: string; day: string; changes: number }>(
      'SELECT device_id, day, changes FROM sync_activity WHERE account_id = ? AND day >= ? ORDER BY day, device_id',
    ),
    purge: q('DELETE FROM sync_activity WHERE account_id = ? AND day < ?'),
  };
  const session = {
    insert: q('INSERT INTO web_sessions (id_hash, account_id, csrf, created_at, expires_at) VALUES (@idHash, @accountId, @csrf, @createdAt, @expiresAt)'),
    get: q<[string, number], { id_hash: string; account_id: string; csrf: string; created_at: number; expires_at: number }>(
      'SELECT * FROM web_sessions WHERE id_hash = ? AND expires_at > ?',
    ),
    delete: q('DELETE FROM web_sessions WHERE id_hash = ?'),
    purge: q('DELETE FROM web_sessions WHERE expires_at <= ?'),
  };
  const knownClient = {
    find: q<[string, string, number], { found: number }>('SELECT 1 AS found FROM known_clients WHERE account_id = ? AND fingerprint = ? AND last_success_at >= ?'),
    upsert: q(`INSERT INTO known_clients (account_id, fingerprint, last_success_at) VALUES (?, ?, ?)
               ON CONFLICT (account_id, fingerprint) DO UPDATE SET last_success_at = excluded.last_success_at`),
    prune: q(`DELETE FROM known_clients WHERE account_id = @accountId AND fingerprint NOT IN
                (SELECT fingerprint FROM known_clients WHERE account_id = @accountId ORDER BY last_success_at DESC LIMIT @keep)`),
  };
  const ledger = {
    find: q<[string, string, string, string, string], { item_id: string; status: string }>(
      'SELECT item_id, status FROM add_ledger WHERE account_id = ? AND device_id = ? AND collection_id = ? AND client_id = ? AND data_etag = ?',
    ),
    record: q('INSERT OR IGNORE INTO add_ledger (account_id, device_id, collection_id, client_id, data_etag, item_id, status) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    purged: q<[string, string, string], { etag: string }>('SELECT etag FROM purged_items WHERE account_id = ? AND collection_id = ? AND item_id = ?'),
  };
  const pointKey = {
    get: q<[string, string, string], { sync_key: number }>('SELECT sync_key FROM point_keys WHERE account_id = ? AND device_id = ? AND collection_id = ?'),
    set: q(`INSERT INTO point_keys (account_id, device_id, collection_id, sync_key) VALUES (?, ?, ?, ?)
            ON CONFLICT (account_id, device_id, collection_id) DO UPDATE SET sync_key = excluded.sync_key`),
  };
  const syncState = {
    get: q<[string, string, string], Record<string, unknown>>(
      'SELECT * FROM sync_states WHERE account_id = ? AND device_id = ? AND collection_id = ?',
    ),
    put: q(`INSERT OR REPLACE INTO sync_states
            (account_id, device_id, collection_id, sync_key, checkpoint, previous, last_sent_key, last_results, reinit_times, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  };

  const toAccount = (r: { id: string; name: string; password_hash: string; created_at: number; credential_epoch: number; email: string | null } | undefined): AccountRow | undefined =>
    r && { id: r.id, name: r.name, passwordHash: r.password_hash, createdAt: r.created_at, credentialEpoch: r.credential_epoch, email: r.email };
  const toToken = (r: Record<string, unknown>): AppTokenRow => ({
    id: r.id as string,
    accountId: r.account_id as string,
    label: r.label as string,
    secretHash: r.secret_hash as string,
    createdAt: r.created_at as number,
    lastUsedAt: r.last_used_at as number | null,
  });
  const toCollection = (r: Record<string, unknown>): CollectionRow => ({
    id: r.id as string,
    accountId: r.account_id as string,
    name: r.name as string,
    kind: r.kind as CollectionKind,
    displayName: r.display_name as string,
    color: r.color as string | null,
    description: r.description as string | null,
    createdAt: r.created_at as number,
    calendarId: r.calendar_id as string | null,
  });
  const toDevice = (r: Record<string, unknown>): DeviceRow => ({
    accountId: r.account_id as string,
    id: r.id as string,
    name: r.name as string,
    protocol: r.protocol as string,
    priority: r.priority as number,
    createdAt: r.created_at as number,
    lastSeenAt: r.last_seen_at as number,
    tokenId: r.token_id as string | null,
  });
  const toSyncState = (r: Record<string, unknown>): SyncStateRow => ({
    accountId: r.account_id as string,
    deviceId: r.device_id as string,
    collectionId: r.collection_id as string,
    syncKey: r.sync_key as number,
    checkpoint: JSON.parse(r.checkpoint as string),
    previous: r.previous === null ? null : JSON.parse(r.previous as string),
    lastSentKey: r.last_sent_key as number,
    lastResults: JSON.parse(r.last_results as string),
    reinitTimes: JSON.parse(r.reinit_times as string),
    updatedAt: r.updated_at as number,
  });
  const seqOf = (accountId: string) => {
    const row = account.seq.get(accountId);
    if (!row) throw new Error(`no account ${accountId}`);
    return row;
  };

  return {
    ...upstreamTx(opened),
    ...pointRecordTx(opened),
    ...mailPartTx(opened),
    ...mailSendTx(opened),
    async createAccount(r) {
      account.insert.run(r.id, r.name, r.passwordHash, r.createdAt, r.email);
    },
    async findAccountByName(name) {
      return toAccount(account.byName.get(name));
    },
    async getAccount(id) {
      return toAccount(account.byId.get(id));
    },
    async listAccounts() {
      return account.all.all().map((r) => toAccount(r) as AccountRow);
    },
    async setPassword(id, hash) {
      account.setPassword.run(hash, id);
    },
    async setEmail(id, email) {
      account.setEmail.run(email, id);
    },
    async nextSeq(id) {
      const row = account.nextSeq.get(id);
      if (!row) throw new Error(`no account ${id}`);
      return row.seq;
    },
    async currentSeq(id) {
      return seqOf(id).seq;
    },
    async tombstoneFloor(id) {
      return seqOf(id).tombstone_floor;
    },

    async createToken(r) {
      token.insert.run(r.id, r.accountId, r.label, r.secretHash, r.createdAt, r.lastUsedAt);
    },
    async getToken(id) {
      const r = token.byId.get(id);
      return r && toToken(r);
    },
    async listTokens(accountId) {
      return token.list.all(accountId).map(toToken);
    },
    async deleteToken(accountId, id) {
      return token.delete.run(accountId, id).changes > 0;
    },
    async touchToken(accountId, id, at) {
      token.touch.run(at, accountId, id);
    },

    async createCollection(r) {
      collection.insert.run(r.id, r.accountId, r.name, r.kind, r.displayName, r.color, r.description, r.createdAt, r.calendarId);
    },
    async updateCollection(r) {
      collection.update.run(r.displayName, r.color, r.description, r.accountId, r.id);
    },
    async deleteCollection(accountId, id) {
      // Items, their history, sync states, push tokens, DAV names and conflict records go with it (ON DELETE CASCADE).
      return collection.delete.run(accountId, id).changes > 0;
    },
    async listCollections(accountId) {
      return collection.list.all(accountId).map(toCollection);
    },
    async getCollection(accountId, id) {
      const r = collection.byId.get(accountId, id);
      return r && toCollection(r);
    },
    async findCollectionByName(accountId, name) {
      const r = collection.byName.get(accountId, name);
      return r && toCollection(r);
    },

    async getItem(accountId, collectionId, id) {
      const r = item.byId.get(accountId, collectionId, id);
      return r && toItem(r);
    },
    async findLiveItemByUid(accountId, collectionId, uid) {
      const r = item.byUid.get(accountId, collectionId, uid);
      return r && toItem(r);
    },
    async findTwinCandidates(accountId, collectionId, uid, matchName) {
      const byUid = uid === null ? undefined : item.byUid.get(accountId, collectionId, uid);
      const byName = matchName === null ? [] : item.byName.all(collectionId, matchName, accountId).filter((r) => r.id !== byUid?.id);
      return [...(byUid ? [byUid] : []), ...byName].map(toItem);
    },
    async putItem(r, writtenAt) {
      // The upsert skips an id held by another account or collection; its history must not take this version either.
      if (item.put.run({ ...r, contactKeys: JSON.stringify(r.contactKeys) }).changes === 0) {
        throw new Error(`item ${r.id} belongs to another collection or account`);
      }
      if (r.data !== null) keepVersion(r.id, r.seq, r.data, r.etag, writtenAt, r.originDevice);
      written.push(r);
    },
    async putItemVersion(itemId, seq, data, etag, writtenAt, originDevice) {
      keepVersion(itemId, seq, data, etag, writtenAt, originDevice);
    },
    async hadVersion(accountId, itemId, etag) {
      return item.hadVersion.get(accountId, itemId, etag) !== undefined;
    },
    async getVersionHeld(accountId, itemId, deviceId, seq, baseSeq) {
      return item.versionHeld.get({ accountId, itemId, deviceId, seq, baseSeq });
    },
    async listChanges(query: ChangeQuery) {
      return item.changes.all(changeParams(query)).map(
        ([id, data, etag, seq, createdSeq, createdBy, originDevice, deletedAt]): ChangeRow => ({ id, data, etag, seq, createdSeq, createdBy, originDevice, deletedAt }),
      );
    },
    async countChanges(query: ChangeQuery) {
      return item.countChanges.get(changeParams(query))?.n ?? 0;
    },
    async listChangeSizes(query: ChangeQuery) {
      return item.changeSizes.all(changeParams(query));
    },
    async listMembers(query: MemberQuery) {
      const { timeRange, withData, ...rest } = query;
      const rows = (withData ? item.membersWithData : item.members).all({ ...rest, rangeStart: timeRange?.startMs ?? null, rangeEnd: timeRange?.endMs ?? null });
      return rows.map(([id, davName, etag, seq, data]): MemberRow => ({ id, davName, etag, seq, deletedAt: null, data }));
    },
    async listMemberChanges(query: ChangeQuery, withData: boolean) {
      return item.memberChanges.all({ ...changeParams(query), withData: withData ? 1 : 0 }).map(toMember);
    },
    async liveItemBytes(accountId, collectionId, id) {
      return item.liveBytes.get(accountId, collectionId, id)?.bytes;
    },
    async purgeTombstones(accountId, beforeMs) {
      item.pruneVersions.run(accountId, beforeMs);
      const floor = item.maxPurged.get(accountId, beforeMs)?.m;
      if (floor != null) account.raiseFloor.run(floor, accountId);
      push.purge.run({ accountId, before: beforeMs });
      let purged = 0;
      if (floor != null) {
        item.keepPurged.run(accountId, beforeMs);
        purged = item.purge.run(accountId, beforeMs).changes;
      }
      blob.forgetMailParts.run(accountId);
      blob.sweep.run(accountId);
      return purged;
    },
    async putBlob(accountId, bytes) {
      checkBlobSize(bytes);
      const hash = blobHash(bytes);
      blob.put.run(accountId, hash, bytes, bytes.byteLength);
      return hash;
    },
    async getBlob(accountId, hash) {
      const found = blob.get.get(accountId, hash)?.data;
      return found === undefined ? undefined : new Uint8Array(found);
    },
    async blobUsage(accountId) {
      return blob.usage.get(accountId) ?? { count: 0, bytes: 0 };
    },

    async collectionSeq(accountId, collectionId) {
      return dav.seq.get(collectionId, accountId)?.m ?? 0;
    },
    async findDavName(accountId, collectionId, name) {
      return dav.find.get(accountId, collectionId, name)?.item_id;
    },
    async davNameOf(accountId, itemId) {
      return dav.nameOf.get(accountId, itemId)?.name;
    },
    async setDavName(accountId, collectionId, name, itemId) {
      dav.set.run(accountId, collectionId, name, itemId);
    },

    async nextPushToken(accountId, deviceId) {
      return Math.max(push.next.get(accountId, deviceId)?.next_token ?? 1, tokenFloor);
    },
    async issuePushTokens(accountId, issues, issuedAt) {
      return issues.map(({ deviceId, entries }) => {
        if (entries.length === 0) return [];
        const end = (push.reserve.get({ accountId, deviceId, floor: tokenFloor, count: entries.length }) as { next_token: number }).next_token;
        return entries.map((e, i) => {
          const token = end - entries.length + i;
          push.insert.run(accountId, deviceId, token, e.collectionId, e.itemId, e.seq, issuedAt);
          return { token, ...e };
        });
      });
    },
    async getPushToken(accountId, deviceId, token) {
      const r = push.byToken.get(accountId, deviceId, token);
      return r && toPushToken(r);
    },
    async findPushTokens(accountId, deviceId, collectionId, ranges) {
      const span = spanOf(ranges);
      if (!span) return [];
      return [...withinRanges(push.inRange.iterate(accountId, deviceId, collectionId, span.from, span.to), ranges)].map(toPushToken);
    },
    async listPushTokensAfter(accountId, deviceId, afterToken, limit) {
      return push.after.all(accountId, deviceId, afterToken, limit).map(toPushToken);
    },
    async putPushChannel(r) {
      push.raise.run(r.accountId, r.deviceId, tokenFloor, tokenFloor);
      push.putChannel.run(r.accountId, r.deviceId, r.processId, r.mailbox ? 1 : 0, r.collections === null ? null : JSON.stringify(r.collections), r.seenAt);
    },
    async deletePushChannel(accountId, deviceId, processId) {
      push.deleteChannel.run(accountId, deviceId, processId);
    },
    async listPushChannels(accountId, seenSince) {
      return push.channels.all(accountId, seenSince).map((r) => ({
        accountId,
        deviceId: r.device_id,
        processId: r.process_id,
        mailbox: r.mailbox === 1,
        collections: r.collections === null ? null : (JSON.parse(r.collections) as string[]),
        seenAt: r.seen_at,
      }));
    },
    async touchPushChannels(processId, at) {
      push.touchChannels.run(at, processId);
    },
    async putPushTicket(r, now, keepMax) {
      push.expireTickets.run(r.accountId, now);
      push.putTicket.run(r);
      push.trimTickets.run({ accountId: r.accountId, keep: keepMax });
    },
    async takePushTicket(ticketHash) {
      const r = push.takeTicket.get(ticketHash);
      return r && { ticketHash: r.ticket_hash, accountId: r.account_id, tokenId: r.token_id, sessionIdHash: r.session_id_hash, epoch: r.epoch, expiresAt: r.expires_at };
    },
    async purgePushTickets(now) {
      return push.purgeTickets.run(now).changes;
    },
    async getAuthFailures(keyHashes) {
      return keyHashes.flatMap((keyHash) => {
        const r = authFailure.get.get(keyHash);
        return r ? [{ keyHash, failures: r.failures, lastAt: r.last_at }] : [];
      });
    },
    async putAuthFailures(rows) {
      for (const r of rows) {
        if (r.failures > 0) authFailure.put.run(r);
        else authFailure.delete.run(r.keyHash);
      }
    },
    async purgeAuthFailures(before) {
      return authFailure.purge.run(before).changes;
    },
    async releasePushTokens(accountId, deviceId, collectionId, seq, keep) {
      const kept = new Set(keep);
      for (const { token } of push.covered.all(accountId, deviceId, collectionId, seq)) if (!kept.has(token)) push.release.run(accountId, deviceId, token);
    },

    async getDevice(accountId, id) {
      const r = device.byId.get(accountId, id);
      return r && toDevice(r);
    },
    async putDevice(r) {
      device.put.run(r);
    },
    async listDevices(accountId) {
      return device.list.all(accountId).map(toDevice);
    },
    async countDevices(accountId) {
      return Object.fromEntries(device.count.all(accountId).map((r) => [r.protocol, r.n]));
    },
    async setDevicePriorities(accountId, ordered) {
      ordered.forEach((id, priority) => device.setPriority.run(priority, accountId, id));
    },
    async deleteDevice(accountId, id) {
      device.deletePushTokens.run(accountId, id);
      device.deleteFaceStates.run(accountId, id);
      return device.delete.run(accountId, id).changes > 0;
    },
    async getFaceState(accountId, deviceId, key) {
      return device.getFaceState.get(accountId, deviceId, key)?.value;
    },
    async putFaceState(accountId, deviceId, key, value) {
      if (value === undefined) device.deleteFaceState.run(accountId, deviceId, key);
      else device.putFaceState.run(accountId, deviceId, key, value);
    },
    async listSyncStates(accountId, deviceId) {
      return device.syncStates.all(accountId, deviceId).map(toSyncState);
    },
    async addDeviceError(accountId, deviceId, e, keep) {
      device.addError.run(accountId, deviceId, e.at, e.status, e.message);
      device.trimErrors.run({ accountId, deviceId, keep });
    },
    async listDeviceErrors(accountId, deviceId) {
      return device.errors.all(accountId, deviceId);
    },
    async addActivity(accountId, deviceId, day, changes) {
      activity.add.run(accountId, deviceId, day, changes);
    },
    async listActivity(accountId, fromDay) {
      return activity.since.all(accountId, fromDay).map((r) => ({ deviceId: r.device_id, day: r.day, changes: r.changes }));
    },
    async purgeActivity(accountId, beforeDay) {
      activity.purge.run(accountId, beforeDay);
    },

    async createWebSession(r) {
      session.insert.run(r);
    },
    async getWebSession(idHash, now) {
      const r = session.get.get(idHash, now);
      return r && { idHash: r.id_hash, accountId: r.account_id, csrf: r.csrf, createdAt: r.created_at, expiresAt: r.expires_at };
    },
    async deleteWebSession(idHash) {
      session.delete.run(idHash);
    },
    async purgeWebSessions(now) {
      return session.purge.run(now).changes;
    },
    async isKnownClient(accountId, fingerprint, since) {
      return knownClient.find.get(accountId, fingerprint, since) !== undefined;
    },
    async rememberClient(accountId, fingerprint, at, keep) {
      knownClient.upsert.run(accountId, fingerprint, at);
      knownClient.prune.run({ accountId, keep });
    },

    async addConflict(r) {
      conflict.insert.run(r);
    },
    async listConflicts(accountId) {
      return conflict.list.all(accountId).map(toConflict);
    },
    async getConflict(accountId, id) {
      const r = conflict.byId.get(accountId, id);
      return r && toConflict(r);
    },
    async markConflictRestored(accountId, id, at) {
      conflict.restored.run(at, accountId, id);
    },

    async findLedgerAdd(accountId, deviceId, collectionId, clientId, dataEtag) {
      const row = ledger.find.get(accountId, deviceId, collectionId, clientId, dataEtag);
      return row && { itemId: row.item_id, lost: row.status === 'conflict' };
    },
    async recordLedgerAdd(accountId, deviceId, collectionId, clientId, dataEtag, itemId, lost) {
      ledger.record.run(accountId, deviceId, collectionId, clientId, dataEtag, itemId, lost ? 'conflict' : 'ok');
    },
    async purgedEtag(accountId, collectionId, itemId) {
      return ledger.purged.get(accountId, collectionId, itemId)?.etag;
    },

    async getPointKey(accountId, deviceId, collectionId) {
      return pointKey.get.get(accountId, deviceId, collectionId)?.sync_key ?? 0;
    },
    async setPointKey(accountId, deviceId, collectionId, syncKey) {
      pointKey.set.run(accountId, deviceId, collectionId, syncKey);
    },

    async getSyncState(accountId, deviceId, collectionId) {
      const r = syncState.get.get(accountId, deviceId, collectionId);
      return r && toSyncState(r);
    },
    async putSyncState(r) {
      syncState.put.run(
        r.accountId,
        r.deviceId,
        r.collectionId,
        r.syncKey,
        JSON.stringify(r.checkpoint),
        r.previous === null ? null : JSON.stringify(r.previous),
        r.lastSentKey,
        JSON.stringify(r.lastResults),
        JSON.stringify(r.reinitTimes),
        r.updatedAt,
      );
    },
  };
}
