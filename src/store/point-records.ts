import type { PointRecord } from '../protocol/server-point.js';

/**
 * The records a list of puts leaves, in order: each replaces the earlier ones of its item or of its
 * remote id, as it replaces the stored ones (StoreTx.putPointRecords). Both backends then write them
 * with one statement per report instead of two per record.
 */
export function recordsLeft(records: readonly PointRecord[]): PointRecord[] {
  const left: Array<PointRecord | undefined> = [];
  const byServer = new Map<string, number>();
  const byRemote = new Map<string, number>();
  for (const record of records) {
    for (const earlier of [byServer.get(record.serverId), byRemote.get(record.remoteId)]) if (earlier !== undefined) left[earlier] = undefined;
    byServer.set(record.serverId, left.length);
    byRemote.set(record.remoteId, left.length);
    left.push(record);
  }
  return left.filter((r): r is PointRecord => r !== undefined);
}
