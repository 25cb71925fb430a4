import { z } from 'zod';
import { deviceSchema } from './sync.js';

/**
 * The mail API beyond sync (docs/protocol.md §10.5): what a device asks of the account's mail server
 * through the server.
 */

/** POST /api/v1/collections/{collectionId}/items/{itemId}/move: the message to another folder of its mail account. */
export const moveMessageSchema = z.object({
  device: deviceSchema,
  /** The destination collection's id. */
  to: z.string().min(1).max(128),
});
export type MoveMessage = z.infer<typeof moveMessageSchema>;

/** The answer: the message's id in the destination, absent when it arrives there with the destination's next sync. */
export const movedMessageSchema = z.object({ collectionId: z.string(), serverId: z.string().optional() });
export type MovedMessage = z.infer<typeof movedMessageSchema>;
