import type { Ref } from 'preact';
import { useState } from 'preact/hooks';
import { deleteItem, type Entry } from '../data/account.js';
import { displayName, type Contact } from '../lib/vcard.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { useAction } from '../ui/use-action.js';
import { Avatar } from './avatar.js';

const typeLabel: Record<string, string> = { home: 'home', work: 'work', cell: 'mobile' };

function formatBirthday(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y as number, (m as number) - 1, d).toLocaleDateString(undefined, { dateStyle: 'long' });
}

export function ContactDetail(props: {
  entry: Entry;
  contact: Contact;
  /** The contact's name, which gets focus when the detail opens. */
  headingRef?: Ref<HTMLHeadingElement>;
  onEdit: () => void;
  onDeleted: () => void;
  onBack: () => void;
}) {
  const { contact: c, entry } = props;
  const name = displayName(c);
  const [confirming, setConfirming] = useState(false);
  const remove = useAction();
  const addresses = c.addresses.map((a) => ({ type: a.type, lines: [a.street, [a.postcode, a.city].filter(Boolean).join(' '), a.region, a.country].filter(Boolean) }));

  return (
    <article class="detail" aria-labelledby="contact-name">
      <button type="button" class="button quiet back" onClick={props.onBack}>
        ← All contacts
      </button>
      <header class="detail-header">
        <Avatar name={name} photo={c.photo} size="large" />
        <div>
          <h2 id="contact-name" ref={props.headingRef} tabIndex={-1}>
            {name}
          </h2>
          {c.org && <p class="muted">{c.org}</p>}
          {entry.pending && <p class="badge">Not synced yet</p>}
          {entry.rejected && <p class="error">The server refused this version: {entry.rejected}</p>}
        </div>
      </header>
      <dl class="facts">
        {c.emails.map((e, i) => (
          <div key={`e${i}`}>
            <dt>Email{e.type && ` (${typeLabel[e.type]})`}</dt>
            <dd>
              <a href={`mailto:${e.value}`}>{e.value}</a>
            </dd>
          </div>
        ))}
        {c.phones.map((p, i) => (
          <div key={`p${i}`}>
            <dt>Phone{p.type && ` (${typeLabel[p.type]})`}</dt>
            <dd>
              <a href={`tel:${p.value.replace(/[^\d+]/g, '')}`}>{p.value}</a>
            </dd>
          </div>
        ))}
        {addresses.map((a, i) => (
          <div key={`a${i}`}>
            <dt>Address{a.type && ` (${typeLabel[a.type]})`}</dt>
            <dd class="address">{a.lines.join('\n')}</dd>
          </div>
        ))}
        {c.birthday && (
          <div>
            <dt>Birthday</dt>
            <dd>{formatBirthday(c.birthday)}</dd>
          </div>
        )}
        {c.groups.length > 0 && (
          <div>
            <dt>Groups</dt>
            <dd>{c.groups.join(', ')}</dd>
          </div>
        )}
        {c.note && (
          <div>
            <dt>Note</dt>
            <dd class="note">{c.note}</dd>
          </div>
        )}
      </dl>
      <div class="actions">
        <button type="button" class="button primary" onClick={props.onEdit}>
          Edit
        </button>
        <button type="button" class="button danger" onClick={() => setConfirming(true)}>
          Delete
        </button>
      </div>
      {confirming && (
        <ConfirmDialog
          title="Delete contact"
          message={`Delete ${name}? It is removed from every device that syncs this address book.`}
          confirmLabel="Delete"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setConfirming(false)}
          onConfirm={() =>
            void remove.run(async () => {
              await deleteItem(entry.collectionId, entry.id);
              setConfirming(false);
              props.onDeleted();
            })
          }
        />
      )}
    </article>
  );
}
