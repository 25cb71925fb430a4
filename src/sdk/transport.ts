import { collectionListSchema, collectionSchema, type Collection, type CreateCollection } from '../protocol/collections.js';
import { movedMessageSchema, type MoveMessage, type MovedMessage } from '../protocol/mail.js';
import { mailSentSchema, type MailSent, type SendMailRequest } from '../protocol/mail-send.js';
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
    /** The error body's other fields (docs/protocol.md §12.2), such as `sendState`, `reason`, `upstreamError`, `limit`. */
    readonly details: Readonly<Record<string, unknown>> = {},
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

  /**
   * Sends a message through the account's IMAP upstream (docs/protocol.md §10.7). Keep `clientId` with the
   * message until an answer comes: after a RetryableError, send the very same request again; it is never
   * sent twice, and a send that went through is answered as it was (`replayed`). A RequestRefusedError
   * says why it was not sent (`upstreamFailed`: the mail server refused it), or that its outcome is
   * unknown (409 `conflict`).
   */
  async sendMail(request: SendMailRequest): Promise<MailSent> {
    return mailSentSchema.parse(JSON.parse(await this.call('POST', 'mail/send', JSON.stringify(request), 'application/json')));
  }

  /**
   * Moves a message to another folder of its mail account (docs/protocol.md §10.5) as `device`. Apply the
   * answer at once (`recordMoved`: the item leaves its folder); it arrives in the destination with that folder's next sync.
   * A refusal is a RequestRefusedError (404: no such message, or it is no longer on the mail server; 400:
   * another mail account's folder); 503 (the mail server cannot be reached, nothing moved) a RetryableError.
   */
  async moveMessage(collectionId: string, itemId: string, move: MoveMessage): Promise<MovedMessage> {
    const path = `collections/${encodeURIComponent(collectionId)}/items/${encodeURIComponent(itemId)}/move`;
    return movedMessageSchema.parse(JSON.parse(await this.call('POST', path, JSON.stringify(move), 'application/json')));
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

  /**
   * A part of a mail item, fetched by its token (`body.part`, `body.htmlPart` or an attachment's `part`;
   * docs/protocol.md §10.6): its decoded bytes, its Content-Type, and an attachment's file name. `range`
   * asks for bytes `start` to `end` (inclusive) of it; a server that sends the whole part says so in `range`
   * of the answer (null). A refusal is a RequestRefusedError (404: no such part, or the message is no
   * longer on the mail server); 503 (the mail server cannot be reached) a RetryableError.
   */
  async fetchMailPart(
    collectionId: string,
    itemId: string,
    part: string,
    options: { range?: { start: number; end: number } } = {},
  ): Promise<{ bytes: Uint8Array; contentType: string; fileName: string | null; range: { start: number; end: number; size: number } | null }> {
    const path = `collections/${encodeURIComponent(collectionId)}/items/${encodeURIComponent(itemId)}/parts/${encodeURIComponent(part)}`;
    const headers: Record<string, string> = { ...this.authHeaders };
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end}`;
    let res: Response;
    let bytes: Uint8Array;
    try {
      res = await fetch(new URL(`api/v1/${path}`, this.options.baseUrl.replace(/\/?$/, '/')), { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throw new RetryableError(`GET ${path} failed: ${(err as Error).message}`);
    }
    if (res.status >= 400) throw refusal('GET', path, res.status, new TextDecoder().decode(bytes));
    const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
    return {
      bytes,
      contentType: res.headers.get('content-type') ?? 'application/octet-stream',
      fileName: fileNameOf(res.headers.get('content-disposition')),
      range: res.status === 206 && contentRange ? { start: Number(contentRange[1]), end: Number(contentRange[2]), size: Number(contentRange[3]) } : null,
    };
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
    if (res.status >= 400) throw refusal(method, path, res.status, text);
    return text;
  }
}

/** An error answer: worth retrying (a 5xx, a 429), or the server's refusal with its status and message. */
function refusal(method: string, path: string, httpStatus: number, text: string): Error {
  let status = 'error';
  let message = text.slice(0, 500);
  let details: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      const { status: said, message: why, version, ...rest } = parsed as Record<string, unknown>;
      if (typeof said === 'string') status = said;
      if (typeof why === 'string') message = why;
      details = rest;
    }
  } catch {
    // XML or plain error body: keep the text.
  }
  // A mail server's refusal (§10.7) is the answer, not a failure to reach this server: sent again, it is refused again.
  if (httpStatus === 502 && status === 'upstreamFailed') return new RequestRefusedError(httpStatus, status, message, details);
  // The server's words say why (the mail server cannot be reached: …), for whoever shows the error.
  if (httpStatus >= 500 || httpStatus === 429) return new RetryableError(`${method} ${path}: HTTP ${httpStatus}${status === 'error' ? '' : ` ${status}: ${message}`}`);
  return new RequestRefusedError(httpStatus, status, message, details);
}

/** The file name of a Content-Disposition: its `filename*` (RFC 8187, UTF-8), else its `filename`. */
function fileNameOf(header: string | null): string | null {
  if (header === null) return null;
  const extended = /filename\*=UTF-8''([^;\s]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1] as string);
    } catch {
      // Not valid percent-encoding: the plain name.
    }
  }
  return /filename="([^"]*)"/i.exec(header)?.[1] ?? null;
}
