import assert from 'node:assert/strict';

/** The web app's side of the API for end-to-end tests: a session as a browser holds it, and requests as the page makes them (docs/protocol.md §20). */
export interface WebSession {
  cookie: string;
  csrf: string;
}

export async function signInRaw(serverUrl: string, user: string, password: string) {
  const res = await fetch(`${serverUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  return { res, body: (await res.json()) as any };
}

export async function signIn(serverUrl: string, user: string, password: string): Promise<WebSession> {
  const { res, body } = await signInRaw(serverUrl, user, password);
  assert.equal(res.status, 200, JSON.stringify(body));
  const value = /^syncpoint_session=([^;]+);/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(value, 'a session cookie');
  return { cookie: `syncpoint_session=${value}`, csrf: body.csrf };
}

/** A request as the web app makes it: the session cookie, the CSRF token on changes (unless `headers` overrides it), JSON. */
export async function webApi(serverUrl: string, session: WebSession | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...(session ? { cookie: session.cookie } : {}), ...headers };
  if (session && method !== 'GET' && !('x-csrf-token' in h)) h['x-csrf-token'] = session.csrf;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${serverUrl}${path}`, { method, headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
