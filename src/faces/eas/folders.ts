import type { CollectionKind } from '../../protocol/collections.js';
import type { CollectionRow } from '../../hub/records.js';

/**
 * The folder hierarchy a device sees (MS-ASCMD FolderSync): one folder per collection, under the root
 * (ParentId 0). The first collection of each kind is that kind's default folder; the others are user
 * folders. There are no mail folders yet.
 */
export interface Folder {
  name: string;
  type: number;
}

/** FolderSync Type values (MS-ASCMD 2.2.3.186.3). */
export const folderTypes = {
  defaultTasks: 7,
  defaultCalendar: 8,
  defaultContacts: 9,
  defaultNotes: 10,
  userCalendar: 13,
  userContacts: 14,
  userTasks: 15,
  userNotes: 17,
} as const;

const typesOf: Record<CollectionKind, { default: number; user: number; class: string }> = {
  contacts: { default: folderTypes.defaultContacts, user: folderTypes.userContacts, class: 'Contacts' },
  events: { default: folderTypes.defaultCalendar, user: folderTypes.userCalendar, class: 'Calendar' },
  tasks: { default: folderTypes.defaultTasks, user: folderTypes.userTasks, class: 'Tasks' },
  notes: { default: folderTypes.defaultNotes, user: folderTypes.userNotes, class: 'Notes' },
};

/** The AirSync Class of a kind's items ("Contacts", "Calendar", "Tasks", "Notes"). */
export const classOf = (kind: CollectionKind) => typesOf[kind].class;

/** The kind a client's FolderCreate Type asks for; undefined for types we do not hold (mail, journal…). */
export function kindOfType(type: number): CollectionKind | undefined {
  for (const [kind, t] of Object.entries(typesOf)) if (t.user === type || t.default === type) return kind as CollectionKind;
  return undefined;
}

/** Folders by collection id, in the order collections were created. */
export function foldersOf(collections: readonly CollectionRow[]): Record<string, Folder> {
  const seen = new Set<CollectionKind>();
  const out: Record<string, Folder> = {};
  for (const c of collections) {
    const isDefault = !seen.has(c.kind);
    seen.add(c.kind);
    out[c.id] = { name: c.displayName, type: isDefault ? typesOf[c.kind].default : typesOf[c.kind].user };
  }
  return out;
}

export const isDefaultFolder = (folder: Folder) => folder.type < folderTypes.userCalendar;

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
