import ICAL from 'ical.js';
import { flagPattern, mailItemJson, parseMailItem, type MailAddress, type MailInvitation, type MailItem } from '../../../content/mail/item.js';
import { child, children, el, type WbxmlElement } from '../wbxml/element.js';
import { cutText, htmlToText, textOf } from './body.js';
import { compactCodec, dashedDate, meetingFacts, type MeetingFacts } from './calendar.js';
import type { BodyPreference, EasVersion, ItemMapper, ToEasOptions, WholeBody } from './item-mapper.js';
import { messagePart } from './message-part.js';
import { recurrenceElement } from './recurrence.js';
import { encodeTimeZoneBlob } from './timezone-blob.js';

/**
 * Mail: the hub's mail item (docs/protocol.md §10.5) ⇄ the ActiveSync Email class (MS-ASEMAIL, with
 * Email2 and AirSyncBase). docs/eas.md § Mail has the table.
 *
 * Toward the device everything is read from the item: addresses as `"Name" <address>` lists, DateReceived
 * from receivedAt, Read from \Seen, Flag from \Flagged, Categories from the keywords that are not `$`
 * keywords (those belong to mail programs: $Forwarded, $Junk…), LastVerbExecuted from \Answered (reply) or
 * $Forwarded (forward), and ConversationId and ConversationIndex from the thread the hub derived from
 * References / In-Reply-To (conversationOf); in 16.x, IsDraft 1 for \Draft (left out otherwise), and
 * Bcc. The body is the first portion the item holds, or the whole part when the face fetched it
 * (`wholeBody`, mail-bodies.ts).
 *
 * A message that carries an invitation (the item's `invitation`, iMIP) is shown as a meeting request or
 * cancellation (meetingOf): its MessageClass and the MeetingRequest element, read from the invitation's
 * event as the calendar mapper reads an event (calendar.ts meetingFacts).
 *
 * From the device only Read, Flag and Categories are taken, as a change of the item's flags (the hub
 * refuses any other change of a mail item): an element left out leaves its flags as they were. A 16.x
 * draft's Add and Change are messages filed at the IMAP server instead (commands/sync-drafts.ts).
 */

const E = 'Email';
const E2 = 'Email2';
const asb = (name: string, ...c: Array<WbxmlElement | string | Uint8Array | undefined | false>) => el('AirSyncBase', name, ...c);

/** What Exchange calls a follow-up flag (MS-ASEMAIL FlagType); IMAP's \Flagged carries no more than that. */
const followUp = 'Flag for follow up';
/** Flag Status values (MS-ASEMAIL 2.2.2.47): 0 cleared, 1 complete, 2 active. */
const flagActive = '2';
/** LastVerbExecuted values (MS-ASEMAIL 2.2.2.45): reply to sender, forward. */
const verbReply = '1';
const verbForward = '3';
/** Response levels a ConversationIndex carries at most (one per message it answers). */
const conversationLevelsMax = 16;

const mailbox = (a: MailAddress) => (a.name ? `"${a.name.replace(/["\\]/g, (c) => `\\${c}`)}" <${a.address}>` : a.address);
const addressList = (list: readonly MailAddress[]) => list.map(mailbox).join(', ');

/** Keywords a device sees as Categories: those without a leading `\` (system flags) or `$` (mail programs' own). */
const isCategory = (flag: string) => !flag.startsWith('\\') && !flag.startsWith('$');

/** The ConversationId: the item's threadId (22 characters of base64url, 132 bits) as its first 16 bytes. */
function conversationId(item: MailItem): Uint8Array {
  return Uint8Array.from(Buffer.from(item.threadId, 'base64url').subarray(0, 16));
}

/**
 * The ConversationIndex (MS-ASCON 2.2.2.4): a 5-byte header, the high 40 bits of the message's FILETIME
 * (its Date, else when it arrived), and one 5-byte response level per message it answers (its References,
 * else its In-Reply-To), so a device indents replies by depth. The hub knows no earlier message's time,
 * so each level's time difference is 0. Stable: it depends on the message alone.
 */
