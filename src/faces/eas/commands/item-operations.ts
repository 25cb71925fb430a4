import { limits } from '../../../core/limits.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { carried, classOf } from '../folders.js';
import { readFileReference, readLongId } from '../mapping/email.js';
import { mapperFor } from '../mapping/mappers.js';
import { partBytes } from '../part-bytes.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { readOptions } from './sync-options.js';
import { wholeBodies } from './sync-mail.js';

/**
 * ItemOperations (MS-ASCMD 2.2.1.10), Fetch from the mailbox store: one item by collection and server
 * id (or a Search result's LongId), with the body preference of its Options (a message as MIME too), or
 * one part of a message by the FileReference its Attachment carried, whole or a byte Range of it
 * (docs/eas.md § Mail). Each Fetch has its own status. Document libraries and EmptyFolderContents are
 * not held here.
 */
const io = namespace('ItemOperations');
const as = namespace('AirSync');
const asb = namespace('AirSyncBase');
const search = namespace('Search');

export const itemOperationsStatus = {
  success: 1,
  protocolError: 2,
  notFound: 6,
  badRange: 8,
  unknownStore: 9,
  tooLarge: 11,
  ioFailure: 12,
  conversionFailed: 14,
} as const;

/** What all Fetches of one answer share: the item data it carries (at most easFetchedBytesMax), and the mail bodies fetched whole (sync-mail.ts wholeBodies). */
interface Budget {
  fetchedBytes: number;
  bodiesFetched: number;
}

export async function itemOperations(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const operations = (body?.children ?? []).filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));
  // Each Fetch is read and converted in memory: too many is refused before any is.
  if (operations.length > limits.easOperationsMax) return io('ItemOperations', io('Status', String(itemOperationsStatus.protocolError)));
  const collections = new Map(carried(await ctx.hub.accounts.listCollections(ctx.point.accountId)).map((c) => [c.id, c]));
  const responses: WbxmlElement[] = [];
  // 512 fetches of a 1 MB item would make a 512 MB answer from a small request: past the budget, a
  // Fetch is answered Status 11 (too large) before it is converted, and the client asks again later.
  const budget: Budget = { fetchedBytes: 0, bodiesFetched: 0 };
  for (const operation of operations) {
    if (operation.name !== 'Fetch') {
      responses.push(io(operation.name, io('Status', String(itemOperationsStatus.protocolError))));
      continue;
    }
    const reference = text(child(operation, 'FileReference', 'AirSyncBase'));
    if (reference !== undefined) responses.push(await fetchPart(ctx, operation, reference, collections, budget));
    else responses.push(await fetchItem(ctx, operation, collections, budget));
  }
  return io('ItemOperations', io('Status', String(itemOperationsStatus.success)), io('Response', ...responses));
}

type Collections = ReadonlyMap<string, ReturnType<typeof carried>[number]>;

/** A Fetch of one item, by CollectionId and ServerId or by LongId. */
async function fetchItem(ctx: EasContext, operation: WbxmlElement, collections: Collections, budget: Budget): Promise<WbxmlElement> {
  const long = text(child(operation, 'LongId', 'Search'));
  const named = long !== undefined ? readLongId(long) : undefined;
  const collectionId = named?.collectionId ?? text(child(operation, 'CollectionId', 'AirSync')) ?? '';
  const serverId = named?.serverId ?? text(child(operation, 'ServerId', 'AirSync')) ?? '';
  const answer = (status: number, ...rest: WbxmlElement[]) =>
    io('Fetch', io('Status', String(status)), ...(long !== undefined ? [search('LongId', long)] : [as('CollectionId', collectionId), as('ServerId', serverId)]), ...rest);
  if (text(child(operation, 'Store'))?.toLowerCase() !== 'mailbox') return answer(itemOperationsStatus.unknownStore);
  const collection = collections.get(collectionId);
  const item = collection && (await ctx.hub.readItem(ctx.point.accountId, collectionId, serverId));
  if (!collection || !item?.data) return answer(itemOperationsStatus.notFound);
  const size = Buffer.byteLength(item.data);
  if (budget.fetchedBytes + size > limits.easFetchedBytesMax) return answer(itemOperationsStatus.tooLarge);
  budget.fetchedBytes += size;
  const { bodyPreference, bodyPartPreference } = readOptions(operation, collection.kind, ctx.now());
  // A message asked for as MIME may be as large as what is left of the answer's budget.
  const whole =
    collection.kind === 'mail' && budget.bodiesFetched < limits.easMailBodiesPerAnswerMax
      ? (await wholeBodies(ctx, collectionId, [{ serverId, data: item.data }], bodyPreference, limits.easFetchedBytesMax - budget.fetchedBytes)).get(serverId)
      : undefined;
  if (whole) {
    budget.bodiesFetched++;
    budget.fetchedBytes += whole.type === 'message/rfc822' ? whole.bytes.length : Buffer.byteLength(whole.text);
  }
  let properties: WbxmlElement[];
  try {
    properties = mapperFor(collection.kind).toEas(item.data, {
      version: ctx.request.version,
      item: { collectionId, serverId },
      ...(bodyPreference ? { bodyPreference } : {}),
      ...(bodyPartPreference ? { bodyPartPreference } : {}),
      ...(whole ? { wholeBody: whole } : {}),
    });
  } catch {
    return answer(itemOperationsStatus.conversionFailed);
  }
  return answer(itemOperationsStatus.success, as('Class', classOf(collection.kind)), io('Properties', ...properties));
}

