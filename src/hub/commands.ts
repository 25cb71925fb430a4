import { actionFacts, deriveAction, type Action } from '../core/action-table.js';
import { assert } from '../core/assert.js';
import { resolveByPriority } from '../core/conflict.js';
import { recover } from '../core/recovery.js';
import { indexRecorded, type Checkpoint, type RecordedResult } from '../core/sync-key.js';
import { etagOf } from '../content/etag.js';
import type { ItemIndex } from '../kinds/kind.js';
import { checkItem, kindOf } from '../kinds/registry.js';
import type { RuleBudget } from '../content/recurrence-budget.js';
import type { ClientCommand, CommandResult, FetchedItem } from '../protocol/sync.js';
import type { ConflictRow, ItemRow, StoreTx } from '../store/store.js';
import { versionHeld } from './held-versions.js';
import { writeItem, writeTombstone, type WriteContext } from './item-writes.js';
import type { ResponseBudget } from './response-budget.js';

/**
 * Applies one collection's client commands inside the exchange's transaction, following docs/design.md § Recovery:
 * each command is the sync point's report about one record; recovery (core/recovery.ts) reads
 * it against the sync point's pending action, and the engine (§ Concurrent changes) writes the truth. When another
 * sync point changed the record since this one last synced, a property-level merge is tried first,
 * then device priority decides, and the losing version is kept as a conflict record.
 *
 * Each command succeeds or fails alone: content is validated before anything is written. A retried
 * exchange passes the outcomes its first attempt recorded; commands found there are answered from the
 * record instead of being applied twice.
 */

export interface AppliedCommands {
  results: CommandResult[];
  recorded: RecordedResult[];
  /** Items an answered Add maps to that have been deleted since: the device must be told. */
  deletedSince: string[];
  /**
   * Items whose current version the device was sent but kept out for an edit of its own, which then
   * lost: the device must be sent that version again, its checkpoint is already past it.
   */
  resend: string[];
}

/** Commands applied between two pauses for other work (HubPorts.pause): a few milliseconds' worth. */
const commandsPerPause = 16;

export interface CommandContext extends WriteContext {
  deviceId: string;
  /** The checkpoint the exchange starts from: it decides what is pending for this device. */
  from: Checkpoint;
  /** Item id -> sequence number of the version the device holds from a push notice (docs/design.md § The echo). */
  held: ReadonlyMap<string, number>;
  /** Device priorities of the account, for conflicts (read when first asked). */
  priorities(): Promise<ReadonlyMap<string, number>>;
  /** What evaluating calendar content may cost, shared by every command of the request (docs/architecture.md). */
  rules: RuleBudget;
  /** The sync point is server-driven (server-driven.ts): the items' source, which no kind's `deviceWrites` binds (docs/design.md § Kinds). */
  serverDriven: boolean;
}

/**
 * A client command as a face hands it to the hub. `heldUnknown` (a change): the face completed it from a
 * stand-in for the version the device holds, which the hub cannot name (faces/eas, EditsInOrder), so the
 * device does not hold what it writes: it is written as the server's own version, which every sync point,
 * this one included, receives, also in a replay of the exchange (sim seed 9700206).
 */
export type HubClientCommand = ClientCommand & { heldUnknown?: boolean };

/**
 * `previous`: what the device's last exchange did. On a retry of it (`retried`), every command that
 * carries the same thing is answered from that record. Adds are matched by client id even when the key
 * moved on (a re-initialization right after a lost answer): client ids name one item for good, so the
 * same add is never applied twice, while a change or delete sent again later is a new wish. `withdraws`:
 * whether an add the retry leaves out is withdrawn (withdrawLeftOutAdds).
 */
