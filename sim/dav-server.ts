import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { handleDav } from '../src/faces/dav/routes.js';
import type { Principal } from '../src/http/principal.js';
import type { History } from './history.js';
import type { ServerWrite, SimServer } from './server.js';

/**
 * The CardDAV/CalDAV face of the simulated server: the real `handleDav` (src/faces/dav/routes.ts) over
 * the server's hub as it is now (a restart makes a new one), handed each request as the HTTP server
 * hands it (method, path, headers, a body stream), its answer read back as status, headers and text.
 * Each DAV device signs in with an app password of its own, so each is a sync point of its own
 * (`dav-<token id>`), as real clients are.
 *
 * The answer comes with the item versions the request committed, from the server's log (server.ts):
 * what a 2xx PUT or DELETE acknowledged, for the history (dav-device.ts). Nothing else writes while a
 * DAV request is served: the simulation runs one device at a time, and a DAV device one request at a time.
 */

export interface DavRequest {
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

export interface DavReply {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** The item versions this copy of the request committed. */
  writes: ServerWrite[];
}

export class SimDavServer {
  private capturing: ServerWrite[] | null = null;

  constructor(
    private readonly server: SimServer,
    history: History,
    private readonly account: { id: string; name: string },
  ) {
    history.onCommit = (writes) => this.capturing?.push(...writes);
  }

  async serve(tokenId: string, request: DavRequest): Promise<DavReply> {
    const principal: Principal = { accountId: this.account.id, accountName: this.account.name, tokenId, epoch: 0 };
    const body = Buffer.from(request.body, 'utf8');
    const req = Readable.from(body.length > 0 ? [body] : []) as IncomingMessage;
    Object.assign(req, { method: request.method, url: request.path, headers: { ...request.headers, 'content-length': String(body.length) } });
    const res = new FakeResponse();
    const writes: ServerWrite[] = [];
    this.capturing = writes;
    try {
      await handleDav(this.server.hub, principal, req, res as unknown as ServerResponse, request.path);
    } finally {
      this.capturing = null;
    }
    return { status: res.statusCode, headers: res.headers, body: res.body, writes };
  }
}

/** The part of ServerResponse the DAV face uses: the status, the headers and the body. */
class FakeResponse extends EventEmitter {
  statusCode = 0;
  headers: Record<string, string> = {};
  body = '';

  writeHead(status: number, headers: Record<string, string | number> = {}): this {
    this.statusCode = status;
    this.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    return this;
  }

  end(body?: Uint8Array | string): void {
    if (body !== undefined) this.body = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  }
}
