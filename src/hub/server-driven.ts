import { limits } from '../core/limits.js';
import { etagOf } from '../content/etag.js';
import { kindOf } from '../kinds/registry.js';
import { displacedId, type PointApplied, type PointMemory, type PointRecord, type PointReport, type ServerSyncPoint } from '../protocol/server-point.js';
import type { ClientCommand, CollectionResponse } from '../protocol/sync.js';
import type { Store, StoreTx } from '../store/store.js';
import { deviceErrorsKept } from './health.js';
import type { HubPorts } from './ports.js';
import { budgetOf, openExchange, syncCollections } from './sync.js';

/**
 * Server-driven sync points (docs/design.md § Server-driven sync points): upstream servers and other
 * sources that the hub reaches out to, instead of waiting for them to call. One run has these stages:
 *
 *   1. gather the reports of every online sync point (a point that fails here is offline this run);
 *   2. run recovery and the engine for all of them, and store the new truth, their new positions, the
 *      records of the remote objects their reports came from and their cursors, in one transaction: if
 *      the server fails before this commits, nothing of the run counts, and the next report names the
 *      same changes again;
 *   3. hand each point its actions; a point that applies them all acknowledges;
 *   4. what a point wrote is recorded whether or not it acknowledged (the source holds it now); only an
 *      acknowledged point's actions are dropped (its new sync key is kept). A point that did not
 *      acknowledge is asked again next run from the same key, which replays the same actions and
 *      recognizes the report it already applied, as for any retried exchange.
 *
 * The hub holds each point's key, cursor and records on its behalf (protocol/server-point.ts), so a point
 * needs no state of its own beyond its source.
 */

export interface RunReport {
  online: string[];
  offline: string[];
  acknowledged: string[];
  /** Points to run again: acknowledged ones with more to report or more actions than one window, and those that did not acknowledge without failing. */
  again: ServerSyncPoint[];
  /** What stopped a point this run (its report or its apply): the caller decides when to try again. */
  failures: unknown[];
}

/** The point's memory in the store, each read its own transaction. */
function memoryOf(store: Store, accountId: string, point: ServerSyncPoint): PointMemory {
  return {
    byRemote: (ids) => inChunks(ids, (part) => store.transaction((tx) => tx.pointRecordsByRemote(accountId, point.id, part))),
    byServer: (ids) => inChunks(ids, (part) => store.transaction((tx) => tx.pointRecordsByServer(accountId, point.id, point.collectionId, part))),
    stale: (max) => store.transaction((tx) => tx.listPointRecords(accountId, point.id, point.collectionId, 'stale', max)),
    all: (max) => store.transaction((tx) => tx.listPointRecords(accountId, point.id, point.collectionId, 'all', max)),
    remember: (records) => store.transaction((tx) => tx.putPointRecords(accountId, point.id, point.collectionId, records)),
  };
}

async function inChunks<T>(ids: readonly string[], read: (part: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += limits.pointRecordsPerReadMax) out.push(...(await read(ids.slice(i, i + limits.pointRecordsPerReadMax))));
  return out;
}

