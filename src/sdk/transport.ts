import { collectionListSchema, collectionSchema, type Collection, type CreateCollection } from '../protocol/collections.js';
import { remainderSchema, ticketSchema, type Remainder } from '../protocol/push.js';
import { syncResponseSchema, type SyncRequest, type SyncResponse } from '../protocol/sync.js';
import { decodeXml, encodeXml } from '../protocol/xml.js';

/**
 * How the SDK reaches a server. `HttpTransport` speaks the native protocol over fetch(); tests and
 * simulators can hand the sync loop any other Transport.
 */
export interface Transport {
  sync(request: SyncRequest): Promise<SyncResponse>;
  listCollections(): Promise<Collection[]>;
  createCollection(input: CreateCollection): Promise<Collection>;
}

/**
 * A failure worth retrying with the very same request: the network, a timeout, a 5xx, or an answer
 * cut short. The server may or may not have committed; retrying the same sync key is safe either way.
 */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

/** The server refused the request itself; retrying it unchanged cannot help. */
export class RequestRefusedError extends Error {
  override name = 'RequestRefusedError';
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Basic (account or app password), Bearer (app token), or a browser's signed-in session: its cookie
 * goes with every request on its own, and the CSRF token must be sent with it.
 */
export type Credentials = { user: string; password: string } | { token: string } | { csrf: string };

export interface HttpTransportOptions {
  baseUrl: string;
  credentials: Credentials;
  encoding?: 'json' | 'xml';
  timeoutMs?: number;
  /** Request bodies at least this large are sent gzip-compressed. */
  gzipBytesMin?: number;
}

const xmlDepthMax = 16;

export class HttpTransport implements Transport {
  private readonly authHeaders: Record<string, string>;
  private readonly encoding: 'json' | 'xml';
  private readonly timeoutMs: number;
  private readonly gzipBytesMin: number;

  constructor(private readonly options: HttpTransportOptions) {
    const c = options.credentials;
    this.authHeaders =
      'csrf' in c
        ? { 'x-csrf-token': c.csrf }
        : { authorization: 'token' in c ? `Bearer ${c.token}` : `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${c.user}:${c.password}`)))}` };
    this.encoding = options.encoding ?? 'json';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.gzipBytesMin = options.gzipBytesMin ?? 4096;
  }

  async sync(request: SyncRequest): Promise<SyncResponse> {
    const body = this.encoding === 'json' ? JSON.stringify(request) : encodeXml('sync', request);
    const text = await this.call('POST', 'sync', body);
    let value: unknown;
    try {
      value = this.encoding === 'json' ? JSON.parse(text) : decodeXml(text, 'syncResponse', syncResponseSchema, xmlDepthMax);
    } catch (err) {
      throw new RetryableError(`unreadable sync response: ${(err as Error).message}`);
    }
    const parsed = syncResponseSchema.safeParse(value);
    if (!parsed.success) throw new RetryableError(`malformed sync response: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  async listCollections(): Promise<Collection[]> {
    return collectionListSchema.parse(JSON.parse(await this.call('GET', 'collections'))).collections;
  }

  async createCollection(input: CreateCollection): Promise<Collection> {
    return collectionSchema.parse(JSON.parse(await this.call('POST', 'collections', JSON.stringify(input), 'application/json')));
  }

  /** A single-use ticket that opens a push channel without an Authorization header. */
  async pushTicket(): Promise<string> {
    return ticketSchema.parse(JSON.parse(await this.call('POST', 'push/ticket', '', 'application/json'))).ticket;
  }

  /** The rest of a split push notice; undefined when the item has changed since (HTTP 410). */
  async pushRemainder(deviceId: string, token: number): Promise<Remainder | undefined> {
    try {
      return remainderSchema.parse(JSON.parse(await this.call('GET', `push/remainder/${token}?device=${encodeURIComponent(deviceId)}`, undefined, 'application/json')));
    } catch (err) {
      if (err instanceof RequestRefusedError && err.httpStatus === 410) return undefined;
      throw err;
    }
  }

  /** The WebSocket URL of the push channel (the ticket goes in its query). */
  pushSocketUrl(query: URLSearchParams): string {
    const url = new URL(`api/v1/push/ws?${query}`, this.options.baseUrl.replace(/\/?$/, '/'));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  private async call(method: string, path: string, body?: string, contentType?: string): Promise<string> {
    const type = contentType ?? (this.encoding === 'json' ? 'application/json' : 'application/xml');
    const headers: Record<string, string> = { ...this.authHeaders, accept: type, 'accept-encoding': 'gzip' };
    let payload: BodyInit | undefined = body;
    if (body !== undefined) {
      headers['content-type'] = type;
      if (body.length >= this.gzipBytesMin) {
        payload = await new Response(new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
        headers['content-encoding'] = 'gzip';
      }
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(new URL(`api/v1/${path}`, this.options.baseUrl.replace(/\/?$/, '/')), {
        method,
        headers,
        body: payload ?? null,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new RetryableError(`${method} ${path} failed: ${(err as Error).message}`);
    }
    if (res.status >= 500 || res.status === 429) throw new RetryableError(`${method} ${path}: HTTP ${res.status}`);
    if (res.status >= 400) {
      let status = 'error';
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { status?: string; message?: string };
        status = parsed.status ?? status;
        message = parsed.message ?? message;
      } catch {
        // XML or plain error body: keep the text.
      }
      throw new RequestRefusedError(res.status, status, message);
    }
    return text;
  }
}
