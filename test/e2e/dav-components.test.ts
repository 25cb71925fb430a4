import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { easAccount, folderEntries, commandsOf, changeCommand, collectionOf, tasks, textAt, vtodo, type EasAccount } from '../support/eas-client.js';
import { getJson, startTestServer, vevent, type TestServer } from '../support/server.js';
import { syncOnce } from '../support/sync.js';

/**
 * A calendar made without a component set (MKCALENDAR or extended MKCOL, as vdirsyncer and
 * python-caldav make them) holds events and tasks, as in Radicale, Cyrus and Nextcloud; one made with
 * a set keeps it. Its tasks are a tasks collection of their own to the native protocol and ActiveSync
 * (docs/dav.md § Calendars made without a component set): every item is reachable once, from every face.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

const caldav = 'urn:ietf:params:xml:ns:caldav';

async function dav(account: EasAccount, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: account.authorization, ...(body !== undefined ? { 'content-type': 'application/xml; charset=utf-8' } : {}), ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  return { status: res.status, text: await res.text(), etag: res.headers.get('etag') };
}

const put = (a: EasAccount, path: string, data: string, headers: Record<string, string> = {}) => dav(a, 'PUT', path, data, { 'content-type': 'text/calendar; charset=utf-8', ...headers });
const calendarPath = (a: EasAccount, name: string) => `/dav/users/${a.accountName}/${name}/`;
const hrefs = (xml: string) => [...xml.matchAll(/<(?:\w+:)?href>([^<]*)<\/(?:\w+:)?href>/g)].map((m) => m[1] as string);
const mkcalendar = (inner = '') =>
  `<?xml version="1.0"?><cal:mkcalendar xmlns:d="DAV:" xmlns:cal="${caldav}"><d:set><d:prop><d:displayname>Home</d:displayname>${inner}</d:prop></d:set></cal:mkcalendar>`;
const query = (component?: string) =>
  `<?xml version="1.0"?><cal:calendar-query xmlns:d="DAV:" xmlns:cal="${caldav}"><d:prop><d:getetag/><cal:calendar-data/></d:prop><cal:filter><cal:comp-filter name="VCALENDAR">${component ? `<cal:comp-filter name="${component}"/>` : ''}</cal:comp-filter></cal:filter></cal:calendar-query>`;
const task = (uid: string, summary: string) => vtodo(uid, summary, 'DUE:20260112T100000Z\r\n');

/** A calendar made without a component set, with a task and an event PUT into it. */
async function mixedCalendar(a: EasAccount, name: string, method: 'MKCALENDAR' | 'MKCOL' = 'MKCALENDAR') {
  const body =
    method === 'MKCALENDAR'
      ? mkcalendar()
      : `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:cal="${caldav}"><d:set><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Home</d:displayname></d:prop></d:set></d:mkcol>`;
  assert.equal((await dav(a, method, calendarPath(a, name), body)).status, 201);
  const base = calendarPath(a, name);
  const todo = await put(a, `${base}todo.ics`, task(`${name}-todo`, 'Buy milk'));
  assert.equal(todo.status, 201, `a VTODO is accepted: ${todo.text}`);
  const event = await put(a, `${base}event.ics`, vevent(`${name}-event`, 'Dentist'));
  assert.equal(event.status, 201, `a VEVENT is accepted: ${event.text}`);
  return base;
}

