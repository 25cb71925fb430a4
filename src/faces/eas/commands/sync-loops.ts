import { limits } from '../../../core/limits.js';
import type { EasContext } from '../context.js';
import type { DeviceMemory } from '../device-memory.js';

/**
 * Loop detection. A device that cannot take something in an answer (a client bug on one item, say)
 * asks for the same sync key again and again, and each retry replays the same answer. From the second
 * repeat on, the device gets a smaller window each time (64, 8, then 1 item), so the replay narrows to
 * the item it chokes on; if it still repeats with one item, that version of the item is quarantined for
 * this device: left out of what it is sent, and reported on the devices page. Everything else keeps
 * flowing; a later version of the item is tried again, and so is everything when the device starts the
 * collection over from key 0.
 */
const windowByRepeat = [512, 512, 64, 8, 1];

/** `narrowed`: the window is cut for the repeats, so the hub's replay may stop short of the answer it replaces (hub/sync.ts). */
export function noteRepeat(memory: DeviceMemory, collectionId: string, key: string): { window: number; narrowed: boolean; stuck: boolean } {
  const last = memory.repeats.get(collectionId);
  const count = last && last.key === key && key !== '0' ? last.count + 1 : 0;
  const window = windowByRepeat[Math.min(count, windowByRepeat.length - 1)] as number;
  // Most recently synced last; a device that synced more collections than one request can name
  // forgets the longest unsynced one (its count starts again, which only delays a quarantine).
  memory.repeats.delete(collectionId);
  memory.repeats.set(collectionId, { key, count, window });
  if (memory.repeats.size > limits.collectionsPerRequestMax) memory.repeats.delete(memory.repeats.keys().next().value as string);
  return { window, narrowed: window < (windowByRepeat[0] as number), stuck: count >= windowByRepeat.length };
}

const stateKey = 'eas.quarantine';
/** Collection id -> item id -> the etag of the quarantined version. */
export type Quarantine = Record<string, Record<string, string>>;

/** Versions quarantined for this device, by collection; `restarting` collections (key 0) are cleared first. */
export async function quarantined(ctx: EasContext, restarting: readonly string[]): Promise<Map<string, Map<string, string>>> {
  const read = (raw: string | undefined) => (raw ? (JSON.parse(raw) as Quarantine) : {});
  const parsed =
    restarting.length === 0
      ? read(await ctx.hub.readFaceState(ctx.point.accountId, ctx.point.device.id, stateKey))
      : await ctx.hub.withFaceState(ctx.point, stateKey, (_, raw) => {
          const all = read(raw);
          for (const id of restarting) delete all[id];
          return { state: JSON.stringify(all), result: all };
        });
  return new Map(Object.entries(parsed).map(([collectionId, items]) => [collectionId, new Map(Object.entries(items))]));
}

export async function quarantine(ctx: EasContext, collectionId: string, itemId: string, etag: string): Promise<void> {
  await ctx.hub.withFaceState(ctx.point, stateKey, (collections, state) => {
    const parsed = state ? (JSON.parse(state) as Quarantine) : {};
    const items = parsed[collectionId] ?? {};
    // Most recent last, so the bound below releases the oldest first.
    delete parsed[collectionId];
    delete items[itemId];
    parsed[collectionId] = { ...items, [itemId]: etag };
    return { state: JSON.stringify(boundedQuarantine(parsed, new Set(collections.map((c) => c.id)))), result: undefined };
  });
  ctx.memory.repeats.delete(collectionId);
  ctx.logger.warn({ deviceId: ctx.point.device.id, collectionId, itemId }, 'ActiveSync device keeps failing on one item; quarantined');
  await ctx.hub.reportDeviceError(ctx.point.accountId, ctx.point.device.id, 'quarantined', `item ${itemId} in collection ${collectionId} is no longer sent to this device: it kept failing on it`);
}

/**
 * The quarantine without collections that no longer exist and, past `easQuarantinedMax` versions, without
 * the oldest: a released version is only tried again (and quarantined again if it still fails).
 */
export function boundedQuarantine(all: Quarantine, live: ReadonlySet<string>): Quarantine {
  const entries = Object.entries(all).filter(([id]) => live.has(id));
  let excess = entries.reduce((n, [, items]) => n + Object.keys(items).length, 0) - limits.easQuarantinedMax;
  const out: Quarantine = {};
  for (const [id, items] of entries) {
    const kept = Object.entries(items);
    const drop = Math.max(0, Math.min(excess, kept.length));
    excess -= drop;
    if (drop < kept.length) out[id] = Object.fromEntries(kept.slice(drop));
  }
  return out;
}
