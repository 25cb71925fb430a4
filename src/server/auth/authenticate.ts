import { createHash } from 'node:crypto';
import type { Accounts } from '../../hub/accounts.js';
import { parseAppToken, verifySecret } from './secrets.js';

/**
 * HTTP Basic (account name + password or app token) and Bearer (app token) authentication.
 *
 * scrypt costs tens of milliseconds on purpose, and a syncing device sends many requests, so a
 * successful verification is remembered in memory, keyed by the stored hash and a SHA-256 of the
 * presented secret. Changing a password or revoking a token changes or removes the stored hash, which
 * invalidates the memo at once; the token row is read on every request.
 */
export interface Principal {
  accountId: string;
  accountName: string;
  /** The app token used, if any. */
  tokenId?: string;
}

const memoEntriesMax = 10_000;

export class Authenticator {
  private readonly verified = new Set<string>();

  constructor(private readonly accounts: Accounts) {}

  async authenticate(header: string | undefined): Promise<Principal | undefined> {
    if (!header) return undefined;
    const [scheme, value] = header.split(' ', 2) as [string, string | undefined];
    if (!value) return undefined;
    if (scheme.toLowerCase() === 'bearer') return this.byToken(value.trim(), undefined);
    if (scheme.toLowerCase() !== 'basic') return undefined;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const name = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (parseAppToken(secret)) return this.byToken(secret, name);
    const account = await this.accounts.findByName(name);
    if (!account || !(await this.check(secret, account.passwordHash))) return undefined;
    return { accountId: account.id, accountName: account.name };
  }

  private async byToken(token: string, expectedName: string | undefined): Promise<Principal | undefined> {
    const parsed = parseAppToken(token);
    if (!parsed) return undefined;
    const row = await this.accounts.getToken(parsed.id);
    if (!row || !(await this.check(parsed.secret, row.secretHash))) return undefined;
    const account = await this.accounts.get(row.accountId);
    if (!account || (expectedName !== undefined && account.name !== expectedName)) return undefined;
    await this.accounts.noteTokenUse(row);
    return { accountId: account.id, accountName: account.name, tokenId: row.id };
  }

  private async check(secret: string, storedHash: string): Promise<boolean> {
    const memoKey = createHash('sha256').update(storedHash).update('\0').update(secret).digest('base64');
    if (this.verified.has(memoKey)) return true;
    if (!(await verifySecret(secret, storedHash))) return false;
    if (this.verified.size >= memoEntriesMax) this.verified.clear();
    this.verified.add(memoKey);
    return true;
  }
}
