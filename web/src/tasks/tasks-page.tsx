import { useMemo, useState } from 'preact/hooks';
import { usePanelFocus } from '../ui/panel-focus.js';
import { deleteItem, saveItem, useCollections, useItems, useSyncStatus, type Entry } from '../data/account.js';
import { memoByText } from '../lib/parse-cache.js';
import { compareTasks, parseTask, setTaskCompleted, type Task } from '../lib/todo.js';
import { chooseCollection, CollectionPicker } from '../ui/collection-picker.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';
import { TaskEditor } from './task-editor.js';
import './tasks.css';

interface Row {
  entry: Entry;
  task: Task;
}

/** Each task's text is parsed once, not on every render of the list. */
const readTask = memoByText(parseTask);

function rowsOf(entries: Entry[]): Row[] {
  return entries
    .flatMap((entry) => {
      try {
        return [{ entry, task: readTask(entry.data) }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => compareTasks(a.task, b.task));
}

/** "12 May 2024" or "12 May 2024, 14:30" in the reader's locale. */
function formatDue(due: string): string {
  const [y, m, d, hh, mm] = due.split(/[-T:]/).map(Number);
  const date = new Date(y as number, (m as number) - 1, d, hh ?? 0, mm ?? 0);
  return due.includes('T') ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : date.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

function isOverdue(task: Task, now: Date): boolean {
  if (task.completed || !task.due) return false;
  const pad = (n: number) => String(n).padStart(2, '0');
  const today = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return task.due.includes('T') ? task.due < `${today}T${pad(now.getHours())}:${pad(now.getMinutes())}` : task.due < today;
}

const priorityNames: Record<number, string> = { 1: 'High', 2: 'High', 3: 'High', 4: 'Medium', 5: 'Medium', 6: 'Medium', 7: 'Low', 8: 'Low', 9: 'Low' };

export function TasksPage() {
  const collections = useCollections();
  const [chosen, setChosen] = useState<string | null>(null);
  const collection = chooseCollection(collections, 'tasks', chosen);
  const entries = useItems(collection?.id ?? '');
  const rows = useMemo(() => rowsOf(entries), [entries]);
  const { loaded } = useSyncStatus();
  const [editing, setEditing] = useState<string | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Row | null>(null);
  const action = useAction();
  const remove = useAction();
  const focus = usePanelFocus(editing ? { key: editing, entryId: editing === 'new' ? null : editing } : null);
  const now = new Date();

  if (!collection) {
    return (
      <section class="page">
        <h1>Tasks</h1>
        <p>{loaded ? 'There is no task list yet. Create one on the Collections page.' : 'Loading…'}</p>
      </section>
    );
  }

  const toggle = (row: Row) =>
    void action.run(async () => {
      await saveItem(row.entry.collectionId, row.entry.id, setTaskCompleted(row.entry.data, !row.task.completed, new Date()), row.entry.data);
    });
  const editedEntry = editing && editing !== 'new' ? rows.find((r) => r.entry.id === editing)?.entry : undefined;
  const open = rows.filter((r) => !r.task.completed).length;

  return (
    <section class="page tasks-page" aria-labelledby="tasks-heading">
      <div class="page-head">
        <h1 id="tasks-heading" ref={focus.listHeading} tabIndex={-1}>
          Tasks
        </h1>
        <button type="button" class="button primary" onClick={() => setEditing('new')}>
          New task
        </button>
      </div>
      <CollectionPicker label="Task list" collections={collections} kind="tasks" value={collection.id} onChange={(id) => (setChosen(id), setEditing(null))} />
      {editing && (
        <TaskEditor
          key={editing}
          headingRef={focus.panelHeading}
          collectionId={collection.id}
          {...(editedEntry ? { entry: editedEntry } : {})}
          onDone={(id) => {
            focus.returnTo(id);
            setEditing(null);
          }}
        />
      )}
      <StatusMessage error={action.error} message={loaded || rows.length > 0 ? `${open} open, ${rows.length - open} done` : 'Loading…'} />
      <ul class="task-list" aria-label="Tasks" ref={focus.list}>
        {rows.map((r) => {
          const t = r.task;
          const name = t.summary || '(no summary)';
          return (
            <li key={r.entry.id} class={t.completed ? 'done' : ''}>
              <label class="check">
                <input type="checkbox" checked={t.completed} onChange={() => toggle(r)} />
                <span class="task-title">{name}</span>
              </label>
              <div class="task-meta">
                {t.due && <span class={isOverdue(t, now) ? 'overdue' : ''}>{`${isOverdue(t, now) ? 'Overdue: ' : 'Due '}${formatDue(t.due)}`}</span>}
                {t.priority > 0 && <span class="priority">{priorityNames[t.priority]} priority</span>}
                {r.entry.rejected ? <span class="badge error-badge">Refused: {r.entry.rejected}</span> : r.entry.pending && <span class="badge">Not synced</span>}
              </div>
              {t.description && <p class="task-notes">{t.description}</p>}
              <div class="row-actions">
                <button type="button" class="button quiet" aria-label={`Edit ${name}`} data-entry-id={r.entry.id} onClick={() => setEditing(r.entry.id)}>
                  Edit
                </button>
                <button type="button" class="button quiet" aria-label={`Delete ${name}`} onClick={() => setDeleting(r)}>
                  Delete
                </button>
              </div>
            </li>
          );
        })}
      </ul>
      {loaded && rows.length === 0 && <p class="muted">No tasks in this list.</p>}
      {deleting && (
        <ConfirmDialog
          title="Delete task"
          message={`Delete “${deleting.task.summary}”? It is removed from every device that syncs this list.`}
          confirmLabel="Delete"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setDeleting(null)}
          onConfirm={() =>
            void remove.run(async () => {
              await deleteItem(deleting.entry.collectionId, deleting.entry.id);
              // Its Delete button, where focus was before the dialog, is gone with it.
              focus.returnTo(deleting.entry.id);
              if (editing === deleting.entry.id) setEditing(null);
              setDeleting(null);
            })
          }
        />
      )}
    </section>
  );
}
