import { limits } from '../../core/limits.js';
import type { EasContext } from './context.js';

/** The device's face state (hub withFaceState) that holds its memory, as JSON (`Stored`). */
export const memoryStateKey = 'eas.memory';

/** Per collection synced lately: the key the device keeps repeating, how often, and the window it is now given (sync-loops.ts). */
export interface Repeat {
  key: string;
  count: number;
  window: number;
}

/** The stored form: the kept Sync as base64, each repeat as `[collectionId, key, count, window]`, most recent last. */
interface Stored {
  sync?: string;
  ping?: { heartbeatSeconds: number; folders: string[] };
  repeats?: Array<[string, string, number, number]>;
}

/** Each part of a memory as it is stored, to see which parts a request changed. */
interface Parts {
  sync: string | undefined;
  ping: string | undefined;
  repeats: Map<string, string>;
}

/**
 * What a device's requests left for later ones: an empty Sync or Ping repeats the last full one
 * (MS-ASCMD 2.2.1.21, 2.2.1.13), and loop detection counts repeated sync keys. It is kept in the store
 * as the device's face state, so a request that lands on another process finds it (docs/operations.md
 * § PostgreSQL), and it goes with the device when the device is removed. Every part is bounded: the
 * kept Sync by `easDeviceMemoryBytesMax` (sync.ts `forNextTime`), Ping's folders by its `foldersMax`
 * and the account's own folder ids (checked before they are kept), the repeats by
 * `collectionsPerRequestMax` collections; no commands or item data are ever kept.
 *
 * A request reads the memory once, at its start, and writes back only the parts it changed (`update`),
 * into the memory as stored when it writes: a held Ping and a Sync of one device at once each keep what
 * the other wrote, and a request that changed nothing (an empty Sync or Ping that repeats) writes nothing.
 */
export class DeviceMemory {
  /** The compact part of the last Sync an empty one repeats, as WBXML (sync.ts `forNextTime`). */
  lastSync?: Uint8Array;
  lastPing?: { heartbeatSeconds: number; folders: string[] };
  /** By collection id, most recently synced last. */
  repeats = new Map<string, Repeat>();
  /** The parts as the store holds them, as far as this request knows: as it read or last wrote them. */
  private stored: Parts;

  /** The memory as stored (undefined: the device has none). */
  constructor(stored?: string) {
    const parsed: Stored = stored === undefined ? {} : (JSON.parse(stored) as Stored);
    if (parsed.sync !== undefined) this.lastSync = Buffer.from(parsed.sync, 'base64');
    if (parsed.ping) this.lastPing = parsed.ping;
    for (const [id, key, count, window] of parsed.repeats ?? []) this.repeats.set(id, { key, count, window });
    this.stored = partsOf(this);
  }

  /**
   * What this request changed since the memory was read or last saved, or undefined if nothing:
   * `apply` makes the new stored memory from the one stored when it writes (a repeat is replaced or
   * removed per collection, the kept Sync and Ping whole, only when this request changed them); call
   * `saved` once that is committed.
   */
  update(): { apply(stored: string | undefined): string | undefined; saved(): void } | undefined {
    const now = partsOf(this);
    const syncChanged = now.sync !== this.stored.sync;
    const pingChanged = now.ping !== this.stored.ping;
    const changed = [...this.repeats].filter(([id]) => now.repeats.get(id) !== this.stored.repeats.get(id)).map(([id, r]) => [id, { ...r }] as const);
    const gone = [...this.stored.repeats.keys()].filter((id) => !now.repeats.has(id));
    if (!syncChanged && !pingChanged && changed.length === 0 && gone.length === 0) return undefined;
    const { lastSync, lastPing } = this;
    return {
      apply(stored) {
        const into = new DeviceMemory(stored);
        if (syncChanged) into.lastSync = lastSync;
        if (pingChanged) into.lastPing = lastPing;
        for (const id of gone) into.repeats.delete(id);
        for (const [id, r] of changed) {
          into.repeats.delete(id);
          into.repeats.set(id, r);
        }
        while (into.repeats.size > limits.collectionsPerRequestMax) into.repeats.delete(into.repeats.keys().next().value as string);
        return into.serialized();
      },
      saved: () => {
        this.stored = now;
      },
    };
  }

  /** The stored form; undefined when there is nothing to keep. */
  private serialized(): string | undefined {
    const stored: Stored = {
      ...(this.lastSync ? { sync: Buffer.from(this.lastSync).toString('base64') } : {}),
      ...(this.lastPing ? { ping: this.lastPing } : {}),
      ...(this.repeats.size > 0 ? { repeats: [...this.repeats].map(([id, r]): [string, string, number, number] => [id, r.key, r.count, r.window]) } : {}),
    };
    return Object.keys(stored).length === 0 ? undefined : JSON.stringify(stored);
  }
}

function partsOf(memory: DeviceMemory): Parts {
  return {
    sync: memory.lastSync && Buffer.from(memory.lastSync).toString('base64'),
    ping: memory.lastPing && JSON.stringify([memory.lastPing.heartbeatSeconds, memory.lastPing.folders]),
    repeats: new Map([...memory.repeats].map(([id, r]) => [id, `${r.key} ${r.count} ${r.window}`])),
  };
}

/** Writes what the request changed in the device's memory, if anything, in a transaction of its own. */
export async function saveMemory(ctx: Pick<EasContext, 'hub' | 'point' | 'memory'>): Promise<void> {
  const update = ctx.memory.update();
  if (!update) return;
  await ctx.hub.withFaceState(ctx.point, memoryStateKey, (_, stored) => ({ state: update.apply(stored), result: undefined }));
  update.saved();
}
