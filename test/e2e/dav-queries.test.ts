import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';
import { berlinTimezone } from '../support/invitation.js';

/**
 * calendar-query, addressbook-query, calendar-data expand and limit-recurrence-set, and free-busy-query
 * over HTTP against a real server (RFC 4791 §7.8–§7.10, §9.6, §9.7, §9.9; RFC 6352 §10.5): the filters
 * clients send for "open tasks", name searches and calendar views, and time ranges per instance.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

type Account = Awaited<ReturnType<typeof newAccount>>;

const collection = (a: Account, name: string) => `/dav/users/${a.accountName}/${name}/`;

async function request(a: Account, method: string, path: string, body: string, contentType = 'application/xml; charset=utf-8') {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: a.authorization, 'content-type': contentType, depth: '1' }, body });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

async function put(a: Account, name: string, file: string, data: string) {
  const res = await request(a, 'PUT', `${collection(a, name)}${file}`, data, name === 'contacts' ? 'text/vcard' : 'text/calendar');
  assert.ok(res.status === 201 || res.status === 204, `PUT ${file}: ${res.status} ${res.text}`);
}

const unescapeXml = (s: string) => s.replace(/&#13;/g, '\r').replace(/&#10;/g, '\n').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** The resource names a 207 answer lists, sorted, and each one's calendar-data (if asked for). */
async function report(a: Account, name: string, body: string): Promise<{ names: string[]; data: Map<string, string> }> {
  const res = await request(a, 'REPORT', collection(a, name), body);
  assert.equal(res.status, 207, `REPORT: ${res.status} ${res.text}`);
  const data = new Map<string, string>();
  for (const m of res.text.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) {
    const href = /<d:href>([^<]*)<\/d:href>/.exec(m[1] as string)?.[1] as string;
    const file = decodeURIComponent(href.slice(href.lastIndexOf('/') + 1));
    data.set(file, unescapeXml(/<cal:calendar-data>([\s\S]*?)<\/cal:calendar-data>/.exec(m[1] as string)?.[1] ?? ''));
  }
  return { names: [...data.keys()].sort(), data };
}

const cal = (filter: string, prop = '<d:getetag/>') =>
  `<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>${prop}</d:prop><c:filter><c:comp-filter name="VCALENDAR">${filter}</c:comp-filter></c:filter></c:calendar-query>`;
const card = (filter: string, test = '') =>
  `<?xml version="1.0" encoding="utf-8"?><k:addressbook-query xmlns:d="DAV:" xmlns:k="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><k:filter${test}>${filter}</k:filter></k:addressbook-query>`;
const range = (start: string, end: string) => `<c:time-range start="${start}" end="${end}"/>`;

const calendar = (...components: string[]) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n${components.join('')}END:VCALENDAR\r\n`;
const component = (name: string, uid: string, lines: string[]) => `BEGIN:${name}\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\n${lines.map((l) => `${l}\r\n`).join('')}END:${name}\r\n`;
const vcard = (uid: string, fn: string, lines: string[] = []) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${fn}\r\nN:${fn};;;;\r\n${lines.map((l) => `${l}\r\n`).join('')}END:VCARD\r\n`;

async function tasksAccount() {
  const a = await newAccount(server);
  await put(a, 'tasks', 'open.ics', calendar(component('VTODO', 'open', ['SUMMARY:Write report', 'STATUS:NEEDS-ACTION'])));
  await put(a, 'tasks', 'done.ics', calendar(component('VTODO', 'done', ['SUMMARY:File taxes', 'STATUS:COMPLETED', 'COMPLETED:20260105T120000Z'])));
  return a;
}