export async function applyClientCommands(
  ctx: CommandContext,
  commands: readonly HubClientCommand[],
  previous: readonly RecordedResult[],
  retried: boolean,
  withdraws: boolean,
): Promise<AppliedCommands> {
  const record = indexRecorded(previous);
  const out: AppliedCommands = { results: [], recorded: [], deletedSince: [], resend: [] };
  for (const [index, command] of commands.entries()) {
    // Answered once every window of the exchange is cut (answerFetches).
    if (command.op === 'fetch') continue;
    if (index % commandsPerPause === commandsPerPause - 1) await ctx.ports.pause?.();
    const dataEtag = command.op === 'delete' ? undefined : etagOf(command.data);
    const key =
      command.op === 'add'
        ? { op: 'add' as const, clientId: command.clientId, dataEtag: dataEtag as string }
        : command.op === 'change'
          ? { op: 'change' as const, serverId: command.serverId, dataEtag: dataEtag as string }
          : { op: 'delete' as const, serverId: command.serverId };
    const recorded = retried || key.op === 'add' ? record.same(key) : undefined;
    const ledgered = recorded === undefined && command.op === 'add' ? await ledgerAnswer(ctx, command.clientId, dataEtag as string, retried) : undefined;
    const outcome: RecordedResult =
      recorded ??
      ledgered ??
      (command.op === 'add'
        ? await addItem(ctx, command.clientId, command.data, dataEtag as string, record.addedAs(command.clientId))
        : command.op === 'change'
          ? await changeItem(ctx, command.serverId, command.data, dataEtag as string, command.etag, command.heldUnknown === true)
          : await deleteItem(ctx, command.serverId, command.etag));
    const seqWanted = !recorded && outcome.status === 'ok';
    // The item the command landed on, as the command left it, read once: for its sequence and for an add's answer below.
    const landed = outcome.serverId && (seqWanted || command.op === 'add') ? await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, outcome.serverId) : undefined;
    if (seqWanted && outcome.serverId !== undefined) outcome.seq = matchingSeq(landed, dataEtag);
    if (command.op === 'add' && outcome.serverId) {
      const lost = outcome.status === 'conflict';
      await ctx.tx.recordLedgerAdd(ctx.collection.accountId, ctx.deviceId, ctx.collection.id, command.clientId, dataEtag as string, outcome.serverId, lost);
      if (!landed || landed.deletedAt !== null) out.deletedSince.push(outcome.serverId);
      // The device takes the answer's serverId for the row that holds the add's version, possibly over
      // the row the initial sync of a re-initialization had just delivered the current version to: it
      // must be sent that version again (docs/protocol.md §5.3).
      else if (ledgered && landed.etag !== dataEtag) out.resend.push(landed.id);
    }
    // The one `ok` change without an etag: its item is deleted (writtenBeforeDelete).
    if (command.op === 'change' && outcome.status === 'ok' && outcome.etag === undefined) out.deletedSince.push(command.serverId);
    if (command.op !== 'add' && command.etag !== undefined && outcome.status === 'conflict') {
      const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, command.serverId);
      if (item && item.deletedAt === null && item.etag !== command.etag) out.resend.push(item.id);
    }
    out.recorded.push(outcome);
    const result: CommandResult = { index, op: command.op, status: outcome.status as CommandResult['status'] };
    if (outcome.clientId !== undefined) result.clientId = outcome.clientId;
    if (outcome.serverId !== undefined) result.serverId = outcome.serverId;
    if (outcome.etag !== undefined) result.etag = outcome.etag;
    if (outcome.seq !== undefined) result.seq = outcome.seq;
    if (outcome.message !== undefined) result.message = outcome.message;
    out.results.push(result);
  }
  if (retried && withdraws) await withdrawLeftOutAdds(ctx, commands, previous, out);
  return out;
}

/**
 * An add the first attempt of a retried exchange made and the retry leaves out is withdrawn: the device
 * no longer has it (its user deleted it before the answer came), so the item it made is deleted, unless
 * another sync point changed it since; then it stays and is sent to the device. An add that matched
 * another device's item made nothing to withdraw. The ledger keeps the add, so a late copy of the first
 * attempt lands on the deleted item and writes nothing (docs/protocol.md §5.3; sim seeds 9200188, 9201943).
 */
async function withdrawLeftOutAdds(ctx: CommandContext, commands: readonly ClientCommand[], previous: readonly RecordedResult[], out: AppliedCommands): Promise<void> {
  const resent = new Set(commands.flatMap((command) => (command.op === 'add' ? [command.clientId] : [])));
  for (const earlier of previous) {
    if (earlier.op !== 'add' || earlier.status !== 'ok' || earlier.serverId === undefined || resent.has(earlier.clientId ?? '')) continue;
    const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, earlier.serverId);
    if (!item || item.deletedAt !== null || item.createdBy !== ctx.deviceId) continue;
    if (item.originDevice === ctx.deviceId && item.etag === earlier.dataEtag) await writeTombstone(ctx, item, ctx.deviceId);
    else out.resend.push(item.id);
  }
}

