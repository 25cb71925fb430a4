import { useEffect, useRef, useState } from 'preact/hooks';
import type { DeviceInfo, DeviceList } from '../../../src/protocol/devices.js';
import { api } from '../api.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { useAction } from '../ui/use-action.js';
import { moveTo } from './priority-order.js';
import { TimeAgo } from '../ui/time-ago.js';

interface Props {
  devices: DeviceInfo[];
  /** The list the server answered an action with. */
  onSaved: (devices: DeviceInfo[]) => void;
  reload: () => Promise<void>;
}

const protocolNames: Record<string, string> = { native: 'Native API', web: 'Web app', carddav: 'CardDAV', caldav: 'CalDAV', 'dav-upstream': 'Upstream server' };

/**
 * The account's devices in priority order, first wins a conflict. The order changes by dragging a row's
 * handle onto another row (HTML5 drag and drop), by the arrow keys on the handle, or by the Move buttons;
 * every change is saved at once and announced.
 */
export function DeviceTable({ devices, onSaved, reload }: Props) {
  const [shownOrder, setShownOrder] = useState<string[] | null>(null);
  const [dragging, setDragging] = useState<string | null>(null);
  const [dropTarget, setDropTarget] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<DeviceInfo | null>(null);
  const revoke = useAction();
  const wanted = useRef<string[] | null>(null);
  const saving = useRef(false);
  const refocus = useRef<string | null>(null);
  const table = useRef<HTMLTableElement>(null);

  const byId = new Map(devices.map((d) => [d.id, d]));
  const rows = shownOrder ? shownOrder.flatMap((id) => byId.get(id) ?? []) : devices;

  // Moving a row moves its focused button out of the document for a moment; put focus back on it.
  useEffect(() => {
    if (!refocus.current) return;
    table.current?.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(refocus.current)}"]`)?.focus();
    refocus.current = null;
  });

  // Saves run one at a time and the newest order wins, so quick key presses cannot land out of order.
  const save = async (order: string[]) => {
    wanted.current = order;
    setShownOrder(order);
    if (saving.current) return;
    saving.current = true;
    try {
      while (wanted.current) {
        const next = wanted.current;
        wanted.current = null;
        const answer = await api<DeviceList>('PUT', '/api/v1/devices/priority', { order: next });
        if (!wanted.current) {
          onSaved(answer.devices);
          setShownOrder(null);
        }
      }
      setError(null);
    } catch (err) {
      wanted.current = null;
      setShownOrder(null);
      setError(`The new order was not saved: ${(err as Error).message}`);
      setAnnouncement('The new order was not saved.');
      void reload();
    } finally {
      saving.current = false;
    }
  };

  const move = (device: DeviceInfo, to: number, focusKey?: string) => {
    const order = rows.map((d) => d.id);
    if (to < 0 || to >= order.length || order[to] === device.id) return;
    refocus.current = focusKey ?? null;
    setAnnouncement(`${device.name} moved to position ${to + 1} of ${order.length}.`);
    void save(moveTo(order, device.id, to));
  };

  const drop = (targetIndex: number, event: DragEvent) => {
    event.preventDefault();
    const id = dragging ?? event.dataTransfer?.getData('text/plain');
    setDragging(null);
    setDropTarget(null);
    const device = id ? rows.find((d) => d.id === id) : undefined;
    if (device) move(device, targetIndex);
  };

  if (rows.length === 0) {
    return <p>No device has synced with this account yet.</p>;
  }

  return (
    <>
      <p id="priority-help" class="hint">
        The first device wins a conflict. Drag a device by its handle, or use its arrow buttons, to change the order.
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p role="status" aria-live="polite" class="visually-hidden">
        {announcement}
      </p>
      <table ref={table} class="device-table" aria-label="Devices" aria-describedby="priority-help" tabIndex={-1}>
        <thead>
          <tr>
            <th scope="col">Priority</th>
            <th scope="col">Name</th>
            <th scope="col">Protocol</th>
            <th scope="col">Last sync</th>
            <th scope="col">Push</th>
            <th scope="col">Pending</th>
            <th scope="col">Recent errors</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((device, index) => (
            <tr
              key={device.id}
              class={[dragging === device.id && 'dragging', dropTarget === device.id && dragging !== device.id && 'drop-target']
                .filter(Boolean)
                .join(' ')}
              onDragOver={(event) => {
                if (!dragging) return;
                event.preventDefault();
                if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
                if (dropTarget !== device.id) setDropTarget(device.id);
              }}
              onDrop={(event) => drop(index, event)}
            >
              <td class="priority-cell" data-label="Priority">
                {/* Not a <button>: Firefox starts no drag on a button (bugzilla.mozilla.org/show_bug.cgi?id=568313). */}
                <span
                  role="button"
                  tabIndex={0}
                  class="button quiet drag-handle"
                  draggable
                  aria-label={`Drag ${device.name}`}
                  aria-describedby="priority-help"
                  data-focus-key={`${device.id} handle`}
                  onDragStart={(event) => {
                    setDragging(device.id);
                    const dt = event.dataTransfer;
                    if (!dt) return;
                    dt.effectAllowed = 'move';
                    dt.setData('text/plain', device.id);
                    const row = (event.currentTarget as HTMLElement).closest('tr');
                    if (row) dt.setDragImage(row, 24, 24);
                  }}
                  onDragEnd={() => {
                    setDragging(null);
                    setDropTarget(null);
                  }}
                  onKeyDown={(event) => {
                    const step = event.key === 'ArrowUp' ? -1 : event.key === 'ArrowDown' ? 1 : 0;
                    if (!step) return;
                    event.preventDefault();
                    move(device, index + step, `${device.id} handle`);
                  }}
                >
                  <GripIcon />
                </span>
                <span class="rank" aria-hidden="true">
                  {index + 1}
                </span>
                <button
                  type="button"
                  class="button quiet"
                  aria-label={`Move ${device.name} up`}
                  aria-disabled={index === 0}
                  data-focus-key={`${device.id} up`}
                  onClick={() => move(device, index - 1, `${device.id} up`)}
                >
                  <span aria-hidden="true">↑</span>
                </button>
                <button
                  type="button"
                  class="button quiet"
                  aria-label={`Move ${device.name} down`}
                  aria-disabled={index === rows.length - 1}
                  data-focus-key={`${device.id} down`}
                  onClick={() => move(device, index + 1, `${device.id} down`)}
                >
                  <span aria-hidden="true">↓</span>
                </button>
              </td>
              <th scope="row" data-label="Name" class="device-name">
                {device.name}
                {device.name !== device.id && <span class="device-id">{device.id}</span>}
              </th>
              <td data-label="Protocol">{protocolNames[device.protocol] ?? device.protocol}</td>
              <td data-label="Last sync">
                <TimeAgo iso={device.lastSeenAt} />
              </td>
              <td data-label="Push">
                <PushState connected={device.pushConnected} />
              </td>
              <td data-label="Pending">{pendingText(device.pending)}</td>
              <td data-label="Recent errors">
                <RecentErrors device={device} />
              </td>
              <td class="actions-cell">
                <button type="button" class="button" onClick={() => setRevoking(device)}>
                  Revoke<span class="visually-hidden"> {device.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          message={`The server forgets this device, closes its push channel and revokes the app password it used; it has to be set up again to sync.${
            (revoking.pending ?? 0) > 0 ? ` The ${revoking.pending} changes waiting for it are not sent.` : ''
          }`}
          confirmLabel="Revoke"
          busy={revoke.busy}
          error={revoke.error}
          onCancel={() => {
            revoke.clearError();
            setRevoking(null);
          }}
          onConfirm={() =>
            void revoke.run(async () => {
              await api('DELETE', `/api/v1/devices/${encodeURIComponent(revoking.id)}`);
              setAnnouncement(`${revoking.name} was revoked.`);
              setRevoking(null);
              await reload();
              // Its row, where focus was, is gone: continue from the list.
              table.current?.focus();
            })
          }
        />
      )}
    </>
  );
}