function conversationIndex(item: MailItem): Uint8Array {
  const ms = Date.parse(item.date ?? item.receivedAt);
  const fileTime = (BigInt(Number.isNaN(ms) ? 0 : ms) + 11_644_473_600_000n) * 10_000n;
  const levels = Math.min(conversationLevelsMax, item.references.length || (item.inReplyTo !== null ? 1 : 0));
  const out = new Uint8Array(5 + 5 * levels);
  const high = fileTime >> 24n;
  for (let i = 0; i < 5; i++) out[i] = Number((high >> BigInt(8 * (4 - i))) & 0xffn);
  return out;
}

/** An RFC 3339 time as ActiveSync writes dates (MS-ASDTYPE 2.3): with milliseconds. */
const easDate = (iso: string) => new Date(iso).toISOString();

/** S/MIME (RFC 8551): a signed or encrypted message shows its signature or envelope as an attachment. */
const smimeType = /^application\/(x-)?pkcs7-(mime|signature)$/i;

/**
 * The preference a message is sent with: a device that asked for MIME (Type 4) gets it when its
 * MIMESupport is 2, or 1 and the message is S/MIME; any other message gets the preference it listed
 * next (none: Type 1, with the Type 4 one's truncation and Preview).
 */
export function preferenceFor(item: MailItem, pref: BodyPreference | undefined): BodyPreference | undefined {
  if (pref?.type !== 4) return pref;
  const support = pref.mime?.support ?? 0;
  if (support === 2 || (support === 1 && item.attachments.some((a) => smimeType.test(a.type)))) return pref;
  const { mime, ...rest } = pref;
  return mime?.otherwise ?? { ...rest, type: 1 };
}

/**
 * The Body of a message sent as MIME (MS-ASAIRS 2.2.2.9, Type 4): the message as the IMAP server holds
 * it, as text when it is UTF-8 (or ASCII), else as opaque bytes; TruncationSize cuts it (at a character
 * boundary), AllOrNone sends no Data rather than a cut one.
 */
function mimeBody(bytes: Uint8Array, pref: BodyPreference): WbxmlElement {
  const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = pref.truncationSize;
  let end = all.length;
  if (limit !== undefined && all.length > limit) {
    end = Math.floor(limit);
    while (end > 0 && ((all[end] as number) & 0xc0) === 0x80) end--;
  }
  const truncated = end < all.length;
  const sent = all.subarray(0, end);
  let data: string | Uint8Array;
  try {
    data = new TextDecoder('utf-8', { fatal: true }).decode(sent);
  } catch {
    data = Uint8Array.from(sent);
  }
  const withheld = truncated && pref.allOrNone === true;
  return asb('Body', asb('Type', '4'), asb('EstimatedDataSize', String(all.length)), truncated && asb('Truncated', '1'), !withheld && sent.length > 0 && asb('Data', data));
}

/**
 * The Body element for the preference (MS-ASAIRS 2.2.2.9): Type 2 when the device asks for HTML and HTML
 * is at hand (the item's own HTML body, or its HTML version fetched whole), else Type 1 (an HTML-only
 * body reduced to text). Data is the whole text when it is known (the item holds it complete, or it was
 * fetched), else the portion the item holds, with Truncated 1; TruncationSize cuts it further, at a
 * character boundary; AllOrNone sends no Data rather than a cut one. EstimatedDataSize is the whole
 * text's size when known, else the message's size less its attachments. A device that asked for MIME
 * gets it when it was fetched (mimeBody), else the text, as Type 1.
 */
