import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { limits } from '../core/limits.js';
import { httpStatusOf, ProtocolError } from '../protocol/errors.js';
import { pushCloseCodes, type Remainder, type Ticket } from '../protocol/push.js';
import { protocolVersion } from '../protocol/version.js';
import { credentialOf, type Credential } from '../hub/accounts.js';
import { noMetrics, type Metrics } from '../hub/metrics.js';
import { sendError, sendJson as json } from '../http/body.js';
import type { Principal } from '../http/principal.js';
import { LongPollChannel } from './long-poll-channel.js';
import type { Channel } from '../hub/push-channel.js';
import { CredentialEnded, type PushHub } from './push-hub.js';
import { SseChannel } from './sse-channel.js';
import { ticketLifetimeMs, Tickets } from './tickets.js';
import { WebSocketChannel } from './websocket-channel.js';

/**
 * The push endpoints (docs/protocol.md § Push), all under /api/v1/push/:
 *   POST ticket           a short-lived ticket for channels that cannot send Authorization
 *   GET  ws               WebSocket upgrade (the primary channel)
 *   GET  events           Server-Sent Events (the fallback)
 *   GET  poll             long-poll
 *   GET  remainder/{token} the rest of a split change
 * Channels take `device` (the sync point's id) and optionally `collections` (comma-separated ids).
 */
export const pushPrefix = '/api/v1/push/';

const pollWaitMsMax = 60_000;
const pollWaitMsDefault = 25_000;
/** A long-poll mailbox lives this long after its last poll, so notices between polls are kept. */
const pollLingerMs = 2 * pollWaitMsMax;

/**
 * What push needs of authentication; the server shell's Authenticator (src/server/auth/authenticate.ts)
 * is one. Push states it here rather than import the shell (docs/architecture.md § Layers).
 */
export interface PushAuth {
  /** The Authorization header, else the session cookie. */
  authenticate(req: IncomingMessage): Promise<Principal | undefined>;
  /** The Authorization header alone. */
  fromHeader(header: string, address: string): Promise<Principal | undefined>;
  /** Whether a credential (one a ticket was issued from) still holds. */
  stillHolds(credential: Credential): Promise<boolean>;
  readonly addresses: { of(req: IncomingMessage): string };
}

