import MailComposer from 'nodemailer/lib/mail-composer';
import { addressParser } from 'postal-mime';
import { limits } from '../../core/limits.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { SendMailRequest } from '../../protocol/mail-send.js';
import { headerBlock, headerFields } from './mime.js';

/**
 * A message to send (docs/protocol.md §10.7), from the whole RFC 5322 text a client gives or composed
 * from its parts (nodemailer's MailComposer, which never reads a file or URL here): CRLF line ends, a
 * Message-ID (the one given, else `messageIdFor` the sender's address) and a Date; the envelope from its
 * From (or Sender) and its To, Cc and Bcc; `copy`, for the Sent folder, keeps Bcc, and `wire`, what the
 * submission server gets, does not. Every bound is checked before the work that it bounds.
 */
export interface Outgoing {
  envelope: { from: string; to: string[] };
  messageId: string;
  copy: Buffer;
  wire: Buffer;
}

export const tooLarge = (bytes: number) =>
  new ProtocolError('bodyTooLarge', `the message is ${bytes} bytes, more than the ${limits.mailSendBytesMax} a message may be (mailSendBytesMax)`, { limit: 'mailSendBytesMax', max: limits.mailSendBytesMax });
/**
 * A message built by nodemailer's MailComposer as every message made here is: it never reads a file or
 * URL (a part's content is what the caller gave), names no mailer, and keeps Bcc in its bytes (the copy
 * filed in Sent; the submission sends `withoutBcc`).
 */
export async function composeMime(options: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  const node = new MailComposer({ ...options, disableFileAccess: true, disableUrlAccess: true, xMailer: false }).compile();
  node.keepBcc = true;
  return node.build();
}

/** `reason` (docs/protocol.md §10.7) names the refusals a program acts on apart from the others. */
const invalid = (message: string, reason?: 'noRecipient') => new ProtocolError('invalidRequest', message, reason ? { reason } : {});

type Parts = Omit<SendMailRequest, 'clientId' | 'upstreamId' | 'message'>;

/** The bytes a composed message will have at least: its texts and decoded attachments, checked before composing. */
function partsBytes(parts: Parts): number {
  let bytes = Buffer.byteLength(parts.text ?? '') + Buffer.byteLength(parts.html ?? '');
  for (const a of parts.attachments ?? []) bytes += Math.floor((a.base64.length * 3) / 4);
  return bytes;
}

export async function composeMessage(parts: Parts, from: { name?: string | undefined; address: string }, messageIdFor: (address: string) => string, date: Date): Promise<Outgoing> {
  const before = partsBytes(parts);
  if (before > limits.mailSendBytesMax) throw tooLarge(before);
  const recipients = [...(parts.to ?? []), ...(parts.cc ?? []), ...(parts.bcc ?? [])];
  if (recipients.length > limits.mailSendRecipientsMax) throw invalid(`a message goes to at most ${limits.mailSendRecipientsMax} recipients (to, cc and bcc together)`);
  const messageId = messageIdFor(from.address);
  const copy = await composeMime({
    from,
    to: parts.to,
    cc: parts.cc,
    bcc: parts.bcc,
    replyTo: parts.replyTo,
    subject: parts.subject ?? '',
    text: parts.text,
    html: parts.html,
    inReplyTo: parts.inReplyTo,
    references: parts.references,
    messageId,
    date,
    attachments: (parts.attachments ?? []).map((a) => ({ filename: a.name, contentType: a.type, content: a.base64, encoding: 'base64', ...(a.contentId !== undefined ? { cid: a.contentId } : {}) })),
  });
  if (copy.length > limits.mailSendBytesMax) throw tooLarge(copy.length);
  return { envelope: { from: from.address, to: unique(recipients.map((r) => r.address)) }, messageId, copy, wire: withoutField(copy, 'bcc') };
}

/**
 * The whole message a client gave: checked, its line ends made CRLF, a Message-ID and Date added when it
 * has none. Given as bytes (an ActiveSync phone's, or a forward with its original attached), every byte
 * but the line ends is kept: an 8-bit part in another charset than UTF-8 arrives as it was.
 */
export function prepareMessage(text: string | Buffer, messageIdFor: (address: string) => string, date: Date): Outgoing {
  const raw = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  if (raw.length > limits.mailSendBytesMax) throw tooLarge(raw.length);
  // Read as latin1, each byte is one character: CR and LF are found without decoding anything.
  let source = Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  const blank = source.indexOf('\r\n\r\n');
  const fields = blank === -1 ? [] : headerFields(source.subarray(0, blank).toString('utf8'));
  if (fields.length === 0) throw invalid('message: not an RFC 5322 message: give its header fields, a blank line, then its body');
  const field = (name: string) => fields.filter((f) => f.name === name).map((f) => f.value);
  const from = addresses(field('sender')[0] ?? field('from')[0] ?? '', 'From');
  if (from.length === 0) throw invalid('message: the message has no From address');
  const recipients = unique([...field('to'), ...field('cc'), ...field('bcc')].flatMap((v) => addresses(v, 'To, Cc or Bcc')));
  if (recipients.length === 0) throw invalid('message: the message has no recipient in To, Cc or Bcc', 'noRecipient');
  if (recipients.length > limits.mailSendRecipientsMax) throw invalid(`message: a message goes to at most ${limits.mailSendRecipientsMax} recipients (To, Cc and Bcc together)`);
  const given = field('message-id');
  if (given.length > 1) throw invalid('message: the message has more than one Message-ID');
  let messageId = given[0]?.trim();
  if (messageId !== undefined && !/^<[^\s<>]{1,248}>$/.test(messageId)) throw invalid('message: its Message-ID is not one id in angle brackets of at most 250 characters');
  const added: string[] = [];
  if (messageId === undefined) {
    messageId = messageIdFor(from[0] as string);
    added.push(`Message-ID: ${messageId}`);
  }
  if (field('date').length === 0) added.push(`Date: ${date.toUTCString().replace('GMT', '+0000')}`);
  if (added.length > 0) source = Buffer.concat([Buffer.from(`${added.join('\r\n')}\r\n`), source]);
  if (source.length > limits.mailSendBytesMax) throw tooLarge(source.length);
  return { envelope: { from: from[0] as string, to: recipients }, messageId, copy: source, wire: withoutField(source, 'bcc') };
}

function addresses(value: string, field: string): string[] {
  const out = addressParser(value, { flatten: true }).map((a) => (a.address ?? '').trim());
  for (const a of out) if (!/^[^\s@]+@[^\s@]+$/.test(a) || a.length > limits.mailAddressCharsMax) throw invalid(`message: ${field} holds something that is not an address (local@domain)`);
  return out;
}

const unique = (list: string[]) => [...new Map(list.map((a) => [a.toLowerCase(), a])).values()];

/**
 * The message without the header field `name` (lowercase): without Bcc for the recipients (RFC 5322
 * §3.6.3: blind copies do not show them to the others), without the Date a draft was last saved at for
 * its send (hub/mail.ts sendDraft, which then dates it when it goes).
 */
export function withoutField(source: Buffer, name: string): Buffer {
  const block = headerBlock(source);
  const lines = block.toString('latin1').split('\r\n');
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!dropping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    dropping = colon > 0 && line.slice(0, colon).trim().toLowerCase() === name;
    if (!dropping) kept.push(line);
  }
  return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), source.subarray(block.length)]);
}
