/**
 * The native protocol version. Bump it for any change to the wire schemas in this folder, add a line
 * below saying why, and update the schema hash in version.test.ts.
 *
 * History:
 *   1 — first version: sync envelope with sync keys, window, get-changes, options, add/change/delete/fetch.
 */
export const protocolVersion = 1;
export const supportedVersions: readonly number[] = [1];
