import { etagOf } from '../content/etag.js';
import type { ItemIndex } from '../kinds/kind.js';
import type { CollectionRow, ItemRow, StoreTx } from '../store/store.js';
import type { HubPorts } from './ports.js';

/** Writing item versions: the one place that turns content into an item row, for every face. */
export interface WriteContext {
  tx: StoreTx;
  ports: HubPorts;
  collection: CollectionRow;
}

/**
 * Writes a version of a new item (`existing` null: also a deleted one brought back, which every sync
 * point then receives as new) or of an existing one, which keeps its creation facts. `origin` is the
 * sync point making the change, null for the server itself. `etag`: the data's, when the caller has
 * hashed it already (a command's data is hashed once per exchange). Returns the new version's etag.
 */
export async function writeItem(ctx: WriteContext, id: string, existing: ItemRow | null, data: string, index: ItemIndex, origin: string | null, etag = etagOf(data)): Promise<string> {
  const seq = await ctx.tx.nextSeq(ctx.collection.accountId);
  await ctx.tx.putItem(
    {
      id,
      accountId: ctx.collection.accountId,
      collectionId: ctx.collection.id,
      uid: index.uid,
      data,
      etag,
      seq,
      createdSeq: existing?.createdSeq ?? seq,
      createdBy: existing ? existing.createdBy : origin,
      originDevice: origin,
      deletedAt: null,
      title: index.title,
      startMs: index.startMs,
      endMs: index.endMs,
      matchName: index.name,
      contactKeys: [...index.contactKeys],
    },
    ctx.ports.clock.now(),
  );
  return etag;
}

/** Deletes the item as `origin` (a sync point, or null for the server itself): a tombstone version that devices learn of. */
export async function writeTombstone(ctx: WriteContext, item: ItemRow, origin: string | null): Promise<void> {
  const seq = await ctx.tx.nextSeq(ctx.collection.accountId);
  await ctx.tx.putItem(
    { ...item, data: null, seq, originDevice: origin, deletedAt: ctx.ports.clock.now(), startMs: null, endMs: null },
    ctx.ports.clock.now(),
  );
}
