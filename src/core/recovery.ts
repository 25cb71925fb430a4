import type { Action } from './action-table.js';

/**
 * Recovery (docs/design.md § Recovery): what a sync point's report about one record really means, given what
 * the sync point's action table still says about it. Each outcome is one row of that section's table.
 *
 * In the native protocol the report is the client's commands: an add is ADDED, a change UPDATED, a
 * delete DELETED, and every record it does not mention is NO_CHANGE.
 */
export type Reported = 'ADDED' | 'UPDATED' | 'DELETED' | 'NO_CHANGE';

export type Recovery =
  /** Pending DELETE: the truth deleted the record; the sync point's version is not presented (the hub keeps it as a conflict record). */
  | { kind: 'dropDeleted' }
  /** Reported DELETED: the sync point deleted it; its pending actions no longer apply. */
  | { kind: 'deleted' }
  /** Reported UPDATED: the sync point edited it; a pending action for it is stale, the edit goes to the engine. */
  | { kind: 'updated' }
  /** NO_CHANGE: nothing reported; the pending action stays, as for a sync point that was offline. */
  | { kind: 'keepPending' }
  /** ADDED, no duplicate: a genuinely new record. */
  | { kind: 'added' }
  /** ADDED, a duplicate with ADD pending: the sync point was told to ADD the old record and did, but its acknowledgement was lost: the record takes the old id, nothing else changes. */
  | { kind: 'ackLost'; oldId: string }
  /** ADDED, a duplicate with UPDATE pending: a duplicate of a record with an UPDATE pending: the new record is dropped; the pending UPDATE brings the sync point the truth. */
  | { kind: 'dropDuplicate'; oldId: string }
  /** ADDED, a duplicate with nothing pending: the user added the duplicate by hand: it takes the old id, and the old record is updated to match it. */
  | { kind: 'mergeIntoOld'; oldId: string };

/**
 * `pending`: this sync point's action for the reported record. `duplicateOf`: for an ADDED record, the
 * existing record it duplicates and this sync point's action for that one.
 */
export function recover(reported: Reported, pending: Action, duplicateOf?: { id: string; pending: Action }): Recovery {
  if (pending === 'DELETE') return { kind: 'dropDeleted' };
  switch (reported) {
    case 'DELETED':
      return { kind: 'deleted' };
    case 'UPDATED':
      return { kind: 'updated' };
    case 'NO_CHANGE':
      return { kind: 'keepPending' };
    case 'ADDED':
      if (!duplicateOf) return { kind: 'added' };
      if (duplicateOf.pending === 'ADD') return { kind: 'ackLost', oldId: duplicateOf.id };
      if (duplicateOf.pending === 'UPDATE') return { kind: 'dropDuplicate', oldId: duplicateOf.id };
      return { kind: 'mergeIntoOld', oldId: duplicateOf.id };
  }
}
