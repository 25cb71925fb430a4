import { messageIdSchema } from '../../protocol/mail-send.js';
import { composeMime, tooLarge } from '../../content/mail/outgoing.js';
import PostalMime, { type Address, type Email } from 'postal-mime';
import { limits } from '../../core/limits.js';
import { htmlText } from '../../content/mail/message-item.js';
import { ProtocolError } from '../../protocol/errors.js';
import { escapeHtml } from './mapping/body.js';

/**
 * SmartReply and SmartForward without ReplaceMime (MS-ASCMD 2.2.1.19, 2.2.1.20): the device sends only
 * what the user typed, and the server adds the original message, which it holds
 * (docs/eas.md § Sending and moving mail). The device's message is read with postal-mime and composed
 * again with nodemailer's MailComposer, with its own From, recipients, subject, Message-ID and attachments:
 * - a reply quotes the original's text under the user's (`> ` lines after "On DATE, FROM wrote:"; in
 *   the HTML version, the original's HTML body in a `<blockquote type="cite">`), and its In-Reply-To
 *   and References follow the original unless the device set them;
 * - a forward attaches the original whole, as it came (`message/rfc822`): every part and header of it
 *   reaches the recipient, which quoting its parts one by one would not promise.
 */
export type SmartKind = 'reply' | 'forward';

