import ICAL from 'ical.js';
import { Hub } from '../src/hub/hub.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { UpstreamAccess } from '../src/hub/upstreams.js';
import type { Store } from '../src/store/store.js';
import { simAttendee, simOrganizer } from './imap-upstream.js';
import type { AcceptedMessage } from './smtp-submission.js';
import type { Trace } from './trace.js';

/**
 * Meeting invitations in mail worlds (sim/mail.ts): the IMAP server delivers them (imap-upstream.ts
 * deliverInvitation), ActiveSync phones answer them with MeetingResponse (eas-mail-device.ts), and the
 * server writes the account's calendar and, in 16.x with SendResponse, sends the organizer one REPLY
 * (docs/eas.md § Meeting invitations). The ledger notes what the phones asked and were told; the checks:
 *   - `meeting-calendar-agrees`: per meeting UID, the calendar agrees with the last answer a phone was
 *     told succeeded (Status 1): accepted or tentative, one event with that UID whose attendee (the
 *     account's user) has that PARTSTAT; declined, or asked and never applied, none. A meeting whose last
 *     request's outcome the phone cannot know (its answer lost and not asked again since, or Status 3,
 *     which the server answers after the calendar is written) is left out until a later answer settles it;
 *   - `meeting-replied-once`: of the REPLYs the submission server received for a meeting, none repeats
 *     the answer of the one before it (the organizer is told each change of the user's answer once,
 *     however often a request was sent again, the answer repeated, or given by another phone), and none
 *     answers what no 16.1 phone asked for with SendResponse (a 14.1 phone's SendResponse is ignored: it
 *     sends its own reply).
 * The REPLYs are read from what the submission server accepted, not from the server's send records.
 */

export const meetingCheckNames = ['meeting-calendar-agrees', 'meeting-replied-once'] as const;

const partstats = { '1': 'ACCEPTED', '2': 'TENTATIVE', '3': 'DECLINED' } as const;
type PartStat = (typeof partstats)[keyof typeof partstats];

/** One MeetingResponse request of a phone: `replies` when the server must reply (16.1, SendResponse). */
export interface MeetingAsked {
  phone: string;
  uid: string;
  response: keyof typeof partstats;
  replies: boolean;
}

export class MeetingLedger {
  /** What the calendar must hold per meeting: a PARTSTAT, nothing (`none`), or not known (`unknown`). */
  readonly calendar = new Map<string, PartStat | 'none' | 'unknown'>();
  /** The phones that asked for a REPLY, per meeting and PARTSTAT. */
  readonly repliesAsked = new Map<string, Set<string>>();
  readonly counts = { requests: 0, succeeded: 0, refused: 0, unknown: 0, repliesAsked: 0 };

  constructor(private readonly trace: Trace | undefined) {}

  /** A request about to be sent (again). */
  asked(a: MeetingAsked): void {
    this.counts.requests++;
    if (!this.calendar.has(a.uid)) this.calendar.set(a.uid, 'none');
    if (!a.replies) return;
    const key = replyKey(a.uid, partstats[a.response]);
    const phones = this.repliesAsked.get(key) ?? new Set();
    if (!phones.has(a.phone)) this.counts.repliesAsked++;
    this.repliesAsked.set(key, phones.add(a.phone));
  }

  /** Its answer's Status, or undefined when it got none (or one that says nothing of an earlier attempt). */
  answered(a: MeetingAsked, status: string | undefined): void {
    if (status === '1') {
      this.counts.succeeded++;
      this.calendar.set(a.uid, partstats[a.response]);
    } else if (status === undefined || status === '3') {
      this.counts.unknown++;
      this.calendar.set(a.uid, 'unknown');
    } else this.counts.refused++;
    this.trace?.(`meetings: ${a.phone} answering ${a.uid} with ${partstats[a.response]} was told ${status ?? 'nothing'}; the calendar must hold ${this.calendar.get(a.uid)}`);
  }
}

const replyKey = (uid: string, partstat: string) => `${uid} ${partstat}`;

/** The user's PARTSTAT in each VEVENT of a calendar object that names them, by its UID. */
function partstatsOf(text: string): { uid: string; partstats: string[] } | undefined {
  const calendar = new ICAL.Component(ICAL.parse(text) as unknown[]);
  const vevents = calendar.getAllSubcomponents('vevent');
  const uid = vevents[0]?.getFirstPropertyValue('uid');
  if (typeof uid !== 'string') return undefined;
  const found = vevents.flatMap((v) => v.getAllProperties('attendee').filter((p) => String(p.getFirstValue()).toLowerCase() === `mailto:${simAttendee}`));
  return { uid, partstats: found.map((p) => String(p.getParameter('partstat') ?? '(none)').toUpperCase()) };
}