test('calendar-query: "open tasks" (COMPLETED is-not-defined) lists only the open one', async () => {
  const a = await tasksAccount();
  const open = await report(a, 'tasks', cal('<c:comp-filter name="VTODO"><c:prop-filter name="COMPLETED"><c:is-not-defined/></c:prop-filter></c:comp-filter>'));
  assert.deepEqual(open.names, ['open.ics']);
  const completed = await report(a, 'tasks', cal('<c:comp-filter name="VTODO"><c:prop-filter name="COMPLETED"/></c:comp-filter>'));
  assert.deepEqual(completed.names, ['done.ics']);
  // A comp-filter with is-not-defined: objects without any VEVENT, which every task is.
  const noEvents = await report(a, 'tasks', cal('<c:comp-filter name="VEVENT"><c:is-not-defined/></c:comp-filter>'));
  assert.deepEqual(noEvents.names, ['done.ics', 'open.ics']);
});

test('calendar-query: negate-condition inverts a text-match (STATUS not COMPLETED), and CalDAV compares with i;ascii-casemap', async () => {
  const a = await tasksAccount();
  // What python-caldav and Thunderbird send for open tasks.
  const notCompleted = await report(
    a,
    'tasks',
    cal('<c:comp-filter name="VTODO"><c:prop-filter name="STATUS"><c:text-match negate-condition="yes">COMPLETED</c:text-match></c:prop-filter></c:comp-filter>'),
  );
  assert.deepEqual(notCompleted.names, ['open.ics']);
  const summary = (tm: string) => cal(`<c:comp-filter name="VTODO"><c:prop-filter name="SUMMARY">${tm}</c:prop-filter></c:comp-filter>`);
  assert.deepEqual((await report(a, 'tasks', summary('<c:text-match>write REPORT</c:text-match>'))).names, ['open.ics']);
  assert.deepEqual((await report(a, 'tasks', summary('<c:text-match collation="i;octet">write REPORT</c:text-match>'))).names, []);
});

async function contactsAccount() {
  const a = await newAccount(server);
  await put(a, 'contacts', 'anna.vcf', vcard('anna', 'Anna Straße', ['EMAIL;TYPE=WORK:anna@example.org', 'NICKNAME:Annie']));
  await put(a, 'contacts', 'bob.vcf', vcard('bob', 'Bob Annan', ['EMAIL;TYPE=HOME:bob@example.com']));
  await put(a, 'contacts', 'cleo.vcf', vcard('cleo', 'Cleo Müller', ['EMAIL:cleo@EXAMPLE.org']));
  return { a, names: async (body: string) => (await report(a, 'contacts', body)).names };
}

const fn = (tm: string) => card(`<k:prop-filter name="FN">${tm}</k:prop-filter>`);

test('addressbook-query: match-type equals, starts-with, ends-with and contains', async () => {
  const { names } = await contactsAccount();
  assert.deepEqual(await names(fn('<k:text-match match-type="equals">anna straße</k:text-match>')), ['anna.vcf']);
  assert.deepEqual(await names(fn('<k:text-match match-type="equals">anna</k:text-match>')), []);
  assert.deepEqual(await names(fn('<k:text-match match-type="starts-with">ann</k:text-match>')), ['anna.vcf']);
  assert.deepEqual(await names(fn('<k:text-match match-type="ends-with">ANNAN</k:text-match>')), ['bob.vcf']);
  assert.deepEqual(await names(fn('<k:text-match match-type="contains">ann</k:text-match>')), ['anna.vcf', 'bob.vcf']);
  // negate-condition inverts the whole test: no FN containing "ann".
  assert.deepEqual(await names(fn('<k:text-match negate-condition="yes">ann</k:text-match>')), ['cleo.vcf']);
});

