import { useState } from 'preact/hooks';
import type { Conflict, ConflictList } from '../../../src/protocol/conflicts.js';
import type { DeviceList } from '../../../src/protocol/devices.js';
import { api } from '../api.js';
import { useCollections } from '../data/account.js';
import { useResource } from '../ui/use-resource.js';
import { ConflictRecord } from './conflict-record.js';
import './conflicts.css';

type Filter = 'open' | 'restored' | 'all';
const filters: { value: Filter; label: string }[] = [
  { value: 'open', label: 'Open' },
  { value: 'restored', label: 'Restored' },
  { value: 'all', label: 'All' },
];

/** #/conflicts: every version that lost a conflict (docs/protocol.md §17), newest first, restorable. */
export function ConflictsPage() {
  const conflicts = useResource(() => api<ConflictList>('GET', '/api/v1/conflicts').then((a) => a.conflicts));
  const devices = useResource(() => api<DeviceList>('GET', '/api/v1/devices').then((a) => a.devices));
  const collections = useCollections();
  const [filter, setFilter] = useState<Filter>('open');
  // Restored while on the page: stays under "Open", marked restored, instead of vanishing under the pointer.
  const [restoredHere, setRestoredHere] = useState<ReadonlySet<string>>(new Set());
  const [announcement, setAnnouncement] = useState('');

  const deviceName = (id: string) => devices.data?.find((d) => d.id === id)?.name ?? id;
  const collectionName = (id: string) => collections.find((c) => c.id === id)?.displayName ?? 'A collection that no longer exists';
  const shown = (conflicts.data ?? []).filter((c) =>
    filter === 'all' ? true : filter === 'restored' ? c.restoredAt !== undefined : c.restoredAt === undefined || restoredHere.has(c.id),
  );

  const restored = (conflict: Conflict) => {
    setRestoredHere((set) => new Set(set).add(conflict.id));
    // Marked at once; the re-read brings the server's time and the record of the version it replaced.
    if (conflicts.data) {
      const at = new Date().toISOString();
      conflicts.set(conflicts.data.map((c) => (c.id === conflict.id ? { ...c, restoredAt: at } : c)));
    }
    setAnnouncement('Restored. The version it replaced is kept as a new conflict record.');
    void conflicts.reload();
  };

  return (
    <section class="page conflicts-page" aria-labelledby="conflicts-heading">
      <h1 id="conflicts-heading">Conflicts</h1>
      <p class="hint">
        When two devices change the same item, the server keeps one version and saves the other here. Restore a version to
        make it the current one again.
      </p>
      <fieldset class="conflict-filter">
        <legend>Show</legend>
        {filters.map((f) => (
          <label key={f.value}>
            <input
              type="radio"
              name="conflict-filter"
              value={f.value}
              checked={filter === f.value}
              onChange={() => {
                setFilter(f.value);
                setRestoredHere(new Set());
              }}
            />
            {f.label}
          </label>
        ))}
      </fieldset>
      <p role="status" class="visually-hidden">
        {announcement}
      </p>
      {conflicts.error && (
        <p class="error" role="alert">
          Could not load the conflicts: {conflicts.error}
        </p>
      )}
      {!conflicts.data && !conflicts.error && <p>Loading…</p>}
      {conflicts.data && shown.length === 0 && (
        <p>{filter === 'open' ? 'No open conflicts.' : filter === 'restored' ? 'No restored conflicts.' : 'No conflicts yet.'}</p>
      )}
      {shown.map((conflict) => (
        <ConflictRecord
          key={conflict.id}
          conflict={conflict}
          collectionName={collectionName(conflict.collectionId)}
          deviceName={deviceName}
          onRestored={restored}
        />
      ))}
    </section>
  );
}
