import { ProtocolError } from '../protocol/errors.js';
import type { CollectionRow, ItemRow, Store, StoreTx } from '../store/store.js';
import { etagOf } from '../content/etag.js';
import { classifySyncKey, type KeyDecision } from '../core/sync-key.js';
import { versionHeld } from './held-versions.js';
import { checkItem } from '../kinds/registry.js';
import { writeItem, writeTombstone } from './item-writes.js';
import type { HubPorts } from './ports.js';
import { noteDevice, openExchange } from './sync.js';

/**
 * What a face that keeps state of its own per device needs beyond sync exchanges (ActiveSync's folder
 * hierarchy, item fetches, moves, and Ping's "is anything waiting?"), each in one transaction.
 */
export interface DevicePoint {
  accountId: string;
  /** `name` renames the device; `defaultName` names it only when it is new. */
  device: { id: string; name?: string | undefined; tokenId?: string | undefined; defaultName?: string | undefined };
  protocol: string;
}

/** Registers the device (or notes it was seen) and runs `fn` on the account's collections and the face's state under `key`. */
export function withFaceState<T>(
  store: Store,
  ports: HubPorts,
  point: DevicePoint,
  key: string,
  fn: (collections: CollectionRow[], state: string | undefined) => { state: string | undefined; result: T },
): Promise<T> {
  return store.transaction(async (tx) => {
    await openExchange(tx, ports, point.accountId, point.device, point.protocol);
    const { state, result } = fn(await tx.listCollections(point.accountId), await tx.getFaceState(point.accountId, point.device.id, key));
    await tx.putFaceState(point.accountId, point.device.id, key, state);
    return result;
  });
}

/**
 * Whether the device may sync: it is already known, or the account has fewer than `max` devices of the
 * point's protocol, and then it is registered at once, in the same transaction, so that newcomers in
 * parallel cannot pass the limit together. A refused device leaves nothing behind (undefined); an
 * admitted one gets the face's state under `key`, read in the same transaction.
 */
export function admitDevice(store: Store, ports: HubPorts, point: DevicePoint, max: number, key: string): Promise<{ state: string | undefined } | undefined> {
  return store.transaction(async (tx) => {
    const state = () => tx.getFaceState(point.accountId, point.device.id, key);
    if (await tx.getDevice(point.accountId, point.device.id)) return { state: await state() };
    // Counted, not listed: an account with thousands of devices admits each new one in a few reads.
    const counts = await tx.countDevices(point.accountId);
    if ((counts[point.protocol] ?? 0) >= max) return undefined;
    await noteDevice(tx, ports, point.accountId, point.device, point.protocol, Object.values(counts).reduce((a, b) => a + b, 0));
    return { state: await state() };
  });
}

/** The live item, if the collection is the account's and holds it. */
export function readItem(store: Store, accountId: string, collectionId: string, itemId: string): Promise<ItemRow | undefined> {
  return store.transaction(async (tx) => {
    const item = await tx.getItem(accountId, collectionId, itemId);
    return item && item.deletedAt === null ? item : undefined;
  });
}

/**
 * The live item as the device holds it, when it syncs the collection with `syncKey` (held-versions.ts):
 * what its edits were made from. A key the hub would refuse, or 0, gives the current version. When the
 * held version cannot be known, the current one stands in for it without an etag: an edit completed
 * from it is made from a version the hub cannot name, and meets a concurrent change by priority.
 */
export function readHeldItem(store: Store, accountId: string, deviceId: string, collectionId: string, syncKey: number, itemId: string): Promise<{ data: string; etag?: string } | undefined> {
  return store.transaction(async (tx) => {
    const item = await tx.getItem(accountId, collectionId, itemId);
    if (!item || item.deletedAt !== null || item.data === null) return undefined;
    const decision = classifySyncKey(syncKey, await tx.getSyncState(accountId, deviceId, collectionId), await tx.tombstoneFloor(accountId));
    if (decision.kind !== 'current' && decision.kind !== 'replay') return { data: item.data, etag: item.etag };
    const data = await versionHeld(tx, item, deviceId, decision.from);
    return data === undefined ? { data: item.data } : { data, etag: etagOf(data) };
  });
}

/**
 * What `syncKey` means for the device in the collection now (core/sync-key.ts): a face asks before it
 * does, outside the exchange, what only an exchange the hub will take may do (an ActiveSync Delete moved
 * to Deleted Items at the mail server), so that a stale copy of an old request changes nothing.
 */
export function syncKeyKind(store: Store, accountId: string, deviceId: string, collectionId: string, syncKey: number): Promise<KeyDecision['kind']> {
  return store.transaction(async (tx) => classifySyncKey(syncKey, await tx.getSyncState(accountId, deviceId, collectionId), await tx.tombstoneFloor(accountId)).kind);
}

/**
 * The device's current sync key in each of the collections and the changes waiting for it there,
 * counted up to `limit`; absent for a collection it has never synced.
 */
