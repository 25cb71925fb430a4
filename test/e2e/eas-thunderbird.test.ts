import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { calendarObjects, putCalendarObject, seriesOf } from '../support/caldav.js';
import { sdkDevice, type SdkDevice } from '../support/push.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';
import { launchThunderbird, thunderbirdPath, type Thunderbird } from '../support/thunderbird.js';

/**
 * A real ActiveSync client: Thunderbird 140 headless with TbSync and EAS-4-TbSync (EAS 14.0), driven
 * through Marionette in chrome context, against the server on loopback, with a native SDK device on the
 * other side. Contacts, events and tasks go both ways; edits and deletes on each side converge. A weekly
 * event in Europe/Berlin that spans the change to summer time keeps its wall-clock time in Thunderbird and
 * over CalDAV after edits on either side (docs/eas.md, "Time zones").
 *
 * When TbSync fails, the assertion message carries its event log and the tail of its debug log (the
 * WBXML of each request and response, as XML).
 */

const missing = !thunderbirdPath || !existsSync(thunderbirdPath) || !existsSync('/usr/lib/thunderbird/extensions/tbsync@jobisoft.de.xpi') || !existsSync('/usr/lib/thunderbird/extensions/eas4tbsync@jobisoft.de.xpi');
const skipReason = 'thunderbird, webext-tbsync or webext-eas4tbsync is not installed (.ci/setup installs them)';

let server: TestServer;
let tb: Thunderbird | undefined;
let account: Awaited<ReturnType<typeof newAccount>>;
let phone: SdkDevice;
let appPassword: string;
let accountID: string;

const importTbSync = `const { TbSync } = ChromeUtils.importESModule("chrome://tbsync/content/tbsync.sys.mjs?4.16");`;

/** Modules every chrome script needs, as local names. */
const prelude = `
  ${importTbSync}
  const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
  const { cal } = ChromeUtils.importESModule("resource:///modules/calendar/calUtils.sys.mjs");
  const accountData = () => new TbSync.AccountData(args[0]);
  const folderOfType = (types) => accountData().getAllFolders().find((f) => types.includes(f.getFolderProperty("type")));
  const bookOf = () => MailServices.ab.getDirectoryFromUID(folderOfType(["9", "14"]).getFolderProperty("target"));
  const calendarOf = (types) => cal.manager.getCalendarById(folderOfType(types).getFolderProperty("target"));
  const calItems = async (calendar) => calendar.getItemsAsArray(Ci.calICalendar.ITEM_FILTER_ALL_ITEMS, 0, null, null);
`;

/** Runs a chrome script with the prelude; `args[0]` is the TbSync account id. */
function chrome<T>(body: string, ...args: unknown[]): Promise<T> {
  if (!tb) throw new Error('Thunderbird is not running');
  return tb.marionette.run<T>(prelude + body, [accountID, ...args], 150_000);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(200);
  }
}

interface TbContact {
  uid: string;
  serverId: string;
  displayName: string;
  emails: string[];
  phones: string[];
}
interface TbCalItem {
  id: string;
  title: string;
  start: string | null;
  due: string | null;
}
interface TbFolder {
  name: string;
  type: string;
  serverID: string;
  selected: boolean;
  status: string;
  target: string;
}
interface TbSnapshot {
  status: string;
  asversion: string;
  folders: TbFolder[];
  contacts: TbContact[];
  events: TbCalItem[];
  tasks: TbCalItem[];
}

