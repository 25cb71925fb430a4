import { createHash } from 'node:crypto';
import ICAL from 'ical.js';
import { addressParser, decodeWords } from 'postal-mime';
import { limits } from '../../core/limits.js';
import { truncateUtf8, xmlCarriable } from '../utf8.js';
import { flagPattern, flagsNeverKept, mailItemJson, type MailAddress, type MailAttachment, type MailBody, type MailInvitation, type MailItem } from './item.js';
import { decodeText, headerBlock, headerFields, partBody, type BodyStructure } from './mime.js';

export type { BodyStructure } from './mime.js';

/**
 * The mail item (docs/protocol.md §10.5) of one IMAP message, from what the IMAP connector fetched of
 * it: the start of its raw source, its structure, flags, size and INTERNALDATE. Pure: the same message
 * gives the same item on every server process, so a folder read again writes nothing new.
 *
 * Headers are read from the source (encoded words and address lists by postal-mime); the body is the
 * part the structure names, found in the source and decoded here, so a source cut anywhere still gives
 * what it holds of the text, marked incomplete.
 */

export interface MessageFacts {
  /** The start of the message's raw RFC 5322 source (at most limits.mailSourceBytesMax of it is read), or all of it. */
  source: Buffer;
  bodyStructure: BodyStructure;
  flags: ReadonlySet<string> | readonly string[];
  /** RFC822.SIZE. */
  size: number;
  /** INTERNALDATE. */
  internalDate: Date;
  /**
   * The invitation's part (invitationPartOf), fetched apart because the source does not hold it whole:
   * its body as the IMAP server gave it, still in its transfer encoding unless `decoded` (FETCH BINARY).
   */
  invitationPart?: { bytes: Buffer; decoded: boolean } | undefined;
}

/**
 * The item's JSON text, as the mail kind stores it. An invitation is kept only when the item with it
 * stays within limits.itemBytesMax: the other fields' caps alone keep an item within it (limits.ts), the
 * invitation's would not on top of the largest of them, and the message matters more than its invitation.
 */
export function mailItemOf(message: MessageFacts): string {
  const item = buildMailItem(message);
  const json = mailItemJson(item);
  if (item.invitation === undefined || Buffer.byteLength(json, 'utf8') <= limits.itemBytesMax) return json;
  return mailItemJson({ ...item, invitation: undefined });
}

export function buildMailItem(message: MessageFacts): MailItem {
  if (Number.isNaN(message.internalDate.getTime())) throw new Error('a message has no INTERNALDATE');
  const source = message.source.subarray(0, limits.mailSourceBytesMax);
  const whole = source.length >= message.size && message.source.length === source.length;
  const fields = headerFields(headerText(headerBlock(source)));
  const header = (name: string) => fields.find((f) => f.name === name)?.value;
  const subject = clip(xmlCarriable(decodeWords(header('subject') ?? '').replace(/[\r\n]+/g, ' ').trim()), limits.mailSubjectCharsMax);
  const receivedAt = utcSeconds(message.internalDate.getTime());
  const referencesAll = messageIds(header('references') ?? '');
  const messageId = messageIds(header('message-id') ?? '')[0] ?? null;
  const inReplyTo = messageIds(header('in-reply-to') ?? '')[0] ?? null;
  const threadRoot = referencesAll[0] ?? inReplyTo ?? messageId;
  const chosen = chooseBody(message.bodyStructure);
  const body = chosen && bodyOf(source, message.bodyStructure, chosen, whole);
  const addresses = (name: string) => addressList(header(name) ?? '');
  const invitation = invitationOf(source, message.bodyStructure, whole, message.invitationPart);
  return {
    messageId,
    subject,
    from: addresses('from'),
    sender: addresses('sender'),
    replyTo: addresses('reply-to'),
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    date: rfc5322Date(header('date') ?? ''),
    receivedAt,
    inReplyTo,
    references: referencesAll.slice(-limits.mailReferencesMax),
    threadId: threadIdOf(threadRoot ?? `${receivedAt}\n${message.size}\n${subject}`),
    flags: itemFlags(message.flags),
    size: message.size,
    preview: body ? previewOf(body.type === 'text/html' ? htmlText(body.decoded) : body.decoded) : '',
    body: body && body.item,
    attachments: attachmentsOf(message.bodyStructure, chosen),
    ...(invitation ? { invitation } : {}),
  };
}