/** The checks' findings, from the calendar's events (the hub's truth) and what the submission server accepted. */
export function checkMeetings(ledger: MeetingLedger, events: Iterable<string>, accepted: readonly AcceptedMessage[]): string[] {
  const failures: string[] = [];
  const held = new Map<string, string[][]>();
  for (const data of events) {
    const event = partstatsOf(data);
    if (event) held.set(event.uid, [...(held.get(event.uid) ?? []), event.partstats]);
  }
  for (const [uid, want] of ledger.calendar) {
    if (want === 'unknown') continue;
    const has = held.get(uid) ?? [];
    const described = has.map((p) => p.join(',') || 'without the user').join('; ') || 'none';
    if (want === 'none' || want === 'DECLINED') {
      if (has.length > 0) failures.push(`meeting-calendar-agrees: ${uid} was ${want === 'none' ? 'never answered with success' : 'declined last'}, and the calendar holds ${has.length} events of it (${described})`);
    } else if (has.length !== 1 || has[0]?.length === 0 || has[0]?.some((p) => p !== want)) {
      failures.push(`meeting-calendar-agrees: ${uid} was last answered ${want}, and the calendar holds ${described}`);
    }
  }
  for (const uid of held.keys()) if (!ledger.calendar.has(uid)) failures.push(`meeting-calendar-agrees: the calendar holds ${uid}, which no phone answered`);

  const replies = new Map<string, string[]>();
  for (const m of accepted) {
    const raw = m.raw.toString('utf8');
    if (!/method=REPLY/i.test(raw)) continue;
    const [start, end] = [raw.indexOf('BEGIN:VCALENDAR'), raw.indexOf('END:VCALENDAR')];
    const reply = start === -1 || end === -1 ? undefined : partstatsOf(raw.slice(start, end + 'END:VCALENDAR'.length));
    if (!reply || reply.partstats.length !== 1) {
      failures.push(`meeting-replied-once: ${m.messageId} is a REPLY whose meeting and answer cannot be read`);
      continue;
    }
    if (!m.to.includes(simOrganizer.address)) failures.push(`meeting-replied-once: the REPLY ${m.messageId} went to ${m.to.join(', ')}, not the organizer`);
    replies.set(reply.uid, [...(replies.get(reply.uid) ?? []), reply.partstats[0] as string]);
  }
  for (const [uid, answers] of replies) {
    for (const [i, answer] of answers.entries()) {
      if ((ledger.repliesAsked.get(replyKey(uid, answer))?.size ?? 0) === 0) failures.push(`meeting-replied-once: a REPLY ${answer} of ${uid} went to the organizer, and no 16.1 phone asked for one with SendResponse`);
      if (i > 0 && answers[i - 1] === answer) failures.push(`meeting-replied-once: REPLYs ${i} and ${i + 1} of ${uid} both say ${answer}: the second told the organizer nothing new`);
    }
  }
  return failures;
}

/** The planted bug: the calendar write of a tentative answer says ACCEPTED (the REPLY, made from the invitation, still says TENTATIVE). */
export class TentativeAsAcceptedHub extends Hub {
  override writeEventByUid(...[point, collectionId, uid, edit]: Parameters<Hub['writeEventByUid']>): ReturnType<Hub['writeEventByUid']> {
    return super.writeEventByUid(point, collectionId, uid, (existing) => {
      const data = edit(existing);
      if (data === null) return null;
      const calendar = new ICAL.Component(ICAL.parse(data) as unknown[]);
      for (const vevent of calendar.getAllSubcomponents('vevent')) {
        for (const attendee of vevent.getAllProperties('attendee')) if (attendee.getParameter('partstat') === 'TENTATIVE') attendee.setParameter('partstat', 'ACCEPTED');
      }
      return calendar.toString();
    });
  }
}

/**
 * The planted bug: a MeetingResponse's reply is sent under a client id of its own each time (and so with a
 * Message-ID of its own, drawn from it), so a retried request, or the same answer given again, replies again.
 */
export class ReplyForgetsKeyHub extends Hub {
  constructor(store: Store, ports: HubPorts, access?: UpstreamAccess) {
    super(store, ports, access);
    const send = this.mail.send.bind(this.mail);
    let sent = 0;
    this.mail.send = (accountId, request) => {
      if (!request.clientId.startsWith('meeting-response:') || request.message === undefined) return send(accountId, request);
      const message = Buffer.from(Buffer.from(request.message).toString('latin1').replace(/^Message-ID:.*\r\n/im, ''), 'latin1');
      return send(accountId, { ...request, clientId: `${request.clientId}:${++sent}`, message });
    };
  }
}
