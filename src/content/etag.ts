import { createHash } from 'node:crypto';

/** The one etag function: a strong validator derived from the exact bytes of an item. */
export function etagOf(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('base64url').slice(0, 22);
}
