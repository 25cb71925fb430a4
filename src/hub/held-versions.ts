import { actionFacts, deriveAction } from '../core/action-table.js';
import { etagOf } from '../content/etag.js';
import type { Checkpoint } from '../core/sync-key.js';
import type { ItemRow, StoreTx } from '../store/store.js';

/**
 * The version of an item a sync point holds, standing at checkpoint `from` (and holding version
 * `heldSeq` from a push notice, docs/design.md § The echo). An edit the device made is made from this version: it is the
 * merge base of a concurrent change (commands.ts), and a face whose clients send only what changed
 * completes their edits from it (faces/eas, docs/eas.md § Sync).
 *
 * It is the current one when nothing about the item is pending for the device. Else it is the latest
 * kept version its checkpoint covers or that it wrote itself since (a device holds its own writes,
 * core/action-table.ts), when that one is sure to have reached it: one from before the device last
 * caught up (`from.baseSeq`), its own, or the one a push notice brought. A version written while the
 * device was paging through a window (after baseSeq) reached it only if its page came before the next
 * version was written, which is not recorded: then it is the version only if the device names it
 * (`madeFrom`), and otherwise undefined, so the edit is decided by priority with the loser kept (sim
 * seed 9212463). Undefined too when no such version is kept (the history is pruned with the tombstones,
 * and a key that old is refused anyway).
 */
export async function versionHeld(tx: StoreTx, item: ItemRow, deviceId: string, from: Checkpoint, heldSeq?: number, madeFrom?: string): Promise<string | undefined> {
  if (deriveAction(actionFacts(item), from, deviceId, heldSeq) === 'NO_CHANGE') return item.data ?? undefined;
  const latest = await tx.getVersionHeld(item.accountId, item.id, deviceId, Math.max(from.seq, heldSeq ?? 0), from.baseSeq);
  if (!latest) return undefined;
  const sure = latest.seq <= from.baseSeq || latest.seq === heldSeq || latest.originDevice === deviceId;
  return sure || (madeFrom !== undefined && etagOf(latest.data) === madeFrom) ? latest.data : undefined;
}
