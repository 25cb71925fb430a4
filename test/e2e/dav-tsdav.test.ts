import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DAVClient, type DAVCalendar, type DAVCollection, type DAVObject } from 'tsdav';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { sdkDevice, type SdkDevice } from '../support/push.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/**
 * tsdav (an npm CardDAV/CalDAV client library) against the server, while a native SDK device edits the
 * same collections: discovery from /.well-known and from /dav/, creating, fetching, updating and deleting
 * vCards and events with ETag preconditions, time-range queries, and sync-collection through tsdav's
 * smart sync. Data round-trips byte for byte; tsdav's XML parser trims the text of address-data and
 * calendar-data (the final CRLF), so bodies read through a REPORT are compared without it and exact
 * bytes are checked with GET.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

type Account = Awaited<ReturnType<typeof newAccount>>;

async function loggedIn(account: Account, type: 'carddav' | 'caldav', serverUrl: string): Promise<DAVClient> {
  const client = new DAVClient({ serverUrl, credentials: { username: account.accountName, password: account.password }, authMethod: 'Basic', defaultAccountType: type });
  await client.login();
  return client;
}

/** What tsdav's parser leaves of an item body in a multistatus (the text is trimmed). */
const asParsed = (data: string) => data.replace(/\r\n$/, '');

/** A GET through tsdav's own request path (with its auth headers): the exact bytes and the ETag. */
async function getRaw(client: DAVClient, url: string): Promise<string> {
  const [res] = await client.davRequest({ url, init: { method: 'GET', headers: {}, body: null }, convertIncoming: false, parseOutgoing: false });
  assert.ok(res?.ok, `GET ${url}: ${res?.status}`);
  return res.raw as string;
}

const live = (device: SdkDevice, collectionId: string) =>
  device.replica
    .transaction((tx) => tx.all(collectionId))
    .filter((i) => i.data !== null && i.serverId !== null)
    .map((i) => ({ serverId: i.serverId as string, localId: i.localId, data: i.data as string }));
const liveData = (device: SdkDevice, collectionId: string) =>
  live(device, collectionId)
    .map((i) => i.data)
    .sort();
const byUrl = (objects: DAVObject[], url: string) => objects.find((o) => o.url === url);
const urls = (objects: DAVObject[]) => objects.map((o) => o.url).sort();

test('tsdav login discovers the account from /.well-known/carddav and from /dav/; a wrong password is refused', async () => {
  const account = await newAccount(server);
  const home = `${server.url}/dav/users/${account.accountName}/`;
  const card = await loggedIn(account, 'carddav', `${server.url}/.well-known/carddav`);
  assert.equal(card.account?.rootUrl, `${server.url}/dav/`);
  assert.equal(card.account?.principalUrl, `${server.url}/dav/principals/${account.accountName}/`);
  assert.equal(card.account?.homeUrl, home);
  const cal = await loggedIn(account, 'caldav', `${server.url}/dav/`);
  assert.equal(cal.account?.principalUrl, `${server.url}/dav/principals/${account.accountName}/`);
  assert.equal(cal.account?.homeUrl, home);
  const calFromWellKnown = await loggedIn(account, 'caldav', `${server.url}/.well-known/caldav`);
  assert.equal(calFromWellKnown.account?.homeUrl, home);

  const wrong = new DAVClient({ serverUrl: `${server.url}/dav/`, credentials: { username: account.accountName, password: 'wrong' }, authMethod: 'Basic', defaultAccountType: 'carddav' });
  await assert.rejects(wrong.login(), /cannot find principalUrl|Invalid credentials/);
  // What tsdav met at /dav/: 401 (it goes on to try the server root before giving up).
  const [refused] = await wrong.propfind({ url: `${server.url}/dav/`, props: { 'd:current-user-principal': {} }, depth: '0' });
  assert.equal(refused?.status, 401);
});

