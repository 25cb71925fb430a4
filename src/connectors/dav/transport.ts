import { limits } from '../../core/limits.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';

/**
 * HTTP to one upstream CardDAV/CalDAV account: HTTP Basic credentials, a timeout and the caller's abort
 * signal on every request (body included), every answer read within a byte bound, and statuses that
 * mean "stop" or "later" turned into typed errors (errors.ts). `fetch` and the clock are parameters, so a
 * simulated upstream can drive the connector (docs/architecture.md § Connectors).
 */

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface UpstreamAccount {
  username: string;
  password: string;
}

export interface TransportOptions {
  fetch: Fetch;
  /** Epoch milliseconds; turns an HTTP-date `Retry-After` into seconds. */
  clock: { now(): number };
  account: UpstreamAccount;
  /** Per request; limits.upstreamRequestMs unless given. */
  timeoutMs?: number;
  /** Ends every request in flight, and refuses new ones, once aborted. */
  signal?: AbortSignal;
}

export interface DavRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Statuses the caller handles itself (412, 404, a sync-collection's 403...): returned, not thrown. */
  accept?: readonly number[];
}

export interface DavAnswer {
  status: number;
  /** The URL that answered, after same-origin redirects. */
  url: string;
  headers: Headers;
}

export interface OpenAnswer extends DavAnswer {
  read(bytesMax: number, onText: (text: string) => void): Promise<void>;
  discard(): Promise<void>;
}

export class Transport {
  readonly #options: TransportOptions;
  readonly #authorization: string;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#authorization = `Basic ${Buffer.from(`${options.account.username}:${options.account.password}`, 'utf8').toString('base64')}`;
  }

  /**
   * Sends a request and returns its status and headers; `read` hands the answer's text to `onText` as it
   * arrives (decoded as UTF-8, which WebDAV XML and vCard/iCalendar are) and throws `too-large` past
   * `bytesMax` bytes, `discard` drops it. An error status outside `accept` is thrown unread.
   */
  async open(request: DavRequest): Promise<OpenAnswer> {
    const signal = this.#signal();
    const { response, url } = await this.#send(request, signal);
    const accepted = (response.status >= 200 && response.status < 300) || request.accept?.includes(response.status);
    if (!accepted) {
      await response.body?.cancel().catch(() => undefined);
      throw this.#statusError(request, response);
    }
    return {
      status: response.status,
      url,
      headers: response.headers,
      read: (bytesMax, onText) => readText(response, bytesMax, onText, url),
      discard: async () => void (await response.body?.cancel().catch(() => undefined)),
    };
  }

  #signal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? limits.upstreamRequestMs);
    return this.#options.signal ? AbortSignal.any([timeout, this.#options.signal]) : timeout;
  }

  /** One request, following redirects to the same origin only (the credentials go nowhere else), at most limits.upstreamRedirectsMax. */
  async #send(request: DavRequest, signal: AbortSignal): Promise<{ response: Response; url: string }> {
    let url = request.url;
    for (let redirects = 0; ; redirects++) {
      let response: Response;
      try {
        response = await this.#options.fetch(url, {
          method: request.method,
          headers: { authorization: this.#authorization, ...request.headers },
          body: request.body,
          redirect: 'manual',
          signal,
        });
      } catch (err) {
        // What the caller's fetch refused on purpose (an address it may not reach) is told as it is.
        if (err instanceof UpstreamError) throw err;
        const why = signal.aborted ? (this.#options.signal?.aborted ? 'aborted' : 'timed out') : `failed: ${(err as Error).message}`;
        throw new UpstreamError('transient', `${request.method} ${url} ${why}`, { url });
      }
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || location === null) {
        return { response, url };
      }
      await response.body?.cancel().catch(() => undefined);
      const target = new URL(location, url);
      if (target.origin !== new URL(url).origin) {
        throw new UpstreamError('redirect', `${url} redirects to another origin, ${target.origin}; use that URL to send the credentials there`, { url: target.href });
      }
      if (redirects >= limits.upstreamRedirectsMax) throw new UpstreamError('redirect', `more than ${limits.upstreamRedirectsMax} redirects from ${request.url}`, { url });
      // User info in a Location is dropped: the credentials travel as a header, to this origin only.
      target.username = '';
      target.password = '';
      url = target.href;
    }
  }

  #statusError(request: DavRequest, response: Response): UpstreamError {
    const status = response.status;
    const where = `${request.method} ${request.url}`;
    if (status === 401) return new UpstreamError('auth', `${where}: 401, the upstream refused the user name and password`, { status });
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'), this.#options.clock.now());
    if ((status === 503 || status === 429) && retryAfter !== undefined) {
      return new UpstreamError('retry-after', `${where}: ${status}, retry after ${retryAfter} s`, { status, retryAfterSeconds: retryAfter });
    }
    if (status >= 500 || status === 429 || status === 408) return new UpstreamError('transient', `${where}: ${status}`, { status });
    return new UpstreamError('protocol', `${where}: unexpected status ${status}`, { status });
  }
}

/** `Retry-After` as whole seconds from `now` (delay-seconds or an HTTP-date, RFC 9110 §10.2.3), within limits.upstreamRetryAfterSecondsMax. */
export function retryAfterSeconds(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  let seconds: number;
  if (/^\d+$/.test(value)) seconds = Number(value);
  else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.max(0, Math.ceil((at - now) / 1000));
  }
  return Math.min(seconds, limits.upstreamRetryAfterSecondsMax);
}

async function readText(response: Response, bytesMax: number, onText: (text: string) => void, url: string): Promise<void> {
  if (!response.body) return;
  // Fatal: a vCard or iCalendar object with a broken byte must fail, not be stored with U+FFFD in it.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const reader = response.body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > bytesMax) throw new UpstreamError('too-large', `the answer from ${url} is larger than ${bytesMax} bytes`, { url });
      onText(decoder.decode(value, { stream: true }));
    }
    onText(decoder.decode());
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    if (err instanceof UpstreamError) throw err;
    if (err instanceof TypeError && /encoded data/i.test(err.message)) throw new UpstreamError('protocol', `the answer from ${url} is not UTF-8`, { url });
    throw new UpstreamError('transient', `reading the answer from ${url} failed: ${(err as Error).message}`, { url });
  }
}
