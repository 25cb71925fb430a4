/**
 * The iCalendar items of the limits bench whose cost could grow with a number inside them rather than
 * with their size: a huge DURATION, a time zone whose rule starts in year 1, and a rule that never
 * yields an instance.
 */

const calendar = (...lines: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//syncpoint limits bench//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');

const event = (uid: string, ...lines: string[]) => ['BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', ...lines, 'SUMMARY:limits bench', 'END:VEVENT'];

/** An event lasting a billion weeks: under 400 bytes. */
export const hugeDuration = (uid: string) => calendar(...event(uid, 'DTSTART:20260110T100000Z', 'DURATION:P1000000000W'));

/** An event in a time zone whose standard/daylight rule repeats from year 1 (`FREQ=DAILY` or `FREQ=HOURLY`). */
export function zoneFromYearOne(uid: string, freq: 'DAILY' | 'HOURLY'): string {
  const tzid = `Bench/Year-One-${freq}`;
  return calendar(
    'BEGIN:VTIMEZONE',
    `TZID:${tzid}`,
    'BEGIN:STANDARD',
    'DTSTART:00010101T030000',
    `RRULE:FREQ=${freq}`,
    'TZOFFSETFROM:+0200',
    'TZOFFSETTO:+0100',
    'END:STANDARD',
    'BEGIN:DAYLIGHT',
    'DTSTART:00010101T020000',
    `RRULE:FREQ=${freq}`,
    'TZOFFSETFROM:+0100',
    'TZOFFSETTO:+0200',
    'END:DAYLIGHT',
    'END:VTIMEZONE',
    ...event(uid, `DTSTART;TZID=${tzid}:20260110T100000`, `DTEND;TZID=${tzid}:20260110T110000`),
  );
}

/** A series whose rule matches no day (30 February): expansion walks its whole step budget for nothing. */
export const neverMatching = (uid: string) => calendar(...event(uid, 'DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30'));

/** The floor for `neverMatching`: the same event with a normal rule (ten weekly instances). */
export const plainWeekly = (uid: string) => calendar(...event(uid, 'DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z', 'RRULE:FREQ=WEEKLY;COUNT=10'));

/** Ordinary events of the shapes calendars hold, for warming the server up (wire.ts, warmUpRequests). */
export function ordinaryEvent(uid: string, i: number): string {
  const shapes = [
    ['DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z', 'RRULE:FREQ=WEEKLY;COUNT=10'],
    ['DTSTART:20260113T090000Z', 'DTEND:20260113T093000Z', 'RRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=12'],
    ['DTSTART:20260105T083000Z', 'DTEND:20260105T084500Z', 'RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20261231T000000Z'],
    ['DTSTART;VALUE=DATE:20260301', 'DTEND;VALUE=DATE:20260302', 'RRULE:FREQ=YEARLY'],
    ['DTSTART:20260210T140000Z', 'DTEND:20260210T150000Z'],
  ];
  return calendar(...event(uid, ...(shapes[i % shapes.length] as string[])));
}
