import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { child, children, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * MoveItems (MS-ASCMD 2.2.1.12): an item moves to another folder of the same kind. The hub writes a
 * delete in the source and the item, under a new id, in the destination (device-items.ts moveItem).
 */
const move = namespace('Move');

export const moveStatus = { invalidSource: 1, invalidDestination: 2, success: 3, sameFolder: 4, failure: 5 } as const;
/** Moves per request: each is a transaction of its own. */
const movesMax = 512;

export async function moveItems(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const responses: WbxmlElement[] = [];
  const folders = new Set((await ctx.hub.accounts.listCollections(ctx.point.accountId)).map((c) => c.id));
  for (const m of children(body, 'Move').slice(0, movesMax)) {
    const itemId = text(child(m, 'SrcMsgId')) ?? '';
    const from = text(child(m, 'SrcFldId')) ?? '';
    const to = text(child(m, 'DstFldId')) ?? '';
    const response = (status: number, newId?: string) =>
      move('Response', move('SrcMsgId', itemId), move('Status', String(status)), newId !== undefined && move('DstMsgId', newId));
    if (!folders.has(from)) responses.push(response(moveStatus.invalidSource));
    else if (!folders.has(to)) responses.push(response(moveStatus.invalidDestination));
    else if (from === to) responses.push(response(moveStatus.sameFolder));
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
