import { createHash } from 'node:crypto';
import { limits } from '../core/limits.js';

/**
 * Blobs (docs/design.md § Blobs): bytes kept once per account under their SHA-256, in the store's own
 * backend. Both backends share these rules.
 */

/** A blob's address: the SHA-256 of its bytes, in lowercase hex. */
export const blobHash = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Refuses a blob over limits.blobBytesMax before anything is hashed or sent. */
export function checkBlobSize(bytes: Uint8Array): void {
  if (bytes.byteLength > limits.blobBytesMax) throw new Error(`a blob is at most ${limits.blobBytesMax} bytes; this one is ${bytes.byteLength}`);
}

/**
 * How an item version's body is kept in its history: inline, or, from limits.versionBlobBytesMin up, as
 * the blob of its UTF-8 bytes, which the version row names (its inline text is then empty). Versions
 * with the same body (an item moved, restored, or written again unchanged) share one blob.
 */
export function versionBody(data: string): { inline: string; blob: { hash: string; bytes: Buffer } | null } {
  // A UTF-16 unit is at most 3 UTF-8 bytes: short texts are inline without being measured.
  if (data.length * 3 < limits.versionBlobBytesMin || Buffer.byteLength(data, 'utf8') < limits.versionBlobBytesMin) return { inline: data, blob: null };
  const bytes = Buffer.from(data, 'utf8');
  checkBlobSize(bytes);
  return { inline: '', blob: { hash: blobHash(bytes), bytes } };
}
