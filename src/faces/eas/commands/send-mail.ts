import { limits } from '../../../core/limits.js';
import { rawPart } from '../../../content/mail/item.js';
import { sendMessageId } from '../../../hub/mail.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { sendMailSchema } from '../../../protocol/mail-send.js';
import type { EasContext } from '../context.js';
import { partBytes } from '../part-bytes.js';
import { readLongId } from '../mapping/email.js';
import { smartMessage, type SmartKind } from '../smart-mail.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17, 2.2.1.19, 2.2.1.20), in the WBXML form of
 * 14.0 and later: ClientId, SaveInSentItems, ReplaceMime, Source and the message as Mime. Each goes
 * through the hub's send (docs/protocol.md §10.7), which sends a client id at most once, files a copy in
 * Sent and survives a lost answer or a restart. A device's ClientId is its own (often a counter), so the
 * hub's client id is the device's id and the ClientId together. Success is an empty answer; a failure is
 * the command's element with a Status (MS-ASCMD 2.2.2), never an HTTP error.
 */
const cm = namespace('ComposeMail');

/** The common status codes these commands answer with (MS-ASCMD 2.2.2). */
export const composeStatus = {
  invalidXml: 103,
  invalidMime: 107,
  serverError: 110,
  retryLater: 111,
  messagePreviouslySent: 118,
  noRecipient: 119,
  submissionFailed: 120,
  tooLarge: 122,
  itemNotFound: 150,
} as const;

/** MS-ASCMD 2.2.3.28.1 allows 40 characters; more is taken, up to this, for clients that exceed it. */
const clientIdCharsMax = 128;

const flagFor: Record<SmartKind, string> = { reply: '\\Answered', forward: '$Forwarded' };

export const sendMail = (ctx: EasContext, body: WbxmlElement | undefined) => compose(ctx, body, 'SendMail');
export const smartReply = (ctx: EasContext, body: WbxmlElement | undefined) => compose(ctx, body, 'SmartReply', 'reply');
export const smartForward = (ctx: EasContext, body: WbxmlElement | undefined) => compose(ctx, body, 'SmartForward', 'forward');

class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function compose(ctx: EasContext, body: WbxmlElement | undefined, command: string, kind?: SmartKind): Promise<WbxmlElement | undefined> {
  const { accountId } = ctx.point;
  try {
    if (body?.name !== command) throw new Refused(composeStatus.invalidXml, `the request is not a ${command} element`);
    const clientId = text(child(body, 'ClientId'));
    const mime = mimeOf(child(body, 'Mime'));
    if (!clientId || clientId.length > clientIdCharsMax || !sendMailSchema.shape.clientId.safeParse(clientId).success) throw new Refused(composeStatus.invalidXml, `ClientId: give 1-${clientIdCharsMax} characters, no line breaks`);
    if (mime === undefined) throw new Refused(composeStatus.invalidXml, 'Mime: the message is missing');
    const hubClientId = `${ctx.point.device.id}/${clientId}`;
    // A send begun before (a replay after a lost answer, or one whose outcome is unknown: 118) is answered
    // from its record, the original not looked for: it may have moved since.
    const begun = await ctx.hub.mail.sendBegun(accountId, hubClientId);
    const source = kind && !begun ? await sourceOf(ctx, child(body, 'Source')) : undefined;
    let message = mime;
    if (kind && !begun && !child(body, 'ReplaceMime')) {
      if (!source) throw new Refused(composeStatus.itemNotFound, 'Source: name the original by FolderId and ItemId, or by a LongId');
      const original = await rawMessage(ctx, source.collectionId, source.itemId);
      message = await smartMessage(kind, mime, original, (address) => sendMessageId(accountId, hubClientId, address), new Date(ctx.hub.now()));
    }
    const sent = await ctx.hub.mail.send(accountId, { clientId: hubClientId, message });
    if (kind && source && !sent.replayed) {
      // The original shows as answered or forwarded on every device and at IMAP; a failure here unsends nothing.
      await ctx.hub.mail.addFlag(ctx.point, source.collectionId, source.itemId, flagFor[kind]).catch((err: unknown) => {
        ctx.logger.warn({ accountId, command, error: String(err) }, 'the original was not marked');
      });
    }
    return undefined;
  } catch (err) {
    const status = err instanceof Refused ? err.status : err instanceof ProtocolError ? statusOf(err) : undefined;
    if (status === undefined) throw err;
    ctx.logger.info({ accountId, command, status, error: (err as Error).message }, 'mail not sent');
    return cm(command, cm('Status', String(status)));
  }
}