test('a calendar made without a component set takes tasks and events, says so, and reports both', async () => {
  const a = await easAccount(server);
  for (const [name, method] of [['home', 'MKCALENDAR'], ['made-by-mkcol', 'MKCOL']] as const) {
    const base = await mixedCalendar(a, name, method);
    const props = await dav(a, 'PROPFIND', base, `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cal="${caldav}"><d:prop><cal:supported-calendar-component-set/></d:prop></d:propfind>`, { depth: '0' });
    assert.deepEqual([...props.text.matchAll(/comp name="(\w+)"/g)].map((m) => m[1]), ['VEVENT', 'VTODO'], props.text);

    const all = await dav(a, 'REPORT', base, query(), { depth: '1' });
    assert.equal(all.status, 207);
    assert.deepEqual(hrefs(all.text).sort(), [`${base}event.ics`, `${base}todo.ics`]);
    assert.match(all.text, /SUMMARY:Buy milk/);
    assert.match(all.text, /SUMMARY:Dentist/);
    // A comp-filter picks one component of the two.
    assert.deepEqual(hrefs((await dav(a, 'REPORT', base, query('VTODO'), { depth: '1' })).text), [`${base}todo.ics`]);
    assert.deepEqual(hrefs((await dav(a, 'REPORT', base, query('VEVENT'), { depth: '1' })).text), [`${base}event.ics`]);
    assert.deepEqual(hrefs((await dav(a, 'REPORT', base, query('VJOURNAL'), { depth: '1' })).text), []);
    const sync = await dav(a, 'REPORT', base, `<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`);
    assert.deepEqual(hrefs(sync.text).sort(), [`${base}event.ics`, `${base}todo.ics`]);
    assert.equal((await dav(a, 'GET', `${base}todo.ics`)).text, task(`${name}-todo`, 'Buy milk'));
    // A VJOURNAL fits neither part.
    const journal = await put(a, `${base}j.ics`, task('j', 'x').replace(/VTODO/g, 'VJOURNAL'));
    assert.equal(journal.status, 403);
    assert.match(journal.text, /supported-calendar-component/);
  }
  // The home lists each calendar once; its tasks are not a collection of their own over DAV.
  const home = await dav(a, 'PROPFIND', `/dav/users/${a.accountName}/`, `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>`, { depth: '1' });
  assert.ok(hrefs(home.text).includes(calendarPath(a, 'home')));
  assert.ok(!hrefs(home.text).some((h) => h.includes('.tasks')), home.text);
  assert.equal((await dav(a, 'GET', `${calendarPath(a, 'home.tasks')}todo.ics`)).status, 404);
});

test('a resource of a mixed calendar keeps its name when its component changes, its UID stays unique, and DELETE finds it', async () => {
  const a = await easAccount(server);
  const base = await mixedCalendar(a, 'cal');
  // A UID is unique in the whole calendar, events and tasks together.
  const twin = await put(a, `${base}other.ics`, vevent('cal-todo', 'Same UID as the task'));
  assert.equal(twin.status, 409);
  assert.match(twin.text, /no-uid-conflict/);
  // The task becomes an event under the same name, with If-Match on the task's etag.
  const etag = (await dav(a, 'GET', `${base}todo.ics`)).etag as string;
  assert.equal((await put(a, `${base}todo.ics`, vevent('cal-todo', 'Now an event'), { 'if-match': etag })).status, 204);
  assert.match((await dav(a, 'GET', `${base}todo.ics`)).text, /BEGIN:VEVENT[\s\S]*Now an event/);
  assert.deepEqual(hrefs((await dav(a, 'REPORT', base, query('VTODO'), { depth: '1' })).text), []);
  assert.deepEqual(hrefs((await dav(a, 'REPORT', base, query(), { depth: '1' })).text).sort(), [`${base}event.ics`, `${base}todo.ics`]);
  assert.equal((await dav(a, 'DELETE', `${base}todo.ics`)).status, 204);
  assert.equal((await dav(a, 'GET', `${base}todo.ics`)).status, 404);
  // A name used again comes back, a task again.
  assert.equal((await put(a, `${base}todo.ics`, task('cal-todo', 'A task again'))).status, 201);
  assert.deepEqual(hrefs((await dav(a, 'REPORT', base, query('VTODO'), { depth: '1' })).text), [`${base}todo.ics`]);
});

test('a calendar made with a component set keeps it', async () => {
  const a = await easAccount(server);
  assert.equal((await dav(a, 'MKCALENDAR', calendarPath(a, 'events-only'), mkcalendar(`<cal:supported-calendar-component-set><cal:comp name="VEVENT"/></cal:supported-calendar-component-set>`))).status, 201);
  const refused = await put(a, `${calendarPath(a, 'events-only')}t.ics`, task('t', 'No'));
  assert.equal(refused.status, 403);
  assert.match(refused.text, /supported-calendar-component/);
  const collections = (await getJson(`${server.url}/api/v1/collections`, a.authorization)).body.collections as Array<{ name: string }>;
  assert.ok(!collections.some((c) => c.name === 'events-only.tasks'), 'no tasks collection for a calendar that holds events only');
});