/**
 * The fetches among one collection's commands, answered after every command and window of the exchange
 * (hub/sync.ts), so each shows the item as the request left it. An item fetched twice is looked at and
 * carried once. One that does not fit in what the response budget has left is not read: it is answered
 * `deferred`, to be fetched again in a later exchange (docs/protocol.md §8).
 */
export async function answerFetches(
  tx: StoreTx,
  accountId: string,
  collectionId: string,
  commands: readonly ClientCommand[],
  budget: ResponseBudget,
): Promise<{ results: CommandResult[]; fetched: FetchedItem[] }> {
  const out: { results: CommandResult[]; fetched: FetchedItem[] } = { results: [], fetched: [] };
  const answers = new Map<string, Omit<CommandResult, 'index'>>();
  for (const [index, command] of commands.entries()) {
    if (command.op !== 'fetch') continue;
    let answer = answers.get(command.serverId);
    if (!answer) {
      const base = { op: 'fetch' as const, serverId: command.serverId };
      const bytes = await tx.liveItemBytes(accountId, collectionId, command.serverId);
      if (bytes === undefined) answer = { ...base, status: 'notFound', message: 'no such item' };
      else if (!budget.take(bytes)) answer = { ...base, status: 'deferred', message: 'no room left in this response; fetch it again in a later exchange' };
      else {
        const item = await tx.getItem(accountId, collectionId, command.serverId);
        assert(item !== undefined && item.data !== null, 'a live item has data');
        answer = { ...base, status: 'ok', etag: item.etag };
        out.fetched.push({ serverId: item.id, data: item.data, etag: item.etag });
      }
      answers.set(command.serverId, answer);
    }
    out.results.push({ index, ...answer });
  }
  return out;
}

/** The sequence of the item's current version if it is what the command carried (its data, or a delete). */
function matchingSeq(item: ItemRow | undefined, dataEtag: string | undefined): number | undefined {
  if (!item) return undefined;
  const matches = dataEtag === undefined ? item.deletedAt !== null : item.deletedAt === null && item.etag === dataEtag;
  return matches ? item.seq : undefined;
}

/**
 * An Add this device already made with this content: answered with the item it landed on, also when
 * that item has been deleted since and its tombstone purged (the device is then told it is deleted).
 * The etag is that of the version the Add carried, as a replayed answer's is: it is the version the
 * device holds, and an edit or delete it made of it while the Add was unanswered names it (§4.1), so
 * a version written since by another device counts as concurrent, not as seen (docs/protocol.md §5.3).
 * An Add that lost to the twin it matched is answered `conflict` again: its version was never stored.
 * One exception: an item this device itself deleted, sent again as an add in a new exchange (not a
 * retry, so no late copy). The device cannot be adding what it deleted: the delete was the withdrawal
 * (withdrawLeftOutAdds) of an add its retry had only left out, as a phone does when its batch is full,
 * and the add is made again (sim seed 10205956).
 */
async function ledgerAnswer(ctx: CommandContext, clientId: string, dataEtag: string, retried: boolean): Promise<RecordedResult | undefined> {
  const found = await ctx.tx.findLedgerAdd(ctx.collection.accountId, ctx.deviceId, ctx.collection.id, clientId, dataEtag);
  if (found === undefined) return undefined;
  const base = { op: 'add' as const, clientId, serverId: found.itemId, dataEtag };
  if (found.lost) return { ...base, status: 'conflict', etag: dataEtag, message: 'this add lost to the version the item held; it is kept as a conflict record' };
  const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, found.itemId);
  if (!retried && item && item.deletedAt !== null && item.originDevice === ctx.deviceId) return undefined;
  return { ...base, status: 'ok', ...(item && item.deletedAt === null ? { etag: dataEtag } : {}) };
}

const pendingFor = (ctx: CommandContext, item: ItemRow): Action => deriveAction(actionFacts(item), ctx.from, ctx.deviceId, ctx.held.get(item.id));

