import type { Ref } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { Collection } from '../../../src/protocol/collections.js';
import { deleteItem, moveMail, saveItem } from '../data/account.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { SelectField } from '../ui/field.js';
import { StatusMessage } from '../ui/status.js';
import { TimeAgo } from '../ui/time-ago.js';
import { useAction } from '../ui/use-action.js';
import { describeError } from './mail-errors.js';
import { MessageBody } from './message-body.js';
import { addressText, flagged, folderLabel, people, seen, subjectOf, withFlag, type MessageRow, type Thread } from './message.js';

/**
 * A thread in the reading pane: its messages oldest first, one of them open (the newest unless another
 * was chosen). Opening a message marks it read, as mail programs do; its actions are below its text.
 */
export function ThreadView(props: {
  thread: Thread;
  collectionId: string;
  folders: Collection[];
  headingRef?: Ref<HTMLHeadingElement>;
  onReply: (row: MessageRow) => void;
  onClose: () => void;
}) {
  const { thread } = props;
  const [openId, setOpenId] = useState(thread.latest.entry.id);
  const open = thread.messages.find((m) => m.entry.id === openId) ?? thread.latest;
  const headingId = useId();
  const markRead = useAction();
  const markedOnce = useRef(new Set<string>());

  useEffect(() => {
    // Once per opening: "Mark unread" afterwards must stay unread.
    if (markedOnce.current.has(open.entry.id) || open.item.flags.includes(seen)) return;
    markedOnce.current.add(open.entry.id);
    void markRead.run(async () => void (await saveItem(props.collectionId, open.entry.id, withFlag(open.item, seen, true))));
  }, [open.entry.id]);

  return (
    <article class="thread" aria-labelledby={headingId}>
      <button type="button" class="button quiet back" onClick={props.onClose}>
        ← Messages
      </button>
      <h2 id={headingId} ref={props.headingRef} tabIndex={-1}>
        {subjectOf(thread.latest.item)}
      </h2>
      {markRead.error && <p class="error">Could not mark it read: {markRead.error}</p>}
      <ol class="thread-messages" aria-label="Messages in this thread">
        {thread.messages.map((m) =>
          m.entry.id === open.entry.id ? (
            <li key={m.entry.id} class="open">
              <OpenMessage row={m} {...props} />
            </li>
          ) : (
            <li key={m.entry.id}>
              <button type="button" class="item message-summary" onClick={() => setOpenId(m.entry.id)} aria-label={`Open the message from ${people(m.item.from) || 'unknown sender'}`}>
                <span class="item-text">
                  <span class="item-title">{people(m.item.from) || '(unknown sender)'}</span>
                  <span class="item-sub">{m.item.preview}</span>
                </span>
                <TimeAgo iso={m.item.receivedAt} />
              </button>
            </li>
          ),
        )}
      </ol>
    </article>
  );
}

function OpenMessage(props: { row: MessageRow; collectionId: string; folders: Collection[]; onReply: (row: MessageRow) => void; onClose: () => void }) {
  const { entry, item } = props.row;
  const others = props.folders.filter((f) => f.id !== props.collectionId);
  const [moveTo, setMoveTo] = useState(others[0]?.id ?? '');
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const remove = useAction();
  const isSeen = item.flags.includes(seen);
  const isFlagged = item.flags.includes(flagged);
  const setFlag = (flag: string, on: boolean) => void action.run(async () => void (await saveItem(props.collectionId, entry.id, withFlag(item, flag, on))));
  const line = (label: string, list: typeof item.to) =>
    list.length > 0 && (
      <div>
        <dt>{label}</dt>
        <dd>{list.map(addressText).join(', ')}</dd>
      </div>
    );

  return (
    <section class="message" aria-label={`Message from ${people(item.from) || 'unknown sender'}`}>
      <dl class="message-head">
        {line('From', item.from)}
        {line('To', item.to)}
        {line('Cc', item.cc)}
        <div>
          <dt>Received</dt>
          <dd>
            <TimeAgo iso={item.receivedAt} />
          </dd>
        </div>
      </dl>
      {entry.rejected && <p class="error">The server refused the last change: {entry.rejected}</p>}
      <div class="actions message-actions">
        <button type="button" class="button primary" onClick={() => props.onReply(props.row)}>
          Reply
        </button>
        <button type="button" class="button" onClick={() => setFlag(seen, !isSeen)} disabled={action.busy}>
          {isSeen ? 'Mark unread' : 'Mark read'}
        </button>
        <button type="button" class="button" aria-pressed={isFlagged} onClick={() => setFlag(flagged, !isFlagged)} disabled={action.busy}>
          {isFlagged ? 'Unflag' : 'Flag'}
        </button>
        <button type="button" class="button danger" onClick={() => setConfirming(true)}>
          Delete
        </button>
      </div>
      {others.length > 0 && (
        <form
          class="move-form"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run(async () => {
              await moveMail(props.collectionId, entry.id, moveTo).catch((err: unknown) => {
                throw new Error(`Not moved: ${describeError(err)}`);
              });
              props.onClose();
            });
          }}
        >
          <SelectField label="Move to folder" value={moveTo} onValue={setMoveTo} options={others.map((f) => ({ value: f.id, label: folderLabel(f) }))} />
          <button type="submit" class="button" disabled={action.busy}>
            Move
          </button>
        </form>
      )}
      <StatusMessage error={action.error} message={action.busy ? 'Working…' : null} />
      <MessageBody collectionId={props.collectionId} id={entry.id} item={item} />
      {confirming && (
        <ConfirmDialog
          title="Delete message"
          message={`Delete “${subjectOf(item)}”? It is deleted from the mail server, and from every device.`}
          confirmLabel="Delete"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setConfirming(false)}
          onConfirm={() =>
            void remove.run(async () => {
              await deleteItem(props.collectionId, entry.id);
              setConfirming(false);
            })
          }
        />
      )}
    </section>
  );
}
