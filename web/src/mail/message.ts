import type { Collection } from '../../../src/protocol/collections.js';
import { mailItemJson, type MailAddress, type MailItem } from '../../../src/content/mail/item.js';
import type { Entry } from '../data/account.js';
import { memoByText } from '../lib/parse-cache.js';

/**
 * Mail items as the page reads them (docs/protocol.md §10.5): the server checked each against the
 * format before storing it, so the page only makes sure it has the fields it shows.
 */

export const seen = '\\Seen';
export const flagged = '\\Flagged';

export interface MessageRow {
  entry: Entry;
  item: MailItem;
}

export interface Thread {
  id: string;
  /** Oldest first. */
  messages: MessageRow[];
  latest: MessageRow;
  unread: number;
  flagged: boolean;
}

export const readMessage = memoByText((text: string): MailItem => {
  const item = JSON.parse(text) as MailItem;
  if (typeof item?.threadId !== 'string' || typeof item.subject !== 'string' || !Array.isArray(item.flags) || !Array.isArray(item.from)) throw new Error('not a mail item');
  return item;
});

/**
 * Message order: when the message arrived (the IMAP server's time, which a sender cannot set to the
 * future), then, within the same second, its Date.
 */
const order = (a: MessageRow, b: MessageRow) => a.item.receivedAt.localeCompare(b.item.receivedAt) || (a.item.date ?? '').localeCompare(b.item.date ?? '');

/** The folder's messages by thread (the item's `threadId`), the thread with the newest message first. */
export function threadsOf(entries: Entry[]): Thread[] {
  const byThread = new Map<string, MessageRow[]>();
  for (const entry of entries) {
    let item: MailItem;
    try {
      item = readMessage(entry.data);
    } catch {
      continue;
    }
    const rows = byThread.get(item.threadId) ?? [];
    rows.push({ entry, item });
    byThread.set(item.threadId, rows);
  }
  const threads = [...byThread].map(([id, rows]): Thread => {
    const messages = rows.sort((a, b) => order(a, b) || a.entry.id.localeCompare(b.entry.id));
    return {
      id,
      messages,
      latest: messages[messages.length - 1] as MessageRow,
      unread: messages.filter((m) => !m.item.flags.includes(seen)).length,
      flagged: messages.some((m) => m.item.flags.includes(flagged)),
    };
  });
  return threads.sort((a, b) => order(b.latest, a.latest) || a.id.localeCompare(b.id));
}

/** Folders any mail program shows first, in this order; the rest follow by name. RFC 6154's special uses, known here by their usual names. */
const firstFolders = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'spam', 'trash'];
const rank = (c: Collection) => {
  const i = firstFolders.indexOf(c.name.toLowerCase());
  return i < 0 ? firstFolders.length : i;
};

export function mailFolders(collections: Collection[]): Collection[] {
  return collections.filter((c) => c.kind === 'mail').sort((a, b) => rank(a) - rank(b) || a.displayName.localeCompare(b.displayName));
}

export function folderLabel(c: Collection): string {
  return c.name.toUpperCase() === 'INBOX' ? 'Inbox' : c.displayName;
}

/** The item with `flag` set or cleared: the only change a device may make to a message. */
export function withFlag(item: MailItem, flag: string, on: boolean): string {
  const flags = new Set(item.flags);
  if (on) flags.add(flag);
  else flags.delete(flag);
  // Sorted by code point, as the format wants (not localeCompare).
  return mailItemJson({ ...item, flags: [...flags].sort() });
}

export function addressText(a: MailAddress): string {
  if (!a.name) return a.address;
  // A name with a comma, or another special (RFC 5322 §3.2.3), is quoted (its own quotes and backslashes
  // left out): unquoted, a list reading it (compose.ts parseAddresses) splits it.
  const name = /[(),.:;<>@[\]"\\]/.test(a.name) ? `"${a.name.replace(/["\\]/g, '')}"` : a.name;
  return `${name} <${a.address}>`;
}

/** Who a list row names: display names where there are any. */
export function people(list: readonly MailAddress[]): string {
  return list.map((a) => a.name || a.address).join(', ');
}

export function subjectOf(item: MailItem): string {
  return item.subject || '(no subject)';
}
