import { z } from 'zod';
import { isName, isText } from './names.js';

/** The collection API: list and create the collections a sync request names. */

/**
 * What a collection holds. The built-in kinds are contacts, events, tasks and notes; a server may hold
 * more (docs/design.md § Kinds), so a client takes a kind it does not know for one it does not sync
 * rather than an error. A kind name is 1 to 32 lowercase letters, digits and hyphens, starting with a letter.
 */
export const kindNamePattern = /^[a-z][a-z0-9-]{0,31}$/;
export const kindNameRule = 'kind names are 1 to 32 lowercase letters, digits and hyphens, starting with a letter';
export const collectionKindSchema = z.string().regex(kindNamePattern, kindNameRule);
export type CollectionKind = string;

export const collectionSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: collectionKindSchema,
  displayName: z.string(),
  color: z.string().optional(),
  description: z.string().optional(),
  /** On a tasks collection that holds the tasks of a CalDAV calendar: that calendar's id (docs/protocol.md §3). */
  calendarId: z.string().optional(),
});
export type Collection = z.infer<typeof collectionSchema>;

export const collectionListSchema = z.object({ collections: z.array(collectionSchema) });
export type CollectionList = z.infer<typeof collectionListSchema>;

/**
 * `name` is the account-unique handle of a collection, used by the CLI and, percent-encoded, as its path
 * segment in DAV URLs: 1 to 128 characters, none of them "/" or a character § Names forbids, and not "."
 * or ".." (a URL reads those as path steps). DAV clients name new collections with UUIDs, or after what
 * the user typed, spaces and accents included (docs/protocol.md §3).
 */
export const collectionNamePattern = /^(?!\.\.?$)[^/\u0000-\u001f\u007f-\u009f\ufffe\uffff\ud800-\udfff]{1,128}$/u;
export const collectionNameRule = 'collection names are 1 to 128 characters, without "/" or control characters, and not "." or ".."';

export const createCollectionSchema = z.object({
  name: z.string().regex(collectionNamePattern, collectionNameRule),
  kind: collectionKindSchema,
  displayName: z.string().min(1).max(200).refine(...isName).optional(),
  color: z.string().regex(/^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/).optional(),
  description: z.string().max(2000).refine(...isText).optional(),
});
export type CreateCollection = z.infer<typeof createCollectionSchema>;

/** PATCH /api/v1/collections/{id}: fields to change; null clears the colour or description. */
export const updateCollectionSchema = z
  .object({
    displayName: createCollectionSchema.shape.displayName.unwrap(),
    color: createCollectionSchema.shape.color.unwrap().nullable(),
    description: createCollectionSchema.shape.description.unwrap().nullable(),
  })
  .partial()
  .strict();
export type UpdateCollection = z.infer<typeof updateCollectionSchema>;

export const errorBodySchema = z.object({
  version: z.number().int(),
  status: z.string(),
  message: z.string(),
  supportedVersions: z.array(z.number().int()).optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  /** Validation stopped at the first limits.errorIssuesMax problems; there may be more. */
  issuesTruncated: z.literal(true).optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
