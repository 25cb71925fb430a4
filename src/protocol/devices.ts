import { z } from 'zod';

/** The device API: sync points of the account and their priority for conflict resolution. */

export const deviceInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  protocol: z.string(),
  /** 0 is the highest; a conflict between two devices goes to the one with the lower number. */
  priority: z.number().int(),
  lastSeenAt: z.iso.datetime(),
});
export type DeviceInfo = z.infer<typeof deviceInfoSchema>;

export const deviceListSchema = z.object({ devices: z.array(deviceInfoSchema) });
export type DeviceList = z.infer<typeof deviceListSchema>;

/** Devices named here come first, in this order; the others keep their relative order after them. */
export const setPrioritySchema = z.object({ order: z.array(z.string().min(1).max(128)).min(1).max(1000) });
export type SetPriority = z.infer<typeof setPrioritySchema>;
