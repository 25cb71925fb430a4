import type { Ref } from 'preact';
import { useId, useState } from 'preact/hooks';
import { newUid } from '../data/ids.js';
import { saveItem, type Entry } from '../data/account.js';
import { addressTypes, displayName, emailTypes, emptyContact, parseContact, phoneTypes, serializeContact, type Address, type Contact, type TypedValue } from '../lib/vcard.js';
import { SelectField, TextField } from '../ui/field.js';
import { SaveActions } from '../ui/save-actions.js';
import { useAction } from '../ui/use-action.js';
import { Avatar } from './avatar.js';
import { resizePhoto } from './photo.js';

const typeLabels: Record<string, string> = { '': 'Other', home: 'Home', work: 'Work', cell: 'Mobile' };
const optionsOf = (types: readonly string[]) => [...types, ''].map((value) => ({ value, label: typeLabels[value] ?? value }));

/** At least one (empty) row, so a new contact's first email or phone can be typed straight away. */
const withBlankRow = (list: TypedValue[], type: string): TypedValue[] => (list.length > 0 ? list : [{ value: '', type }]);

export function ContactEditor(props: {
  collectionId: string;
  entry?: Entry;
  /** The form's heading, which gets focus when the editor opens. */
  headingRef?: Ref<HTMLHeadingElement>;
  onDone: (id: string | null) => void;
}) {
  // The card as it was when editing began: the edit is applied to it, so its unknown parts survive.
  const [original] = useState(props.entry?.data);
  const [contact, setContact] = useState<Contact>(() => {
    const c = original ? parseContact(original) : emptyContact(newUid());
    return { ...c, emails: withBlankRow(c.emails, 'home'), phones: withBlankRow(c.phones, 'cell') };
  });
  const [groups, setGroups] = useState(contact.groups.join(', '));
  const { busy, error, run } = useAction();
  const headingId = useId();
  const set = (patch: Partial<Contact>) => setContact((c) => ({ ...c, ...patch }));
  const setName = (patch: Partial<Contact['name']>) => setContact((c) => ({ ...c, name: { ...c.name, ...patch } }));

  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const final: Contact = { ...contact, groups: groups.split(',').map((g) => g.trim()).filter(Boolean) };
      if (!displayName(final)) throw new Error('Give the contact a name (or at least an organization, email or phone).');
      const id = await saveItem(props.collectionId, props.entry?.id, serializeContact(final, original), original);
      props.onDone(id);
    });
  };

  const pickPhoto = (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    void run(async () => set({ photo: await resizePhoto(file) }));
  };

  const title = props.entry ? 'Edit contact' : 'New contact';
  return (
    <form class="editor contact-editor" aria-labelledby={headingId} onSubmit={submit}>
      <h2 id={headingId} ref={props.headingRef} tabIndex={-1}>
        {title}
      </h2>
      <TextField label="Full name" value={contact.fullName} onValue={(fullName) => set({ fullName })} hint="Left empty, it is made from the name parts." />
      <fieldset>
        <legend>Name parts</legend>
        <div class="grid">
          <TextField label="Prefix" value={contact.name.prefix} onValue={(prefix) => setName({ prefix })} autoComplete="off" />
          <TextField label="Given name" value={contact.name.given} onValue={(given) => setName({ given })} autoComplete="off" />
          <TextField label="Middle name" value={contact.name.additional} onValue={(additional) => setName({ additional })} autoComplete="off" />
          <TextField label="Family name" value={contact.name.family} onValue={(family) => setName({ family })} autoComplete="off" />
          <TextField label="Suffix" value={contact.name.suffix} onValue={(suffix) => setName({ suffix })} autoComplete="off" />
        </div>
      </fieldset>
      <TypedList noun="Email" legend="Email addresses" inputType="email" types={emailTypes} list={contact.emails} onChange={(emails) => set({ emails })} />
      <TypedList noun="Phone" legend="Phone numbers" inputType="tel" types={phoneTypes} list={contact.phones} onChange={(phones) => set({ phones })} />
      <AddressList list={contact.addresses} onChange={(addresses) => set({ addresses })} />
      <div class="grid">
        <TextField label="Organization" value={contact.org} onValue={(org) => set({ org })} autoComplete="off" />
        <TextField label="Birthday" type="date" value={contact.birthday} onValue={(birthday) => set({ birthday })} />
      </div>
      <TextField label="Groups" value={groups} onValue={setGroups} hint="Separate groups with commas." autoComplete="off" />
      <TextField label="Note" multiline value={contact.note} onValue={(note) => set({ note })} />
      <fieldset>
        <legend>Photo</legend>
        <div class="photo-field">
          <Avatar name={displayName(contact)} photo={contact.photo} size="large" />
          <div class="field">
            <label for={`${headingId}-photo`}>Choose a photo</label>
            <input id={`${headingId}-photo`} type="file" accept="image/*" onChange={pickPhoto} />
          </div>
          {contact.photo && (
            <button type="button" class="button quiet" onClick={() => set({ photo: null })}>
              Remove photo
            </button>
          )}
        </div>
      </fieldset>
      <SaveActions busy={busy} error={error} onCancel={() => props.onDone(props.entry?.id ?? null)} />
    </form>
  );
}

