/**
 * Slows secret guessing on every face (web sign-in, HTTP Basic on the API, DAV and ActiveSync, app
 * tokens) without locking anyone out (docs/operations.md § The web app, Password throttling). Only verifications
 * that actually run scrypt are counted: a secret verified before is remembered by the Authenticator and
 * never reaches this.
 *
 * Three counters, each with exponential backoff instead of a lockout: past `freeFailures` failures the
 * next attempt must wait `delayMs`, doubling with each further failure up to `delayMsMax`, and one
 * failure is forgiven per `decayMs` without a new one.
 *   - per client of a subject (a subject is an account name or an app token id; a client is a browser
 *     by its known-client cookie, else an address): the guesses one source gets at one account;
 *   - per address: one source spraying many names;
 *   - per subject: a distributed attack on one account.
 * A known client (one that has succeeded for this subject before: see KnownClients) counts only
 * against its own counter, so other clients' failures never hold back its right password. Each attempt
 * is counted as a failure before it is verified and forgiven when it succeeds, so a burst of parallel
 * guesses cannot all run before the first fails. IPv6 addresses count per /64, which one host usually
 * holds whole. Memory is bounded: past `keysMax` keys per counter the least recently failed is forgotten.
 */
export interface Backoff {
  freeFailures: number;
  delayMs: number;
  delayMsMax: number;
  decayMs: number;
  keysMax: number;
}

export const throttleLimits = {
  perClient: { freeFailures: 5, delayMs: 5000, delayMsMax: 15 * 60_000, decayMs: 10 * 60_000, keysMax: 10_000 },
  perAddress: { freeFailures: 30, delayMs: 1000, delayMsMax: 60_000, decayMs: 60_000, keysMax: 10_000 },
  perSubject: { freeFailures: 30, delayMs: 1000, delayMsMax: 60_000, decayMs: 60_000, keysMax: 10_000 },
} satisfies Record<string, Backoff>;

interface Count {
  failures: number;
  lastAt: number;
}

export class BackoffCounter {
  // A Map iterates in insertion order, so the first key is the least recently failed one.
  private readonly counts = new Map<string, Count>();

  constructor(private readonly limits: Backoff) {}

  /** Milliseconds until `key` may try again; 0 if it may now. */
  waitMs(key: string, now: number): number {
    const failures = this.current(key, now);
    if (failures < this.limits.freeFailures) return 0;
    const delay = Math.min(this.limits.delayMsMax, this.limits.delayMs * 2 ** Math.min(30, failures - this.limits.freeFailures));
    return Math.max(0, (this.counts.get(key)?.lastAt ?? now) + delay - now);
  }

  fail(key: string, now: number): void {
    const failures = this.current(key, now) + 1;
    this.counts.delete(key);
    this.counts.set(key, { failures, lastAt: now });
    if (this.counts.size > this.limits.keysMax) this.counts.delete(this.counts.keys().next().value as string);
  }

  /** Takes back one failure (an attempt counted in advance that succeeded). */
  forgive(key: string): void {
    const count = this.counts.get(key);
    if (!count) return;
    count.failures--;
    if (count.failures <= 0) this.counts.delete(key);
  }

  /** Failures still counted at `now`, after the decay. */
  private current(key: string, now: number): number {
    const count = this.counts.get(key);
    if (!count) return 0;
    return Math.max(0, count.failures - Math.floor((now - count.lastAt) / this.limits.decayMs));
  }

  get size(): number {
    return this.counts.size;
  }
}

/** One attempt: the subject guessed at, the client guessing, and whether that client is known for the subject. */
export interface Attempt {
  subject: string;
  /** A browser's known-client id, or the address. */
  client: string;
  address: string;
  known: boolean;
}

export class PasswordThrottle {
  private readonly perClient: BackoffCounter;
  private readonly perAddress: BackoffCounter;
  private readonly perSubject: BackoffCounter;

  constructor(
    private readonly now: () => number,
    limits = throttleLimits,
  ) {
    this.perClient = new BackoffCounter(limits.perClient);
    this.perAddress = new BackoffCounter(limits.perAddress);
    this.perSubject = new BackoffCounter(limits.perSubject);
  }

  /**
   * Before verifying a secret: 0 and the attempt counted as a failure, or the seconds to wait (the
   * attempt is then not counted, and must not be checked).
   */
  begin(attempt: Attempt): number {
    const now = this.now();
    const keys = this.keys(attempt);
    const wait = Math.max(
      this.perClient.waitMs(keys.client, now),
      keys.address === undefined ? 0 : this.perAddress.waitMs(keys.address, now),
      keys.subject === undefined ? 0 : this.perSubject.waitMs(keys.subject, now),
    );
    if (wait > 0) return Math.ceil(wait / 1000);
    this.perClient.fail(keys.client, now);
    if (keys.address !== undefined) this.perAddress.fail(keys.address, now);
    if (keys.subject !== undefined) this.perSubject.fail(keys.subject, now);
    return 0;
  }

  /** The secret was right: the attempt is taken back. */
  succeeded(attempt: Attempt): void {
    const keys = this.keys(attempt);
    this.perClient.forgive(keys.client);
    if (keys.address !== undefined) this.perAddress.forgive(keys.address);
    if (keys.subject !== undefined) this.perSubject.forgive(keys.subject);
  }

  /** A known client answers only for its own failures. */
  private keys(a: Attempt): { client: string; address?: string; subject?: string } {
    const client = `${a.subject}\0${a.client}`;
    return a.known ? { client } : { client, address: addressKey(a.address), subject: a.subject };
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
