import { useId, useMemo, useState } from 'preact/hooks';
import type { Collection } from '../../../src/protocol/collections.js';
import type { EventFields } from '../lib/ical-event.js';
import { ConfirmDialog, Dialog } from '../ui/dialog.js';
import { SelectField, TextField } from '../ui/field.js';
import { SaveActions } from '../ui/save-actions.js';
import { useAction } from '../ui/use-action.js';
import { fieldsOf, formOf, formProblem, repeatChanged, withAllDay, withStart, type EventForm } from './editor-form.js';
import { RepeatFields } from './repeat-fields.js';
import { ScopeDialog, type Scope } from './scope-dialog.js';

export interface EditorProps {
  initial: EventFields;
  calendars: Collection[];
  collectionId: string;
  /** One occurrence of a series: saving and deleting ask "this event" or "all events". */
  series: boolean;
  /** An occurrence without its series (an invitation to one date): it cannot repeat. */
  single: boolean;
  customRule: boolean;
  /** scope is null when nothing was asked: a lone event, or a change only the whole series can take. */
  onSave: (fields: EventFields, collectionId: string, scope: Scope | null) => Promise<void>;
  /** Absent for a new event. */
  onDelete?: (scope: Scope | null) => Promise<void>;
  onClose: () => void;
}

type Asking = { action: 'save'; fields: EventFields; collectionId: string } | { action: 'delete' } | null;

export function EventEditor(props: EditorProps) {
  const initialForm = useMemo(() => formOf(props.initial), [props.initial]);
  const [form, setForm] = useState(initialForm);
  const [collectionId, setCollectionId] = useState(props.collectionId);
  const [asking, setAsking] = useState<Asking>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const action = useAction();
  const id = useId();
  const change = (patch: Partial<EventForm>) => setForm((f) => ({ ...f, ...patch }));

  const finish = async (work: () => Promise<void>) => {
    setAsking(null);
    if (await action.run(work)) props.onClose();
  };

  const save = (e: Event) => {
    e.preventDefault();
    const why = formProblem(form);
    setProblem(why);
    if (why || action.busy) return;
    const fields = fieldsOf(form, initialForm, props.initial);
    // Only the series can change its rule or move to another calendar, so there is nothing to ask.
    const wholeSeries = repeatChanged(form, initialForm) || collectionId !== props.collectionId;
    if (props.series && !wholeSeries) setAsking({ action: 'save', fields, collectionId });
    else void finish(() => props.onSave(fields, collectionId, props.series ? 'all' : null));
  };

  const choose = (scope: Scope | null) => {
    const onDelete = props.onDelete;
    if (asking?.action === 'save') void finish(() => props.onSave(asking.fields, asking.collectionId, scope));
    else if (asking?.action === 'delete' && onDelete) void finish(() => onDelete(scope));
  };

  const inputType = form.allDay ? 'date' : 'datetime-local';
  return (
    <Dialog title="Event" onClose={props.onClose}>
      <form class="event-editor" onSubmit={save} noValidate>
        <TextField label="Title" value={form.summary} onValue={(summary) => change({ summary })} autoFocus />
        <SelectField
          label="Calendar"
          value={collectionId}
          onValue={setCollectionId}
          options={props.calendars.map((c) => ({ value: c.id, label: c.displayName || c.name }))}
        />
        <label class="check">
          <input type="checkbox" checked={form.allDay} onChange={(e) => setForm((f) => withAllDay(f, e.currentTarget.checked))} />
          All day
        </label>
        <div class="event-times">
          <div class="field">
            <label for={`${id}-start`}>Start</label>
            <input
              id={`${id}-start`}
              type={inputType}
              value={form.start}
              required
              onInput={(e) => e.currentTarget.value && setForm((f) => withStart(f, e.currentTarget.value))}
            />
          </div>
          <div class="field">
            <label for={`${id}-end`}>End</label>
            <input
              id={`${id}-end`}
              type={inputType}
              value={form.end}
              min={form.start}
              required
              onInput={(e) => change({ end: e.currentTarget.value })}
            />
          </div>
        </div>
        <TextField label="Location" value={form.location} onValue={(location) => change({ location })} />
        <TextField label="Description" value={form.description} onValue={(description) => change({ description })} multiline />
        {!props.single && <RepeatFields form={form} onChange={change} customRule={props.customRule && !repeatChanged(form, initialForm)} />}
        <SaveActions busy={action.busy} error={problem ?? action.error} onCancel={props.onClose}>
          {props.onDelete && (
            <button type="button" class="button danger delete" onClick={() => setAsking({ action: 'delete' })} disabled={action.busy}>
              Delete
            </button>
          )}
        </SaveActions>
      </form>
      {asking && props.series && <ScopeDialog action={asking.action} summary={form.summary} onChoose={choose} onCancel={() => setAsking(null)} />}
      {asking?.action === 'delete' && !props.series && (
        <ConfirmDialog
          title="Delete event"
          message={`Delete “${form.summary || '(No title)'}”?`}
          confirmLabel="Delete"
          onConfirm={() => choose(null)}
          onCancel={() => setAsking(null)}
        />
      )}
    </Dialog>
  );
}