function bodyOf(item: MailItem, asked: BodyPreference | undefined, fetched: WholeBody | undefined): WbxmlElement | undefined {
  const pref = preferenceFor(item, asked);
  if (pref?.type === 4 && fetched?.type === 'message/rfc822') return mimeBody(fetched.bytes, pref);
  // MIME wanted but not fetched (the cost rule): the text at hand, as the preference's Type 1.
  const whole = fetched?.type === 'message/rfc822' ? undefined : fetched;
  const body = item.body;
  if (body === null) return undefined;
  const wantHtml = pref?.type === 2;
  let type: '1' | '2';
  let text: string;
  let complete: boolean;
  if (wantHtml && whole?.type === 'text/html') [type, text, complete] = ['2', whole.text, true];
  else if (wantHtml && body.type === 'text/html') [type, text, complete] = ['2', body.text, body.complete];
  else if (whole?.type === 'text/plain') [type, text, complete] = ['1', whole.text, true];
  else if (body.type === 'text/plain') [type, text, complete] = ['1', body.text, body.complete];
  else [type, text, complete] = ['1', htmlToText(whole?.text ?? body.text), whole !== undefined || body.complete];
  const { sent, bytes, cut } = cutText(text, pref?.truncationSize);
  const attached = item.attachments.reduce((n, a) => n + a.size, 0);
  const estimate = complete ? bytes : Math.max(bytes, item.size - attached);
  const truncated = cut || !complete;
  const withheld = truncated && pref?.allOrNone === true;
  return asb('Body', asb('Type', type), asb('EstimatedDataSize', String(estimate)), truncated && asb('Truncated', '1'), !withheld && sent !== '' && asb('Data', sent));
}

/**
 * The BodyPart (MS-ASAIRS 2.2.2.10, 14.1 and later; docs/eas.md § Mail): the message part (message-part.ts)
 * of the body at hand (the whole text or HTML when it was fetched, else the portion the item holds), as
 * Type 2 with Status 1. It is complete when the whole body was at hand or the quote it leaves out begins
 * within the portion; else, and when TruncationSize cuts it, Truncated is 1; AllOrNone sends no Data
 * rather than a cut one; Preview as for the Body. A message without a body has an empty one.
 */
function bodyPartOf(item: MailItem, pref: BodyPreference | undefined, fetched: WholeBody | undefined, version: EasVersion): WbxmlElement | undefined {
  if (pref === undefined || version === '14.0') return undefined;
  const whole = fetched?.type === 'message/rfc822' ? undefined : fetched;
  const source = whole ?? item.body;
  const part = source ? messagePart(source) : { html: '', cut: true };
  const complete = part.cut || whole !== undefined || item.body?.complete !== false;
  const { sent, bytes, cut } = cutText(part.html, pref.truncationSize);
  const truncated = cut || !complete;
  const withheld = truncated && pref.allOrNone === true;
  return asb(
    'BodyPart',
    asb('Status', '1'),
    asb('Type', '2'),
    asb('EstimatedDataSize', String(bytes)),
    truncated && asb('Truncated', '1'),
    !withheld && sent !== '' && asb('Data', sent),
    previewOf(item, pref, version),
  );
}

/** The Preview (MS-ASAIRS 2.2.2.37, 14.0 and later): the item's preview, at most as many characters as asked (255 at most). */
function previewOf(item: MailItem, pref: BodyPreference | undefined, version: string): WbxmlElement | undefined {
  const chars = pref?.preview;
  if (chars === undefined || chars <= 0 || version === '12.1' || item.preview === '') return undefined;
  return asb('Preview', item.preview.slice(0, Math.min(chars, 255)));
}

/** Fields joined into one opaque reference, each percent-encoded, so `:` separates them. */
const joinReference = (...fields: string[]) => fields.map(encodeURIComponent).join(':');

