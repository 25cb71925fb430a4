import { createHash, randomBytes } from 'node:crypto';
import { limits } from '../core/limits.js';
import type { Credential } from '../hub/accounts.js';
import type { PushTokens } from '../hub/push-tokens.js';

/**
 * Short-lived, single-use tickets for channels that cannot send an Authorization header (a browser's
 * EventSource and WebSocket). An authenticated POST gets one; the channel presents it in its URL, on
 * whichever server process it lands (docs/operations.md § PostgreSQL). The store keeps only a hash of
 * each, with the credential it was issued from (never a session's cookie value), so neither a database
 * dump nor a memory dump holds usable tickets.
 */
export const ticketLifetimeMs = 60_000;

export class Tickets {
  constructor(private readonly tokens: PushTokens) {}

  async issue(credential: Credential): Promise<string> {
    const ticket = randomBytes(24).toString('base64url');
    await this.tokens.putTicket(
      {
        ticketHash: hash(ticket),
        accountId: credential.accountId,
        tokenId: credential.tokenId ?? null,
        sessionIdHash: credential.sessionIdHash ?? null,
        epoch: credential.epoch,
        expiresAt: this.tokens.now() + ticketLifetimeMs,
      },
      limits.pushTicketsPerAccountMax,
    );
    return ticket;
  }

  /** The credential a ticket was issued from; the ticket is spent either way. */
  async redeem(ticket: string): Promise<Credential | undefined> {
    const row = await this.tokens.takeTicket(hash(ticket));
    if (!row || row.expiresAt <= this.tokens.now()) return undefined;
    return { accountId: row.accountId, tokenId: row.tokenId ?? undefined, sessionIdHash: row.sessionIdHash ?? undefined, epoch: row.epoch };
  }
}

const hash = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');
