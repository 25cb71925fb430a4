/**
 * Seeded randomness for the simulator and the fault-injecting tests. Everything random in a simulated
 * run comes from here, so a seed replays the run exactly.
 */

/** mulberry32: small, fast, and good enough to drive workloads and fault injection. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const idAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A seeded stream with the draws the simulator needs. */
export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** The items in a random order (Fisher-Yates), leaving the input alone. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /**
   * An independent stream. Each concern of a run (workload, network, server ids...) draws from its own
   * fork, so one more draw in one of them does not reshuffle all the others.
   */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }

  /** A URL-safe identifier, as the hub's Random port promises. */
  id(length = 16): string {
    let out = '';
    for (let i = 0; i < length; i++) out += idAlphabet[Math.floor(this.next() * idAlphabet.length)];
    return out;
  }
}
