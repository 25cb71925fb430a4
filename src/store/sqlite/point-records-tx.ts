import type { PointRecord } from '../../protocol/server-point.js';
import type { OpenDatabase } from '../../sqlite/open.js';
import { recordsLeft } from '../point-records.js';
import type { StoreTx } from '../store.js';

/** Server-driven sync points' cursors and records (docs/design.md § Server-driven sync points), every statement scoped to its account and point. */
export type PointRecordTx = Pick<StoreTx, 'getPointCursor' | 'setPointCursor' | 'pointRecordsByServer' | 'pointRecordsByRemote' | 'listPointRecords' | 'putPointRecords' | 'deletePointRecord'>;

interface RecordDbRow {
  collection_id: string;
  server_id: string;
  remote_id: string;
  remote_etag: string | null;
  held_etag: string;
}

const toRecord = (r: RecordDbRow): PointRecord => ({ serverId: r.server_id, remoteId: r.remote_id, remoteEtag: r.remote_etag, heldEtag: r.held_etag });
const columns = 'collection_id, server_id, remote_id, remote_etag, held_etag';

export function pointRecordTx({ prepare: q }: OpenDatabase): PointRecordTx {
  const s = {
    cursor: q<[string, string, string], { cursor: string | null }>('SELECT cursor FROM point_keys WHERE account_id = ? AND device_id = ? AND collection_id = ?'),
    setCursor: q(`INSERT INTO point_keys (account_id, device_id, collection_id, sync_key, cursor) VALUES (?, ?, ?, 0, ?)
                  ON CONFLICT (account_id, device_id, collection_id) DO UPDATE SET cursor = excluded.cursor`),
    // json_each keeps one statement for any number of ids (each list is bounded by its caller).
    byServer: q<[string, string, string, string], RecordDbRow>(`SELECT ${columns} FROM point_records
      WHERE account_id = ? AND device_id = ? AND collection_id = ? AND server_id IN (SELECT value FROM json_each(?))`),
    byRemote: q<[string, string, string], RecordDbRow>(`SELECT ${columns} FROM point_records
      WHERE account_id = ? AND device_id = ? AND remote_id IN (SELECT value FROM json_each(?))`),
    stale: q<[string, string, string, number], RecordDbRow>(`SELECT ${columns} FROM point_records
      WHERE account_id = ? AND device_id = ? AND collection_id = ? AND remote_etag IS NULL ORDER BY remote_id LIMIT ?`),
    all: q<[string, string, string, number], RecordDbRow>(`SELECT ${columns} FROM point_records
      WHERE account_id = ? AND device_id = ? AND collection_id = ? ORDER BY remote_id LIMIT ?`),
    displaced: q<[string, string, string, number], RecordDbRow>(`SELECT ${columns} FROM point_records
      WHERE account_id = ? AND device_id = ? AND collection_id = ? AND server_id LIKE '~%' ORDER BY remote_id LIMIT ?`),
    // Two statements rather than one with OR: each uses its key.
    forgetRemotes: q('DELETE FROM point_records WHERE account_id = ? AND device_id = ? AND remote_id IN (SELECT value FROM json_each(?))'),
    forgetItems: q('DELETE FROM point_records WHERE account_id = ? AND device_id = ? AND collection_id = ? AND server_id IN (SELECT value FROM json_each(?))'),
    // The point is a device of the account: a record for another account's collection is not written.
    put: q(`INSERT INTO point_records (account_id, device_id, collection_id, server_id, remote_id, remote_etag, held_etag)
      SELECT @accountId, @deviceId, @collectionId, r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3 FROM json_each(@records) r
      WHERE EXISTS (SELECT 1 FROM collections WHERE account_id = @accountId AND id = @collectionId)`),
    delete: q('DELETE FROM point_records WHERE account_id = ? AND device_id = ? AND remote_id = ?'),
  };
  return {
    async getPointCursor(accountId, deviceId, collectionId) {
      return s.cursor.get(accountId, deviceId, collectionId)?.cursor ?? null;
    },
    async setPointCursor(accountId, deviceId, collectionId, cursor) {
      s.setCursor.run(accountId, deviceId, collectionId, cursor);
    },
    async pointRecordsByServer(accountId, deviceId, collectionId, serverIds) {
      return serverIds.length === 0 ? [] : s.byServer.all(accountId, deviceId, collectionId, JSON.stringify(serverIds)).map(toRecord);
    },
    async pointRecordsByRemote(accountId, deviceId, remoteIds) {
      return remoteIds.length === 0 ? [] : s.byRemote.all(accountId, deviceId, JSON.stringify(remoteIds)).map((r) => ({ ...toRecord(r), collectionId: r.collection_id }));
    },
    async listPointRecords(accountId, deviceId, collectionId, which, max) {
      return s[which].all(accountId, deviceId, collectionId, max).map(toRecord);
    },
    async putPointRecords(accountId, deviceId, collectionId, records) {
      const left = recordsLeft(records);
      if (left.length === 0) return;
      s.forgetRemotes.run(accountId, deviceId, JSON.stringify(left.map((r) => r.remoteId)));
      s.forgetItems.run(accountId, deviceId, collectionId, JSON.stringify(left.map((r) => r.serverId)));
      const rows = JSON.stringify(left.map((r) => [r.serverId, r.remoteId, r.remoteEtag, r.heldEtag]));
      if (s.put.run({ accountId, deviceId, collectionId, records: rows }).changes !== left.length) throw new Error(`collection ${collectionId} is not account ${accountId}'s`);
    },
    async deletePointRecord(accountId, deviceId, remoteId) {
      s.delete.run(accountId, deviceId, remoteId);
    },
  };
}
