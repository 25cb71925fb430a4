import { carried } from '../folders.js';
import { limits } from '../../../core/limits.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { noteMovedIn } from './sync-mail.js';
import { child, children, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * MoveItems (MS-ASCMD 2.2.1.12): an item moves to another folder of the same kind. The hub writes a
 * delete in the source and the item, under a new id, in the destination (device-items.ts moveItem).
 * A message moves at the IMAP server first (hub/mail.ts move, docs/protocol.md §10.5), between folders of
 * one mail account only; DstMsgId is the id the destination's next Sync brings it under, absent when
 * the IMAP server did not say its new UID (no UIDPLUS), and it then comes under an id of its own.
 * Asked again after a lost answer, a move finds the item gone from the source: Status 1, as MS-ASCMD
 * gives for an item moved out of the folder before; nothing moves twice.
 * Messages moving between the same two folders move together, on one IMAP connection (one MOVE each);
 * other items each in a transaction of their own. Past `easMovesMax` in one request, each further move
 * fails alone with Status 5 without being tried, and the client can send it again.
 */
const move = namespace('Move');

export const moveStatus = { invalidSource: 1, invalidDestination: 2, success: 3, sameFolder: 4, failure: 5 } as const;

export async function moveItems(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const collections = await ctx.hub.accounts.listCollections(ctx.point.accountId);
  const mail = new Set(collections.filter((c) => c.kind === 'mail').map((c) => c.id));
  const folders = new Set([...carried(collections).map((c) => c.id), ...mail]);
  const moves = children(body, 'Move').map((m) => ({ itemId: text(child(m, 'SrcMsgId')) ?? '', from: text(child(m, 'SrcFldId')) ?? '', to: text(child(m, 'DstFldId')) ?? '' }));
  // Messages moving between the same two folders move together, on one IMAP connection (hub.mail.moveAll).
  const messages = new Map<string, { from: string; to: string; itemIds: string[] }>();
  const pairOf = (m: { from: string; to: string }) => `${m.from}\n${m.to}`;
  const statusOf = (m: (typeof moves)[number], index: number): number | 'message' | 'item' => {
    if (index >= limits.easMovesMax) return moveStatus.failure;
    if (!folders.has(m.from)) return moveStatus.invalidSource;
    if (!folders.has(m.to)) return moveStatus.invalidDestination;
    if (m.from === m.to) return moveStatus.sameFolder;
    // A message moves only to another mail folder, and nothing else to one.
    if (mail.has(m.from) !== mail.has(m.to)) return moveStatus.invalidDestination;
    return mail.has(m.from) ? 'message' : 'item';
  };
  const planned = moves.map((m, index) => {
    const status = statusOf(m, index);
    if (status !== 'message') return status;
    const pair = messages.get(pairOf(m)) ?? { from: m.from, to: m.to, itemIds: [] };
    messages.set(pairOf(m), pair);
    // The same message twice: the second finds it gone from the source, as a move asked again does.
    if (pair.itemIds.includes(m.itemId)) return moveStatus.invalidSource;
    pair.itemIds.push(m.itemId);
    return status;
  });
  const moved = new Map<string, { status: number; newId?: string }>();
  for (const [pair, { from, to, itemIds }] of messages) {
    for (const [i, outcome] of (await moveMessages(ctx, from, itemIds, to)).entries()) moved.set(`${pair}\n${itemIds[i]}`, outcome);
  }
  const responses: WbxmlElement[] = [];
  for (const [index, m] of moves.entries()) {
    const response = (status: number, newId?: string) =>
      move('Response', move('SrcMsgId', m.itemId), move('Status', String(status)), newId !== undefined && move('DstMsgId', newId));
    const status = planned[index] as number | 'message' | 'item';
    if (typeof status === 'number') responses.push(response(status));
    else if (status === 'message') {
      const outcome = moved.get(`${pairOf(m)}\n${m.itemId}`) as { status: number; newId?: string };
      responses.push(response(outcome.status, outcome.newId));
    }
    // Looked up first in a read: a missing item costs no write transaction (and its sync).
    else if (!(await ctx.hub.readItem(ctx.point.accountId, m.from, m.itemId))) responses.push(response(moveStatus.invalidSource));
    else {
      try {
        responses.push(response(moveStatus.success, await ctx.hub.moveItem(ctx.point, m.from, m.itemId, m.to)));
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        // Both folders exist, so notFound is the item; a folder of another kind cannot take it.
        const status = err.status === 'notFound' ? moveStatus.invalidSource : err.status === 'wrongKind' ? moveStatus.invalidDestination : moveStatus.failure;
        responses.push(response(status));
      }
    }
  }
  return move('MoveItems', ...responses);
}

/**
 * The messages' moves and the status of each: notFound, the message is gone from the source (moved or
 * deleted, at IMAP too); invalidRequest, the folders are of two mail accounts; unavailable, the IMAP
 * server could not be reached, and nothing moved.
 */
async function moveMessages(ctx: EasContext, from: string, itemIds: readonly string[], to: string): Promise<Array<{ status: number; newId?: string }>> {
  const statusOf = (err: ProtocolError) => (err.status === 'notFound' ? moveStatus.invalidSource : err.status === 'invalidRequest' ? moveStatus.invalidDestination : moveStatus.failure);
  let outcomes: Array<string | null | ProtocolError>;
  try {
    outcomes = await ctx.hub.mail.moveAll(ctx.point, from, itemIds, to);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return itemIds.map(() => ({ status: statusOf(err) }));
  }
  const out: Array<{ status: number; newId?: string }> = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome instanceof ProtocolError) out.push({ status: statusOf(outcome) });
    else {
      // The device files the message under DstMsgId: the destination's next Sync deletes it if it is gone by then (sync-mail.ts).
      if (outcome !== null) await noteMovedIn(ctx, from, itemIds[i] as string, to, outcome);
      out.push({ status: moveStatus.success, ...(outcome !== null ? { newId: outcome } : {}) });
    }
  }
  return out;
}
