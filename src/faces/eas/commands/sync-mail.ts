import { ProtocolError } from '../../../protocol/errors.js';
import { limits } from '../../../core/limits.js';
import { parseMailItem, rawPart } from '../../../content/mail/item.js';
import { preferenceFor } from '../mapping/email.js';
import { partBytes } from '../part-bytes.js';
import type { EasContext } from '../context.js';
import { foldersOf } from '../folders.js';
import type { BodyPreference, WholeBody } from '../mapping/item-mapper.js';
import { syncStatus } from '../status.js';
import { child, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * What Sync does for mail folders beyond other classes (docs/eas.md § Mail): a Delete that is a move to
 * the Deleted Items folder, bodies fetched whole when the device asks for more than an item holds, and
 * Soft deletes for messages that leave the FilterType window as time passes.
 */

/** FolderSync type of the Deleted Items folder (MS-ASCMD 2.2.3.186.3). */
const deletedItemsType = 4;

/** DeletesAsMoves (MS-ASCMD 2.2.3.43): absent or 1, a Delete moves the message to Deleted Items. */
export const deletesAsMoves = (collection: WbxmlElement) => text(child(collection, 'DeletesAsMoves')) !== '0';

/**
 * The Deleted Items folder of the mail account `from` is a folder of (its folders typed on their own, as
 * FolderSync types one account's), unless it is `from` itself (a delete there deletes). Of the same mail
 * account: with two, the first account's Deleted Items is no place for the second's messages, and a move
 * there would be refused and taken for a delete.
 */
export async function trashFor(ctx: EasContext, from: string): Promise<string | undefined> {
  let siblings: Set<string>;
  try {
    siblings = new Set(await ctx.hub.mail.folderSiblings(ctx.point.accountId, from));
  } catch (err) {
    // A mail collection of no IMAP account (its upstream removed meanwhile): a delete deletes.
    if (err instanceof ProtocolError && err.status === 'notFound') return undefined;
    throw err;
  }
  const folders = foldersOf((await ctx.hub.accounts.listCollections(ctx.point.accountId)).filter((c) => siblings.has(c.id)));
  const trash = Object.entries(folders).find(([, f]) => f.type === deletedItemsType)?.[0];
  return trash === from ? undefined : trash;
}

/**
 * Moves the messages the device deleted to the Deleted Items folder at the IMAP server, all on one
 * connection (hub.mail.moveAll). For each: 'moved'; 'delete' when it cannot be moved there and is deleted
 * instead (no live item: a retry after a lost answer, which the hub then answers as any delete; or
 * another account's folders); or the item Status for a mail server that cannot be reached (16, try
 * again: nothing changed).
 */
export async function movesToTrash(ctx: EasContext, from: string, serverIds: readonly string[], trash: string): Promise<Map<string, 'moved' | 'delete' | number>> {
  const ids = [...new Set(serverIds)];
  const outcomeOf = (err: ProtocolError) => {
    if (err.status === 'notFound' || err.status === 'invalidRequest') return 'delete';
    ctx.logger.info({ deviceId: ctx.point.device.id, err: err.message }, 'ActiveSync delete not moved to Deleted Items');
    return syncStatus.retry;
  };
  let outcomes: Array<string | null | ProtocolError>;
  try {
    outcomes = ids.length === 0 ? [] : await ctx.hub.mail.moveAll(ctx.point, from, ids, trash);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    const all = outcomeOf(err);
    return new Map(ids.map((id) => [id, all]));
  }
  return new Map(ids.map((id, i) => {
    const outcome = outcomes[i];
    return [id, outcome instanceof ProtocolError ? outcomeOf(outcome) : 'moved'];
  }));
}

/**
 * The cost rule for fetching bodies from the mail server (docs/eas.md § Mail): a body is fetched whole
 * only when the device asks for more than the item holds (its text is incomplete and the TruncationSize is
 * larger than that text, or absent), or for HTML where the item holds the plain version of a message that
 * has an HTML one; only for bodies of at most `easMailBodyBytesMax` (the message's size less its
 * attachments), and for at most `easMailBodiesPerAnswerMax` items per answer, the first ones. Fetched
 * parts are kept in the hub's blob store, so a second device or a second ask costs no IMAP round trip.
 * Any failure (the mail server out of reach, three fetches of the account already under way) leaves the
 * portion the item holds, marked Truncated. A device that gets MIME (email.ts preferenceFor) is fetched the
 * whole message under the same rule, when it is at most `mimeBytesMax` bytes; one not fetched gets the text
 * the item holds.
 */
export async function wholeBodies(
  ctx: EasContext,
  collectionId: string,
  items: ReadonlyArray<{ serverId: string; data: string }>,
  pref: BodyPreference | undefined,
  mimeBytesMax: number = limits.easMailBodyBytesMax,
): Promise<Map<string, WholeBody>> {
  const out = new Map<string, WholeBody>();
  let tried = 0;
  for (const { serverId, data } of items) {
    if (tried >= limits.easMailBodiesPerAnswerMax) break;
    const item = parseMailItem(data);
    if (typeof item === 'string') continue;
    // MIME: the whole message, as the IMAP server holds it, when it is at most `mimeBytesMax`.
    if (preferenceFor(item, pref)?.type === 4) {
      if (item.size > mimeBytesMax) continue;
      tried++;
      try {
        const got = await ctx.hub.mail.fetchPart(ctx.point.accountId, collectionId, serverId, rawPart);
        const read = await partBytes(got.body, mimeBytesMax);
        if (read) out.set(serverId, { type: 'message/rfc822', bytes: read.bytes });
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
      }
      continue;
    }
    if (item.body === null) continue;
    const body = item.body;
    const held = Buffer.byteLength(body.text);
    const wantsMore = !body.complete && (pref?.truncationSize === undefined || pref.truncationSize > held);
    const wantsHtml = pref?.type === 2 && body.type === 'text/plain' && body.htmlPart !== null;
    if (!wantsMore && !wantsHtml) continue;
    const size = item.size - item.attachments.reduce((n, a) => n + a.size, 0);
    if (size > limits.easMailBodyBytesMax) continue;
    const part = wantsHtml ? (body.htmlPart as string) : body.part;
    tried++;
    try {
      const got = await ctx.hub.mail.fetchPart(ctx.point.accountId, collectionId, serverId, part);
      if (!('bytes' in got.body)) {
        await got.body.close();
        continue;
      }
      // fetchPart converts text to UTF-8 when it knows the charset; one it could not convert is left out.
      const charset = /;\s*charset=([^;\s]+)/i.exec(got.contentType)?.[1]?.toLowerCase();
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'us-ascii') continue;
      out.set(serverId, { type: wantsHtml ? 'text/html' : body.type, text: Buffer.from(got.body.bytes).toString('utf8') });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
    }
  }
  return out;
}

