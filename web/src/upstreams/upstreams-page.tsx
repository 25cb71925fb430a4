import { useId, useRef, useState } from 'preact/hooks';
import type { CollectionKind } from '../../../src/protocol/collections.js';
import type { UpstreamInfo, UpstreamList, UpstreamRunInfo } from '../../../src/protocol/upstreams.js';
import { api } from '../api.js';
import { refreshCollections, useCollections } from '../data/account.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { SelectField, TextField } from '../ui/field.js';
import { StatusMessage } from '../ui/status.js';
import { TimeAgo } from '../ui/time-ago.js';
import { useAction } from '../ui/use-action.js';
import { useResource } from '../ui/use-resource.js';
import './upstreams.css';

/** How often the list is re-read: the server runs upstreams on its own every few minutes. */
const refreshMs = 15_000;

const kindNames: Record<CollectionKind, string> = { contacts: 'contacts', events: 'events', tasks: 'tasks', notes: 'notes' };

/** What the server calls the upstream's device too (hub/upstreams.ts): its host and the user name there. */
const nameOf = (u: Pick<UpstreamInfo, 'url' | 'username'>) => `${new URL(u.url).host} (${u.username})`;

/**
 * #/upstreams: the account's CardDAV/CalDAV accounts at other servers, which the server keeps in two-way
 * sync (docs/protocol.md §16.1, docs/operations.md § Upstream servers): each one's state, runs, error,
 * what waits for it and where its collections go; "Sync now" for one; adding and removing them.
 */
export function UpstreamsPage() {
  const upstreams = useResource(() => api<UpstreamList>('GET', '/api/v1/upstreams').then((answer) => answer.upstreams), refreshMs);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const listHeading = useRef<HTMLHeadingElement>(null);

  const replace = (upstream: UpstreamInfo) => upstreams.set((upstreams.data ?? []).map((u) => (u.id === upstream.id ? upstream : u)));

  return (
    <section class="page upstreams-page" aria-labelledby="upstreams-heading">
      <h1 id="upstreams-heading">Upstreams</h1>
      <p class="hint">
        Your accounts at other CardDAV and CalDAV servers. Syncpoint keeps each one in two-way sync with your collections, every few minutes, as one more device: a
        conflict with another device goes by its priority on the Devices page.
      </p>
      <section aria-labelledby="upstream-list-heading">
        <h2 id="upstream-list-heading" ref={listHeading} tabIndex={-1}>
          Your upstreams
        </h2>
        <StatusMessage error={message?.error ? message.text : null} message={message && !message.error ? message.text : null} />
        {upstreams.error && (
          <p class="error" role="alert">
            Could not load the upstreams: {upstreams.error}
          </p>
        )}
        {!upstreams.data && !upstreams.error && <p>Loading…</p>}
        {upstreams.data?.length === 0 && <p class="muted">No upstream yet. Add one below.</p>}
        {upstreams.data && upstreams.data.length > 0 && (
          <ul class="upstream-list" aria-label="Upstreams">
            {upstreams.data.map((u) => (
              <UpstreamEntry
                key={u.id}
                upstream={u}
                onRan={(run) => {
                  replace(run.upstream);
                  const name = nameOf(run.upstream);
                  if (!run.ran) setMessage({ text: `${name} is being synced elsewhere right now; its state shows when that run ends.`, error: false });
                  else if (run.upstream.state === 'error') setMessage({ text: `Sync with ${name} failed: ${run.upstream.lastError ?? 'unknown error'}`, error: true });
                  else setMessage({ text: `Synced with ${name}.`, error: false });
                }}
                onFailed={(text) => setMessage({ text, error: true })}
                onRemoved={async () => {
                  setMessage({ text: `Removed ${nameOf(u)}. Its collections and their items stay.`, error: false });
                  await upstreams.reload();
                  // Its entry, where focus was, is gone: go on from the list.
                  listHeading.current?.focus();
                }}
              />
            ))}
          </ul>
        )}
      </section>
      <AddForm
        onAdded={async () => {
          await Promise.all([upstreams.reload(), refreshCollections()]);
        }}
      />
    </section>
  );
}