test('addressbook-query: collations i;unicode-casemap (the default), i;ascii-casemap and i;octet; any other is refused with supported-collation', async () => {
  const { a, names } = await contactsAccount();
  // i;unicode-casemap folds ß and SS together; i;ascii-casemap folds A-Z only; i;octet folds nothing.
  assert.deepEqual(await names(fn('<k:text-match>STRASSE</k:text-match>')), ['anna.vcf']);
  assert.deepEqual(await names(fn('<k:text-match collation="i;ascii-casemap">MÜLLER</k:text-match>')), []);
  assert.deepEqual(await names(fn('<k:text-match collation="i;ascii-casemap">cleo MüLLER</k:text-match>')), ['cleo.vcf']);
  assert.deepEqual(await names(fn('<k:text-match collation="i;octet">anna s</k:text-match>')), []);
  assert.deepEqual(await names(fn('<k:text-match collation="i;octet">Anna S</k:text-match>')), ['anna.vcf']);
  const refused = await request(a, 'REPORT', collection(a, 'contacts'), fn('<k:text-match collation="i;basic">ann</k:text-match>'));
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /<card:supported-collation\/>/);
  const badType = await request(a, 'REPORT', collection(a, 'contacts'), fn('<k:text-match match-type="regex">ann</k:text-match>'));
  assert.equal(badType.status, 403, badType.text);
  assert.match(badType.text, /<card:supported-filter\/>/);
});

test('addressbook-query: is-not-defined and param-filter', async () => {
  const { names } = await contactsAccount();
  // Cards without a NICKNAME.
  assert.deepEqual(await names(card('<k:prop-filter name="NICKNAME"><k:is-not-defined/></k:prop-filter>')), ['bob.vcf', 'cleo.vcf']);
  // An EMAIL of TYPE work; an EMAIL without a TYPE.
  assert.deepEqual(await names(card('<k:prop-filter name="EMAIL"><k:param-filter name="TYPE"><k:text-match match-type="equals">work</k:text-match></k:param-filter></k:prop-filter>')), ['anna.vcf']);
  assert.deepEqual(await names(card('<k:prop-filter name="EMAIL"><k:param-filter name="TYPE"><k:is-not-defined/></k:param-filter></k:prop-filter>')), ['cleo.vcf']);
});

test('addressbook-query: the test attribute of a prop-filter and of the filter', async () => {
  const { names } = await contactsAccount();
  // A prop-filter's test: allof needs both its text-matches, anyof (the default) one of them.
  const both = (test: string) => card(`<k:prop-filter name="EMAIL" test="${test}"><k:text-match>example.org</k:text-match><k:text-match>anna</k:text-match></k:prop-filter>`);
  assert.deepEqual(await names(both('allof')), ['anna.vcf']);
  assert.deepEqual(await names(both('anyof')), ['anna.vcf', 'cleo.vcf']);
  // The filter's test: allof needs both prop-filters, anyof (the default) one of them.
  const two = '<k:prop-filter name="NICKNAME"/><k:prop-filter name="EMAIL"><k:text-match>example.org</k:text-match></k:prop-filter>';
  assert.deepEqual(await names(card(two, ' test="allof"')), ['anna.vcf']);
  assert.deepEqual(await names(card(two)), ['anna.vcf', 'cleo.vcf']);
});

const berlin = berlinTimezone.map((l) => `${l}\r\n`).join('');

test('calendar-query: a time range applies to each instance of an event series, not to its whole span', async () => {
  const a = await newAccount(server);
  // Ten daily one-hour meetings at 10:00 UTC from 10 January.
  await put(a, 'calendar', 'daily.ics', calendar(component('VEVENT', 'daily', ['SUMMARY:Standup', 'DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z', 'RRULE:FREQ=DAILY;COUNT=10'])));
  const events = async (start: string, end: string) => (await report(a, 'calendar', cal(`<c:comp-filter name="VEVENT">${range(start, end)}</c:comp-filter>`))).names;
  // Between two instances of the series: nothing. During one: the series.
  assert.deepEqual(await events('20260112T120000Z', '20260112T130000Z'), []);
  assert.deepEqual(await events('20260112T103000Z', '20260112T110000Z'), ['daily.ics']);
  assert.deepEqual(await events('20260125T000000Z', '20260126T000000Z'), []);
});

