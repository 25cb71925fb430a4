import { useEffect, useState } from 'preact/hooks';
import type { AccountInfo } from '../../../src/protocol/account.js';
import { api } from '../api.js';
import { TextField } from '../ui/field.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';
import { useResource } from '../ui/use-resource.js';

/**
 * The account's email address, which ActiveSync reports to phones as the account's address (docs/eas.md
 * § Setting up a phone); without one it reports the account name. An empty field clears it.
 */
export function AccountEmail() {
  const account = useResource(() => api<AccountInfo>('GET', '/api/v1/account'));
  const [email, setEmail] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const save = useAction();
  const stored = account.data?.email ?? '';
  useEffect(() => setEmail(stored), [stored]);

  const submit = (event: Event) => {
    event.preventDefault();
    if (save.busy) return;
    setDone(null);
    void save.run(async () => {
      const saved = await api<AccountInfo>('PUT', '/api/v1/account/email', { email: email.trim() });
      account.set(saved);
      setDone(saved.email ? `Phones will see ${saved.email}.` : `Cleared. Phones will see ${saved.reportedEmail}.`);
    });
  };

  return (
    <section class="account-email" aria-labelledby="account-email-heading">
      <h2 id="account-email-heading">Email address</h2>
      <form class="account-email-form" onSubmit={submit} noValidate aria-label="Email address">
        <TextField
          label="Email address"
          type="email"
          value={email}
          onValue={setEmail}
          autoComplete="email"
          hint={`Exchange (ActiveSync) phones show this as the account's address${account.data ? `; without one they see ${account.data.name}` : ''}.`}
        />
        <button type="submit" class="button primary" aria-disabled={save.busy}>
          Save address
        </button>
      </form>
      <StatusMessage error={save.error ?? account.error} message={save.busy ? 'Saving…' : done} />
    </section>
  );
}