/** Everything TbSync and Thunderbird hold for the account. */
function snapshot(): Promise<TbSnapshot> {
  return chrome<TbSnapshot>(`
    const account = accountData();
    const out = { status: account.getAccountProperty("status"), asversion: account.getAccountProperty("asversion"), folders: [], contacts: [], events: [], tasks: [] };
    for (const f of account.getAllFolders()) {
      const info = {
        name: f.getFolderProperty("foldername"), type: f.getFolderProperty("type"), serverID: f.getFolderProperty("serverID"),
        selected: f.getFolderProperty("selected"), status: f.getFolderProperty("status"), target: f.getFolderProperty("target"),
      };
      out.folders.push(info);
      if (!info.selected || !info.target) continue;
      if (["9", "14"].includes(info.type)) {
        const book = MailServices.ab.getDirectoryFromUID(info.target);
        if (!book) continue;
        for (const card of book.childCards) {
          if (card.isMailList) continue;
          const v = card.vCardProperties;
          out.contacts.push({
            uid: card.UID, serverId: card.getProperty("X-EAS-SERVERID", ""), displayName: card.displayName,
            emails: v.getAllValues("email").map(String), phones: v.getAllValues("tel").map(String),
          });
        }
      } else {
        const calendar = cal.manager.getCalendarById(info.target);
        if (!calendar) continue;
        for (const item of await calItems(calendar)) {
          const utc = (date) => (date ? date.getInTimezone(cal.dtz.UTC).icalString : null);
          const entry = { id: item.id, title: item.title, start: utc(item.startDate || item.entryDate), due: utc(item.dueDate) };
          (["8", "13"].includes(info.type) ? out.events : out.tasks).push(entry);
        }
      }
    }
    return out;
  `);
}

/** What TbSync said went wrong, with the tail of its debug log, for assertion messages. */
async function diagnostics(): Promise<string> {
  let events = '';
  try {
    events = JSON.stringify(await chrome(`return TbSync.eventlog.get().map((e) => ({ type: e.type, message: e.message, details: e.details, folder: e.foldername }));`), null, 1);
  } catch (err) {
    events = `(event log unavailable: ${(err as Error).message})`;
  }
  const logFile = tb ? join(tb.profile, 'TbSync', 'debug.log') : '';
  const log = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  return `TbSync event log: ${events}\n--- TbSync debug.log (tail) ---\n${log.slice(-12_000)}`;
}

/** One TbSync sync of the account, to the end; returns the snapshot after it. */
async function tbSync(): Promise<TbSnapshot> {
  await chrome(`
    await TbSync.core.syncAccount(args[0]);
    while (TbSync.core.isSyncing(args[0])) await new Promise((r) => setTimeout(r, 100));
  `);
  const snap = await snapshot();
  if (snap.status !== 'success' || snap.folders.some((f) => f.selected && !f.status.startsWith('success'))) {
    assert.fail(`TbSync sync did not succeed: account ${snap.status}, folders ${JSON.stringify(snap.folders)}\n${await diagnostics()}`);
  }
  return snap;
}

/** The native device's current items of a collection (server deletes dropped). */
function phoneItems(collectionId: string): string[] {
  return phone.replica
    .transaction((tx) => tx.all(collectionId))
    .filter((i) => i.data !== null)
    .map((i) => i.data as string);
}

async function phoneSync(): Promise<void> {
  for (const id of [account.contacts, account.calendar, account.tasks]) await phone.client.syncCollection(id);
}