function TypedList(props: {
  noun: string;
  legend: string;
  inputType: 'email' | 'tel';
  types: readonly string[];
  list: TypedValue[];
  onChange: (list: TypedValue[]) => void;
}) {
  const { noun, list, onChange } = props;
  const update = (i: number, patch: Partial<TypedValue>) => onChange(list.map((e, j) => (j === i ? { ...e, ...patch } : e)));
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      {list.map((entry, i) => (
        <div class="row" key={i}>
          <TextField label={`${noun} ${i + 1}`} type={props.inputType} value={entry.value} onValue={(value) => update(i, { value })} autoComplete="off" />
          <SelectField label={`${noun} ${i + 1} type`} value={entry.type} onValue={(type) => update(i, { type })} options={optionsOf(props.types)} />
          <button type="button" class="button quiet" onClick={() => onChange(list.filter((_, j) => j !== i))}>
            Remove {noun.toLowerCase()} {i + 1}
          </button>
        </div>
      ))}
      <button type="button" class="button" onClick={() => onChange([...list, { value: '', type: props.types[0] ?? '' }])}>
        Add {noun.toLowerCase()}
      </button>
    </fieldset>
  );
}

function AddressList(props: { list: Address[]; onChange: (list: Address[]) => void }) {
  const { list, onChange } = props;
  const update = (i: number, patch: Partial<Address>) => onChange(list.map((a, j) => (j === i ? { ...a, ...patch } : a)));
  return (
    <fieldset>
      <legend>Addresses</legend>
      {list.map((a, i) => (
        <fieldset class="address" key={i}>
          <legend>Address {i + 1}</legend>
          <div class="grid">
            <SelectField label="Type" value={a.type} onValue={(type) => update(i, { type })} options={optionsOf(addressTypes)} />
            <TextField label="Street" value={a.street} onValue={(street) => update(i, { street })} autoComplete="off" />
            <TextField label="City" value={a.city} onValue={(city) => update(i, { city })} autoComplete="off" />
            <TextField label="Region" value={a.region} onValue={(region) => update(i, { region })} autoComplete="off" />
            <TextField label="Postcode" value={a.postcode} onValue={(postcode) => update(i, { postcode })} autoComplete="off" />
            <TextField label="Country" value={a.country} onValue={(country) => update(i, { country })} autoComplete="off" />
          </div>
          <button type="button" class="button quiet" onClick={() => onChange(list.filter((_, j) => j !== i))}>
            Remove address {i + 1}
          </button>
        </fieldset>
      ))}
      <button
        type="button"
        class="button"
        onClick={() => onChange([...list, { type: 'home', street: '', city: '', region: '', postcode: '', country: '' }])}
      >
        Add address
      </button>
    </fieldset>
  );
}
