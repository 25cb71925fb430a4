import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SubmissionError, UpstreamError } from '../protocol/upstream-errors.js';
import { limits } from '../core/limits.js';
import { mailItemJson, parseMailItem, rawPart, type MailItem } from '../content/mail/item.js';
import { composeMessage, prepareMessage, tooLarge, withoutField, type Outgoing } from '../content/mail/outgoing.js';
import type { MailPartAnswer } from '../protocol/mail-parts.js';
import type { MailSent, SendMailRequest } from '../protocol/mail-send.js';
import { limitReached, ProtocolError } from '../protocol/errors.js';
import type { MailSendRow, Store, StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store/store.js';
import { movable, moveWithin, type DevicePoint } from './device-items.js';
import { displacedId, type PointRecord } from '../protocol/server-point.js';
import { writeItem, writeTombstone } from './item-writes.js';
import type { HubPorts } from './ports.js';
import { checkItem } from '../kinds/registry.js';
import { openExchange } from './sync.js';
import { openUpstreamPassword, upstreamRunName, type UpstreamAccess } from './upstreams.js';

/**
 * Mail beyond its sync (docs/design.md § Mail): what the hub asks of an account's IMAP/SMTP upstream on
 * a device's behalf, through the connector the server hands in (the hub reaches no network itself).
 */

/** One part of one message, as a device asks for it (docs/protocol.md §10.6). */
export interface MailPartRequest {
  /** The folder's URL, as the upstream's mapping holds it. */
  folderUrl: string;
  /** The message, as the folder's sync point names it: `UIDVALIDITY/UID/FOLDER`. */
  remoteId: string;
  /** The part token of the mail item: the part's IMAP section. */
  part: string;
  /** The most bytes it may decode to (limits.mailPartBytesMax). */
  bytesMax: number;
}

/** What the gateway found (it throws an UpstreamError when the server cannot be reached or refuses): the connector's answer, a part with how to end its fetch. */
export type MailPartFetch =
  | Exclude<MailPartAnswer, { found: 'part' }>
  | (Extract<MailPartAnswer, { found: 'part' }> & {
      /** Ends the fetch (the IMAP connection): once `content` is read, or when it is given up. */
      close(): Promise<void>;
    });

/** What the hub asks of an IMAP/SMTP upstream beyond its sync runs; the server's IMAP connector gives it (server/upstream-connector.ts). */
export interface MailGateway {
  /** One part of one message of the upstream's account. */
  fetchPart(upstream: MailAccount, request: MailPartRequest): Promise<MailPartFetch>;
  /**
   * Moves the messages `remoteIds` (UIDVALIDITY/UID/FOLDER) of folder `from` to folder `to` (IMAP MOVE), on
   * one connection: for each, in order, its remote id there; null when the server did not say (no UIDPLUS);
   * `gone` when `from` no longer holds it.
   */
  move(upstream: MailAccount, from: string, remoteIds: readonly string[], to: string): Promise<Array<string | null | 'gone'>>;
  /**
   * Hands `message` to the upstream's submission server for `envelope` (docs/protocol.md §10.7); `ready`
   * runs once signed in, before the SMTP transaction begins (the send is recorded there). Fails with a
   * SubmissionError (protocol/upstream-errors.ts) saying whether the message may have gone out.
   */
  submit(account: SubmissionAccount, envelope: { from: string; to: string[] }, message: Buffer, ready: () => Promise<void>): Promise<Submitted>;
  /** Files `message` as read in the account's Sent folder; its path, or undefined when there is none. */
  fileInSent(account: MailAccount, message: Buffer): Promise<string | undefined>;
  /** Whether the Sent folder holds a message with that Message-ID. */
  findInSent(account: MailAccount, messageId: string): Promise<boolean>;
  /**
   * The messages of each folder (its path) whose subject, addresses or body hold every one of `words`
   * (IMAP SEARCH): how many, and the remote ids of the newest `max`.
   */
  search(account: MailAccount, folders: readonly string[], words: readonly string[], max: number): Promise<Array<{ path: string; total: number; remoteIds: string[] }>>;
  /**
   * Appends `message` to the folder `path` as a draft (\Draft \Seen) and reads it back as the folder's
   * sync point reads its messages: its remote id, its MODSEQ, and its mail item. `messageId` finds it
   * on a server that does not say its UID (no UIDPLUS).
   */
  fileDraft(account: MailAccount, path: string, message: Buffer, messageId: string): Promise<FiledDraft>;
  /** Expunges the message `remoteId` of the folder `path`; nothing when it is gone already. */
  expunge(account: MailAccount, path: string, remoteId: string): Promise<void>;
}

/** A draft the gateway filed (MailGateway.fileDraft), and the messages of its folder with its Message-ID before. */
export interface FiledDraft {
  remoteId: string;
  remoteEtag: string | null;
  data: string;
  before: string[];
}

/**
 * A version of a draft a device wrote (Mail.saveDraft): a new draft under the device's id for it, or a
 * new version of the draft item `serverId`. `sending`: a new draft about to be sent (an Add with Send).
 */
export type DraftWrite = { collectionId: string; message: Buffer; messageId: string } & ({ clientId: string; sending: boolean } | { serverId: string });

/** What a mail search found (Mail.search): how many messages match at the mail servers, and the newest the hub holds, newest first. */
export interface MailFound {
  total: number;
  items: Array<{ collectionId: string; itemId: string; data: string }>;
}

/** An IMAP/SMTP upstream as the gateway signs in to it. */
export interface MailAccount {
  url: string;
  username: string;
  password: string;
}

/** An IMAP upstream with its SMTP submission server, as the gateway sends through it. */
export type SubmissionAccount = MailAccount & { submissionUrl: string };

/** A send as the hub takes it: the request of docs/protocol.md §10.7, or a whole message as bytes (ActiveSync's, whose 8-bit parts need not be UTF-8). */
export type SendRequest = Omit<SendMailRequest, 'message'> & { message?: string | Buffer };

/** What the submission server took: the recipients it accepted and refused (with its reply to each), and its reply to the message. */
export interface Submitted {
  accepted: string[];
  rejected: Array<{ address: string; reply: string }>;
  response: string;
}

/** The folder's path on its IMAP server, from its mapping's URL (connectors/imap/discovery.ts folderUrl). */
const folderPath = (mapping: UpstreamCollectionRow) => decodeURIComponent(new URL(mapping.url).pathname.slice(1));

/** A part as the native face serves it (docs/protocol.md §10.6). */
export interface MailPart {
  /** The Content-Type to serve it with, parameters included. */
  contentType: string;
  /** For an attachment's token, its file name and whether it is shown inline; null for the body and its HTML version. */
  attachment: { name: string | null; inline: boolean } | null;
  /** Whether it came from the hub's store, without asking the IMAP server. */
  kept: boolean;
  /** The whole part (kept, or small enough to keep), or a stream of it (a part over limits.blobBytesMax), which the caller reads or ends with `close`. */
  body: { bytes: Uint8Array } | { stream: AsyncIterable<Uint8Array>; close(): Promise<void> };
}

/** The IMAP upstream a mail collection is a folder of, and the folder's mapping; notFound when the collection is none. */
export async function mailFolderOf(tx: StoreTx, accountId: string, collectionId: string): Promise<{ upstream: UpstreamRow; mapping: UpstreamCollectionRow }> {
  for (const upstream of await tx.listUpstreams(accountId)) {
    if (upstream.kind !== 'imap') continue;
    const mapping = (await tx.listUpstreamCollections(accountId, upstream.id)).find((m) => m.collectionId === collectionId);
    if (mapping) return { upstream, mapping };
  }
  throw new ProtocolError('notFound', `collection ${collectionId} is no folder of a mail account`);
}

/** Which of the item's parts the token names: the whole message, its body (or HTML version), an attachment, or none. */
function partOf(item: MailItem, part: string): { attachment: MailPart['attachment'] } | undefined {
  if (part === rawPart) return { attachment: null };
  if (item.body !== null && (item.body.part === part || item.body.htmlPart === part)) return { attachment: null };
  const attachment = item.attachments.find((a) => a.part === part);
  return attachment && { attachment: { name: attachment.name, inline: attachment.inline } };
}

const mediaType = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/;
const charsetToken = /^[A-Za-z0-9!#$%&'+^_`{}~.-]{1,40}$/;

/** A Content-Type a response header can carry: the part's type (else application/octet-stream) and its charset, when both are tokens. */
export function partContentType(type: string, charset: string | null): string {
  const t = mediaType.test(type) ? type : 'application/octet-stream';
  return charset !== null && charsetToken.test(charset) ? `${t}; charset=${charset.toLowerCase()}` : t;
}

const gone = () => new ProtocolError('notFound', 'the message is no longer on the mail server');

/**
 * The data etag under which a device's new draft is kept in its ledger of adds (Mail.saveDraft): the
 * ClientId alone names the draft (an Add sent again, edited or not, lands on it); no item's etag is this.
 */
const draftLedgerEtag = 'eas-draft';

/**
 * The Message-ID of a message sent without one: drawn from the account and the client id, so every
 * attempt at one send carries the same id, and a send whose outcome is unknown can be looked for.
 */
export function sendMessageId(accountId: string, clientId: string, fromAddress: string): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
  return `<${createHash('sha256').update(`${accountId}\u0000${clientId}`).digest('base64url').slice(0, 32)}@${domain}>`;
}

const answerOf = (row: MailSendRow, replayed: boolean): MailSent => ({
  clientId: row.clientId,
  messageId: row.messageId,
  accepted: row.accepted,
  rejected: row.rejected,
  ...(row.response !== null ? { response: row.response } : {}),
  sentAt: new Date(row.sentAt ?? row.startedAt).toISOString(),
  ...(row.sentFolder !== null ? { sentFolder: row.sentFolder } : {}),
  replayed,
});

export class Mail {
  /** Parts being read from IMAP on this process, by account (limits.mailPartFetchesPerAccountMax). */
  readonly #fetching = new Map<string, number>();

  constructor(
    protected readonly store: Store,
    protected readonly ports: HubPorts,
    protected readonly access?: UpstreamAccess,
  ) {}

  /** The collections of the mail account `collectionId` is a folder of (itself among them); notFound when it is no mail folder. */
  folderSiblings(accountId: string, collectionId: string): Promise<string[]> {
    return this.store.transaction(async (tx) => {
      const { upstream } = await mailFolderOf(tx, accountId, collectionId);
      return (await tx.listUpstreamCollections(accountId, upstream.id)).map((m) => m.collectionId);
    });
  }

  /**
   * Moves a message to another folder of its mail account, as the device (docs/protocol.md §10.5): at the
   * IMAP server first (MOVE), then in the hub, where it is deleted from the source collection and added to
   * the destination under a new id (returned), bound to its new UID, as `hub.moveItem` moves any item.
   * Both are written as the upstream's, not the device's: every device is sent them, the one that asked
   * too, which may never have had the answer (sim --mail seed 0: asked again, the move is a 404, and
   * nothing else would tell it). Made by the upstream, the new item's delete reaches the upstream's point
   * even before its next run has seen the item (else the message stayed at the IMAP server: seed 49). When the server did not say the new UID, only the delete is written: the
   * destination's next run adds it, so it is never there twice. Returns null when the hub no longer held it
   * by the time the move was done there (a run saw it go): the destination's run brings it too.
   */
  async move(point: DevicePoint, fromId: string, itemId: string, toId: string): Promise<string | null> {
    const [outcome] = await this.moveAll(point, fromId, [itemId], toId);
    if (outcome instanceof ProtocolError) throw outcome;
    return outcome as string | null;
  }

  /**
   * `move` for several messages of one folder, on one IMAP connection (an ActiveSync phone deleting a
   * screenful of mail into Deleted Items): each message's outcome in order, its new id, null, or the
   * ProtocolError that message alone got (notFound: not a live item, not at the mail server yet, or gone
   * from it). What stops them all is thrown: the folders (notFound, invalidRequest for two mail accounts),
   * the mail server out of reach (unavailable; messages it had moved before the connection broke are found
   * moved by the upstream's next run).
   */
  async moveAll(point: DevicePoint, fromId: string, itemIds: readonly string[], toId: string): Promise<Array<string | null | ProtocolError>> {
    const gateway = this.access?.mail;
    if (!this.access || !gateway) throw new ProtocolError('serverError', 'this server reaches no mail servers');
    const access = this.access;
    assert(new Set(itemIds).size === itemIds.length, 'each message is moved once');
    const plan = await this.store.transaction(async (tx) => {
      const [from, to] = [await mailFolderOf(tx, point.accountId, fromId), await mailFolderOf(tx, point.accountId, toId)];
      if (from.upstream.id !== to.upstream.id) throw new ProtocolError('invalidRequest', 'a message moves between the folders of one mail account');
      const live: string[] = [];
      const refused = new Map<string, ProtocolError>();
      for (const itemId of itemIds) {
        try {
          await movable(tx, point.accountId, fromId, itemId, toId);
          live.push(itemId);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          refused.set(itemId, err);
        }
      }
      const records = new Map((await tx.pointRecordsByServer(point.accountId, from.upstream.deviceId, fromId, live)).map((r) => [r.serverId, r.remoteId]));
      const items = itemIds.map((itemId) => {
        const remoteId = records.get(itemId);
        return remoteId !== undefined ? { itemId, remoteId } : { itemId, refused: refused.get(itemId) ?? new ProtocolError('notFound', 'the mail server does not hold this message yet') };
      });
      return { upstream: from.upstream, from: folderPath(from.mapping), to: folderPath(to.mapping), items };
    });
    const asked = plan.items.flatMap((i) => (i.remoteId !== undefined ? [i.remoteId] : []));
    const account = { url: plan.upstream.url, username: plan.upstream.username, password: openUpstreamPassword(plan.upstream, access.keys()) };
    const moved = asked.length === 0 ? [] : await gateway.move(account, plan.from, asked, plan.to);
    const movedTo = new Map(asked.map((remoteId, i) => [remoteId, moved[i] ?? 'gone']));
    if (asked.every((remoteId) => movedTo.get(remoteId) === 'gone')) return plan.items.map((i) => i.refused ?? gone());
    return this.store.transaction(async (tx) => {
      await openExchange(tx, this.ports, point.accountId, point.device, point.protocol);
      const deviceId = plan.upstream.deviceId;
      const out: Array<string | null | ProtocolError> = [];
      for (const { itemId, remoteId, refused } of plan.items) {
        const there = remoteId === undefined ? undefined : movedTo.get(remoteId);
        if (remoteId === undefined || there === undefined || there === 'gone') {
          out.push(refused ?? gone());
          continue;
        }
        await tx.deletePointRecord(point.accountId, deviceId, remoteId);
        let found;
        try {
          found = await movable(tx, point.accountId, fromId, itemId, toId);
        } catch {
          out.push(null);
          continue;
        }
        if (there === null) {
          await writeTombstone({ tx, ports: this.ports, collection: found.from }, found.item, deviceId);
          out.push(null);
          continue;
        }
        const id = await moveWithin(tx, this.ports, found.from, found.to, found.item, deviceId);
        // Its version there is read at the destination's next run, and found to be this one.
        await tx.putPointRecords(point.accountId, deviceId, toId, [{ serverId: id, remoteId: there, remoteEtag: null, heldEtag: found.item.etag }]);
        out.push(id);
      }
      return out;
    });
  }

  /**
   * Adds `flag` to a live mail item as the device (a reply marks the original `\Answered`, a forward
   * `$Forwarded`): every other device is sent it, and the write brings the upstream's run forward, which
   * sets the flag at the IMAP server (docs/protocol.md §10.5). False when the item is gone or has it already.
   */
  async addFlag(point: DevicePoint, collectionId: string, itemId: string, flag: string): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      await mailFolderOf(tx, point.accountId, collectionId);
      const [collection, row] = [await tx.getCollection(point.accountId, collectionId), await tx.getItem(point.accountId, collectionId, itemId)];
      const item = row?.data == null || row.deletedAt !== null ? undefined : parseMailItem(row.data);
      if (!collection || !row || item === undefined || typeof item === 'string' || item.flags.includes(flag)) return false;
      const data = mailItemJson({ ...item, flags: [...item.flags, flag].sort() });
      const check = checkItem('mail', data);
      if (!check.ok) return false;
      await openExchange(tx, this.ports, point.accountId, point.device, point.protocol);
      await writeItem({ tx, ports: this.ports, collection }, row.id, row, data, check.index, point.device.id);
      return true;
    });
  }

  /**
   * Files a version of a draft a device wrote (docs/eas.md § Drafts) in its IMAP folder, then in the hub
   * as the folder's item. A new draft's ClientId goes in the device's ledger of adds, so an Add sent again
   * (its answer lost) lands on the draft it made and nothing is filed twice. A new version keeps its
   * item, now of the new message; the old message becomes a displaced member of the folder's point, so
   * it is expunged here at once or, should that fail, by the folder's next run. A new draft is the
   * device's write: it learns the ServerId from its answer and is never sent the draft's Add, but is sent
   * whatever happens to it next, a delete included (core/action-table.ts: it made the item). A new version,
   * and a new draft about to be sent, are the upstream's, as a move is: every device is sent them, the
   * writer too, which then holds the attachments' references as they are now, or, should the send fail,
   * the draft it made. The folder's next run finds the message known. It is filed under the upstream's run name, never beside a
   * run. notFound for a draft that is gone; unavailable for a mail server out of reach, or a run under way.
   */
  async saveDraft(point: DevicePoint, write: DraftWrite): Promise<{ serverId: string; data: string | null; replayed: boolean }> {
    const { gateway, access } = this.#gateway();
    const { accountId } = point;
    const plan = await this.store.transaction(async (tx) => {
      const { upstream, mapping } = await mailFolderOf(tx, accountId, write.collectionId);
      if ('clientId' in write) {
        const found = await tx.findLedgerAdd(accountId, point.device.id, write.collectionId, write.clientId, draftLedgerEtag);
        const row = found && (await tx.getItem(accountId, write.collectionId, found.itemId));
        if (found) return { done: { serverId: found.itemId, data: row && row.deletedAt === null ? row.data : null, replayed: true } };
        return { upstream, path: folderPath(mapping), replacing: undefined };
      }
      const row = await tx.getItem(accountId, write.collectionId, write.serverId);
      if (!row || row.deletedAt !== null) throw new ProtocolError('notFound', `no draft ${write.serverId}`);
      const [replacing] = await tx.pointRecordsByServer(accountId, upstream.deviceId, write.collectionId, [write.serverId]);
      if (!replacing) throw new ProtocolError('notFound', 'the mail server does not hold this draft yet');
      return { upstream, path: folderPath(mapping), replacing };
    });
    if (plan.done) return plan.done;
    const { upstream, path, replacing } = plan;
    const account = { url: upstream.url, username: upstream.username, password: openUpstreamPassword(upstream, access.keys()) };
    // Not beside a run of the upstream: one that listed the folder before the draft's record is written
    // would add the new message as an item of its own after it (a second draft on every device).
    let saved: { serverId: string; data: string | null; replayed: boolean } | undefined;
    const ran = await this.store.tryExclusive(upstreamRunName(upstream.id), async () => {
      saved = await this.#fileDraft(point, write, upstream, account, path, replacing, gateway);
    });
    if (!ran || !saved) throw new ProtocolError('unavailable', 'the mail account is being synced right now; file the draft again in a moment');
    return saved;
  }

  /** saveDraft's filing, under the upstream's run name. */
  async #fileDraft(point: DevicePoint, write: DraftWrite, upstream: UpstreamRow, account: MailAccount, path: string, replacing: PointRecord | undefined, gateway: MailGateway): Promise<{ serverId: string; data: string | null; replayed: boolean }> {
    const { accountId } = point;
    let filed: FiledDraft;
    try {
      filed = await gateway.fileDraft(account, path, write.message, write.messageId);
    } catch (err) {
      throw unreachable(err, 'file the draft');
    }
    const pointId = upstream.deviceId;
    const strays = filed.before.filter((r) => r !== replacing?.remoteId);
    const saved = await this.store.transaction(async (tx) => {
      const collection = await tx.getCollection(accountId, write.collectionId);
      const check = checkItem('mail', filed.data);
      const existing = 'serverId' in write ? await tx.getItem(accountId, write.collectionId, write.serverId) : null;
      if (!collection || !check.ok || existing === undefined || existing?.deletedAt != null) {
        // The message filed goes at the folder's next run, as a displaced member.
        await tx.putPointRecords(accountId, pointId, write.collectionId, [{ serverId: displacedId(filed.remoteId), remoteId: filed.remoteId, remoteEtag: filed.remoteEtag, heldEtag: '' }]);
        return check.ok ? new ProtocolError('notFound', 'the draft or its folder was deleted meanwhile') : new ProtocolError('serverError', `the draft filed cannot be read back: ${check.message}`);
      }
      await openExchange(tx, this.ports, accountId, point.device, point.protocol);
      const id = 'serverId' in write ? write.serverId : this.ports.random.id();
      const etag = await writeItem({ tx, ports: this.ports, collection }, id, existing, filed.data, check.index, 'clientId' in write && !write.sending ? point.device.id : pointId);
      const records: PointRecord[] = [{ serverId: id, remoteId: filed.remoteId, remoteEtag: filed.remoteEtag, heldEtag: etag }];
      // Strays: what an attempt whose answer was lost filed (its Message-ID is the draft's), gone with the
      // version replaced, and deleted where a run already made an item of one (every device is told).
      for (const stray of await tx.pointRecordsByRemote(accountId, pointId, strays)) {
        const row = stray.serverId === id ? undefined : await tx.getItem(accountId, stray.collectionId, stray.serverId);
        if (row && row.deletedAt === null) await writeTombstone({ tx, ports: this.ports, collection }, row, pointId);
      }
      records.push(...strays.map((remoteId) => ({ serverId: displacedId(remoteId), remoteId, remoteEtag: null, heldEtag: '' })));
      if (replacing) records.push({ ...replacing, serverId: displacedId(replacing.remoteId) });
      await tx.putPointRecords(accountId, pointId, write.collectionId, records);
      if ('clientId' in write) await tx.recordLedgerAdd(accountId, point.device.id, write.collectionId, write.clientId, draftLedgerEtag, id, false);
      return { serverId: id, data: filed.data, replayed: false };
    });
    if (saved instanceof ProtocolError) {
      await this.#expungeDisplaced(accountId, account, pointId, path, filed.remoteId);
      throw saved;
    }
    for (const remoteId of [...strays, ...(replacing ? [replacing.remoteId] : [])]) await this.#expungeDisplaced(accountId, account, pointId, path, remoteId);
    return saved;
  }

  /** The address a new draft in the mail folder `collectionId` is from (as a composed send's); undefined when there is none. */
  draftSender(accountId: string, collectionId: string): Promise<string | undefined> {
    return this.store.transaction(async (tx) => senderAddress((await tx.getAccount(accountId))?.email ?? null, (await mailFolderOf(tx, accountId, collectionId)).upstream));
  }

  /**
   * Sends the draft `serverId` (docs/eas.md § Drafts) as it is filed, through `send` under `clientId`
   * (at most once), then takes it out of its folder: its item deleted as the upstream's, so every device
   * is sent the delete, and its message expunged (a displaced member until then). A send begun before
   * (its answer lost) is answered from its record, the draft neither read nor sent again, and taken out
   * if it is still there. A refused send leaves the draft where it is.
   */
  async sendDraft(point: DevicePoint, collectionId: string, serverId: string, clientId: string): Promise<MailSent> {
    const { accountId } = point;
    let message: Buffer = Buffer.alloc(0);
    // Begun before: `send` answers from the record and reads no message.
    if (!(await this.sendBegun(accountId, clientId))) {
      const part = await this.fetchPart(accountId, collectionId, serverId, rawPart);
      if (!('bytes' in part.body)) {
        await part.body.close();
        throw tooLarge(limits.blobBytesMax);
      }
      // Dated when it goes, not when it was last saved (send adds the Date a message lacks).
      message = withoutField(Buffer.from(part.body.bytes), 'date');
    }
    const sent = await this.send(accountId, { clientId, message });
    const { access } = this.#gateway();
    const taken = await this.store.transaction(async (tx) => {
      const { upstream, mapping } = await mailFolderOf(tx, accountId, collectionId);
      const [collection, row] = [await tx.getCollection(accountId, collectionId), await tx.getItem(accountId, collectionId, serverId)];
      if (!collection || !row || row.deletedAt !== null) return undefined;
      await openExchange(tx, this.ports, accountId, point.device, point.protocol);
      await writeTombstone({ tx, ports: this.ports, collection }, row, upstream.deviceId);
      const [record] = await tx.pointRecordsByServer(accountId, upstream.deviceId, collectionId, [serverId]);
      if (record) await tx.putPointRecords(accountId, upstream.deviceId, collectionId, [{ ...record, serverId: displacedId(record.remoteId) }]);
      return record && { upstream, path: folderPath(mapping), remoteId: record.remoteId };
    });
    if (taken) {
      const account = { url: taken.upstream.url, username: taken.upstream.username, password: openUpstreamPassword(taken.upstream, access.keys()) };
      await this.#expungeDisplaced(accountId, account, taken.upstream.deviceId, taken.path, taken.remoteId);
    }
    return sent;
  }

  /** Expunges a displaced message at once, and forgets it; a failure leaves it to the folder's next run, which hands its point the delete. */
  async #expungeDisplaced(accountId: string, account: MailAccount, pointId: string, path: string, remoteId: string): Promise<void> {
    try {
      await this.#gateway().gateway.expunge(account, path, remoteId);
      await this.store.transaction((tx) => tx.deletePointRecord(accountId, pointId, remoteId));
    } catch (err) {
      this.ports.logger.warn({ accountId, point: pointId, remoteId, error: String(err) }, 'draft not expunged yet; the folder\'s next run does it');
    }
  }

  /** The gateway to the mail servers, and what opens their passwords. */
  #gateway(): { gateway: MailGateway; access: UpstreamAccess } {
    const access = this.access;
    if (!access?.mail) throw new ProtocolError('unavailable', 'this server reaches no mail servers');
    return { gateway: access.mail, access };
  }

  /** Whether a send under this client id was sent or begun: `send` then answers from its record, whatever message it is given. */
  async sendBegun(accountId: string, clientId: string): Promise<boolean> {
    const row = await this.store.transaction((tx) => tx.getMailSend(accountId, clientId));
    return row?.state === 'sent' || row?.state === 'sending';
  }

  /**
   * The part of a live mail item that its token names (docs/protocol.md §10.6), decoded: from the store
   * when it was kept, else from the message's IMAP folder, and kept when it fits a blob. notFound for
   * anything the account does not hold (another account's item included, so nothing is learned of it),
   * and for a message no longer on the server; limitReached for a part over limits.mailPartBytesMax,
   * before any of it is read; unavailable when the IMAP server cannot be reached.
   */
  async fetchPart(accountId: string, collectionId: string, itemId: string, part: string): Promise<MailPart> {
    const found = await this.store.transaction(async (tx) => {
      const { upstream, mapping } = await mailFolderOf(tx, accountId, collectionId);
      const row = await tx.getItem(accountId, collectionId, itemId);
      const item = row?.data == null || row.deletedAt !== null ? undefined : parseMailItem(row.data);
      if (item === undefined || typeof item === 'string') throw new ProtocolError('notFound', `no mail item ${itemId} in collection ${collectionId}`);
      const what = partOf(item, part);
      if (!what) throw new ProtocolError('notFound', `mail item ${itemId} has no part ${part}`);
      const [record] = await tx.pointRecordsByServer(accountId, upstream.deviceId, collectionId, [itemId]);
      if (!record) throw gone();
      const kept = await tx.getMailPart(accountId, collectionId, itemId, part);
      const bytes = kept?.remoteId === record.remoteId ? await tx.getBlob(accountId, kept.blobHash) : undefined;
      if (kept && bytes) return { kept: { contentType: kept.contentType, attachment: what.attachment, kept: true, body: { bytes } } satisfies MailPart };
      return { kept: undefined, upstream, mapping, remoteId: record.remoteId, attachment: what.attachment };
    });
    if (found.kept) return found.kept;

    const access = this.access;
    if (!access?.mail) throw new ProtocolError('unavailable', 'this server reaches no mail servers');
    const { upstream } = found;
    const release = this.#startFetch(accountId);
    let fetched: MailPartFetch;
    try {
      const password = openUpstreamPassword(upstream, access.keys());
      fetched = await access.mail.fetchPart(
        { url: upstream.url, username: upstream.username, password },
        { folderUrl: found.mapping.url, remoteId: found.remoteId, part, bytesMax: limits.mailPartBytesMax },
      );
    } catch (err) {
      release();
      throw unreachable(err);
    }
    if (fetched.found !== 'part') release();
    else {
      const close = fetched.close;
      fetched.close = async () => {
        release();
        await close();
      };
    }
    if (fetched.found === 'gone') throw gone();
    if (fetched.found === 'tooLarge') {
      throw limitReached('mailPartBytesMax', limits.mailPartBytesMax, `part ${part} decodes to as many as ${fetched.bytesAtMost} bytes, more than a part fetched through this server may; read it with a mail program`);
    }
    const contentType = partContentType(fetched.type, fetched.charset);
    if (fetched.bytesAtMost === null || fetched.bytesAtMost > limits.blobBytesMax) {
      return { contentType, attachment: found.attachment, kept: false, body: { stream: fetched.content, close: fetched.close } };
    }
    // Small enough to keep: read whole, kept as a blob its row names (docs/design.md § Blobs).
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of fetched.content) chunks.push(chunk);
    } catch (err) {
      throw unreachable(err);
    } finally {
      await fetched.close();
    }
    const bytes = Buffer.concat(chunks);
    // Text converted to UTF-8 can outgrow what its structure said: served, not kept. The whole message is
    // not kept either: who fetches it keeps a copy of their own (a Maildir), and the store would hold every message twice.
    if (bytes.length > limits.blobBytesMax || part === rawPart) return { contentType, attachment: found.attachment, kept: false, body: { bytes } };
    await this.store.transaction(async (tx) => {
      const blobHash = await tx.putBlob(accountId, bytes);
      // An item deleted meanwhile takes no row; its blob, named by nothing, goes at the next purge.
      await tx.putMailPart({ accountId, collectionId, itemId, part, remoteId: found.remoteId, blobHash, bytes: bytes.length, contentType, fetchedAt: this.ports.clock.now() });
    });
    return { contentType, attachment: found.attachment, kept: false, body: { bytes } };
  }

  /**
   * Searches mail folders of the account at their IMAP servers (docs/eas.md § Searching mail): the
   * messages whose subject, addresses or body hold every one of `words`, as the hub's live items (a
   * message the hub has not synced yet is counted in `total` but not listed), newest first, at most
   * `max`. notFound for a collection that is no mail folder of the account; invalidRequest past the
   * limits (checked before the servers are asked); unavailable when a server cannot be reached; the
   * search counts as one of the account's reads from its mail server (mailPartFetchesPerAccountMax).
   */
  async search(accountId: string, collectionIds: readonly string[], words: readonly string[], max: number): Promise<MailFound> {
    if (collectionIds.length > limits.mailSearchFoldersMax) throw limitReached('mailSearchFoldersMax', limits.mailSearchFoldersMax, `a search of ${collectionIds.length} folders`);
    if (words.length === 0 || words.length > limits.mailSearchWordsMax) throw new ProtocolError('invalidRequest', `a search takes 1 to ${limits.mailSearchWordsMax} words, not ${words.length}`);
    const access = this.access;
    if (!access?.mail) throw new ProtocolError('unavailable', 'this server reaches no mail servers');
    const gateway = access.mail;
    const plan = await this.store.transaction(async (tx) => {
      const byUpstream = new Map<string, { upstream: UpstreamRow; paths: string[] }>();
      for (const collectionId of collectionIds) {
        const { upstream, mapping } = await mailFolderOf(tx, accountId, collectionId);
        const entry = byUpstream.get(upstream.id) ?? { upstream, paths: [] };
        entry.paths.push(folderPath(mapping));
        byUpstream.set(upstream.id, entry);
      }
      return [...byUpstream.values()];
    });
    let total = 0;
    const hits: Array<{ deviceId: string; remoteIds: string[] }> = [];
    // Within a folder the highest UID arrived last: the order the servers gave breaks ties of arrival time (whole seconds).
    const rank = new Map<string, number>();
    for (const { upstream, paths } of plan) {
      const release = this.#startFetch(accountId);
      try {
        const account = { url: upstream.url, username: upstream.username, password: openUpstreamPassword(upstream, access.keys()) };
        const found = await gateway.search(account, paths, words, max);
        total += found.reduce((n, f) => n + f.total, 0);
        hits.push({ deviceId: upstream.deviceId, remoteIds: found.flatMap((f) => f.remoteIds) });
        for (const f of found) f.remoteIds.forEach((id, i) => rank.set(`${upstream.deviceId} ${id}`, i));
      } catch (err) {
        throw unreachable(err, 'search');
      } finally {
        release();
      }
    }
    const wanted = new Set(collectionIds);
    const items = await this.store.transaction(async (tx) => {
      const out: Array<MailFound['items'][number] & { receivedAt: string; rank: number }> = [];
      for (const { deviceId, remoteIds } of hits) {
        for (const record of await tx.pointRecordsByRemote(accountId, deviceId, remoteIds)) {
          if (!wanted.has(record.collectionId)) continue;
          const row = await tx.getItem(accountId, record.collectionId, record.serverId);
          const item = row?.data == null || row.deletedAt !== null ? undefined : parseMailItem(row.data);
          if (item === undefined || typeof item === 'string') continue;
          out.push({ collectionId: record.collectionId, itemId: record.serverId, data: row?.data as string, receivedAt: item.receivedAt, rank: rank.get(`${deviceId} ${record.remoteId}`) ?? 0 });
        }
      }
      return out;
    });
    items.sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : a.rank - b.rank));
    return { total, items: items.slice(0, max).map(({ collectionId, itemId, data }) => ({ collectionId, itemId, data })) };
  }

  /** Counts a fetch from IMAP for the account, refused past limits.mailPartFetchesPerAccountMax; the answer ends it (once). */
  #startFetch(accountId: string): () => void {
    const now = this.#fetching.get(accountId) ?? 0;
    if (now >= limits.mailPartFetchesPerAccountMax) {
      throw new ProtocolError('rateLimited', `${now} parts of this account are being read from its mail server already; fetch this one when one of them is done`, {
        retryAfterSeconds: 1,
      });
    }
    this.#fetching.set(accountId, now + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#fetching.get(accountId) ?? 1) - 1;
      if (left === 0) this.#fetching.delete(accountId);
      else this.#fetching.set(accountId, left);
    };
  }

  /**
   * Sends a message at most once per account and client id (docs/protocol.md §10.7): one send of a client
   * id at a time, on any process (another at once is a 409); a client id sent already is answered as it
   * was, without contacting the server; the send is recorded before the SMTP transaction begins, and one
   * whose answer never came (the process stopped, the connection broke) is sent again only if it is
   * certain it was not: found in the Sent folder it is sent, else the answer says its outcome is unknown.
   */
  async send(accountId: string, request: SendRequest): Promise<MailSent> {
    const gateway = this.access?.mail;
    if (!gateway) throw new Error('this hub reaches no mail servers');
    let answer: MailSent | undefined;
    const ran = await this.store.tryExclusive(`mail send ${accountId} ${request.clientId}`, async () => {
      answer = await this.sendOnce(accountId, request, gateway);
    });
    if (!ran || !answer) throw new ProtocolError('conflict', `a send with client id ${request.clientId} is under way; send it again once that one is answered, and it is answered as that one was`);
    return answer;
  }

  private async sendOnce(accountId: string, request: SendRequest, gateway: MailGateway): Promise<MailSent> {
    const { clientId } = request;
    const existing = await this.store.transaction((tx) => tx.getMailSend(accountId, clientId));
    // Sent already: answered as it was, the server not asked again (and a removed upstream no matter).
    if (existing?.state === 'sent') return answerOf(existing, true);
    const { upstream, email } = await this.store.transaction(async (tx) => ({
      upstream: await submissionUpstream(tx, accountId, request.upstreamId),
      email: (await tx.getAccount(accountId))?.email ?? null,
    }));
    if (!upstream) throw new ProtocolError('notFound', request.upstreamId === undefined ? 'the account has no IMAP upstream with a submission server to send through (docs/protocol.md §16.1)' : `no IMAP upstream ${request.upstreamId} with a submission server`, { reason: 'noSubmission' });
    const account = this.accountOf(upstream);
    if (existing?.state === 'sending') return this.settleUnknown(existing, account, gateway);

    const now = this.ports.clock.now();
    const idFor = (address: string) => sendMessageId(accountId, clientId, address);
    let outgoing: Outgoing;
    if (request.message !== undefined) outgoing = prepareMessage(request.message, idFor, new Date(now));
    else {
      const address = senderAddress(email, upstream);
      const from = request.from ?? (address !== undefined ? { address } : undefined);
      if (!from) throw new ProtocolError('invalidRequest', 'from: give the address to send from; the account has no email address set, and the upstream user name is none');
      outgoing = await composeMessage(request, from, idFor, new Date(now));
    }
    const row: MailSendRow = { accountId, clientId, state: 'sending', upstreamId: upstream.id, messageId: outgoing.messageId, startedAt: now, sentAt: null, accepted: [], rejected: [], response: null, error: null, sentFolder: null };
    const put = (r: MailSendRow) => this.store.transaction((tx) => tx.putMailSend(r));
    let recorded = false;
    let submitted: Submitted;
    try {
      submitted = await gateway.submit(account, outgoing.envelope, outgoing.wire, async () => {
        await put(row);
        recorded = true;
      });
    } catch (err) {
      if (!(err instanceof SubmissionError)) throw err;
      // Refused or never handed over: not sent, so the same client id may be tried again. Unknown: the record stays `sending`.
      if (recorded && err.outcome !== 'unknown') await put({ ...row, state: 'failed', error: err.message });
      this.ports.logger.warn({ accountId, upstream: upstream.id, clientId, outcome: err.outcome, error: err.message }, 'mail not sent');
      throw problemOf(err);
    }
    const sent: MailSendRow = { ...row, state: 'sent', sentAt: this.ports.clock.now(), accepted: submitted.accepted, rejected: submitted.rejected, response: submitted.response };
    // Recorded before the copy is filed; if recording fails, the copy is filed all the same, so a retry finds it there.
    let failedRecord: unknown;
    await put(sent).catch((err: unknown) => (failedRecord = err ?? new Error('the send was not recorded')));
    let sentFolder: string | undefined;
    try {
      sentFolder = await gateway.fileInSent(account, outgoing.copy);
    } catch (err) {
      this.ports.logger.warn({ accountId, upstream: upstream.id, clientId, error: String(err) }, 'sent mail not filed in Sent');
    }
    if (failedRecord !== undefined) throw failedRecord;
    const final = sentFolder === undefined ? sent : { ...sent, sentFolder };
    if (sentFolder !== undefined) await put(final);
    this.ports.logger.info({ accountId, upstream: upstream.id, clientId, accepted: submitted.accepted.length, rejected: submitted.rejected.length }, 'mail sent');
    return answerOf(final, false);
  }

  /** A send recorded as under way with no live attempt: its outcome is unknown. In Sent, it went; else it is not sent again. */
  private async settleUnknown(row: MailSendRow, account: SubmissionAccount, gateway: MailGateway): Promise<MailSent> {
    let found: boolean;
    try {
      found = await gateway.findInSent(account, row.messageId);
    } catch (err) {
      throw new ProtocolError('unavailable', `the outcome of send ${row.clientId} is unknown, and the IMAP server could not be asked: ${err instanceof Error ? err.message : String(err)}`, { upstreamError: 'transient' });
    }
    if (!found) {
      throw new ProtocolError(
        'conflict',
        `send ${row.clientId} began at ${new Date(row.startedAt).toISOString()} and its answer never came, so it may have been sent; it is not sent again under this client id (message id ${row.messageId}, not in the Sent folder)`,
        { sendState: 'unknown', messageId: row.messageId },
      );
    }
    const sent: MailSendRow = { ...row, state: 'sent', sentAt: this.ports.clock.now(), error: null };
    await this.store.transaction((tx) => tx.putMailSend(sent));
    return answerOf(sent, true);
  }

  private accountOf(upstream: UpstreamRow & { submissionUrl: string }): SubmissionAccount {
    if (!this.access) throw new Error('this hub reaches no mail servers');
    return { url: upstream.url, submissionUrl: upstream.submissionUrl, username: upstream.username, password: openUpstreamPassword(upstream, this.access.keys()) };
  }
}

