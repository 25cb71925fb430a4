import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { carried, foldersOf, hierarchyStateKey, isDefaultFolder, isUpstreamFolder, kindOfType, type Folder, type HierarchyState } from '../folders.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { folderStatus } from './folder-sync.js';

/**
 * FolderCreate, FolderUpdate and FolderDelete (MS-ASCMD 2.2.1.3, 2.2.1.7, 2.2.1.4): collections made,
 * renamed and deleted from the device. Each needs the device's current FolderSync key and answers with
 * the next one, under which the hierarchy already includes the change, so the next FolderSync does not
 * send the device its own edit back.
 */
const fh = namespace('FolderHierarchy');

/** An edit's outcome, and what it does to the hierarchy the device was last sent. */
type Outcome = { status: number; serverId?: string; apply?: (folders: Record<string, Folder>, live: Record<string, Folder>) => void };

async function edit(ctx: EasContext, body: WbxmlElement | undefined, root: string, change: (key: number) => Promise<Outcome>): Promise<WbxmlElement> {
  const sent = text(child(body, 'SyncKey'));
  if (sent === undefined || !/^\d{1,15}$/.test(sent)) return fh(root, fh('Status', String(folderStatus.badRequest)));
  const key = Number(sent);
  const raw = await ctx.hub.readFaceState(ctx.point.accountId, ctx.point.device.id, hierarchyStateKey);
  const current = raw === undefined ? undefined : (JSON.parse(raw) as HierarchyState);
  if (!current || current.key !== key) return fh(root, fh('Status', String(folderStatus.invalidKey)));
  let outcome: Outcome;
  try {
    outcome = await change(key);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    const status = err.status === 'conflict' ? folderStatus.exists : err.status === 'notFound' ? folderStatus.notFound : folderStatus.badRequest;
    return fh(root, fh('Status', String(status)));
  }
  if (outcome.status !== folderStatus.success) return fh(root, fh('Status', String(outcome.status)));
  // The new key's hierarchy is the one the device had plus its own edit, and nothing else: changes made
  // elsewhere in the meantime still reach it with its next FolderSync.
  const next = await ctx.hub.withFaceState(ctx.point, hierarchyStateKey, (collections, latest) => {
    const state = latest === undefined ? current : (JSON.parse(latest) as HierarchyState);
    const folders = { ...state.folders };
    outcome.apply?.(folders, foldersOf(collections));
    const updated: HierarchyState = { key: state.key + 1, folders, previous: { key: state.key, folders: state.folders } };
    return { state: JSON.stringify(updated), result: updated.key };
  });
  return fh(root, fh('Status', String(folderStatus.success)), fh('SyncKey', String(next)), outcome.serverId !== undefined && fh('ServerId', outcome.serverId));
}

function copyFolder(id: string, folders: Record<string, Folder>, live: Record<string, Folder>): void {
  const folder = live[id];
  if (folder) folders[id] = folder;
}

/** Collections need an account-unique handle; a device only gives a display name. */
function nameFor(displayName: string): string {
  const slug = displayName.normalize('NFKD').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).toLowerCase();
  return `${slug || 'folder'}-${randomBytes(4).toString('hex')}`;
}

export function folderCreate(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  return edit(ctx, body, 'FolderCreate', async () => {
    const displayName = text(child(body, 'DisplayName'))?.trim();
    const kind = kindOfType(Number(text(child(body, 'Type'))));
    if (!displayName || displayName.length > 200 || !kind) return { status: folderStatus.badRequest };
    if (text(child(body, 'ParentId')) !== '0') return { status: folderStatus.parentNotFound };
    const collections = carried(await ctx.hub.accounts.listCollections(ctx.point.accountId));
    if (collections.some((c) => c.kind === kind && c.displayName === displayName)) return { status: folderStatus.exists };
    const created = await ctx.hub.accounts.createCollection(ctx.point.accountId, { name: nameFor(displayName), kind, displayName });
    return { status: folderStatus.success, serverId: created.id, apply: (folders, live) => copyFolder(created.id, folders, live) };
  });
}

export function folderUpdate(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  return edit(ctx, body, 'FolderUpdate', async () => {
    const id = text(child(body, 'ServerId')) ?? '';
    const displayName = text(child(body, 'DisplayName'))?.trim();
    if (!displayName || displayName.length > 200) return { status: folderStatus.badRequest };
    // Folders all live under the root: moving one elsewhere is not something collections can do.
    if (text(child(body, 'ParentId')) !== '0') return { status: folderStatus.parentNotFound };
    // A mail folder is the IMAP account's: renamed there, not here (Status 2: a special folder).
    const collection = (await ctx.hub.accounts.listCollections(ctx.point.accountId)).find((c) => c.id === id);
    if (collection && isUpstreamFolder(collection.kind)) return { status: folderStatus.exists };
    await ctx.hub.accounts.updateCollection(ctx.point.accountId, id, { displayName });
    return { status: folderStatus.success, apply: (folders, live) => copyFolder(id, folders, live) };
  });
}

export function folderDelete(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  return edit(ctx, body, 'FolderDelete', async () => {
    const id = text(child(body, 'ServerId')) ?? '';
    const collections = await ctx.hub.accounts.listCollections(ctx.point.accountId);
    const folders = foldersOf(collections);
    const folder = Object.hasOwn(folders, id) ? folders[id] : undefined;
    if (!folder) return { status: folderStatus.notFound };
    // A kind's default folder is what clients put new items in; Exchange refuses to delete it too. A
    // mail folder is the IMAP account's: deleted there, not here.
    if (isDefaultFolder(folder) || collections.some((c) => c.id === id && isUpstreamFolder(c.kind))) return { status: folderStatus.specialFolder };
    await ctx.hub.accounts.deleteCollection(ctx.point.accountId, id);
    return { status: folderStatus.success, apply: (known) => void delete known[id] };
  });
}