const windowsStateKey = 'eas.mailWindows';

/** Per mail folder: the key of the answer that soft-deleted what arrived in [from, to). */
type Windows = Record<string, { key: number; from: number; to: number }>;

/**
 * The messages to Soft delete (MS-ASCMD 2.2.3.170) in the answer to `key`: those that arrived in
 * [from, to), where `from` is where the window started when the device's previous key was answered and
 * `to` where it starts now (the hub lists changes from there, so the two never overlap). What each key
 * soft-deleted is kept with it (the device's face state), so an answer asked again after it was lost
 * soft-deletes the same messages, and the next key goes on from there. Key 0 starts over. At most
 * `windowMax` messages per answer; those past it stay on the device (docs/eas.md § Mail).
 */
export async function softDeletes(ctx: EasContext, collectionId: string, key: number, windowStart: number | undefined, max: number): Promise<string[]> {
  const span = await ctx.hub.withFaceState(ctx.point, windowsStateKey, (live, raw) => {
    const all: Windows = raw === undefined ? {} : (JSON.parse(raw) as Windows);
    const before = all[collectionId];
    let now: Windows[string] | undefined;
    if (key === 0 || windowStart === undefined) now = undefined;
    else if (before?.key === key) now = before;
    else if (before && key > before.key) now = { key, from: before.to, to: Math.max(before.to, windowStart) };
    else now = { key, from: windowStart, to: windowStart };
    if (now) all[collectionId] = now;
    else delete all[collectionId];
    const kept = Object.fromEntries(live.filter((c) => all[c.id]).map((c) => [c.id, all[c.id]]));
    return { state: Object.keys(kept).length === 0 ? undefined : JSON.stringify(kept), result: now };
  });
  if (!span || !(span.to > span.from)) return [];
  const ids: string[] = [];
  for await (const page of ctx.hub.members(ctx.point.accountId, collectionId, { withData: false, timeRange: { startMs: span.from, endMs: span.to } })) {
    for (const m of page) if (ids.length < max) ids.push(m.item.id);
    if (ids.length >= max) break;
  }
  return ids;
}

