import { useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { signIn } from './data/auth.js';
import { TextField } from './ui/field.js';

function explain(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  if (err.status === 401) return 'Wrong user name or password.';
  if (err.status === 429) return err.retryAfter !== undefined ? `Too many attempts, try again in ${err.retryAfter} s.` : 'Too many attempts, try again later.';
  return err.message;
}

export function SignIn() {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(user.trim(), password);
    } catch (err) {
      setError(explain(err));
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Sign in to Syncpoint</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <TextField label="User name" value={user} onValue={setUser} autoComplete="username" required autoFocus />
        <TextField label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required />
        <p class="error" role="alert">
          {error ?? ''}
        </p>
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
