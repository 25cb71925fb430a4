import type { Ref } from 'preact';
import { useId, useMemo, useState } from 'preact/hooks';
import { usePanelFocus } from '../ui/panel-focus.js';
import { deleteItem, saveItem, useCollections, useItems, useSyncStatus, type Entry } from '../data/account.js';
import { newUid } from '../data/ids.js';
import { memoByText } from '../lib/parse-cache.js';
import { chooseCollection, CollectionPicker } from '../ui/collection-picker.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { TextField } from '../ui/field.js';
import { SaveActions } from '../ui/save-actions.js';
import { useAction } from '../ui/use-action.js';
import { parseNote, serializeNote, type Note } from './journal.js';
import './notes.css';

interface Row {
  entry: Entry;
  note: Note;
}

/** Each note's text is parsed once, not on every render of the list. */
const readNote = memoByText(parseNote);

function rowsOf(entries: Entry[]): Row[] {
  return entries
    .flatMap((entry) => {
      try {
        return [{ entry, note: readNote(entry.data) }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.note.modified.localeCompare(a.note.modified) || a.note.summary.localeCompare(b.note.summary));
}

export function NotesPage() {
  const collections = useCollections();
  const [chosen, setChosen] = useState<string | null>(null);
  const collection = chooseCollection(collections, 'notes', chosen);
  const entries = useItems(collection?.id ?? '');
  const rows = useMemo(() => rowsOf(entries), [entries]);
  const { loaded } = useSyncStatus();
  const [editing, setEditing] = useState<string | 'new' | null>(null);
  const focus = usePanelFocus(editing ? { key: editing, entryId: editing === 'new' ? null : editing } : null);

  if (!collection) {
    return (
      <section class="page">
        <h1>Notes</h1>
        <p>{loaded ? 'There is no notebook yet. Create one on the Collections page.' : 'Loading…'}</p>
      </section>
    );
  }
  const edited = editing && editing !== 'new' ? rows.find((r) => r.entry.id === editing) : undefined;

  return (
    <section class={`page master-detail ${editing ? 'has-panel' : ''}`} aria-labelledby="notes-heading">
      <div class="master">
        <div class="page-head">
          <h1 id="notes-heading" ref={focus.listHeading} tabIndex={-1}>
            Notes
          </h1>
          <button type="button" class="button primary" onClick={() => setEditing('new')}>
            New note
          </button>
        </div>
        <CollectionPicker label="Notebook" collections={collections} kind="notes" value={collection.id} onChange={(id) => (setChosen(id), setEditing(null))} />
        <p class="muted" role="status">
          {!loaded && rows.length === 0 ? 'Loading…' : `${rows.length} notes`}
        </p>
        <ul class="item-list" aria-label="Notes" ref={focus.list}>
          {rows.map((r) => (
            <li key={r.entry.id}>
              <button
                type="button"
                class="item"
                data-entry-id={r.entry.id}
                aria-current={r.entry.id === editing ? 'true' : undefined}
                onClick={() => setEditing(r.entry.id)}
              >
                <span class="item-text">
                  <span class="item-title">{r.note.summary || '(untitled)'}</span>
                  <span class="item-sub">{r.note.description.slice(0, 120)}</span>
                </span>
                {r.entry.rejected ? <span class="badge error-badge">Refused</span> : r.entry.pending && <span class="badge">Not synced</span>}
              </button>
            </li>
          ))}
        </ul>
      </div>
      {editing && (
        <div class="panel">
          <NoteEditor
            key={editing}
            headingRef={focus.panelHeading}
            collectionId={collection.id}
            {...(edited ? { entry: edited.entry } : {})}
            onDone={(id) => {
              focus.returnTo(id);
              setEditing(null);
            }}
          />
        </div>
      )}
    </section>
  );
}

function NoteEditor(props: {
  collectionId: string;
  entry?: Entry;
  /** The form's heading, which gets focus when the editor opens. */
  headingRef?: Ref<HTMLHeadingElement>;
  /** Closes the editor; `id` is the note's (a new one's once saved), null for a new one not saved or a deleted one. */
  onDone: (id: string | null) => void;
}) {
  const [original] = useState(props.entry?.data);
  const [note, setNote] = useState(() => (original ? parseNote(original) : { summary: '', description: '', modified: '' }));
  const [confirming, setConfirming] = useState(false);
  const save = useAction();
  const remove = useAction();
  const headingId = useId();

  const submit = (e: Event) => {
    e.preventDefault();
    void save.run(async () => {
      if (!note.summary.trim() && !note.description.trim()) throw new Error('Write a title or some text first.');
      const id = await saveItem(props.collectionId, props.entry?.id, serializeNote(note, original, newUid(), new Date()), original);
      props.onDone(id);
    });
  };

  return (
    <form class="editor" aria-labelledby={headingId} onSubmit={submit}>
      <button type="button" class="button quiet back" onClick={() => props.onDone(props.entry?.id ?? null)}>
        ← All notes
      </button>
      <h2 id={headingId} ref={props.headingRef} tabIndex={-1}>
        {props.entry ? 'Edit note' : 'New note'}
      </h2>
      {props.entry?.rejected && <p class="error">The server refused this version: {props.entry.rejected}</p>}
      <TextField label="Title" value={note.summary} onValue={(summary) => setNote((n) => ({ ...n, summary }))} autoComplete="off" />
      <TextField label="Text" multiline value={note.description} onValue={(description) => setNote((n) => ({ ...n, description }))} class="note-text" />
      <SaveActions busy={save.busy} error={save.error} onCancel={() => props.onDone(props.entry?.id ?? null)}>
        {props.entry && (
          <button type="button" class="button danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
      </SaveActions>
      {confirming && props.entry && (
        <ConfirmDialog
          title="Delete note"
          message={`Delete “${note.summary || 'this note'}”? It is removed from every device that syncs this notebook.`}
          confirmLabel="Delete"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setConfirming(false)}
          onConfirm={() =>
            void remove.run(async () => {
              await deleteItem(props.collectionId, (props.entry as Entry).id);
              props.onDone(null);
            })
          }
        />
      )}
    </form>
  );
}