test('calendar-query: an alarm time range looks at the triggers, not at the event', async () => {
  const a = await newAccount(server);
  await put(a, 'calendar', 'alarm.ics', calendar(component('VEVENT', 'alarm', ['SUMMARY:Dentist', 'DTSTART:20260201T100000Z', 'DTEND:20260201T110000Z', 'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Dentist', 'TRIGGER:-PT30M', 'END:VALARM'])));
  const alarms = async (start: string, end: string) => (await report(a, 'calendar', cal(`<c:comp-filter name="VEVENT"><c:comp-filter name="VALARM">${range(start, end)}</c:comp-filter></c:comp-filter>`))).names;
  assert.deepEqual(await alarms('20260201T091500Z', '20260201T094500Z'), ['alarm.ics']);
  assert.deepEqual(await alarms('20260201T100000Z', '20260201T103000Z'), []);
});

test('calendar-query: a recurring task is found by its instances (VTODO rules of RFC 4791 §9.9)', async () => {
  const a = await newAccount(server);
  // A weekly task (due an hour after it starts), every Thursday from 1 January: found in March by an instance.
  await put(a, 'tasks', 'weekly.ics', calendar(component('VTODO', 'weekly', ['SUMMARY:Water plants', 'DTSTART:20260101T090000Z', 'DUE:20260101T100000Z', 'RRULE:FREQ=WEEKLY'])));
  await put(a, 'tasks', 'once.ics', calendar(component('VTODO', 'once', ['SUMMARY:Renew passport', 'DUE:20260401T120000Z'])));
  const tasks = async (start: string, end: string) => (await report(a, 'tasks', cal(`<c:comp-filter name="VTODO">${range(start, end)}</c:comp-filter>`))).names;
  assert.deepEqual(await tasks('20260305T083000Z', '20260305T093000Z'), ['weekly.ics']);
  assert.deepEqual(await tasks('20260306T000000Z', '20260307T000000Z'), []);
  assert.deepEqual(await tasks('20260401T000000Z', '20260402T000000Z'), ['once.ics']);
});

test('calendar-data: expand returns each instance in the range in UTC with a RECURRENCE-ID; limit-recurrence-set keeps the overrides in range', async () => {
  const a = await newAccount(server);
  // Daily at 09:00 Berlin time (08:00 UTC in winter), three days; the second instance moved to 15:00.
  const series = calendar(
    berlin,
    component('VEVENT', 'series', ['SUMMARY:Yoga', 'DTSTART;TZID=Europe/Berlin:20260112T090000', 'DTEND;TZID=Europe/Berlin:20260112T100000', 'RRULE:FREQ=DAILY;COUNT=3']),
    component('VEVENT', 'series', ['SUMMARY:Yoga (late)', 'RECURRENCE-ID;TZID=Europe/Berlin:20260113T090000', 'DTSTART;TZID=Europe/Berlin:20260113T150000', 'DTEND;TZID=Europe/Berlin:20260113T160000']),
  );
  await put(a, 'calendar', 'series.ics', series);
  const filter = `<c:comp-filter name="VEVENT">${range('20260113T000000Z', '20260115T000000Z')}</c:comp-filter>`;
  const expanded = (await report(a, 'calendar', cal(filter, `<d:getetag/><c:calendar-data><c:expand start="20260113T000000Z" end="20260115T000000Z"/></c:calendar-data>`))).data.get('series.ics') ?? '';
  assert.doesNotMatch(expanded, /RRULE|VTIMEZONE|TZID/, expanded);
  const vevents = expanded.split('BEGIN:VEVENT').slice(1);
  assert.equal(vevents.length, 2, expanded);
  assert.match(expanded, /RECURRENCE-ID:20260113T080000Z\r\n/);
  assert.match(expanded, /DTSTART:20260113T140000Z\r\n/);
  assert.match(expanded, /SUMMARY:Yoga \(late\)/);
  assert.match(expanded, /RECURRENCE-ID:20260114T080000Z\r\n/);
  assert.match(expanded, /DTSTART:20260114T080000Z\r\nDTEND:20260114T090000Z\r\n|DTEND:20260114T090000Z[\s\S]*DTSTART:20260114T080000Z/);
  assert.doesNotMatch(expanded, /20260112T/);

  // limit-recurrence-set: the master always, overrides only when in the range.
  const limited = async (start: string, end: string) =>
    (await report(a, 'calendar', cal('<c:comp-filter name="VEVENT"/>', `<c:calendar-data><c:limit-recurrence-set start="${start}" end="${end}"/></c:calendar-data>`))).data.get('series.ics') ?? '';
  const inRange = await limited('20260113T000000Z', '20260114T000000Z');
  assert.match(inRange, /RRULE:FREQ=DAILY;COUNT=3/);
  assert.match(inRange, /Yoga \(late\)/);
  const outOfRange = await limited('20260114T000000Z', '20260115T000000Z');
  assert.match(outOfRange, /RRULE:FREQ=DAILY;COUNT=3/);
  assert.doesNotMatch(outOfRange, /Yoga \(late\)/);
  // Without either, calendar-data is the object byte for byte.
  assert.equal((await report(a, 'calendar', cal('<c:comp-filter name="VEVENT"/>', '<c:calendar-data/>'))).data.get('series.ics'), series);
});