test('tsdav CardDAV: create, fetch, update and delete vCards with etags, and smart sync, alongside a native device', async () => {
  const account = await newAccount(server);
  const phone = sdkDevice(server.url, account.accountName, account.password, 'phone');
  const ada = vcard('ts-ada', 'Ada Lovelace', 'X-CUSTOM;TYPE=odd:keep me\r\nEMAIL:ada@example.org\r\n');
  phone.replica.transaction((tx) => recordLocalPut(tx, account.contacts, 'ada', ada));
  await phone.client.syncCollection(account.contacts);
  const adaId = live(phone, account.contacts)[0]?.serverId;
  assert.ok(adaId);

  const client = await loggedIn(account, 'carddav', `${server.url}/.well-known/carddav`);
  const books = await client.fetchAddressBooks();
  assert.equal(books.length, 1, 'one address book: calendars are not listed');
  const book = books[0] as DAVCollection;
  const bookUrl = `${server.url}/dav/users/${account.accountName}/contacts/`;
  assert.equal(book.url, bookUrl);
  assert.equal(book.displayName, 'Contacts');
  assert.deepEqual(book.resourcetype, ['collection', 'addressbook']);
  assert.ok(book.reports.includes('syncCollection'), `reports: ${book.reports}`);
  assert.match(String(book.syncToken), /^urn:syncpoint:sync:/);

  // The phone's card, as tsdav reads it (addressbook-query, then multiget).
  const adaUrl = `${bookUrl}${adaId}.vcf`;
  let cards = await client.fetchVCards({ addressBook: book });
  assert.deepEqual(urls(cards), [adaUrl]);
  assert.equal(byUrl(cards, adaUrl)?.data, asParsed(ada));
  assert.equal(await getRaw(client, adaUrl), ada);

  // createVCard (If-None-Match: *): 201 with an etag; the same name again is refused.
  const grace = vcard('ts-grace', 'Grace Hopper', 'TEL;TYPE=work:+1 555 0100\r\nNOTE:Ünïcödé\\, commas\\; and semicolons\r\n');
  const created = await client.createVCard({ addressBook: book, vCardString: grace, filename: 'grace.vcf' });
  assert.equal(created.status, 201);
  const graceEtag = created.headers.get('etag');
  assert.ok(graceEtag);
  assert.equal((await client.createVCard({ addressBook: book, vCardString: grace, filename: 'grace.vcf' })).status, 412);
  // A second resource with the same UID is refused.
  assert.equal((await client.createVCard({ addressBook: book, vCardString: grace, filename: 'grace-again.vcf' })).status, 409);

  const graceUrl = `${bookUrl}grace.vcf`;
  cards = await client.fetchVCards({ addressBook: book });
  assert.deepEqual(urls(cards), [adaUrl, graceUrl].sort());
  assert.equal(byUrl(cards, graceUrl)?.etag, graceEtag);
  assert.equal(byUrl(cards, graceUrl)?.data, asParsed(grace));
  assert.equal(await getRaw(client, graceUrl), grace);

  await phone.client.syncCollection(account.contacts);
  assert.deepEqual(liveData(phone, account.contacts), [ada, grace].sort());

  // updateVCard sends If-Match: the current etag wins, a stale one is refused and changes nothing.
  const graceEdited = grace.replace('TEL;TYPE=work:+1 555 0100', 'TEL;TYPE=work:+1 555 0199');
  const updated = await client.updateVCard({ vCard: { url: graceUrl, etag: graceEtag, data: graceEdited } });
  assert.equal(updated.status, 204);
  const graceEtag2 = updated.headers.get('etag');
  assert.ok(graceEtag2 && graceEtag2 !== graceEtag);
  const stale = await client.updateVCard({ vCard: { url: graceUrl, etag: graceEtag, data: grace.replace('Grace', 'Stale') } });
  assert.equal(stale.status, 412);
  assert.equal(await getRaw(client, graceUrl), graceEdited);
  await phone.client.syncCollection(account.contacts);
  assert.deepEqual(liveData(phone, account.contacts), [ada, graceEdited].sort());

  // Smart sync (sync-collection + multiget) from a fresh token: it reports exactly the phone's changes.
  const [fresh] = await client.fetchAddressBooks();
  assert.ok(fresh);
  const local = await client.fetchVCards({ addressBook: fresh });
  const adaEdited = ada.replace('EMAIL:ada@example.org', 'EMAIL:ada@analytical.example');
  const alan = vcard('ts-alan', 'Alan Turing');
  phone.replica.transaction((tx) => {
    recordLocalPut(tx, account.contacts, 'ada', adaEdited);
    recordLocalPut(tx, account.contacts, 'alan', alan);
  });
  await phone.client.syncCollection(account.contacts);
  const alanId = live(phone, account.contacts).find((i) => i.localId === 'alan')?.serverId;
  const alanUrl = `${bookUrl}${alanId}.vcf`;
  const collection = { ...fresh, objects: local, objectMultiGet: client.addressBookMultiGet.bind(client) };
  const synced = await client.smartCollectionSyncDetailed({ collection });
  assert.deepEqual(
    synced.objects.created.map((o) => [o.url, o.data]),
    [[alanUrl, asParsed(alan)]],
  );
  assert.deepEqual(
    synced.objects.updated.map((o) => [o.url, o.data]),
    [[adaUrl, asParsed(adaEdited)]],
  );
  assert.deepEqual(synced.objects.deleted, []);
  assert.notEqual(synced.syncToken, fresh.syncToken);

  // deleteVCard sends If-Match: a stale etag is refused, the current one deletes.
  assert.equal((await client.deleteVCard({ vCard: { url: graceUrl, etag: graceEtag } })).status, 412);
  assert.equal((await client.deleteVCard({ vCard: { url: graceUrl, etag: graceEtag2 as string } })).status, 204);
  // The phone deletes Ada; the next smart sync reports both deletes and nothing else.
  phone.replica.transaction((tx) => recordLocalDelete(tx, account.contacts, 'ada'));
  await phone.client.syncCollection(account.contacts);
  const afterDeletes = await client.smartCollectionSyncDetailed({
    collection: { ...collection, syncToken: synced.syncToken, objects: [...local.filter((o) => o.url !== adaUrl), ...synced.objects.updated, ...synced.objects.created] },
  });
  assert.deepEqual(afterDeletes.objects.created, []);
  assert.deepEqual(afterDeletes.objects.updated, []);
  assert.deepEqual(afterDeletes.objects.deleted.map((o) => o.url).sort(), [adaUrl, graceUrl].sort());

  // Nothing new: the same token again brings an empty change set.
  const quiet = await client.smartCollectionSyncDetailed({ collection: { ...collection, syncToken: afterDeletes.syncToken, objects: [] } });
  assert.deepEqual(quiet.objects, { created: [], updated: [], deleted: [] });

  await phone.client.syncCollection(account.contacts);
  assert.deepEqual(liveData(phone, account.contacts), [alan]);
  assert.deepEqual(urls(await client.fetchVCards({ addressBook: fresh })), [alanUrl]);
});

