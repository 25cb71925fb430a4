import type { CollectionResponse } from '../protocol/sync.js';
import type { DeviceErrorRow, DeviceRow, Store, StoreTx } from '../store/store.js';

/**
 * Sync health (docs/design.md § The web app; the web app's devices page): what each sync point has waiting,
 * what went wrong for it lately, and how many changes it synced per day. Written inside the exchange's
 * own transaction, so a failed exchange records nothing but its error.
 */

/** Errors kept per device; older ones are dropped as new ones come. */
export const deviceErrorsKept = 10;
/**
 * Pending changes are counted up to this many per collection: the count runs inside a store
 * transaction, and must stay cheap for a device that has been away for months.
 */
export const pendingCountedMax = 1000;
/** Days of activity kept for the chart. */
export const activityDaysKept = 90;

export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Statuses of a client command that mean "this item failed" (a lost conflict is not a failure). */
const succeeded = new Set(['ok', 'conflict']);

/** Counts what the exchange synced and keeps what failed, per collection and per item. */
export async function noteExchange(tx: StoreTx, accountId: string, deviceId: string, now: number, collections: readonly CollectionResponse[]): Promise<void> {
  let changes = 0;
  for (const c of collections) {
    if (c.status !== 'ok') {
      await tx.addDeviceError(accountId, deviceId, { at: now, status: c.status, message: `collection ${c.collectionId}: ${c.message ?? c.status}` }, deviceErrorsKept);
      continue;
    }
    changes += c.commands.length;
    for (const r of c.results) {
      if (succeeded.has(r.status)) {
        if (r.status === 'ok' && r.op !== 'fetch') changes++;
        continue;
      }
      const item = r.clientId ?? r.serverId ?? '?';
      await tx.addDeviceError(accountId, deviceId, { at: now, status: r.status, message: `${r.op} ${item}: ${r.message ?? r.status}` }, deviceErrorsKept);
    }
  }
  if (changes > 0) await tx.addActivity(accountId, deviceId, utcDay(now), changes);
}

export interface DeviceHealth {
  device: DeviceRow;
  /** Changes waiting for the device over the collections it syncs; null for a point the server cannot count for (DAV clients ask by token). */
  pending: number | null;
  errors: DeviceErrorRow[];
}

export function listDeviceHealth(store: Store, accountId: string): Promise<DeviceHealth[]> {
  return store.transaction(async (tx) => {
    const result: DeviceHealth[] = [];
    for (const device of await tx.listDevices(accountId)) {
      const states = await tx.listSyncStates(accountId, device.id);
      let pending: number | null = states.length === 0 ? null : 0;
      for (const s of states) {
        pending = (pending ?? 0) + (await tx.countChanges({ accountId, collectionId: s.collectionId, deviceId: device.id, checkpoint: s.checkpoint, limit: pendingCountedMax }));
      }
      result.push({ device, pending, errors: await tx.listDeviceErrors(accountId, device.id) });
    }
    return result;
  });
}

export interface DailyActivity {
  /** UTC days, oldest first. */
  days: string[];
  total: number[];
  devices: Array<{ id: string; name: string; counts: number[] }>;
}

/** Changes synced per UTC day over the last `dayCount` days, for the account and each device. */
export function dailyActivity(store: Store, accountId: string, now: number, dayCount: number): Promise<DailyActivity> {
  const days = Array.from({ length: dayCount }, (_, i) => utcDay(now - (dayCount - 1 - i) * 86_400_000));
  return store.transaction(async (tx) => {
    const index = new Map(days.map((d, i) => [d, i]));
    const names = new Map((await tx.listDevices(accountId)).map((d) => [d.id, d.name]));
    const total = days.map(() => 0);
    const perDevice = new Map<string, number[]>();
    for (const row of await tx.listActivity(accountId, days[0] as string)) {
      const i = index.get(row.day);
      if (i === undefined) continue;
      total[i] = (total[i] ?? 0) + row.changes;
      // Forgotten devices still count in the total, but have no series of their own.
      if (!names.has(row.deviceId)) continue;
      const counts = perDevice.get(row.deviceId) ?? days.map(() => 0);
      counts[i] = (counts[i] ?? 0) + row.changes;
      perDevice.set(row.deviceId, counts);
    }
    return { days, total, devices: [...names].map(([id, name]) => ({ id, name, counts: perDevice.get(id) ?? days.map(() => 0) })) };
  });
}
