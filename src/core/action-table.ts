import type { Checkpoint } from './sync-key.js';

/**
 * Action tables (docs/design.md § The truth and action tables): for each sync point and item, the operation that brings the sync point in
 * line with the truth. Ours are derived, not stored: an item's row in a sync point's table follows from
 * the item's latest change and the sync point's acknowledged checkpoint, so the table costs nothing per
 * device per change and is "removed" exactly when the sync point acknowledges a new key.
 *
 * `mergeActions` is the offline-merge table (docs/design.md § The offline-merge table) for a sync point that missed syncs (old action picks the row, the
 * new one the column). Derivation must agree with folding that table over an item's history; the
 * property test in action-table.test.ts checks it.
 */
export type Action = 'ADD' | 'UPDATE' | 'DELETE' | 'NO_CHANGE';

export interface Merged {
  action: Action;
  /** The cell is one of the table's invalid ones; `action` is the safe resolution. */
  invalid: boolean;
}

const table: Record<Action, Record<Action, Action | 'INVALID'>> = {
  NO_CHANGE: { NO_CHANGE: 'NO_CHANGE', ADD: 'ADD', DELETE: 'DELETE', UPDATE: 'UPDATE' },
  ADD: { NO_CHANGE: 'ADD', ADD: 'ADD', DELETE: 'NO_CHANGE', UPDATE: 'ADD' },
  DELETE: { NO_CHANGE: 'DELETE', ADD: 'INVALID', DELETE: 'DELETE', UPDATE: 'INVALID' },
  UPDATE: { NO_CHANGE: 'UPDATE', ADD: 'UPDATE', DELETE: 'DELETE', UPDATE: 'UPDATE' },
};

/**
 * Combine a sync point's old pending action with a new one. The invalid cells (a record deleted, then
 * added or updated again) mean the truth holds the record after all: the safe answer is to send it
 * whole, as an ADD carrying the truth's latest data, so nothing is lost whatever the device did with
 * the DELETE. The caller logs the cell.
 */
export function mergeActions(old: Action, next: Action): Merged {
  const cell = table[old][next];
  return cell === 'INVALID' ? { action: 'ADD', invalid: true } : { action: cell, invalid: false };
}

/** The facts about an item that decide its action for one sync point. */
export interface ItemFacts {
  seq: number;
  createdSeq: number;
  createdBy: string | null;
  deleted: boolean;
  originDevice: string | null;
}

/**
 * The action pending for `deviceId` on an item, given the device's checkpoint (see sync-key.ts):
 *   - nothing after the checkpoint, or only the device's own change: NO_CHANGE;
 *   - deleted: DELETE if the device can have the record (a version existed by its checkpoint, or it
 *     created the record itself and so learned its id from the Add's result), else NO_CHANGE (ADD then
 *     DELETE), as for a delete from before an initial sync began;
 *   - live: ADD if created after the checkpoint or during an initial sync, else UPDATE.
 * Clients treat an UPDATE of an id they do not hold as an ADD: during an initial sync an item changed
 * before its page went out is one they never saw.
 *
 * `heldSeq`: the version a push notice brought the device (docs/design.md § The echo), known from the token it echoed.
 * It holds the record whatever its checkpoint says, so that version is NO_CHANGE and any later one,
 * a delete included, must be sent.
 */
export function deriveAction(item: ItemFacts, from: Checkpoint, deviceId: string, heldSeq?: number): Action {
  if (item.seq <= from.seq || item.seq === heldSeq) return 'NO_CHANGE';
  if (item.originDevice === deviceId && item.seq > from.baseSeq) return 'NO_CHANGE';
  if (heldSeq !== undefined) return item.deleted ? 'DELETE' : 'UPDATE';
  if (item.deleted) {
    const neverHad = item.createdSeq > from.seq && item.createdBy !== deviceId;
    return neverHad || item.seq <= from.baseSeq ? 'NO_CHANGE' : 'DELETE';
  }
  const initial = from.seq === 0 || from.seq < from.baseSeq;
  return initial || item.createdSeq > from.seq ? 'ADD' : 'UPDATE';
}

/** The facts of a stored item row (any object with these fields). */
export function actionFacts(row: { seq: number; createdSeq: number; createdBy: string | null; deletedAt: number | null; originDevice: string | null }): ItemFacts {
  return { seq: row.seq, createdSeq: row.createdSeq, createdBy: row.createdBy, deleted: row.deletedAt !== null, originDevice: row.originDevice };
}
