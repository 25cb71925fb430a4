import { z } from 'zod';

/** Conflict records: every version that lost a conflict, kept so the user can restore it. */

export const conflictSchema = z.object({
  id: z.string(),
  collectionId: z.string(),
  itemId: z.string(),
  /** The losing version, byte for byte. */
  data: z.string(),
  /** Device whose version lost / won; absent when it was the server's own version. */
  lostBy: z.string().optional(),
  wonBy: z.string().optional(),
  reason: z.enum(['priority', 'deletedElsewhere', 'deleteLost', 'restore']),
  createdAt: z.iso.datetime(),
  restoredAt: z.iso.datetime().optional(),
});
export type Conflict = z.infer<typeof conflictSchema>;

export const conflictListSchema = z.object({ conflicts: z.array(conflictSchema) });
export type ConflictList = z.infer<typeof conflictListSchema>;

export const restoredSchema = z.object({ itemId: z.string(), etag: z.string() });
export type Restored = z.infer<typeof restoredSchema>;