export async function runServerDrivenSync(store: Store, ports: HubPorts, accountId: string, points: readonly ServerSyncPoint[]): Promise<RunReport> {
  const run: RunReport = { online: [], offline: [], acknowledged: [], again: [], failures: [] };
  const reports = new Map<ServerSyncPoint, PointReport>();
  for (const point of points) {
    try {
      const cursor = await store.transaction((tx) => tx.getPointCursor(accountId, point.id, point.collectionId));
      const report = await point.report(memoryOf(store, accountId, point), cursor);
      if (report.commands.length > limits.commandsPerCollectionMax) throw new Error(`more than ${limits.commandsPerCollectionMax} changes in one report`);
      if (report.remotes.length !== report.commands.length) throw new Error('a report names the remote copy of every command');
      reports.set(point, report);
      run.online.push(point.id);
    } catch (err) {
      ports.logger.warn({ accountId, point: point.id, err: String(err) }, 'sync point offline for this run');
      run.offline.push(point.id);
      run.failures.push(err);
    }
  }
  const outcomes = await store.transaction(async (tx) => {
    const answered = new Map<ServerSyncPoint, CollectionResponse>();
    for (const [point, report] of reports) {
      // A point whose device is gone (its upstream removed while it reported) is not brought back.
      if (!(await tx.getDevice(accountId, point.id))) continue;
      const exchange = await openExchange(tx, ports, accountId, { id: point.id, name: point.name }, point.protocol);
      const syncKey = await tx.getPointKey(accountId, point.id, point.collectionId);
      const { commands } = report;
      const [outcome] = await syncCollections(exchange, [{ collectionId: point.collectionId, syncKey, windowSize: limits.windowItemsMax, commands, reportedOnce: true }], budgetOf([commands]));
      answered.set(point, outcome as CollectionResponse);
      if (outcome?.status !== 'ok') continue;
      await rememberReport(tx, ports, accountId, point, report, outcome);
      if (syncKey === 0) await deleteWhatIsGone(tx, accountId, point, outcome);
      await deleteDisplaced(tx, accountId, point, outcome);
    }
    return answered;
  });
  for (const [point, outcome] of outcomes) {
    if (outcome.status === 'invalidSyncKey') {
      // The point's position expired (or its collection state was lost): it starts over next run.
      await store.transaction((tx) => tx.setPointKey(accountId, point.id, point.collectionId, 0));
      continue;
    }
    if (outcome.status !== 'ok') {
      ports.logger.warn({ accountId, point: point.id, status: outcome.status, message: outcome.message }, 'sync point exchange refused');
      continue;
    }
    let applied: PointApplied;
    try {
      applied = await point.apply(outcome, memoryOf(store, accountId, point));
    } catch (err) {
      ports.logger.warn({ accountId, point: point.id, err: String(err) }, 'sync point failed to apply its actions');
      run.failures.push(err);
      continue;
    }
    if (applied.failure !== undefined) run.failures.push(applied.failure);
    await store.transaction(async (tx) => {
      await tx.putPointRecords(accountId, point.id, point.collectionId, applied.records);
      for (const remoteId of applied.forgotten) await tx.deletePointRecord(accountId, point.id, remoteId);
      for (const refusal of applied.refused) {
        await tx.addDeviceError(accountId, point.id, { at: ports.clock.now(), status: 'refused', message: `item ${refusal.serverId}: ${refusal.message}` }, deviceErrorsKept);
      }
      if (applied.acknowledged) await tx.setPointKey(accountId, point.id, point.collectionId, outcome.syncKey);
    });
    // One that did not acknowledge without failing (a write the source refused as a conflict) has the conflict to read next.
    if (!applied.acknowledged) {
      if (applied.failure === undefined) run.again.push(point);
      continue;
    }
    run.acknowledged.push(point.id);
    if (outcome.moreAvailable || reports.get(point)?.more === true) run.again.push(point);
  }
  return run;
}

/**
 * The start of an initial sync, which sends only live items and the deletes made after it began: a
 * point that starts over (its key expired, or was lost) is also told to delete what its records hold of
 * items deleted before, as a device starting over drops what the initial sync did not bring (sim seeds
 * 11100440 and 3 with --upstreams 1).
 */
async function deleteWhatIsGone(tx: StoreTx, accountId: string, point: ServerSyncPoint, outcome: CollectionResponse): Promise<void> {
  const told = new Set(outcome.commands.map((c) => c.serverId));
  for (const record of await tx.listPointRecords(accountId, point.id, point.collectionId, 'all', limits.upstreamMembersMax)) {
    if (told.has(record.serverId)) continue;
    const item = await tx.getItem(accountId, point.collectionId, record.serverId);
    if (!item || item.deletedAt !== null) outcome.commands.push({ op: 'delete', serverId: record.serverId });
  }
}

/**
 * The point's displaced members (protocol/server-point.ts `displacedId`), each handed to it as a delete
 * at every run until it is gone: a run that stops before deleting one leaves its record for the next
 * (sim seed 11100471 with --upstreams 1).
 */
async function deleteDisplaced(tx: StoreTx, accountId: string, point: ServerSyncPoint, outcome: CollectionResponse): Promise<void> {
  const told = new Set(outcome.commands.map((c) => c.serverId));
  for (const record of await tx.listPointRecords(accountId, point.id, point.collectionId, 'displaced', limits.windowItemsMax)) {
    if (!told.has(record.serverId)) outcome.commands.push({ op: 'delete', serverId: record.serverId });
  }
}

/**
 * The hub's etag of the version the source's copy is: the copy's own, unless it is an add the hub matched
 * to an item it holds with the same properties in another order (a server that re-serialized it), which
 * is then that item's version, so an edit made there later is made from it.
 */
