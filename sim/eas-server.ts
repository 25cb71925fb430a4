import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { easPath, EasFace } from '../src/faces/eas/routes.js';
import type { Hub } from '../src/hub/hub.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { ExchangeFaceState } from '../src/hub/sync.js';
import type { SyncRequest, SyncResponse } from '../src/protocol/sync.js';
import type { PingRegistry } from '../src/faces/eas/context.js';
import type { Principal } from '../src/http/principal.js';
import type { Channel } from '../src/hub/push-channel.js';
import type { SimServer } from './server.js';
import { decodeWbxml, encodeWbxml, type WbxmlElement } from '../src/faces/eas/wbxml/codec.js';

/**
 * The ActiveSync face of the simulated server: the real `EasFace` (src/faces/eas/routes.ts) over the
 * server's hub, handed each request as the HTTP server would hand it (a body stream, headers, the URL),
 * its answer read back as bytes. The face's memory of devices (the last Sync an empty one repeats) is in
 * the store, so it outlives a restart as the sync state does.
 *
 * The face reaches the hub through a window that notes every hub exchange a request made, so that the
 * history (history.ts) can record the acknowledgements of the reply that reached the device, exactly as
 * for a native device.
 */

/** What one copy of a request got: the HTTP status and body, and the hub exchanges made for it. */
export interface EasReply {
  status: number;
  body: Uint8Array;
  /** Set when the device hung up before an answer came (a Ping with nothing to report). */
  hungUp: boolean;
  hubExchanges: Array<{ request: SyncRequest; response: SyncResponse }>;
}

export interface EasRequestLine {
  deviceId: string;
  version: string;
  command: string;
}

/** A planted bug's change to a request before the face reads it (planted-bugs.ts). */
export type EasRewrite = (line: EasRequestLine, body: WbxmlElement | undefined) => { line: EasRequestLine; body: WbxmlElement | undefined };

/** ActiveSync devices one account may have in the simulation (config `easDevicesMax`). */
const easDevicesMax = 10;

export class SimEasServer {
  private face: EasFace;
  private noted: Array<{ request: SyncRequest; response: SyncResponse }> = [];
  /** The channels of Pings (and held Syncs) registered and not yet let go. */
  private readonly waiting = new Set<Channel>();
  /** Called when the request being served has looked at what is waiting with a channel registered. */
  private looked: () => void = () => undefined;

  constructor(
    private readonly server: SimServer,
    private readonly ports: HubPorts,
    private readonly principal: Principal,
    private readonly rewrite?: EasRewrite,
  ) {
    this.face = this.makeFace();
    server.onRestart(() => (this.face = this.makeFace()));
  }

  /**
   * One copy of a request. A Ping that waits for a change is hung up on once it waits: its channel is
   * registered and it has looked at what was already waiting without finding anything (what follows that
   * look without a store call has run by the next turn of the event loop). Nothing here needs real time:
   * the heartbeat ran out with nothing to report. Any other request is answered in full, however long
   * its store calls take (PostgreSQL's are real round trips).
   */
  async serve(sentLine: EasRequestLine, sentBody: Uint8Array): Promise<EasReply> {
    let [line, body] = [sentLine, sentBody];
    if (this.rewrite) {
      const changed = this.rewrite(line, body.length === 0 ? undefined : decodeWbxml(body));
      [line, body] = [changed.line, changed.body === undefined ? new Uint8Array() : encodeWbxml(changed.body)];
    }
    const query = new URLSearchParams({ Cmd: line.command, User: this.principal.accountName, DeviceId: line.deviceId, DeviceType: 'SimPhone' });
    const url = new URL(`http://sim${easPath}?${query}`);
    const req = Readable.from(body.length > 0 ? [Buffer.from(body)] : []) as IncomingMessage;
    Object.assign(req, {
      method: 'POST',
      url: `${url.pathname}${url.search}`,
      headers: { 'content-type': 'application/vnd.ms-sync.wbxml', 'content-length': String(body.length), 'ms-asprotocolversion': line.version },
    });
    const res = new FakeResponse();
    this.noted = [];
    const noted = this.noted;
    const looked = new Promise<void>((resolve) => (this.looked = resolve));
    // A held Ping's handling ends once it is held; its answer comes later, on the response.
    const handled = this.face.handle(this.principal, req, res as unknown as ServerResponse, url);
    await Promise.race([handled.catch(() => undefined), looked]);
    await nextTurn();
    const hungUp = !res.ended && this.waiting.size > 0;
    if (hungUp) res.hangUp();
    await handled;
    return { status: res.statusCode, body: res.body, hungUp, hubExchanges: noted };
  }

  private makeFace(): EasFace {
    // The hub as it is now (a restart makes a new one), each sync exchange noted as it passes.
    const server = this.server;
    const waiting = this.waiting;
    const looked = () => this.looked();
    const note = (request: SyncRequest, response: SyncResponse) => this.noted.push({ request: structuredClone(request), response: structuredClone(response) });
    const hub = new Proxy({} as Hub, {
      get(_target, property) {
        const live = server.hub;
        if (property === 'pendingChanges') {
          return async (...args: Parameters<Hub['pendingChanges']>) => {
            const pending = await live.pendingChanges(...args);
            if (waiting.size > 0) looked();
            return pending;
          };
        }
        if (property === 'sync') {
          return async (accountId: string, protocol: string, request: SyncRequest, tokenId?: string, faceState?: ExchangeFaceState) => {
            const response = await live.sync(accountId, protocol, request, tokenId, faceState);
            note(request, response);
            return response;
          };
        }
        const value = Reflect.get(live, property, live) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(live) : value;
      },
    });
    // The push hub as it is now, each Ping's channel noted while it is registered.
    const push = server.push;
    const pings: PingRegistry = {
      async register(channel, credential) {
        const token = await push.register(channel, credential);
        waiting.add(channel);
        return token;
      },
      unregister(channel) {
        waiting.delete(channel);
        push.unregister(channel);
      },
    };
    return new EasFace(hub, pings, this.ports.logger, () => this.ports.clock.now(), easDevicesMax);
  }
}

/** The part of ServerResponse the face uses: the status, the body, and whether the client is gone. */
class FakeResponse extends EventEmitter {
  statusCode = 0;
  destroyed = false;
  ended = false;
  body = new Uint8Array();

  writeHead(status: number): this {
    this.statusCode = status;
    return this;
  }

  end(body?: Uint8Array | string, encoding?: BufferEncoding): void {
    this.ended = true;
    if (body !== undefined) this.body = typeof body === 'string' ? Buffer.from(body, encoding) : new Uint8Array(body);
  }

  hangUp(): void {
    this.destroyed = true;
    this.emit('close');
  }
}
