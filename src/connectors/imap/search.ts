import { remoteIdOf } from './remote-ids.js';
import type { ImapSession } from './session.js';

/**
 * A search of an account's folders (docs/eas.md § Searching mail): each word must appear in the
 * message's subject, sender, recipients or body (IMAP SEARCH SUBJECT / FROM / TO / CC / BODY, RFC 9051
 * §6.4.4), not in any header: TEXT would match the Received and Message-ID lines every message has, so a
 * search for a domain name would find everything. IMAP SEARCH has no AND of ORs that imapflow compiles,
 * so each word is one SEARCH and the folder's answer is what all of them found.
 */
export interface FolderHits {
  path: string;
  /** How many messages of the folder match. */
  total: number;
  /** The remote ids (UIDVALIDITY/UID/FOLDER) of the newest `max` of them (highest UID first). */
  remoteIds: string[];
}

export async function searchFolders(session: ImapSession, paths: readonly string[], words: readonly string[], max: number): Promise<FolderHits[]> {
  const out: FolderHits[] = [];
  for (const path of paths) {
    const box = await session.open(path);
    const client = await session.client();
    let uids: Set<number> | undefined;
    for (const word of words) {
      const found = await session.asking(() =>
        client.search({ or: [{ subject: word }, { from: word }, { to: word }, { cc: word }, { body: word }] }, { uid: true }),
      );
      const these = new Set(Array.isArray(found) ? found : []);
      uids = uids === undefined ? these : new Set([...uids].filter((uid) => these.has(uid)));
      if (uids.size === 0) break;
    }
    const newest = [...(uids ?? [])].sort((a, b) => b - a);
    out.push({ path, total: newest.length, remoteIds: newest.slice(0, max).map((uid) => remoteIdOf(path, String(box.uidValidity), uid)) });
  }
  return out;
}
