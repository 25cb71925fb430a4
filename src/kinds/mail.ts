import { mailItemJson, parseMailItem, type MailItem } from '../content/mail/item.js';
import { notCarriedByXml } from '../content/utf8.js';
import type { ContentCheck, ItemFormat, Kind } from './kind.js';

/**
 * Mail (docs/protocol.md §10.5): one IMAP message per item, as JSON metadata and the first portion of
 * its text, written by the IMAP connector from the message (content/mail/message-item.ts). IMAP keeps
 * the message; a device changes only its flags. The format's caps are checked by its schema
 * (content/mail/item.ts); the registry has refused data over itemBytesMax before it is parsed.
 */

export const mailContentType = 'application/vnd.syncpoint.mail+json';

function check(_kinds: readonly string[], data: string): ContentCheck {
  if (notCarriedByXml.test(data)) return { ok: false, status: 'invalidItem', message: 'item contains control characters or characters XML cannot carry' };
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
 * (docs/protocol.md §10.5); every other field is the truth's, which only the server writes. Two flag
 * edits therefore never conflict. A base that no longer parses counts as holding no flags.
 */
function merge(base: string, incoming: string, truth: string): string | null {
  const [b, m, t] = [parsed(base), parsed(incoming), parsed(truth)];
  if (m === undefined || t === undefined) return null;
  const before = new Set(b?.flags ?? []);
  const flags = new Set(t.flags);
  for (const f of m.flags) if (!before.has(f)) flags.add(f);
  for (const f of before) if (!m.flags.includes(f)) flags.delete(f);
  return mailItemJson({ ...t, flags: [...flags].sort() });
}

function same(a: string, b: string): boolean {
  const [x, y] = [parsed(a), parsed(b)];
  return x !== undefined && y !== undefined && mailItemJson(x) === mailItemJson(y);
}

/** Whether `incoming` differs from `current` in nothing but its flags. */
function flagsOnly(current: string, incoming: string): string | null {
  const [c, m] = [parsed(current), parsed(incoming)];
  if (c === undefined || m === undefined) return 'only the flags of a mail item change';
  return mailItemJson({ ...m, flags: c.flags }) === mailItemJson(c) ? null : 'only the flags of a mail item change';
}

export const mailFormat: ItemFormat = { check, merge, same };

export const mailKind: Kind = {
  name: 'mail',
  format: mailFormat,
  contentType: mailContentType,
  fileExtension: '.json',
  // Mail items come only from IMAP, where two copies of one message in a folder are two messages.
  areTwins: () => false,
  faces: {},
  deviceWrites: { addRefused: 'a message reaches a mail folder by mail', changeRefused: flagsOnly },
};
