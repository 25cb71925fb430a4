/**
 * Slows password guessing at the web sign-in: at most `failuresMax` failed attempts per account name,
 * and per client address, within `windowMs`; after that the attempt is refused unchecked until the
 * oldest failure leaves the window. A success clears the name's failures. Memory is bounded: past
 * `keysMax` tracked keys, the oldest are forgotten first (an attacker spraying names or addresses
 * then only forgets their own record).
 */
export interface ThrottleLimits {
  failuresMax: number;
  windowMs: number;
  keysMax: number;
}

export const signInLimits: { perName: ThrottleLimits; perAddress: ThrottleLimits } = {
  perName: { failuresMax: 5, windowMs: 15 * 60_000, keysMax: 10_000 },
  perAddress: { failuresMax: 20, windowMs: 15 * 60_000, keysMax: 10_000 },
};

class FailureWindow {
  // A Map iterates in insertion order, so the first key is the least recently failed one.
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits) {}

  /** Milliseconds until `key` may try again; 0 if it may now. */
  blockedFor(key: string, now: number): number {
    const times = this.recent(key, now);
    if (times.length < this.limits.failuresMax) return 0;
    return (times[0] as number) + this.limits.windowMs - now;
  }

  fail(key: string, now: number): void {
    const times = this.recent(key, now);
    times.push(now);
    this.failures.delete(key);
    this.failures.set(key, times.slice(-this.limits.failuresMax));
    if (this.failures.size > this.limits.keysMax) this.failures.delete(this.failures.keys().next().value as string);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
  }
}

export class SignInThrottle {
  private readonly byName: FailureWindow;
  private readonly byAddress: FailureWindow;

  constructor(
    private readonly now: () => number,
    limits = signInLimits,
  ) {
    this.byName = new FailureWindow(limits.perName);
    this.byAddress = new FailureWindow(limits.perAddress);
  }

  /** Seconds the caller must wait before this attempt is even checked; 0 if it may go ahead. */
  retryAfterSeconds(name: string, address: string): number {
    const now = this.now();
    return Math.ceil(Math.max(this.byName.blockedFor(name, now), this.byAddress.blockedFor(address, now)) / 1000);
  }

  failed(name: string, address: string): void {
    const now = this.now();
    this.byName.fail(name, now);
    this.byAddress.fail(address, now);
  }

  succeeded(name: string): void {
    this.byName.clear(name);
  }
}