/** DAV clients ask for changes by sync token, so the server cannot count what waits for them. */
function pendingText(pending: number | undefined): string {
  if (pending === undefined) return 'not counted';
  return pending === 0 ? 'none' : `${pending} to send`;
}

function PushState({ connected }: { connected: boolean }) {
  return (
    <span class={connected ? 'push-state connected' : 'push-state'}>
      <svg aria-hidden="true" viewBox="0 0 16 16" width="16" height="16">
        {connected ? (
          <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" stroke-width="2" />
        ) : (
          <path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="currentColor" stroke-width="2" />
        )}
      </svg>
      {connected ? 'Connected' : 'Not connected'}
    </span>
  );
}

function RecentErrors({ device }: { device: DeviceInfo }) {
  if (device.errors.length === 0) return <span class="muted">None</span>;
  return (
    <details class="recent-errors">
      <summary>
        {device.errors.length === 1 ? '1 error' : `${device.errors.length} errors`}
        <span class="visually-hidden"> of {device.name}</span>
      </summary>
      <ul>
        {device.errors.map((e, i) => (
          <li key={i}>
            <TimeAgo iso={e.at} /> <code>{e.status}</code> {e.message}
          </li>
        ))}
      </ul>
    </details>
  );
}

function GripIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 16 16" width="16" height="16">
      {[4, 8, 12].flatMap((y) => [5, 11].map((x) => <circle key={`${x}-${y}`} cx={x} cy={y} r="1.5" fill="currentColor" />))}
    </svg>
  );
}
