import { useId, useState } from 'preact/hooks';
import type { Collection, CollectionKind } from '../../../src/protocol/collections.js';
import { api } from '../api.js';
import { refreshCollections, useCollections, useItems, useSyncStatus } from '../data/account.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { SelectField, TextField } from '../ui/field.js';
import { SaveActions } from '../ui/save-actions.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';
import { slugFor } from './slug.js';
import './collections.css';

const kinds: ReadonlyArray<{ kind: CollectionKind; one: string; many: string }> = [
  { kind: 'contacts', one: 'Address book', many: 'Address books' },
  { kind: 'events', one: 'Calendar', many: 'Calendars' },
  { kind: 'tasks', one: 'Task list', many: 'Task lists' },
  { kind: 'notes', one: 'Notebook', many: 'Notebooks' },
];

const defaultColor = '#3465a4';
/** <input type=color> only takes #rrggbb; a colour with alpha is shown without it. */
const inputColor = (color: string | undefined) => (color && /^#[0-9a-f]{6}/i.test(color) ? color.slice(0, 7).toLowerCase() : defaultColor);

export function CollectionsPage() {
  const collections = useCollections();
  const { loaded } = useSyncStatus();
  return (
    <section class="page collections-page" aria-labelledby="collections-heading">
      <h1 id="collections-heading">Collections</h1>
      <CreateForm collections={collections} />
      {!loaded && collections.length === 0 && <p role="status">Loading…</p>}
      {kinds.map(({ kind, many }) => {
        const ofKind = collections.filter((c) => c.kind === kind);
        return (
          <section key={kind} aria-labelledby={`kind-${kind}`}>
            <h2 id={`kind-${kind}`}>{many}</h2>
            {ofKind.length === 0 ? (
              <p class="muted">None yet.</p>
            ) : (
              <ul class="collection-list" aria-label={many}>
                {ofKind.map((c) => (
                  <CollectionRow key={c.id} collection={c} />
                ))}
              </ul>
            )}
          </section>
        );
      })}
    </section>
  );
}

function CreateForm(props: { collections: Collection[] }) {
  const [displayName, setDisplayName] = useState('');
  const [kind, setKind] = useState<CollectionKind>('events');
  const [color, setColor] = useState(defaultColor);
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const headingId = useId();
  const colorId = useId();
  const name = slugFor(displayName, kind, new Set(props.collections.map((c) => c.name)));

  const submit = (e: Event) => {
    e.preventDefault();
    setDone(null);
    void run(async () => {
      if (!displayName.trim()) throw new Error('Give the collection a name.');
      await api('POST', '/api/v1/collections', { name, kind, displayName: displayName.trim(), color });
      await refreshCollections();
      setDone(`Created “${displayName.trim()}”.`);
      setDisplayName('');
    });
  };

  return (
    <form class="editor create-collection" aria-labelledby={headingId} onSubmit={submit}>
      <h2 id={headingId}>New collection</h2>
      <div class="grid">
        <TextField label="Display name" value={displayName} onValue={setDisplayName} hint={displayName.trim() ? `Its short name will be “${name}”.` : undefined} autoComplete="off" />
        <SelectField label="Kind" value={kind} onValue={setKind} options={kinds.map((k) => ({ value: k.kind, label: k.one }))} />
        <div class="field">
          <label for={colorId}>Colour</label>
          <input id={colorId} type="color" value={color} onInput={(e) => setColor((e.currentTarget as HTMLInputElement).value)} />
        </div>
      </div>
      <StatusMessage error={error} message={busy ? 'Creating…' : done} />
      <div class="actions">
        <button type="submit" class="button primary" disabled={busy}>
          Create collection
        </button>
      </div>
    </form>
  );
}

function CollectionRow(props: { collection: Collection }) {
  const c = props.collection;
  const items = useItems(c.id).length;
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const remove = useAction();
  return (
    <li class="collection">
      <div class="collection-summary">
        <span class="swatch" style={{ background: c.color ?? 'transparent' }} aria-hidden="true" />
        <span class="collection-text">
          <span class="item-title">{c.displayName}</span>
          <span class="item-sub">
            {c.name} · {items === 1 ? '1 item' : `${items} items`}
          </span>
        </span>
        <span class="row-actions">
          <button type="button" class="button quiet" aria-label={`Edit ${c.displayName}`} aria-expanded={editing} onClick={() => setEditing(!editing)}>
            Edit
          </button>
          <button type="button" class="button quiet" aria-label={`Delete ${c.displayName}`} onClick={() => setConfirming(true)}>
            Delete
          </button>
        </span>
      </div>
      {editing && <EditForm collection={c} onDone={() => setEditing(false)} />}
      {confirming && (
        <ConfirmDialog
          title="Delete collection"
          message={`Delete “${c.displayName}” and its ${items === 1 ? '1 item' : `${items} items`}? They are removed from every device, and this cannot be undone.`}
          confirmLabel="Delete collection"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setConfirming(false)}
          onConfirm={() =>
            void remove.run(async () => {
              await api('DELETE', `/api/v1/collections/${encodeURIComponent(c.id)}`);
              setConfirming(false);
              await refreshCollections();
            })
          }
        />
      )}
    </li>
  );
}

function EditForm(props: { collection: Collection; onDone: () => void }) {
  const c = props.collection;
  const [displayName, setDisplayName] = useState(c.displayName);
  const [color, setColor] = useState(inputColor(c.color));
  const { busy, error, run } = useAction();
  const colorId = useId();

  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      if (!displayName.trim()) throw new Error('Give the collection a name.');
      const patch: { displayName?: string; color?: string } = {};
      if (displayName.trim() !== c.displayName) patch.displayName = displayName.trim();
      // Unchanged, a colour with alpha keeps it.
      if (color !== inputColor(c.color)) patch.color = color;
      if (Object.keys(patch).length > 0) {
        await api('PATCH', `/api/v1/collections/${encodeURIComponent(c.id)}`, patch);
        await refreshCollections();
      }
      props.onDone();
    });
  };

  return (
    <form class="editor inline-editor" aria-label={`Edit ${c.displayName}`} onSubmit={submit}>
      <div class="grid">
        <TextField label="Display name" value={displayName} onValue={setDisplayName} autoFocus autoComplete="off" />
        <div class="field">
          <label for={colorId}>Colour</label>
          <input id={colorId} type="color" value={color} onInput={(e) => setColor((e.currentTarget as HTMLInputElement).value)} />
        </div>
      </div>
      <SaveActions busy={busy} error={error} onCancel={props.onDone} />
    </form>
  );
}
