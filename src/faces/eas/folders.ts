import type { CollectionKind } from '../../protocol/collections.js';
import type { CollectionRow } from '../../hub/records.js';
import { findKind, kindNames, kindOf } from '../../kinds/registry.js';

/**
 * The folder hierarchy a device sees (MS-ASCMD FolderSync): one folder per collection, under the root
 * (ParentId 0). The first collection of each kind is that kind's default folder; the others are user
 * folders. Mail folders are typed by their names instead (kinds/kind.ts EasFace namedFolders).
 */
export interface Folder {
  name: string;
  type: number;
}

/** FolderSync Type values from here up are folders the user made (MS-ASCMD 2.2.3.186.3); a kind's own are in its module (kinds/kind.ts EasFace). */
const userFolderTypeMin = 12;

/** How this face serves a collection's kind (kinds/kind.ts EasFace), or undefined for a kind it does not carry. */
const easFaceOf = (kind: CollectionKind) => findKind(kind)?.faces.eas;

/** The collections this face carries: those of a kind with an ActiveSync face; the others are neither listed nor synced. */
export const carried = (collections: readonly CollectionRow[]) => collections.filter((c) => easFaceOf(c.kind) !== undefined);

/** The AirSync Class of a kind's items ("Contacts", "Calendar", "Tasks", "Notes"). */
export const classOf = (kind: CollectionKind) => kindOf(kind).faces.eas?.class ?? '';

/** The kind a client's FolderCreate Type asks for; undefined for types we do not hold (journal…) or whose folders are another server's (mail). */
export function kindOfType(type: number): CollectionKind | undefined {
  return kindNames().find((name) => {
    const face = easFaceOf(name);
    return face !== undefined && face.namedFolders === undefined && (face.userFolderType === type || face.defaultFolderType === type);
  });
}

/** Whether a device may not create, rename or delete folders of this kind: they are another server's (an IMAP account's). */
export const isUpstreamFolder = (kind: CollectionKind) => easFaceOf(kind)?.namedFolders !== undefined;

/**
 * The well-known name a folder is typed by: the whole name for a top-level folder, or the name under
 * INBOX for servers that keep every folder there (`INBOX/Sent`); INBOX itself only as a whole name.
 */
function wellKnownName(displayName: string): string {
  const lower = displayName.toLowerCase();
  return lower.startsWith('inbox/') ? lower.slice('inbox/'.length) : lower;
}

/** Folders by collection id, in the order collections were created; collections this face does not carry are left out. */
export function foldersOf(collections: readonly CollectionRow[]): Record<string, Folder> {
  const seen = new Set<CollectionKind>();
  const taken = new Set<number>();
  const out: Record<string, Folder> = {};
  for (const c of collections) {
    const face = easFaceOf(c.kind);
    if (face === undefined) continue;
    if (face.namedFolders) {
      // Exactly one folder of each type: the first of its name (the first account's INBOX is the Inbox).
      const named = Object.hasOwn(face.namedFolders, wellKnownName(c.displayName)) ? face.namedFolders[wellKnownName(c.displayName)] : undefined;
      const type = named !== undefined && !taken.has(named) ? named : face.userFolderType;
      taken.add(type);
      out[c.id] = { name: c.displayName, type };
      continue;
    }
    const isDefault = !seen.has(c.kind);
    seen.add(c.kind);
    out[c.id] = { name: c.displayName, type: isDefault ? face.defaultFolderType : face.userFolderType };
  }
  return out;
}

export const isDefaultFolder = (folder: Folder) => folder.type < userFolderTypeMin;

export interface HierarchyChanges {
  added: Array<[string, Folder]>;
  updated: Array<[string, Folder]>;
  deleted: string[];
}

export function diffFolders(before: Record<string, Folder>, after: Record<string, Folder>): HierarchyChanges {
  const added: Array<[string, Folder]> = [];
  const updated: Array<[string, Folder]> = [];
  for (const [id, folder] of Object.entries(after)) {
    const old = before[id];
    if (!old) added.push([id, folder]);
    else if (old.name !== folder.name || old.type !== folder.type) updated.push([id, folder]);
  }
  const deleted = Object.keys(before).filter((id) => !(id in after));
  return { added, updated, deleted };
}

/**
 * What the device was last sent: the hierarchy under its current FolderSync key, and the one before,
 * so a FolderSync retried with the previous key gets the same answer again.
 */
export interface HierarchyState {
  key: number;
  folders: Record<string, Folder>;
  previous?: { key: number; folders: Record<string, Folder> };
}

export const hierarchyStateKey = 'eas.folders';
