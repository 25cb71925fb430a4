import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Collection } from '../../../src/protocol/collections.js';
import type { MailSent, SendMailRequest } from '../../../src/protocol/mail-send.js';
import { openMemoryReplica } from '../../../src/sdk/memory-replica.js';
import { PushSubscriber, type PushSocket } from '../../../src/sdk/push.js';
import { reapDeleted, recordLocalDelete, recordLocalPut, recordMoved, type LocalItem, type Replica } from '../../../src/sdk/replica.js';
import { SyncClient, type SyncSummary } from '../../../src/sdk/sync-loop.js';
import { HttpTransport, RequestRefusedError } from '../../../src/sdk/transport.js';
import { api } from '../api.js';
import { newId } from './ids.js';
import { getSession, onSessionChange, setSession, type Session } from './session.js';

/**
 * The web app is a sync point like any other device: while someone is signed in, it holds a replica
 * (in memory: a reload starts with a fresh initial sync) of every collection, keeps it current through
 * the push channel, and sends local edits with the sync protocol. Views read the replica through the
 * hooks below, which re-render whenever anything in it (or the sync status) changes.
 */

export interface Entry {
  collectionId: string;
  /** The local id: stable for the life of the page, also before the server knows the item. */
  id: string;
  data: string;
  /** A local edit the server has not acknowledged yet. */
  pending: boolean;
  /** Why the server refused the current version, if it did. */
  rejected: string | null;
}

export interface SyncStatus {
  /** The push channel is open, so other devices' edits show up as they happen. */
  online: boolean;
  syncing: boolean;
  lastError: string | null;
  /** The first sync of every collection has finished (or failed). */
  loaded: boolean;
}

/** Reports whether any sync is running, and how the last one ended, to the status indicator. */
class ReportingSyncClient extends SyncClient {
  private running = 0;

  constructor(
    options: ConstructorParameters<typeof SyncClient>[0],
    private readonly onRun: (running: boolean, error: unknown) => void,
  ) {
    super(options);
  }

  override async syncCollection(collectionId: string): Promise<SyncSummary> {
    this.running++;
    this.onRun(true, undefined);
    let error: unknown;
    try {
      return await super.syncCollection(collectionId);
    } catch (err) {
      error = err;
      throw err;
    } finally {
      this.running--;
      this.onRun(this.running > 0, error);
    }
  }
}

interface Account {
  deviceId: string;
  replica: Replica;
  client: ReportingSyncClient;
  transport: HttpTransport;
  collections: Collection[];
  push: PushSubscriber | null;
}

const deviceIdsKey = 'syncpoint.deviceIds';
const deviceName = 'Web browser';
/** Tabs that get a lasting device id each; more get a throwaway one. */
const tabsMax = 8;

let account: Account | null = null;
let status: SyncStatus = { online: false, syncing: false, lastError: null, loaded: false };

// The reactive store: one version counter; every hook re-reads when it moves.
let version = 0;
const subscribers = new Set<() => void>();
function changed(): void {
  version++;
  for (const subscriber of [...subscribers]) subscriber();
}
function setStatus(patch: Partial<SyncStatus>): void {
  status = { ...status, ...patch };
  changed();
}
function useVersion(): number {
  const [, setSeen] = useState(version);
  useEffect(() => {
    const update = () => setSeen(version);
    subscribers.add(update);
    update();
    return () => void subscribers.delete(update);
  }, []);
  return version;
}

/**
 * This tab's device id. Ids persist in localStorage so a reload is the same device to the server; each
 * open tab holds one (by a Web Lock) so two tabs never share one, which would make each invalidate the
 * other's sync state and push channel. Without Web Locks (plain HTTP), all tabs share the first id.
 */
