import { api } from '../api.js';
import { setSession, type Session } from './session.js';

/** Signing in and out with the server's cookie session (the account data layer follows the session). */

export async function restoreSession(): Promise<void> {
  try {
    setSession(await api<Session>('GET', '/api/v1/session'));
  } catch {
    // 401 (no session) or an unreachable server: either way, show the sign-in form.
    setSession(null);
  }
}

export async function signIn(user: string, password: string): Promise<void> {
  setSession(await api<Session>('POST', '/api/v1/session', { user, password }));
}

export async function signOut(): Promise<void> {
  try {
    await api('DELETE', '/api/v1/session');
  } finally {
    setSession(null);
  }
}