/** Encoded bytes a text/calendar part may have to be read at all: base64 of limits.mailInvitationBytesMax, with its line breaks. */
const invitationEncodedMax = Math.ceil((limits.mailInvitationBytesMax * 4) / 3) * (78 / 76) + 1024;

/** The part an invitation is read from (RFC 6047 §2.4): the message's first text/calendar part, when its size lets it be one. */
export function invitationPartOf(structure: BodyStructure): { node: BodyStructure; part: string } | undefined {
  const node = leaves(structure).find((n) => n.type.toLowerCase() === 'text/calendar');
  if (!node || (node.size ?? 0) > invitationEncodedMax) return undefined;
  const part = sectionOf(node);
  return part.length > limits.mailPartCharsMax ? undefined : { node, part };
}

/**
 * The message's iCalendar scheduling object (iMIP, RFC 6047 §2.4): its invitation part (invitationPartOf),
 * when the source holds it whole or it was fetched apart, it decodes to at most
 * limits.mailInvitationBytesMax, and ical.js reads it as one VCALENDAR with a METHOD and a VEVENT.
 * Anything else is no invitation, and the message stays plain mail.
 */
function invitationOf(source: Buffer, structure: BodyStructure, whole: boolean, apart: MessageFacts['invitationPart']): MailInvitation | undefined {
  const found = invitationPartOf(structure);
  if (!found) return undefined;
  const { node, part } = found;
  const inSource = partBody(source, structure, part, whole);
  const body = inSource?.whole ? { bytes: inSource.bytes, decoded: false } : apart;
  if (!body || body.bytes.length > invitationEncodedMax) return undefined;
  const text = xmlCarriable(decodeText(body.bytes, true, body.decoded ? undefined : node.encoding, node.parameters?.charset));
  if (text.trim() === '' || Buffer.byteLength(text, 'utf8') > limits.mailInvitationBytesMax) return undefined;
  let calendar: ICAL.Component;
  try {
    const jcal: unknown = ICAL.parse(text);
    if (!Array.isArray(jcal) || jcal[0] !== 'vcalendar') return undefined;
    calendar = new ICAL.Component(jcal as unknown[]);
  } catch {
    return undefined;
  }
  const methods = calendar.getAllProperties('method');
  const method = methods.length === 1 ? methods[0]?.getFirstValue() : undefined;
  if (typeof method !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,31}$/.test(method.trim()) || !calendar.getFirstSubcomponent('vevent')) return undefined;
  return { method: method.trim().toUpperCase(), part, text };
}

/** The first 22 characters of the unpadded base64url SHA-256 of the thread's root id (§10.5 Threads). */
const threadIdOf = (root: string): string => createHash('sha256').update(root, 'utf8').digest('base64url').slice(0, 22);

/** Header bytes as text: UTF-8 (RFC 6532), or, when they are not, the 8-bit charset most mail of that kind was written in. */
function headerText(block: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(block);
  } catch {
    return new TextDecoder('windows-1252').decode(block);
  }
}

/** At most `max` UTF-16 units, never half a surrogate pair. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = /[\ud800-\udbff]/.test(text[max - 1] as string) ? max - 1 : max;
  return text.slice(0, cut);
}

/** The `<id>` tokens of a Message-ID, In-Reply-To or References field, in order; ones too long for an item are left out. */
function messageIds(value: string): string[] {
  const ids = value.match(/<[^<>]*>/g) ?? [];
  return ids.map((id) => xmlCarriable(id.replace(/\s+/g, ''))).filter((id) => id.length > 2 && id.length <= limits.mailIdCharsMax);
}

function addressList(value: string): MailAddress[] {
  if (value === '') return [];
  const out: MailAddress[] = [];
  for (const a of addressParser(value, { flatten: true })) {
    if (out.length === limits.mailAddressesPerFieldMax) break;
    const address = xmlCarriable(a.address ?? '').trim();
    // An address too long to be one (RFC 5321 §4.5.3.1.3) is not cut into another.
    if (address === '' || address.length > limits.mailAddressCharsMax) continue;
    const name = clip(xmlCarriable(a.name).trim(), limits.mailDisplayNameCharsMax);
    out.push({ name: name === '' ? null : name, address });
  }
  return out;
}

const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** Zone names RFC 5322 §4.3 still reads; any other letters mean an unknown zone, taken as UTC. */
const zoneHours: Record<string, number> = { ut: 0, gmt: 0, z: 0, est: -5, edt: -4, cst: -6, cdt: -5, mst: -7, mdt: -6, pst: -8, pdt: -7 };
const datePattern = /^\s*(?:[a-z]+\s*,\s*)?(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[a-z]+)?/i;

