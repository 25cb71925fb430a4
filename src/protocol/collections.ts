import { z } from 'zod';
import { isName, isText } from './names.js';

/** The collection API: list and create the collections a sync request names. */

export const collectionKinds = ['contacts', 'events', 'tasks', 'notes'] as const;
export const collectionKindSchema = z.enum(collectionKinds);
export type CollectionKind = z.infer<typeof collectionKindSchema>;

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
 * `name` is the account-unique handle used by the CLI and in URLs: letters, digits, '.', '-' and '_'
 * (DAV clients name new collections with UUIDs, upper-case ones included).
 */
export const collectionNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const collectionNameRule = 'collection names are letters, digits, ".", "_" and "-" (up to 64), starting with a letter or digit';

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
