import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Accounts, Credential } from '../../hub/accounts.js';
import type { AccountRow } from '../../store/store.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { ClientAddresses } from './client-address.js';
import { addressKey, type Attempt, type PasswordThrottle } from './password-throttle.js';
import { hashSecret, parseAppToken, verifySecret } from '../../hub/secrets.js';
import type { Principal } from '../../http/principal.js';
import { hasCsrfToken, type Sessions } from './sessions.js';

/** Who is trying: the address, and a browser's known-client marker cookie if it sent one. */
export interface Client {
  address: string;
  marker?: string | undefined;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

const memoEntriesMax = 10_000;

/** A password check: who it is, or why not (`retryAfterSeconds`: too many failures; it was not checked). */
export type PasswordCheck = { ok: true; principal: Principal } | { ok: false; retryAfterSeconds?: number };

type Verification = { ok: boolean } | { retryAfterSeconds: number };

/**
 * HTTP Basic (account name + password or app token), Bearer (app token), and the web app's session
 * cookie, which counts for a change only with its CSRF token (sessions.ts).
 *
 * scrypt costs tens of milliseconds on purpose, and a syncing device sends many requests, so a
 * successful verification is remembered in memory, keyed by the stored hash and a SHA-256 of the
 * presented secret. Changing a password or revoking a token changes or removes the stored hash, which
 * invalidates the memo at once; the account and token rows are read on every request. Parallel
 * requests presenting the same secret share one verification.
 *
 * A secret not verified before (a password, or the secret of a known app-token id) goes through the
 * PasswordThrottle first, on every face. A client that has succeeded for the account before is known
 * (a fingerprint kept per account: the browser's marker cookie, or the address for HTTP Basic), and
 * other clients' failures do not slow it down (docs/operations.md § The web app, Password throttling). An unknown
 * account name costs the same scrypt as a known one, so response times do not tell which names exist.
 */
export class Authenticator {
  private readonly verified = new Set<string>();
  /** Verifications under way, by subject and memo key: a parallel request with the same secret waits for it. */
  private readonly inFlight = new Map<string, Promise<Verification>>();
  /** Verified in place of a missing account's hash, so an unknown name takes as long as a known one. */
  private readonly decoyHash = hashSecret(randomBytes(16).toString('base64'));

  constructor(
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
    private readonly throttle: PasswordThrottle,
    readonly addresses: ClientAddresses,
  ) {}

  /**
   * The Authorization header if there is one, else the session cookie. A session request that changes
   * something without the session's CSRF token, or from another origin, is refused outright.
   */
  async authenticate(req: IncomingMessage): Promise<Principal | undefined> {
    if (req.headers.authorization !== undefined) return this.fromHeader(req.headers.authorization, this.addresses.of(req));
    const session = await this.sessions.find(req);
    if (!session) return undefined;
    if (!sameOrigin(req)) throw new ProtocolError('forbidden', 'cross-origin requests may not use the session cookie');
    if (!safeMethods.has(req.method ?? 'GET') && !hasCsrfToken(req, session)) {
      throw new ProtocolError('forbidden', 'missing or wrong X-CSRF-Token for this session');
    }
    const account = await this.accounts.get(session.accountId);
    return account && { ...principalOf(account), session };
  }

  /**
   * Checks an account name and password from `client`; a success makes the client known to the
   * account. A browser is its own client only once its marker is known (a marker anyone can make up
   * must not buy a fresh count); until then, and for HTTP Basic, the client is its address.
   */
  async checkPassword(name: string, password: string, client: Client): Promise<PasswordCheck> {
    const account = await this.accounts.findByName(name);
    const storedHash = account?.passwordHash ?? (await this.decoyHash);
    const memo = memoKey(storedHash, password);
    if (account && this.verified.has(memo)) return { ok: true, principal: principalOf(account) };
    const marker = client.marker !== undefined ? `m:${sha256(client.marker)}` : undefined;
    const address = `a:${addressKey(client.address)}`;
    const knownAs = account && (await this.knownAs(account.id, marker, address));
    const attempt: Attempt = { subject: `name:${name}`, client: knownAs ?? address, address: client.address, known: knownAs !== undefined };
    const result = await this.verify(attempt, memo, password, storedHash);
    if ('retryAfterSeconds' in result) return { ok: false, retryAfterSeconds: result.retryAfterSeconds };
    if (!result.ok || !account) return { ok: false };
    for (const fingerprint of [marker, address]) if (fingerprint !== undefined && fingerprint !== knownAs) await this.accounts.rememberClient(account.id, fingerprint);
    return { ok: true, principal: principalOf(account) };
  }

