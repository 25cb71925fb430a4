import type { ServerSyncPoint } from '../src/protocol/server-point.js';

/**
 * `point`, but for the stages `over` replaces: how the simulator watches a point, plants a bug in one, or
 * steps in between its report and its apply (a test racing it).
 */
export function wrapPoint(point: ServerSyncPoint, over: Partial<Pick<ServerSyncPoint, 'report' | 'apply'>>): ServerSyncPoint {
  return {
    id: point.id,
    name: point.name,
    protocol: point.protocol,
    collectionId: point.collectionId,
    report: (memory, cursor) => point.report(memory, cursor),
    apply: (outcome, memory) => point.apply(outcome, memory),
    ...over,
  };
}
