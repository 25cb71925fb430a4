import PostalMime, { type Email } from 'postal-mime';
import { composeMime } from '../../content/mail/outgoing.js';
import { limits } from '../../core/limits.js';
import type { Hub } from '../../hub/hub.js';
import { errorBody } from '../../http/body.js';
import type { Principal } from '../../http/principal.js';
import { ProtocolError, type StatusCode } from '../../protocol/errors.js';
import { messageIdSchema } from '../../protocol/mail-send.js';
import { clip } from '../../protocol/validate.js';
import { encodeBody, mediaTypes, type Encoding } from './codec.js';
import { runNativeSync } from './exchange.js';

/**
 * Sync by mail (docs/protocol.md §21): one request message in, one answer message out. The request is a
 * message whose subject begins with the marker, carrying an app password in its `Syncpoint-Token` header
 * and the exact body of `POST /api/v1/sync` as its one `application/xml` (or `application/json`) part;
 * the exchange runs as over HTTP (exchange.ts), so sync keys, replay and every refusal are the same. The
 * answer is built here and always addressed to the account's own address, which the caller gives: nothing
 * in the request (From, Reply-To) decides where it goes. Reaching the mailbox (IMAP, SMTP) is the
 * caller's (server/sync-by-mail.ts).
 */

/** What a request's subject begins with (ASCII case ignored); a subject that only holds it is no request. */
export const syncMailMarker = '[syncpoint-sync]';
/** What an answer's subject begins with: never the request's marker, so no answer is taken for a request. */
export const syncAnswerMarker = '[syncpoint-answer]';

/** The devices a sync by mail registers show this protocol on the devices page (§16). */
export const syncMailProtocol = 'native-mail';

export const isSyncMailSubject = (subject: string): boolean => subject.trimStart().toLowerCase().startsWith(syncMailMarker);

/** The media types of a sync part, and the encoding each stands for (§1). */
const partEncodings: Readonly<Record<string, Encoding>> = { 'application/xml': 'xml', 'application/json': 'json' };

/** A Message-ID as an answer may refer to it: one `<id>` of at most limits.mailIdCharsMax characters; null when it is none. */
const validId = (id: string | null | undefined): string | null => {
  const trimmed = id?.trim();
  return trimmed !== undefined && messageIdSchema.safeParse(trimmed).success ? trimmed : null;
};

/** What the Syncpoint-Token header may hold at all: one word of printable ASCII (an app password is `sp_<id>_<secret>`, §2). */
const tokenPattern = /^[!-~]{1,200}$/;

/** A request as the mailbox holds it: its size and Message-ID as the IMAP server reports them, and its source, read only once the size is known to be within the limit. */
export interface SyncMail {
  size: number;
  messageId: string | null;
  /** The whole message; undefined when it is gone from the mailbox meanwhile. */
  read(): Promise<Buffer | undefined>;
}

/** Who an app password is (the server shell's Authenticator, through the password throttle); undefined when it is no valid app password. */
export type SyncMailCredentials = (token: string) => Promise<Principal | undefined>;

export interface SyncMailAnswer {
  /** The exchange's status: `ok`, or the request-level status of the error body it carries (§12). */
  status: StatusCode;
  /** The request's Message-ID the answer refers to (In-Reply-To), when it had a valid one. */
  inReplyTo: string | null;
  /** The answer message (RFC 5322, CRLF), from and to `address`. */
  message: Buffer;
}

/**
 * Answers one request of the account whose mailbox holds it. Checks in order, each before the work it
 * bounds: the size (before the message is read), the MIME structure (bounded parse), the app password
 * (of this account: a token of another account is refused as no token), the Message-ID, the one sync part;
 * then the exchange. Any ProtocolError becomes an error answer; anything else (the store out of reach)
 * is thrown, and the request is left for the next pick-up. Undefined when the message is gone.
 */
