import { RequestRefusedError } from '../../../src/sdk/transport.js';

/**
 * An error of a mail action in words, with the server's status (docs/protocol.md §10.6, §10.7): a refused
 * send, say, names what the mail server said, and the status tells a retry (unavailable) from a refusal.
 */
export function describeError(err: unknown): string {
  if (err instanceof RequestRefusedError) return `${err.message} (HTTP ${err.httpStatus} ${err.status})`;
  return err instanceof Error ? err.message : String(err);
}