/** Unfolded content lines of a vCard or iCalendar text: name (upper case), parameters and value. */
function lines(text: string): Array<{ name: string; params: string; value: string }> {
  return text
    .replace(/\r?\n[ \t]/g, '')
    .split(/\r?\n/)
    .filter(Boolean)
    .map((line) => {
      const colon = line.search(/:(?=(?:[^"]*"[^"]*")*[^"]*$)/);
      const [name = '', ...params] = line.slice(0, colon).split(';');
      return { name: name.toUpperCase(), params: params.join(';'), value: line.slice(colon + 1) };
    });
}
const values = (text: string, name: string) => lines(text).filter((l) => l.name === name).map((l) => l.value);
const first = (text: string, name: string) => values(text, name)[0];

/** A DTSTART or DUE as a UTC iCalendar date-time, when it is in UTC (Z, or TZID=UTC / Etc/UTC). */
function utcTime(ics: string, name: string): string | undefined {
  const line = lines(ics).find((l) => l.name === name);
  if (!line) return undefined;
  const value = line.value.replace(/\.\d+/, '');
  if (value.endsWith('Z')) return value;
  return /TZID=(Etc\/)?(UTC|GMT)\b/i.test(line.params) ? `${value}Z` : `${line.params}:${value}`;
}
const digits = (phoneNumber: string) => phoneNumber.replace(/[^0-9+]/g, '');

/** Key fields of the device's contacts, events and tasks, sorted, to compare with Thunderbird's. */
function phoneView() {
  const contacts = phoneItems(account.contacts)
    .map((card) => ({ name: first(card, 'FN') ?? '', emails: values(card, 'EMAIL').sort(), phones: values(card, 'TEL').map(digits).sort() }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const summaries = (id: string) =>
    phoneItems(id)
      .map((ics) => first(ics, 'SUMMARY') ?? '')
      .sort();
  return { contacts, events: summaries(account.calendar), tasks: summaries(account.tasks) };
}

function tbView(snap: TbSnapshot) {
  return {
    contacts: snap.contacts
      .map((c) => ({ name: c.displayName, emails: [...c.emails].sort(), phones: c.phones.map(digits).sort() }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    events: snap.events.map((e) => e.title).sort(),
    tasks: snap.tasks.map((t) => t.title).sort(),
  };
}

const day = (offsetDays: number, hour: number) => {
  const d = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + offsetDays, hour));
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
};

const adaCard = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:native-ada\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nEMAIL;TYPE=INTERNET:ada@example.org\r\nTEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n';
const launchEvent = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:native-launch\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:${day(2, 9)}\r\nDTEND:${day(2, 10)}\r\nSUMMARY:Launch\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const reportTask = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:native-report\r\nDTSTAMP:20260101T000000Z\r\nDUE:${day(3, 17)}\r\nSUMMARY:Write report\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`;

before(async () => {
  server = await startTestServer();
  account = await newAccount(server);
  const res = await fetch(`${server.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'thunderbird' }),
  });
  assert.equal(res.status, 201, 'an app password for Thunderbird');
  appPassword = ((await res.json()) as { token: string }).token;
  phone = sdkDevice(server.url, account.accountName, account.password, 'phone');
  await phoneSync();
  if (missing) return;
  // TbSync writes WBXML requests and responses as XML to TbSync/debug.log in the profile.
  tb = await launchThunderbird({ prefs: { 'extensions.tbsync.log.userdatalevel': 2, 'extensions.eas4tbsync.timeout': 30_000 } });
});

after(async () => {
  await tb?.stop();
  await server?.stop();
});

test('TbSync creates an EAS account against the server, syncs, and finds the contacts, calendar and tasks folders', async (t) => {
  if (missing) return t.skip(skipReason);
  await poll(
    'TbSync and its EAS provider to load',
    () => tb!.marionette.run<{ enabled: boolean; eas: boolean }>(`${importTbSync}
      return { enabled: TbSync.enabled, eas: !!(TbSync.providers.loadedProviders && TbSync.providers.loadedProviders.eas) };`).catch(() => ({ enabled: false, eas: false })),
    (s) => s.enabled && s.eas,
    30_000,
  );
  const host = new URL(server.url).host;
  accountID = await tb!.marionette.run<string>(
    `${prelude}
    const providerData = new TbSync.ProviderData("eas");
    const entries = providerData.getDefaultAccountEntries();
    Object.assign(entries, { user: args[1], host: args[2], https: false, servertype: "custom", asversionselected: "14.0" });
    const created = providerData.addAccount("Syncpoint", entries);
    await TbSync.providers.eas.network.getAuthData(created).updateLoginData(args[1], args[3]);
    TbSync.core.enableAccount(created.accountID);
    return created.accountID;`,
    [null, account.accountName, host, appPassword],
  );
  // The first sync only lists the folders; a person would now tick them.
  const listed = await tbSync();
  assert.equal(listed.asversion, '14.0');
  const byType = (types: string[]) => listed.folders.find((f) => types.includes(f.type));
  assert.ok(byType(['9', '14']), `a contacts folder: ${JSON.stringify(listed.folders)}`);
  assert.ok(byType(['8', '13']), `a calendar folder: ${JSON.stringify(listed.folders)}`);
  assert.ok(byType(['7', '15']), `a tasks folder: ${JSON.stringify(listed.folders)}`);
  await chrome(`
    for (const f of accountData().getAllFolders()) {
      if (["9", "14", "8", "13", "7", "15"].includes(f.getFolderProperty("type"))) TbSync.db.setFolderProperty(args[0], f.folderID, "selected", true);
    }`);
  const synced = await tbSync();
  for (const types of [['9', '14'], ['8', '13'], ['7', '15']]) {
    const folder = synced.folders.find((f) => types.includes(f.type) && f.selected);
    assert.ok(folder?.target, `folder of type ${types} has a Thunderbird target: ${JSON.stringify(synced.folders)}`);
    assert.match(folder.status, /^success/);
  }
  assert.deepEqual(tbView(synced), { contacts: [], events: [], tasks: [] });
});

test('items go both ways: native device to Thunderbird and Thunderbird to native device', async (t) => {
  if (missing) return t.skip(skipReason);
  assert.ok(accountID, 'the account exists');
  // Native -> Thunderbird.
  phone.replica.transaction((tx) => {
    recordLocalPut(tx, account.contacts, 'ada', adaCard);
    recordLocalPut(tx, account.calendar, 'launch', launchEvent);
    recordLocalPut(tx, account.tasks, 'report', reportTask);
  });
  await phoneSync();
  const pulled = await tbSync();
  assert.deepEqual(tbView(pulled), {
    contacts: [{ name: 'Ada Lovelace', emails: ['ada@example.org'], phones: ['+15550100'] }],
    events: ['Launch'],
    tasks: ['Write report'],
  }, await diagnostics());
  const launch = pulled.events[0] as TbCalItem;
  assert.equal(launch.start, day(2, 9), 'the event keeps its start time');

  // Thunderbird -> native.
  await chrome(
    `
    const { VCardUtils } = ChromeUtils.importESModule("resource:///modules/VCardUtils.sys.mjs");
    const { CalEvent } = ChromeUtils.importESModule("resource:///modules/CalEvent.sys.mjs");
    const { CalTodo } = ChromeUtils.importESModule("resource:///modules/CalTodo.sys.mjs");
    bookOf().addCard(VCardUtils.vCardToAbCard(args[1]));
    const event = new CalEvent();
    event.id = "tb-standup";
    event.title = "Standup";
    event.startDate = cal.createDateTime(args[2]);
    event.endDate = cal.createDateTime(args[3]);
    await calendarOf(["8", "13"]).addItem(event);
    const todo = new CalTodo();
    todo.id = "tb-milk";
    todo.title = "Buy milk";
    todo.dueDate = cal.createDateTime(args[4]);
    await calendarOf(["7", "15"]).addItem(todo);`,
    'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;;\r\nEMAIL:grace@example.org\r\nTEL;TYPE=work:+1 555 0200\r\nEND:VCARD\r\n',
    day(4, 8),
    day(4, 9),
    day(5, 12),
  );
  // TbSync logs a new card only after it has given it a key (a second, delayed notification).
  await poll('TbSync to log the three local additions', () => chrome<number>(`
    const logged = (uid) => TbSync.db.getItemsFromChangeLog(uid, 0, "added_by_user").length;
    return logged(bookOf().UID) + logged(calendarOf(["8", "13"]).id) + logged(calendarOf(["7", "15"]).id);`), (n) => n === 3);
  const pushed = await tbSync();
  await phoneSync();
  const expected = {
    contacts: [
      { name: 'Ada Lovelace', emails: ['ada@example.org'], phones: ['+15550100'] },
      { name: 'Grace Hopper', emails: ['grace@example.org'], phones: ['+15550200'] },
    ],
    events: ['Launch', 'Standup'],
    tasks: ['Buy milk', 'Write report'],
  };
  assert.deepEqual(tbView(pushed), expected);
  assert.ok(pushed.contacts.every((c) => c.serverId), 'every card has its server id');
  assert.deepEqual(phoneView(), expected, 'the native device has what Thunderbird created');
  const standup = phoneItems(account.calendar).find((ics) => first(ics, 'SUMMARY') === 'Standup') as string;
  assert.equal(utcTime(standup, 'DTSTART'), day(4, 8), `the event keeps its start time: ${standup}`);
  assert.equal(utcTime(standup, 'DTEND'), day(4, 9), `the event keeps its end time: ${standup}`);
  const milk = phoneItems(account.tasks).find((ics) => first(ics, 'SUMMARY') === 'Buy milk') as string;
  assert.ok(utcTime(milk, 'DUE')?.startsWith(day(5, 12).slice(0, 8)), `the task keeps its due date: ${milk}`);
});

test('edits and deletes on each side converge', async (t) => {
  if (missing) return t.skip(skipReason);
  assert.ok(accountID, 'the account exists');
  // TbSync ignores local changes to an item for 1.5 s after a sync wrote it.
  await sleep(1600);
  // Thunderbird edits Ada's phone; the native device renames Standup.
  await chrome(`
    const book = bookOf();
    const card = book.childCards.find((c) => c.displayName === "Ada Lovelace");
    card.vCardProperties.getFirstEntry("tel").value = "+1 555 0199";
    book.modifyCard(card);`);
  await poll('TbSync to log the edit', () => chrome<number>(`return TbSync.db.getItemsFromChangeLog(bookOf().UID, 0, "modified_by_user").length;`), (n) => n === 1);
  const standup = phone.replica.transaction((tx) => tx.all(account.calendar)).find((i) => i.data && first(i.data, 'SUMMARY') === 'Standup');
  assert.ok(standup);
  phone.replica.transaction((tx) => recordLocalPut(tx, account.calendar, standup.localId, (standup.data as string).replace('SUMMARY:Standup', 'SUMMARY:Standup (moved)')));
  await phoneSync();
  const edited = await tbSync();
  await phoneSync();
  const afterEdits = {
    contacts: [
      { name: 'Ada Lovelace', emails: ['ada@example.org'], phones: ['+15550199'] },
      { name: 'Grace Hopper', emails: ['grace@example.org'], phones: ['+15550200'] },
    ],
    events: ['Launch', 'Standup (moved)'],
    tasks: ['Buy milk', 'Write report'],
  };
  assert.deepEqual(tbView(edited), afterEdits, 'Thunderbird sees both edits');
  assert.deepEqual(phoneView(), afterEdits, 'the native device sees both edits');

  // Thunderbird deletes Grace and the task "Write report"; the native device deletes Launch.
  await sleep(1600);
  await chrome(`
    const book = bookOf();
    book.deleteCards(book.childCards.filter((c) => c.displayName === "Grace Hopper"));
    const tasks = calendarOf(["7", "15"]);
    for (const item of await calItems(tasks)) if (item.title === "Write report") await tasks.deleteItem(item);`);
  await poll('TbSync to log the deletes', () => chrome<number>(`
    return TbSync.db.getItemsFromChangeLog(bookOf().UID, 0, "deleted_by_user").length + TbSync.db.getItemsFromChangeLog(calendarOf(["7", "15"]).id, 0, "deleted_by_user").length;`), (n) => n === 2);
  const launch = phone.replica.transaction((tx) => tx.all(account.calendar)).find((i) => i.data && first(i.data, 'SUMMARY') === 'Launch');
  assert.ok(launch);
  phone.replica.transaction((tx) => recordLocalDelete(tx, account.calendar, launch.localId));
  await phoneSync();
  const deleted = await tbSync();
  await phoneSync();
  const afterDeletes = {
    contacts: [{ name: 'Ada Lovelace', emails: ['ada@example.org'], phones: ['+15550199'] }],
    events: ['Standup (moved)'],
    tasks: ['Buy milk'],
  };
  assert.deepEqual(tbView(deleted), afterDeletes, 'Thunderbird converged');
  assert.deepEqual(phoneView(), afterDeletes, 'the native device converged');
  // Same times on both sides for what is left.
  const moved = phoneItems(account.calendar)[0] as string;
  assert.equal(deleted.events[0]?.start, day(4, 8));
  assert.equal(utcTime(moved, 'DTSTART'), day(4, 8));
  assert.equal(deleted.tasks[0]?.due?.slice(0, 8), day(5, 12).slice(0, 8));
  assert.equal(utcTime(phoneItems(account.tasks)[0] as string, 'DUE')?.slice(0, 8), day(5, 12).slice(0, 8));
  // One more round changes nothing on either side.
  assert.deepEqual(tbView(await tbSync()), afterDeletes);
  await phoneSync();
  assert.deepEqual(phoneView(), afterDeletes);
  // TbSync logged no warning or error on the way (only information such as its timezone guess).
  const problems = await chrome<unknown[]>(`return TbSync.eventlog.get().filter((e) => e.type !== "info" && e.type !== "success").map((e) => [e.type, e.message, e.details]);`);
  assert.deepEqual(problems, [], await diagnostics());
});

/** Mondays at 10:00 Berlin time around next year's change to summer time: three before it, three after. */
function berlinMondays(): string[] {
  const year = new Date().getUTCFullYear() + 1;
  const lastSunday = new Date(Date.UTC(year, 2, 31));
  lastSunday.setUTCDate(31 - lastSunday.getUTCDay());
  return Array.from({ length: 6 }, (_, i) => new Date(lastSunday.getTime() + (i * 7 - 20) * 86_400_000).toISOString().slice(0, 10));
}
const berlinWall = (ms: number) =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
const fromIcalUtc = (s: string) => Date.parse(s.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));

/** Thunderbird's copy of the weekly Berlin event: its title, its zone, and each occurrence's start (UTC). */
function tbWeekly(): Promise<{ title: string; tzid: string; starts: string[] } | null> {
  return chrome(`
    const item = (await calItems(calendarOf(["8", "13"]))).find((i) => i.title.startsWith("Weekly Berlin"));
    if (!item) return null;
    const range = [cal.createDateTime(args[1]), cal.createDateTime(args[2])];
    const occurrences = item.recurrenceInfo ? item.recurrenceInfo.getOccurrences(range[0], range[1], 0) : [item];
    return { title: item.title, tzid: item.startDate.timezone.tzid, starts: occurrences.map((o) => o.startDate.getInTimezone(cal.dtz.UTC).icalString) };`,
  `${new Date().getUTCFullYear()}0101T000000Z`, `${new Date().getUTCFullYear() + 3}0101T000000Z`);
}

/** Both sides hold the series with every occurrence at 10:00 Berlin time, under `title`. */
async function assertWeeklyBerlin(snap: TbSnapshot, title: string, mondays: string[]): Promise<void> {
  const walls = mondays.map((d) => `${d} 10:00`);
  const tbCopy = await tbWeekly();
  assert.ok(tbCopy, `Thunderbird has the event: ${JSON.stringify(snap.events)}`);
  assert.equal(tbCopy.title, title);
  assert.deepEqual(tbCopy.starts.map((s) => berlinWall(fromIcalUtc(s))), walls, `every occurrence at 10:00 Berlin time in Thunderbird: ${JSON.stringify(tbCopy)}`);
  assert.equal(tbCopy.tzid, 'Europe/Berlin');
  const objects = await calendarObjects(server.url, account);
  const object = objects.find((o) => /^SUMMARY:Weekly Berlin/m.test(o.ics));
  assert.ok(object, `CalDAV has the event: ${objects.map((o) => o.path).join(', ')}`);
  const series = seriesOf(object.ics);
  assert.equal(series.summary, title);
  assert.deepEqual(series.starts.map(berlinWall), walls, `every occurrence at 10:00 Berlin time over CalDAV:\n${object.ics}`);
  assert.equal(series.tzid, 'Europe/Berlin', object.ics);
}

test('a weekly Europe/Berlin event across the March change keeps 10:00 on both sides: created in Thunderbird, edited through CalDAV and in Thunderbird', async (t) => {
  if (missing) return t.skip(skipReason);
  assert.ok(accountID, 'the account exists');
  const mondays = berlinMondays();
  await sleep(1600);
  await chrome(`
    const { CalEvent } = ChromeUtils.importESModule("resource:///modules/CalEvent.sys.mjs");
    const { CalRecurrenceInfo } = ChromeUtils.importESModule("resource:///modules/CalRecurrenceInfo.sys.mjs");
    const berlin = cal.timezoneService.getTimezone("Europe/Berlin");
    const at = (wall) => {
      const date = cal.createDateTime(wall);
      date.timezone = berlin;
      return date;
    };
    const event = new CalEvent();
    event.id = "tb-weekly-berlin";
    event.title = "Weekly Berlin";
    event.startDate = at(args[1]);
    event.endDate = at(args[2]);
    event.recurrenceInfo = new CalRecurrenceInfo(event);
    event.recurrenceInfo.appendRecurrenceItem(cal.createRecurrenceRule("RRULE:FREQ=WEEKLY;COUNT=6"));
    await calendarOf(["8", "13"]).addItem(event);`,
  `${(mondays[0] as string).replace(/-/g, '')}T100000`, `${(mondays[0] as string).replace(/-/g, '')}T110000`);
  await poll('TbSync to log the new event', () => chrome<number>(`return TbSync.db.getItemsFromChangeLog(calendarOf(["8", "13"]).id, 0, "added_by_user").length;`), (n) => n === 1);
  await assertWeeklyBerlin(await tbSync(), 'Weekly Berlin', mondays).catch(async (err) => assert.fail(`${(err as Error).message}\n${await diagnostics()}`));

  // Edited through CalDAV: Thunderbird's copy must not move.
  const object = (await calendarObjects(server.url, account)).find((o) => /^SUMMARY:Weekly Berlin/m.test(o.ics));
  assert.ok(object);
  await putCalendarObject(server.url, account, object, object.ics.replace('SUMMARY:Weekly Berlin', 'SUMMARY:Weekly Berlin (CalDAV)'));
  await assertWeeklyBerlin(await tbSync(), 'Weekly Berlin (CalDAV)', mondays).catch(async (err) => assert.fail(`${(err as Error).message}\n${await diagnostics()}`));

  // Edited in Thunderbird: TbSync sends the whole item again.
  await sleep(1600);
  await chrome(`
    const calendar = calendarOf(["8", "13"]);
    const item = (await calItems(calendar)).find((i) => i.title === "Weekly Berlin (CalDAV)");
    const changed = item.clone();
    changed.title = "Weekly Berlin (Thunderbird)";
    await calendar.modifyItem(changed, item);`);
  await poll('TbSync to log the edit', () => chrome<number>(`return TbSync.db.getItemsFromChangeLog(calendarOf(["8", "13"]).id, 0, "modified_by_user").length;`), (n) => n === 1);
  await assertWeeklyBerlin(await tbSync(), 'Weekly Berlin (Thunderbird)', mondays).catch(async (err) => assert.fail(`${(err as Error).message}\n${await diagnostics()}`));
  // One more round changes nothing.
  await assertWeeklyBerlin(await tbSync(), 'Weekly Berlin (Thunderbird)', mondays);
});
