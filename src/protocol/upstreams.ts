import { z } from 'zod';
import { limits } from '../core/limits.js';
import { collectionKindSchema, collectionNamePattern, collectionNameRule } from './collections.js';

/**
 * The upstream API (docs/protocol.md § 16.1): the account's CardDAV/CalDAV and IMAP accounts elsewhere, which the
 * server keeps in two-way sync, each a server-driven sync point with a device of its own. Never a password.
 */

export const upstreamInfoSchema = z.object({
  id: z.string(),
  /** `dav` (CardDAV/CalDAV) or `imap`. */
  kind: z.enum(['dav', 'imap']),
  url: z.string(),
  /** An IMAP upstream's SMTP submission server. */
  submissionUrl: z.string().optional(),
  username: z.string(),
  /** Its sync point on the devices page (§16): `upstream-<id>`. */
  deviceId: z.string(),
  /** That device's priority, 0 first (§13.3). */
  priority: z.number().int().optional(),
  createdAt: z.iso.datetime(),
  /** `new` before its first run, then `ok` or `error` by its last run. */
  state: z.enum(['new', 'ok', 'error']),
  lastRunAt: z.iso.datetime().optional(),
  /** What stopped its last run, in words a person can act on. */
  lastError: z.string().optional(),
  /** When the server runs it next on its own; absent when it runs only when asked. */
  nextRunAt: z.iso.datetime().optional(),
  /** Failed runs in a row (each doubles the wait before the next). */
  failures: z.number().int().min(0),
  /** Changes waiting for it over its collections (counted up to 1,000 per collection); absent before its first run. */
  pending: z.number().int().min(0).optional(),
  /** Which upstream collection feeds which of the account's collections. */
  collections: z.array(z.object({ url: z.string(), collectionId: z.string(), collectionName: z.string(), kind: collectionKindSchema })),
});
export type UpstreamInfo = z.infer<typeof upstreamInfoSchema>;

export const upstreamListSchema = z.object({ upstreams: z.array(upstreamInfoSchema) });
export type UpstreamList = z.infer<typeof upstreamListSchema>;

/** POST /api/v1/upstreams. The hub checks the URL and the characters of the user name and password (hub/upstreams.ts). */
export const addUpstreamSchema = z.object({
  /** Default `dav`. */
  kind: z.enum(['dav', 'imap']).optional(),
  url: z.string().min(1).max(limits.upstreamUrlCharsMax),
  /** An IMAP upstream's SMTP submission server (smtps:// or smtp://). */
  submissionUrl: z.string().min(1).max(limits.upstreamUrlCharsMax).optional(),
  username: z.string().min(1).max(limits.upstreamCredentialCharsMax),
  password: z.string().min(1).max(limits.upstreamCredentialCharsMax),
  /** Map every upstream collection that can feed it to this existing collection, instead of making collections. */
  collection: z.string().regex(collectionNamePattern, collectionNameRule).optional(),
});
export type AddUpstreamRequest = z.infer<typeof addUpstreamSchema>;

/** POST /api/v1/upstreams/{id}/sync: whether it ran (false: a run of it was under way, on any process), and the upstream after. */
export const upstreamRunSchema = z.object({ ran: z.boolean(), upstream: upstreamInfoSchema });
export type UpstreamRunInfo = z.infer<typeof upstreamRunSchema>;
