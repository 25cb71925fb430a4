import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { etagOf } from '../content/etag.js';
import type { Collection, CollectionKind } from '../protocol/collections.js';
import { openSqliteReplica } from '../sdk/node/sqlite-replica.js';
import { reapDeleted, recordLocalDelete, recordLocalPut, type Replica } from '../sdk/replica.js';
import { SyncClient, type SyncClientOptions, type SyncSummary } from '../sdk/sync-loop.js';
import type { Transport } from '../sdk/transport.js';
import { resolveCollection } from './collections.js';

/**
 * Two-way sync of a folder of .vcf/.ics files (one item per file) with one collection.
 *
 * The folder's state lives in DIR/.syncpoint/: `folder.json` binds it to a server, account and
 * collection, and `replica.db` is the SDK's replica, whose appState per item is the etag of the file
 * as last seen or written. A file whose etag differs from it was edited by the user; an item whose
 * data differs from it was changed by the server. A crash at any point leaves a state that the next
 * run reconciles without loss: an item written but not yet recorded is seen as an identical edit,
 * which the server treats as a no-op.
 */
export interface FolderSyncOptions {
  dir: string;
  server: string;
  user: string;
  collectionName: string;
  kind?: CollectionKind;
  transport: Transport;
  client?: Partial<SyncClientOptions>;
}

export interface FolderSyncReport extends SyncSummary {
  collectionId: string;
  uploaded: { added: number; changed: number; deleted: number };
  written: number;
  removed: number;
}

interface FolderBinding {
  server: string;
  user: string;
  collectionName: string;
  collectionId: string;
  kind: CollectionKind;
  deviceId: string;
}

const itemFile = /\.(vcf|ics)$/i;

/** A folder bound to its collection, with its replica open. */
export interface OpenFolder {
  collectionId: string;
  deviceId: string;
  replica: Replica;
  client: SyncClient;
  /** Turns edits made in the folder into pending changes. */
  scan(): FolderSyncReport['uploaded'];
  /** Writes what the replica holds to the folder, and removes what the server deleted. */
  materialize(): { written: number; removed: number };
  close(): void;
}

/** The folder's binding to its collection, its replica and the sync client on it. */
export interface BoundFolder {
  collectionId: string;
  deviceId: string;
  kind: CollectionKind;
  replica: Replica;
  client: SyncClient;
}

/**
 * Binds `o.dir` to its collection at first use (DIR/.syncpoint/folder.json, the collection found by
 * `resolve`), and opens its replica with a sync client that names items `localIdFor(serverId)`; a folder
 * bound to another server, account or collection is refused. Shared by the Maildir sync (maildir-sync.ts).
 */
export async function bindFolder(o: FolderSyncOptions, resolve: () => Promise<Collection>, localIdFor: (serverId: string, kind: CollectionKind) => string): Promise<BoundFolder> {
  const stateDir = join(o.dir, '.syncpoint');
  mkdirSync(stateDir, { recursive: true });
  const bindingFile = join(stateDir, 'folder.json');
  let binding: FolderBinding | undefined = existsSync(bindingFile) ? (JSON.parse(readFileSync(bindingFile, 'utf8')) as FolderBinding) : undefined;
  if (binding && (binding.server !== o.server || binding.user !== o.user || binding.collectionName !== o.collectionName)) {
    throw new Error(`${o.dir} is bound to ${binding.user}@${binding.server} collection ${binding.collectionName}; use another folder`);
  }
  if (!binding) {
    const collection = await resolve();
    binding = { server: o.server, user: o.user, collectionName: o.collectionName, collectionId: collection.id, kind: collection.kind, deviceId: randomUUID() };
    writeAtomically(bindingFile, JSON.stringify(binding, null, 2));
  }
  const { collectionId, deviceId, kind } = binding;
  const replica = openSqliteReplica(join(stateDir, 'replica.db'));
  const client = new SyncClient({
    transport: o.transport,
    replica,
    device: { id: deviceId, name: `folder ${o.dir}` },
    localIdFor: (serverId) => localIdFor(serverId, kind),
    ...o.client,
  });
  return { collectionId, deviceId, kind, replica, client };
}