  /** The first of the fingerprints the account knows, if any. */
  private async knownAs(accountId: string, ...fingerprints: Array<string | undefined>): Promise<string | undefined> {
    for (const fingerprint of fingerprints) if (fingerprint !== undefined && (await this.accounts.isKnownClient(accountId, fingerprint))) return fingerprint;
    return undefined;
  }

  /** The Authorization header alone (faces whose clients never hold a session: ActiveSync). */
  async fromHeader(header: string, address: string): Promise<Principal | undefined> {
    if (!header) return undefined;
    const [scheme, value] = header.split(' ', 2) as [string, string | undefined];
    if (!value) return undefined;
    if (scheme.toLowerCase() === 'bearer') return this.byToken(value.trim(), undefined, address);
    if (scheme.toLowerCase() !== 'basic') return undefined;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const name = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (parseAppToken(secret)) return this.byToken(secret, name, address);
    const check = await this.checkPassword(name, secret, { address });
    return check.ok ? check.principal : undefined;
  }

  /** Whether a credential still holds (a ticket or channel checks it at use). */
  stillHolds(credential: Credential): Promise<boolean> {
    return this.accounts.credentialHolds(credential);
  }

  /**
   * App tokens carry 24 random bytes, so guessing one is hopeless; but each wrong secret for a known
   * token id costs a full scrypt, so those go through the throttle like passwords (subject: the token).
   */
  private async byToken(token: string, expectedName: string | undefined, address: string): Promise<Principal | undefined> {
    const parsed = parseAppToken(token);
    if (!parsed) return undefined;
    const row = await this.accounts.getToken(parsed.id);
    if (!row) return undefined;
    const memo = memoKey(row.secretHash, parsed.secret);
    if (!this.verified.has(memo)) {
      const fingerprint = `t:${row.id}:${addressKey(address)}`;
      const known = (await this.knownAs(row.accountId, fingerprint)) !== undefined;
      const result = await this.verify({ subject: `token:${row.id}`, client: fingerprint, address, known }, memo, parsed.secret, row.secretHash);
      if (!('ok' in result) || !result.ok) return undefined;
      if (!known) await this.accounts.rememberClient(row.accountId, fingerprint);
    }
    const account = await this.accounts.get(row.accountId);
    if (!account || (expectedName !== undefined && account.name !== expectedName)) return undefined;
    await this.accounts.noteTokenUse(row);
    return { ...principalOf(account), tokenId: row.id };
  }

  /**
   * Verifies a secret not in the memo. A request presenting the same secret for the same subject as one
   * being verified waits for that verification (its throttle slot covers both): ten parallel sign-ins
   * with the right password cost one scrypt and all succeed.
   */
  private async verify(attempt: Attempt, memo: string, secret: string, storedHash: string): Promise<Verification> {
    const key = `${attempt.subject}\0${memo}`;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const verification = this.throttled(attempt, memo, secret, storedHash);
    this.inFlight.set(key, verification);
    try {
      return await verification;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** One verification through the throttle: counted as a failure first, taken back if the secret was right. */
  private async throttled(attempt: Attempt, memo: string, secret: string, storedHash: string): Promise<Verification> {
    const retryAfterSeconds = await this.throttle.begin(attempt);
    if (retryAfterSeconds > 0) return { retryAfterSeconds };
    const ok = await verifySecret(secret, storedHash);
    if (ok) {
      await this.throttle.succeeded(attempt);
      this.remember(memo);
    }
    return { ok };
  }

  private remember(key: string): void {
    if (this.verified.size >= memoEntriesMax) this.verified.clear();
    this.verified.add(key);
  }
}

const principalOf = (account: AccountRow): Principal => ({ accountId: account.id, accountName: account.name, epoch: account.credentialEpoch });

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

const memoKey = (storedHash: string, secret: string) => createHash('sha256').update(storedHash).update('\0').update(secret).digest('base64');

/**
 * Whether a browser request comes from this server's own pages: no Origin (same-origin GETs), or one
 * naming this host. `Origin: null` (sandboxed frames, data: documents) counts as another origin.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return URL.canParse(origin) && new URL(origin).host === req.headers.host;
}
