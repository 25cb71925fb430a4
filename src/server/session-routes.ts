import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits } from '../core/limits.js';
import { httpStatusOf, ProtocolError } from '../protocol/errors.js';
import { signInSchema, type SessionInfo } from '../protocol/session.js';
import { parseJson, validate } from '../protocol/validate.js';
import { protocolVersion } from '../protocol/version.js';
import { clientAddress, sameOrigin, type Authenticator } from './auth/authenticate.js';
import { sessionCookie, sessionLifetimeMs, type Sessions } from './auth/sessions.js';
import { readBody, send } from './http.js';

/**
 * `/api/v1/session`: the web app signs in with the account password (POST), finds out whether it is
 * signed in (GET) and signs out (DELETE). App passwords cannot open a session: a session may manage
 * app passwords, which a device's own credentials never can.
 */
export const sessionPath = '/api/v1/session';

const json = (req: IncomingMessage, res: ServerResponse, status: number, value: object) => send(req, res, status, 'application/json', JSON.stringify(value));

export async function handleSession(auth: Authenticator, sessions: Sessions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    switch (req.method) {
      case 'POST': {
        // Another site's form could otherwise sign the browser into the other site's account (login
        // CSRF): a form cannot send application/json without a preflight, nor fake Origin.
        if (!sameOrigin(req)) throw new ProtocolError('forbidden', 'sign-in must come from this server’s own page');
        if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
          req.resume();
          throw new ProtocolError('unsupportedMediaType', 'send the sign-in as application/json');
        }
        let body: Buffer;
        try {
          body = await readBody(req, limits.signInBodyBytesMax, { timeoutMs: limits.signInBodyMs });
        } catch (err) {
          // Nobody is signed in yet: a refused body ends the connection instead of being drained.
          res.setHeader('connection', 'close');
          throw err;
        }
        const { user, password } = validate(signInSchema, parseJson(body.toString('utf8')), 'sign-in (send {"user": ..., "password": ...})');
        const check = await auth.checkPassword(user, password, clientAddress(req));
        if (!check.ok && check.retryAfterSeconds !== undefined) {
          const wait = check.retryAfterSeconds;
          res.setHeader('retry-after', String(wait));
          throw new ProtocolError('rateLimited', `too many failed sign-ins; try again in ${wait} s`, { retryAfterSeconds: wait });
        }
        if (!check.ok) throw new ProtocolError('unauthorized', 'wrong user name or password');
        const { principal } = check;
        const session = await sessions.open(principal.accountId);
        res.setHeader('set-cookie', sessionCookie(req, session.id, sessionLifetimeMs));
        return json(req, res, 200, { user: principal.accountName, csrf: session.csrf } satisfies SessionInfo);
      }
      case 'GET': {
        req.resume();
        const principal = await auth.authenticate(req);
        if (!principal?.session) throw new ProtocolError('unauthorized', 'not signed in');
        return json(req, res, 200, { user: principal.accountName, csrf: principal.session.csrf } satisfies SessionInfo);
      }
      case 'DELETE': {
        req.resume();
        const principal = await auth.authenticate(req);
        if (principal?.session) await sessions.end(principal.session);
        res.setHeader('set-cookie', sessionCookie(req, '', 0));
        return json(req, res, 200, {});
      }
      default:
        req.resume();
        throw new ProtocolError('notFound', `no route ${req.method} ${sessionPath}`);
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return json(req, res, httpStatusOf[err.status], { version: protocolVersion, status: err.status, message: err.message, ...err.extra });
  }
}
