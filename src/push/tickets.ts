import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../hub/ports.js';
import type { Principal } from '../http/principal.js';

/**
 * Short-lived, single-use tickets for channels that cannot send an Authorization header (a browser's
 * EventSource and WebSocket). An authenticated POST gets one; the channel presents it in its URL.
 * Only a hash is kept, so a memory dump does not hold usable tickets.
 */
export const ticketLifetimeMs = 60_000;
const ticketsMax = 100_000;

export class Tickets {
  private readonly issued = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(private readonly clock: Clock) {}

  issue(principal: Principal): string {
    const now = this.clock.now();
    if (this.issued.size >= ticketsMax) {
      for (const [key, t] of this.issued) if (t.expiresAt <= now) this.issued.delete(key);
      // Still full of live tickets: the oldest make room (Map iterates in insertion order).
      for (const key of this.issued.keys()) {
        if (this.issued.size < ticketsMax) break;
        this.issued.delete(key);
      }
    }
    const ticket = randomBytes(24).toString('base64url');
    this.issued.set(hash(ticket), { principal, expiresAt: now + ticketLifetimeMs });
    return ticket;
  }

  /** The principal a ticket was issued to; the ticket is spent either way. */
  redeem(ticket: string): Principal | undefined {
    const key = hash(ticket);
    const entry = this.issued.get(key);
    this.issued.delete(key);
    return entry && entry.expiresAt > this.clock.now() ? entry.principal : undefined;
  }
}

const hash = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');
