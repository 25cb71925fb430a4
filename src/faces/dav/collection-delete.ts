import type { Hub } from '../../hub/hub.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { CollectionRow } from '../../hub/records.js';

/**
 * DELETE of a whole collection (RFC 4918 §9.6.1): the collection and everything in it go, through the
 * hub's one way of deleting a collection (the same the native API and ActiveSync FolderDelete use), so
 * every other sync point learns of it: native devices are answered notFound for it, ActiveSync
 * FolderSync reports it deleted, DAV clients no longer find it in the home. A calendar's tasks
 * collection goes with it (docs/dav.md § Calendars made without a component set). False if another
 * request deleted it first.
 */
export async function deleteCollection(hub: Hub, collection: CollectionRow): Promise<boolean> {
  try {
    await hub.accounts.deleteCollection(collection.accountId, collection.id);
    return true;
  } catch (err) {
    if (err instanceof ProtocolError && err.status === 'notFound') return false;
    throw err;
  }
}
