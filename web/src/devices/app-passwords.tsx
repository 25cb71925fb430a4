import { useState } from 'preact/hooks';
import type { AppTokenInfo, AppTokenList, CreatedAppToken } from '../../../src/protocol/tokens.js';
import { api } from '../api.js';
import { useSession } from '../data/session.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { TextField } from '../ui/field.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';
import { NewPassword } from './new-password.js';
import { setupDetails, type SetupDetails } from './setup-text.js';
import { TimeAgo } from '../ui/time-ago.js';
import { useResource } from '../ui/use-resource.js';

/** App passwords (docs/protocol.md §19): one per device, so each can be revoked alone. */
export function AppPasswords() {
  const tokens = useResource(() => api<AppTokenList>('GET', '/api/v1/tokens').then((answer) => answer.tokens));
  const session = useSession();
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<{ label: string; details: SetupDetails } | null>(null);
  const [revoking, setRevoking] = useState<AppTokenInfo | null>(null);
  const [revoked, setRevoked] = useState<string | null>(null);
  const create = useAction();
  const revoke = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    if (create.busy) return;
    const wanted = label.trim();
    void create.run(async () => {
      if (!wanted) throw new Error('Give the app password a label, such as the device it is for.');
      const token = await api<CreatedAppToken>('POST', '/api/v1/tokens', { label: wanted });
      setCreated({ label: token.label, details: setupDetails(location.origin, session?.user ?? '', token.token) });
      setLabel('');
      await tokens.reload();
    });
  };

  return (
    <section class="app-passwords" aria-labelledby="app-passwords-heading">
      <h2 id="app-passwords-heading" tabIndex={-1}>
        App passwords
      </h2>
      <p class="hint">Give each device its own app password instead of your account password. Revoking one signs out only that device.</p>
      <form class="create-token" onSubmit={submit} noValidate>
        <TextField label="Label" value={label} onValue={setLabel} required autoComplete="off" placeholder="e.g. phone" />
        <button type="submit" class="button primary" aria-disabled={create.busy}>
          Create app password
        </button>
      </form>
      <StatusMessage error={create.error} message={create.busy ? 'Creating…' : revoked} />
      {created && <NewPassword label={created.label} details={created.details} onDone={() => setCreated(null)} />}
      {tokens.error && (
        <p class="error" role="alert">
          Could not load the app passwords: {tokens.error}
        </p>
      )}
      {tokens.data?.length === 0 && <p class="muted">No app passwords yet.</p>}
      {tokens.data && tokens.data.length > 0 && (
        <table class="token-table" aria-label="App passwords">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((token) => (
              <tr key={token.id}>
                <th scope="row">{token.label}</th>
                <td data-label="Created">
                  <TimeAgo iso={token.createdAt} />
                </td>
                <td data-label="Last used">{token.lastUsedAt ? <TimeAgo iso={token.lastUsedAt} /> : 'never'}</td>
                <td class="actions-cell">
                  <button type="button" class="button" onClick={() => setRevoking(token)}>
                    Revoke<span class="visually-hidden"> app password {token.label}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke the app password “${revoking.label}”?`}
          message="Devices using it are refused from their next request, and have to be set up again with a new one."
          confirmLabel="Revoke"
          busy={revoke.busy}
          error={revoke.error}
          onCancel={() => {
            revoke.clearError();
            setRevoking(null);
          }}
          onConfirm={() =>
            void revoke.run(async () => {
              await api('DELETE', `/api/v1/tokens/${encodeURIComponent(revoking.id)}`);
              setRevoked(`App password “${revoking.label}” revoked.`);
              setRevoking(null);
              await tokens.reload();
              // Its row, where focus was, is gone: continue from the section's heading.
              document.getElementById('app-passwords-heading')?.focus();
            })
          }
        />
      )}
    </section>
  );
}
