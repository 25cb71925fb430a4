import type { Collection } from '../../../src/protocol/collections.js';
import { SelectField } from './field.js';

/**
 * Which collection of a kind a page shows. Hidden when there is only one; `null` when there is none.
 * The choice survives a reload (per kind), and falls back to the first one when its collection goes.
 */
export function chooseCollection(collections: Collection[], kind: Collection['kind'], chosen: string | null): Collection | null {
  const ofKind = collections.filter((c) => c.kind === kind);
  return ofKind.find((c) => c.id === chosen) ?? ofKind.find((c) => c.id === localStorage.getItem(storageKey(kind))) ?? ofKind[0] ?? null;
}

export function rememberCollection(kind: Collection['kind'], id: string): void {
  localStorage.setItem(storageKey(kind), id);
}

const storageKey = (kind: string) => `syncpoint.collection.${kind}`;

export function CollectionPicker(props: { label: string; collections: Collection[]; kind: Collection['kind']; value: string; onChange: (id: string) => void }) {
  const ofKind = props.collections.filter((c) => c.kind === props.kind);
  if (ofKind.length < 2) return null;
  return (
    <SelectField
      class="picker"
      label={props.label}
      value={props.value}
      onValue={(id) => {
        rememberCollection(props.kind, id);
        props.onChange(id);
      }}
      options={ofKind.map((c) => ({ value: c.id, label: c.displayName }))}
    />
  );
}
