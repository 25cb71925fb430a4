import { mailItemJson, parseMailItem, type MailItem } from '../content/mail/item.js';
import type { ContentCheck, ItemFormat, Kind } from './kind.js';

/**
 * Mail (docs/protocol.md §10.5): one IMAP message per item, as JSON metadata and the first portion of
 * its text, written by the IMAP connector from the message (content/mail/message-item.ts). IMAP keeps
 * the message; a device changes only its flags. The format's caps are checked by its schema
 * (content/mail/item.ts); the registry has refused data over itemBytesMax before it is parsed.
 */

export const mailContentType = 'application/vnd.syncpoint.mail+json';

function check(_kinds: readonly string[], data: string): ContentCheck {
  // Every string of the item is checked for characters XML cannot carry by its schema (content/mail/item.ts), once.
  const item = parseMailItem(data);
  if (typeof item === 'string') return { ok: false, status: 'invalidItem', message: item };
  // Mail has no identity of its own to keep unique (two copies of one message in a folder are two
  // messages); its span is when it arrived, so date-range filters (§9) select mail by that.
  const receivedMs = Date.parse(item.receivedAt);
  return { ok: true, kind: 'mail', index: { uid: null, title: item.subject === '' ? '(no subject)' : item.subject, startMs: receivedMs, endMs: receivedMs, name: null, contactKeys: [] } };
}

const parsed = (data: string): MailItem | undefined => {
  const item = parseMailItem(data);
  return typeof item === 'string' ? undefined : item;
};

/**
 * Flags are a set each side edits: a flag either edit added is added, one either removed is removed
 * (docs/protocol.md §10.5), so two flag edits never conflict. Every other field only the message's
 * source (the IMAP connector) writes: the incoming edit's when it changed them (the source read the
 * message again while a device changed flags), else the truth's. A base that no longer parses counts as
 * holding no flags and the truth's other fields.
 */
function merge(base: string, incoming: string, truth: string): string | null {
  const [b, m, t] = [parsed(base), parsed(incoming), parsed(truth)];
  if (m === undefined || t === undefined) return null;
  const before = new Set(b?.flags ?? []);
  const flags = new Set(t.flags);
  for (const f of m.flags) if (!before.has(f)) flags.add(f);
  for (const f of before) if (!m.flags.includes(f)) flags.delete(f);
  const rest = b !== undefined && !sameButFlags(b, m) ? m : t;
  return mailItemJson({ ...rest, flags: [...flags].sort() });
}

function same(a: string, b: string): boolean {
  const [x, y] = [parsed(a), parsed(b)];
  return x !== undefined && y !== undefined && mailItemJson(x) === mailItemJson(y);
}

/** Whether two items differ in nothing but their flags. */
const sameButFlags = (a: MailItem, b: MailItem): boolean => mailItemJson({ ...b, flags: a.flags }) === mailItemJson(a);

/** A device's change may alter the flags alone. */
function flagsOnly(current: string, incoming: string): string | null {
  const [c, m] = [parsed(current), parsed(incoming)];
  return c !== undefined && m !== undefined && sameButFlags(c, m) ? null : 'only the flags of a mail item change';
}

export const mailFormat: ItemFormat = { check, merge, same };

export const mailKind: Kind = {
  name: 'mail',
  format: mailFormat,
  contentType: mailContentType,
  fileExtension: '.json',
  // Mail items come only from IMAP, where two copies of one message in a folder are two messages.
  areTwins: () => false,
  // FolderSync types (MS-ASCMD 2.2.3.186.3) by the usual IMAP names, since the hub keeps no special-use
  // attribute of a folder: Inbox 2, Drafts 3, Deleted Items 4, Sent Items 5, Outbox 6, any other 12.
  faces: {
    eas: {
      class: 'Email',
      defaultFolderType: 2,
      userFolderType: 12,
      namedFolders: {
        inbox: 2,
        drafts: 3,
        draft: 3,
        trash: 4,
        'deleted items': 4,
        'deleted messages': 4,
        deleted: 4,
        sent: 5,
        'sent items': 5,
        'sent messages': 5,
        'sent mail': 5,
        outbox: 6,
      },
    },
  },
  deviceWrites: { addRefused: 'a message reaches a mail folder by mail', changeRefused: flagsOnly },
};
