import ICAL from 'ical.js';

/**
 * Answering an invitation (iTIP, RFC 5546) as one of its attendees: the event as the attendee's calendar
 * keeps it, with their participation status, and the REPLY that tells the organizer (§3.2.3), which goes
 * by mail (iMIP, RFC 6047). Pure: the caller gives the clock and the addresses that are the attendee's.
 * Callers have checked the texts against the calendar cost rules (docs/architecture.md); nothing here
 * expands a recurrence.
 */

export type PartStat = 'ACCEPTED' | 'TENTATIVE' | 'DECLINED';

/** Why an invitation cannot be answered: it is none, the attendee organizes it, or is not among its attendees. */
export class ItipRefusal extends Error {
  override name = 'ItipRefusal';
}

/** A parsed VCALENDAR, or an ItipRefusal. */
function parseCalendar(text: string): ICAL.Component {
  let calendar: ICAL.Component;
  try {
    const jcal: unknown = ICAL.parse(text);
    if (!Array.isArray(jcal) || jcal[0] !== 'vcalendar') throw new Error('not one VCALENDAR');
    calendar = new ICAL.Component(jcal as unknown[]);
  } catch (err) {
    throw new ItipRefusal(`the invitation cannot be read: ${(err as Error).message}`);
  }
  if (calendar.getAllSubcomponents('vevent').length === 0) throw new ItipRefusal('the invitation holds no event');
  return calendar;
}

/** The address a calendar user address names (`mailto:`), lowercase, or undefined. */
function addressOf(prop: ICAL.Property): string | undefined {
  const v = prop.getFirstValue();
  if (typeof v !== 'string') return undefined;
  const address = /^mailto:/i.test(v) ? v.slice(7) : v;
  return address.includes('@') ? address.trim().toLowerCase() : undefined;
}

/** The event's UID, the one every VEVENT of the object shares. */
export function eventUid(text: string): string {
  const uid = parseCalendar(text).getFirstSubcomponent('vevent')?.getFirstPropertyValue('uid');
  if (typeof uid !== 'string' || uid === '') throw new ItipRefusal('the invitation has no UID');
  return uid;
}

/** The attendee property of `addresses` in a VEVENT. */
function attendeeIn(vevent: ICAL.Component, addresses: ReadonlySet<string>): ICAL.Property | undefined {
  return vevent.getAllProperties('attendee').find((p) => {
    const a = addressOf(p);
    return a !== undefined && addresses.has(a);
  });
}

/**
 * Which of `addresses` is invited to the object's event (its first VEVENT), as its ATTENDEE says; an
 * ItipRefusal when one of them organizes it or none is invited.
 */
export function invitedAddress(text: string, addresses: ReadonlySet<string>): string {
  const vevent = parseCalendar(text).getFirstSubcomponent('vevent') as ICAL.Component;
  const organizer = vevent.getFirstProperty('organizer');
  const organizing = organizer ? addressOf(organizer) : undefined;
  if (organizing !== undefined && addresses.has(organizing)) throw new ItipRefusal('you organize this meeting');
  const attendee = attendeeIn(vevent, addresses);
  const address = attendee && addressOf(attendee);
  if (address === undefined) throw new ItipRefusal(`none of your addresses (${[...addresses].join(', ') || 'none set'}) is among the meeting's attendees`);
  return address;
}

const sequenceOf = (c: ICAL.Component | null): number => Number(c?.getFirstSubcomponent('vevent')?.getFirstPropertyValue('sequence')) || 0;

/**
 * The event as the attendee's calendar keeps it once answered: the invitation's, unless the calendar holds
 * that version or a later one (its SEQUENCE as high: the same meeting answered before, perhaps given an
 * alarm since, or the organizer's newer update come another way), without its
 * METHOD (a calendar object resource has none, RFC 4791 §4.1), the attendee's PARTSTAT set in every VEVENT
 * that names them, and a tentative answer shown as tentative busy time (X-MICROSOFT-CDO-BUSYSTATUS, which
 * Outlook and ActiveSync read; an acceptance drops a tentative one the invitation carried).
 */
export function answeredEvent(invitation: string, existing: string | undefined, address: string, partstat: PartStat): string {
  const invited = parseCalendar(invitation);
  const held = existing === undefined ? null : parseCalendar(existing);
  const calendar = held && sequenceOf(held) >= sequenceOf(invited) ? held : invited;
  calendar.removeAllProperties('method');
  for (const vevent of calendar.getAllSubcomponents('vevent')) answerIn(vevent, address, partstat);
  return `${calendar.toString()}\r\n`;
}

