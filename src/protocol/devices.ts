import { z } from 'zod';

/** The device API: sync points of the account and their priority for conflict resolution. */

export const deviceInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  protocol: z.string(),
  /** 0 is the highest; a conflict between two devices goes to the one with the lower number. */
  priority: z.number().int(),
  /** When it last synced (any exchange, or any DAV write). */
  lastSeenAt: z.iso.datetime(),
  /** Whether it holds a push channel right now. */
  pushConnected: z.boolean(),
  /**
   * Changes waiting for it over the collections it syncs (counted up to 1,000 per collection); absent
   * for a sync point the server cannot count for (DAV clients ask for changes by sync token).
   */
  pending: z.number().int().min(0).optional(),
  /** Its most recent failures, newest first (at most 10). */
  errors: z.array(z.object({ at: z.iso.datetime(), status: z.string(), message: z.string() })),
});
export type DeviceInfo = z.infer<typeof deviceInfoSchema>;

export const deviceListSchema = z.object({ devices: z.array(deviceInfoSchema) });
export type DeviceList = z.infer<typeof deviceListSchema>;

/** Devices named here come first, in this order; the others keep their relative order after them. */
export const setPrioritySchema = z.object({ order: z.array(z.string().min(1).max(128)).min(1).max(1000) });
export type SetPriority = z.infer<typeof setPrioritySchema>;

/** Changes synced per UTC day (`GET /api/v1/stats/daily`): sent to a device plus received from it. */
export const dailyActivitySchema = z.object({
  days: z.array(z.string()),
  total: z.array(z.number().int()),
  devices: z.array(z.object({ id: z.string(), name: z.string(), counts: z.array(z.number().int()) })),
});
export type DailyActivityInfo = z.infer<typeof dailyActivitySchema>;

/**
 * `POST /api/v1/sync-now`: how many connected devices were asked to sync, and the ids of the account's
 * server-driven sync points that were run (online) or could not be reached (offline).
 */
export const syncNowSchema = z.object({
  asked: z.number().int(),
  serverDriven: z.object({ online: z.array(z.string()), offline: z.array(z.string()) }),
});
export type SyncNow = z.infer<typeof syncNowSchema>;
