import { useMemo, useState } from 'preact/hooks';
import { useCollections, useItems, useSyncStatus, type Entry } from '../data/account.js';
import { memoByText } from '../lib/parse-cache.js';
import { displayName, nameOrder, parseContact, searchText, type Contact } from '../lib/vcard.js';
import { chooseCollection, CollectionPicker } from '../ui/collection-picker.js';
import { TextField } from '../ui/field.js';
import { Avatar } from './avatar.js';
import { ContactDetail } from './contact-detail.js';
import { ContactEditor } from './contact-editor.js';
import { usePanelFocus } from '../ui/panel-focus.js';
import './contacts.css';

type View = { mode: 'list' } | { mode: 'show'; id: string } | { mode: 'edit'; id: string | null };

/** What the list needs of one card, worked out once per card text. */
interface Card {
  contact: Contact;
  name: string;
  /** displayName, compared with nameOrder. */
  sortKey: string;
  search: string;
}

interface Row extends Card {
  entry: Entry;
}

const readCard = memoByText((text): Card => {
  const contact = parseContact(text);
  const sortKey = displayName(contact);
  return { contact, name: sortKey || '(no name)', sortKey, search: searchText(contact) };
});

function rowsOf(entries: Entry[]): Row[] {
  return entries
    .flatMap((entry) => {
      try {
        return [{ entry, ...readCard(entry.data) }];
      } catch {
        // A card no vCard parser can read (another client's bug) is left alone rather than shown broken.
        return [];
      }
    })
    .sort((a, b) => nameOrder.compare(a.sortKey, b.sortKey));
}

export function ContactsPage() {
  const collections = useCollections();
  const [chosen, setChosen] = useState<string | null>(null);
  const collection = chooseCollection(collections, 'contacts', chosen);
  const entries = useItems(collection?.id ?? '');
  const rows = useMemo(() => rowsOf(entries), [entries]);
  const { loaded } = useSyncStatus();
  const [query, setQuery] = useState('');
  const [view, setView] = useState<View>({ mode: 'list' });

  const words = useMemo(() => query.toLowerCase().split(/\s+/).filter(Boolean), [query]);
  const shown = useMemo(() => rows.filter((r) => words.every((w) => matches(r, w))), [rows, words]);
  const selectedId = view.mode === 'list' ? null : view.id;
  const selected = rows.find((r) => r.entry.id === selectedId);
  const focus = usePanelFocus(
    view.mode === 'edit' ? { key: `edit ${view.id ?? ''}`, entryId: view.id } : view.mode === 'show' && selected ? { key: `show ${view.id}`, entryId: view.id } : null,
  );

  if (!collection) {
    return (
      <section class="page">
        <h1>Contacts</h1>
        <p>{loaded ? 'There is no address book yet. Create one on the Collections page.' : 'Loading…'}</p>
      </section>
    );
  }

  let panel = null;
  if (view.mode === 'edit') {
    panel = (
      <ContactEditor
        key={view.id ?? 'new'}
        headingRef={focus.panelHeading}
        collectionId={collection.id}
        {...(selected ? { entry: selected.entry } : {})}
        onDone={(id) => setView(id ? { mode: 'show', id } : { mode: 'list' })}
      />
    );
  } else if (view.mode === 'show' && selected) {
    panel = (
      <ContactDetail
        headingRef={focus.panelHeading}
        entry={selected.entry}
        contact={selected.contact}
        onEdit={() => setView({ mode: 'edit', id: selected.entry.id })}
        onDeleted={() => setView({ mode: 'list' })}
        onBack={() => setView({ mode: 'list' })}
      />
    );
  }

  return (
    <section class={`page master-detail ${panel ? 'has-panel' : ''}`} aria-labelledby="contacts-heading">
      <div class="master">
        <div class="page-head">
          <h1 id="contacts-heading" ref={focus.listHeading} tabIndex={-1}>
            Contacts
          </h1>
          <button type="button" class="button primary" onClick={() => setView({ mode: 'edit', id: null })}>
            New contact
          </button>
        </div>
        <CollectionPicker
          label="Address book"
          collections={collections}
          kind="contacts"
          value={collection.id}
          onChange={(id) => {
            setChosen(id);
            setView({ mode: 'list' });
          }}
        />
        <TextField label="Search contacts" type="search" value={query} onValue={setQuery} hint="Name, email, phone or organization" />
        <p class="muted" role="status">
          {!loaded && rows.length === 0 ? 'Loading…' : words.length > 0 ? `${shown.length} of ${rows.length} contacts` : `${rows.length} contacts`}
        </p>
        <ul class="item-list" aria-label="Contacts" ref={focus.list}>
          {shown.map((r) => (
            <li key={r.entry.id}>
              <button
                type="button"
                class="item"
                data-entry-id={r.entry.id}
                aria-current={r.entry.id === selectedId ? 'true' : undefined}
                onClick={() => setView({ mode: 'show', id: r.entry.id })}
              >
                <Avatar name={r.name} photo={r.contact.photo} />
                <span class="item-text">
                  <span class="item-title">{r.name}</span>
                  <span class="item-sub">{r.contact.emails[0]?.value ?? r.contact.phones[0]?.value ?? r.contact.org}</span>
                </span>
                {r.entry.rejected ? (
                  <span class="badge error-badge">Refused</span>
                ) : (
                  r.entry.pending && <span class="badge">Not synced</span>
                )}
              </button>
            </li>
          ))}
        </ul>
      </div>
      {panel && <div class="panel">{panel}</div>}
    </section>
  );
}

/** A phone number matches however it is punctuated: searchText also holds each number's digits alone. */
function matches(r: Row, w: string): boolean {
  return r.search.includes(w) || (/\d/.test(w) && /^[+\d().-]+$/.test(w) && r.search.includes(w.replace(/\D/g, '')));
}
