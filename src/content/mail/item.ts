import { z } from 'zod';
import { limits } from '../../core/limits.js';
import { carriedByXml } from '../utf8.js';

/**
 * A mail item (docs/protocol.md §10.5): one IMAP message's metadata and the first portion of its text,
 * as JSON. This module is the format's one definition: the schema the mail kind checks items against
 * (kinds/mail.ts), and the one way to write an item out (`mailItemJson`), which the item builder
 * (message-item.ts) and the kind's merge use, so one item has one text.
 */

export interface MailAddress {
  name: string | null;
  address: string;
}

export interface MailBody {
  type: 'text/plain' | 'text/html';
  text: string;
  complete: boolean;
  part: string;
  htmlPart: string | null;
}

export interface MailAttachment {
  part: string;
  name: string | null;
  type: string;
  size: number;
  inline: boolean;
  contentId: string | null;
}

/**
 * The iCalendar object of an invitation or another scheduling message sent by mail (iMIP, RFC 6047): the
 * message's first text/calendar part, whole, with its METHOD (REQUEST, CANCEL, REPLY…).
 */
export interface MailInvitation {
  method: string;
  part: string;
  text: string;
}

export interface MailItem {
  messageId: string | null;
  subject: string;
  from: MailAddress[];
  sender: MailAddress[];
  replyTo: MailAddress[];
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  date: string | null;
  receivedAt: string;
  inReplyTo: string | null;
  references: string[];
  threadId: string;
  flags: string[];
  size: number;
  preview: string;
  body: MailBody | null;
  attachments: MailAttachment[];
  /** Present only for a message that carries an iCalendar scheduling object (docs/protocol.md §10.5). */
  invitation?: MailInvitation | undefined;
}

/** The part token of every mail item that names the whole message, as the IMAP server holds it (docs/protocol.md §10.6). */
export const rawPart = 'raw';

export const addressFields = ['from', 'sender', 'replyTo', 'to', 'cc', 'bcc'] as const;

/** An IMAP flag: a system flag (`\Seen`) or a keyword, an IMAP atom (RFC 3501 §9, `flag`), ASCII. */
export const flagPattern = /^\\?[!#$&'+,\-./0-9:;<=>?@A-Z[^_`a-z|}~]+$/;
/** Flags a mail item never carries: a message marked deleted is on its way out, and `\Recent` is one session's. */
export const flagsNeverKept: ReadonlySet<string> = new Set(['\\Deleted', '\\Recent']);
/** An RFC 3339 UTC time, as the builder writes it (whole seconds) or with milliseconds. */
const utcTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

const text = (max: number, what: string) =>
  z
    .string()
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => carriedByXml(s), `${what} holds control characters or characters XML cannot carry`);
const time = (what: string) => z.string().refine((s) => utcTime.test(s) && !Number.isNaN(Date.parse(s)), `${what} is not an RFC 3339 UTC time`);
const id = text(limits.mailIdCharsMax, 'a message id');
const part = text(limits.mailPartCharsMax, 'a part token').min(1, 'a part token is empty');

const address = z.strictObject({
  name: text(limits.mailDisplayNameCharsMax, 'a display name').nullable(),
  address: text(limits.mailAddressCharsMax, 'an address').min(1, 'an address is empty'),
});
const addresses = z.array(address).max(limits.mailAddressesPerFieldMax, `at most ${limits.mailAddressesPerFieldMax} addresses per field`);