export async function answerSyncMail(hub: Hub, account: { accountId: string; address: string }, request: SyncMail, credentials: SyncMailCredentials, now: Date): Promise<SyncMailAnswer | undefined> {
  let encoding: Encoding = 'xml';
  let inReplyTo = validId(request.messageId);
  let answer: { status: StatusCode; root: string; body: object };
  try {
    if (request.size > limits.mailSyncRequestBytesMax) throw tooLarge(request.size);
    const source = await request.read();
    if (source === undefined) return undefined;
    if (source.length > limits.mailSyncRequestBytesMax) throw tooLarge(source.length);
    const email = await parse(source);
    inReplyTo = validId(email.messageId);
    const token = single(email, 'syncpoint-token');
    const principal = token === undefined || !tokenPattern.test(token) ? undefined : await credentials(token);
    if (!principal || principal.accountId !== account.accountId) {
      throw new ProtocolError('unauthorized', 'a sync request by mail carries a valid app password of this account in its Syncpoint-Token header');
    }
    if (inReplyTo === null) throw new ProtocolError('invalidRequest', `a sync request by mail has one Message-ID, an <id> of at most ${limits.mailIdCharsMax} characters, which its answer refers to`);
    const part = syncPart(email);
    encoding = part.encoding;
    const response = await runNativeSync(hub, account.accountId, syncMailProtocol, part.bytes, encoding, principal.tokenId);
    answer = { status: 'ok', root: 'syncResponse', body: response };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    answer = { status: err.status, root: 'error', body: errorBody(err) };
  }
  const message = await composeAnswer(account.address, inReplyTo, answer.status, encoding, answer.root, encodeBody(encoding, answer.root, answer.body), now);
  return { status: answer.status, inReplyTo, message };
}

const tooLarge = (bytes: number) =>
  new ProtocolError('bodyTooLarge', `the request message is ${bytes} bytes, more than the ${limits.mailSyncRequestBytesMax} a sync request by mail may be (mailSyncRequestBytesMax); send fewer changes at once, or sync over HTTP`, {
    limit: 'mailSyncRequestBytesMax',
    max: limits.mailSyncRequestBytesMax,
  });

/** The message's MIME structure, within bounds a sync request never comes near: no attached message is entered. */
async function parse(source: Buffer): Promise<Email> {
  try {
    return await PostalMime.parse(source, { attachmentEncoding: 'arraybuffer', maxNestingDepth: 8, maxPartCount: 32, maxHeadersSize: 256 * 1024, maxRfc822NestingDepth: 0, forceRfc822Attachments: true });
  } catch (err) {
    throw new ProtocolError('invalidRequest', clip(`the request is not a MIME message that can be read: ${err instanceof Error ? err.message : String(err)}`));
  }
}

/** The value of a header field the message has exactly once, trimmed; undefined when it has none or several. */
function single(email: Email, name: string): string | undefined {
  const found = email.headers.filter((h) => h.key === name);
  return found.length === 1 ? found[0]?.value.trim() : undefined;
}

/** The one part that is a sync request, decoded from its transfer encoding. */
function syncPart(email: Email): { bytes: Buffer; encoding: Encoding } {
  const parts = email.attachments.filter((a) => Object.hasOwn(partEncodings, a.mimeType));
  if (parts.length !== 1) {
    throw new ProtocolError('invalidRequest', `a sync request by mail has exactly one part of type application/xml or application/json, the body of POST /api/v1/sync; this one has ${parts.length}`);
  }
  const part = parts[0] as Email['attachments'][number];
  const content = part.content;
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content instanceof ArrayBuffer ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  return { bytes, encoding: partEncodings[part.mimeType] as Encoding };
}

/** The answer message: a line for a person to read, and the sync response or error body as its one part of the request's media type. */
async function composeAnswer(address: string, inReplyTo: string | null, status: StatusCode, encoding: Encoding, root: string, body: string, now: Date): Promise<Buffer> {
  const file = `${root}.${encoding}`;
  return composeMime({
    from: address,
    to: address,
    subject: `${syncAnswerMarker} ${status}`,
    ...(inReplyTo !== null ? { inReplyTo, references: inReplyTo } : {}),
    date: now,
    // RFC 3834: an automatic answer, which no vacation notice or other robot should answer in turn.
    headers: { 'Syncpoint-Status': status, 'Auto-Submitted': 'auto-replied' },
    text: `Syncpoint's answer to the sync request ${inReplyTo ?? '(which had no valid Message-ID)'}: ${status}. The answer itself is the attached ${file}.\n`,
    attachments: [{ filename: file, contentType: `${mediaTypes[encoding]}; charset=utf-8`, content: body }],
  });
}
