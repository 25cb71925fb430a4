import type { ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { CalendarPage } from './calendar/calendar-page.js';
import { CollectionsPage } from './collections/collections-page.js';
import { ConflictsPage } from './conflicts/conflicts-page.js';
import { ContactsPage } from './contacts/contacts-page.js';
import { useSyncStatus } from './data/account.js';
import { restoreSession, signOut } from './data/auth.js';
import { useSession } from './data/session.js';
import { DevicesPage } from './devices/devices-page.js';
import { MailPage } from './mail/mail-page.js';
import { NotesPage } from './notes/notes-page.js';
import { SignIn } from './sign-in.js';
import { TasksPage } from './tasks/tasks-page.js';
import { UpstreamsPage } from './upstreams/upstreams-page.js';

/** The pages, in menu order; the hash (#/contacts) picks one. */
const pages: ReadonlyArray<{ path: string; label: string; Page: ComponentType }> = [
  { path: 'contacts', label: 'Contacts', Page: ContactsPage },
  { path: 'calendar', label: 'Calendar', Page: CalendarPage },
  { path: 'tasks', label: 'Tasks', Page: TasksPage },
  { path: 'notes', label: 'Notes', Page: NotesPage },
  { path: 'mail', label: 'Mail', Page: MailPage },
  { path: 'collections', label: 'Collections', Page: CollectionsPage },
  { path: 'devices', label: 'Devices', Page: DevicesPage },
  { path: 'upstreams', label: 'Upstreams', Page: UpstreamsPage },
  { path: 'conflicts', label: 'Conflicts', Page: ConflictsPage },
];

function currentPath(): string {
  return location.hash.replace(/^#\/?/, '').split('/')[0] || 'contacts';
}

function useHashPath(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = () => setPath(currentPath());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return path;
}

export function App() {
  const session = useSession();
  useEffect(() => {
    void restoreSession();
  }, []);
  if (session === undefined) {
    return (
      <main id="main" class="loading">
        <p role="status">Loading…</p>
      </main>
    );
  }
  return session ? <Shell user={session.user} /> : <SignIn />;
}

function Shell(props: { user: string }) {
  const path = useHashPath();
  const page = pages.find((p) => p.path === path);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    document.title = `${page?.label ?? 'Not found'} · Syncpoint`;
    // After following a menu link, reading (and Tab) starts at the new page, not at the menu.
    if (!first.current) main.current?.focus();
    first.current = false;
  }, [path]);
  return (
    <div class="shell">
      <a class="skip-link" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="app-header">
        <span class="brand">Syncpoint</span>
        <SyncIndicator />
        <span class="user" title="Signed in as">
          {props.user}
        </span>
        <button type="button" class="button quiet" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav class="app-nav" aria-label="Main">
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={p.path === path ? 'page' : undefined}>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        {page ? (
          <page.Page />
        ) : (
          <section>
            <h1>Page not found</h1>
            <p>
              <a href="#/contacts">Go to contacts</a>
            </p>
          </section>
        )}
      </main>
    </div>
  );
}

function SyncIndicator() {
  const { online, syncing, lastError, loaded } = useSyncStatus();
  const [state, text] = lastError
    ? ['error', 'Sync problem']
    : syncing || !loaded
      ? ['busy', 'Syncing…']
      : online
        ? ['ok', 'Up to date']
        : ['offline', 'Offline'];
  // Announced only when something is wrong: "Syncing…" and "Up to date" alternate with every save and
  // every push, which a screen reader would read out each time.
  const announce = state === 'error' || state === 'offline';
  return (
    <span class={`sync-indicator ${state}`} role={announce ? 'alert' : undefined} title={lastError ?? undefined}>
      <span class="dot" aria-hidden="true" />
      {text}
      {lastError && <span class="visually-hidden">: {lastError}</span>}
    </span>
  );
}
