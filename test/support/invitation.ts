/**
 * Invitations by mail (iMIP, RFC 6047) as calendar programs send them: a multipart/alternative of a plain
 * text, an HTML version and the text/calendar part with its METHOD, base64-encoded as Outlook and Google
 * send it, for the mail item builder's tests and the ActiveSync meeting tests.
 */

export interface InvitationOptions {
  uid: string;
  method?: 'REQUEST' | 'CANCEL';
  organizer: { name: string; address: string };
  attendees: Array<{ name: string; address: string }>;
  summary: string;
  location?: string;
  /** Extra lines of the VEVENT (an RRULE, a SEQUENCE). */
  extra?: string[];
  /** Bytes of HTML before the text/calendar part, so it lies past the start of the message a server reads. */
  htmlPadding?: number;
  /** DTSTART and DTEND in Europe/Berlin, as wall times (20261210T100000). */
  start?: string;
  end?: string;
}

/** The Europe/Berlin VTIMEZONE (daylight saving time since 1980), one line an entry. */
export const berlinTimezone = [
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'TZNAME:CEST',
  'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
  'END:DAYLIGHT',
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'TZNAME:CET',
  'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
  'END:STANDARD',
  'END:VTIMEZONE',
];

/** The iCalendar object, CRLF line ends, with the Europe/Berlin VTIMEZONE its times name. */
export function invitationIcs(o: InvitationOptions): string {
  const method = o.method ?? 'REQUEST';
  return [
    'BEGIN:VCALENDAR',
    'PRODID:-//Example Corp.//Calendar 1.0//EN',
    'VERSION:2.0',
    `METHOD:${method}`,
    ...berlinTimezone,
    'BEGIN:VEVENT',
    `UID:${o.uid}`,
    'DTSTAMP:20261201T080000Z',
    `DTSTART;TZID=Europe/Berlin:${o.start ?? '20261210T100000'}`,
    `DTEND;TZID=Europe/Berlin:${o.end ?? '20261210T113000'}`,
    `SUMMARY:${o.summary}`,
    ...(o.location ? [`LOCATION:${o.location}`] : []),
    `ORGANIZER;CN=${o.organizer.name}:mailto:${o.organizer.address}`,
    ...o.attendees.map((a) => `ATTENDEE;CN=${a.name};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${a.address}`),
    ...(method === 'CANCEL' ? ['STATUS:CANCELLED'] : []),
    ...(o.extra ?? []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** The whole message, from the organizer to the attendees. */
export function invitationMessage(o: InvitationOptions & { messageId: string }): string {
  const method = o.method ?? 'REQUEST';
  const ics = Buffer.from(invitationIcs(o), 'utf8').toString('base64').match(/.{1,76}/g) ?? [];
  return [
    `From: ${o.organizer.name} <${o.organizer.address}>`,
    `To: ${o.attendees.map((a) => `${a.name} <${a.address}>`).join(', ')}`,
    `Subject: ${method === 'CANCEL' ? 'Canceled: ' : ''}${o.summary}`,
    'Date: Tue, 01 Dec 2026 08:00:00 +0000',
    `Message-ID: ${o.messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="inv-b1"',
    '',
    '--inv-b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `You are invited: ${o.summary}.`,
    '--inv-b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<p>You are invited: <b>${o.summary}</b>.</p>`,
    ...(o.htmlPadding ? (`<p>${'Agenda to follow. '.repeat(Math.ceil(o.htmlPadding / 18))}</p>`.match(/.{1,76}/g) ?? []) : []),
    '--inv-b1',
    `Content-Type: text/calendar; charset=utf-8; method=${method}`,
    'Content-Transfer-Encoding: base64',
    '',
    ...ics,
    '--inv-b1--',
    '',
  ].join('\r\n');
}
