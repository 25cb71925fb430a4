/**
 * The native protocol version. Bump it for any change to the wire schemas in this folder, add a line
 * below saying why, and update the schema hash in version.test.ts.
 *
 * History:
 *   1 — first version: sync envelope with sync keys, window, get-changes, options, add/change/delete/fetch.
 */
import { ProtocolError } from './errors.js';

export const protocolVersion = 1;
export const supportedVersions: readonly number[] = [1];

/**
 * Refuse a message from a version this server does not speak. Checked before the message is
 * validated, since another version may have another shape.
 */
export function assertSupportedVersion(version: unknown): void {
  if (typeof version === 'number' && !supportedVersions.includes(version)) {
    throw new ProtocolError('unsupportedVersion', `protocol version ${version} is not supported`, { supportedVersions });
  }
}
