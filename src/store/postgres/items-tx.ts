import type { ChangeQuery, ChangeRow, ItemRow, MemberRow, StoreTx } from '../store.js';
import type { AccountCounters } from './accounts-tx.js';
import type { Sql } from './sql.js';
import { blobHash, checkBlobSize, versionBody } from '../blobs.js';

/**
 * Items, their history and their changes, as SQL on PostgreSQL: the same rules as the SQLite backend
 * (src/store/sqlite/sqlite-store.ts), each method one statement where it can be, since every statement
 * is a round trip to the server.
 */
export type ItemTx = Pick<
  StoreTx,
  | 'getItem'
  | 'findLiveItemByUid'
  | 'findTwinCandidates'
  | 'putItem'
  | 'putItemVersion'
  | 'hadVersion'
  | 'getVersionHeld'
  | 'listChanges'
  | 'countChanges'
  | 'listChangeSizes'
  | 'listMembers'
  | 'listMemberChanges'
  | 'liveItemBytes'
  | 'purgeTombstones'
  | 'putBlob'
  | 'getBlob'
  | 'blobUsage'
  | 'collectionSeq'
>;

const itemColumns = (sql: Sql) =>
  sql`id, account_id, collection_id, uid, data, etag, seq, created_seq, created_by, origin_device, deleted_at, title, start_ms, end_ms, match_name, contact_keys`;

// The rules of core/sync-key.ts Checkpoint, as one indexed range scan on (collection_id, seq).
function changesWhere(sql: Sql, q: ChangeQuery) {
  const { seq, baseSeq } = q.checkpoint;
  return sql`collection_id = ${q.collectionId} AND account_id = ${q.accountId} AND seq > ${seq}
    ${q.untilSeq === undefined ? sql`` : sql`AND seq <= ${q.untilSeq}`}
    AND (deleted_at IS NULL OR seq > ${baseSeq})
    AND NOT (origin_device IS NOT DISTINCT FROM ${q.deviceId} AND seq > ${baseSeq})
    ${q.timeRange ? sql`AND (deleted_at IS NOT NULL OR ${inRange(sql, q.timeRange)})` : sql``}`;
}

// A timeless item matches any range.
const inRange = (sql: Sql, r: { startMs: number; endMs: number }) =>
  sql`((start_ms IS NULL OR start_ms < ${r.endMs}) AND (end_ms IS NULL OR end_ms > ${r.startMs} OR start_ms >= ${r.startMs}))`;

