import { limits } from '../../core/limits.js';
import { mailItemOf } from '../../content/mail/message-item.js';
import { remoteIdOf, uidIn } from './remote-ids.js';
import { problemOf, type ImapSession } from './session.js';

/**
 * Drafts a device writes (docs/eas.md § Drafts): IMAP keeps no editable message, so each version of a
 * draft is a message of its own, APPENDed with \Draft and \Seen, and the version it replaces is expunged
 * once the hub holds the new one. The new message is read back as the folder's sync point reads it
 * (point.ts), so the item the hub writes for it is the one the point's next run would build: that run
 * finds it known and writes nothing.
 */

/**
 * Appends `message` to the folder at `path` as a draft: its remote id (UIDVALIDITY/UID/FOLDER), its
 * MODSEQ and its mail item, and the remote ids of the messages the folder held with its Message-ID
 * before (`before`: an earlier attempt whose answer was lost, an older version). Its UID is the one
 * APPENDUID gives (RFC 4315), or, from a server without UIDPLUS, the newest with its Message-ID there.
 */
export async function fileDraft(session: ImapSession, path: string, message: Buffer, messageId: string): Promise<{ remoteId: string; remoteEtag: string | null; data: string; before: string[] }> {
  const host = new URL(session.url).host;
  try {
    const client = await session.client();
    const opened = await session.open(path);
    const withId = async () => {
      const found = await client.search({ header: { 'message-id': messageId } }, { uid: true });
      return Array.isArray(found) ? found : [];
    };
    const before = await withId();
    const appended = await client.append(path, message, ['\\Draft', '\\Seen']);
    const box = await session.open(path);
    if (String(box.uidValidity) !== String(opened.uidValidity)) throw new Error(`folder ${path} changed its UIDVALIDITY while the draft was filed`);
    let uid = appended && appended.uidValidity !== undefined && String(appended.uidValidity) === String(box.uidValidity) ? appended.uid : undefined;
    uid ??= (await withId()).filter((u) => !before.includes(u)).at(-1);
    if (uid === undefined) throw new Error(`the draft appended to ${path} cannot be found there`);
    const read = await client.fetchOne(String(uid), { uid: true, flags: true, size: true, internalDate: true, bodyStructure: true, source: { maxLength: limits.upstreamMailSourceBytes } }, { uid: true });
    if (!read) throw new Error(`the draft appended to ${path} is gone already`);
    const data = mailItemOf({
      source: read.source ?? Buffer.alloc(0),
      bodyStructure: read.bodyStructure ?? { type: 'text/plain' },
      flags: read.flags ?? [],
      size: read.size ?? 0,
      internalDate: new Date(read.internalDate ?? 0),
    });
    const remoteIdAt = (u: number) => remoteIdOf(path, String(box.uidValidity), u);
    return { remoteId: remoteIdAt(uid), remoteEtag: read.modseq === undefined ? null : String(read.modseq), data, before: before.map(remoteIdAt) };
  } catch (err) {
    throw problemOf(err, host);
  }
}

/** Expunges the message `remoteId` of the folder at `path` (UID EXPUNGE); nothing when it names another UIDVALIDITY or is gone already. */
export async function expungeMessage(session: ImapSession, path: string, remoteId: string): Promise<void> {
  try {
    const box = await session.open(path);
    const uid = uidIn(remoteId, path, String(box.uidValidity));
    if (uid === undefined) return;
    await (await session.client()).messageDelete(String(uid), { uid: true });
  } catch (err) {
    throw problemOf(err, new URL(session.url).host);
  }
}
