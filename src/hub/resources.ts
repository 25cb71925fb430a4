import type { ItemIndex } from '../kinds/kind.js';
import { checkItem, kindOf } from '../kinds/registry.js';
import { etagOf } from '../content/etag.js';
import type { CollectionKind } from '../protocol/collections.js';
import type { StatusCode } from '../protocol/errors.js';
import type { CollectionRow, ItemRow, MemberRow, Store, StoreTx } from '../store/store.js';
import { tasksPartsOf } from './accounts.js';
import { writeItem, writeTombstone } from './item-writes.js';
import type { HubPorts } from './ports.js';
import { utcDay } from './health.js';
import { openExchange } from './sync.js';

/**
 * Items as named resources, for faces where the client picks a name and guards each write with an
 * ETag precondition (CardDAV/CalDAV). Such a client is a sync point like any other: its writes carry
 * its device id, so every other device hears of them, and it hears of theirs through the collection's
 * change sequence. Concurrency is the client's precondition, not the merge/priority engine: a stale
 * If-Match is refused, and the client fetches the truth and decides.
 */

export interface ResourceClient {
  accountId: string;
  device: { id: string; name: string; tokenId?: string | undefined };
  /** The face, recorded on the device ('carddav', 'caldav'). */
  protocol: string;
}

export class ResourceError extends Error {
  override name = 'ResourceError';
  constructor(
    readonly reason: 'notFound' | 'noCollection' | 'preconditionFailed' | Extract<StatusCode, 'invalidItem' | 'wrongKind' | 'uidConflict' | 'itemTooLarge'>,
    message: string,
    /** For uidConflict: the name of the resource that has the UID. */
    readonly holder?: string,
  ) {
    super(message);
  }
}

/** The name an item is served under: the one a DAV client gave it, else its id and the kind's extension. */
const defaultResourceName = (kind: CollectionKind, itemId: string) => `${itemId}${kindOf(kind).fileExtension}`;

export interface Resource {
  name: string;
  item: ItemRow;
}

/** A member as a DAV listing reads it: the columns of MemberRow, the data only when asked for. */
export interface Member {
  name: string;
  item: MemberRow;
}

export const memberName = (collection: CollectionRow, row: MemberRow) => row.davName ?? defaultResourceName(collection.kind, row.id);

export async function resolveResource(tx: StoreTx, collection: CollectionRow, name: string): Promise<ItemRow | undefined> {
  const named = await tx.findDavName(collection.accountId, collection.id, name);
  if (named !== undefined) return tx.getItem(collection.accountId, collection.id, named);
  const ext = kindOf(collection.kind).fileExtension;
  if (!name.endsWith(ext)) return undefined;
  const item = await tx.getItem(collection.accountId, collection.id, name.slice(0, -ext.length));
  // An item with a name of its own answers to that name only.
  return item && (await tx.davNameOf(collection.accountId, item.id)) === undefined ? item : undefined;
}

export async function resourceName(tx: StoreTx, collection: CollectionRow, item: ItemRow): Promise<string> {
  return (await tx.davNameOf(collection.accountId, item.id)) ?? defaultResourceName(collection.kind, item.id);
}

/** `ifMatch`/`ifNoneMatch`: the header values, quotes included ('*' allowed). */
export interface Preconditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
}

function checkPreconditions(existing: ItemRow | undefined, p: Preconditions): void {
  const live = existing && existing.deletedAt === null ? existing : undefined;
  const matches = (header: string) => header.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === `"${live?.etag}"`);
  if (p.ifNoneMatch !== undefined && live && matches(p.ifNoneMatch)) {
    throw new ResourceError('preconditionFailed', 'the resource exists (If-None-Match)');
  }
  if (p.ifMatch !== undefined && (!live || !matches(p.ifMatch))) {
    throw new ResourceError('preconditionFailed', live ? 'the resource has changed since (If-Match)' : 'the resource does not exist (If-Match)');
  }
}

async function open(tx: StoreTx, ports: HubPorts, client: ResourceClient, collectionId: string): Promise<CollectionRow> {
  const collection = await tx.getCollection(client.accountId, collectionId);
  if (!collection) throw new ResourceError('noCollection', 'no such collection');
  await openExchange(tx, ports, client.accountId, client.device, client.protocol);
  return collection;
}

/** A resource write is one change synced with the client, for its activity chart. */
const noteWrite = (tx: StoreTx, client: ResourceClient, now: number) => tx.addActivity(client.accountId, client.device.id, utcDay(now), 1);

