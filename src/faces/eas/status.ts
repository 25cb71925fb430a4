import type { StatusCode } from '../../protocol/errors.js';

/** AirSync Status values of Sync (MS-ASCMD 2.2.3.177.17) and how the hub's statuses map onto them. */
export const syncStatus = {
  success: 1,
  invalidSyncKey: 3,
  protocolError: 4,
  serverError: 5,
  conversionError: 6,
  conflict: 7,
  notFound: 8,
  hierarchyChanged: 12,
  incompleteRequest: 13,
  /** Wait or HeartbeatInterval out of range; the answer's Limit gives the nearest allowed value. */
  holdOutOfBounds: 14,
  tooManyCollections: 15,
  retry: 16,
} as const;

/** A per-item result of the hub as an AirSync Status. */
export function itemStatusOf(status: StatusCode): number {
  switch (status) {
    case 'ok':
      return syncStatus.success;
    case 'conflict':
      return syncStatus.conflict;
    case 'notFound':
      return syncStatus.notFound;
    case 'invalidItem':
    case 'wrongKind':
    case 'itemTooLarge':
    case 'uidConflict':
      return syncStatus.conversionError;
    case 'deferred':
      return syncStatus.retry;
    default:
      return syncStatus.serverError;
  }
}
