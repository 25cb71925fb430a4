import { limits } from '../../../src/core/limits.js';
import type { MailItem } from '../../../src/content/mail/item.js';
import type { SendMailRequest } from '../../../src/protocol/mail-send.js';
import { addressText } from './message.js';

/** What the compose form holds, and how it becomes a send request (docs/protocol.md §10.7). */

export interface Draft {
  to: string;
  cc: string;
  subject: string;
  text: string;
  files: File[];
  inReplyTo?: string;
  references?: string[];
}

export const emptyDraft: Draft = { to: '', cc: '', subject: '', text: '', files: [] };

/** "Ann <ann@example.org>, ben@example.org": each address, with the name before it if there is one. */
export function parseAddresses(text: string, field: string): NonNullable<SendMailRequest['to']> {
  const parts = text.match(/(?:"[^"]*"|<[^>]*>|[^,;])+/g) ?? [];
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const named = /^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$/.exec(p);
      const [name, address] = named ? [named[1]?.replace(/^"|"$/g, '').trim(), named[2] as string] : [undefined, p];
      if (!/^[^\s<>(),;:"\\@]+@[^\s<>(),;:"\\@]+$/.test(address)) throw new Error(`${field}: “${p}” is not an email address such as ann@example.org.`);
      return name ? { name, address } : { address };
    });
}

/** A reply to `item`: to whoever it asks replies to go to, "Re:" once, threaded by In-Reply-To and References. */
export function replyDraft(item: MailItem): Draft {
  const to = item.replyTo.length > 0 ? item.replyTo : item.from;
  const quoted = item.body?.type === 'text/plain' ? item.body.text : item.preview;
  const who = item.from[0] ? addressText(item.from[0]) : 'someone';
  return {
    to: to.map(addressText).join(', '),
    cc: '',
    subject: /^re:/i.test(item.subject) ? item.subject : `Re: ${item.subject}`,
    text: `\n\n${who} wrote:\n${quoted.replace(/^/gm, '> ')}\n`,
    files: [],
    ...(item.messageId ? { inReplyTo: item.messageId, references: [...item.references, item.messageId].slice(-limits.mailReferencesMax) } : {}),
  };
}

export function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The request, attachments read and in base64; refused here when it could never be sent. */
export async function sendRequest(draft: Draft, clientId: string): Promise<SendMailRequest> {
  const [to, cc] = [parseAddresses(draft.to, 'To'), parseAddresses(draft.cc, 'Cc')];
  if (to.length + cc.length === 0) throw new Error('Add a recipient first.');
  const bytes = new TextEncoder().encode(draft.text).length + draft.files.reduce((sum, f) => sum + f.size, 0);
  if (bytes > limits.mailSendBytesMax) throw new Error(`The message and its attachments are ${Math.ceil(bytes / 1024 / 1024)} MB; at most ${limits.mailSendBytesMax / 1024 / 1024} MB can be sent.`);
  const attachments = await Promise.all(
    draft.files.map(async (f) => ({
      name: f.name,
      // A type the browser does not know, or one the server would not take, goes as plain bytes.
      type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(f.type) ? f.type : 'application/octet-stream',
      base64: base64(new Uint8Array(await f.arrayBuffer())),
    })),
  );
  return {
    clientId,
    to,
    ...(cc.length > 0 ? { cc } : {}),
    subject: draft.subject,
    text: draft.text,
    ...(attachments.length > 0 ? { attachments } : {}),
    ...(draft.inReplyTo ? { inReplyTo: draft.inReplyTo, references: draft.references ?? [] } : {}),
  };
}