const schema = z.strictObject({
  messageId: id.nullable(),
  subject: text(limits.mailSubjectCharsMax, 'the subject'),
  from: addresses,
  sender: addresses,
  replyTo: addresses,
  to: addresses,
  cc: addresses,
  bcc: addresses,
  date: time('date').nullable(),
  receivedAt: time('receivedAt'),
  inReplyTo: id.nullable(),
  references: z.array(id).max(limits.mailReferencesMax, `at most ${limits.mailReferencesMax} references`),
  threadId: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'threadId is 22 characters of A-Z a-z 0-9 - _'),
  flags: z
    .array(z.string().max(limits.mailFlagCharsMax, `a flag is longer than ${limits.mailFlagCharsMax} characters`).regex(flagPattern, 'a flag is an IMAP flag or keyword'))
    .max(limits.mailFlagsMax, `at most ${limits.mailFlagsMax} flags`)
    .refine((flags) => flags.every((f, i) => i === 0 || (flags[i - 1] as string) < f), 'flags are sorted by code point, without duplicates')
    .refine((flags) => !flags.some((f) => flagsNeverKept.has(f)), 'flags never hold \\Deleted or \\Recent'),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  preview: text(limits.mailPreviewCharsMax, 'the preview'),
  body: z
    .strictObject({
      type: z.enum(['text/plain', 'text/html']),
      text: z
        .string()
        .max(limits.mailBodyBytesMax, `the body text is longer than ${limits.mailBodyBytesMax} bytes`)
        .refine((s) => Buffer.byteLength(s, 'utf8') <= limits.mailBodyBytesMax, `the body text is longer than ${limits.mailBodyBytesMax} bytes`)
        .refine((s) => carriedByXml(s), 'the body text holds control characters or characters XML cannot carry'),
      complete: z.boolean(),
      part,
      htmlPart: part.nullable(),
    })
    .nullable(),
  attachments: z
    .array(
      z.strictObject({
        part,
        name: text(limits.mailFileNameCharsMax, 'an attachment name').nullable(),
        type: text(limits.mailFileNameCharsMax, 'a media type').regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/, 'a media type is lowercase type/subtype'),
        size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        inline: z.boolean(),
        contentId: id.nullable(),
      }),
    )
    .max(limits.mailAttachmentsMax, `at most ${limits.mailAttachmentsMax} attachments`),
  invitation: z
    .strictObject({
      method: z.string().regex(/^[A-Z][A-Z0-9-]{0,31}$/, 'an iTIP method is 1-32 capital letters, digits and hyphens'),
      part,
      text: z
        .string()
        .min(1, 'the invitation text is empty')
        .max(limits.mailInvitationBytesMax, `the invitation text is longer than ${limits.mailInvitationBytesMax} bytes`)
        .refine((s) => Buffer.byteLength(s, 'utf8') <= limits.mailInvitationBytesMax, `the invitation text is longer than ${limits.mailInvitationBytesMax} bytes`)
        .refine((s) => carriedByXml(s), 'the invitation text holds control characters or characters XML cannot carry'),
    })
    .optional(),
});

/** The item `data` holds, or what is wrong with it (the first problem, with its path). */
export function parseMailItem(data: string): MailItem | string {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return 'a mail item is a JSON object';
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  return path === '' ? (issue?.message ?? 'not a mail item') : `${path}: ${issue?.message ?? 'invalid'}`;
}

/** The item's one text: its fields in the order of docs/protocol.md §10.5, whatever order they were given in. */
export function mailItemJson(item: MailItem): string {
  const addr = (list: readonly MailAddress[]) => list.map((a) => ({ name: a.name, address: a.address }));
  return JSON.stringify({
    messageId: item.messageId,
    subject: item.subject,
    from: addr(item.from),
    sender: addr(item.sender),
    replyTo: addr(item.replyTo),
    to: addr(item.to),
    cc: addr(item.cc),
    bcc: addr(item.bcc),
    date: item.date,
    receivedAt: item.receivedAt,
    inReplyTo: item.inReplyTo,
    references: item.references,
    threadId: item.threadId,
    flags: item.flags,
    size: item.size,
    preview: item.preview,
    body: item.body && { type: item.body.type, text: item.body.text, complete: item.body.complete, part: item.body.part, htmlPart: item.body.htmlPart },
    attachments: item.attachments.map((a) => ({ part: a.part, name: a.name, type: a.type, size: a.size, inline: a.inline, contentId: a.contentId })),
    // Absent rather than null when there is none, so the items of other messages are as they always were.
    ...(item.invitation ? { invitation: { method: item.invitation.method, part: item.invitation.part, text: item.invitation.text } } : {}),
  });
}
