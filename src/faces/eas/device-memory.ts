import { limits } from '../../core/limits.js';
import type { DeviceMemory } from './context.js';

/**
 * What the server remembers of each ActiveSync device between requests (DeviceMemory), bounded twice:
 * by the number of devices and by the bytes of their memories together. Past either bound the least
 * recently used device forgets; its next empty Sync or Ping gets "send it in full" (Status 13 / 3), which
 * every client handles. Each memory is small by construction (sync.ts keeps only the compact part of a
 * Sync; Ping keeps known folder ids), and `memoryBytes` counts what it holds.
 */
export class DeviceMemories {
  /** Most recently used last. */
  private readonly entries = new Map<string, { memory: DeviceMemory; bytes: number }>();
  private total = 0;

  constructor(
    private readonly countMax: number = limits.easDeviceMemoriesMax,
    private readonly bytesMax: number = limits.easDeviceMemoriesBytesMax,
  ) {}

  /** The device's memory (a new, empty one if it has none), now the most recently used. */
  get(key: string): DeviceMemory {
    const entry = this.entries.get(key) ?? { memory: { repeats: new Map() }, bytes: 0 };
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.evict();
    return entry.memory;
  }

  /** Counts the device's memory again after a command changed it, and forgets devices past the bounds. */
  settle(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    const bytes = memoryBytes(entry.memory);
    this.total += bytes - entry.bytes;
    entry.bytes = bytes;
    this.evict();
  }

  /** Devices remembered, and the bytes their memories hold. */
  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }

  private evict(): void {
    while (this.entries.size > this.countMax || (this.total > this.bytesMax && this.entries.size > 1)) {
      const [oldest, entry] = this.entries.entries().next().value as [string, { bytes: number }];
      this.entries.delete(oldest);
      this.total -= entry.bytes;
    }
  }
}

/** Per-entry overhead of a Map entry or small object, in bytes, for the estimate below. */
const entryBytes = 64;

/** The bytes a device's memory holds (strings at two bytes a character, plus a fixed cost per entry). */
export function memoryBytes(memory: DeviceMemory): number {
  let bytes = entryBytes + (memory.lastSync?.length ?? 0);
  if (memory.lastPing) bytes += entryBytes + memory.lastPing.folders.reduce((n, id) => n + entryBytes + 2 * id.length, 0);
  for (const [id, r] of memory.repeats) bytes += entryBytes + 2 * (id.length + r.key.length);
  return bytes;
}