test('free-busy-query: one VFREEBUSY, periods merged, transparent and cancelled events left out, tentative ones apart', async () => {
  const a = await newAccount(server);
  const event = (uid: string, start: string, end: string, extra: string[] = []) =>
    put(a, 'calendar', `${uid}.ics`, calendar(component('VEVENT', uid, [`SUMMARY:${uid}`, `DTSTART:${start}`, `DTEND:${end}`, ...extra])));
  await event('a', '20260301T100000Z', '20260301T110000Z');
  await event('b', '20260301T103000Z', '20260301T120000Z');
  await event('free', '20260301T130000Z', '20260301T140000Z', ['TRANSP:TRANSPARENT']);
  await event('maybe', '20260301T150000Z', '20260301T160000Z', ['STATUS:TENTATIVE']);
  await event('off', '20260301T170000Z', '20260301T180000Z', ['STATUS:CANCELLED']);
  await event('daily', '20260227T080000Z', '20260227T090000Z', ['RRULE:FREQ=DAILY;COUNT=4']);
  await event('later', '20260305T080000Z', '20260305T090000Z');
  const body = `<?xml version="1.0" encoding="utf-8"?><c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav">${range('20260301T000000Z', '20260302T000000Z')}</c:free-busy-query>`;
  const res = await request(a, 'REPORT', collection(a, 'calendar'), body);
  assert.equal(res.status, 200, res.text);
  assert.match(res.type, /^text\/calendar/);
  assert.match(res.text, /BEGIN:VFREEBUSY\r\n/);
  assert.match(res.text, /DTSTART:20260301T000000Z\r\n/);
  assert.match(res.text, /DTEND:20260302T000000Z\r\n/);
  const periods = [...res.text.replace(/\r\n /g, '').matchAll(/FREEBUSY;FBTYPE=([A-Z-]+):([^\r\n]+)/g)].flatMap((m) => (m[2] as string).split(',').map((p) => `${m[1]} ${p}`));
  assert.deepEqual(periods.sort(), ['BUSY 20260301T080000Z/20260301T090000Z', 'BUSY 20260301T100000Z/20260301T120000Z', 'BUSY-TENTATIVE 20260301T150000Z/20260301T160000Z']);
  // Without a time-range the query is refused.
  const bare = await request(a, 'REPORT', collection(a, 'calendar'), '<?xml version="1.0"?><c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"/>');
  assert.equal(bare.status, 400, bare.text);
});