const movedInStateKey = 'eas.movedIn';

/**
 * Per mail folder: the DstMsgIds MoveItems answered this device that no Sync of the folder has covered
 * yet, oldest first, and the Deletes the answer to `last.key` sent for them.
 */
type MovedIn = Record<string, { ids: string[]; last?: { key: number; deleted: string[] } }>;

const readMovedIn = (raw: string | undefined): MovedIn => (raw === undefined ? {} : (JSON.parse(raw) as MovedIn));

/** The state to store: the account's live folders only, and none that holds nothing. */
function keptMovedIn(all: MovedIn, live: ReadonlyArray<{ id: string }>): string | undefined {
  const kept = Object.fromEntries(live.filter((c) => all[c.id]).map((c) => [c.id, all[c.id]]));
  return Object.keys(kept).length === 0 ? undefined : JSON.stringify(kept);
}

/**
 * Notes that MoveItems moved `itemId` out of `from` and told the device its id in `to` is `newId`. The
 * device files the message there itself (MS-ASCMD 2.2.1.12), but the hub wrote the new item as the
 * upstream's, so if it is deleted in `to` before the device's next Sync of `to`, that Sync sends neither
 * its Add nor its Delete (core/action-table.ts deriveAction: the device never had it), and the device
 * would keep it for good. That Sync deletes it instead (`movedInDeletes`). At most `easMovedInMax` ids
 * per folder, the oldest dropped first. `itemId` is no longer one to delete in `from`: the device moved it.
 */
export async function noteMovedIn(ctx: EasContext, from: string, itemId: string, to: string, newId: string): Promise<void> {
  await ctx.hub.withFaceState(ctx.point, movedInStateKey, (live, raw) => {
    const all = readMovedIn(raw);
    const source = all[from];
    if (source) source.ids = source.ids.filter((id) => id !== itemId);
    const target = (all[to] ??= { ids: [] });
    target.ids = [...target.ids.filter((id) => id !== newId), newId].slice(-limits.easMovedInMax);
    return { state: keptMovedIn(all, live), result: undefined };
  });
}

/**
 * The Deletes the answer to `key` of mail folder `collectionId` sends for messages the device moved there
 * (`noteMovedIn`) that are no longer live in it. An id is forgotten once an answer has covered it: it is
 * deleted there, or `told` (the answer carries it, or the device itself deleted it in this request), or
 * the answer brought every change up to now (`covered`: the device's next key is past the item's Add, so
 * its later Delete is sent as any other). What each key deleted is kept with it, so an answer asked again
 * after it was lost deletes the same messages. Key 0 starts over: the device drops what the folder held.
 * A device that moved nothing here costs one read.
 */
export async function movedInDeletes(ctx: EasContext, collectionId: string, key: number, told: ReadonlySet<string>, covered: boolean): Promise<string[]> {
  const entry = readMovedIn(await ctx.hub.readFaceState(ctx.point.accountId, ctx.point.device.id, movedInStateKey))[collectionId];
  if (!entry) return [];
  if (entry.last?.key === key) return entry.last.deleted;
  const checked = new Map<string, boolean>();
  if (key !== 0) {
    for (const id of entry.ids) if (!told.has(id)) checked.set(id, (await ctx.hub.readItem(ctx.point.accountId, collectionId, id)) !== undefined);
  }
  return ctx.hub.withFaceState(ctx.point, movedInStateKey, (live, raw) => {
    const all = readMovedIn(raw);
    const now = all[collectionId];
    if (now?.last?.key === key) return { state: raw, result: now.last.deleted };
    if (!now || key === 0) {
      delete all[collectionId];
      return { state: keptMovedIn(all, live), result: [] };
    }
    // Ids noted since they were checked wait for the next answer.
    const deleted = now.ids.filter((id) => checked.get(id) === false);
    const ids = now.ids.filter((id) => !told.has(id) && (checked.get(id) === undefined || (checked.get(id) === true && !covered)));
    if (ids.length === 0 && deleted.length === 0) delete all[collectionId];
    else all[collectionId] = { ids, last: { key, deleted } };
    return { state: keptMovedIn(all, live), result: deleted };
  });
}
