import { getSession, setSession } from './data/session.js';

/** A refused /api/v1 request: `status` is the HTTP status, `code` the server's status string (§12). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before trying again, from Retry-After (429). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/**
 * One JSON call to the server's API with the session cookie. Non-GET requests carry the session's
 * CSRF token. A 401 means the session is gone (expired, signed out elsewhere): the page signs out.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const csrf = getSession()?.csrf;
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let res: Response;
  let text: string;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), credentials: 'same-origin' });
    text = await res.text();
  } catch (err) {
    throw new ApiError(0, 'network', `cannot reach the server (${(err as Error).message})`);
  }
  const json = parseJson(text);
  if (res.ok) return json as T;
  const error = (json ?? {}) as { status?: unknown; message?: unknown };
  const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
  if (res.status === 401) setSession(null);
  throw new ApiError(
    res.status,
    typeof error.status === 'string' ? error.status : 'error',
    typeof error.message === 'string' ? error.message : `HTTP ${res.status} ${res.statusText}`.trim(),
    Number.isFinite(retryAfter) ? retryAfter : undefined,
  );
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