test('calendar-query: the calendar view decides plain events from their text, and never mistakes a series for one (RRULE folded or in lower case)', async () => {
  const a = await newAccount(server);
  const event = (uid: string, lines: string[]) => put(a, 'calendar', `${uid}.ics`, calendar(component('VEVENT', uid, [`SUMMARY:${uid}`, ...lines])));
  // The range is Monday 9 March.
  await event('inside', ['DTSTART:20260309T100000Z', 'DTEND:20260309T110000Z']);
  await event('before', ['DTSTART:20260308T230000Z', 'DTEND:20260309T000000Z']);
  await event('moment', ['dtstart:20260309T000000Z']);
  // Weekly on Mondays from 2 March: the second instance is in the range, the first is not.
  await event('folded', ['DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'RR\r\n ULE:FREQ=WEEKLY;COUNT=10']);
  await event('lower', ['DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'rrule:FREQ=WEEKLY;COUNT=10']);
  // Weekly on Tuesdays from 3 March: the range lies inside the series' span, between two instances.
  await event('tuesdays', ['DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z', 'RRULE:FREQ=WEEKLY;COUNT=3']);
  // The same, with its 10 March instance moved into the range by an override.
  await put(
    a,
    'calendar',
    'moved.ics',
    calendar(
      component('VEVENT', 'moved', ['DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z', 'RRULE:FREQ=WEEKLY;COUNT=3']),
      component('VEVENT', 'moved', ['RECURRENCE-ID:20260310T100000Z', 'DTSTART:20260309T120000Z', 'DTEND:20260309T130000Z']),
    ),
  );
  const res = await report(a, 'calendar', cal(`<c:comp-filter name="VEVENT">${range('20260309T000000Z', '20260310T000000Z')}</c:comp-filter>`));
  assert.deepEqual(res.names, ['folded.ics', 'inside.ics', 'lower.ics', 'moment.ics', 'moved.ics']);
});

test('calendar-query: a series whose instances the request cannot afford to walk is listed (the documented conservative choice)', async () => {
  const a = await newAccount(server);
  // Daily since 1900: reaching 2026 takes more instances than limits.recurrenceInstancesMax.
  await put(a, 'calendar', 'old.ics', calendar(component('VEVENT', 'old', ['SUMMARY:Old habit', 'DTSTART:19000101T100000Z', 'DTEND:19000101T110000Z', 'RRULE:FREQ=DAILY'])));
  await put(a, 'calendar', 'near.ics', calendar(component('VEVENT', 'near', ['SUMMARY:Near', 'DTSTART:19000101T100000Z', 'DTEND:19000101T110000Z', 'RRULE:FREQ=DAILY;COUNT=3'])));
  const res = await report(a, 'calendar', cal(`<c:comp-filter name="VEVENT">${range('20260110T120000Z', '20260110T130000Z')}</c:comp-filter>`));
  assert.deepEqual(res.names, ['old.ics']);
});

test('calendar-query on a calendar of events and tasks (made without a component set): the filter picks the component', async () => {
  const a = await newAccount(server);
  const made = await request(a, 'MKCALENDAR', collection(a, 'home'), '<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"/>');
  assert.equal(made.status, 201, made.text);
  await put(a, 'home', 'open.ics', calendar(component('VTODO', 'open', ['SUMMARY:Buy milk'])));
  await put(a, 'home', 'done.ics', calendar(component('VTODO', 'done', ['SUMMARY:Buy bread', 'COMPLETED:20260105T120000Z'])));
  await put(a, 'home', 'meeting.ics', calendar(component('VEVENT', 'meeting', ['SUMMARY:Meeting', 'DTSTART:20260110T100000Z', 'DTEND:20260110T110000Z'])));
  assert.deepEqual((await report(a, 'home', cal('<c:comp-filter name="VTODO"><c:prop-filter name="COMPLETED"><c:is-not-defined/></c:prop-filter></c:comp-filter>'))).names, ['open.ics']);
  assert.deepEqual((await report(a, 'home', cal('<c:comp-filter name="VEVENT"><c:is-not-defined/></c:comp-filter>'))).names, ['done.ics', 'open.ics']);
  assert.deepEqual((await report(a, 'home', cal(`<c:comp-filter name="VEVENT">${range('20260110T000000Z', '20260111T000000Z')}</c:comp-filter>`))).names, ['meeting.ics']);
});
