import { createHash } from 'node:crypto';
import type { AuthFailureRow } from '../../hub/records.js';

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
 * holds whole. The counters live in the store, so every server process counts the same failures; each
 * is kept under a hash of what it counts, and forgotten a day after its last failure (Hub.purgeTombstones).
 */
export interface Backoff {
  freeFailures: number;
  delayMs: number;
  delayMsMax: number;
  decayMs: number;
}

export const throttleLimits = {
  perClient: { freeFailures: 5, delayMs: 5000, delayMsMax: 15 * 60_000, decayMs: 10 * 60_000 },
  perAddress: { freeFailures: 30, delayMs: 1000, delayMsMax: 60_000, decayMs: 60_000 },
  perSubject: { freeFailures: 30, delayMs: 1000, delayMsMax: 60_000, decayMs: 60_000 },
} satisfies Record<string, Backoff>;

/** Failures still counted at `now`, after the decay. */
function current(row: AuthFailureRow | undefined, backoff: Backoff, now: number): number {
  if (!row) return 0;
  return Math.max(0, row.failures - Math.floor((now - row.lastAt) / backoff.decayMs));
}

/** Milliseconds until the counter lets the next attempt through; 0 if it may go now. */
export function waitMs(row: AuthFailureRow | undefined, backoff: Backoff, now: number): number {
  const failures = current(row, backoff, now);
  if (!row || failures < backoff.freeFailures) return 0;
  const delay = Math.min(backoff.delayMsMax, backoff.delayMs * 2 ** Math.min(30, failures - backoff.freeFailures));
  return Math.max(0, row.lastAt + delay - now);
}

/** One attempt: the subject guessed at, the client guessing, and whether that client is known for the subject. */
export interface Attempt {
  subject: string;
  /** A browser's known-client id, or the address. */
  client: string;
  address: string;
  known: boolean;
}

/** What the throttle needs of the hub: its counters, read and written in one transaction (Accounts.updateFailureCounts). */
export interface FailureCounts {
  updateFailureCounts<T>(keyHashes: readonly string[], decide: (counted: ReadonlyMap<string, AuthFailureRow>) => { write: AuthFailureRow[]; result: T }): Promise<T>;
}

export class PasswordThrottle {
  constructor(
    private readonly counts: FailureCounts,
    private readonly now: () => number,
    private readonly limits = throttleLimits,
  ) {}

  /**
   * Before verifying a secret: 0 and the attempt counted as a failure, or the seconds to wait (the
   * attempt is then not counted, and must not be checked).
   */
  begin(attempt: Attempt): Promise<number> {
    const now = this.now();
    const counters = this.counters(attempt);
    return this.counts.updateFailureCounts(
      counters.map((c) => c.keyHash),
      (counted) => {
        const wait = Math.max(...counters.map((c) => waitMs(counted.get(c.keyHash), c.backoff, now)));
        if (wait > 0) return { write: [], result: Math.ceil(wait / 1000) };
        const write = counters.map((c) => ({ keyHash: c.keyHash, failures: current(counted.get(c.keyHash), c.backoff, now) + 1, lastAt: now }));
        return { write, result: 0 };
      },
    );
  }

  /** The secret was right: the attempt is taken back. */
  succeeded(attempt: Attempt): Promise<void> {
    const counters = this.counters(attempt);
    return this.counts.updateFailureCounts(
      counters.map((c) => c.keyHash),
      (counted) => ({ write: [...counted.values()].map((row) => ({ ...row, failures: row.failures - 1 })), result: undefined }),
    );
  }

  /** A known client answers only for its own failures. */
  private counters(a: Attempt): Array<{ keyHash: string; backoff: Backoff }> {
    const client = { keyHash: keyHash('client', `${a.subject}\0${a.client}`), backoff: this.limits.perClient };
    if (a.known) return [client];
    return [client, { keyHash: keyHash('address', addressKey(a.address)), backoff: this.limits.perAddress }, { keyHash: keyHash('subject', a.subject), backoff: this.limits.perSubject }];
  }
}

/** What a counter is stored under: never the name or address it counts. */
const keyHash = (counter: string, key: string) => createHash('sha256').update(counter).update('\0').update(key).digest('base64url');

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
