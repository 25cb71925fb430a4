import type { Ref } from 'preact';
import { useId, useState } from 'preact/hooks';
import { RequestRefusedError } from '../../../src/sdk/transport.js';
import { sendMail } from '../data/account.js';
import { newId } from '../data/ids.js';
import { TextField } from '../ui/field.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';
import { sendRequest, type Draft } from './compose.js';
import { describeError } from './mail-errors.js';

/**
 * Writing a message and sending it (docs/protocol.md §10.7). The draft keeps one client id until the
 * server answers it, so sending again after a failure (a timeout, a lost connection) never sends twice.
 */
export function Composer(props: { initial: Draft; headingRef?: Ref<HTMLHeadingElement>; onDone: (sent: string | null) => void }) {
  const [draft, setDraft] = useState(props.initial);
  const [clientId, setClientId] = useState(() => `web-${newId()}`);
  const send = useAction();
  const headingId = useId();
  const filesId = useId();
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));

  const submit = (e: Event) => {
    e.preventDefault();
    void send.run(async () => {
      try {
        const sent = await sendMail(await sendRequest(draft, clientId));
        const refused = sent.rejected.map((r) => `${r.address} (${r.reply})`).join(', ');
        props.onDone(refused ? `Sent, but the mail server refused ${refused}.` : 'Sent.');
      } catch (err) {
        // Its outcome is unknown: it may have gone out. Sending it again is then a new message, on purpose.
        if (err instanceof RequestRefusedError && err.details.sendState === 'unknown') setClientId(`web-${newId()}`);
        throw new Error(`Not sent: ${describeError(err)}`);
      }
    });
  };

  return (
    <form class="editor composer" aria-labelledby={headingId} onSubmit={submit}>
      <button type="button" class="button quiet back" onClick={() => props.onDone(null)}>
        ← Messages
      </button>
      <h2 id={headingId} ref={props.headingRef} tabIndex={-1}>
        {draft.inReplyTo ? 'Reply' : 'New message'}
      </h2>
      <TextField label="To" value={draft.to} onValue={(to) => set({ to })} autoComplete="email" hint="Addresses separated by commas" />
      <TextField label="Cc" value={draft.cc} onValue={(cc) => set({ cc })} autoComplete="email" />
      <TextField label="Subject" value={draft.subject} onValue={(subject) => set({ subject })} autoComplete="off" />
      <TextField label="Message" multiline value={draft.text} onValue={(text) => set({ text })} class="compose-text" />
      <div class="field">
        <label for={filesId}>Attachments</label>
        <input
          id={filesId}
          type="file"
          multiple
          onChange={(e) => {
            const input = e.currentTarget as HTMLInputElement;
            set({ files: [...draft.files, ...Array.from(input.files ?? [])] });
            input.value = '';
          }}
        />
      </div>
      {draft.files.length > 0 && (
        <ul class="compose-files" aria-label="Files to send">
          {draft.files.map((f, i) => (
            <li key={`${i}-${f.name}`}>
              {f.name}{' '}
              <button type="button" class="button quiet" aria-label={`Remove ${f.name}`} onClick={() => set({ files: draft.files.filter((_, j) => j !== i) })}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <StatusMessage error={send.error} message={send.busy ? 'Sending…' : null} />
      <div class="actions">
        <button type="submit" class="button primary" disabled={send.busy}>
          Send
        </button>
        <button type="button" class="button" onClick={() => props.onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
