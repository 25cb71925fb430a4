import { join } from 'node:path';
import { recordLocalPut } from '../src/sdk/replica.js';
import { launchBrowser, newPage, screenshot, signIn, viewports } from './support/browser.js';
import { startDovecot } from './support/dovecot.js';
import { sdkDevice } from './support/push.js';
import { startTestServer, vcard, vevent } from './support/server.js';
import { deliverOverLmtp } from './support/submission.js';
import { addUpstream, runUpstreams } from './support/upstreams.js';

/**
 * `npm run screenshots`: the web app at phone and desktop widths, with a little made-up data, for the
 * README (docs/screenshots/). Not a test: it asserts nothing, and the tests save their own screenshots.
 */
const outDir = join(process.cwd(), 'docs', 'screenshots');

const server = await startTestServer();
const browser = await launchBrowser();
// The mail page needs an IMAP account: Debian's Dovecot, as in the mail tests.
const dovecot = await startDovecot({ users: { alice: 'alice-mail' } });
try {
  const alice = await server.addUser('alice');
  const collections = ((await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: alice.authorization } })).json()) as {
    collections: Array<{ id: string; name: string }>;
  }).collections;
  const id = (name: string) => collections.find((c) => c.name === name)?.id as string;
  const [contacts, calendar, tasks] = [id('contacts'), id('calendar'), id('tasks')];

  const laptop = sdkDevice(server.url, 'alice', alice.password, 'laptop');
  const phone = sdkDevice(server.url, 'alice', alice.password, 'phone');
  const people: Array<[string, string]> = [
    ['Ada Lovelace', 'EMAIL;TYPE=work:ada@analytical.example\r\nTEL;TYPE=cell:+44 20 7946 0018\r\nORG:Analytical Engines\r\n'],
    ['Grace Hopper', 'EMAIL;TYPE=work:grace@navy.example\r\nCATEGORIES:Friends\r\n'],
    ['Alan Turing', 'EMAIL;TYPE=home:alan@bletchley.example\r\nTEL;TYPE=home:+44 1908 640404\r\n'],
    ['Katherine Johnson', 'EMAIL;TYPE=work:katherine@nasa.example\r\n'],
    ['Edsger Dijkstra', 'ORG:Eindhoven University\r\n'],
  ];
  laptop.replica.transaction((tx) => people.forEach(([name, extra], i) => recordLocalPut(tx, contacts, `p${i}`, vcard(`person-${i}`, name, extra))));
  const month = new Date().toISOString().slice(0, 7).replace('-', '');
  laptop.replica.transaction((tx) => {
    recordLocalPut(tx, calendar, 'standup', vevent('standup', 'Team standup', `${month}02T080000Z`, `${month}02T081500Z`, 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR\r\n'));
    recordLocalPut(tx, calendar, 'review', vevent('review', 'Design review', `${month}12T130000Z`, `${month}12T143000Z`));
    recordLocalPut(tx, calendar, 'trip', vevent('trip', 'Conference in Lisbon', `${month}18`, `${month}21`).replace(/DTSTART:(\d{8})\r\nDTEND:(\d{8})/, 'DTSTART;VALUE=DATE:$1\r\nDTEND;VALUE=DATE:$2'));
    const todo = (uid: string, summary: string, extra = '') =>
      `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//demo//EN\r\nBEGIN:VTODO\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:${summary}\r\n${extra}END:VTODO\r\nEND:VCALENDAR\r\n`;
    recordLocalPut(tx, tasks, 'taxes', todo('taxes', 'File the tax return', `DUE;VALUE=DATE:${month}28\r\n`));
    recordLocalPut(tx, tasks, 'tyres', todo('tyres', 'Change the winter tyres', 'STATUS:COMPLETED\r\nPERCENT-COMPLETE:100\r\n'));
  });
  for (const c of [contacts, calendar, tasks]) await laptop.client.syncCollection(c);
  await phone.client.syncCollection(contacts);
  // A conflict: both change Ada's phone; the laptop syncs first and has the higher priority.
  laptop.replica.transaction((tx) => recordLocalPut(tx, contacts, 'p0', vcard('person-0', 'Ada Lovelace', 'TEL;TYPE=cell:+44 20 7946 0999\r\n')));
  await laptop.client.syncCollection(contacts);
  const ada = phone.replica.transaction((tx) => tx.all(contacts).find((i) => i.data?.includes('Ada Lovelace')));
  if (ada) phone.replica.transaction((tx) => recordLocalPut(tx, contacts, ada.localId, vcard('person-0', 'Ada Lovelace', 'TEL;TYPE=cell:+44 20 7946 0123\r\n')));
  await phone.client.syncCollection(contacts);

  await addUpstream(server, alice.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'alice', password: 'alice-mail' });
  const mail = (id: string, from: string, subject: string, text: string, extra: string[] = []) =>
    [`From: ${from}`, `To: Alice <alice@${dovecot.domain}>`, `Subject: ${subject}`, `Message-ID: <${id}@example.org>`, ...extra, 'Content-Type: text/plain; charset=utf-8', '', text, ''].join('\r\n');
  for (const m of [
    mail('review', 'Grace Hopper <grace@navy.example>', 'Design review', 'The slides are in the shared folder.'),
    mail('review-2', 'Alan Turing <alan@bletchley.example>', 'Re: Design review', 'Thursday works for me.', ['In-Reply-To: <review@example.org>', 'References: <review@example.org>']),
    mail('lisbon', 'Ada Lovelace <ada@analytical.example>', 'Conference in Lisbon', 'The hotel is booked; see you at the airport.'),
  ]) {
    await deliverOverLmtp(dovecot, { from: 'someone@example.org', to: [`alice@${dovecot.domain}`] }, m);
  }
  await runUpstreams(server, alice.accountId);

  // One page, so the devices list shows one web browser.
  const { context, page } = await newPage(browser, server.url, 'desktop');
  await signIn(page, 'alice', alice.password);
  for (const viewport of Object.keys(viewports) as Array<keyof typeof viewports>) {
    await page.setViewportSize(viewports[viewport]);
    for (const name of ['Contacts', 'Calendar', 'Tasks', 'Mail', 'Devices', 'Conflicts']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1, name: new RegExp(name) }).first().waitFor();
      await page.evaluate(() => window.scrollTo(0, 0));
      console.log(await screenshot(page, `${name.toLowerCase()}-${viewport}`, outDir));
    }
  }
  await context.close();
} finally {
  await browser.close();
  await server.stop();
  await dovecot.stop();
}
