import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Accounts } from '../../hub/accounts.js';
import type { Session } from '../../http/principal.js';
import type { ClientAddresses } from './client-address.js';

/**
 * Browser sessions for the web app. The cookie carries a random id; the store keeps only its SHA-256,
 * so a copy of the database signs nobody in. The cookie is HttpOnly (scripts cannot read it) and
 * SameSite=Strict (other sites cannot make the browser send it). Every change must also carry the
 * session's CSRF token in `X-CSRF-Token`, which the page learns from the sign-in answer: a cookie
 * alone never authorizes a change.
 *
 * Over HTTPS the cookie is `__Host-syncpoint_session`: browsers accept that name only with Secure, Path=/
 * and no Domain, so a cookie planted from another host or over plain HTTP cannot shadow it. Plain HTTP
 * (a server reached on loopback) cannot have that prefix, which requires Secure; there the cookie is
 * `syncpoint_session`, and each name is read only where it is set (docs/operations.md § The web app).
 */
export const sessionLifetimeMs = 14 * 24 * 3600 * 1000;
/** The known-client marker (docs/operations.md § The web app, Password throttling) outlives sessions. */
export const clientMarkerLifetimeMs = 365 * 24 * 3600 * 1000;

const cookieNames = {
  session: { secure: '__Host-syncpoint_session', plain: 'syncpoint_session' },
  client: { secure: '__Host-syncpoint_client', plain: 'syncpoint_client' },
} as const;

export type CookieKind = keyof typeof cookieNames;

const hashId = (id: string) => createHash('sha256').update(id).digest('base64url');


export class Sessions {
  constructor(
    private readonly accounts: Accounts,
    private readonly now: () => number,
    private readonly addresses: ClientAddresses,
  ) {}

  async open(accountId: string): Promise<Session> {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const createdAt = this.now();
    await this.accounts.openSession({ idHash: hashId(id), accountId, csrf, createdAt, expiresAt: createdAt + sessionLifetimeMs });
    return { accountId, csrf, id, idHash: hashId(id) };
  }

  /** The live session named by the request's cookie, if any. */
  async find(req: IncomingMessage): Promise<Session | undefined> {
    const id = this.read(req, 'session');
    if (!id) return undefined;
    const row = await this.accounts.findSession(hashId(id));
    return row && { accountId: row.accountId, csrf: row.csrf, id, idHash: row.idHash };
  }

  async end(session: Session): Promise<void> {
    await this.accounts.endSession(session.idHash);
  }

  /** The request's cookie of this kind, by the name that fits how it came (HTTPS or not). */
  read(req: IncomingMessage, kind: CookieKind): string | undefined {
    return readCookie(req.headers.cookie, cookieNames[kind][this.addresses.secure(req) ? 'secure' : 'plain']);
  }

  /** A Set-Cookie value; over HTTPS (directly or through a trusted proxy) with the `__Host-` name and Secure. */
  cookie(req: IncomingMessage, kind: CookieKind, value: string, maxAgeMs: number): string {
    const secure = this.addresses.secure(req);
    const name = cookieNames[kind][secure ? 'secure' : 'plain'];
    return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? '; Secure' : ''}`;
  }
}

/** Whether the request carries the session's CSRF token (compared in constant time). */
export function hasCsrfToken(req: IncomingMessage, session: Session): boolean {
  const sent = req.headers['x-csrf-token'];
  if (typeof sent !== 'string') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