/** The Mime element's message as bytes: its opaque bytes as they are (8-bit parts need not be UTF-8), its text as UTF-8. */
function mimeOf(e: WbxmlElement | undefined): Buffer | undefined {
  if (!e) return undefined;
  const joined = Buffer.concat(e.children.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c instanceof Uint8Array ? c : new Uint8Array())));
  return joined.length === 0 ? undefined : joined;
}

/**
 * The original a Source names: FolderId and ItemId (an ItemId alone is in the Inbox, MS-ASCMD
 * 2.2.3.93), or the LongId a Search result carried. InstanceId (an occurrence of a meeting) is not served.
 */
async function sourceOf(ctx: EasContext, source: WbxmlElement | undefined): Promise<{ collectionId: string; itemId: string } | undefined> {
  const long = text(child(source, 'LongId'));
  if (long !== undefined) {
    const named = readLongId(long);
    return named && { collectionId: named.collectionId, itemId: named.serverId };
  }
  const itemId = text(child(source, 'ItemId'));
  if (!itemId) return undefined;
  const collectionId = text(child(source, 'FolderId')) ?? (await inboxOf(ctx));
  return collectionId ? { collectionId, itemId } : undefined;
}

/** The collection of the account's IMAP Inbox (RFC 3501 names it INBOX, in any case). */
async function inboxOf(ctx: EasContext): Promise<string | undefined> {
  for (const upstream of await ctx.hub.upstreams.list(ctx.point.accountId)) {
    if (upstream.kind !== 'imap') continue;
    const inbox = upstream.collections.find((c) => decodeURIComponent(new URL(c.url).pathname.slice(1)).toUpperCase() === 'INBOX');
    if (inbox) return inbox.collectionId;
  }
  return undefined;
}

/** The original message whole, as the IMAP server holds it, at most limits.mailSendBytesMax. */
async function rawMessage(ctx: EasContext, collectionId: string, itemId: string): Promise<Buffer> {
  const part = await ctx.hub.mail.fetchPart(ctx.point.accountId, collectionId, itemId, rawPart);
  const read = await partBytes(part.body, limits.mailSendBytesMax);
  if (!read) throw new Refused(composeStatus.tooLarge, `the original is more than ${limits.mailSendBytesMax} bytes`);
  return read.bytes;
}

/**
 * A send's refusal as the common status a device acts on (MS-ASCMD 2.2.2), read by its named reasons; undefined
 * where the command's own status says it (the original or draft not found, a retry, a message that cannot be read).
 */
export function sendRefusalStatus(err: ProtocolError): number | undefined {
  switch (err.status) {
    // The account has several submission servers and ActiveSync cannot name one: it cannot send (docs/eas.md).
    case 'invalidRequest':
      return err.extra.reason === 'submissionAmbiguous' ? composeStatus.submissionFailed : err.extra.reason === 'noRecipient' ? composeStatus.noRecipient : undefined;
    case 'bodyTooLarge':
    case 'limitReached':
      return composeStatus.tooLarge;
    case 'notFound':
      return err.extra.reason === 'noSubmission' ? composeStatus.submissionFailed : undefined;
    // Sent before with its outcome unknown: it may have gone, and is never sent again under this ClientId.
    case 'conflict':
      return err.extra.sendState === 'unknown' ? composeStatus.messagePreviouslySent : undefined;
    case 'upstreamFailed':
      return composeStatus.submissionFailed;
    default:
      return undefined;
  }
}

/** The hub's refusal as the status a device acts on (MS-ASCMD 2.2.2). */
function statusOf(err: ProtocolError): number {
  const sending = sendRefusalStatus(err);
  if (sending !== undefined) return sending;
  switch (err.status) {
    case 'invalidRequest':
      return composeStatus.invalidMime;
    // The original is gone (moved, deleted, or no longer at the IMAP server).
    case 'notFound':
      return composeStatus.itemNotFound;
    case 'conflict':
    case 'unavailable':
    case 'rateLimited':
      return composeStatus.retryLater;
    default:
      return composeStatus.serverError;
  }
}