/** Sets the attendee's answer in one VEVENT (a series, or one occurrence's override), if it names them: as answeredEvent does for each. */
export function answerIn(vevent: ICAL.Component, address: string, partstat: PartStat): void {
  const attendee = attendeeIn(vevent, new Set([address]));
  if (!attendee) return;
  attendee.setParameter('partstat', partstat);
  attendee.removeParameter('rsvp');
  const busy = vevent.getFirstPropertyValue('x-microsoft-cdo-busystatus');
  if (partstat === 'TENTATIVE') vevent.updatePropertyWithValue('x-microsoft-cdo-busystatus', 'TENTATIVE');
  else if (typeof busy === 'string' && busy.toUpperCase() === 'TENTATIVE') vevent.removeAllProperties('x-microsoft-cdo-busystatus');
}

export interface ItipReply {
  /** The REPLY object (RFC 5546 §3.2.3), CRLF line ends. */
  text: string;
  organizer: { name?: string; address: string };
  attendee: { name?: string; address: string };
  summary: string;
  /**
   * What the REPLY answers, apart from the answer and its time: each VEVENT's UID, RECURRENCE-ID and
   * SEQUENCE, one a line. The same meeting invited twice, or its message moved, gives the same.
   */
  answers: string;
}

/**
 * The REPLY of attendee `address` to the organizer: METHOD:REPLY, and per VEVENT of the invitation (the
 * series, and each occurrence it names by RECURRENCE-ID; only those `only` picks, when given) its UID,
 * RECURRENCE-ID, SEQUENCE, ORGANIZER and SUMMARY, a DTSTAMP of `now`, and that one ATTENDEE with the
 * PARTSTAT given (RFC 5546 §3.2.3: only the replying attendee).
 */
export function itipReply(invitation: string, address: string, partstat: PartStat, now: number, prodId: string, only?: (vevent: ICAL.Component) => boolean): ItipReply {
  const invited = parseCalendar(invitation);
  const reply = new ICAL.Component('vcalendar');
  reply.addPropertyWithValue('prodid', prodId);
  reply.addPropertyWithValue('version', '2.0');
  reply.addPropertyWithValue('method', 'REPLY');
  const mine = new Set([address]);
  const stamp = ICAL.Time.fromJSDate(new Date(Math.floor(now / 1000) * 1000), true);
  let organizer: ItipReply['organizer'] | undefined;
  let attendee: ItipReply['attendee'] | undefined;
  let summary = '';
  const answers: string[] = [];
  for (const vevent of invited.getAllSubcomponents('vevent')) {
    if (only && !only(vevent)) continue;
    const own = attendeeIn(vevent, mine);
    const org = vevent.getFirstProperty('organizer');
    if (!own || !org) continue;
    const out = new ICAL.Component('vevent');
    const named: string[] = [];
    for (const name of ['uid', 'recurrence-id', 'sequence']) {
      const prop = vevent.getFirstProperty(name);
      if (prop) out.addProperty(ICAL.Property.fromString(prop.toICALString()));
      named.push(prop?.toICALString() ?? '');
    }
    answers.push(named.join('\u0000'));
    out.addPropertyWithValue('dtstamp', stamp);
    out.addProperty(ICAL.Property.fromString(org.toICALString()));
    const answer = ICAL.Property.fromString(own.toICALString());
    answer.setParameter('partstat', partstat);
    answer.removeParameter('rsvp');
    out.addProperty(answer);
    const title = vevent.getFirstPropertyValue('summary');
    if (typeof title === 'string') {
      out.addPropertyWithValue('summary', title);
      if (summary === '') summary = title;
    }
    reply.addSubcomponent(out);
    const cn = (p: ICAL.Property) => {
      const v = p.getParameter('cn');
      return typeof v === 'string' && v !== '' ? { name: v } : {};
    };
    organizer ??= { address: addressOf(org) ?? '', ...cn(org) };
    attendee ??= { address, ...cn(own) };
  }
  if (!organizer || !attendee || organizer.address === '') throw new ItipRefusal('the invitation names no organizer to answer');
  return { text: `${reply.toString()}\r\n`, organizer, attendee, summary, answers: answers.join('\n') };
}