async function claimDevice(): Promise<{ id: string; name: string }> {
  const ids = (localStorage.getItem(deviceIdsKey) ?? '').split(',').filter((id) => id.startsWith('web-'));
  for (let i = 0; i < tabsMax; i++) {
    let id = ids[i];
    if (!id) {
      id = `web-${newId()}`;
      ids.push(id);
      localStorage.setItem(deviceIdsKey, ids.join(','));
    }
    const name = i === 0 ? deviceName : `${deviceName} (tab ${i + 1})`;
    if (!('locks' in navigator)) return { id, name };
    const held = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(`syncpoint.device.${id}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        // Held until the tab closes.
        return lock ? new Promise<void>(() => undefined) : undefined;
      });
    });
    if (held) return { id, name };
  }
  return { id: `web-${newId()}`, name: deviceName };
}
const device = claimDevice();

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A sync failure: a refused session signs the page out; anything else is shown in the status. */
function syncFailed(err: unknown): void {
  if (err instanceof RequestRefusedError && err.httpStatus === 401) setSession(null);
  else setStatus({ lastError: describe(err) });
}

/** Rows of items deleted on the server are the application's to drop (its views no longer show them). */
function reap(a: Account): void {
  a.replica.transaction((tx) => {
    for (const c of a.collections) reapDeleted(tx, c.id);
  });
}

async function start(session: Session): Promise<void> {
  const { id, name } = await device;
  // Signed out (or in again) while the device id was being claimed: that call does the work.
  if (getSession() !== session || account) return;
  const transport = new HttpTransport({ baseUrl: location.origin, credentials: { csrf: session.csrf } });
  const replica = openMemoryReplica();
  const client = new ReportingSyncClient({ transport, replica, device: { id, name } }, (running, error) => {
    if (account !== a) return;
    if (!running && error === undefined) reap(a);
    if (error !== undefined) syncFailed(error);
    else if (!running) setStatus({ syncing: false, lastError: null });
    else setStatus({ syncing: true });
  });
  const a: Account = { deviceId: id, replica, transport, client, collections: [], push: null };
  account = a;
  status = { online: false, syncing: false, lastError: null, loaded: false };
  changed();
  void refreshCollections()
    .catch(syncFailed)
    .finally(() => account === a && setStatus({ loaded: true }));
}

function stop(): void {
  const a = account;
  account = null;
  status = { online: false, syncing: false, lastError: null, loaded: false };
  changed();
  if (a) void a.push?.stop().finally(() => a.replica.close());
}

onSessionChange((session) => {
  stop();
  if (session) void start(session);
});

/** A push channel for the account's current collections; it syncs them on every (re)connect. */
function subscribe(a: Account): PushSubscriber {
  const push = new PushSubscriber({
    transport: a.transport,
    deviceId: a.deviceId,
    collections: a.collections.map((c) => c.id),
    client: a.client,
    openSocket: (url) => {
      const socket = new WebSocket(url);
      socket.addEventListener('open', () => account === a && a.push === push && setStatus({ online: true }));
      socket.addEventListener('close', () => account === a && a.push === push && setStatus({ online: false }));
      // The DOM types its handlers with narrower events than PushSocket's; at run time they are the same.
      return socket as unknown as PushSocket;
    },
    onMessage: (message, outcome) => {
      if (account !== a) return;
      // Each (re)connect is a moment the page may have missed collections made or deleted elsewhere.
      if (message.type === 'hello') void refreshCollections().catch(syncFailed);
      else if (outcome === 'applied') reap(a);
      changed();
    },
    onSynced: () => account === a && changed(),
    onError: (err) => account === a && syncFailed(err),
  });
  return push;
}

function collectionIds(list: readonly Collection[]): string {
  return list
    .map((c) => c.id)
    .sort()
    .join(',');
}

/** Re-reads the account's collections (after one was created, renamed or deleted) and syncs new ones. */
export async function refreshCollections(): Promise<void> {
  const a = account;
  if (!a) return;
  const { collections } = await api<{ collections: Collection[] }>('GET', '/api/v1/collections');
  if (account !== a) return;
  const sameSet = collectionIds(collections) === collectionIds(a.collections) && a.push !== null;
  a.collections = collections;
  changed();
  const syncs = Promise.allSettled(collections.map((c) => a.client.syncCollection(c.id)));
  if (!sameSet) {
    const old = a.push;
    const push = collections.length > 0 ? subscribe(a) : null;
    a.push = push;
    await old?.stop();
    if (account === a && a.push === push) push?.start();
  }
  await syncs;
}

function toEntry(collectionId: string, item: LocalItem): Entry | undefined {
  if (item.data === null) return undefined;
  return { collectionId, id: item.localId, data: item.data, pending: item.pending !== null, rejected: item.rejected };
}

function readItems(collectionId: string): Entry[] {
  const a = account;
  if (!a) return [];
  return a.replica.transaction((tx) => tx.all(collectionId)).flatMap((item) => toEntry(collectionId, item) ?? []);
}

/** The same array until the list is re-read, so effects keyed on it do not re-run. */
export function useCollections(): Collection[] {
  useVersion();
  return account?.collections ?? noCollections;
}
const noCollections: Collection[] = [];

/** Live items of a collection; the same array as long as none of them changed, so pages parse once. */
export function useItems(collectionId: string): Entry[] {
  const v = useVersion();
  const previous = useRef<Entry[]>([]);
  return useMemo(() => {
    const next = readItems(collectionId);
    const same = next.length === previous.current.length && next.every((e, i) => sameEntry(e, previous.current[i]));
    if (!same) previous.current = next;
    return previous.current;
  }, [collectionId, v]);
}

function sameEntry(a: Entry, b: Entry | undefined): boolean {
  return b !== undefined && a.collectionId === b.collectionId && a.id === b.id && a.data === b.data && a.pending === b.pending && a.rejected === b.rejected;
}

export function useSyncStatus(): SyncStatus {
  useVersion();
  return status;
}

/** The item the server knows as `serverId` (a conflict record names items that way). */
export function findByServerId(collectionId: string, serverId: string): Entry | undefined {
  const a = account;
  const item = a?.replica.transaction((tx) => tx.byServerId(collectionId, serverId));
  return item && toEntry(collectionId, item);
}

function requireAccount(): Account {
  if (!account) throw new Error('not signed in');
  return account;
}

/**
 * Syncs until the item no longer waits on its local edit (a few rounds at most: edits may race). An
 * edit that lost a conflict fails the save: the other device's version is shown, and the one typed
 * here is kept on the Conflicts page.
 */
async function settle(a: Account, collectionId: string, localId: string, edit: string | null): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const summary = await a.client.syncCollection(collectionId);
    if (summary.conflicts.some((c) => c.localId === localId)) {
      throw new Error('Another device changed this item at the same time and its version was kept; yours is saved on the Conflicts page.');
    }
    const item = a.replica.transaction((tx) => tx.get(collectionId, localId));
    // Gone, or superseded by a later edit (whose own save reports on it), or acknowledged.
    if (!item || item.data !== edit || item.pending === null) return;
    if (item.rejected) throw new Error(item.rejected.replace(/^[a-zA-Z]+: /, ''));
  }
  throw new Error('the server has not acknowledged the change yet; it will be sent again');
}

/**
 * Creates (id undefined) or replaces an item; resolves with its local id once the server has it.
 * `basedOn` is the text the edit started from: if the item changed since (another device's edit came
 * in by push while the editor was open), nothing is written and the save fails, rather than putting
 * back what the other device changed without anyone seeing a conflict.
 */
export async function saveItem(collectionId: string, id: string | undefined, data: string, basedOn?: string): Promise<string> {
  const a = requireAccount();
  const localId = id ?? newId();
  a.replica.transaction((tx) => {
    const current = tx.get(collectionId, localId);
    if (basedOn !== undefined && current && current.data !== basedOn) {
      throw new Error('This item was changed on another device while you were editing it. Close the editor and open it again to see the change.');
    }
    recordLocalPut(tx, collectionId, localId, data);
  });
  changed();
  await settle(a, collectionId, localId, data);
  return localId;
}

export async function deleteItem(collectionId: string, id: string): Promise<void> {
  const a = requireAccount();
  a.replica.transaction((tx) => recordLocalDelete(tx, collectionId, id));
  changed();
  await settle(a, collectionId, id, null);
}

/** The server id of an item the server has acknowledged; mail items always are (only the server adds them). */
function serverIdOf(a: Account, collectionId: string, id: string): string {
  const serverId = a.replica.transaction((tx) => tx.get(collectionId, id))?.serverId;
  if (!serverId) throw new Error('This message is not on the server (any more).');
  return serverId;
}

/** A part of a mail item by its token, or the whole message (`raw`): docs/protocol.md §10.6. */
export async function fetchMailPart(collectionId: string, id: string, part: string): Promise<{ bytes: Uint8Array; contentType: string; fileName: string | null }> {
  const a = requireAccount();
  return a.transport.fetchMailPart(collectionId, serverIdOf(a, collectionId, id), part);
}

/** Where the browser downloads a part of a mail item with the session cookie (docs/protocol.md §10.6). */
export function mailPartUrl(collectionId: string, id: string, part: string): string {
  const a = requireAccount();
  return `/api/v1/collections/${encodeURIComponent(collectionId)}/items/${encodeURIComponent(serverIdOf(a, collectionId, id))}/parts/${encodeURIComponent(part)}`;
}

/**
 * Moves a message to another folder of its mail account (docs/protocol.md §10.5). A flag change still
 * waiting goes first, since the server moves the version it holds. The destination is synced at once;
 * resolves with the message's local id there, or null when that sync did not bring it (it failed, or the
 * message is gone already).
 */
export async function moveMail(collectionId: string, id: string, to: string): Promise<string | null> {
  const a = requireAccount();
  const item = a.replica.transaction((tx) => tx.get(collectionId, id));
  if (item?.pending) await settle(a, collectionId, id, item.data);
  const moved = await a.transport.moveMessage(collectionId, serverIdOf(a, collectionId, id), { device: { id: a.deviceId }, to });
  if (account !== a) return null;
  a.replica.transaction((tx) => recordMoved(tx, collectionId, id));
  changed();
  // The destination's sync brings the message (recordMoved says why it is not added here).
  try {
    await a.client.syncCollection(to);
  } catch (err) {
    syncFailed(err);
    return null;
  }
  if (account !== a) return null;
  return moved.serverId !== undefined && a.replica.transaction((tx) => tx.get(to, moved.serverId as string)) ? moved.serverId : null;
}

/** Sends a message through the account's mail server (docs/protocol.md §10.7); the same client id is never sent twice. */
export function sendMail(request: SendMailRequest): Promise<MailSent> {
  return requireAccount().transport.sendMail(request);
}
