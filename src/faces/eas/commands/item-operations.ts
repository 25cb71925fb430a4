import { limits } from '../../../core/limits.js';
import type { EasContext } from '../context.js';
import { carried, classOf } from '../folders.js';
import { mapperFor } from '../mapping/mappers.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { readOptions } from './sync-options.js';
import { wholeBodies } from './sync-mail.js';

/**
 * ItemOperations (MS-ASCMD 2.2.1.10), Fetch of items from the mailbox store: one item by collection and
 * server id, with the body preference of its Options. Each Fetch has its own status. Document
 * libraries, attachments and EmptyFolderContents are not held here.
 */
const io = namespace('ItemOperations');
const as = namespace('AirSync');

export const itemOperationsStatus = { success: 1, protocolError: 2, notFound: 6, unknownStore: 9, tooLarge: 11, conversionFailed: 14 } as const;

export async function itemOperations(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const operations = (body?.children ?? []).filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));
  // Each Fetch is read and converted in memory: too many is refused before any is.
  if (operations.length > limits.easOperationsMax) return io('ItemOperations', io('Status', String(itemOperationsStatus.protocolError)));
  const collections = new Map(carried(await ctx.hub.accounts.listCollections(ctx.point.accountId)).map((c) => [c.id, c]));
  const responses: WbxmlElement[] = [];
  // 512 fetches of a 1 MB item would make a 512 MB answer from a small request: past the budget, a
  // Fetch is answered Status 11 (too large) before it is converted, and the client asks again later.
  let fetchedBytes = 0;
  // Mail bodies fetched whole from the mail server, all Fetches together (sync-mail.ts wholeBodies).
  let bodiesFetched = 0;
  for (const operation of operations) {
    if (operation.name !== 'Fetch') {
      responses.push(io(operation.name, io('Status', String(itemOperationsStatus.protocolError))));
      continue;
    }
    const collectionId = text(child(operation, 'CollectionId', 'AirSync')) ?? '';
    const serverId = text(child(operation, 'ServerId', 'AirSync')) ?? '';
    const answer = (status: number, ...rest: WbxmlElement[]) =>
      io('Fetch', io('Status', String(status)), as('CollectionId', collectionId), as('ServerId', serverId), ...rest);
    if (text(child(operation, 'Store'))?.toLowerCase() !== 'mailbox') {
      responses.push(answer(itemOperationsStatus.unknownStore));
      continue;
    }
    const collection = collections.get(collectionId);
    const item = collection && (await ctx.hub.readItem(ctx.point.accountId, collectionId, serverId));
    if (!collection || !item?.data) {
      responses.push(answer(itemOperationsStatus.notFound));
      continue;
    }
    const size = Buffer.byteLength(item.data);
    if (fetchedBytes + size > limits.easFetchedBytesMax) {
      responses.push(answer(itemOperationsStatus.tooLarge));
      continue;
    }
    fetchedBytes += size;
    const { bodyPreference } = readOptions(operation, collection.kind, ctx.now());
    const whole =
      collection.kind === 'mail' && bodiesFetched < limits.easMailBodiesPerAnswerMax
        ? (await wholeBodies(ctx, collectionId, [{ serverId, data: item.data }], bodyPreference)).get(serverId)
        : undefined;
    if (whole) bodiesFetched++;
    let properties: WbxmlElement[];
    try {
      properties = mapperFor(collection.kind).toEas(item.data, {
        version: ctx.request.version,
        item: { collectionId, serverId },
        ...(bodyPreference ? { bodyPreference } : {}),
        ...(whole ? { wholeBody: whole } : {}),
      });
    } catch {
      responses.push(answer(itemOperationsStatus.conversionFailed));
      continue;
    }
    responses.push(answer(itemOperationsStatus.success, as('Class', classOf(collection.kind)), io('Properties', ...properties)));
  }
  return io('ItemOperations', io('Status', String(itemOperationsStatus.success)), io('Response', ...responses));
}