async function heldEtag(tx: StoreTx, accountId: string, collectionId: string, serverId: string, command: ClientCommand & { data: string }, resultEtag: string | undefined): Promise<string> {
  const own = etagOf(command.data);
  // An add the item now holds as sent (most are) needs no read.
  if (command.op !== 'add' || resultEtag === own) return own;
  const item = await tx.getItem(accountId, collectionId, serverId);
  if (!item || item.data === null || item.etag === own) return own;
  const collection = await tx.getCollection(accountId, collectionId);
  return collection && kindOf(collection.kind).format.same(item.data, command.data) ? item.etag : own;
}

/**
 * Stage 2's records: each command's remote copy beside the item it landed on, holding the version it
 * carried; a delete (or a change of an item the hub no longer has) forgets its remote copy; the copies
 * the report found already known; the problems it met; and the cursor, so the source is next asked from
 * where this report ends only if this transaction commits.
 */
async function rememberReport(tx: StoreTx, ports: HubPorts, accountId: string, point: ServerSyncPoint, report: PointReport, outcome: CollectionResponse): Promise<void> {
  // Records are put together, one statement for many; a delete first writes those put before it, so each lands in order.
  const puts: PointRecord[] = [];
  const put = (record: PointRecord) => puts.push(record);
  const flush = () => tx.putPointRecords(accountId, point.id, point.collectionId, puts.splice(0));
  let readAgain = false;
  // The records of the items the report's adds and changes landed on, read at once, and kept up to date below.
  const landedOn = [...new Set(outcome.results.flatMap((r) => (r.serverId !== undefined && (r.op === 'add' || r.op === 'change') ? [r.serverId] : [])))];
  const holding = new Map<string, PointRecord>();
  const serverOf = new Map<string, string>();
  // As putPointRecords does: a record replaces any other of its remote copy or of its item.
  const hold = (record: PointRecord) => {
    const before = serverOf.get(record.remoteId);
    if (before !== undefined && holding.get(before)?.remoteId === record.remoteId) holding.delete(before);
    holding.set(record.serverId, record);
    serverOf.set(record.remoteId, record.serverId);
  };
  for (let i = 0; i < landedOn.length; i += limits.pointRecordsPerReadMax) {
    for (const record of await tx.pointRecordsByServer(accountId, point.id, point.collectionId, landedOn.slice(i, i + limits.pointRecordsPerReadMax))) hold(record);
  }
  for (const result of outcome.results) {
    const command = report.commands[result.index];
    const remote = report.remotes[result.index];
    if (command === undefined || remote === null || remote === undefined) continue;
    // A change of an item the hub no longer has, and whose delete the point was never told of: its
    // remote copy is forgotten, and the cursor stays, so the next report names it again, as an add
    // (an edit beats a delete it did not see, as a device's change answered notFound is added again:
    // sdk/sync-loop.ts; sim seed 11100413 with --upstreams 1).
    if (command.op === 'change' && result.status === 'notFound') readAgain = true;
    if (command.op === 'delete' || (command.op === 'change' && result.status === 'notFound')) {
      await flush();
      await tx.deletePointRecord(accountId, point.id, remote.remoteId);
      const gone = serverOf.get(remote.remoteId);
      if (gone !== undefined && holding.get(gone)?.remoteId === remote.remoteId) holding.delete(gone);
    }
    else if ((command.op === 'add' || command.op === 'change') && result.serverId !== undefined && (result.status === 'ok' || result.status === 'conflict')) {
      // An add matched by UID to an item another member holds: that member is displaced, deleted at the
      // source by this run's apply, and this one, whose content the engine has just taken in, holds the item.
      const held = holding.get(result.serverId);
      if (held !== undefined && held.remoteId !== remote.remoteId) put({ ...held, serverId: displacedId(held.remoteId) });
      const record = { serverId: result.serverId, remoteId: remote.remoteId, remoteEtag: remote.remoteEtag, heldEtag: await heldEtag(tx, accountId, point.collectionId, result.serverId, command, result.etag) };
      put(record);
      hold(record);
    }
  }
  for (const record of report.known) put(record);
  await flush();
  for (const problem of report.problems) {
    await tx.addDeviceError(accountId, point.id, { at: ports.clock.now(), status: 'invalid', message: `${problem.remoteId}: ${problem.message}` }, deviceErrorsKept);
  }
  if (report.cursor !== undefined && !readAgain) await tx.setPointCursor(accountId, point.id, point.collectionId, report.cursor);
}
