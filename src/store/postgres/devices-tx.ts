import type { DeviceErrorRow, DeviceRow, StoreTx, SyncStateRow } from '../store.js';
import type { Sql } from './sql.js';

/** Sync points: devices, their sync states and keys, face state, errors and activity. */
export type DeviceTx = Pick<
  StoreTx,
  | 'getDevice'
  | 'putDevice'
  | 'listDevices'
  | 'countDevices'
  | 'setDevicePriorities'
  | 'deleteDevice'
  | 'listSyncStates'
  | 'addDeviceError'
  | 'listDeviceErrors'
  | 'addActivity'
  | 'listActivity'
  | 'purgeActivity'
  | 'getFaceState'
  | 'putFaceState'
  | 'getPointKey'
  | 'setPointKey'
  | 'getSyncState'
  | 'putSyncState'
>;

const deviceColumns = (sql: Sql) => sql`account_id, id, name, protocol, priority, created_at, last_seen_at, token_id`;
const syncStateColumns = (sql: Sql) =>
  sql`account_id, device_id, collection_id, sync_key, checkpoint, previous, last_sent_key, last_results, reinit_times, updated_at`;

export function deviceTx(sql: Sql): DeviceTx {
  return {
    async getDevice(accountId, id) {
      const [r] = await sql<DeviceRow[]>`SELECT ${deviceColumns(sql)} FROM devices WHERE account_id = ${accountId} AND id = ${id}`;
      return r;
    },
    async putDevice(r) {
      await sql`INSERT INTO devices (account_id, id, name, protocol, priority, created_at, last_seen_at, token_id)
        VALUES (${r.accountId}, ${r.id}, ${r.name}, ${r.protocol}, ${r.priority}, ${r.createdAt}, ${r.lastSeenAt}, ${r.tokenId})
        ON CONFLICT (account_id, id) DO UPDATE SET name = excluded.name, protocol = excluded.protocol,
          priority = excluded.priority, last_seen_at = excluded.last_seen_at, token_id = excluded.token_id`;
    },
    async listDevices(accountId) {
      return sql<DeviceRow[]>`SELECT ${deviceColumns(sql)} FROM devices WHERE account_id = ${accountId} ORDER BY priority, created_at, id`;
    },
    async countDevices(accountId) {
      const rows = await sql<Array<{ protocol: string; n: number }>>`SELECT protocol, COUNT(*)::int AS n FROM devices WHERE account_id = ${accountId} GROUP BY protocol`;
      return Object.fromEntries(rows.map((r) => [r.protocol, r.n]));
    },
    async setDevicePriorities(accountId, ordered) {
      if (ordered.length === 0) return;
      const ids = [...ordered];
      await sql`UPDATE devices SET priority = p.ord - 1 FROM unnest(${ids}::text[]) WITH ORDINALITY AS p(id, ord)
        WHERE devices.account_id = ${accountId} AND devices.id = p.id`;
    },
    async deleteDevice(accountId, id) {
      // Its push counter stays (store.ts), its push tokens and face state go.
      await sql`DELETE FROM push_tokens WHERE account_id = ${accountId} AND device_id = ${id}`;
      await sql`DELETE FROM face_states WHERE account_id = ${accountId} AND device_id = ${id}`;
      return await sql`DELETE FROM devices WHERE account_id = ${accountId} AND id = ${id}`.run() > 0;
    },
    async listSyncStates(accountId, deviceId) {
      return sql<SyncStateRow[]>`SELECT ${syncStateColumns(sql)} FROM sync_states WHERE account_id = ${accountId} AND device_id = ${deviceId} ORDER BY collection_id`;
    },
    async addDeviceError(accountId, deviceId, e, keep) {
      await sql`INSERT INTO device_errors (account_id, device_id, at, status, message) VALUES (${accountId}, ${deviceId}, ${e.at}, ${e.status}, ${e.message})`;
      await sql`DELETE FROM device_errors WHERE account_id = ${accountId} AND device_id = ${deviceId} AND id NOT IN
        (SELECT id FROM device_errors WHERE account_id = ${accountId} AND device_id = ${deviceId} ORDER BY at DESC, id DESC LIMIT ${keep})`;
    },
    async listDeviceErrors(accountId, deviceId) {
      return sql<DeviceErrorRow[]>`SELECT at, status, message FROM device_errors WHERE account_id = ${accountId} AND device_id = ${deviceId} ORDER BY at DESC, id DESC`;
    },
    async addActivity(accountId, deviceId, day, changes) {
      await sql`INSERT INTO sync_activity (account_id, device_id, day, changes) VALUES (${accountId}, ${deviceId}, ${day}, ${changes})
        ON CONFLICT (account_id, day, device_id) DO UPDATE SET changes = sync_activity.changes + excluded.changes`;
    },
    async listActivity(accountId, fromDay) {
      return sql<{ deviceId: string; day: string; changes: number }[]>`SELECT device_id, day, changes FROM sync_activity WHERE account_id = ${accountId} AND day >= ${fromDay} ORDER BY day, device_id`;
    },
    async purgeActivity(accountId, beforeDay) {
      await sql`DELETE FROM sync_activity WHERE account_id = ${accountId} AND day < ${beforeDay}`;
    },
    async getFaceState(accountId, deviceId, key) {
      const [r] = await sql<{ value: string }[]>`SELECT value FROM face_states WHERE account_id = ${accountId} AND device_id = ${deviceId} AND key = ${key}`;
      return r?.value;
    },
    async putFaceState(accountId, deviceId, key, value) {
      if (value === undefined) await sql`DELETE FROM face_states WHERE account_id = ${accountId} AND device_id = ${deviceId} AND key = ${key}`;
      else {
        await sql`INSERT INTO face_states (account_id, device_id, key, value) VALUES (${accountId}, ${deviceId}, ${key}, ${value})
          ON CONFLICT (account_id, device_id, key) DO UPDATE SET value = excluded.value`;
      }
    },
    async getPointKey(accountId, deviceId, collectionId) {
      const [r] = await sql<{ syncKey: number }[]>`SELECT sync_key FROM point_keys WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId}`;
      return r?.syncKey ?? 0;
    },
    async setPointKey(accountId, deviceId, collectionId, syncKey) {
      await sql`INSERT INTO point_keys (account_id, device_id, collection_id, sync_key) VALUES (${accountId}, ${deviceId}, ${collectionId}, ${syncKey})
        ON CONFLICT (account_id, device_id, collection_id) DO UPDATE SET sync_key = excluded.sync_key`;
    },
    async getSyncState(accountId, deviceId, collectionId) {
      const [r] = await sql<SyncStateRow[]>`SELECT ${syncStateColumns(sql)} FROM sync_states WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId}`;
      return r;
    },
    async putSyncState(r) {
      await sql`INSERT INTO sync_states (account_id, device_id, collection_id, sync_key, checkpoint, previous, last_sent_key, last_results, reinit_times, updated_at)
        VALUES (${r.accountId}, ${r.deviceId}, ${r.collectionId}, ${r.syncKey}, ${sql.json(r.checkpoint as never)}, ${r.previous === null ? null : sql.json(r.previous as never)},
          ${r.lastSentKey}, ${sql.json(r.lastResults as never)}, ${sql.json(r.reinitTimes)}, ${r.updatedAt})
        ON CONFLICT (account_id, device_id, collection_id) DO UPDATE SET sync_key = excluded.sync_key, checkpoint = excluded.checkpoint, previous = excluded.previous,
          last_sent_key = excluded.last_sent_key, last_results = excluded.last_results, reinit_times = excluded.reinit_times, updated_at = excluded.updated_at`;
    },
  };
}