/** A server id as a file name's stem: what a file name may not hold, as `_`. */
export const fileStemOf = (serverId: string) => serverId.replace(/[^A-Za-z0-9_-]/g, '_');

export async function openFolder(o: FolderSyncOptions): Promise<OpenFolder> {
  const { collectionId, deviceId, kind, replica, client } = await bindFolder(
    o,
    () => resolveCollection(o.transport, o.collectionName, o.kind, guessKind(o.dir)),
    (serverId, kind) => `${fileStemOf(serverId)}${kind === 'contacts' ? '.vcf' : '.ics'}`,
  );
  if (kind === 'mail') {
    replica.close();
    throw new Error(`collection ${o.collectionName} is a mail folder: sync it into a Maildir with --kind mail`);
  }
  return {
    collectionId,
    deviceId,
    replica,
    client,
    scan: () => scanFolder(o.dir, replica, collectionId),
    materialize: () => materialize(o.dir, replica, collectionId),
    close: () => replica.close(),
  };
}

export async function syncFolder(o: FolderSyncOptions): Promise<FolderSyncReport> {
  const folder = await openFolder(o);
  try {
    const uploaded = folder.scan();
    const summary = await folder.client.syncCollection(folder.collectionId);
    return { ...summary, collectionId: folder.collectionId, uploaded, ...folder.materialize() };
  } finally {
    folder.close();
  }
}

/** Turn what the user did to the folder since the last run into pending edits. */
function scanFolder(dir: string, replica: Replica, collectionId: string): FolderSyncReport['uploaded'] {
  const counts = { added: 0, changed: 0, deleted: 0 };
  const onDisk = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    if (!itemFile.test(name) || !statSync(join(dir, name)).isFile()) continue;
    onDisk.set(name, readFileSync(join(dir, name), 'utf8'));
  }
  replica.transaction((tx) => {
    for (const [name, content] of onDisk) {
      const etag = etagOf(content);
      const item = tx.get(collectionId, name);
      if (item && item.appState === etag) continue;
      if (item?.data === content) {
        tx.put(collectionId, { ...item, appState: etag });
        continue;
      }
      recordLocalPut(tx, collectionId, name, content);
      tx.put(collectionId, { ...(tx.get(collectionId, name) as NonNullable<typeof item>), appState: etag });
      if (item?.serverId) counts.changed++;
      else counts.added++;
    }
    for (const item of tx.all(collectionId)) {
      if (!onDisk.has(item.localId) && item.appState !== null && item.data !== null) {
        recordLocalDelete(tx, collectionId, item.localId);
        counts.deleted++;
      }
    }
  });
  return counts;
}

/** Write the server's versions to the folder and remove what the server deleted. */
function materialize(dir: string, replica: Replica, collectionId: string): { written: number; removed: number } {
  let written = 0;
  const items = replica.transaction((tx) => tx.all(collectionId));
  for (const item of items) {
    if (item.data === null) continue;
    const etag = etagOf(item.data);
    if (etag === item.appState) continue;
    writeAtomically(join(dir, item.localId), item.data);
    replica.transaction((tx) => {
      const now = tx.get(collectionId, item.localId);
      if (now) tx.put(collectionId, { ...now, appState: etag });
    });
    written++;
  }
  const gone = replica.transaction((tx) => tx.all(collectionId).filter((i) => i.data === null && i.pending === null));
  for (const item of gone) rmSync(join(dir, item.localId), { force: true });
  const removed = replica.transaction((tx) => reapDeleted(tx, collectionId)).length;
  return { written, removed };
}

function writeAtomically(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { flush: true });
  renameSync(temp, path);
}

function guessKind(dir: string): CollectionKind {
  const names = existsSync(dir) ? readdirSync(dir) : [];
  return names.some((n) => extname(n).toLowerCase() === '.ics') ? 'events' : 'contacts';
}