function UpstreamEntry(props: { upstream: UpstreamInfo; onRan: (run: UpstreamRunInfo) => void; onFailed: (text: string) => void; onRemoved: () => Promise<void> }) {
  const u = props.upstream;
  const name = nameOf(u);
  const titleId = useId();
  const sync = useAction();
  const remove = useAction();
  const [confirming, setConfirming] = useState(false);

  const syncNow = () => {
    if (sync.busy) return;
    void sync.run(async () => {
      try {
        props.onRan(await api<UpstreamRunInfo>('POST', `/api/v1/upstreams/${encodeURIComponent(u.id)}/sync`));
      } catch (err) {
        props.onFailed(`Could not sync with ${name}: ${(err as Error).message}`);
      }
    });
  };

  return (
    <li class="upstream">
      <article aria-labelledby={titleId}>
        <div class="upstream-head">
          <h3 id={titleId}>{name}</h3>
          <StateBadge upstream={u} />
          <span class="row-actions">
            <button type="button" class="button primary" onClick={syncNow} aria-disabled={sync.busy}>
              {sync.busy ? 'Syncing…' : 'Sync now'}
              <span class="visually-hidden"> with {name}</span>
            </button>
            <button type="button" class="button" onClick={() => setConfirming(true)}>
              Remove<span class="visually-hidden"> {name}</span>
            </button>
          </span>
        </div>
        <dl class="facts upstream-facts">
          <div class="wide">
            <dt>Server</dt>
            <dd>{u.url}</dd>
          </div>
          <div>
            <dt>Last run</dt>
            <dd>{u.lastRunAt ? <TimeAgo iso={u.lastRunAt} /> : 'not yet'}</dd>
          </div>
          <div>
            <dt>Next run</dt>
            <dd>{u.nextRunAt ? <TimeAgo iso={u.nextRunAt} /> : u.lastRunAt ? 'only when asked' : 'soon, if this server runs upstreams on its own'}</dd>
          </div>
          <div>
            <dt>Pending changes</dt>
            <dd>{u.pending === undefined ? 'counted after its first run' : u.pending === 0 ? 'none' : `${u.pending} to send`}</dd>
          </div>
          <div class="wide">
            <dt>Last error</dt>
            <dd>
              {u.lastError ?? 'none'}
              {u.failures > 1 && <span class="hint"> ({u.failures} failed runs in a row; the server waits longer after each)</span>}
            </dd>
          </div>
          <div class="wide">
            <dt>Collections</dt>
            <dd>
              <ul class="upstream-collections">
                {u.collections.map((c) => (
                  <li key={`${c.url} ${c.collectionId}`}>
                    <span class="collection-name">{c.collectionName}</span> ({kindNames[c.kind]}) from <span class="upstream-url">{c.url}</span>
                  </li>
                ))}
              </ul>
            </dd>
          </div>
        </dl>
      </article>
      {confirming && (
        <ConfirmDialog
          title={`Remove ${name}?`}
          message={`Syncpoint stops syncing with ${u.url} and forgets its password${
            (u.pending ?? 0) > 0 ? `; the ${u.pending} changes waiting for it are not sent` : ''
          }. Your collections and their items stay here, and nothing is deleted at the other server.`}
          confirmLabel="Remove upstream"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => {
            remove.clearError();
            setConfirming(false);
          }}
          onConfirm={() =>
            void remove.run(async () => {
              await api('DELETE', `/api/v1/upstreams/${encodeURIComponent(u.id)}`);
              setConfirming(false);
              await props.onRemoved();
            })
          }
        />
      )}
    </li>
  );
}

function StateBadge({ upstream: u }: { upstream: UpstreamInfo }) {
  const [label, className] = u.state === 'new' ? ['Not run yet', 'badge'] : u.state === 'ok' ? ['OK', 'badge ok-badge'] : ['Error', 'badge error-badge'];
  return (
    <span class={className}>
      <span class="visually-hidden">State: </span>
      {label}
    </span>
  );
}

function AddForm(props: { onAdded: () => Promise<void> }) {
  const collections = useCollections();
  const [url, setUrl] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [collection, setCollection] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const headingId = useId();

  const submit = (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setDone(null);
    void run(async () => {
      if (!url.trim() || !username || !password) throw new Error('Give the server’s URL, your user name there and your password there.');
      const added = await api<UpstreamInfo>('POST', '/api/v1/upstreams', { url: url.trim(), username, password, ...(collection ? { collection } : {}) });
      const mapped = added.collections.length === 1 ? '1 collection' : `${added.collections.length} collections`;
      setDone(`Added ${nameOf(added)} with ${mapped}. It syncs within a few minutes, or now with its Sync now button.`);
      setUrl('');
      setUsername('');
      setPassword('');
      setCollection('');
      await props.onAdded();
    });
  };

  return (
    <form class="editor add-upstream" aria-labelledby={headingId} onSubmit={submit} noValidate>
      <h2 id={headingId}>Add an upstream</h2>
      <p class="hint">Syncpoint finds the address books and calendars of the account there, and gives each a collection of its own unless you pick one.</p>
      <div class="grid">
        <TextField label="Server URL" type="url" value={url} onValue={setUrl} required autoComplete="url" placeholder="https://dav.example.com/" />
        <TextField label="User name" value={username} onValue={setUsername} required autoComplete="off" hint="Your user name at that server." />
        <TextField label="Password" type="password" value={password} onValue={setPassword} required autoComplete="off" hint="Kept encrypted; an app password of that server is best." />
        <SelectField
          label="Collection"
          value={collection}
          onValue={setCollection}
          hint="Optional: feed everything there that fits into one of your collections."
          options={[{ value: '', label: 'A new one for each' }, ...collections.map((c) => ({ value: c.name, label: c.displayName === c.name ? c.name : `${c.displayName} (${c.name})` }))]}
        />
      </div>
      <StatusMessage error={error} message={busy ? 'Looking for address books and calendars…' : done} />
      <div class="actions">
        <button type="submit" class="button primary" aria-disabled={busy}>
          Add upstream
        </button>
      </div>
    </form>
  );
}
