import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Accounts } from '../../hub/accounts.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { PasswordThrottle } from './password-throttle.js';
import { hashSecret, parseAppToken, verifySecret } from './secrets.js';
import { hasCsrfToken, type Session, type Sessions } from './sessions.js';

/**
 * HTTP Basic (account name + password or app token), Bearer (app token), and the web app's session
 * cookie, which counts for a change only with its CSRF token (sessions.ts).
 *
 * scrypt costs tens of milliseconds on purpose, and a syncing device sends many requests, so a
 * successful verification is remembered in memory, keyed by the stored hash and a SHA-256 of the
 * presented secret. Changing a password or revoking a token changes or removes the stored hash, which
 * invalidates the memo at once; the token row is read on every request.
 *
 * A password not verified before goes through the PasswordThrottle first, on every face. An unknown
 * account name costs the same scrypt as a known one, so response times do not tell which names exist.
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

/** A password check: who it is, or why not (`retryAfterSeconds`: too many failures; it was not checked). */
export type PasswordCheck = { ok: true; principal: Principal } | { ok: false; retryAfterSeconds?: number };

export class Authenticator {
  private readonly verified = new Set<string>();
  /** Verified in place of a missing account's hash, so an unknown name takes as long as a known one. */
  private readonly decoyHash = hashSecret(randomBytes(16).toString('base64'));

  constructor(
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
    private readonly throttle: PasswordThrottle,
  ) {}

  /**
   * The Authorization header if there is one, else the session cookie. A session request that changes
   * something without the session's CSRF token, or from another origin, is refused outright.
   */
  async authenticate(req: IncomingMessage): Promise<Principal | undefined> {
    if (req.headers.authorization !== undefined) return this.fromHeader(req.headers.authorization, clientAddress(req));
    const session = await this.sessions.find(req);
    if (!session) return undefined;
    if (!sameOrigin(req)) throw new ProtocolError('forbidden', 'cross-origin requests may not use the session cookie');
    if (!safeMethods.has(req.method ?? 'GET') && !hasCsrfToken(req, session)) {
      throw new ProtocolError('forbidden', 'missing or wrong X-CSRF-Token for this session');
    }
    const account = await this.accounts.get(session.accountId);
    return account && { accountId: account.id, accountName: account.name, session };
  }

  /** Checks an account name and password, from the client at `address`. */
  async checkPassword(name: string, password: string, address: string): Promise<PasswordCheck> {
    const account = await this.accounts.findByName(name);
    const principal = account && { accountId: account.id, accountName: account.name };
    if (account && principal && this.verified.has(memoKey(account.passwordHash, password))) return { ok: true, principal };
    const retryAfterSeconds = this.throttle.begin(name, address);
    if (retryAfterSeconds > 0) return { ok: false, retryAfterSeconds };
    const right = await verifySecret(password, account?.passwordHash ?? (await this.decoyHash));
    if (!right || !account || !principal) return { ok: false };
    this.throttle.succeeded(name, address);
    this.remember(memoKey(account.passwordHash, password));
    return { ok: true, principal };
  }

  /** The Authorization header alone (faces whose clients never hold a session: ActiveSync). */
  async fromHeader(header: string, address: string): Promise<Principal | undefined> {
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
    const check = await this.checkPassword(name, secret, address);
    return check.ok ? check.principal : undefined;
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

  /** App tokens carry 24 random bytes: guessing one is hopeless, so they skip the throttle. */
  private async check(secret: string, storedHash: string): Promise<boolean> {
    const key = memoKey(storedHash, secret);
    if (this.verified.has(key)) return true;
    if (!(await verifySecret(secret, storedHash))) return false;
    this.remember(key);
    return true;
  }

  private remember(key: string): void {
    if (this.verified.size >= memoEntriesMax) this.verified.clear();
    this.verified.add(key);
  }
}

const memoKey = (storedHash: string, secret: string) => createHash('sha256').update(storedHash).update('\0').update(secret).digest('base64');

export const clientAddress = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';

/**
 * Whether a browser request comes from this server's own pages: no Origin (same-origin GETs), or one
 * naming this host. `Origin: null` (sandboxed frames, data: documents) counts as another origin.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return URL.canParse(origin) && new URL(origin).host === req.headers.host;
}