export function pendingChanges(
  store: Store,
  accountId: string,
  deviceId: string,
  collectionIds: readonly string[],
  limit: number,
): Promise<Map<string, { syncKey: number; pending: number }>> {
  return store.transaction(async (tx) => {
    const out = new Map<string, { syncKey: number; pending: number }>();
    for (const collectionId of collectionIds) {
      const state = await tx.getSyncState(accountId, deviceId, collectionId);
      if (state) out.set(collectionId, { syncKey: state.syncKey, pending: await tx.countChanges({ accountId, collectionId, deviceId, checkpoint: state.checkpoint, limit }) });
    }
    return out;
  });
}

/**
 * Moves an item to another collection of the same kind, as the device: a delete in the source and a
 * new item with the same content in the destination, in one transaction. Every other sync point sees
 * both; the moving device learns the new id from the answer and is told neither.
 */
export function moveItem(store: Store, ports: HubPorts, point: DevicePoint, fromId: string, itemId: string, toId: string): Promise<string> {
  return store.transaction(async (tx) => {
    await openExchange(tx, ports, point.accountId, point.device, point.protocol);
    const { from, to, item } = await movable(tx, point.accountId, fromId, itemId, toId);
    return moveWithin(tx, ports, from, to, item, point.device.id);
  });
}

/** The collections and the live item of a move, or the error that refuses it. */
export async function movable(tx: StoreTx, accountId: string, fromId: string, itemId: string, toId: string): Promise<{ from: CollectionRow; to: CollectionRow; item: ItemRow }> {
  const from = await tx.getCollection(accountId, fromId);
  const to = await tx.getCollection(accountId, toId);
  if (!from) throw new ProtocolError('notFound', 'no such source collection');
  if (!to) throw new ProtocolError('notFound', 'no such destination collection');
  if (from.kind !== to.kind) throw new ProtocolError('wrongKind', `a ${from.kind} item cannot move to a ${to.kind} collection`);
  const item = await tx.getItem(accountId, from.id, itemId);
  if (!item || item.deletedAt !== null || item.data === null) throw new ProtocolError('notFound', 'no such item');
  return { from, to, item };
}

/** The move itself, as `origin`: a delete in the source and the same content under a new id in the destination; the new id. */
export async function moveWithin(tx: StoreTx, ports: HubPorts, from: CollectionRow, to: CollectionRow, item: ItemRow, origin: string): Promise<string> {
  // Same kind, same content: the item's index holds in the destination too, with no content to evaluate again.
  const index = { uid: item.uid, title: item.title, startMs: item.startMs, endMs: item.endMs, name: item.matchName, contactKeys: item.contactKeys };
  if (index.uid !== null && (await tx.findLiveItemByUid(from.accountId, to.id, index.uid))) {
    throw new ProtocolError('uidConflict', `the destination already holds an item with UID ${index.uid}`);
  }
  await writeTombstone({ tx, ports, collection: from }, item, origin);
  const id = ports.random.id();
  await writeItem({ tx, ports, collection: to }, id, null, item.data as string, index, origin);
  return id;
}

/**
 * Writes the event with this UID in a calendar as the server, on the device's behalf (an ActiveSync
 * MeetingResponse, docs/eas.md § Meeting invitations), in one transaction: `edit` is given the live item
 * with that UID (undefined: there is none) and returns the new data, or null to delete it. It is the
 * server's write, not the device's, so every device, the asking one too, is sent it: the device answered
 * an invitation, it did not write this item. The new data is checked as the events kind checks any item.
 * The item's id, or undefined when there is none (nothing to delete).
 */
export function writeEventByUid(
  store: Store,
  ports: HubPorts,
  point: DevicePoint,
  collectionId: string,
  uid: string,
  edit: (existing: ItemRow | undefined) => string | null,
): Promise<string | undefined> {
  return store.transaction(async (tx) => {
    await openExchange(tx, ports, point.accountId, point.device, point.protocol);
    const collection = await tx.getCollection(point.accountId, collectionId);
    if (!collection) throw new ProtocolError('notFound', 'no such calendar');
    if (collection.kind !== 'events') throw new ProtocolError('wrongKind', `collection ${collectionId} holds ${collection.kind}, not events`);
    const existing = await tx.findLiveItemByUid(point.accountId, collectionId, uid);
    const data = edit(existing);
    const ctx = { tx, ports, collection };
    if (data === null) {
      if (existing) await writeTombstone(ctx, existing, null);
      return existing?.id;
    }
    const check = checkItem('events', data);
    if (!check.ok) throw new ProtocolError(check.status, check.message);
    if (check.index.uid !== uid) throw new ProtocolError('invalidItem', `the event's UID is not ${uid}`);
    if (existing?.etag === etagOf(data)) return existing.id;
    const id = existing?.id ?? ports.random.id();
    await writeItem(ctx, id, existing ?? null, data, check.index, null);
    return id;
  });
}
