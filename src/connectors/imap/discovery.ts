import { limits } from '../../core/limits.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';
import type { ImapSession } from './session.js';

/** A folder of an IMAP account, as `upstream add` maps it to a mail collection. */
export interface ImapFolder {
  /** The account's URL with the folder's path as its one path segment, percent-encoded: the mapping's URL. */
  url: string;
  path: string;
  /** The path with its levels joined by "/", whatever the server's delimiter. */
  displayName: string;
  /** RFC 6154's special use (\Sent, \Trash, …), if the server says. */
  specialUse: string | undefined;
}

/** The folder a mapping's URL names. */
export function folderPathOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export function folderUrl(accountUrl: string, path: string): string {
  const url = new URL(accountUrl);
  url.pathname = `/${encodeURIComponent(path)}`;
  return url.href;
}

/** Every folder that can hold messages (not \Noselect or \NonExistent), at most limits.upstreamCollectionsMax + 1 (the caller refuses more). */
export async function discoverFolders(session: ImapSession): Promise<ImapFolder[]> {
  const client = await session.client();
  let listed;
  try {
    listed = await client.list();
  } catch (err) {
    throw new UpstreamError('protocol', `LIST failed: ${(err as Error).message}`);
  }
  const folders: ImapFolder[] = [];
  for (const box of listed) {
    if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
    const displayName = box.delimiter ? box.path.split(box.delimiter).join('/') : box.path;
    folders.push({ url: folderUrl(session.url, box.path), path: box.path, displayName, specialUse: box.specialUse });
    if (folders.length > limits.upstreamCollectionsMax) break;
  }
  return folders;
}
