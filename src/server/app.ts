import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { davPrefix, handleDav, wellKnown, wellKnownRedirect } from '../faces/dav/routes.js';
import { autodiscover, autodiscoverPath } from '../faces/eas/autodiscover.js';
import { EasFace, easPath, easUnauthorized, withoutDomain } from '../faces/eas/routes.js';
import { handleNative, nativePrefix } from '../faces/native/routes.js';
import { accountLimitNames, limits, type AccountLimits } from '../core/limits.js';
import { Hub } from '../hub/hub.js';
import { PushTokens } from '../hub/push-tokens.js';
import { PushHub } from '../push/push-hub.js';
import { pushPrefix, PushRoutes } from '../push/routes.js';
import { Tickets } from '../push/tickets.js';
import { ProtocolError } from '../protocol/errors.js';
import { StoreUnavailable } from '../store/store.js';
import type { Principal } from '../http/principal.js';
import { Authenticator } from './auth/authenticate.js';
import { addressList, ClientAddresses } from './auth/client-address.js';
import { Sessions } from './auth/sessions.js';
import { PasswordThrottle } from './auth/password-throttle.js';
import type { Config } from './config.js';
import { sendError, sendJson } from '../http/body.js';
import { lockDataDir } from './data-dir-lock.js';
import { metricsPath, metricsRoute, PrometheusMetrics } from './metrics.js';
import { openStore, pushTokenFloorAt } from './open-store.js';
import { realPorts } from './ports.js';
import { upstreamAccess } from './upstream-connector.js';
import { UpstreamScheduler } from './upstream-scheduler.js';
import { MailWatchers } from './mail-watchers.js';
import { SyncByMail } from './sync-by-mail.js';
import { hostGuard } from './upstream-addresses.js';
import { passwordPath, SessionRoutes, sessionPath } from './session-routes.js';
import { serveWebApp } from './web-app.js';

/**
 * The composition root: opens the store, builds the hub and the faces, and serves HTTP. This is the
 * only place that wires real I/O together.
 */
export interface RunningServer {
  url: string;
  hub: Hub;
  push: PushHub;
  /** The IMAP upstreams this process watches (server/mail-watchers.ts). */
  mailWatchers: MailWatchers;
  close(): Promise<void>;
}

const tombstonePurgeIntervalMs = 6 * 3600 * 1000;
/**
 * Connections the kernel queues for accepting (capped by net.core.somaxconn). Thousands of phones
 * reconnecting their Pings at once (after a restart, or a network coming back) arrive faster than a busy
 * process accepts them; with Node's default of 511 the rest are dropped and retry seconds later
 * (bench/README.md § bench:eas, Ping).
 */
const listenBacklog = 4096;
/** SQLite transactions back to back leave the event loop to sockets and timers this often (StoreOptions.turnAfterMs). */
const storeTurnAfterMs = 20;
/** What a client is told to wait when the database is out of reach (503 Retry-After). */
const unavailableRetrySeconds = 5;

