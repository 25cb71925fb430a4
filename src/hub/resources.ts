import type { Checkpoint } from '../core/sync-key.js';
import { checkItemContent } from '../content/item-content.js';
import { etagOf } from '../content/etag.js';
import type { CollectionKind } from '../protocol/collections.js';
import type { StatusCode } from '../protocol/errors.js';
import type { CollectionRow, ItemRow, Store, StoreTx } from '../store/store.js';
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
const extensionOf = (kind: CollectionKind) => (kind === 'contacts' ? '.vcf' : '.ics');
const defaultResourceName = (kind: CollectionKind, itemId: string) => `${itemId}${extensionOf(kind)}`;

export interface Resource {
  name: string;
  item: ItemRow;
}

export async function resolveResource(tx: StoreTx, collection: CollectionRow, name: string): Promise<ItemRow | undefined> {
  const named = await tx.findDavName(collection.accountId, collection.id, name);
  if (named !== undefined) return tx.getItem(collection.accountId, collection.id, named);
  const ext = extensionOf(collection.kind);
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
    const collection = await open(tx, ports, client, collectionId);
    const existing = await resolveResource(tx, collection, name);
    checkPreconditions(existing, preconditions);
    const check = checkItemContent(collection.kind, data);
    if (!check.ok) throw new ResourceError(check.status as 'invalidItem', check.message);
    if (check.index.uid !== null) {
      const other = await tx.findLiveItemByUid(collection.accountId, collection.id, check.index.uid);
      if (other && other.id !== existing?.id) {
        throw new ResourceError('uidConflict', `UID ${check.index.uid} is already used by another resource`, await resourceName(tx, collection, other));
      }
    }
    const ctx = { tx, ports, collection };
    if (existing && existing.deletedAt === null) {
      if (existing.etag === etagOf(data)) return { created: false, etag: existing.etag };
      await noteWrite(tx, client, ports.clock.now());
      return { created: false, etag: await writeItem(ctx, existing.id, existing, data, check.index, client.device.id) };
    }
    // A name used again after its item was deleted brings that item back, as a new item for everyone.
    const id = existing?.id ?? ports.random.id();
    await noteWrite(tx, client, ports.clock.now());
    const etag = await writeItem(ctx, id, null, data, check.index, client.device.id);
    if (!existing && name !== defaultResourceName(collection.kind, id)) await tx.setDavName(collection.accountId, collection.id, name, id);
    return { created: true, etag };
  });
}

export function deleteResource(store: Store, ports: HubPorts, client: ResourceClient, collectionId: string, name: string, preconditions: Preconditions): Promise<void> {
  return store.transaction(async (tx) => {
    const collection = await open(tx, ports, client, collectionId);
    const existing = await resolveResource(tx, collection, name);
    if (!existing || existing.deletedAt !== null) throw new ResourceError('notFound', 'no such resource');
    checkPreconditions(existing, preconditions);
    await noteWrite(tx, client, ports.clock.now());
    await writeTombstone({ tx, ports, collection }, existing, client.device.id);
  });
}

/**
 * A collection's changes after `from` (see core/sync-key.ts Checkpoint), oldest first, at most `limit`,
 * with their resource names; deletes included when after the checkpoint's base.
 */
export async function listResources(
  tx: StoreTx,
  collection: CollectionRow,
  from: Checkpoint,
  limit: number,
  timeRange?: { startMs: number; endMs: number },
): Promise<Resource[]> {
  // No device is excluded: a DAV client is told of its own writes too, and compares etags.
  const rows = await tx.listChanges({ accountId: collection.accountId, collectionId: collection.id, checkpoint: from, deviceId: '', limit, ...(timeRange ? { timeRange } : {}) });
  const out: Resource[] = [];
  for (const item of rows) out.push({ name: await resourceName(tx, collection, item), item });
  return out;
}
