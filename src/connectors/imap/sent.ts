import type { ImapSession } from './session.js';
import { problemOf } from './session.js';

/**
 * The account's Sent folder (docs/protocol.md §10.7): the one LIST marks `\Sent` (RFC 6154), else one
 * named Sent; a copy of each message sent is filed there, read (`\Seen`), and a send whose outcome is
 * unknown is looked for there by its Message-ID.
 */
async function sentPath(session: ImapSession): Promise<string | undefined> {
  const client = await session.client();
  const folders = await client.list();
  return (folders.find((f) => f.specialUse === '\\Sent') ?? folders.find((f) => f.path.toLowerCase() === 'sent'))?.path;
}

/** Files `message` in the Sent folder as read; the folder's path, or undefined when the account has none. */
export async function fileInSent(session: ImapSession, message: Buffer): Promise<string | undefined> {
  try {
    const path = await sentPath(session);
    if (path === undefined) return undefined;
    await (await session.client()).append(path, message, ['\\Seen']);
    return path;
  } catch (err) {
    throw problemOf(err, new URL(session.url).host);
  }
}

/** Whether the Sent folder holds a message with that Message-ID (angle brackets included). */
export async function inSent(session: ImapSession, messageId: string): Promise<boolean> {
  try {
    const path = await sentPath(session);
    if (path === undefined) return false;
    const client = await session.client();
    const lock = await client.getMailboxLock(path, { readOnly: true });
    try {
      const found = await client.search({ header: { 'message-id': messageId } }, { uid: true });
      return Array.isArray(found) && found.length > 0;
    } finally {
      lock.release();
    }
  } catch (err) {
    throw problemOf(err, new URL(session.url).host);
  }
}