async function keepConflict(ctx: CommandContext, item: ItemRow, data: string, lostBy: string | null, wonBy: string | null, reason: ConflictRow['reason']): Promise<string> {
  const id = ctx.ports.random.id();
  await ctx.tx.addConflict({
    id,
    accountId: ctx.collection.accountId,
    collectionId: ctx.collection.id,
    itemId: item.id,
    data,
    lostBy,
    wonBy,
    reason,
    createdAt: ctx.ports.clock.now(),
    restoredAt: null,
  });
  ctx.ports.logger.info({ accountId: ctx.collection.accountId, itemId: item.id, conflictId: id, lostBy, wonBy, reason }, 'conflict resolved; losing version kept');
  return id;
}

async function findTwin(ctx: CommandContext, index: ItemIndex): Promise<ItemRow | undefined> {
  const candidates = await ctx.tx.findTwinCandidates(ctx.collection.accountId, ctx.collection.id, index.uid, index.name);
  const kind = kindOf(ctx.collection.kind);
  return candidates.find((c) => kind.areTwins(index, { uid: c.uid, name: c.matchName, contactKeys: c.contactKeys }));
}

/** What the collection's kind forbids this sync point to write: nothing, for a server-driven one. */
const deviceWrites = (ctx: CommandContext) => (ctx.serverDriven ? undefined : kindOf(ctx.collection.kind).deviceWrites);

async function addItem(ctx: CommandContext, clientId: string, data: string, etag: string, createdEarlier: RecordedResult | undefined): Promise<RecordedResult> {
  const addRefused = deviceWrites(ctx)?.addRefused;
  if (addRefused !== undefined) return { op: 'add', clientId, dataEtag: etag, status: 'invalidItem', message: addRefused };
  // A retried Add whose data was edited between the attempts: the first attempt's item takes the edit,
  // made from the version that attempt carried, so an item without a UID is not created twice and an
  // edit made there since by another device meets this one as a concurrent change (sim seed 8001088).
  const earlier = createdEarlier?.serverId === undefined ? undefined : await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, createdEarlier.serverId);
  if (earlier && earlier.deletedAt === null) {
    const changed = await changeItem(ctx, earlier.id, data, etag, createdEarlier?.dataEtag);
    return { ...changed, op: 'add', clientId, serverId: earlier.id };
  }
  const check = checkItem(ctx.collection.kind, data, ctx.rules);
  if (!check.ok) return { op: 'add', clientId, dataEtag: etag, status: check.status, message: check.message };
  const twin = await findTwin(ctx, check.index);
  const decision = recover('ADDED', 'NO_CHANGE', twin && { id: twin.id, pending: pendingFor(ctx, twin) });
  const done = (status: RecordedResult['status'], itemEtag: string | undefined, serverId: string, message?: string): RecordedResult => ({
    op: 'add',
    clientId,
    serverId,
    dataEtag: etag,
    status,
    ...(itemEtag ? { etag: itemEtag } : {}),
    ...(message ? { message } : {}),
  });
  switch (decision.kind) {
    case 'added': {
      const id = ctx.ports.random.id();
      return done('ok', await writeItem(ctx, id, null, data, check.index, ctx.deviceId, etag), id);
    }
    case 'mergeIntoOld': {
      // The user added it again by hand: the old record is updated to match. Nothing says the typed
      // version was made from the old one, so the old one is kept as a conflict record, as a version
      // that lost on priority is: otherwise another device's edit of it would be lost silently.
      const old = twin as ItemRow;
      if (old.etag === etag) return done('ok', old.etag, old.id);
      await keepConflict(ctx, old, old.data as string, old.originDevice, ctx.deviceId, 'priority');
      return done('ok', await writeItem(ctx, old.id, old, data, check.index, ctx.deviceId, etag), old.id);
    }
    case 'ackLost':
    case 'dropDuplicate': {
      // The sync point holds the old record already (or is about to be updated to the truth); only a
      // different version is news, and it is a concurrent change of the old record.
      const old = twin as ItemRow;
      // The same version, or the same properties in another order (a server that re-serialized it).
      if (old.etag === etag || kindOf(ctx.collection.kind).format.same(old.data as string, data)) return done('ok', old.etag, old.id);
      const changed = await concurrentChange(ctx, old, data, check.index, null);
      // A losing add is answered with the version it carried, as an answer from the add record is: the
      // device holds that version until the truth reaches it, and an edit it makes meanwhile names it.
      return { ...changed, op: 'add', clientId, serverId: old.id, dataEtag: etag, ...(changed.status === 'conflict' ? { etag } : {}) };
    }
    default:
      throw new Error(`recovery cannot answer ${decision.kind} for an ADDED record`);
  }
}