/**
 * The Date field (RFC 5322 §3.3, with the obsolete forms of §4.3) as an RFC 3339 UTC time, or null.
 * Read here rather than by Date.parse, which takes a time without a zone as the server's local time:
 * a time without a zone is taken as UTC, so every server reads it alike.
 */
export function rfc5322Date(value: string): string | null {
  const m = datePattern.exec(value);
  if (!m) return null;
  const [, day, mon, yearText, hour, minute, second, zone] = m as unknown as [string, string, string, string, string, string, string | undefined, string | undefined];
  const month = months.indexOf(mon.toLowerCase());
  let year = Number(yearText);
  if (yearText.length === 2) year += year < 50 ? 2000 : 1900;
  else if (yearText.length === 3) year += 1900;
  let offsetMinutes = 0;
  if (zone !== undefined && /^[+-]\d{4}$/.test(zone)) {
    const hh = Number(zone.slice(1, 3));
    const mm = Number(zone.slice(3, 5));
    if (mm > 59) return null;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (hh * 60 + mm);
  } else if (zone !== undefined) offsetMinutes = (zoneHours[zone.toLowerCase()] ?? 0) * 60;
  const [d, h, min, s] = [Number(day), Number(hour), Number(minute), Number(second ?? 0)];
  if (month === -1 || d < 1 || h > 23 || min > 59 || s > 60) return null;
  const local = Date.UTC(year, month, d, h, min, Math.min(s, 59));
  if (new Date(local).getUTCDate() !== d) return null;
  return utcSeconds(local - offsetMinutes * 60_000);
}

const utcSeconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

const systemFlags = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Draft', '\\Deleted', '\\Recent'].map((f) => [f.toLowerCase(), f]));

/** The flags an item carries: system flags in their usual case, no `\Deleted` or `\Recent`, sorted by code point, each once. */
function itemFlags(flags: ReadonlySet<string> | readonly string[]): string[] {
  const kept = new Set<string>();
  for (const flag of flags) {
    const f = systemFlags.get(flag.toLowerCase()) ?? flag;
    if (!flagsNeverKept.has(f) && f.length <= limits.mailFlagCharsMax && flagPattern.test(f)) kept.add(f);
  }
  return [...kept].sort().slice(0, limits.mailFlagsMax);
}

/** The leaves of the structure in order, an attached message counted as one. */
function leaves(root: BodyStructure): BodyStructure[] {
  const out: BodyStructure[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop() as BodyStructure;
    if (node.type.startsWith('multipart/') && node.childNodes) for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i] as BodyStructure);
    else out.push(node);
  }
  return out;
}

const sectionOf = (node: BodyStructure): string => node.part ?? '1';
const isText = (node: BodyStructure, type: string) => node.type === type && node.disposition !== 'attachment';

/**
 * The part shown as the body, and its HTML alternative. In a multipart/alternative the plain version
 * is the body and the HTML one its alternative (or the HTML one the body, when there is no plain one);
 * in any other multipart, the body is the first part that has one. An attachment, or an attached
 * message, is never the body.
 */
function chooseBody(node: BodyStructure): { body: BodyStructure; html: BodyStructure | null } | null {
  if (!node.type.startsWith('multipart/') || !node.childNodes) return isText(node, 'text/plain') || isText(node, 'text/html') ? { body: node, html: null } : null;
  const found = node.childNodes.map(chooseBody);
  if (node.type !== 'multipart/alternative') return found.find((f) => f !== null) ?? null;
  const plain = found.find((f) => f !== null && f.body.type === 'text/plain');
  const html = found.find((f) => f !== null && f.body.type === 'text/html');
  if (plain) return { body: plain.body, html: plain.html ?? html?.body ?? null };
  return html ?? null;
}