export async function startServer(config: Config, log: Logger = pino({ level: config.logLevel })): Promise<RunningServer> {
  // One server per SQLite data directory (data-dir-lock.ts); any number on one PostgreSQL database.
  const unlock = config.database === '' ? lockDataDir(config.data) : () => {};
  try {
    return await serve(config, log, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function serve(config: Config, log: Logger, unlock: () => void): Promise<RunningServer> {
  const metrics = new PrometheusMetrics();
  const opened = await openStore(config, (err) => log.warn({ err }, 'process bus'), metrics.transactionTimer, { pushTokenFloor: pushTokenFloorAt(Date.now()), turnAfterMs: storeTurnAfterMs });
  const { store, foreignWrites } = opened;
  const accountLimits = Object.fromEntries(accountLimitNames.map((name) => [name, config[name]])) as AccountLimits;
  const ports = { ...realPorts(log), accountLimits };
  // Ended at close, so an upstream run under way stops at its next request instead of holding the shutdown.
  const upstreamRequests = new AbortController();
  // A key file made for the web app's first upstream is news for the operator, who must keep it apart from the data's backups.
  const keyMade = (path: string, keyId: string) => log.warn({ path, keyId }, 'created the secret key file for upstream passwords; keep it, and keep it out of the data directory’s backups (docs/operations.md § Upstream servers)');
  const hub = new Hub(store, ports, upstreamAccess(config, (url, init) => fetch(url, { ...init, signal: AbortSignal.any([upstreamRequests.signal, ...(init.signal ? [init.signal] : [])]) }), ports.clock, keyMade));
  const addresses = new ClientAddresses(config.trustedProxies);
  const sessions = new Sessions(hub.accounts, ports.clock.now, addresses);
  const auth = new Authenticator(hub.accounts, sessions, new PasswordThrottle(hub.accounts, ports.clock.now), addresses);
  const sessionRoutes = new SessionRoutes(auth, sessions, hub.accounts);
  // This process, as the push channel registry shared by every process names it.
  const pushTokens = new PushTokens(store, hub.accounts, ports.clock, randomUUID());
  const push = new PushHub(pushTokens, ports.logger, hub.accounts, {
    heartbeatMs: Math.round(config.pushHeartbeatSeconds * 1000),
    accountLimits,
    foreignWrites,
    metrics,
  });
  metrics.watch(() => push.sizeByKind(), opened);
  const serveMetrics = metricsRoute(metrics, addresses, addressList(config.metricsAllow, 'metricsAllow'));
  const pushRoutes = new PushRoutes(push, new Tickets(pushTokens), auth, ports.clock.now, metrics);
  const eas = new EasFace(hub, push, ports.logger, ports.clock.now, config.easDevicesMax, metrics);
  // What Autodiscover names: the configured public URL, else the listening address (set below).
  let publicUrl = config.publicUrl;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/health') return sendJson(req, res, 200, { status: 'ok', pushChannels: push.size });
    // Probes and scrapes are not counted: they would swamp what they measure.
    if (path === metricsPath && req.method === 'GET') return serveMetrics(req, res);
    if (path.startsWith(pushPrefix)) {
      metrics.request('push', res);
      return pushRoutes.handle(req, res, url);
    }
    const lowerPath = path.toLowerCase();
    if (lowerPath === easPath || lowerPath === autodiscoverPath) {
      metrics.request('eas', res);
      if (lowerPath === easPath && req.method === 'OPTIONS') {
        req.resume();
        return eas.options(res);
      }
      const easPrincipal = req.headers.authorization ? await auth.fromHeader(withoutDomain(req.headers.authorization), addresses.of(req)) : undefined;
      if (!easPrincipal) {
        req.resume();
        return easUnauthorized(res);
      }
      return lowerPath === easPath ? eas.handle(easPrincipal, req, res, url) : autodiscover(easPrincipal, req, res, publicUrl);
    }
    // Clients given only the server's address look for DAV there (and at the well-known paths). A PROPFIND
    // on / is answered in place: clients that follow a redirect drop its body (docs/dav.md § Setting up a client).
    if ((path === '/' && req.method === 'OPTIONS') || wellKnown.includes(path.replace(/\/$/, '').toLowerCase())) {
      metrics.request('dav', res);
      req.resume();
      return wellKnownRedirect(res);
    }
    const isDav = path.startsWith(davPrefix) || path === davPrefix.slice(0, -1) || (path === '/' && req.method === 'PROPFIND');
    metrics.request(isDav ? 'dav' : path.startsWith(nativePrefix) ? 'native' : 'web', res);
    if (path === sessionPath || path === passwordPath) return sessionRoutes.handle(req, res, path);
    if (!isDav && !path.startsWith(nativePrefix)) {
      if (req.method === 'GET' || req.method === 'HEAD') return serveWebApp(config.webDir, req, res, path);
      return sendError(req, res, new ProtocolError('notFound', `no route ${path}`));
    }
    let principal: Principal | undefined;
    try {
      principal = await auth.authenticate(req);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      req.resume();
      return sendError(req, res, err);
    }
    if (!principal) {
      req.resume();
      res.setHeader('www-authenticate', 'Basic realm="Syncpoint", charset="UTF-8"');
      return sendError(req, res, new ProtocolError('unauthorized', 'valid credentials required'));
    }
    return isDav ? handleDav(hub, principal, req, res, path === '/dav' ? davPrefix : path) : handleNative(hub, push, principal, req, res, url, metrics);
  };

  // Slow senders are cut off: headers and whole requests have deadlines, checked every connectionsCheckMs.
  const timeouts = { requestTimeout: limits.requestMs, headersTimeout: limits.headersMs, connectionsCheckingInterval: limits.connectionsCheckMs };
  const server = createServer({ ...timeouts, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const unavailable = err instanceof StoreUnavailable;
      if (unavailable) log.warn({ err: err.message, url: req.url }, 'database unavailable');
      else log.error({ err, url: req.url }, 'request failed');
      if (res.headersSent) return void res.destroy();
      if (!unavailable) return void sendError(req, res, new ProtocolError('serverError', 'internal error; nothing was committed'));
      // A restart of the database, usually over in seconds; a sync retried with its key is safe either way.
      res.setHeader('retry-after', String(unavailableRetrySeconds));
      void sendError(req, res, new ProtocolError('unavailable', 'the database is unavailable; send the same request again', { retryAfterSeconds: unavailableRetrySeconds }));
    });
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    pushRoutes.upgrade(req, socket, head, new URL(req.url ?? '/', 'http://localhost')).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'WebSocket upgrade failed');
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: config.port, host: config.host, backlog: listenBacklog }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  publicUrl ||= url;

  await hub.purgeExpired();
  const purgeTimer = setInterval(() => void hub.purgeExpired().catch((err) => log.error({ err }, 'tombstone purge failed')), tombstonePurgeIntervalMs);
  purgeTimer.unref();
  push.start();
  const scheduler = new UpstreamScheduler(hub.upstreams, ports.logger);
  if (config.upstreamRunMinutes > 0) {
    scheduler.start();
    hub.upstreams.followDeviceWrites((accountId, upstreamId) => scheduler.runSoon(accountId, upstreamId));
  }
  const locate = hostGuard(config.upstreamAddressesAllow);
  const syncByMail = config.syncByMail === 'on' ? new SyncByMail(hub, auth, locate, ports.logger, ports.clock) : undefined;
  const mailWatchers = new MailWatchers(hub.upstreams, locate, ports.logger, config.upstreamWatchersMax, syncByMail && ((upstream) => syncByMail.pickUp(upstream)));
  if (config.upstreamWatchersMax > 0) mailWatchers.start();
  log.info({ url, data: config.data }, 'syncpoint listening');

  return {
    url,
    hub,
    push,
    mailWatchers,
    async close() {
      clearInterval(purgeTimer);
      upstreamRequests.abort();
      await scheduler.stop();
      await mailWatchers.stop();
      // Long-lived channels would hold server.close() open forever.
      push.close();
      pushRoutes.close();
      // Stop accepting, let in-flight exchanges finish (each is one transaction), then close the store.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
      unlock();
    },
  };
}
