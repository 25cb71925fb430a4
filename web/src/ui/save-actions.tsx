import type { ComponentChildren } from 'preact';
import { StatusMessage } from './status.js';

/** The foot of every editor form: its status, Save (the form's submit) and Cancel, then any further actions. */
export function SaveActions(props: { busy: boolean; error: string | null; onCancel: () => void; children?: ComponentChildren }) {
  return (
    <>
      <StatusMessage error={props.error} message={props.busy ? 'Saving…' : null} />
      <div class="actions">
        <button type="submit" class="button primary" disabled={props.busy}>
          Save
        </button>
        <button type="button" class="button" onClick={props.onCancel}>
          Cancel
        </button>
        {props.children}
      </div>
    </>
  );
}
