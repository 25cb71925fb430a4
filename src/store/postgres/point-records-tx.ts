import type { PointRecord } from '../../protocol/server-point.js';
import { recordsLeft } from '../point-records.js';
import type { StoreTx } from '../store.js';
import type { Sql } from './sql.js';

/** Server-driven sync points' cursors and records (docs/design.md § Server-driven sync points), every statement scoped to its account and point. */
export type PointRecordTx = Pick<StoreTx, 'getPointCursor' | 'setPointCursor' | 'pointRecordsByServer' | 'pointRecordsByRemote' | 'listPointRecords' | 'putPointRecords' | 'deletePointRecord'>;

const columns = (sql: Sql) => sql`server_id, remote_id, remote_etag, held_etag`;

export function pointRecordTx(sql: Sql): PointRecordTx {
  return {
    async getPointCursor(accountId, deviceId, collectionId) {
      const [r] = await sql<{ cursor: string | null }[]>`SELECT cursor FROM point_keys WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId}`;
      return r?.cursor ?? null;
    },
    async setPointCursor(accountId, deviceId, collectionId, cursor) {
      await sql`INSERT INTO point_keys (account_id, device_id, collection_id, sync_key, cursor) VALUES (${accountId}, ${deviceId}, ${collectionId}, 0, ${cursor})
        ON CONFLICT (account_id, device_id, collection_id) DO UPDATE SET cursor = excluded.cursor`;
    },
    async pointRecordsByServer(accountId, deviceId, collectionId, serverIds) {
      if (serverIds.length === 0) return [];
      return sql<PointRecord[]>`SELECT ${columns(sql)} FROM point_records
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId} AND server_id = ANY(${[...serverIds]}::text[])`;
    },
    async pointRecordsByRemote(accountId, deviceId, remoteIds) {
      if (remoteIds.length === 0) return [];
      return sql<Array<PointRecord & { collectionId: string }>>`SELECT collection_id, ${columns(sql)} FROM point_records
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND remote_id = ANY(${[...remoteIds]}::text[])`;
    },
    async listPointRecords(accountId, deviceId, collectionId, which, max) {
      const only = which === 'stale' ? sql`AND remote_etag IS NULL` : which === 'displaced' ? sql`AND server_id LIKE '~%'` : sql``;
      return sql<PointRecord[]>`SELECT ${columns(sql)} FROM point_records WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId}
        ${only} ORDER BY remote_id LIMIT ${max}`;
    },
    async putPointRecords(accountId, deviceId, collectionId, records) {
      const left = recordsLeft(records);
      if (left.length === 0) return;
      const [serverIds, remoteIds] = [left.map((r) => r.serverId), left.map((r) => r.remoteId)];
      await sql`DELETE FROM point_records WHERE account_id = ${accountId} AND device_id = ${deviceId} AND remote_id = ANY(${remoteIds}::text[])`;
      await sql`DELETE FROM point_records WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId} AND server_id = ANY(${serverIds}::text[])`;
      // The point is a device of the account: a record for another account's collection is not written.
      const written = await sql`INSERT INTO point_records (account_id, device_id, collection_id, server_id, remote_id, remote_etag, held_etag)
        SELECT ${accountId}, ${deviceId}, ${collectionId}, r.server_id, r.remote_id, r.remote_etag, r.held_etag
        FROM unnest(${serverIds}::text[], ${remoteIds}::text[], ${left.map((r) => r.remoteEtag)}::text[], ${left.map((r) => r.heldEtag)}::text[]) AS r(server_id, remote_id, remote_etag, held_etag)
        WHERE EXISTS (SELECT 1 FROM collections WHERE account_id = ${accountId} AND id = ${collectionId})`.run();
      if (written !== left.length) throw new Error(`collection ${collectionId} is not account ${accountId}'s`);
    },
    async deletePointRecord(accountId, deviceId, remoteId) {
      await sql`DELETE FROM point_records WHERE account_id = ${accountId} AND device_id = ${deviceId} AND remote_id = ${remoteId}`;
    },
  };
}