/**
 * A change carrying a version a deleted item held (any while its tombstone is kept, or a purged one's
 * last): the edit reached the server once, its answer was lost and the exchange forgotten (a
 * re-initialization), and the delete came after it, made from it or from a later version, or decided
 * against it then (sim seed 9411434). It is done, and the device is told
 * of the delete in the same response (AppliedCommands.deletedSince), as an add from the ledger is.
 * `notFound` would have the device add its edit again as a new item (docs/protocol.md §8; seed 3000185).
 */
const writtenBeforeDelete = { status: 'ok', message: 'this version was written before the item was deleted' } as const;

/** `madeFrom`: the etag of the version the edit was made from, if the device said; `heldUnknown`: see HubClientCommand. */
async function changeItem(ctx: CommandContext, serverId: string, data: string, etag: string, madeFrom?: string, heldUnknown = false): Promise<RecordedResult> {
  const base = { op: 'change' as const, serverId, dataEtag: etag };
  const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, serverId);
  if (!item) {
    if ((await ctx.tx.purgedEtag(ctx.collection.accountId, ctx.collection.id, serverId)) === etag) return { ...base, ...writtenBeforeDelete };
    return { ...base, status: 'notFound', message: 'no such item' };
  }
  const check = checkItem(ctx.collection.kind, data, ctx.rules);
  if (!check.ok) return { ...base, status: check.status, message: check.message };
  const changeRefused = item.data === null ? null : (deviceWrites(ctx)?.changeRefused?.(item.data, data) ?? null);
  if (changeRefused !== null) return { ...base, status: 'invalidItem', message: changeRefused };
  const pending = pendingFor(ctx, item);
  const decision = recover('UPDATED', pending);
  if (decision.kind === 'dropDeleted') {
    // Deleted by another sync point: the delete stands, the edit is kept where the user can restore it.
    const conflictId = await keepConflict(ctx, item, data, ctx.deviceId, item.originDevice, 'deletedElsewhere');
    return { ...base, status: 'conflict', message: `the item was deleted elsewhere; this version is kept as conflict ${conflictId}` };
  }
  // A delete this device made or already knew of, unless it deleted this very version.
  if (item.deletedAt !== null) {
    const before = item.etag === etag || (await ctx.tx.hadVersion(ctx.collection.accountId, item.id, etag));
    return { ...base, ...(before ? writtenBeforeDelete : { status: 'notFound', message: 'the item was deleted' }) };
  }
  if (check.index.uid !== null && check.index.uid !== item.uid) {
    const other = await ctx.tx.findLiveItemByUid(ctx.collection.accountId, ctx.collection.id, check.index.uid);
    if (other && other.id !== item.id) {
      return { ...base, status: 'uidConflict', message: `UID ${check.index.uid} belongs to item ${other.id}` };
    }
  }
  if (item.etag === etag) return { ...base, status: 'ok', etag };
  // Recovery, reported UPDATED (docs/design.md § Recovery): a pending UPDATE means another sync point changed the record since this one
  // last synced. So does an edit made from another version than the current one, whatever the device's
  // position says: one it was sent but kept out for this edit, or its own add's version when the add
  // was sent again edited (addItem). The version the device holds (held-versions.ts) is their common
  // one if it is the one the device names; otherwise the common one is not known here, so priority
  // decides and the loser is kept.
  if (pending === 'UPDATE' || (madeFrom !== undefined && madeFrom !== item.etag)) {
    const common = await versionHeld(ctx.tx, item, ctx.deviceId, ctx.from, ctx.held.get(item.id), madeFrom);
    const known = common !== undefined && (madeFrom === undefined || etagOf(common) === madeFrom);
    return { ...base, ...(await concurrentChange(ctx, item, data, check.index, known ? common : null, heldUnknown)) };
  }
  // A stale NO_CHANGE or ADD makes this the only change.
  return { ...base, status: 'ok', etag: await writeItem(ctx, item.id, item, data, check.index, heldUnknown ? null : ctx.deviceId, etag) };
}

/**
 * Two sync points changed one record (docs/design.md § Concurrent changes): merge their edits property by property if
 * they touched different properties, else let device priority pick, and keep the loser.
 */
