import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Accounts } from '../../hub/accounts.js';
import { ProtocolError } from '../../protocol/errors.js';
import { parseAppToken, verifySecret } from './secrets.js';
import { hasCsrfToken, type Session, type Sessions } from './sessions.js';

/**
 * HTTP Basic (account name + password or app token), Bearer (app token), and the web app's session
 * cookie, which counts for a change only with its CSRF token (sessions.ts).
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
  /** The browser session used, if any (signed in with the account password). */
  session?: Session;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

const memoEntriesMax = 10_000;

export class Authenticator {
  private readonly verified = new Set<string>();

  constructor(
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
  ) {}

  /**
   * The Authorization header if there is one, else the session cookie. A session request that changes
   * something without the session's CSRF token, or from another origin, is refused outright.
   */
  async authenticate(req: IncomingMessage): Promise<Principal | undefined> {
    if (req.headers.authorization !== undefined) return this.fromHeader(req.headers.authorization);
    const session = await this.sessions.find(req);
    if (!session) return undefined;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null' && (!URL.canParse(origin) || new URL(origin).host !== req.headers.host)) {
      throw new ProtocolError('forbidden', 'cross-origin requests may not use the session cookie');
    }
    if (!safeMethods.has(req.method ?? 'GET') && !hasCsrfToken(req, session)) {
      throw new ProtocolError('forbidden', 'missing or wrong X-CSRF-Token for this session');
    }
    const account = await this.accounts.get(session.accountId);
    return account && { accountId: account.id, accountName: account.name, session };
  }

  /** Checks an account name and password (the web sign-in). */
  async checkPassword(name: string, password: string): Promise<Principal | undefined> {
    const account = await this.accounts.findByName(name);
    if (!account || !(await this.check(password, account.passwordHash))) return undefined;
    return { accountId: account.id, accountName: account.name };
  }

  /** The Authorization header alone (faces whose clients never hold a session: ActiveSync). */
  async fromHeader(header: string): Promise<Principal | undefined> {
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
    return this.checkPassword(name, secret);
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