/**
 * The collections whose items one resource collection holds: the collection, and for a calendar that
 * holds events and tasks, its tasks collection too (docs/dav.md § Calendars made without a component set).
 */
export async function partsOf(tx: StoreTx, collection: CollectionRow): Promise<CollectionRow[]> {
  if (collection.kind !== 'events') return [collection];
  return [collection, ...tasksPartsOf(await tx.listCollections(collection.accountId), collection)];
}

/** What a name resolves to among the parts: the live item, else the latest tombstone, with the part that holds it. */
export async function resolveInParts(tx: StoreTx, parts: readonly CollectionRow[], name: string): Promise<{ part: CollectionRow; item: ItemRow } | undefined> {
  let found: { part: CollectionRow; item: ItemRow } | undefined;
  for (const part of parts) {
    const item = await resolveResource(tx, part, name);
    if (item?.deletedAt === null) return { part, item };
    if (item && (!found || item.seq > found.item.seq)) found = { part, item };
  }
  return found;
}

/** The part whose kind the data is: parsed once, against every part's kind. */
function checkForParts(parts: readonly CollectionRow[], data: string): { part: CollectionRow; index: ItemIndex } {
  const check = checkItem(parts.map((p) => p.kind), data);
  if (!check.ok) throw new ResourceError(check.status as 'invalidItem', check.message);
  return { part: parts.find((p) => p.kind === check.kind) as CollectionRow, index: check.index };
}

export function putResource(
  store: Store,
  ports: HubPorts,
  client: ResourceClient,
  collectionId: string,
  name: string,
  data: string,
  preconditions: Preconditions,
): Promise<{ created: boolean; etag: string }> {
  return store.transaction(async (tx) => {
    const parts = await partsOf(tx, await open(tx, ports, client, collectionId));
    const existing = await resolveInParts(tx, parts, name);
    checkPreconditions(existing?.item, preconditions);
    const { part: collection, index } = checkForParts(parts, data);
    if (index.uid !== null) {
      for (const part of parts) {
        const other = await tx.findLiveItemByUid(part.accountId, part.id, index.uid);
        if (other && other.id !== existing?.item.id) {
          throw new ResourceError('uidConflict', `UID ${index.uid} is already used by another resource`, await resourceName(tx, part, other));
        }
      }
    }
    const ctx = { tx, ports, collection };
    const now = ports.clock.now();
    if (existing && existing.part === collection && existing.item.deletedAt === null) {
      if (existing.item.etag === etagOf(data)) return { created: false, etag: existing.item.etag };
      await noteWrite(tx, client, now);
      return { created: false, etag: await writeItem(ctx, existing.item.id, existing.item, data, index, client.device.id) };
    }
    // A resource whose component changed (a VEVENT made a VTODO) moves to the other part: other devices
    // see it deleted from one collection and added to the other.
    if (existing && existing.item.deletedAt === null) await writeTombstone({ tx, ports, collection: existing.part }, existing.item, client.device.id);
    // A name used again after its item was deleted brings that item back. It keeps the creation of the
    // item it was: a device that held the item and missed the delete gets the new version as an update,
    // and a later delete as a delete (a fresh creation would make that delete one of an item the device
    // never had, and the device would keep the old version: sim seed 4000041). A device that did take
    // the delete gets an update of an item it does not hold, which clients take as an add.
    const revived = existing?.part === collection ? existing.item : undefined;
    const id = revived?.id ?? ports.random.id();
    await noteWrite(tx, client, now);
    const etag = await writeItem(ctx, id, revived ?? null, data, index, client.device.id);
    if (!revived && name !== defaultResourceName(collection.kind, id)) await tx.setDavName(collection.accountId, collection.id, name, id);
    return { created: !(existing && existing.item.deletedAt === null), etag };
  });
}

export function deleteResource(store: Store, ports: HubPorts, client: ResourceClient, collectionId: string, name: string, preconditions: Preconditions): Promise<void> {
  return store.transaction(async (tx) => {
    const parts = await partsOf(tx, await open(tx, ports, client, collectionId));
    const existing = await resolveInParts(tx, parts, name);
    if (!existing || existing.item.deletedAt !== null) throw new ResourceError('notFound', 'no such resource');
    checkPreconditions(existing.item, preconditions);
    await noteWrite(tx, client, ports.clock.now());
    await writeTombstone({ tx, ports, collection: existing.part }, existing.item, client.device.id);
  });
}
