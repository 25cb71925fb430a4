import { mergeActions } from '../core/action-table.js';
import { checkItem } from '../kinds/registry.js';
import { ProtocolError } from '../protocol/errors.js';
import type { ConflictRow, ItemRow, Store } from '../store/store.js';
import { writeItem } from './item-writes.js';
import type { HubPorts } from './ports.js';

/**
 * Restoring a losing version: it becomes the truth again, written as the server's own change so every
 * sync point receives it, and the version it replaces is kept as a conflict record in turn. Nothing a
 * conflict touched is ever gone.
 */
export async function restoreConflict(store: Store, ports: HubPorts, accountId: string, conflictId: string): Promise<{ itemId: string; etag: string }> {
  return store.transaction(async (tx) => {
    const conflict = await tx.getConflict(accountId, conflictId);
    if (!conflict) throw new ProtocolError('notFound', 'no such conflict');
    if (conflict.restoredAt !== null) throw new ProtocolError('conflict', 'this version has already been restored');
    const collection = await tx.getCollection(accountId, conflict.collectionId);
    if (!collection) throw new ProtocolError('notFound', 'the collection of this conflict no longer exists');
    // A deleted item whose tombstone has been purged comes back as a new record under its old id.
    const item = (await tx.getItem(accountId, collection.id, conflict.itemId)) ?? purgedItem(conflict, ports.clock.now());
    const check = checkItem(collection.kind, conflict.data);
    if (!check.ok) throw new ProtocolError(check.status, check.message);
    if (check.index.uid !== null) {
      const holder = await tx.findLiveItemByUid(accountId, collection.id, check.index.uid);
      if (holder && holder.id !== item.id) throw new ProtocolError('uidConflict', `UID ${check.index.uid} now belongs to item ${holder.id}`);
    }
    const now = ports.clock.now();
    if (item.data !== null) {
      const replaced: ConflictRow = {
        id: ports.random.id(),
        accountId,
        collectionId: collection.id,
        itemId: item.id,
        data: item.data,
        lostBy: item.originDevice,
        wonBy: null,
        reason: 'restore',
        createdAt: now,
        restoredAt: null,
      };
      await tx.addConflict(replaced);
    }
    // Restoring a deleted item is the merge table's invalid cell (DELETE, then ADD or UPDATE of the same
    // record) for every sync point that has not caught up with the delete. The safe resolution is an ADD
    // of the whole record, which a fresh creation sequence number gives every such sync point.
    const resurrected = item.deletedAt !== null || item.seq === 0;
    if (resurrected) {
      const cell = mergeActions('DELETE', 'ADD');
      ports.logger.warn({ accountId, itemId: item.id, conflictId, resolvedAs: cell.action }, 'merge table invalid cell: a deleted record is restored');
    }
    const etag = await writeItem({ tx, ports, collection }, item.id, resurrected ? null : item, conflict.data, check.index, null);
    await tx.markConflictRestored(accountId, conflictId, now);
    return { itemId: item.id, etag };
  });
}

/** Stands in for an item whose row is gone, so a restore recreates it. */
function purgedItem(conflict: ConflictRow, now: number): ItemRow {
  return {
    id: conflict.itemId,
    accountId: conflict.accountId,
    collectionId: conflict.collectionId,
    uid: null,
    data: null,
    etag: '',
    seq: 0,
    createdSeq: 0,
    createdBy: null,
    originDevice: null,
    deletedAt: now,
    title: '',
    startMs: null,
    endMs: null,
    matchName: null,
    contactKeys: [],
  };
}
