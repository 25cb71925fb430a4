/**
 * Slows password guessing on every face (web sign-in, HTTP Basic on the API, DAV and ActiveSync). Each
 * password that has to be verified (not one verified before: see Authenticator's memo) counts as a
 * failure until it succeeds, so a burst of parallel guesses is counted before any is checked. Limits
 * within `windowMs`:
 *   - per account name and client address: few (the guesses one source gets at one account);
 *   - per client address: more (one source spraying names; behind a proxy, all clients share it);
 *   - per account name: many (a distributed attack on one account).
 * Past a limit, attempts are refused unchecked until the oldest failure leaves the window. IPv6 clients
 * count per /64, which one host usually holds whole. Memory is bounded: past `keysMax` keys per limit
 * the least recently failed is forgotten, so a spray of new keys can buy a forgotten key a fresh start
 * (the other two limits still hold).
 */
export interface ThrottleLimits {
  failuresMax: number;
  windowMs: number;
  keysMax: number;
}

const window15m = 15 * 60_000;

export const passwordLimits = {
  perNameAndAddress: { failuresMax: 5, windowMs: window15m, keysMax: 10_000 },
  perAddress: { failuresMax: 50, windowMs: window15m, keysMax: 10_000 },
  perName: { failuresMax: 100, windowMs: window15m, keysMax: 10_000 },
} satisfies Record<string, ThrottleLimits>;

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

  /** Takes back one failure (an attempt counted in advance that succeeded). */
  forgive(key: string): void {
    const times = this.failures.get(key);
    if (!times) return;
    times.pop();
    if (times.length === 0) this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
  }
}

export class PasswordThrottle {
  private readonly pair: FailureWindow;
  private readonly address: FailureWindow;
  private readonly name: FailureWindow;

  constructor(
    private readonly now: () => number,
    limits = passwordLimits,
  ) {
    this.pair = new FailureWindow(limits.perNameAndAddress);
    this.address = new FailureWindow(limits.perAddress);
    this.name = new FailureWindow(limits.perName);
  }

  /**
   * Before verifying a password: 0 and the attempt counted as a failure, or the seconds to wait (the
   * attempt is then not counted, and must not be checked).
   */
  begin(name: string, address: string): number {
    const now = this.now();
    const from = addressKey(address);
    const wait = Math.max(this.pair.blockedFor(`${name}\0${from}`, now), this.address.blockedFor(from, now), this.name.blockedFor(name, now));
    if (wait > 0) return Math.ceil(wait / 1000);
    this.pair.fail(`${name}\0${from}`, now);
    this.address.fail(from, now);
    this.name.fail(name, now);
    return 0;
  }

  /** The password was right: the attempt is taken back. */
  succeeded(name: string, address: string): void {
    const from = addressKey(address);
    this.pair.forgive(`${name}\0${from}`);
    this.address.forgive(from);
    this.name.forgive(name);
  }
}

/** IPv4 as is (also when mapped into IPv6); IPv6 by its /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::', 2);
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
