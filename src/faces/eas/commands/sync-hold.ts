import type { EasContext } from '../context.js';
import { syncStatus } from '../status.js';
import { decodeWbxml } from '../wbxml/codec.js';
import { child, children, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { answerAfterMs } from './ping.js';

/**
 * The parts of a Sync request that are not about one collection (docs/eas.md "Sync"): `Partial`
 * (MS-ASCMD 2.2.3.131: the collections left out are those of the last request, as they were), and
 * `Wait` or `HeartbeatInterval` (2.2.3.198, 2.2.3.88.2: hold the answer until something changes).
 */
const as = namespace('AirSync');

/** Wait is in minutes, 1 to 59 (MS-ASCMD 2.2.3.198); HeartbeatInterval in seconds, 60 to 3540 as Exchange takes it. */
export const waitMinutesMin = 1;
export const waitMinutesMax = 59;
export const syncHeartbeatSecondsMin = 60;
export const syncHeartbeatSecondsMax = 3540;

/**
 * The request to answer: a Partial one completed with the collections of the last request that it does
 * not name (and that request's WindowSize, Wait or HeartbeatInterval when it names none), or the request
 * as it is. Undefined for a Partial request when nothing is remembered: the device sends it in full.
 */
export function completePartial(request: WbxmlElement, remembered: Uint8Array | undefined): WbxmlElement | undefined {
  if (!child(request, 'Partial')) return request;
  if (!remembered) return undefined;
  const last = decodeWbxml(remembered);
  const sent = children(child(request, 'Collections'), 'Collection');
  const named = new Set(sent.map((c) => text(child(c, 'CollectionId')) ?? ''));
  const kept = children(child(last, 'Collections'), 'Collection').filter((c) => !named.has(text(child(c, 'CollectionId')) ?? ''));
  const holds = child(request, 'Wait') || child(request, 'HeartbeatInterval') ? request : last;
  return as(
    'Sync',
    as('Collections', ...sent, ...kept),
    child(holds, 'Wait'),
    child(holds, 'HeartbeatInterval'),
    child(request, 'WindowSize') ?? child(last, 'WindowSize'),
  );
}

/**
 * How long the request asks the answer to be held, in seconds (undefined: not held), or the answer
 * refusing it: both elements (Status 4), a value that is not a whole number (Status 4), or one outside
 * its range (Status 14 with the nearest allowed value in `Limit`).
 */
export function holdOf(request: WbxmlElement): { seconds?: number; refusal?: WbxmlElement } {
  const wait = text(child(request, 'Wait'));
  const heartbeat = text(child(request, 'HeartbeatInterval'));
  if (wait === undefined && heartbeat === undefined) return {};
  const refuse = (status: number, limit?: number) => ({ refusal: as('Sync', as('Status', String(status)), limit !== undefined && as('Limit', String(limit))) });
  if (wait !== undefined && heartbeat !== undefined) return refuse(syncStatus.protocolError);
  const [value, min, max, unit] = wait !== undefined ? [wait, waitMinutesMin, waitMinutesMax, 60] : [heartbeat as string, syncHeartbeatSecondsMin, syncHeartbeatSecondsMax, 1];
  if (!/^\s*-?\d{1,12}\s*$/.test(value)) return refuse(syncStatus.protocolError);
  const n = Number(value);
  if (n < min) return refuse(syncStatus.holdOutOfBounds, min);
  if (n > max) return refuse(syncStatus.holdOutOfBounds, max);
  return { seconds: n * unit };
}

/**
 * Holds a Sync that asks for it until one of its collections changes: only a request that sends no
 * commands and names each collection at the device's current key with nothing waiting there (any other
 * has an answer to give at once). Like a Ping, the wait is an idle socket woken by the push hub
 * (holds.ts). True when the Sync should go on; false when the time ran out with nothing new, which is
 * answered with an empty response (the device keeps its keys and asks again).
 */
export async function holdSync(ctx: EasContext, collections: readonly WbxmlElement[], seconds: number): Promise<boolean> {
  if (collections.some((c) => child(c, 'Commands') || text(child(c, 'GetChanges')) === '0')) return true;
  const keys = new Map(collections.map((c) => [text(child(c, 'CollectionId')) ?? '', text(child(c, 'SyncKey')) ?? '']));
  const ids = [...keys.keys()];
  const pending = await ctx.hub.pendingChanges(ctx.point.accountId, ctx.point.device.id, ids, 1);
  const quiet = ids.every((id) => {
    const state = pending.get(id);
    return state !== undefined && String(state.syncKey) === keys.get(id) && state.pending === 0;
  });
  if (!quiet) return true;
  return (await ctx.wait(ids, answerAfterMs(seconds))).length > 0;
}
