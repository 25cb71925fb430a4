import { problemOf, rowsAsked, type ImapSession } from './session.js';

/**
 * Messages of the Inbox marked by their subject, found, read and removed one by one: the requests of a
 * sync by mail (docs/protocol.md §21). Finding them is one `UID SEARCH SUBJECT` (the server's substring
 * match, ASCII case ignored) and one FETCH of size and envelope for the oldest `lookMax` found, never a
 * listing of the folder; a message is read whole only when the caller asks, once it knows its size.
 */

const inbox = 'INBOX';

export interface MarkedMessage {
  uid: number;
  /** `UIDVALIDITY/UID`: the message's name for good, where a UID alone is one only until the Inbox is rebuilt. */
  key: string;
  /** RFC822.SIZE: the message's size in bytes, as the server holds it. */
  size: number;
  /** The decoded Subject, '' when there is none. */
  subject: string;
  /** The Message-ID, angle brackets included, as the envelope has it; null when there is none. */
  messageId: string | null;
}

/** The Inbox messages whose subject holds `marker`, oldest (lowest UID) first, at most `lookMax`, those whose key is in `skip` left out. */
export async function findMarked(session: ImapSession, marker: string, lookMax: number, skip: ReadonlySet<string> = new Set()): Promise<MarkedMessage[]> {
  try {
    const box = await session.open(inbox);
    const keyOf = (uid: number) => `${box.uidValidity}/${uid}`;
    const client = await session.client();
    const found = await client.search({ subject: marker }, { uid: true });
    const uids = (Array.isArray(found) ? found : []).filter((uid) => !skip.has(keyOf(uid))).sort((a, b) => a - b).slice(0, lookMax);
    if (uids.length === 0) return [];
    const messages = await client.fetchAll(uids.join(','), { uid: true, size: true, envelope: true }, { uid: true });
    return [...rowsAsked(messages, new Set(uids), (m) => m.envelope !== undefined && m.size !== undefined).values()]
      .map((m) => ({ uid: m.uid, key: keyOf(m.uid), size: m.size ?? 0, subject: m.envelope?.subject ?? '', messageId: m.envelope?.messageId ?? null }))
      .sort((a, b) => a.uid - b.uid);
  } catch (err) {
    throw problemOf(err, new URL(session.url).host);
  }
}

/** The whole message (BODY.PEEK[], so it stays unread); undefined when the Inbox no longer holds it. */
export async function readMarked(session: ImapSession, uid: number): Promise<Buffer | undefined> {
  try {
    const client = await session.client();
    const message = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
    return message ? message.source : undefined;
  } catch (err) {
    throw problemOf(err, new URL(session.url).host);
  }
}

/** Deletes the message from the Inbox for good (\Deleted, then UID EXPUNGE of it alone), not to Trash: a request carries an app password. */
export async function removeMarked(session: ImapSession, uid: number): Promise<void> {
  try {
    const client = await session.client();
    await client.messageDelete(String(uid), { uid: true });
  } catch (err) {
    throw problemOf(err, new URL(session.url).host);
  }
}
