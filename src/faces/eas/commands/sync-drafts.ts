import { addressParser } from 'postal-mime';
import { limits } from '../../../core/limits.js';
import { parseMailItem, rawPart } from '../../../content/mail/item.js';
import { sendMessageId } from '../../../hub/mail.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { draftMessage, editsMessage, type DraftEdit, type Importance } from '../draft-mail.js';
import { foldersOf } from '../folders.js';
import { fileReference, readFileReference } from '../mapping/email.js';
import { textOf } from '../mapping/body.js';
import { partBytes } from '../part-bytes.js';
import type { Mailbox } from '../smart-mail.js';
import { syncStatus } from '../status.js';
import { child, children, el, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { composeStatus, sendRefusalStatus } from './send-mail.js';
import { commandFingerprint } from './sync-identities.js';

/**
 * Drafts of ActiveSync 16.0 and 16.1 (MS-ASEMAIL 2.2.2.69 Send, MS-ASAIRS 2.2.2.2 Add and 2.2.2.21
 * Delete; docs/eas.md § Drafts): an Add in the Drafts folder files a new draft, a Change files a new
 * version of one, either sends it when it carries email2:Send. A draft is a message of the folder at the
 * IMAP server like any other (hub/mail.ts saveDraft), so each version is a new message there and the
 * old one is expunged; the device's ServerId stays the same through every version. Earlier versions
 * keep the Status 6 an Add to a mail folder always had.
 *
 * A command sent again after a lost answer does nothing twice: an Add lands on the draft its ClientId
 * made (the device's ledger of adds), a Change already applied under the same SyncKey is not applied
 * again (the face state below), and a send begun before is answered from its record (hub/mail.ts send).
 */
const as = namespace('AirSync');
const asb = (name: string, ...c: Array<WbxmlElement | string | false | undefined>) => el('AirSyncBase', name, ...c);

/** FolderSync type of the Drafts folder (MS-ASCMD 2.2.3.186.3). */
const draftsType = 3;

/** The elements a Change of a message's flags carries (email.ts fromEas); any other makes it a draft's edit. */
const flagElements = new Set(['Email:Read', 'Email:Flag', 'Email:Categories']);

/** Whether a command is a draft's: in 16.x, an Add, or a Change that sends or carries more than flags (in the Drafts folder: sync.ts). */
export function isDraftCommand(ctx: EasContext, command: WbxmlElement): boolean {
  if (!ctx.request.version.startsWith('16')) return false;
  if (command.name === 'Add') return true;
  if (command.name !== 'Change') return false;
  if (child(command, 'Send', 'Email2')) return true;
  const data = child(command, 'ApplicationData');
  return data?.children.some((c) => typeof c === 'object' && !(c instanceof Uint8Array) && !flagElements.has(`${c.ns}:${c.name}`)) ?? false;
}

/** The account's Drafts folder as FolderSync types it, if there is one. */
export async function draftsFolder(ctx: EasContext): Promise<string | undefined> {
  const folders = foldersOf(await ctx.hub.accounts.listCollections(ctx.point.accountId));
  return Object.entries(folders).find(([, f]) => f.type === draftsType)?.[0];
}

/** What a draft command leaves for the answer: its Responses entry, and a draft it made and sent at once. */
export interface DraftOutcome {
  response?: WbxmlElement;
  /** Made by an Add with Send and gone from Drafts: the answer deletes it (the hub sends nothing of a draft it wrote and deleted since the device's last key). */
  sent?: string;
}

/** A command refused with its Status (MS-ASCMD 2.2.3.177.17, or a common status of 2.2.2 for what Sync's own cannot say). */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const malformed = (message: string) => new Refused(syncStatus.conversionError, message);

/**
 * One draft command. `data` is its ApplicationData once the body is readable (sync.ts). Failures are
 * the command's own (only it fails): 4 an Add without ClientId, 6 what cannot be read as a draft (a bad
 * address, a body that is no text, HTML or MIME, an attachment without a name or content), 8 no such
 * draft or attachment, 16 the mail server out of reach, a run of the account under way or a send of the
 * draft under way (try again), 122 past mailSendBytesMax, and for a send the statuses SendMail answers
 * with (119 no recipient, 120 refused, 118 outcome unknown).
 */
export async function draftCommand(ctx: EasContext, collectionId: string, key: number, command: WbxmlElement, data: WbxmlElement | undefined): Promise<DraftOutcome> {
  const { accountId } = ctx.point;
  const adding = command.name === 'Add';
  const clientId = text(child(command, 'ClientId'));
  const serverId = text(child(command, 'ServerId'));
  const send = child(command, 'Send', 'Email2') !== undefined;
  // The hub's client id of a draft's send: the device's, the folder's and the draft's ids together.
  const sendId = (draftId: string) => `${ctx.point.device.id}/draft/${collectionId}/${draftId}`;
  try {
    if (adding ? !clientId || clientId.length > limits.clientIdCharsMax : !serverId) throw new Refused(syncStatus.protocolError, adding ? 'an Add needs a ClientId' : 'a Change needs a ServerId');
    let id = serverId;
    let item: string | null = null;
    const attachments = child(data, 'Attachments', 'AirSyncBase');
    const added = children(attachments, 'Add', 'AirSyncBase').map((a) => text(child(a, 'ClientId', 'AirSyncBase')) ?? '');
    // A send begun before (its answer lost) files nothing new: the draft may be gone already.
    const begun = !adding && send && (await ctx.hub.mail.sendBegun(accountId, sendId(serverId as string)));
    if (!begun) {
      const current = adding ? undefined : await ctx.hub.readItem(accountId, collectionId, serverId as string);
      if (!adding && !current) throw new Refused(syncStatus.notFound, `no draft ${serverId}`);
      const fingerprint = data ? commandFingerprint(collectionId, adding ? 'Add' : 'Change', adding ? (clientId as string) : (serverId as string), data) : '';
      // Applied before under this key: not read again either (its FileReferences named the version before).
      const replayed = !adding && (await changeApplied(ctx, serverId as string, key, fingerprint));
      const held = current?.data ? parseMailItem(current.data) : undefined;
      const parts = held === undefined || typeof held === 'string' ? [] : held.attachments.map((a) => a.part);
      const edit = replayed ? undefined : readEdit(data, collectionId, serverId, parts);
      item = current?.data ?? null;
      if (edit && (adding || editsMessage(edit))) {
        // A whole message given (Body Type 4) is the version the edit applies to.
        const previous = edit.mime ?? (adding ? undefined : await rawDraft(ctx, collectionId, serverId as string));
        const from = await ctx.hub.mail.draftSender(accountId, collectionId);
        if (from === undefined) throw malformed('the account has no email address to send from: set one with `syncpoint user email` or on the devices page');
        const messageId = sendMessageId(accountId, sendId(adding ? `add-${clientId as string}` : (serverId as string)), from);
        const message = await draftMessage(previous, edit, { address: from }, messageId, new Date(ctx.now()));
        const saved = await ctx.hub.mail.saveDraft(ctx.point, adding ? { collectionId, clientId: clientId as string, sending: send, message, messageId } : { collectionId, serverId: serverId as string, message, messageId });
        id = saved.serverId;
        item = saved.data;
        if (!adding) await noteChange(ctx, id, key, fingerprint);
      }
    }
    const draftId = id as string;
    if (send) await ctx.hub.mail.sendDraft(ctx.point, collectionId, draftId, sendId(draftId));
    const references = item === null ? undefined : addedReferences(item, collectionId, draftId, added);
    const application = references && references.length > 0 && as('ApplicationData', asb('Attachments', ...references.map(([c, ref]) => asb('Attachment', asb('ClientId', c), asb('FileReference', ref)))));
    if (adding) return { response: as('Add', as('ClientId', clientId as string), as('ServerId', draftId), as('Status', String(syncStatus.success)), application), ...(send ? { sent: draftId } : {}) };
    // A successful Change is answered only when it added attachments (MS-ASCMD 2.2.3.154).
    return application ? { response: as('Change', as('ServerId', draftId), as('Status', String(syncStatus.success)), application) } : {};
  } catch (err) {
    const status = err instanceof Refused ? err.status : err instanceof ProtocolError ? statusOf(err) : undefined;
    if (status === undefined) throw err;
    ctx.logger.info({ deviceId: ctx.point.device.id, collectionId, status, err: (err as Error).message }, 'ActiveSync draft refused');
    await ctx.hub.reportDeviceError(accountId, ctx.point.device.id, 'conversionError', `draft ${command.name} in the Drafts folder refused (Status ${status}): ${(err as Error).message.slice(0, 300)}`);
    return { response: as(command.name, adding && clientId !== undefined && as('ClientId', clientId), !adding && as('ServerId', serverId ?? ''), as('Status', String(status))) };
  }
}

/** The hub's refusal of a draft or its send as the Status the command gets. */
function statusOf(err: ProtocolError): number {
  const sending = sendRefusalStatus(err);
  if (sending !== undefined) return sending;
  switch (err.status) {
    case 'notFound':
      return syncStatus.notFound;
    case 'invalidRequest':
      return syncStatus.conversionError;
    case 'conflict':
    case 'unavailable':
    case 'rateLimited':
      return syncStatus.retry;
    default:
      return syncStatus.serverError;
  }
}

/** The draft as filed, whole, at most mailSendBytesMax. */
async function rawDraft(ctx: EasContext, collectionId: string, serverId: string): Promise<Buffer> {
  const part = await ctx.hub.mail.fetchPart(ctx.point.accountId, collectionId, serverId, rawPart);
  const read = await partBytes(part.body, limits.mailSendBytesMax);
  if (!read) throw new Refused(composeStatus.tooLarge, `the draft is more than ${limits.mailSendBytesMax} bytes`);
  return read.bytes;
}

/** The attachments an Add or Change added, by ClientId: the last ones of the version filed, in order (draft-mail.ts). */
function addedReferences(data: string, collectionId: string, serverId: string, added: readonly string[]): Array<[string, string]> {
  const item = parseMailItem(data);
  if (typeof item === 'string' || added.length === 0 || item.attachments.length < added.length) return [];
  const last = item.attachments.slice(-added.length);
  return added.map((clientId, i) => [clientId, fileReference(collectionId, serverId, (last[i] as { part: string }).part)]);
}

const mediaType = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/;
const controls = /[\u0000-\u001f\u007f]/;

/** The addresses of a To, Cc or Bcc element: a list as Email writes it (`"Name" <address>, …`). */
function addressesOf(e: WbxmlElement | undefined, field: string): Mailbox[] | undefined {
  if (!e) return undefined;
  const out: Mailbox[] = [];
  for (const a of addressParser(textOf(e), { flatten: true })) {
    const address = (a.address ?? '').trim();
    if (!/^[^\s@]+@[^\s@]+$/.test(address) || address.length > limits.mailAddressCharsMax) throw malformed(`${field} holds something that is not an address (local@domain)`);
    const name = a.name?.trim();
    out.push(name ? { name: name.slice(0, limits.mailDisplayNameCharsMax), address } : { address });
  }
  return out;
}

/**
 * The edit an Add's or Change's ApplicationData makes: To, Cc, Subject, Importance (Email), Bcc
 * (Email2), Body (Type 1 text, 2 HTML, or 4 a whole MIME message, which the other fields apply to) and Attachments (AirSyncBase Add with ClientId, DisplayName,
 * ContentType and Content, as opaque bytes or base64 text; Delete by the FileReference the draft's
 * attachment has now, `parts` being its attachments' part tokens in order). What it leaves out is unchanged.
 */
function readEdit(data: WbxmlElement | undefined, collectionId: string, serverId: string | undefined, parts: readonly string[]): DraftEdit {
  const E = 'Email';
  const remove = new Set<number>();
  const edit: DraftEdit = { add: [], remove };
  const to = addressesOf(child(data, 'To', E), 'To');
  const cc = addressesOf(child(data, 'Cc', E), 'Cc');
  const bcc = addressesOf(child(data, 'Bcc', 'Email2'), 'Bcc');
  if (to) edit.to = to;
  if (cc) edit.cc = cc;
  if (bcc) edit.bcc = bcc;
  const subject = child(data, 'Subject', E);
  if (subject) edit.subject = textOf(subject).replace(/[\r\n]+/g, ' ').slice(0, limits.mailSubjectCharsMax);
  const importance = child(data, 'Importance', E);
  if (importance) {
    const levels: Record<string, Importance> = { '0': 'low', '1': 'normal', '2': 'high' };
    const level = levels[textOf(importance).trim()];
    if (!level) throw malformed('Importance is 0, 1 or 2');
    edit.importance = level;
  }
  const body = child(data, 'Body', 'AirSyncBase');
  if (body) {
    const type = textOf(child(body, 'Type', 'AirSyncBase')).trim();
    const bodyData = child(body, 'Data', 'AirSyncBase');
    if (type === '4') edit.mime = Buffer.concat((bodyData?.children ?? []).map((c) => (c instanceof Uint8Array ? c : typeof c === 'string' ? Buffer.from(c, 'utf8') : new Uint8Array())));
    else if (type === '1' || type === '2') edit.body = { html: type === '2', text: textOf(bodyData) };
    else throw malformed(`a draft's Body is Type 1 (text), 2 (HTML) or 4 (MIME), not ${JSON.stringify(type.slice(0, 8))}`);
  }
  const attachments = child(data, 'Attachments', 'AirSyncBase');
  const adds = children(attachments, 'Add', 'AirSyncBase');
  // Counted before any Content is read (draft-mail.ts counts them again with the ones kept).
  if (adds.length > limits.mailAttachmentsMax) throw malformed(`a draft holds at most ${limits.mailAttachmentsMax} attachments`);
  for (const add of adds) {
    const name = textOf(child(add, 'DisplayName', 'AirSyncBase')).trim();
    if (name === '' || name.length > limits.mailFileNameCharsMax || controls.test(name)) throw malformed(`an attachment's DisplayName is 1 to ${limits.mailFileNameCharsMax} characters, without control characters`);
    if (!text(child(add, 'ClientId', 'AirSyncBase'))) throw malformed(`attachment ${name} has no ClientId`);
    const given = textOf(child(add, 'ContentType', 'AirSyncBase')).trim().toLowerCase();
    const content = contentOf(child(add, 'Content', 'AirSyncBase'), name);
    edit.add.push({ name, type: mediaType.test(given) ? given : 'application/octet-stream', content });
  }
  const deletes = children(attachments, 'Delete', 'AirSyncBase');
  if (edit.mime !== undefined && deletes.length > 0) throw malformed('a Change that gives the whole message (Body Type 4) deletes no attachment by FileReference');
  for (const del of deletes) {
    const ref = readFileReference(textOf(child(del, 'FileReference', 'AirSyncBase')).trim());
    const index = ref && ref.collectionId === collectionId && ref.serverId === serverId ? parts.indexOf(ref.part) : -1;
    if (index < 0) throw new Refused(syncStatus.notFound, 'a Delete names no attachment of this draft (its FileReference)');
    remove.add(index);
  }
  return edit;
}

/** An attachment's Content: opaque bytes in WBXML, base64 in XML (MS-ASAIRS 2.2.2.17). */
function contentOf(e: WbxmlElement | undefined, name: string): Buffer {
  if (!e) throw malformed(`attachment ${name} has no Content`);
  const bytes = e.children.map((c) => {
    if (c instanceof Uint8Array) return Buffer.from(c);
    if (typeof c === 'string') {
      const base64 = c.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) throw malformed(`attachment ${name}: its Content is neither bytes nor base64`);
      return Buffer.from(base64, 'base64');
    }
    throw malformed(`attachment ${name}: its Content holds elements`);
  });
  return Buffer.concat(bytes);
}

const changesStateKey = 'eas.draftChanges';
/** Drafts whose last Change is remembered per device; a retry comes right after its first attempt. */
const changesKept = 64;

type Changes = Array<[string, { key: number; fingerprint: string }]>;

/** Whether this Change of the draft was applied under this SyncKey already (its answer lost, the Sync sent again). */
async function changeApplied(ctx: EasContext, serverId: string, key: number, fingerprint: string): Promise<boolean> {
  const raw = await ctx.hub.readFaceState(ctx.point.accountId, ctx.point.device.id, changesStateKey);
  const last = new Map(raw ? (JSON.parse(raw) as Changes) : []).get(serverId);
  return last?.key === key && last.fingerprint === fingerprint;
}

async function noteChange(ctx: EasContext, serverId: string, key: number, fingerprint: string): Promise<void> {
  await ctx.hub.withFaceState(ctx.point, changesStateKey, (_, raw) => {
    const kept = new Map(raw ? (JSON.parse(raw) as Changes) : []);
    kept.delete(serverId);
    kept.set(serverId, { key, fingerprint });
    return { state: JSON.stringify([...kept].slice(-changesKept)), result: undefined };
  });
}
