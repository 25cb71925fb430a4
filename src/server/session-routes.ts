import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZodType } from 'zod';
import type { Accounts } from '../hub/accounts.js';
import { limits } from '../core/limits.js';
import { ProtocolError } from '../protocol/errors.js';
import { changePasswordSchema, signInSchema, type SessionInfo } from '../protocol/session.js';
import { parseJson, validate } from '../protocol/validate.js';
import { sameOrigin, type Authenticator, type Client, type PasswordCheck } from './auth/authenticate.js';
import { hashSecret } from '../hub/secrets.js';
import { clientMarkerLifetimeMs, sessionLifetimeMs, type Sessions } from './auth/sessions.js';
import { readBody, sendError, sendJson as json } from '../http/body.js';

/**
 * `/api/v1/session`: the web app signs in with the account password (POST), finds out whether it is
 * signed in (GET) and signs out (DELETE). App passwords cannot open a session: a session may manage
 * app passwords, which a device's own credentials never can.
 *
 * `/api/v1/account/password`: changes the password, given the current one (docs/protocol.md § Web
 * sessions). Everything opened with the old password ends: sessions, push channels, tickets, Pings.
 */
export const sessionPath = '/api/v1/session';
export const passwordPath = '/api/v1/account/password';


export class SessionRoutes {
  constructor(
    private readonly auth: Authenticator,
    private readonly sessions: Sessions,
    private readonly accounts: Accounts,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (path === passwordPath) return await this.changePassword(req, res);
      switch (req.method) {
        case 'POST': {
          // Another site's form could otherwise sign the browser into the other site's account (login
          // CSRF): a form cannot send application/json without a preflight, nor fake Origin.
          if (!sameOrigin(req)) throw new ProtocolError('forbidden', 'sign-in must come from this server’s own page');
          const { user, password } = await readJson(req, res, signInSchema, '{"user": ..., "password": ...}');
          // A browser without a known-client marker gets one now; it counts once this sign-in succeeds.
          const marker = this.sessions.read(req, 'client') ?? randomBytes(24).toString('base64url');
          const check = refused(await this.auth.checkPassword(user, password, this.clientOf(req, marker)), res, 'wrong user name or password', 'unauthorized');
          const session = await this.sessions.open(check.principal.accountId);
          res.setHeader('set-cookie', [
            this.sessions.cookie(req, 'session', session.id, sessionLifetimeMs),
            this.sessions.cookie(req, 'client', marker, clientMarkerLifetimeMs),
          ]);
          return await json(req, res, 200, { user: check.principal.accountName, csrf: session.csrf } satisfies SessionInfo);
        }
        case 'GET': {
          req.resume();
          const principal = await this.auth.authenticate(req);
          if (!principal?.session) throw new ProtocolError('unauthorized', 'not signed in');
          return await json(req, res, 200, { user: principal.accountName, csrf: principal.session.csrf } satisfies SessionInfo);
        }
        case 'DELETE': {
          req.resume();
          const principal = await this.auth.authenticate(req);
          if (principal?.session) await this.sessions.end(principal.session);
          res.setHeader('set-cookie', this.sessions.cookie(req, 'session', '', 0));
          return await json(req, res, 200, {});
        }
        default:
          req.resume();
          throw new ProtocolError('notFound', `no route ${req.method} ${sessionPath}`);
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (err.status === 'unauthorized' && path === passwordPath) res.setHeader('www-authenticate', 'Basic realm="Syncpoint", charset="UTF-8"');
      return sendError(req, res, err);
    }
  }

  /**
   * POST with `{"current", "new"}`, authenticated with the account password (HTTP Basic) or a session
   * and its CSRF token; never with an app token. The store ends every session of the account and
   * raises its credential epoch; a session caller gets a fresh session so the page stays signed in.
   */
  private async changePassword(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      throw new ProtocolError('notFound', `no route ${req.method} ${passwordPath}`);
    }
    const principal = await this.auth.authenticate(req);
    if (!principal) {
      req.resume();
      throw new ProtocolError('unauthorized', 'valid credentials required');
    }
    if (principal.tokenId !== undefined) {
      req.resume();
      throw new ProtocolError('forbidden', 'the password is changed with the account password, not an app password');
    }
    const input = await readJson(req, res, changePasswordSchema, '{"current": ..., "new": ...} (the new one at least 8 characters)');
    const check = await this.auth.checkPassword(principal.accountName, input.current, this.clientOf(req, this.sessions.read(req, 'client')));
    const { principal: confirmed } = refused(check, res, 'the current password is wrong', 'forbidden');
    await this.accounts.setPassword(confirmed.accountId, await hashSecret(input.new));
    if (!principal.session) return json(req, res, 200, {});
    const session = await this.sessions.open(confirmed.accountId);
    res.setHeader('set-cookie', this.sessions.cookie(req, 'session', session.id, sessionLifetimeMs));
    return json(req, res, 200, { user: confirmed.accountName, csrf: session.csrf } satisfies SessionInfo);
  }

  private clientOf(req: IncomingMessage, marker: string | undefined): Client {
    return { address: this.auth.addresses.of(req), marker };
  }
}

/** The check's principal, or the refusal: 429 with Retry-After when throttled, else `status`. */
function refused(check: PasswordCheck, res: ServerResponse, message: string, status: 'unauthorized' | 'forbidden'): Extract<PasswordCheck, { ok: true }> {
  if (check.ok) return check;
  if (check.retryAfterSeconds !== undefined) {
    const wait = check.retryAfterSeconds;
    res.setHeader('retry-after', String(wait));
    throw new ProtocolError('rateLimited', `too many failed password checks; try again in ${wait} s`, { retryAfterSeconds: wait });
  }
  throw new ProtocolError(status, message);
}

/**
 * A small JSON body that must match `schema`, read before anyone is authenticated: at most
 * limits.signInBodyBytesMax (on the wire and inflated) within limits.signInBodyMs, through the one bounded
 * validation path (docs/protocol.md §12.2). A refused body ends the connection instead of being drained.
 */
async function readJson<T>(req: IncomingMessage, res: ServerResponse, schema: ZodType<T>, shape: string): Promise<T> {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    req.resume();
    throw new ProtocolError('unsupportedMediaType', 'send the body as application/json');
  }
  let body: Buffer;
  try {
    body = await readBody(req, limits.signInBodyBytesMax, { timeoutMs: limits.signInBodyMs });
  } catch (err) {
    res.setHeader('connection', 'close');
    throw err;
  }
  return validate(schema, parseJson(body.toString('utf8')), `the body (send ${shape})`);
}
