import type { Hub } from '../../hub/hub.js';
import { ProtocolError } from '../../protocol/errors.js';

/**
 * DELETE of a whole collection (RFC 4918 §9.6.1): the collection and everything in it go, through the
 * hub's one way of deleting a collection (the same the native API and ActiveSync FolderDelete use), so
 * every other sync point learns of it: native devices are answered notFound for it, ActiveSync
 * FolderSync reports it deleted, DAV clients no longer find it in the home. False if there is no such
 * collection (also when another request deleted it first).
 */
export async function deleteCollectionNamed(hub: Hub, accountId: string, name: string): Promise<boolean> {
  const found = await hub.accounts.findCollection(accountId, name);
  if (!found) return false;
  try {
    await hub.accounts.deleteCollection(accountId, found.id);
    return true;
  } catch (err) {
    if (err instanceof ProtocolError && err.status === 'notFound') return false;
    throw err;
  }
}
