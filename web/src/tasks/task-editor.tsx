import type { Ref } from 'preact';
import { useId, useState } from 'preact/hooks';
import { saveItem, type Entry } from '../data/account.js';
import { newUid } from '../data/ids.js';
import { emptyTask, parseTask, serializeTask, type Task } from '../lib/todo.js';
import { SelectField, TextField } from '../ui/field.js';
import { SaveActions } from '../ui/save-actions.js';
import { useAction } from '../ui/use-action.js';

/** RFC 5545 priorities: 1 is highest, 9 lowest; clients commonly offer these three. */
const priorities = [
  { value: '0', label: 'None' },
  { value: '1', label: 'High' },
  { value: '5', label: 'Medium' },
  { value: '9', label: 'Low' },
];

export function TaskEditor(props: {
  collectionId: string;
  entry?: Entry;
  /** The form's heading, which gets focus when the editor opens. */
  headingRef?: Ref<HTMLHeadingElement>;
  /** Closes the editor; `id` is the task's (a new one's once saved), null for a new one not saved. */
  onDone: (id: string | null) => void;
}) {
  const [original] = useState(props.entry?.data);
  const [task, setTask] = useState<Task>(() => (original ? parseTask(original) : emptyTask(newUid())));
  const [date, setDate] = useState(task.due.slice(0, 10));
  const [time, setTime] = useState(task.due.slice(11, 16));
  const { busy, error, run } = useAction();
  const headingId = useId();
  const set = (patch: Partial<Task>) => setTask((t) => ({ ...t, ...patch }));
  const priorityOptions = priorities.some((p) => p.value === String(task.priority))
    ? priorities
    : [...priorities, { value: String(task.priority), label: `Priority ${task.priority}` }];

  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      if (!task.summary.trim()) throw new Error('Give the task a summary.');
      if (time && !date) throw new Error('A due time needs a due date.');
      const due = date ? (time ? `${date}T${time}` : date) : '';
      const id = await saveItem(props.collectionId, props.entry?.id, serializeTask({ ...task, due }, original, new Date()), original);
      props.onDone(id);
    });
  };

  return (
    <form class="editor" aria-labelledby={headingId} onSubmit={submit}>
      <h2 id={headingId} ref={props.headingRef} tabIndex={-1}>
        {props.entry ? 'Edit task' : 'New task'}
      </h2>
      <TextField label="Summary" value={task.summary} onValue={(summary) => set({ summary })} required autoComplete="off" />
      <div class="grid">
        <TextField label="Due date" type="date" value={date} onValue={setDate} />
        <TextField label="Due time" type="time" value={time} onValue={setTime} hint="Optional: without it the task is due that day." />
        <SelectField label="Priority" value={String(task.priority)} onValue={(p) => set({ priority: Number(p) })} options={priorityOptions} />
      </div>
      <TextField label="Notes" multiline value={task.description} onValue={(description) => set({ description })} />
      <SaveActions busy={busy} error={error} onCancel={() => props.onDone(props.entry?.id ?? null)} />
    </form>
  );
}
