import { createHash } from 'node:crypto';
import type ICAL from 'ical.js';
import { limits } from '../../../core/limits.js';
import { answeredEvent, answerIn, eventUid, invitedAddress, itipReply, ItipRefusal, type PartStat } from '../../../content/itip.js';
import { parseMailItem } from '../../../content/mail/item.js';
import { composeMime } from '../../../content/mail/outgoing.js';
import { sendMessageId } from '../../../hub/mail.js';
import type { CollectionRow } from '../../../hub/records.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { bodyFromEas } from '../mapping/body.js';
import { OccurrenceEdits, parseEasDate, prodId } from '../mapping/calendar.js';
import { readLongId } from '../mapping/email.js';
import { child, children, el, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * MeetingResponse (MS-ASCMD 2.2.1.11): the user accepts (1), tentatively accepts (2) or declines (3) a
 * meeting, named by the invitation in a mail folder (its mail item's `invitation`, content/mail/item.ts)
 * or by the event in a calendar folder. docs/eas.md § Meeting invitations has what it does and why:
 *
 * - Accepting puts the event into the account's default calendar (the first one, FolderSync's type 8),
 *   or updates the one with its UID there, with the user's PARTSTAT; declining removes it, as Exchange
 *   does (a declined meeting leaves the calendar). An event named in a calendar folder is answered where
 *   it is; in 16.x one occurrence of it by InstanceId (the occurrence's override gets the PARTSTAT, a
 *   declined one is deleted from the series). The write is the server's on the device's behalf (hub writeEventByUid), so every device, this
 *   one too, is sent it, and push fires.
 * - The organizer is told by a REPLY (iTIP, RFC 5546) by mail (iMIP, RFC 6047) only in 16.0 and 16.1,
 *   and only when the request has SendResponse: before 16.0 the client sends its own reply by SendMail,
 *   and a server reply would make two. It goes through the hub's send, once per device, meeting and
 *   answer: a request retried after a lost answer sends nothing more, nor does the same answer given
 *   from the invitation moved to another folder (sim --mail seeds 67 and 109).
 * - The user is the attendee whose address is the account's email address or an IMAP upstream's user
 *   name; a meeting the user organizes, or does not attend, gets Status 2.
 */
const mr = namespace('MeetingResponse');

/**
 * Result Status values (MS-ASCMD 2.2.3.177.9), and the common ones InstanceId's section gives (2.2.3.92.1):
 * an InstanceId that is no date-time, and one of an event that does not recur.
 */
export const meetingStatus = { success: 1, invalidRequest: 2, mailboxError: 3, serverError: 4, invalidDateTime: 104, noRecurrence: 146 } as const;

const partstats: Record<string, PartStat> = { '1': 'ACCEPTED', '2': 'TENTATIVE', '3': 'DECLINED' };
const replyAnswers = Object.values(partstats);
const replySubjects: Record<PartStat, string> = { ACCEPTED: 'Accepted', TENTATIVE: 'Tentative', DECLINED: 'Declined' };
const replyVerbs: Record<PartStat, string> = { ACCEPTED: 'accepted', TENTATIVE: 'tentatively accepted', DECLINED: 'declined' };

/** A request answered with a Status other than success, and why (logged, and on the device's health). */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function meetingResponse(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const requests = children(body, 'Request');
  const collections = await ctx.hub.accounts.listCollections(ctx.point.accountId);
  const results: WbxmlElement[] = [];
  for (const [index, request] of requests.entries()) {
    const longId = readLongId(text(child(request, 'LongId', 'Search')) ?? '');
    const requestId = text(child(request, 'RequestId')) ?? longId?.serverId ?? '';
    const instanceId = text(child(request, 'InstanceId'));
    let status: number = meetingStatus.success;
    let calendarId: string | undefined;
    try {
      if (index >= limits.easMeetingResponsesMax) throw new Refused(meetingStatus.serverError, `at most ${limits.easMeetingResponsesMax} responses a request; send this one again`);
      calendarId = await respond(ctx, collections, request, longId);
    } catch (err) {
      if (err instanceof Refused) status = err.status;
      else if (err instanceof ItipRefusal) status = meetingStatus.invalidRequest;
      else if (err instanceof ProtocolError) status = statusOf(err);
      else throw err;
      ctx.logger.info({ accountId: ctx.point.accountId, device: ctx.point.device.id, requestId, status, error: (err as Error).message }, 'meeting response refused');
      await ctx.hub.reportDeviceError(ctx.point.accountId, ctx.point.device.id, 'invalidRequest', `MeetingResponse ${requestId}: ${(err as Error).message}`).catch(() => {});
    }
    // A Result's InstanceId is 16.x's (MS-ASCMD 2.2.3.155.2); a LongId's request has no RequestId to name.
    const v16 = ctx.request.version.startsWith('16');
    results.push(mr('Result', requestId !== '' && mr('RequestId', requestId), mr('Status', String(status)), calendarId !== undefined && mr('CalendarId', calendarId), v16 && instanceId !== undefined && mr('InstanceId', instanceId)));
  }
  return mr('MeetingResponse', ...results);
}

/** One Request: the calendar written and the reply sent; the event's id for an acceptance, undefined for a decline. */
async function respond(ctx: EasContext, collections: readonly CollectionRow[], request: WbxmlElement, longId: { collectionId: string; serverId: string } | undefined): Promise<string | undefined> {
  const partstat = partstats[text(child(request, 'UserResponse'))?.trim() ?? ''];
  if (!partstat) throw new Refused(meetingStatus.invalidRequest, 'UserResponse: give 1 (accept), 2 (tentative) or 3 (decline)');
  const collectionId = text(child(request, 'CollectionId')) ?? longId?.collectionId;
  const requestId = text(child(request, 'RequestId')) ?? longId?.serverId;
  if (!collectionId || !requestId) throw new Refused(meetingStatus.invalidRequest, 'name the invitation by CollectionId and RequestId, or LongId');
  const collection = collections.find((c) => c.id === collectionId);
  if (!collection || (collection.kind !== 'mail' && collection.kind !== 'events')) throw new Refused(meetingStatus.invalidRequest, `CollectionId ${collectionId} is no mail or calendar folder of this account`);
  const instanceId = text(child(request, 'InstanceId'));
  if (instanceId !== undefined) {
    if (!ctx.request.version.startsWith('16')) throw new Refused(meetingStatus.invalidRequest, 'InstanceId is of protocol 16.0 and later');
    if (collection.kind === 'mail') throw new Refused(meetingStatus.invalidRequest, 'InstanceId names an occurrence of a calendar item, not of a meeting request');
    try {
      parseEasDate(instanceId, 'InstanceId');
    } catch (err) {
      throw new Refused(meetingStatus.invalidDateTime, (err as Error).message);
    }
  }
  const item = await ctx.hub.readItem(ctx.point.accountId, collectionId, requestId);
  if (!item || item.data === null) throw new Refused(meetingStatus.invalidRequest, `no item ${requestId} in folder ${collectionId}`);

  // The event answered, the calendar it goes to, and the invitation message (for the reply's threading).
  let invitation: string;
  let calendarOf: string;
  let inReplyTo: string | undefined;
  if (collection.kind === 'mail') {
    const mail = parseMailItem(item.data);
    if (typeof mail === 'string' || mail.invitation?.method !== 'REQUEST') throw new Refused(meetingStatus.invalidRequest, `message ${requestId} is no meeting request`);
    invitation = mail.invitation.text;
    inReplyTo = mail.messageId ?? undefined;
    const calendar = collections.find((c) => c.kind === 'events');
    if (!calendar) throw new Refused(meetingStatus.mailboxError, 'the account has no calendar to put the meeting in');
    calendarOf = calendar.id;
  } else {
    invitation = item.data;
    calendarOf = collectionId;
  }
  const uid = eventUid(invitation);
  const address = invitedAddress(invitation, await addressesOf(ctx));

  let reply: { text: string; only?: (vevent: ICAL.Component) => boolean } = { text: invitation };
  const eventId = await ctx.hub.writeEventByUid(ctx.point, calendarOf, uid, (existing) => {
    if (instanceId === undefined) return partstat === 'DECLINED' ? null : answeredEvent(invitation, existing?.data ?? undefined, address, partstat);
    if (existing?.data == null) throw new Refused(meetingStatus.invalidRequest, `the event ${requestId} is gone`);
    const answered = occurrenceAnswered(existing.data, instanceId, address, partstat);
    reply = answered.reply;
    return answered.data;
  });
  // 16.x with SendResponse only (MS-ASCMD 2.2.1.11): earlier versions send their own reply by SendMail.
  const sendResponse = child(request, 'SendResponse');
  if (ctx.request.version.startsWith('16') && sendResponse) await sendReply(ctx, { partstat, reply, address, inReplyTo, sendResponse });
  return partstat === 'DECLINED' ? undefined : eventId;
}

/**
 * One occurrence of a series answered (16.x InstanceId), as a Sync's occurrence edit makes it
 * (calendar.ts OccurrenceEdits): accepted or tentative, its override (an existing one, or a copy of the
 * series at that time) carries the PARTSTAT; declined, it is deleted from the series (an EXDATE). The
 * REPLY is of that occurrence alone, by its RECURRENCE-ID.
 */
function occurrenceAnswered(data: string, instanceId: string, address: string, partstat: PartStat): { data: string; reply: { text: string; only: (vevent: ICAL.Component) => boolean } } {
  const edits = (): OccurrenceEdits => {
    try {
      return new OccurrenceEdits(data);
    } catch (err) {
      throw new Refused(meetingStatus.noRecurrence, (err as Error).message);
    }
  };
  const answered = edits();
  let key: number;
  try {
    key = answered.apply(instanceId, el('AirSync', 'ApplicationData'));
  } catch (err) {
    throw new Refused(meetingStatus.invalidRequest, (err as Error).message);
  }
  const override = answered.override(key);
  if (!override) throw new Refused(meetingStatus.invalidRequest, `no occurrence at ${instanceId}`);
  answerIn(override, address, partstat);
  const rid = override.getFirstProperty('recurrence-id')?.toICALString();
  const reply = { text: answered.toString(), only: (vevent: ICAL.Component) => vevent.getFirstProperty('recurrence-id')?.toICALString() === rid };
  if (partstat !== 'DECLINED') return { data: answered.toString(), reply };
  const declined = edits();
  declined.apply(instanceId, undefined);
  return { data: declined.toString(), reply };
}

/** The addresses that are the user's, lowercase: the account's email address and its IMAP upstreams' user names that are addresses. */
async function addressesOf(ctx: EasContext): Promise<Set<string>> {
  const out = new Set<string>();
  const account = await ctx.hub.accounts.get(ctx.point.accountId);
  if (account?.email) out.add(account.email.toLowerCase());
  for (const upstream of await ctx.hub.upstreams.list(ctx.point.accountId)) if (upstream.kind === 'imap' && upstream.username.includes('@')) out.add(upstream.username.toLowerCase());
  return out;
}

interface ReplyRequest {
  partstat: PartStat;
  /** What the REPLY is made of: the invitation, or the series with the occurrence answered and that occurrence picked. */
  reply: { text: string; only?: (vevent: ICAL.Component) => boolean };
  address: string;
  inReplyTo: string | undefined;
  sendResponse: WbxmlElement;
}

/**
 * The REPLY to the organizer, as a message from the user with the text the device gave (SendResponse's
 * Body) and the REPLY as its text/calendar; method=REPLY alternative (RFC 6047 §2.4). The replies to one
 * meeting, as the REPLY names it (UID, the occurrence's RECURRENCE-ID, SEQUENCE: itipReply `answers`), are
 * numbered slots of the send ledger, each under a client id of the meeting, its number and its answer,
 * not of the message or the device. A reply goes only when the organizer's latest word from the user,
 * the last slot's answer, is another: a retried request, the same answer from another device or from the
 * invitation moved to another folder or delivered twice, sends nothing; accept, decline, accept again sends
 * three; an update of the meeting (a higher SEQUENCE) starts anew. Its Message-ID is drawn from the client
 * id (hub/mail.ts sendMessageId), so a send whose outcome is unknown can be looked for in Sent.
 */
async function sendReply(ctx: EasContext, r: ReplyRequest): Promise<void> {
  const { accountId } = ctx.point;
  const reply = itipReply(r.reply.text, r.address, r.partstat, ctx.hub.now(), prodId, r.reply.only);
  // Without a `/`, these stay apart from SendMail's client ids (`device/ClientId`).
  const meeting = createHash('sha256').update(reply.answers).digest('base64url').slice(0, 32);
  const slot = (n: number, answer: PartStat) => `meeting-response:${meeting}:${n}:${answer}`;
  let last: PartStat | undefined;
  let n = 0;
  for (; n < limits.easMeetingRepliesMax; n++) {
    const begun = await Promise.all(replyAnswers.map((answer) => ctx.hub.mail.sendBegun(accountId, slot(n, answer))));
    const answer = replyAnswers.find((_, i) => begun[i]);
    if (answer === undefined) break;
    last = answer;
  }
  // The organizer's latest word from the user is this answer already (a retry, or the same answer again).
  if (last === r.partstat) return;
  if (n >= limits.easMeetingRepliesMax) throw new Refused(meetingStatus.mailboxError, `${n} replies to this meeting were sent already, the most there may be`);
  const clientId = slot(n, r.partstat);
  let comment: string | undefined;
  try {
    comment = bodyFromEas(r.sendResponse)?.text;
  } catch (err) {
    throw new Refused(meetingStatus.invalidRequest, `SendResponse: ${(err as Error).message}`);
  }
  const who = reply.attendee.name ?? reply.attendee.address;
  const message = await composeMime({
    from: reply.attendee,
    to: [reply.organizer],
    subject: `${replySubjects[r.partstat]}: ${reply.summary}`,
    text: comment ?? `${who} has ${replyVerbs[r.partstat]} this meeting.`,
    icalEvent: { method: 'REPLY', content: reply.text },
    messageId: sendMessageId(accountId, clientId, reply.attendee.address),
    date: new Date(ctx.hub.now()),
    ...(r.inReplyTo !== undefined ? { inReplyTo: r.inReplyTo, references: [r.inReplyTo] } : {}),
  });
  try {
    await ctx.hub.mail.send(accountId, { clientId, message });
  } catch (err) {
    // Begun before and its outcome unknown: it may have gone, and is never sent again; the answer stands.
    if (err instanceof ProtocolError && err.status === 'conflict' && err.extra.sendState === 'unknown') return;
    if (err instanceof ProtocolError) throw new Refused(meetingStatus.mailboxError, `the reply to the organizer was not sent: ${err.message}`);
    throw err;
  }
}

/** The hub's refusal of the calendar write as a Result Status: the event cannot be stored (2), or try again (3). */
function statusOf(err: ProtocolError): number {
  switch (err.status) {
    case 'invalidItem':
    case 'itemTooLarge':
    case 'wrongKind':
    case 'notFound':
    case 'uidConflict':
      return meetingStatus.invalidRequest;
    default:
      return meetingStatus.mailboxError;
  }
}
