import { z } from 'zod';
import { limits } from '../core/limits.js';
import { ProtocolError, statusCodes } from './errors.js';
import { isName } from './names.js';

/**
 * The sync message (docs/design.md § The sync message): one request carries one or more collections, each with its sync key,
 * window, options and client commands; the response answers each collection with a new key, the
 * server's changes and a status per client command. JSON and XML are two encodings of these schemas.
 */

export const statusSchema = z.enum(statusCodes);

const serverIdSchema = z.string().min(1).max(128);
const clientIdSchema = z.string().min(1).max(256);
/** Sync keys are integers; 0 asks for an initial (or re-)initialization. */
export const syncKeySchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const clientCommandSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), clientId: clientIdSchema, data: z.string() }),
  /** `etag`: the version the edit or delete was made from, when the client knows it (§8); another one means a concurrent change. */
  z.object({ op: z.literal('change'), serverId: serverIdSchema, data: z.string(), etag: z.string().min(1).max(128).optional() }),
  z.object({ op: z.literal('delete'), serverId: serverIdSchema, etag: z.string().min(1).max(128).optional() }),
  z.object({ op: z.literal('fetch'), serverId: serverIdSchema }),
]);
export type ClientCommand = z.infer<typeof clientCommandSchema>;

export const syncOptionsSchema = z.object({
  /** Only events, tasks and notes that overlap [start, end) are sent. ISO 8601 date-times. */
  timeRange: z.object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) }).optional(),
  /** Item bodies longer than this many bytes are cut and flagged `truncated`; Fetch returns them whole. */
  bodyBytesMax: z.number().int().min(0).optional(),
});
export type SyncOptions = z.infer<typeof syncOptionsSchema>;

/** A closed range of push tokens (protocol/push.ts), `from` <= `to`. */
export const tokenRangeSchema = z
  .object({ from: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), to: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) })
  .refine((r) => r.from <= r.to, 'token range has from > to');
export type TokenRange = z.infer<typeof tokenRangeSchema>;

export const collectionRequestSchema = z.object({
  collectionId: serverIdSchema,
  syncKey: syncKeySchema,
  windowSize: z.number().int().min(1).optional(),
  getChanges: z.boolean().optional(),
  options: syncOptionsSchema.optional(),
  commands: z.array(clientCommandSchema).max(limits.commandsPerCollectionMax).optional(),
  /** Push tokens the device received for this collection and applied: those changes are not sent again. */
  tokens: z.array(tokenRangeSchema).max(limits.tokenRangesMax).optional(),
});
export type CollectionRequest = z.infer<typeof collectionRequestSchema>;

export const deviceSchema = z.object({
  /** Chosen by the client once and kept: it names the sync point. */
  id: z.string().min(1).max(128),
  name: z.string().max(200).refine(...isName).optional(),
});

export const syncRequestSchema = z.object({
  version: z.number().int(),
  device: deviceSchema,
  collections: z.array(collectionRequestSchema).min(1).max(limits.collectionsPerRequestMax),
});
export type SyncRequest = z.infer<typeof syncRequestSchema>;

/**
 * Refuses a sync request with more than `itemsPerRequestMax` adds and changes in all its collections,
 * before any command is carried out or its item read: 413 `bodyTooLarge`, and the client sends a smaller
 * batch (docs/protocol.md §6).
 */
export function assertItemsWithinRequest(request: SyncRequest): void {
  const items = request.collections.reduce((n, c) => n + (c.commands ?? []).filter((command) => command.op === 'add' || command.op === 'change').length, 0);
  if (items > limits.itemsPerRequestMax) {
    throw new ProtocolError('bodyTooLarge', `the request carries ${items} adds and changes; at most ${limits.itemsPerRequestMax} in all its collections together: send the rest in the next request`);
  }
}

const itemPayload = {
  serverId: serverIdSchema,
  data: z.string(),
  etag: z.string(),
  /** Present when options.bodyBytesMax cut the data; `size` is then the full length in bytes. */
  truncated: z.boolean().optional(),
  size: z.number().int().optional(),
};

export const serverCommandSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), ...itemPayload }),
  z.object({ op: z.literal('change'), ...itemPayload }),
  z.object({ op: z.literal('delete'), serverId: serverIdSchema }),
]);
export type ServerCommand = z.infer<typeof serverCommandSchema>;

export const commandResultSchema = z.object({
  /** Position of the command in the request's `commands` list. */
  index: z.number().int().min(0),
  op: z.enum(['add', 'change', 'delete', 'fetch']),
  status: statusSchema,
  clientId: clientIdSchema.optional(),
  serverId: serverIdSchema.optional(),
  etag: z.string().optional(),
  /**
   * For an ok add, change or delete: the account sequence of the server's version that is exactly what
   * the device sent (absent after a merge, whose result the device has yet to receive). Push notices
   * of older versions of the item are then old news.
   */
  seq: z.number().int().min(1).optional(),
  message: z.string().optional(),
});
export type CommandResult = z.infer<typeof commandResultSchema>;

export const fetchedItemSchema = z.object(itemPayload);
export type FetchedItem = z.infer<typeof fetchedItemSchema>;

export const collectionResponseSchema = z.object({
  collectionId: serverIdSchema,
  status: statusSchema,
  /** The key to send next time; 0 when the status is invalidSyncKey. */
  syncKey: syncKeySchema,
  /**
   * The account change sequence this answer brings the collection to: every change at or before it
   * has reached the device. Push notices at or before it are old news.
   */
  seq: z.number().int().min(0),
  moreAvailable: z.boolean(),
  commands: z.array(serverCommandSchema),
  results: z.array(commandResultSchema),
  fetched: z.array(fetchedItemSchema),
  message: z.string().optional(),
  /** Set when the server sees this device re-initializing this collection in a loop. */
  warning: z.enum(['reinitLoop']).optional(),
});
export type CollectionResponse = z.infer<typeof collectionResponseSchema>;

export const syncResponseSchema = z.object({
  version: z.number().int(),
  status: statusSchema,
  message: z.string().optional(),
  supportedVersions: z.array(z.number().int()).optional(),
  collections: z.array(collectionResponseSchema),
});
export type SyncResponse = z.infer<typeof syncResponseSchema>;
