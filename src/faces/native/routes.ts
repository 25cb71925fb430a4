import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits } from '../../core/limits.js';
import type { Hub } from '../../hub/hub.js';
import { collectionListSchema, createCollectionSchema, type Collection } from '../../protocol/collections.js';
import { httpStatusOf, ProtocolError } from '../../protocol/errors.js';
import { syncRequestSchema } from '../../protocol/sync.js';
import { assertSupportedVersion, protocolVersion } from '../../protocol/version.js';
import type { CollectionRow } from '../../store/store.js';
import type { Principal } from '../../server/auth/authenticate.js';
import { readBody, send } from '../../server/http.js';
import { decodeBody, encodeBody, encodingOfAccept, encodingOfContentType, mediaTypes, type Encoding } from './codec.js';

/**
 * The native protocol face (docs/protocol.md): POST /api/v1/sync and the collection API. It decodes,
 * hands the hub a validated request, and encodes the answer in the request's encoding.
 */
export const nativePrefix = '/api/v1/';

const toCollection = (row: CollectionRow): Collection => ({
  id: row.id,
  name: row.name,
  kind: row.kind,
  displayName: row.displayName,
  ...(row.color ? { color: row.color } : {}),
});

export async function handleNative(hub: Hub, principal: Principal, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  let encoding: Encoding = encodingOfAccept(req.headers.accept);
  try {
    if (req.method === 'POST') encoding = encodingOfContentType(req.headers['content-type']);
    const reply = (status: number, root: string, value: object) => send(req, res, status, mediaTypes[encoding], encodeBody(encoding, root, value));
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'POST /api/v1/sync': {
        const body = await readBody(req, limits.requestBytesMax);
        const request = decodeBody(body, encoding, 'sync', syncRequestSchema, (raw) =>
          assertSupportedVersion((raw as { version?: unknown } | null)?.version),
        );
        return reply(200, 'syncResponse', await hub.sync(principal.accountId, 'native', request));
      }
      case 'GET /api/v1/collections': {
        const rows = await hub.accounts.listCollections(principal.accountId);
        return reply(200, 'collections', collectionListSchema.parse({ collections: rows.map(toCollection) }));
      }
      case 'POST /api/v1/collections': {
        const body = await readBody(req, limits.requestBytesMax);
        const input = decodeBody(body, encoding, 'createCollection', createCollectionSchema);
        return reply(201, 'collection', toCollection(await hub.accounts.createCollection(principal.accountId, input)));
      }
      default:
        throw new ProtocolError('notFound', `no route ${route}`);
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    const body = { version: protocolVersion, status: err.status, message: err.message, ...err.extra };
    return send(req, res, httpStatusOf[err.status], mediaTypes[encoding], encodeBody(encoding, 'error', body));
  }
}