export function itemTx(sql: Sql, written: ItemRow[], counters: AccountCounters): ItemTx {
  return {
    async getItem(accountId, collectionId, id) {
      const [r] = await sql<ItemRow[]>`SELECT ${itemColumns(sql)} FROM items WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND id = ${id}`;
      return r;
    },
    async findLiveItemByUid(accountId, collectionId, uid) {
      const [r] = await sql<ItemRow[]>`SELECT ${itemColumns(sql)} FROM items WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND uid = ${uid} AND deleted_at IS NULL`;
      return r;
    },
    async findTwinCandidates(accountId, collectionId, uid, matchName) {
      if (uid === null && matchName === null) return [];
      // The UID's match first, then the name's; each lookup on its own partial index.
      const found = await sql<ItemRow[]>`SELECT ${itemColumns(sql)} FROM (
          SELECT *, 0 AS rank FROM items WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND uid = ${uid} AND deleted_at IS NULL
          UNION
          SELECT *, 1 AS rank FROM items WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND match_name = ${matchName} AND deleted_at IS NULL
        ) t ORDER BY rank`;
      return dedupe(found);
    },
    async putItem(r, writtenAt) {
      // An upsert that never moves a row to another account or collection: such an id is an error, and its history must not take this version.
      const upserted = await sql`INSERT INTO items (id, account_id, collection_id, uid, data, etag, seq, created_seq, created_by, origin_device, deleted_at, title, start_ms, end_ms, match_name, contact_keys)
        VALUES (${r.id}, ${r.accountId}, ${r.collectionId}, ${r.uid}, ${r.data}, ${r.etag}, ${r.seq}, ${r.createdSeq}, ${r.createdBy}, ${r.originDevice}, ${r.deletedAt}, ${r.title}, ${r.startMs}, ${r.endMs}, ${r.matchName}, ${sql.json(r.contactKeys)})
        ON CONFLICT (id) DO UPDATE SET uid = excluded.uid, data = excluded.data, etag = excluded.etag, seq = excluded.seq, created_seq = excluded.created_seq, created_by = excluded.created_by,
          origin_device = excluded.origin_device, deleted_at = excluded.deleted_at, title = excluded.title, start_ms = excluded.start_ms,
          end_ms = excluded.end_ms, match_name = excluded.match_name, contact_keys = excluded.contact_keys
        WHERE items.account_id = excluded.account_id AND items.collection_id = excluded.collection_id`.run();
      if (upserted === 0) throw new Error(`item ${r.id} belongs to another collection or account`);
      if (r.data !== null) await keepVersion(sql, r.id, r.seq, r.data, r.etag, writtenAt, r.originDevice);
      written.push(r);
    },
    async putItemVersion(itemId, seq, data, etag, writtenAt, originDevice) {
      await keepVersion(sql, itemId, seq, data, etag, writtenAt, originDevice);
    },
    async hadVersion(accountId, itemId, etag) {
      const rows = await sql`SELECT 1 FROM item_etags e JOIN items i ON i.id = e.item_id WHERE i.account_id = ${accountId} AND e.item_id = ${itemId} AND e.etag = ${etag}`;
      return rows.length > 0;
    },
    async getVersionHeld(accountId, itemId, deviceId, seq, baseSeq) {
      const [r] = await sql<{ data: string; seq: number; originDevice: string | null }[]>`SELECT
          CASE WHEN v.blob_hash IS NULL THEN v.data ELSE (SELECT convert_from(b.data, 'UTF8') FROM blobs b WHERE b.account_id = i.account_id AND b.hash = v.blob_hash) END AS data,
          v.seq, v.origin_device FROM item_versions v JOIN items i ON i.id = v.item_id
        WHERE i.account_id = ${accountId} AND v.item_id = ${itemId} AND (v.seq <= ${seq} OR (v.origin_device = ${deviceId} AND v.seq > ${baseSeq}))
        ORDER BY v.seq DESC LIMIT 1`;
      return r;
    },
    async listChanges(q) {
      return sql<ChangeRow[]>`SELECT id, data, etag, seq, created_seq, created_by, origin_device, deleted_at FROM items WHERE ${changesWhere(sql, q)} ORDER BY seq LIMIT ${q.limit}`;
    },
    async countChanges(q) {
      const [r] = await sql<{ n: number }[]>`SELECT count(*) AS n FROM (SELECT 1 FROM items WHERE ${changesWhere(sql, q)} LIMIT ${q.limit}) t`;
      return r?.n ?? 0;
    },
    async listChangeSizes(q) {
      return sql<{ seq: number; bytes: number }[]>`SELECT seq, coalesce(octet_length(data), 0) AS bytes FROM items WHERE ${changesWhere(sql, q)} ORDER BY seq LIMIT ${q.limit}`;
    },
    async listMembers(q) {
      return sql<MemberRow[]>`SELECT id, (SELECT name FROM dav_names WHERE dav_names.item_id = items.id) AS dav_name, etag, seq, deleted_at, ${q.withData ? sql`data` : sql`NULL::text`} AS data
        FROM items WHERE collection_id = ${q.collectionId} AND account_id = ${q.accountId} AND deleted_at IS NULL AND id > ${q.afterId}
        ${q.timeRange ? sql`AND ${inRange(sql, q.timeRange)}` : sql``}
        ORDER BY id LIMIT ${q.limit}`;
    },
    async listMemberChanges(q, withData) {
      return sql<MemberRow[]>`SELECT id, (SELECT name FROM dav_names WHERE dav_names.item_id = items.id) AS dav_name, etag, seq, deleted_at, ${withData ? sql`data` : sql`NULL::text`} AS data
        FROM items WHERE ${changesWhere(sql, q)} ORDER BY seq LIMIT ${q.limit}`;
    },
    async liveItemBytes(accountId, collectionId, id) {
      const [r] = await sql<{ bytes: number }[]>`SELECT octet_length(data) AS bytes FROM items WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND id = ${id} AND data IS NOT NULL`;
      return r?.bytes;
    },
    async purgeTombstones(accountId, beforeMs) {
      // A version can be a merge base only while some device may still hold it: until the version that
      // superseded it is older than the horizon.
      await sql`DELETE FROM item_versions v USING items i WHERE i.id = v.item_id AND i.account_id = ${accountId}
        AND EXISTS (SELECT 1 FROM item_versions n WHERE n.item_id = v.item_id AND n.seq > v.seq AND n.written_at < ${beforeMs})`;
      const [max] = await sql<{ m: number | null }[]>`SELECT max(seq) AS m FROM items WHERE account_id = ${accountId} AND deleted_at IS NOT NULL AND deleted_at < ${beforeMs}`;
      const floor = max?.m ?? null;
      if (floor !== null) {
        await sql`UPDATE accounts SET tombstone_floor = greatest(tombstone_floor, ${floor}) WHERE id = ${accountId}`;
        counters.forget(accountId);
      }
      // A device may echo a token as long as its sync state is valid, however old the token: only an
      // expired state or no state at all lets it go (as in the SQLite backend).
      await sql`DELETE FROM push_tokens p WHERE p.account_id = ${accountId} AND (
        EXISTS (SELECT 1 FROM sync_states s JOIN accounts a ON a.id = s.account_id
                WHERE s.account_id = p.account_id AND s.device_id = p.device_id AND s.collection_id = p.collection_id
                  AND greatest((s.checkpoint->>'seq')::bigint, (s.checkpoint->>'baseSeq')::bigint) < a.tombstone_floor)
        OR (p.issued_at < ${beforeMs} AND NOT EXISTS (SELECT 1 FROM sync_states s
                WHERE s.account_id = p.account_id AND s.device_id = p.device_id AND s.collection_id = p.collection_id)))`;
      let purged = 0;
      if (floor !== null) {
        await sql`INSERT INTO purged_items (account_id, collection_id, item_id, etag)
          SELECT account_id, collection_id, id, etag FROM items WHERE account_id = ${accountId} AND deleted_at IS NOT NULL AND deleted_at < ${beforeMs}
          ON CONFLICT DO NOTHING`;
        purged = await sql`DELETE FROM items WHERE account_id = ${accountId} AND deleted_at IS NOT NULL AND deleted_at < ${beforeMs}`.run();
      }
      // A kept mail part goes once its item is no longer live in its collection (docs/protocol.md §10.6).
      await sql`DELETE FROM mail_parts p WHERE p.account_id = ${accountId} AND NOT EXISTS (
        SELECT 1 FROM items i WHERE i.id = p.item_id AND i.collection_id = p.collection_id AND i.deleted_at IS NULL)`;
      // Mark and sweep (docs/design.md § Blobs): a blob stays while a kept version of the account's items, or a kept mail part, names it.
      await sql`DELETE FROM blobs b WHERE b.account_id = ${accountId} AND NOT EXISTS (
        SELECT 1 FROM item_versions v JOIN items i ON i.id = v.item_id WHERE v.blob_hash = b.hash AND i.account_id = b.account_id)
        AND NOT EXISTS (SELECT 1 FROM mail_parts p WHERE p.account_id = b.account_id AND p.blob_hash = b.hash)`;
      return purged;
    },
    async putBlob(accountId, bytes) {
      checkBlobSize(bytes);
      const hash = blobHash(bytes);
      await sql`INSERT INTO blobs (account_id, hash, data, bytes) VALUES (${accountId}, ${hash}, ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)}, ${bytes.byteLength}) ON CONFLICT DO NOTHING`;
      return hash;
    },
    async getBlob(accountId, hash) {
      const [r] = await sql<{ data: Buffer }[]>`SELECT data FROM blobs WHERE account_id = ${accountId} AND hash = ${hash}`;
      return r === undefined ? undefined : new Uint8Array(r.data);
    },
    async blobUsage(accountId) {
      const [r] = await sql<{ count: number; bytes: number }[]>`SELECT count(*)::int AS count, coalesce(sum(bytes), 0)::bigint AS bytes FROM blobs WHERE account_id = ${accountId}`;
      return { count: Number(r?.count ?? 0), bytes: Number(r?.bytes ?? 0) };
    },
    async collectionSeq(accountId, collectionId) {
      const [r] = await sql<{ m: number | null }[]>`SELECT max(seq) AS m FROM items WHERE collection_id = ${collectionId} AND account_id = ${accountId}`;
      return r?.m ?? 0;
    },
  };
}

