import type { Hub } from '../../hub/hub.js';
import { assertItemsWithinRequest, syncRequestSchema, type SyncResponse } from '../../protocol/sync.js';
import { assertSupportedVersion } from '../../protocol/version.js';
import { decodeBody, type Encoding } from './codec.js';

/**
 * One native sync exchange from the bytes of its request (docs/protocol.md §4), whatever carried them:
 * `POST /api/v1/sync` (routes.ts) or a sync request by mail (sync-mail.ts, §21). The version is checked
 * before the rest of the body (§4.6), the count of adds and changes before any command runs (§4.4);
 * every refusal is a ProtocolError, and nothing of a refused request is applied.
 */
export function runNativeSync(hub: Hub, accountId: string, protocol: string, body: Buffer, encoding: Encoding, tokenId: string | undefined): Promise<SyncResponse> {
  const request = decodeBody(body, encoding, 'sync', syncRequestSchema, (raw) => assertSupportedVersion((raw as { version?: unknown } | null)?.version));
  assertItemsWithinRequest(request);
  return hub.sync(accountId, protocol, { ...request, collections: request.collections.map((c) => ({ ...c, keepsIdleKey: true })) }, tokenId);
}
