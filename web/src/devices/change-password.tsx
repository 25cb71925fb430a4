import { useState } from 'preact/hooks';
import { passwordCharsMin } from '../../../src/protocol/session.js';
import { api } from '../api.js';
import { setSession, type Session } from '../data/session.js';
import { TextField } from '../ui/field.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';

/**
 * Changes the account password (docs/protocol.md § Web sessions). The server ends every session,
 * push channel and Ping opened with the old one, and gives this page a fresh session to go on with.
 */
export function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const change = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    if (change.busy) return;
    setDone(null);
    void change.run(async () => {
      if (next.length < passwordCharsMin) throw new Error(`The new password needs at least ${passwordCharsMin} characters.`);
      if (next !== repeat) throw new Error('The new password and its repetition differ.');
      const renewed = await api<Session>('POST', '/api/v1/account/password', { current, new: next });
      setSession(renewed);
      setCurrent('');
      setNext('');
      setRepeat('');
      setDone('Password changed. Devices and browsers that used the old one have to sign in again; app passwords keep working.');
    });
  };

  return (
    <section class="change-password" aria-labelledby="change-password-heading">
      <h2 id="change-password-heading">Change password</h2>
      <form class="change-password-form" onSubmit={submit} noValidate aria-label="Change password">
        <TextField label="Current password" type="password" value={current} onValue={setCurrent} autoComplete="current-password" required />
        <TextField label="New password" type="password" value={next} onValue={setNext} autoComplete="new-password" required hint={`At least ${passwordCharsMin} characters.`} />
        <TextField label="Repeat new password" type="password" value={repeat} onValue={setRepeat} autoComplete="new-password" required />
        <button type="submit" class="button primary" aria-disabled={change.busy}>
          Change password
        </button>
      </form>
      <StatusMessage error={change.error} message={change.busy ? 'Changing…' : done} />
    </section>
  );
}