/** A version in the item's history, its body inline or as a blob (blobs.ts versionBody), and its etag. */
async function keepVersion(sql: Sql, itemId: string, seq: number, data: string, etag: string, writtenAt: number, originDevice: string | null): Promise<void> {
  const body = versionBody(data);
  // Independent writes, sent together (one round trip).
  await Promise.all([
    ...(body.blob
      ? [sql`INSERT INTO blobs (account_id, hash, data, bytes) SELECT account_id, ${body.blob.hash}, ${body.blob.bytes}, ${body.blob.bytes.byteLength} FROM items WHERE id = ${itemId} ON CONFLICT DO NOTHING`.run()]
      : []),
    sql`INSERT INTO item_versions (item_id, seq, data, written_at, origin_device, blob_hash) VALUES (${itemId}, ${seq}, ${body.inline}, ${writtenAt}, ${originDevice}, ${body.blob?.hash ?? null})
      ON CONFLICT (item_id, seq) DO UPDATE SET data = excluded.data, written_at = excluded.written_at, origin_device = excluded.origin_device, blob_hash = excluded.blob_hash`.run(),
    sql`INSERT INTO item_etags (item_id, etag) VALUES (${itemId}, ${etag}) ON CONFLICT DO NOTHING`.run(),
  ]);
}

/** The union above lists an item matching both its UID and its name once per rank. */
function dedupe(rows: readonly ItemRow[]): ItemRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
}