/** The `count` fields of a reference joinReference made; undefined for anything else. */
function splitReference(reference: string, count: number): string[] | undefined {
  const fields = reference.split(':');
  if (fields.length !== count || fields.some((f) => f === '')) return undefined;
  try {
    return fields.map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** An opaque reference to one part of one item, for ItemOperations Fetch (MS-ASAIRS FileReference): collection, item and part token. */
export const fileReference = (collectionId: string, serverId: string, part: string): string => joinReference(collectionId, serverId, part);

/** The collection, item and part a FileReference names, or undefined for one this server did not make. */
export function readFileReference(reference: string): { collectionId: string; serverId: string; part: string } | undefined {
  const fields = splitReference(reference, 3);
  return fields && { collectionId: fields[0] as string, serverId: fields[1] as string, part: fields[2] as string };
}

/** The LongId of a Search result (MS-ASCMD 2.2.3.97), which ItemOperations takes instead of CollectionId and ServerId: collection and item. */
export const longId = (collectionId: string, serverId: string): string => joinReference(collectionId, serverId);

/** The collection and item a LongId names, or undefined for one this server did not make. */
export function readLongId(reference: string): { collectionId: string; serverId: string } | undefined {
  const fields = splitReference(reference, 2);
  return fields && { collectionId: fields[0] as string, serverId: fields[1] as string };
}

/** MessageClass of scheduling messages (MS-ASEMAIL 2.2.2.52), by iTIP method; a reply's by the PARTSTAT it carries. */
const meetingClasses: Record<string, string> = { REQUEST: 'IPM.Schedule.Meeting.Request', CANCEL: 'IPM.Schedule.Meeting.Canceled' };
const replyClasses: Record<string, string> = { ACCEPTED: 'IPM.Schedule.Meeting.Resp.Pos', TENTATIVE: 'IPM.Schedule.Meeting.Resp.Tent', DECLINED: 'IPM.Schedule.Meeting.Resp.Neg' };
/** MeetingMessageType (MS-ASEMAIL 2.2.2.49, Email2): 1 the first request, 2 an update of it (a later SEQUENCE), 0 anything else. */
const firstRequest = '1';
const fullUpdate = '2';
/** InstanceType (MS-ASEMAIL 2.2.2.39): a single meeting, a series, one occurrence of a series. */
const instanceTypes = { single: '0', series: '1', exception: '3' } as const;
/** The class id that starts every GlobalObjId (MS-ASEMAIL 2.2.2.37), and the marker of one made from an iCalendar UID. */
const globalObjClass = Buffer.from('040000008200E00074C5B7101A82E008', 'hex');
const vcalMarker = Buffer.concat([Buffer.from('vCal-Uid', 'ascii'), Buffer.from([1, 0, 0, 0])]);

/**
 * The GlobalObjId (MS-ASEMAIL 2.2.2.37, before 16.0) of a UID, base64: an Outlook UID is one already, in
 * hex; any other is wrapped as a vCal-Uid. Its time field is zero, so one invitation always has one id.
 */
function globalObjId(uid: string, occurrence: number | undefined): string {
  if (/^040000008200E00074C5B7101A82E008(?:[0-9A-F]{2})+$/i.test(uid)) return Buffer.from(uid, 'hex').toString('base64');
  const date = Buffer.alloc(4);
  if (occurrence !== undefined) {
    const d = new Date(occurrence);
    date.writeUInt16BE(d.getUTCFullYear(), 0);
    date[2] = d.getUTCMonth() + 1;
    date[3] = d.getUTCDate();
  }
  const data = Buffer.concat([vcalMarker, Buffer.from(uid, 'utf8'), Buffer.from([0])]);
  const count = Buffer.alloc(4);
  count.writeUInt32LE(data.length, 0);
  return Buffer.concat([globalObjClass, date, Buffer.alloc(16), count, data]).toString('base64');
}

/**
 * How a message with an invitation is shown: its MessageClass, and for a request or cancellation the
 * MeetingRequest element (MS-ASEMAIL 2.2.2.48, children in its order). An invitation the calendar
 * mapper cannot read is no meeting: the message is shown as plain mail.
 */
function meetingOf(invitation: MailInvitation, version: EasVersion): { messageClass: string; meetingRequest?: WbxmlElement } | undefined {
  if (invitation.method === 'REPLY') {
    const partstat = replyPartstat(invitation.text);
    return partstat && replyClasses[partstat] ? { messageClass: replyClasses[partstat] } : undefined;
  }
  const messageClass = meetingClasses[invitation.method];
  if (!messageClass) return undefined;
  let facts: MeetingFacts;
  try {
    facts = meetingFacts(invitation.text);
  } catch {
    return undefined;
  }
  const v16 = version.startsWith('16');
  const num = (name: string, v: number | undefined) => (v === undefined ? undefined : el(E, name, String(v)));
  const { times, organizer } = facts;
  const messageType = invitation.method === 'REQUEST' ? (facts.sequence > 0 ? fullUpdate : firstRequest) : '0';
  const meetingRequest = el(E, 'MeetingRequest',
    times && el(E, 'AllDayEvent', times.allDay ? '1' : '0'),
    times && el(E, 'StartTime', dashedDate(times.start)),
    el(E, 'DtStamp', dashedDate(facts.dtStamp ?? times?.start ?? 0)),
    times && el(E, 'EndTime', dashedDate(times.end)),
    el(E, 'InstanceType', facts.recurrenceId !== undefined ? instanceTypes.exception : facts.recurrence ? instanceTypes.series : instanceTypes.single),
    facts.location !== undefined && (v16 ? asb('Location', asb('DisplayName', facts.location)) : el(E, 'Location', facts.location)),
    organizer?.email !== undefined && el(E, 'Organizer', mailbox({ name: organizer.name ?? null, address: organizer.email })),
    facts.recurrenceId !== undefined && el(E, 'RecurrenceId', dashedDate(facts.recurrenceId)),
    num('Reminder', facts.reminder),
    el(E, 'ResponseRequested', invitation.method === 'REQUEST' ? '1' : '0'),
    facts.recurrence && el(E, 'Recurrences', recurrenceElement(facts.recurrence, 'Email', compactCodec, { firstDayOfWeek: version !== '14.0' })),
    num('Sensitivity', facts.sensitivity),
    num('BusyStatus', facts.busyStatus),
    el(E, 'TimeZone', encodeTimeZoneBlob(facts.timezone)),
    facts.uid !== undefined && (v16 ? el('Calendar', 'UID', facts.uid) : el(E, 'GlobalObjId', globalObjId(facts.uid, facts.recurrenceId))),
    el(E, 'DisallowNewTimeProposal', facts.disallowNewTime ? '1' : '0'),
    version !== '14.0' && el(E2, 'MeetingMessageType', messageType),
  );
  return { messageClass, meetingRequest };
}

/** The PARTSTAT of a reply's (first) attendee. */
function replyPartstat(text: string): string | undefined {
  try {
    const attendee = new ICAL.Component(ICAL.parse(text) as unknown[]).getFirstSubcomponent('vevent')?.getFirstProperty('attendee');
    const partstat = attendee?.getParameter('partstat');
    return typeof partstat === 'string' ? partstat.toUpperCase() : undefined;
  } catch {
    return undefined;
  }
}

function openItem(data: string): MailItem {
  const item = parseMailItem(data);
  if (typeof item === 'string') throw new Error(`not a mail item: ${item}`);
  return item;
}

export const emailMapper: ItemMapper = {
  toEas(data: string, options: ToEasOptions): WbxmlElement[] {
    const item = openItem(data);
    const flags = new Set(item.flags);
    const pref = options.bodyPreference;
    const body = bodyOf(item, pref, options.wholeBody);
    const preview = previewOf(item, pref, options.version);
    const withPreview = body && preview ? { ...body, children: [...body.children, preview] } : body;
    const bodyPart = bodyPartOf(item, options.bodyPartPreference, options.wholeBody, options.version);
    const categories = item.flags.filter(isCategory);
    const verb = flags.has('\\Answered') ? verbReply : flags.has('$Forwarded') ? verbForward : undefined;
    const where = options.item;
    const drafts = options.version.startsWith('16');
    const meeting = item.invitation && meetingOf(item.invitation, options.version);
    return [
      el(E, 'To', addressList(item.to)),
      item.cc.length > 0 && el(E, 'Cc', addressList(item.cc)),
      el(E, 'From', addressList(item.from)),
      el(E, 'Subject', item.subject),
      item.replyTo.length > 0 && el(E, 'ReplyTo', addressList(item.replyTo)),
      el(E, 'DateReceived', easDate(item.receivedAt)),
      el(E, 'DisplayTo', item.to.map((a) => a.name ?? a.address).join('; ')),
      el(E, 'ThreadTopic', item.subject),
      el(E, 'Importance', '1'),
      el(E, 'Read', flags.has('\\Seen') ? '1' : '0'),
      item.attachments.length > 0 &&
        asb(
          'Attachments',
          ...item.attachments.map((a) =>
            asb(
              'Attachment',
              asb('DisplayName', a.name ?? `part ${a.part}`),
              asb('FileReference', where ? fileReference(where.collectionId, where.serverId, a.part) : a.part),
              asb('Method', '1'),
              asb('EstimatedDataSize', String(a.size)),
              a.contentId !== null && asb('ContentId', a.contentId.replace(/^<|>$/g, '')),
              asb('IsInline', a.inline ? '1' : '0'),
            ),
          ),
        ),
      withPreview,
      bodyPart,
      el(E, 'MessageClass', meeting?.messageClass ?? 'IPM.Note'),
      meeting?.meetingRequest,
      el(E, 'InternetCPID', '65001'),
      flags.has('\\Flagged') ? el(E, 'Flag', el(E, 'Status', flagActive), el(E, 'FlagType', followUp)) : el(E, 'Flag'),
      el(E, 'ContentClass', 'urn:content-classes:message'),
      item.body !== null && asb('NativeBodyType', item.body.type === 'text/html' ? '2' : '1'),
      el(E2, 'ConversationId', conversationId(item)),
      el(E2, 'ConversationIndex', conversationIndex(item)),
      verb !== undefined && el(E2, 'LastVerbExecuted', verb),
      // 16.x: a draft says so (a phone opens it in its composer), and shows its blind copies (docs/eas.md § Drafts).
      drafts && flags.has('\\Draft') && el(E2, 'IsDraft', '1'),
      drafts && item.bcc.length > 0 && el(E2, 'Bcc', addressList(item.bcc)),
      el(E, 'Categories', ...categories.map((c) => el(E, 'Category', c))),
    ].filter((e): e is WbxmlElement => e !== false && e !== undefined);
  },

  /**
   * A device's Change of a message: Read sets or clears \Seen; Flag with Status 2 sets \Flagged, any other
   * Flag (0 cleared, 1 complete, or empty) clears it, its dates and reminder are not kept (the item has no
   * place for them); Categories replace the keywords shown as categories, each of which must be an IMAP
   * keyword. A device cannot add mail.
   */
  fromEas(applicationData: WbxmlElement, existing: string | undefined): string {
    if (existing === undefined) throw new Error('a message reaches a mail folder by mail');
    const item = openItem(existing);
    const flags = new Set(item.flags);
    const set = (flag: string, on: boolean) => (on ? flags.add(flag) : flags.delete(flag));
    const read = child(applicationData, 'Read', E);
    if (read) set('\\Seen', textOf(read).trim() === '1');
    const flag = child(applicationData, 'Flag', E);
    if (flag) set('\\Flagged', textOf(child(flag, 'Status', E)).trim() === flagActive);
    const categories = child(applicationData, 'Categories', E);
    if (categories) {
      for (const f of [...flags]) if (isCategory(f)) flags.delete(f);
      for (const c of children(categories, 'Category', E)) {
        const name = textOf(c).trim();
        if (name === '') continue;
        if (!flagPattern.test(name) || !isCategory(name) || name.length > 64) throw new Error(`the category ${JSON.stringify(name.slice(0, 64))} cannot be an IMAP keyword: at most 64 letters, digits and punctuation, not starting with \\ or $, without spaces or ( ) { % * " ] \\`);
        flags.add(name);
      }
    }
    return mailItemJson({ ...item, flags: [...flags].sort() });
  },
};

