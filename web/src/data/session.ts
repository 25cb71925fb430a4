import { useEffect, useState } from 'preact/hooks';

/**
 * Who is signed in on this page, and the CSRF token the server gave that session. The session cookie
 * itself is HttpOnly: the page only ever sees this pair. `undefined` means "not checked yet".
 */
export interface Session {
  user: string;
  csrf: string;
}

let current: Session | null | undefined;
const listeners = new Set<(session: Session | null) => void>();

export function getSession(): Session | null | undefined {
  return current;
}

export function setSession(session: Session | null): void {
  if (session === current || (session && current && session.user === current.user && session.csrf === current.csrf)) return;
  current = session;
  for (const listener of [...listeners]) listener(session);
}

export function onSessionChange(listener: (session: Session | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSession(): Session | null | undefined {
  const [session, setState] = useState(current);
  useEffect(() => {
    setState(current);
    return onSessionChange(setState);
  }, []);
  return session;
}