/** The address mail the server composes is from: the account's email address, else the upstream's user name when it is an address. */
const senderAddress = (email: string | null, upstream: UpstreamRow): string | undefined => email ?? (upstream.username.includes('@') ? upstream.username : undefined);

/** An IMAP server that could not be reached, or refused, as what a client can act on: 503, try later. */
function unreachable(err: unknown, what = 'give the part'): Error {
  if (err instanceof ProtocolError) return err;
  if (err instanceof UpstreamError) return new ProtocolError('unavailable', `the mail server did not ${what}: ${err.message}`, { upstreamError: err.reason });
  return err as Error;
}

/** The IMAP upstream to send through: the one named, else the account's one with a submission server (more than one: name it). */
async function submissionUpstream(tx: StoreTx, accountId: string, upstreamId: string | undefined): Promise<(UpstreamRow & { submissionUrl: string }) | undefined> {
  const all = (await tx.listUpstreams(accountId)).filter((u): u is UpstreamRow & { submissionUrl: string } => u.kind === 'imap' && u.submissionUrl !== null);
  if (upstreamId !== undefined) return all.find((u) => u.id === upstreamId);
  if (all.length > 1) throw new ProtocolError('invalidRequest', `upstreamId: the account has ${all.length} IMAP upstreams with a submission server; name the one to send through`, { reason: 'submissionAmbiguous' });
  return all[0];
}

/** A failed submission as the error a client reads (docs/protocol.md §10.7). */
function problemOf(err: SubmissionError): ProtocolError {
  const extra = { upstreamError: err.outcome, ...(err.reply !== undefined ? { reply: err.reply } : {}) };
  if (err.outcome === 'unreachable') return new ProtocolError('unavailable', err.message, extra);
  return new ProtocolError('upstreamFailed', err.message, extra);
}