test('native view: the calendar is an events collection, its tasks a tasks collection that names it; renaming the calendar renames both', async () => {
  const a = await easAccount(server);
  const base = await mixedCalendar(a, 'family');
  const collections = (await getJson(`${server.url}/api/v1/collections`, a.authorization)).body.collections as Array<{ id: string; name: string; kind: string; displayName: string; calendarId?: string }>;
  const calendar = collections.find((c) => c.name === 'family');
  const part = collections.find((c) => c.name === 'family.tasks');
  assert.ok(calendar && part, JSON.stringify(collections));
  assert.equal(calendar.kind, 'events');
  assert.equal(calendar.calendarId, undefined);
  assert.deepEqual({ kind: part.kind, displayName: part.displayName, calendarId: part.calendarId }, { kind: 'tasks', displayName: 'Home', calendarId: calendar.id });

  const datas = async (collectionId: string) => {
    const answer = await syncOnce(server, a.authorization, 'native-1', { collectionId, syncKey: 0 });
    assert.equal(answer.moreAvailable, false);
    return answer.commands.flatMap((c) => (c.op === 'add' ? [c.data] : []));
  };
  assert.deepEqual(await datas(part.id), [task('family-todo', 'Buy milk')]);
  assert.deepEqual(await datas(calendar.id), [vevent('family-event', 'Dentist')]);

  // A task a native device adds to the tasks collection is a member of the calendar over DAV.
  const native = a.native('native-2');
  await native.put(part.id, 'n1', task('native-task', 'From the app'));
  const report = await dav(a, 'REPORT', base, query('VTODO'), { depth: '1' });
  assert.equal(hrefs(report.text).length, 2);
  assert.match(report.text, /From the app/);

  // A DAV rename names both halves the same, so every face shows one name.
  const rename = await dav(a, 'PROPPATCH', base, `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Family</d:displayname></d:prop></d:set></d:propertyupdate>`);
  assert.equal(rename.status, 207);
  const renamed = (await getJson(`${server.url}/api/v1/collections`, a.authorization)).body.collections as Array<{ name: string; displayName: string }>;
  assert.deepEqual(renamed.filter((c) => c.name.startsWith('family')).map((c) => c.displayName), ['Family', 'Family']);

  // Deleting the calendar deletes its tasks with it: nothing is left behind unreachable over DAV.
  const deleted = await fetch(`${server.url}/api/v1/collections/${calendar.id}`, { method: 'DELETE', headers: { authorization: a.authorization } });
  assert.equal(deleted.status, 200);
  const left = (await getJson(`${server.url}/api/v1/collections`, a.authorization)).body.collections as Array<{ name: string }>;
  assert.deepEqual(left.filter((c) => c.name.startsWith('family')), []);
});

test('ActiveSync view: the calendar is a calendar folder and its tasks a task folder of the same name; each item once, editable from the phone', async () => {
  const a = await easAccount(server);
  const base = await mixedCalendar(a, 'work');
  const client = a.eas('mixedphone');
  const { folders } = await client.folders();
  const named = folders.filter((f) => f.name === 'Home');
  assert.deepEqual(named.map((f) => f.type).sort(), [13, 15], `a user calendar and a user task folder: ${JSON.stringify(folders)}`);
  const calendarFolder = named.find((f) => f.type === 13)?.id as string;
  const taskFolder = named.find((f) => f.type === 15)?.id as string;

  const pullAdds = async (folder: string) => {
    const { key, answers } = await client.pull(folder, await client.primeSync(folder));
    return { key, adds: answers.flatMap((answer) => commandsOf(answer, 'Add')) };
  };
  const taskPull = await pullAdds(taskFolder);
  assert.deepEqual(
    taskPull.adds.map((add) => textAt(add, 'ApplicationData/Subject')),
    ['Buy milk'],
  );
  const eventPull = await pullAdds(calendarFolder);
  assert.deepEqual(
    eventPull.adds.map((add) => textAt(add, 'ApplicationData/Subject')),
    ['Dentist'],
  );

  // The phone completes the task; the DAV client sees it under its own name.
  const serverId = textAt(taskPull.adds[0], 'ServerId');
  const changed = collectionOf(await client.sync({ collectionId: taskFolder, syncKey: taskPull.key, commands: [changeCommand(serverId, tasks('Subject', 'Bought milk'), tasks('Complete', '1'))] }));
  assert.equal(textAt(changed, 'Status'), '1');
  const after = await dav(a, 'GET', `${base}todo.ics`);
  assert.equal(after.status, 200);
  assert.match(after.text, /SUMMARY:Bought milk/);
  assert.match(after.text, /STATUS:COMPLETED/);

  // The folder ids stay as they were: a second FolderSync from scratch gives the same hierarchy.
  assert.deepEqual(folderEntries(await client.folderSync('0'), 'Add'), folders);
});