/** `start-end`, both inclusive, start ≤ end (MS-ASCMD 2.2.3.143.2); undefined when absent, null when malformed. */
function readRange(operation: WbxmlElement): { start: number; end: number } | undefined | null {
  const range = text(child(child(operation, 'Options'), 'Range'));
  if (range === undefined) return undefined;
  const m = /^(\d{1,15})-(\d{1,15})$/.exec(range.trim());
  if (!m) return null;
  const [start, end] = [Number(m[1]), Number(m[2])];
  return start <= end ? { start, end } : null;
}

/**
 * A Fetch of one part of a message by the FileReference its Attachment carried (email.ts fileReference):
 * the part whole, or the byte Range asked for, with the part's Total size. A reference this server did
 * not make, to an item gone, or to another account's item is answered alike, Status 6: nothing is learned
 * of what another account holds. A part the mail server may not hand out whole (mailPartBytesMax), or
 * that would take the answer past easFetchedBytesMax, gets Status 11 (a smaller Range may be asked); a
 * Range past the part's end, Status 8; the mail server out of reach, Status 12.
 */
async function fetchPart(ctx: EasContext, operation: WbxmlElement, reference: string, collections: Collections, budget: Budget): Promise<WbxmlElement> {
  const answer = (status: number, properties?: WbxmlElement[]) =>
    io('Fetch', io('Status', String(status)), asb('FileReference', reference), properties && io('Properties', ...properties));
  if (text(child(operation, 'Store'))?.toLowerCase() !== 'mailbox') return answer(itemOperationsStatus.unknownStore);
  const range = readRange(operation);
  if (range === null) return answer(itemOperationsStatus.badRange);
  const named = readFileReference(reference);
  if (!named || collections.get(named.collectionId)?.kind !== 'mail') return answer(itemOperationsStatus.notFound);
  let got;
  try {
    got = await ctx.hub.mail.fetchPart(ctx.point.accountId, named.collectionId, named.serverId, named.part);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    if (err.status === 'notFound') return answer(itemOperationsStatus.notFound);
    if (err.status === 'limitReached') return answer(itemOperationsStatus.tooLarge);
    ctx.logger.info({ deviceId: ctx.point.device.id, err: err.message }, 'ActiveSync attachment not fetched');
    return answer(itemOperationsStatus.ioFailure);
  }
  let read;
  try {
    read = await partBytes(got.body, limits.easFetchedBytesMax - budget.fetchedBytes, range?.start, range?.end);
  } catch (err) {
    // The connection broke while the part was read.
    ctx.logger.info({ deviceId: ctx.point.device.id, err: String(err) }, 'ActiveSync attachment not read whole');
    return answer(itemOperationsStatus.ioFailure);
  }
  if (!read) return answer(itemOperationsStatus.tooLarge);
  if (range && range.start >= read.total) return answer(itemOperationsStatus.badRange);
  budget.fetchedBytes += read.bytes.length;
  return answer(itemOperationsStatus.success, [
    asb('ContentType', got.contentType),
    ...(range ? [io('Range', `${range.start}-${range.start + read.bytes.length - 1}`)] : []),
    io('Total', String(read.total)),
    io('Data', read.bytes.toString('base64')),
  ]);
}