async function concurrentChange(ctx: CommandContext, item: ItemRow, data: string, index: ItemIndex, base: string | null | undefined, heldUnknown = false): Promise<Pick<RecordedResult, 'status' | 'etag' | 'message'>> {
  const truth = item.data as string;
  const merged = base ? kindOf(ctx.collection.kind).format.merge(base, data, truth) : null;
  const mergedCheck = merged === null ? undefined : checkItem(ctx.collection.kind, merged, ctx.rules);
  if (merged !== null && mergedCheck?.ok && mergedCheck.index.uid === item.uid) {
    // The device holds what it sent until the merge reaches it, and its next edit is made from that:
    // kept in the history as its own (held-versions.ts; sim seed 6000356 with --eas-stale-edits).
    if (!heldUnknown) await ctx.tx.putItemVersion(item.id, await ctx.tx.nextSeq(ctx.collection.accountId), data, etagOf(data), ctx.ports.clock.now(), ctx.deviceId);
    // Written as the server's own version, so every sync point, this one included, receives it.
    return { status: 'ok', etag: await writeItem(ctx, item.id, item, merged, mergedCheck.index, null) };
  }
  const priorities = await ctx.priorities();
  const winner = resolveByPriority(
    { deviceId: ctx.deviceId, priority: priorities.get(ctx.deviceId) },
    { deviceId: item.originDevice, priority: item.originDevice === null ? undefined : priorities.get(item.originDevice) },
  );
  if (winner === 'incoming') {
    await keepConflict(ctx, item, truth, item.originDevice, ctx.deviceId, 'priority');
    return { status: 'ok', etag: await writeItem(ctx, item.id, item, data, index, heldUnknown ? null : ctx.deviceId) };
  }
  const conflictId = await keepConflict(ctx, item, data, ctx.deviceId, item.originDevice, 'priority');
  return { status: 'conflict', message: `another device with higher priority changed this item; this version is kept as conflict ${conflictId}` };
}

/** `madeFrom`: the etag of the version the user deleted, if the device said. */
async function deleteItem(ctx: CommandContext, serverId: string, madeFrom?: string): Promise<RecordedResult> {
  const base = { op: 'delete' as const, serverId };
  const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, serverId);
  if (!item) return { ...base, status: 'notFound', message: 'no such item' };
  const pending = pendingFor(ctx, item);
  // Deleting what is already deleted (elsewhere: a pending DELETE, docs/design.md § Recovery, or here) is done: the wish holds.
  if (recover('DELETED', pending).kind === 'dropDeleted' || item.deletedAt !== null) return { ...base, status: 'ok' };
  // A delete of another version than the current one (one the device never had, as during an initial
  // sync) is concurrent with it, as the edit of one is. So is a delete naming no version (an ActiveSync
  // Delete) of an item the hub has no record of sending this device, as during an initial sync or after
  // a replay narrowed the answer that carried it, when the item was edited after it was made: the device
  // may hold any of its versions (sim seed 10401390).
  const heldUnknown = pending === 'ADD' && madeFrom === undefined && item.seq !== item.createdSeq;
  // An item only its source makes (mail) is gone once its source deleted it: nothing could make it there
  // again, so no device's concurrent edit keeps it (docs/design.md § Mail; sim --mail seed 128).
  const sourceOnly = ctx.serverDriven && kindOf(ctx.collection.kind).deviceWrites?.addRefused !== undefined;
  if (!sourceOnly && (pending === 'UPDATE' || heldUnknown || (madeFrom !== undefined && madeFrom !== item.etag))) {
    // Edited elsewhere since this device last synced, and deleted here: priority decides.
    const priorities = await ctx.priorities();
    const winner = resolveByPriority(
      { deviceId: ctx.deviceId, priority: priorities.get(ctx.deviceId) },
      { deviceId: item.originDevice, priority: item.originDevice === null ? undefined : priorities.get(item.originDevice) },
    );
    if (winner === 'truth') return { ...base, status: 'conflict', message: 'a device with higher priority changed this item; it was not deleted' };
    await keepConflict(ctx, item, item.data as string, item.originDevice, ctx.deviceId, 'deleteLost');
  }
  await writeTombstone(ctx, item, ctx.deviceId);
  return { ...base, status: 'ok' };
}
