import type { EasContext } from '../context.js';
import { diffFolders, foldersOf, hierarchyStateKey, type Folder, type HierarchyChanges, type HierarchyState } from '../folders.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * FolderSync (MS-ASCMD 2.2.1.5): the folder hierarchy with a sync key of its own. Key 0 sends every
 * folder; the current key sends what changed since it was issued (a new key only if something did);
 * the previous key, a retry of a lost answer, gets that same answer again; any other key gets Status 9
 * and the client starts over from 0.
 */
const fh = namespace('FolderHierarchy');

export const folderStatus = { success: 1, exists: 2, specialFolder: 3, notFound: 4, parentNotFound: 5, serverError: 6, invalidKey: 9, badRequest: 10 } as const;

export async function folderSync(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const sent = text(child(body, 'SyncKey'));
  if (sent === undefined || !/^\d{1,15}$/.test(sent)) return fh('FolderSync', fh('Status', String(folderStatus.badRequest)));
  const key = Number(sent);
  const answer = await ctx.hub.withFaceState(ctx.point, hierarchyStateKey, (collections, raw) => {
    const state = raw === undefined ? undefined : (JSON.parse(raw) as HierarchyState);
    const live = foldersOf(collections);
    const keep = { state: raw, result: undefined };
    if (key === 0) {
      const next: HierarchyState = { key: 1, folders: live };
      return { state: JSON.stringify(next), result: { key: 1, changes: diffFolders({}, live) } };
    }
    if (state && key === state.key) {
      const changes = diffFolders(state.folders, live);
      if (isEmpty(changes)) return { ...keep, result: { key, changes } };
      const next: HierarchyState = { key: key + 1, folders: live, previous: { key, folders: state.folders } };
      return { state: JSON.stringify(next), result: { key: key + 1, changes } };
    }
    if (state?.previous && key === state.previous.key) return { ...keep, result: { key: state.key, changes: diffFolders(state.previous.folders, state.folders) } };
    return keep;
  });
  if (!answer) return fh('FolderSync', fh('Status', String(folderStatus.invalidKey)));
  const { changes } = answer;
  const folder = (name: string, [id, f]: [string, Folder]) => fh(name, fh('ServerId', id), fh('ParentId', '0'), fh('DisplayName', f.name), fh('Type', String(f.type)));
  return fh(
    'FolderSync',
    fh('Status', String(folderStatus.success)),
    fh('SyncKey', String(answer.key)),
    fh(
      'Changes',
      fh('Count', String(changes.added.length + changes.updated.length + changes.deleted.length)),
      ...changes.deleted.map((id) => fh('Delete', fh('ServerId', id))),
      ...changes.added.map((f) => folder('Add', f)),
      ...changes.updated.map((f) => folder('Update', f)),
    ),
  );
}

const isEmpty = (c: HierarchyChanges) => c.added.length + c.updated.length + c.deleted.length === 0;
