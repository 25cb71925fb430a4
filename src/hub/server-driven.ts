import { limits } from '../core/limits.js';
import type { ClientCommand, CollectionResponse } from '../protocol/sync.js';
import type { Store } from '../store/store.js';
import type { HubPorts } from './ports.js';
import { budgetOf, openExchange, syncCollections } from './sync.js';

/**
 * Server-driven sync points (docs/design.md § Server-driven sync points): upstream servers, local folders and other sync points
 * that the hub reaches out to, instead of waiting for them to call. One run has two stages:
 *
 *   1. gather the reports of every online sync point (a point that fails here is offline this run);
 *   2. run recovery and the engine for all of them, and store the new truth and their new positions,
 *      in one transaction: if the server fails before this commits, nothing of the run counts;
 *   3. hand each point its actions; a point that applies them all acknowledges;
 *   4. only an acknowledged point's actions are dropped (its new sync key is kept). A point that did not
 *      acknowledge is asked again next run from the same key, which replays the same actions and
 *      recognizes the report it already applied, as for any retried exchange.
 *
 * The hub holds each point's acknowledged key on its behalf, so a point needs no state of its own
 * beyond its data.
 */
export interface ServerSyncPoint {
  /** The device id it is known by (its priority and conflict records use it). */
  id: string;
  name: string;
  /** What kind of point it is, e.g. "caldav-upstream" or "folder". */
  protocol: string;
  collectionId: string;
  /**
   * Stage 1: what changed on the point since its last acknowledged run, as client commands: add (with
   * the point's own id for the record), change and delete (by server id). Throwing means "offline".
   */
  report(): Promise<ClientCommand[]>;
  /** Stage 3: apply the outcome of its report and the truth's actions. Resolves true to acknowledge. */
  apply(outcome: CollectionResponse): Promise<boolean>;
}

export interface RunReport {
  online: string[];
  offline: string[];
  acknowledged: string[];
  /** Points with more actions than one window; the caller runs again for them. */
  moreAvailable: string[];
}

export async function runServerDrivenSync(store: Store, ports: HubPorts, accountId: string, points: readonly ServerSyncPoint[]): Promise<RunReport> {
  const run: RunReport = { online: [], offline: [], acknowledged: [], moreAvailable: [] };
  const reports = new Map<ServerSyncPoint, ClientCommand[]>();
  for (const point of points) {
    try {
      const commands = await point.report();
      if (commands.length > limits.commandsPerCollectionMax) throw new Error(`more than ${limits.commandsPerCollectionMax} changes in one report`);
      reports.set(point, commands);
      run.online.push(point.id);
    } catch (err) {
      ports.logger.warn({ accountId, point: point.id, err: String(err) }, 'sync point offline for this run');
      run.offline.push(point.id);
    }
  }
  const outcomes = await store.transaction(async (tx) => {
    const answered = new Map<ServerSyncPoint, CollectionResponse>();
    for (const [point, commands] of reports) {
      const exchange = await openExchange(tx, ports, accountId, { id: point.id, name: point.name }, point.protocol);
      const syncKey = await tx.getPointKey(accountId, point.id, point.collectionId);
      const [outcome] = await syncCollections(exchange, [{ collectionId: point.collectionId, syncKey, windowSize: limits.windowItemsMax, commands }], budgetOf([commands]));
      answered.set(point, outcome as CollectionResponse);
    }
    return answered;
  });
  for (const [point, outcome] of outcomes) {
    if (outcome.status === 'invalidSyncKey') {
      // The point's position expired (or its collection state was lost): it starts over next run.
      await store.transaction((tx) => tx.setPointKey(accountId, point.id, point.collectionId, 0));
      continue;
    }
    let acknowledged = false;
    try {
      acknowledged = outcome.status === 'ok' && (await point.apply(outcome));
    } catch (err) {
      ports.logger.warn({ accountId, point: point.id, err: String(err) }, 'sync point failed to apply its actions');
    }
    if (!acknowledged) continue;
    await store.transaction((tx) => tx.setPointKey(accountId, point.id, point.collectionId, outcome.syncKey));
    run.acknowledged.push(point.id);
    if (outcome.moreAvailable) run.moreAvailable.push(point.id);
  }
  return run;
}