function bodyOf(source: Buffer, structure: BodyStructure, chosen: { body: BodyStructure; html: BodyStructure | null }, whole: boolean): { item: MailBody; decoded: string; type: string } {
  const node = chosen.body;
  const found = partBody(source, structure, sectionOf(node), whole);
  const type = node.type === 'text/html' ? 'text/html' : 'text/plain';
  const decode = (bytes: Buffer, all: boolean) => xmlCarriable(decodeText(bytes, all, node.encoding, node.parameters?.charset).replace(/\r\n?/g, '\n'));
  // Plain text is decoded only as far as the item keeps, when that start is long enough to fill it
  // (most text is); the whole part otherwise. An HTML body is decoded whole: its preview is of its
  // text, which may come after a long head.
  const start = found && type === 'text/plain' ? found.bytes.subarray(0, encodedBytesFor(node.encoding)) : undefined;
  const short = start !== undefined && start.length < (found?.bytes.length ?? 0) ? decode(start, false) : undefined;
  const decoded = !found ? '' : short !== undefined && Buffer.byteLength(short, 'utf8') > limits.mailBodyBytesMax ? short : decode(found.bytes, found.whole);
  const text = truncateUtf8(decoded, limits.mailBodyBytesMax);
  const complete = found !== undefined && found.whole && text.length === decoded.length;
  return { item: { type, text, complete, part: sectionOf(node), htmlPart: chosen.html ? sectionOf(chosen.html) : null }, decoded, type };
}

/** Encoded bytes that decode to a little more than limits.mailBodyBytesMax of mostly ASCII text (quoted-printable adds its soft breaks, base64 a third). */
function encodedBytesFor(encoding: string | undefined): number {
  const wanted = Math.ceil(limits.mailBodyBytesMax * 1.25) + 256;
  return encoding === 'base64' ? Math.ceil((wanted * 4) / 3) : wanted;
}

/**
 * At most limits.mailPreviewCharsMax of the text, white space collapsed to single spaces: its words
 * joined by one space, taken only until the preview is full (collapsing the whole start of a long text
 * cost more than the rest of the preview).
 */
function previewOf(text: string): string {
  const max = limits.mailPreviewCharsMax;
  let out = '';
  for (const [word] of text.slice(0, 16 * max).matchAll(/\S+/g)) {
    out = out === '' ? word : `${out} ${word}`;
    if (out.length > max) break;
  }
  return clip(out, max);
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * The text of an HTML body for its preview (and for quoting it in an ActiveSync SmartReply), read simply: comments, the head, styles and scripts left
 * out, tags dropped, the common entities and numeric references decoded. One pass per construct.
 */
export function htmlText(html: string): string {
  let text = dropBlocks(html, '<!--', '-->');
  for (const tag of ['head', 'style', 'script']) text = dropBlocks(text, `<${tag}`, `</${tag}>`);
  return text
    .replace(/<[^<>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (entity, name: string) => {
      if (name[0] !== '#') return entities[name.toLowerCase()] ?? entity;
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? xmlCarriable(String.fromCodePoint(code)) : entity;
    });
}

/** `text` without each stretch from `open` to the next `close` (case-insensitive; an unclosed one runs to the end). */
function dropBlocks(text: string, open: string, close: string): string {
  // ASCII only, so every index in `lower` is one in `text`.
  const lower = text.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  let out = '';
  let at = 0;
  const named = /[a-z]$/.test(open);
  for (let i = lower.indexOf(open, at); i !== -1; i = lower.indexOf(open, i + 1)) {
    // `<head` opens a head, not a header.
    if (named && /[a-z0-9-]/.test(lower[i + open.length] ?? '')) continue;
    out += `${text.slice(at, i)} `;
    const end = lower.indexOf(close, i + open.length);
    at = end === -1 ? text.length : end + close.length;
    if (end === -1) break;
    i = at - 1;
  }
  return out + text.slice(at);
}

/** The leaves that are not the body or its HTML alternative, at most limits.mailAttachmentsMax. */
function attachmentsOf(structure: BodyStructure, chosen: { body: BodyStructure; html: BodyStructure | null } | null): MailAttachment[] {
  const out: MailAttachment[] = [];
  for (const node of leaves(structure)) {
    if (out.length === limits.mailAttachmentsMax) break;
    if (node === chosen?.body || node === chosen?.html) continue;
    const part = sectionOf(node);
    if (part.length > limits.mailPartCharsMax) continue;
    const rawName = node.dispositionParameters?.filename ?? node.parameters?.name;
    const name = rawName === undefined ? null : clip(xmlCarriable(rawName).trim(), limits.mailFileNameCharsMax) || null;
    const lowered = node.type.toLowerCase();
    const type = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(lowered) && lowered.length <= limits.mailFileNameCharsMax ? lowered : 'application/octet-stream';
    const id = xmlCarriable(node.id?.trim() ?? '');
    const contentId = id === '' || id.length > limits.mailIdCharsMax ? null : id;
    const inline = node.disposition === 'inline' || (node.disposition === undefined && contentId !== null);
    out.push({ part, name, type, size: Math.max(0, Math.floor(node.size ?? 0)), inline, contentId });
  }
  return out;
}
