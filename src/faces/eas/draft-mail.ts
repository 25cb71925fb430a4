import { composeMime, tooLarge } from '../../content/mail/outgoing.js';
import { limits } from '../../core/limits.js';
import { ProtocolError } from '../../protocol/errors.js';
import { mailboxes, parseMime, type Mailbox } from './smart-mail.js';

/**
 * A draft's message (docs/eas.md § Drafts): the version a device's Add or Change makes, composed with
 * composeMime as every message here is. A Change starts from the version filed before (its raw message,
 * read with postal-mime): what it leaves out stays as it was (recipients, subject, importance, the body,
 * the attachments it does not delete), what it carries replaces it, and the attachments it adds follow
 * the ones kept, in its order, so the last ones of the new version are the ones it added.
 */

export type Importance = 'low' | 'normal' | 'high';

export interface DraftEdit {
  to?: Mailbox[];
  cc?: Mailbox[];
  bcc?: Mailbox[];
  subject?: string;
  importance?: Importance;
  body?: { html: boolean; text: string };
  /** A Body of Type 4: the whole message, which stands for the version before (its recipients, subject, body and attachments), the other fields applying to it. */
  mime?: Buffer;
  /** Attachments added: their file name, media type and bytes. */
  add: Array<{ name: string; type: string; content: Buffer }>;
  /** The previous version's attachments deleted, by their place among its attachments (the item's order). */
  remove: ReadonlySet<number>;
}

/** Whether the edit changes the message at all (a Change may carry only Send, or only flags). */
export const editsMessage = (e: DraftEdit) =>
  e.to !== undefined || e.cc !== undefined || e.bcc !== undefined || e.subject !== undefined || e.importance !== undefined || e.body !== undefined || e.mime !== undefined || e.add.length > 0 || e.remove.size > 0;

const importanceOf = (value: string | undefined): Importance | undefined => {
  const v = value?.trim().toLowerCase();
  return v === 'high' || v === 'low' || v === 'normal' ? v : undefined;
};

/**
 * The draft's new message: `previous` (the version filed, or undefined for a new draft) with `edit`,
 * from `from` (a new draft's sender; a version keeps its own), under `messageId` (a version keeps its
 * own). Bounded before composing (the previous message and the bytes added) and after, by mailSendBytesMax.
 */
export async function draftMessage(previous: Buffer | undefined, edit: DraftEdit, from: Mailbox, messageId: string, now: Date): Promise<Buffer> {
  const before = (previous?.length ?? 0) + Buffer.byteLength(edit.body?.text ?? '') + edit.add.reduce((n, a) => n + a.content.length, 0);
  if (before > limits.mailSendBytesMax) throw tooLarge(before);
  const old = previous === undefined ? undefined : await parseMime(previous, edit.mime !== undefined ? 'the Body of Type 4' : 'the draft filed before');
  const kept = (old?.attachments ?? []).filter((_, i) => !edit.remove.has(i));
  if (kept.length + edit.add.length > limits.mailAttachmentsMax) throw new ProtocolError('invalidRequest', `a draft holds at most ${limits.mailAttachmentsMax} attachments`);
  const [oldFrom] = mailboxes(old?.from ? [old.from] : []);
  const list = (given: Mailbox[] | undefined, before: Parameters<typeof mailboxes>[0]) => given ?? mailboxes(before);
  const [to, cc, bcc] = [list(edit.to, old?.to), list(edit.cc, old?.cc), list(edit.bcc, old?.bcc)];
  if (to.length + cc.length + bcc.length > limits.mailSendRecipientsMax) throw new ProtocolError('invalidRequest', `a message goes to at most ${limits.mailSendRecipientsMax} recipients (To, Cc and Bcc together)`);
  const body = edit.body ? (edit.body.html ? { html: edit.body.text } : { text: edit.body.text }) : { ...(old?.text !== undefined ? { text: old.text } : {}), ...(old?.html !== undefined ? { html: old.html } : {}) };
  const importance = edit.importance ?? importanceOf(old?.headers.find((h) => h.key === 'importance')?.value) ?? 'normal';
  const built = await composeMime({
    from: oldFrom ?? from,
    to,
    cc,
    bcc,
    subject: edit.subject ?? old?.subject ?? '',
    ...body,
    messageId: old?.messageId ?? messageId,
    date: now,
    // The headers mail programs read a priority from (MailComposer itself sets none: its mailer does).
    headers: importance === 'normal' ? {} : { Importance: importance === 'high' ? 'High' : 'Low', 'X-Priority': importance === 'high' ? '1 (Highest)' : '5 (Lowest)' },
    attachments: [
      ...kept.map((a) => ({
        ...(a.filename !== null ? { filename: a.filename } : {}),
        contentType: a.mimeType,
        content: Buffer.from(a.content as ArrayBuffer),
        contentDisposition: a.disposition ?? 'attachment',
        ...(a.contentId !== undefined ? { cid: a.contentId.replace(/^<|>$/g, '') } : {}),
      })),
      ...edit.add.map((a) => ({ filename: a.name, contentType: a.type, content: a.content, contentDisposition: 'attachment' as const })),
    ],
  });
  if (built.length > limits.mailSendBytesMax) throw tooLarge(built.length);
  return built;
}
