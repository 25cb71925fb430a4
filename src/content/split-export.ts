import ICAL from 'ical.js';

/**
 * Splitting a whole-address-book .vcf or whole-calendar .ics export into one object per item, as the
 * hub stores them. vCards are cut out byte for byte. Calendar objects are regrouped by UID (a
 * recurring event and its overridden instances stay together) and each group gets the time zones
 * the export defined, so every piece stands alone.
 */
export function splitVcards(text: string): string[] {
  const cards: string[] = [];
  const re = /^BEGIN:VCARD\r?$/gim;
  let match: RegExpExecArray | null;
  const starts: number[] = [];
  while ((match = re.exec(text)) !== null) starts.push(match.index);
  for (const [i, start] of starts.entries()) {
    const chunk = text.slice(start, starts[i + 1] ?? text.length);
    const end = /^END:VCARD\r?$/im.exec(chunk);
    const card = end ? chunk.slice(0, end.index + end[0].length) : chunk;
    cards.push(card.endsWith('\n') ? card : `${card}${card.includes('\r\n') ? '\r\n' : '\n'}`);
  }
  return cards;
}

export function splitCalendar(text: string): string[] {
  const root = new ICAL.Component(ICAL.parse(text) as unknown as [string, unknown[], unknown[]]);
  const timezones = root.getAllSubcomponents('vtimezone');
  const groups = new Map<string, ICAL.Component[]>();
  for (const component of root.getAllSubcomponents()) {
    if (component.name === 'vtimezone') continue;
    const uid = String(component.getFirstPropertyValue('uid') ?? '');
    const group = groups.get(uid) ?? [];
    group.push(component);
    groups.set(uid, group);
  }
  const out: string[] = [];
  for (const components of groups.values()) {
    const calendar = new ICAL.Component('vcalendar');
    calendar.addPropertyWithValue('version', '2.0');
    calendar.addPropertyWithValue('prodid', String(root.getFirstPropertyValue('prodid') ?? '-//Syncpoint//import//EN'));
    for (const tz of timezones) calendar.addSubcomponent(new ICAL.Component(JSON.parse(JSON.stringify(tz.toJSON()))));
    for (const c of components) calendar.addSubcomponent(c);
    out.push(`${calendar.toString()}\r\n`);
  }
  return out;
}
