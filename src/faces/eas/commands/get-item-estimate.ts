import { carried } from '../folders.js';
import { limits } from '../../../core/limits.js';
import type { EasContext } from '../context.js';
import { child, children, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes a Sync with this key would bring, counted from
 * the device's sync state (up to `estimateMax`). A key other than the device's current one is Status 4;
 * a collection never synced is Status 3 ("prime it with a Sync first"). More collections than a Sync
 * may name is a top-level Status 2, before anything is read.
 */
const gie = namespace('GetItemEstimate');

export const estimateStatus = { success: 1, invalidCollection: 2, notPrimed: 3, invalidKey: 4 } as const;
const estimateMax = 10_000;

export async function getItemEstimate(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const collections = children(child(body, 'Collections'), 'Collection');
  if (collections.length > limits.collectionsPerRequestMax) return gie('GetItemEstimate', gie('Status', String(estimateStatus.invalidCollection)));
  const requested = collections.map((c) => ({
    id: text(child(c, 'CollectionId')) ?? '',
    key: text(child(c, 'SyncKey', 'AirSync')),
  }));
  const states = await ctx.hub.pendingChanges(ctx.point.accountId, ctx.point.device.id, requested.map((r) => r.id), estimateMax);
  const known = new Set(carried(await ctx.hub.accounts.listCollections(ctx.point.accountId)).map((c) => c.id));
  const responses = requested.map((r) => {
    const response = (status: number, estimate?: number) =>
      gie('Response', gie('Status', String(status)), gie('Collection', gie('CollectionId', r.id), estimate !== undefined && gie('Estimate', String(estimate))));
    if (!known.has(r.id)) return response(estimateStatus.invalidCollection);
    const state = states.get(r.id);
    if (r.key === undefined || r.key === '0' || state === undefined) return response(estimateStatus.notPrimed);
    if (r.key !== String(state.syncKey)) return response(estimateStatus.invalidKey);
    return response(estimateStatus.success, state.pending);
  });
  return gie('GetItemEstimate', ...responses);
}
