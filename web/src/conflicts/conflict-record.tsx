import { useEffect, useRef, useState } from 'preact/hooks';
import type { Conflict, Restored } from '../../../src/protocol/conflicts.js';
import { api } from '../api.js';
import { findByServerId, useItems } from '../data/account.js';
import { TimeAgo } from '../ui/time-ago.js';
import { describeReason } from './conflict-reason.js';
import { itemSummary, pairFields, readFields } from './item-fields.js';

interface Props {
  conflict: Conflict;
  collectionName: string;
  deviceName: (deviceId: string) => string;
  /** Called after the server restored the record; the page re-reads the list. */
  onRestored: (conflict: Conflict) => void;
}

/** One losing version beside the item as it is now, with a button that makes it the truth again. */
export function ConflictRecord({ conflict, collectionName, deviceName, onRestored }: Props) {
  // Subscribes to the collection's items, so the current version follows pushes and the restore itself.
  useItems(conflict.collectionId);
  const current = findByServerId(conflict.collectionId, conflict.itemId);
  const summary = itemSummary(conflict.data) ?? (current && itemSummary(current.data)) ?? `item ${conflict.itemId}`;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const restoredNote = useRef<HTMLParagraphElement>(null);
  const wasRestored = useRef(conflict.restoredAt !== undefined);

  // The button disappears once restored: move focus to what replaced it rather than losing it.
  useEffect(() => {
    if (conflict.restoredAt && !wasRestored.current) restoredNote.current?.focus();
    wasRestored.current = conflict.restoredAt !== undefined;
  }, [conflict.restoredAt]);

  const restore = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await api<Restored>('POST', `/api/v1/conflicts/${encodeURIComponent(conflict.id)}/restore`);
      onRestored(conflict);
    } catch (err) {
      setError(`Not restored: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <article class="conflict" aria-label={`Conflict in ${summary}`}>
      <header class="conflict-header">
        <h2>{summary}</h2>
        <p class="muted">
          {collectionName} · <TimeAgo iso={conflict.createdAt} />
        </p>
      </header>
      <p>{describeReason(conflict, deviceName)}</p>
      <dl class="conflict-devices">
        <div>
          <dt>Lost</dt>
          <dd>{conflict.lostBy ? deviceName(conflict.lostBy) : 'the server'}</dd>
        </div>
        <div>
          <dt>Won</dt>
          <dd>{conflict.wonBy ? deviceName(conflict.wonBy) : 'the server'}</dd>
        </div>
      </dl>
      <Comparison mine={conflict.data} current={current?.data ?? null} />
      <details class="raw-text">
        <summary>Raw text</summary>
        <div class="raw-pair">
          <div>
            <h3>This version</h3>
            <pre>{conflict.data}</pre>
          </div>
          <div>
            <h3>Current version</h3>
            {current ? <pre>{current.data}</pre> : <p>Deleted</p>}
          </div>
        </div>
      </details>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {conflict.restoredAt ? (
        <p class="restored" ref={restoredNote} tabIndex={-1}>
          <CheckIcon /> Restored <TimeAgo iso={conflict.restoredAt} />
        </p>
      ) : (
        <button type="button" class="button restore" onClick={restore} aria-disabled={busy}>
          {busy ? 'Restoring…' : 'Restore this version'}
        </button>
      )}
    </article>
  );
}

/**
 * The two versions as property rows; rows that differ are marked with a sign and a word, not colour
 * alone. A deleted item has nothing to set beside this version, so it is said once instead.
 */
function Comparison({ mine, current }: { mine: string; current: string | null }) {
  const mineFields = readFields(mine);
  const currentFields = current === null ? [] : readFields(current);
  if (!mineFields || !currentFields) return <p>This version cannot be read as a contact or calendar item; see the raw text.</p>;
  const deleted = current === null;
  const pairs = pairFields(mineFields, currentFields);
  const differences = pairs.filter((p) => p.differs).length;
  return (
    <div class="comparison">
      {deleted && <p class="current-deleted">Current version: deleted. Restoring this version brings the item back.</p>}
      <table class={deleted ? 'one-version' : undefined}>
        <caption class="visually-hidden">
          {deleted ? 'This version' : `This version beside the current one; ${differences === 1 ? '1 field differs' : `${differences} fields differ`}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">This version</th>
            {!deleted && <th scope="col">Current version</th>}
          </tr>
        </thead>
        <tbody>
          {pairs.map((pair) => {
            const marked = pair.differs && !deleted;
            return (
              <tr key={pair.key} class={marked ? 'differs' : undefined}>
                <th scope="row">
                  {marked && (
                    <span class="diff-mark" aria-hidden="true">
                      ≠
                    </span>
                  )}
                  {pair.label}
                  {marked && <span class="visually-hidden"> (differs)</span>}
                </th>
                <td>{pair.mine ?? <span class="muted">none</span>}</td>
                {!deleted && <td>{pair.current ?? <span class="muted">none</span>}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function CheckIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 16 16" width="16" height="16">
      <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" stroke-width="2" />
    </svg>
  );
}
