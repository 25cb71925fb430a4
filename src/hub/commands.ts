import { checkItemContent, type ItemIndex } from '../content/item-content.js';
import { etagOf } from '../content/etag.js';
import { indexRecorded, type RecordedResult } from '../core/sync-key.js';
import type { ClientCommand, CommandResult, FetchedItem } from '../protocol/sync.js';
import type { CollectionRow, StoreTx } from '../store/store.js';
import type { HubPorts } from './ports.js';

/**
 * Applies one collection's client commands inside the exchange's transaction. Each command succeeds or
 * fails alone: content is validated before anything is written, so a refused item leaves no trace.
 * A retried exchange passes the outcomes recorded by its first attempt; commands found there are
 * answered from the record instead of being applied twice.
 */

export interface AppliedCommands {
  results: CommandResult[];
  fetched: FetchedItem[];
  recorded: RecordedResult[];
}

interface Context {
  tx: StoreTx;
  ports: HubPorts;
  collection: CollectionRow;
  deviceId: string;
}

export async function applyClientCommands(
  ctx: Context,
  commands: readonly ClientCommand[],
  previousAttempt: readonly RecordedResult[] | null,
): Promise<AppliedCommands> {
  const record = indexRecorded(previousAttempt ?? []);
  const out: AppliedCommands = { results: [], fetched: [], recorded: [] };
  for (const [index, command] of commands.entries()) {
    if (command.op === 'fetch') {
      const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, command.serverId);
      if (!item || item.data === null) {
        out.results.push({ index, op: 'fetch', serverId: command.serverId, status: 'notFound', message: 'no such item' });
      } else {
        out.results.push({ index, op: 'fetch', serverId: item.id, status: 'ok', etag: item.etag });
        out.fetched.push({ serverId: item.id, data: item.data, etag: item.etag });
      }
      continue;
    }
    const dataEtag = command.op === 'delete' ? undefined : etagOf(command.data);
    const key =
      command.op === 'add'
        ? { op: 'add' as const, clientId: command.clientId, dataEtag: dataEtag as string }
        : command.op === 'change'
          ? { op: 'change' as const, serverId: command.serverId, dataEtag: dataEtag as string }
          : { op: 'delete' as const, serverId: command.serverId };
    const outcome: RecordedResult =
      record.same(key) ??
      (command.op === 'add'
        ? await addItem(ctx, command.clientId, command.data, dataEtag as string, record.addedAs(command.clientId))
        : command.op === 'change'
          ? await changeItem(ctx, command.serverId, command.data, dataEtag as string)
          : await deleteItem(ctx, command.serverId));
    out.recorded.push(outcome);
    const result: CommandResult = { index, op: command.op, status: outcome.status as CommandResult['status'] };
    if (outcome.clientId !== undefined) result.clientId = outcome.clientId;
    if (outcome.serverId !== undefined) result.serverId = outcome.serverId;
    if (outcome.etag !== undefined) result.etag = outcome.etag;
    if (outcome.message !== undefined) result.message = outcome.message;
    out.results.push(result);
  }
  return out;
}

async function writeItem(ctx: Context, id: string, createdSeq: number | null, data: string, etag: string, index: ItemIndex): Promise<void> {
  const seq = await ctx.tx.nextSeq(ctx.collection.accountId);
  await ctx.tx.putItem({
    id,
    accountId: ctx.collection.accountId,
    collectionId: ctx.collection.id,
    uid: index.uid,
    data,
    etag,
    seq,
    createdSeq: createdSeq ?? seq,
    originDevice: ctx.deviceId,
    deletedAt: null,
    title: index.title,
    startMs: index.startMs,
    endMs: index.endMs,
  });
}

async function addItem(ctx: Context, clientId: string, data: string, etag: string, createdEarlier: string | undefined): Promise<RecordedResult> {
  // A retried Add whose data was edited between the attempts: the first attempt's item takes the edit,
  // so an item without a UID is not created twice.
  if (createdEarlier !== undefined) {
    const changed = await changeItem(ctx, createdEarlier, data, etag);
    return { ...changed, op: 'add', clientId, serverId: createdEarlier };
  }
  const check = checkItemContent(ctx.collection.kind, data);
  if (!check.ok) return { op: 'add', clientId, dataEtag: etag, status: check.status, message: check.message };
  // An Add whose UID the collection already holds is the same object again (a re-initializing device,
  // or an acknowledgement that was lost): it takes the existing id instead of creating a twin.
  const twin = check.index.uid === null ? undefined : await ctx.tx.findLiveItemByUid(ctx.collection.accountId, ctx.collection.id, check.index.uid);
  const id = twin?.id ?? ctx.ports.random.id();
  if (twin?.etag !== etag) await writeItem(ctx, id, twin?.createdSeq ?? null, data, etag, check.index);
  return { op: 'add', clientId, serverId: id, dataEtag: etag, status: 'ok', etag };
}

async function changeItem(ctx: Context, serverId: string, data: string, etag: string): Promise<RecordedResult> {
  const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, serverId);
  if (!item || item.deletedAt !== null) {
    return { op: 'change', serverId, dataEtag: etag, status: 'notFound', message: 'no such item; it may have been deleted' };
  }
  const check = checkItemContent(ctx.collection.kind, data);
  if (!check.ok) return { op: 'change', serverId, dataEtag: etag, status: check.status, message: check.message };
  if (check.index.uid !== null && check.index.uid !== item.uid) {
    const other = await ctx.tx.findLiveItemByUid(ctx.collection.accountId, ctx.collection.id, check.index.uid);
    if (other && other.id !== item.id) {
      return { op: 'change', serverId, dataEtag: etag, status: 'uidConflict', message: `UID ${check.index.uid} belongs to item ${other.id}` };
    }
  }
  if (item.etag !== etag) await writeItem(ctx, item.id, item.createdSeq, data, etag, check.index);
  return { op: 'change', serverId, dataEtag: etag, status: 'ok', etag };
}

async function deleteItem(ctx: Context, serverId: string): Promise<RecordedResult> {
  const item = await ctx.tx.getItem(ctx.collection.accountId, ctx.collection.id, serverId);
  if (!item) return { op: 'delete', serverId, status: 'notFound', message: 'no such item' };
  // Deleting what is already deleted is done: the device's wish holds.
  if (item.deletedAt !== null) return { op: 'delete', serverId, status: 'ok' };
  const seq = await ctx.tx.nextSeq(ctx.collection.accountId);
  await ctx.tx.putItem({
    ...item,
    data: null,
    seq,
    originDevice: ctx.deviceId,
    deletedAt: ctx.ports.clock.now(),
    startMs: null,
    endMs: null,
  });
  return { op: 'delete', serverId, status: 'ok' };
}
