import { useMemo, useState } from 'preact/hooks';
import { useCollections, useItems, useSyncStatus } from '../data/account.js';
import { chooseCollection, rememberCollection } from '../ui/collection-picker.js';
import { usePanelFocus } from '../ui/panel-focus.js';
import { TimeAgo } from '../ui/time-ago.js';
import { emptyDraft, replyDraft, type Draft } from './compose.js';
import { Composer } from './composer.js';
import { folderLabel, mailFolders, people, subjectOf, threadsOf } from './message.js';
import { ThreadView } from './thread-view.js';
import './mail.css';

type Panel = { thread: string } | { compose: Draft; key: string } | null;

/**
 * Mail (docs/design.md § The web app, mail): the folders of the account's IMAP upstreams, each folder's
 * messages by thread, newest first, a reading pane, and a form to write and send. Messages are mail items
 * of the page's replica like any other; the text beyond their first portion, and attachments, are fetched
 * by part (docs/protocol.md §10.6).
 */
export function MailPage() {
  const collections = useCollections();
  const folders = useMemo(() => mailFolders(collections), [collections]);
  const [chosen, setChosen] = useState<string | null>(null);
  // Without a choice (now or remembered), the first folder of the list as given: the Inbox.
  const folder = chooseCollection(folders, 'mail', chosen);
  const entries = useItems(folder?.id ?? '');
  const threads = useMemo(() => threadsOf(entries), [entries]);
  const { loaded } = useSyncStatus();
  const [panel, setPanel] = useState<Panel>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const open = panel && 'thread' in panel ? threads.find((t) => t.id === panel.thread) : undefined;
  const panelKey = panel === null ? null : 'thread' in panel ? (open ? `thread:${open.id}` : null) : `compose:${panel.key}`;
  const focus = usePanelFocus(panelKey ? { key: panelKey, entryId: open ? open.id : null } : null);

  if (!folder) {
    return (
      <section class="page">
        <h1>Mail</h1>
        <p>{loaded ? 'There is no mail folder yet. Add your mail account (IMAP) on the Upstreams page.' : 'Loading…'}</p>
      </section>
    );
  }
  const compose = (draft: Draft) => (setNotice(null), setPanel({ compose: draft, key: String(Date.now()) }));

  return (
    <section class={`page master-detail mail-page ${panelKey ? 'has-panel' : ''}`} aria-labelledby="mail-heading">
      <div class="master">
        <div class="page-head">
          <h1 id="mail-heading" ref={focus.listHeading} tabIndex={-1}>
            Mail
          </h1>
          <button type="button" class="button primary" onClick={() => compose(emptyDraft)}>
            New message
          </button>
        </div>
        <nav aria-label="Folders">
          <ul class="folder-list">
            {folders.map((f) => (
              <li key={f.id}>
                <button
                  type="button"
                  class="folder"
                  aria-current={f.id === folder.id ? 'true' : undefined}
                  onClick={() => {
                    rememberCollection('mail', f.id);
                    setChosen(f.id);
                    setPanel(null);
                  }}
                >
                  {folderLabel(f)}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <p class="muted" role="status">
          {notice ?? (!loaded && threads.length === 0 ? 'Loading…' : `${threads.length} conversations in ${folderLabel(folder)}`)}
        </p>
        <ul class="item-list thread-list" aria-label={`Conversations in ${folderLabel(folder)}`} ref={focus.list}>
          {threads.map((t) => (
            <li key={t.id}>
              <button
                type="button"
                class={`item thread-item ${t.unread > 0 ? 'unread' : ''}`}
                data-entry-id={t.id}
                aria-current={open?.id === t.id ? 'true' : undefined}
                onClick={() => (setNotice(null), setPanel({ thread: t.id }))}
              >
                <span class="item-text">
                  <span class="item-title">
                    {t.unread > 0 && <span class="unread-dot" aria-hidden="true" />}
                    {subjectOf(t.latest.item)}
                    {t.messages.length > 1 && <span class="count"> ({t.messages.length})</span>}
                  </span>
                  <span class="item-sub">
                    {people([...new Map(t.messages.flatMap((m) => m.item.from).map((a) => [a.address, a])).values()]) || '(unknown sender)'} · {t.latest.item.preview}
                  </span>
                </span>
                {t.unread > 0 && <span class="visually-hidden">, {t.unread} unread</span>}
                {t.flagged && <span class="badge">Flagged</span>}
                <TimeAgo iso={t.latest.item.receivedAt} />
              </button>
            </li>
          ))}
        </ul>
      </div>
      {panelKey && (
        <div class="panel">
          {open ? (
            <ThreadView
              key={open.id}
              thread={open}
              collectionId={folder.id}
              folders={folders}
              headingRef={focus.panelHeading}
              onReply={(row) => compose(replyDraft(row.item))}
              onClose={() => {
                focus.returnTo(open.id);
                setPanel(null);
              }}
            />
          ) : (
            panel &&
            'compose' in panel && (
              <Composer
                key={panel.key}
                initial={panel.compose}
                headingRef={focus.panelHeading}
                onDone={(sent) => {
                  focus.returnTo(null);
                  setNotice(sent);
                  setPanel(null);
                }}
              />
            )
          )}
        </div>
      )}
    </section>
  );
}