test('tsdav CalDAV: calendars, events with time ranges, updates, deletes, tasks and sync-collection, alongside a native device', async () => {
  const account = await newAccount(server);
  const phone = sdkDevice(server.url, account.accountName, account.password, 'phone');
  const standup = vevent('ts-standup', 'Standup (phone)', '20260311T083000Z', '20260311T084500Z', 'X-FROM-PHONE:yes\r\n');
  phone.replica.transaction((tx) => recordLocalPut(tx, account.calendar, 'standup', standup));
  await phone.client.syncCollection(account.calendar);
  const standupId = live(phone, account.calendar)[0]?.serverId;

  const client = await loggedIn(account, 'caldav', `${server.url}/dav/`);
  const calendars = await client.fetchCalendars();
  const home = `${server.url}/dav/users/${account.accountName}/`;
  assert.deepEqual(
    calendars.map((c) => [c.url, c.displayName, c.components]).sort(),
    [
      [`${home}calendar/`, 'Calendar', ['VEVENT']],
      [`${home}notes/`, 'Notes', ['VJOURNAL']],
      [`${home}tasks/`, 'Tasks', ['VTODO']],
    ],
  );
  const calendar = calendars.find((c) => c.url === `${home}calendar/`) as DAVCalendar;
  assert.ok(calendar.reports.includes('syncCollection') && calendar.reports.includes('calendarQuery'), `reports: ${calendar.reports}`);
  const standupUrl = `${calendar.url}${standupId}.ics`;

  // createCalendarObject: 201; the same file again is refused (If-None-Match: *).
  const march = vevent('tsdav-march', 'Planning (tsdav)', '20260310T090000Z', '20260310T100000Z', 'DESCRIPTION:Line one\\nline two\r\n');
  const may = vevent('tsdav-may', 'Retro (tsdav)', '20260512T090000Z', '20260512T100000Z');
  const marchUrl = `${calendar.url}march.ics`;
  const mayUrl = `${calendar.url}may.ics`;
  assert.equal((await client.createCalendarObject({ calendar, iCalString: march, filename: 'march.ics' })).status, 201);
  assert.equal((await client.createCalendarObject({ calendar, iCalString: may, filename: 'may.ics' })).status, 201);
  assert.equal((await client.createCalendarObject({ calendar, iCalString: may, filename: 'may.ics' })).status, 412);

  // Time-range queries (calendar-query, then multiget) return what overlaps the range.
  const inMarch = await client.fetchCalendarObjects({ calendar, timeRange: { start: '2026-03-01T00:00:00Z', end: '2026-04-01T00:00:00Z' } });
  assert.deepEqual(urls(inMarch), [marchUrl, standupUrl].sort());
  assert.equal(byUrl(inMarch, marchUrl)?.data, asParsed(march));
  assert.equal(byUrl(inMarch, standupUrl)?.data, asParsed(standup));
  const inMay = await client.fetchCalendarObjects({ calendar, timeRange: { start: '2026-05-01T00:00:00Z', end: '2026-06-01T00:00:00Z' } });
  assert.deepEqual(urls(inMay), [mayUrl]);
  // Just after the March event: touching is not overlapping.
  assert.deepEqual(await client.fetchCalendarObjects({ calendar, timeRange: { start: '2026-03-10T10:00:00Z', end: '2026-03-10T11:00:00Z' } }), []);
  const all = await client.fetchCalendarObjects({ calendar });
  assert.deepEqual(urls(all), [marchUrl, mayUrl, standupUrl].sort());
  assert.equal(await getRaw(client, marchUrl), march);

  await phone.client.syncCollection(account.calendar);
  assert.deepEqual(liveData(phone, account.calendar), [march, may, standup].sort());

  // updateCalendarObject with the etag tsdav fetched; a stale etag is refused afterwards.
  const marchObject = byUrl(all, marchUrl) as DAVObject;
  const marchEdited = march.replace('SUMMARY:Planning (tsdav)', 'SUMMARY:Planning (moved by tsdav)');
  const updated = await client.updateCalendarObject({ calendarObject: { ...marchObject, data: marchEdited } });
  assert.equal(updated.status, 204);
  assert.equal((await client.updateCalendarObject({ calendarObject: { ...marchObject, data: march } })).status, 412);
  assert.equal(await getRaw(client, marchUrl), marchEdited);

  // Tasks: a VTODO goes into the task list; an event does not.
  const tasks = calendars.find((c) => c.url === `${home}tasks/`) as DAVCalendar;
  const todo = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tsdav//EN\r\nBEGIN:VTODO\r\nUID:tsdav-todo\r\nDTSTAMP:20260101T000000Z\r\nDUE:20260320T170000Z\r\nSUMMARY:File taxes\r\nEND:VTODO\r\nEND:VCALENDAR\r\n';
  assert.equal((await client.createCalendarObject({ calendar: tasks, iCalString: todo, filename: 'taxes.ics' })).status, 201);
  assert.equal((await client.createCalendarObject({ calendar: tasks, iCalString: vevent('tsdav-wrong', 'Not a task'), filename: 'wrong.ics' })).status, 403);
  await phone.client.syncCollection(account.tasks);
  assert.deepEqual(liveData(phone, account.tasks), [todo]);
  const todos = await client.fetchCalendarObjects({ calendar: tasks, filters: { 'comp-filter': { _attributes: { name: 'VCALENDAR' }, 'comp-filter': { _attributes: { name: 'VTODO' } } } } });
  assert.deepEqual(
    todos.map((o) => [o.url, o.data]),
    [[`${tasks.url}taxes.ics`, asParsed(todo)]],
  );

  // Raw sync-collection from the token fetchCalendars listed: every change since, its own writes included.
  const sinceListing = await client.syncCollection({ url: calendar.url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: calendar.syncToken as string });
  assert.deepEqual(sinceListing.map((r) => new URL(r.href as string, calendar.url).href).sort(), [marchUrl, mayUrl].sort());
  const token = sinceListing[0]?.raw?.multistatus?.syncToken as string;
  assert.match(token, /^urn:syncpoint:sync:/);
  const local = await client.fetchCalendarObjects({ calendar });

  // The phone edits its standup and tsdav deletes May; the ctag moves and smart sync reports both.
  const dirtyBefore = await client.isCollectionDirty({ collection: { ...calendar, ctag: (await client.fetchCalendars()).find((c) => c.url === calendar.url)?.ctag } });
  assert.equal(dirtyBefore.isDirty, false);
  const moved = standup.replace('SUMMARY:Standup (phone)', 'SUMMARY:Standup (moved on the phone)');
  phone.replica.transaction((tx) => recordLocalPut(tx, account.calendar, 'standup', moved));
  await phone.client.syncCollection(account.calendar);
  const mayObject = byUrl(all, mayUrl) as DAVObject;
  assert.equal((await client.deleteCalendarObject({ calendarObject: mayObject })).status, 204);
  const dirtyAfter = await client.isCollectionDirty({ collection: { ...calendar, ctag: dirtyBefore.newCtag } });
  assert.equal(dirtyAfter.isDirty, true);

  const synced = await client.smartCollectionSyncDetailed({
    collection: { ...calendar, syncToken: token, objects: local, objectMultiGet: client.calendarMultiGet.bind(client) },
  });
  assert.deepEqual(synced.objects.created, []);
  assert.deepEqual(
    synced.objects.updated.map((o) => [o.url, o.data]),
    [[standupUrl, asParsed(moved)]],
  );
  assert.deepEqual(
    synced.objects.deleted.map((o) => o.url),
    [mayUrl],
  );

  // The phone ends with what tsdav did: March edited, May gone, its own standup moved.
  await phone.client.syncCollection(account.calendar);
  assert.deepEqual(liveData(phone, account.calendar), [marchEdited, moved].sort());
});