/** A message a device or a mail server made, within bounds: no attached message is entered. */
export async function parseMime(source: Buffer | string, whose: string): Promise<Email> {
  try {
    return await PostalMime.parse(source, {
      attachmentEncoding: 'arraybuffer',
      maxNestingDepth: 16,
      maxPartCount: 2 * limits.mailAttachmentsMax,
      maxHeadersSize: 1024 * 1024,
      maxRfc822NestingDepth: 0,
      forceRfc822Attachments: true,
    });
  } catch (err) {
    throw new ProtocolError('invalidRequest', `${whose} is not a MIME message that can be read: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export type Mailbox = { name?: string; address: string };

/** The addresses of a header, groups flattened, those without an address left out. */
export function mailboxes(list: readonly Address[] | undefined): Mailbox[] {
  const out: Mailbox[] = [];
  for (const a of list ?? []) {
    for (const m of a.group ?? [a]) if (m.address) out.push(m.name ? { name: m.name, address: m.address } : { address: m.address });
  }
  return out;
}


/** One message id `<id>` as a send may carry it (docs/protocol.md §10.7, messageIdSchema), or undefined. */
const messageId = (value: string | undefined) => {
  const id = messageIdSchema.safeParse(value?.trim());
  return id.success ? id.data : undefined;
};

/** The ids of a References field that a send may carry, at most the last limits.mailReferencesMax. */
const referenceIds = (field: string | undefined): string[] => (field?.match(/<[^\s<>]+>/g) ?? []).filter((id) => messageId(id) !== undefined).slice(-limits.mailReferencesMax);

/** The reply's References: the original's, then its own id, at most the last limits.mailReferencesMax. */
function referencesOf(original: Email): string[] {
  const own = messageId(original.messageId);
  return referenceIds(`${original.references ?? ''} ${own ?? ''}`);
}

/** "On DATE, NAME <ADDRESS> wrote:", from the original's own Date and From. */
function attribution(original: Email): string {
  const date = original.headers.find((h) => h.key === 'date')?.value.trim();
  const [from] = mailboxes(original.from ? [original.from] : []);
  const who = from ? (from.name ? `${from.name} <${from.address}>` : from.address) : 'someone';
  return date ? `On ${date}, ${who} wrote:` : `${who} wrote:`;
}

const quoteText = (text: string) =>
  text
    .replace(/\r\n/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .map((line) => (line === '' || line.startsWith('>') ? `>${line}` : `> ${line}`))
    .join('\n');

/** What is inside an HTML document's body (the whole text when it has no body element). */
function bodyOf(html: string): string {
  const open = /<body[^>]*>/i.exec(html);
  const start = open ? open.index + open[0].length : 0;
  const close = html.toLowerCase().lastIndexOf('</body>');
  return html.slice(start, close >= start ? close : html.length);
}

/** Puts `tail` at the end of the HTML document's body. */
function appendToBody(html: string, tail: string): string {
  const close = html.toLowerCase().lastIndexOf('</body>');
  return close === -1 ? html + tail : html.slice(0, close) + tail + html.slice(close);
}

/**
 * The message to send: the device's `mime` with the original (`original`, the raw message) quoted or
 * attached. `messageIdFor` gives the Message-ID when the device's message has none (the same one at
 * every attempt of one send), `now` the Date when it has none. The message is bytes: the original
 * attached by a forward is attached byte for byte, whatever its charset.
 */
export async function smartMessage(kind: SmartKind, mime: Buffer, original: Buffer, messageIdFor: (address: string) => string, now: Date): Promise<Buffer> {
  const bytes = mime.length + (kind === 'forward' ? original.length : 0);
  if (bytes > limits.mailSendBytesMax) throw tooLarge(bytes);
  const [mine, theirs] = [await parseMime(mime, 'the message'), await parseMime(original, 'the original message')];
  const [from] = mailboxes(mine.from ? [mine.from] : []);
  if (!from) throw new ProtocolError('invalidRequest', 'message: the message has no From address');
  let text = mine.text;
  let html = mine.html;
  if (kind === 'reply') {
    const heading = attribution(theirs);
    const quoted = theirs.text ?? (theirs.html !== undefined ? htmlText(theirs.html) : '');
    if (text !== undefined || html === undefined) text = `${(text ?? '').replace(/\s+$/, '')}\n\n${heading}\n${quoteText(quoted)}\n`;
    if (html !== undefined) {
      const cited = theirs.html !== undefined ? bodyOf(theirs.html) : `<pre>${escapeHtml(quoted)}</pre>`;
      html = appendToBody(html, `<div>${escapeHtml(heading)}</div><blockquote type="cite">${cited}</blockquote>`);
    }
  }
  const given = referenceIds(mine.references);
  const references = given.length > 0 ? given : kind === 'reply' ? referencesOf(theirs) : [];
  const inReplyTo = messageId(mine.inReplyTo) ?? (kind === 'reply' ? messageId(theirs.messageId) : undefined);
  const date = mine.date !== undefined && !Number.isNaN(Date.parse(mine.date)) ? new Date(mine.date) : now;
  const attachments: Array<{ filename?: string; contentType: string; content: Buffer; contentDisposition: string; cid?: string }> = mine.attachments.map((a) => ({
    ...(a.filename !== null ? { filename: a.filename } : {}),
    contentType: a.mimeType,
    content: Buffer.from(a.content as ArrayBuffer),
    contentDisposition: a.disposition ?? 'attachment',
    ...(a.contentId !== undefined ? { cid: a.contentId.replace(/^<|>$/g, '') } : {}),
  }));
  if (kind === 'forward') {
    const name = (theirs.subject ?? '').replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_').trim().slice(0, 200) || 'message';
    attachments.push({ filename: `${name}.eml`, contentType: 'message/rfc822', content: original, contentDisposition: 'attachment' });
  }
  const built = await composeMime({
    from,
    ...(mine.sender?.address ? { sender: { name: mine.sender.name, address: mine.sender.address } } : {}),
    to: mailboxes(mine.to),
    cc: mailboxes(mine.cc),
    bcc: mailboxes(mine.bcc),
    replyTo: mailboxes(mine.replyTo),
    subject: mine.subject ?? '',
    ...(text !== undefined ? { text } : {}),
    ...(html !== undefined ? { html } : {}),
    ...(inReplyTo !== undefined ? { inReplyTo } : {}),
    ...(references.length > 0 ? { references } : {}),
    messageId: messageId(mine.messageId) ?? messageIdFor(from.address),
    date,
    attachments,
  });
  if (built.length > limits.mailSendBytesMax) throw tooLarge(built.length);
  // Bytes, not text: an attached original's 8-bit parts need not be UTF-8.
  return built;
}
