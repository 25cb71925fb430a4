import { z } from 'zod';
import { limits } from '../core/limits.js';

/**
 * POST /api/v1/mail/send (docs/protocol.md §10.7): a message to send through an IMAP upstream's SMTP
 * submission server, known by the client id the device gives it, so a retried send is never sent twice.
 * Either `message`, the whole message as RFC 5322 text, or the parts the server composes it from.
 */

/** No line breaks or other control characters: they would start another header field. */
const oneLine = /^[^\u0000-\u001f\u007f]*$/;
const oneLineRule = 'no line breaks or control characters';

const addressSchema = z.object({
  name: z.string().max(limits.mailDisplayNameCharsMax).regex(oneLine, oneLineRule).optional(),
  address: z
    .string()
    .min(3)
    .max(limits.mailAddressCharsMax)
    .regex(/^[^\s<>(),;:"\\@]+@[^\s<>(),;:"\\@]+$/, 'an address such as ann@example.org'),
});
const addressesSchema = z.array(addressSchema).max(limits.mailSendRecipientsMax);
/** A message id as mail carries it: one `<id>` (a send's In-Reply-To and references; what a sync answer by mail refers to, §21). */
export const messageIdSchema = z.string().max(limits.mailIdCharsMax).regex(/^<[^\s<>]+>$/, 'a message id such as <id@example.org>');

export const sendMailSchema = z
  .object({
    /** The device's name for this send (1–256 characters): the same id again is never sent again. */
    clientId: z.string().min(1).max(limits.mailSendClientIdCharsMax).regex(oneLine, oneLineRule),
    /** The IMAP upstream to send through; without it, the account's one upstream with a submission server. */
    upstreamId: z.string().min(1).max(64).optional(),
    /** The whole message (RFC 5322), UTF-8; line ends LF or CRLF. */
    message: z.string().min(1).optional(),
    from: addressSchema.optional(),
    to: addressesSchema.optional(),
    cc: addressesSchema.optional(),
    bcc: addressesSchema.optional(),
    replyTo: addressesSchema.optional(),
    subject: z.string().max(limits.mailSubjectCharsMax).regex(oneLine, oneLineRule).optional(),
    text: z.string().optional(),
    html: z.string().optional(),
    attachments: z
      .array(
        z.object({
          name: z.string().min(1).max(limits.mailFileNameCharsMax).regex(oneLine, oneLineRule),
          type: z.string().max(255).regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i, 'a media type such as application/pdf'),
          /** The content, base64 without line breaks. */
          base64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 without line breaks'),
          /** Given: an inline part an HTML body shows as cid:… (without the angle brackets). */
          contentId: z.string().min(1).max(limits.mailIdCharsMax - 2).regex(/^[^\s<>]+$/, 'an id without angle brackets or spaces').optional(),
        }),
      )
      .max(limits.mailAttachmentsMax)
      .optional(),
    inReplyTo: messageIdSchema.optional(),
    references: z.array(messageIdSchema).max(limits.mailReferencesMax).optional(),
  })
  .superRefine((v, ctx) => {
    const composed = ['from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'text', 'html', 'attachments', 'inReplyTo', 'references'].filter((k) => v[k as keyof typeof v] !== undefined);
    if (v.message !== undefined && composed.length > 0) ctx.addIssue({ code: 'custom', path: [composed[0] as string], message: 'give either message or the parts to compose one from, not both' });
    if (v.message === undefined && (v.to?.length ?? 0) + (v.cc?.length ?? 0) + (v.bcc?.length ?? 0) === 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'give message, or at least one recipient in to, cc or bcc' });
  });
export type SendMailRequest = z.infer<typeof sendMailSchema>;

/** The answer: what the submission server took, at the first send and at every retry of its client id. */
export const mailSentSchema = z.object({
  clientId: z.string(),
  messageId: z.string(),
  /** The recipients the server accepted, and those it refused (the message went to the others). */
  accepted: z.array(z.string()),
  rejected: z.array(z.object({ address: z.string(), reply: z.string() })),
  /** The server's reply to the message, when known. */
  response: z.string().optional(),
  sentAt: z.iso.datetime(),
  /** The folder a copy was filed in (read), absent when none was. */
  sentFolder: z.string().optional(),
  /** True when this answers a client id already sent: nothing was sent now. */
  replayed: z.boolean(),
});
export type MailSent = z.infer<typeof mailSentSchema>;
