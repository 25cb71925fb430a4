import { actionFacts, deriveAction } from '../core/action-table.js';
import type { Checkpoint } from '../core/sync-key.js';
import type { ItemRow, StoreTx } from '../store/store.js';

/**
 * The version of an item a sync point holds, standing at checkpoint `from` (and holding version
 * `heldSeq` from a push notice, seed 002): the current one when nothing about it is pending for the
 * device, else the latest kept version its checkpoint covers or that it wrote itself since (a device
 * holds its own writes, core/action-table.ts). An edit the device made is made from this version: it is
 * the merge base of a concurrent change (commands.ts), and a face whose clients send only what changed
 * completes their edits from it (faces/eas, docs/eas.md § Sync). Undefined when no such version is
 * kept (the history is pruned with the tombstones, and a key that old is refused anyway).
 */
export async function versionHeld(tx: StoreTx, item: ItemRow, deviceId: string, from: Checkpoint, heldSeq?: number): Promise<string | undefined> {
  if (deriveAction(actionFacts(item), from, deviceId, heldSeq) === 'NO_CHANGE') return item.data ?? undefined;
  return tx.getVersionHeld(item.accountId, item.id, deviceId, Math.max(from.seq, heldSeq ?? 0), from.baseSeq);
}
