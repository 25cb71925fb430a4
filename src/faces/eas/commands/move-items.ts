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
 * Each move is a transaction of its own; past `easMovesMax` in one request, each further move fails
 * alone with Status 5 without being tried, and the client can send it again.
 */
const move = namespace('Move');

export const moveStatus = { invalidSource: 1, invalidDestination: 2, success: 3, sameFolder: 4, failure: 5 } as const;

export async function moveItems(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const responses: WbxmlElement[] = [];
  const collections = await ctx.hub.accounts.listCollections(ctx.point.accountId);
  const mail = new Set(collections.filter((c) => c.kind === 'mail').map((c) => c.id));
  const folders = new Set([...carried(collections).map((c) => c.id), ...mail]);
  for (const [index, m] of children(body, 'Move').entries()) {
    const itemId = text(child(m, 'SrcMsgId')) ?? '';
    const from = text(child(m, 'SrcFldId')) ?? '';
    const to = text(child(m, 'DstFldId')) ?? '';
    const response = (status: number, newId?: string) =>
      move('Response', move('SrcMsgId', itemId), move('Status', String(status)), newId !== undefined && move('DstMsgId', newId));
    if (index >= limits.easMovesMax) responses.push(response(moveStatus.failure));
    else if (!folders.has(from)) responses.push(response(moveStatus.invalidSource));
    else if (!folders.has(to)) responses.push(response(moveStatus.invalidDestination));
    else if (from === to) responses.push(response(moveStatus.sameFolder));
    // A message moves only to another mail folder, and nothing else to one.
    else if (mail.has(from) !== mail.has(to)) responses.push(response(moveStatus.invalidDestination));
    else if (mail.has(from)) responses.push(await moveMessage(ctx, from, itemId, to, response));
    // Looked up first in a read: a missing item costs no write transaction (and its sync).
    else if (!(await ctx.hub.readItem(ctx.point.accountId, from, itemId))) responses.push(response(moveStatus.invalidSource));
    else {
      try {
        responses.push(response(moveStatus.success, await ctx.hub.moveItem(ctx.point, from, itemId, to)));
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

async function moveMessage(ctx: EasContext, from: string, itemId: string, to: string, response: (status: number, newId?: string) => WbxmlElement): Promise<WbxmlElement> {
  try {
    const newId = await ctx.hub.mail.move(ctx.point, from, itemId, to);
    // The device files the message under DstMsgId: the destination's next Sync deletes it if it is gone by then (sync-mail.ts).
    if (newId !== null) await noteMovedIn(ctx, from, itemId, to, newId);
    return response(moveStatus.success, newId ?? undefined);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    // notFound: the message is gone from the source (moved or deleted, at IMAP too); invalidRequest: the
    // folders are of two mail accounts; unavailable: the IMAP server could not be reached, nothing moved.
    const status = err.status === 'notFound' ? moveStatus.invalidSource : err.status === 'invalidRequest' ? moveStatus.invalidDestination : moveStatus.failure;
    return response(status);
  }
}
