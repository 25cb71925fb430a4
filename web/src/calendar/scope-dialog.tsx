import { Dialog } from '../ui/dialog.js';

export type Scope = 'this' | 'all';

/** Asked before a change to one occurrence of a repeating event: that occurrence, or the whole series? */
export function ScopeDialog(props: { action: 'save' | 'delete'; summary: string; onChoose: (scope: Scope) => void; onCancel: () => void }) {
  const verb = props.action === 'save' ? 'Change' : 'Delete';
  return (
    <Dialog title="Repeating event" onClose={props.onCancel}>
      <p>
        “{props.summary || '(No title)'}” repeats. {verb} only this event, or all events in the series?
      </p>
      <div class="actions">
        <button type="button" class={`button ${props.action === 'delete' ? 'danger' : 'primary'}`} onClick={() => props.onChoose('this')} autoFocus>
          This event
        </button>
        <button type="button" class={`button ${props.action === 'delete' ? 'danger' : ''}`} onClick={() => props.onChoose('all')}>
          All events
        </button>
        <button type="button" class="button quiet" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