export class PushRoutes {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });

  constructor(
    private readonly push: PushHub,
    private readonly tickets: Tickets,
    private readonly auth: PushAuth,
    private readonly now: () => number,
    private readonly metrics: Metrics = noMetrics,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const route = `${req.method} ${url.pathname.slice(pushPrefix.length)}`;
      if (route === 'POST ticket') {
        const principal = await this.auth.authenticate(req);
        if (!principal) throw new ProtocolError('unauthorized', 'valid credentials required');
        req.resume();
        return json(req, res, 200, { ticket: await this.tickets.issue(credentialOf(principal)), expiresInMs: ticketLifetimeMs } satisfies Ticket);
      }
      // Tokens are safe integers of up to 16 digits (a server start raises them to 1024 × the epoch ms; docs/protocol.md §18.1).
      const remainder = /^GET remainder\/(\d{1,16})$/.exec(route);
      // Reading a remainder changes nothing, so the web app may use its session cookie for it.
      if (remainder && Number.isSafeInteger(Number(remainder[1]))) return await this.remainder(await this.principalOf(req, url, true), req, res, url, Number(remainder[1]));
      const principal = await this.principalOf(req, url, false);
      if (route === 'GET events') return void (await this.openSse(principal, req, res, url));
      if (route === 'GET poll') return await this.poll(principal, req, res, url);
      throw new ProtocolError('notFound', `no route ${req.method} ${url.pathname}`);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (err.status === 'unauthorized') res.setHeader('www-authenticate', 'Basic realm="Syncpoint", charset="UTF-8"');
      return sendError(req, res, err);
    }
  }

  /** A WebSocket upgrade on /api/v1/push/ws. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    let principal: Credential;
    let device: DeviceParams;
    try {
      if (url.pathname !== `${pushPrefix}ws`) throw new ProtocolError('notFound', `no WebSocket at ${url.pathname}`);
      principal = await this.principalOf(req, url, false);
      device = deviceParams(url);
      await this.push.admit(principal.accountId, device.id, false);
    } catch (err) {
      const status = err instanceof ProtocolError ? httpStatusOf[err.status] : 500;
      const message = err instanceof ProtocolError ? err.message : 'internal error';
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Refused'}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
      if (!(err instanceof ProtocolError)) throw err;
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const channel = new WebSocketChannel(ws, principal.accountId, device.id, principal.tokenId, device.collections);
      // Client frames are heartbeats at most; the channel only counts them as signs of life.
      ws.on('close', () => this.push.unregister(channel));
      ws.on('error', () => ws.terminate());
      // Registration reads the store; if that fails (the server is closing), the socket just closes.
      this.start(channel, principal).catch((err: unknown) => {
        if (err instanceof CredentialEnded) ws.close(pushCloseCodes.revoked, err.message);
        // Admitted above, but another process registered the account's last free channel meanwhile.
        else if (err instanceof ProtocolError && err.status === 'limitReached') ws.close(pushCloseCodes.limitReached, err.message);
        else ws.close(pushCloseCodes.shutdown, 'server unavailable');
      });
    });
  }

  close(): void {
    this.wss.close();
  }

  private async start(channel: Channel, principal: Credential): Promise<void> {
    const nextToken = await this.push.register(channel, principal);
    channel.send({ type: 'hello', deviceId: channel.deviceId, nextToken, heartbeatMs: this.push.options.heartbeatMs });
  }

  private async openSse(principal: Credential, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const device = deviceParams(url);
    req.resume();
    await this.push.admit(principal.accountId, device.id, false);
    this.metrics.held(res);
    const channel = new SseChannel(res, principal.accountId, device.id, principal.tokenId, device.collections);
    res.on('close', () => this.push.unregister(channel));
    await this.start(channel, principal).catch((err: unknown) => {
      if (err instanceof CredentialEnded) channel.close(pushCloseCodes.revoked, 'the credential this channel was opened with has ended');
      else if (err instanceof ProtocolError && err.status === 'limitReached') channel.close(pushCloseCodes.limitReached, err.message);
      else throw err;
    });
  }

  private async poll(principal: Credential, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const device = deviceParams(url);
    const after = integerParam(url, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
    const waitMs = integerParam(url, 'wait', 0, pollWaitMsMax / 1000, pollWaitMsDefault / 1000) * 1000;
    req.resume();
    this.metrics.held(res);
    const active = this.push.active(principal.accountId, device.id);
    const reuse = active instanceof LongPollChannel && active.tokenId === principal.tokenId && sameSet(active.collections, device.collections);
    const channel = reuse ? active : new LongPollChannel(principal.accountId, device.id, principal.tokenId, device.collections, pollLingerMs, this.now);
    // A mailbox new here (the device's first poll, or its earlier polls went to another process) starts
    // with what the store still holds for it after `after`.
    if (!reuse) await this.push.register(channel, principal, after).catch(unauthorizedIfEnded);
    const { answer, cancel } = channel.poll(after, waitMs);
    res.on('close', cancel);
    const response = await answer;
    if (!res.destroyed) await json(req, res, 200, response);
  }

  private async remainder(principal: Credential, req: IncomingMessage, res: ServerResponse, url: URL, token: number): Promise<void> {
    const device = deviceParams(url);
    req.resume();
    const rest = await this.push.remainder(principal.accountId, device.id, token);
    if (rest === undefined) throw new ProtocolError('notFound', `no token ${token} for device ${device.id}`);
    if (rest === 'gone') {
      return json(req, res, 410, { version: protocolVersion, status: 'notFound', message: 'the item changed since; a newer notice or a sync brings it' });
    }
    return json(req, res, 200, rest satisfies Remainder);
  }

  /**
   * A ticket, or the Authorization header. Opening a channel takes over the device's old one, so it
   * never goes by the session cookie alone: any same-site GET (an <img> in a contact, say) carries the
   * cookie. The web app opens its channel with a ticket, which needs the CSRF token. A ticket remembers
   * the credential it was issued from and counts only while that still holds: an app token revoked, a
   * session ended or a password changed since makes it worthless.
   */
  private async principalOf(req: IncomingMessage, url: URL, cookieAllowed: boolean): Promise<Credential> {
    const ticket = url.searchParams.get('ticket');
    if (ticket !== null) {
      const redeemed = await this.tickets.redeem(ticket);
      if (redeemed && (await this.auth.stillHolds(redeemed))) return redeemed;
      throw new ProtocolError('unauthorized', 'the ticket is unknown, spent or expired');
    }
    const header = req.headers.authorization;
    const principal = cookieAllowed
      ? await this.auth.authenticate(req)
      : header !== undefined
        ? await this.auth.fromHeader(header, this.auth.addresses.of(req))
        : undefined;
    if (!principal) throw new ProtocolError('unauthorized', 'valid credentials required');
    return credentialOf(principal);
  }
}

interface DeviceParams {
  id: string;
  collections: ReadonlySet<string> | null;
}

function deviceParams(url: URL): DeviceParams {
  const id = url.searchParams.get('device') ?? '';
  if (id.length < 1 || id.length > limits.idCharsMax) throw new ProtocolError('invalidRequest', `device must be 1-${limits.idCharsMax} characters`);
  const list = url.searchParams.get('collections');
  if (list === null) return { id, collections: null };
  const ids = list.split(',').filter((c) => c.length > 0);
  if (ids.length > limits.collectionsPerRequestMax || ids.some((c) => c.length > limits.idCharsMax)) {
    throw new ProtocolError('invalidRequest', `collections lists at most ${limits.collectionsPerRequestMax} ids`);
  }
  return { id, collections: new Set(ids) };
}

function integerParam(url: URL, name: string, min: number, max: number, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d{1,16}$/.test(raw) || value < min || value > max) throw new ProtocolError('invalidRequest', `${name} must be an integer from ${min} to ${max}`);
  return value;
}

function sameSet(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** A long-poll whose credential ended on the way answers 401 like any other. */
function unauthorizedIfEnded(err: unknown): never {
  throw err instanceof CredentialEnded ? new ProtocolError('unauthorized', err.message) : err;
}
