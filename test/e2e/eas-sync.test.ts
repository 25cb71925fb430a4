import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import { add, Device } from '../support/sync.js';
import {
  addCommand,
  all,
  as,
  asb,
  at,
  cal,
  changeCommand,
  collectionOf,
  commandsOf,
  contactData,
  contacts,
  deleteCommand,
  easAccount,
  easUtc,
  fetchCommand,
  has,
  icalUtc,
  maybeText,
  notes,
  syncBody,
  tasks,
  textAt,
  toXml,
  vjournal,
  vtodo,
  type EasAccount,
  type EasClient,
} from '../support/eas-client.js';
import { getJson, startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';

/**
 * ActiveSync Sync over real HTTP against native SDK devices and CardDAV: keys, paging, client commands
 * and their per-item statuses, the lost-response replay, loop detection, options, conflicts.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

const fileAs = (command: WbxmlElement) => maybeText(command, 'ApplicationData/FileAs');
const serverIdOf = (command: WbxmlElement) => textAt(command, 'ServerId');

/** Sync with `key`, expecting Status 1; returns the collection answer. */
async function syncOk(client: EasClient, collectionId: string, key: string, extra: { windowSize?: number; commands?: WbxmlElement[]; options?: WbxmlElement[] } = {}) {
  const answer = collectionOf(await client.sync({ collectionId, syncKey: key, ...extra }));
  assert.equal(textAt(answer, 'Status'), '1', toXml(answer));
  return answer;
}

/** The Responses child for a client command, by ClientId or ServerId. */
function responseFor(collection: WbxmlElement, kind: string, id: string): WbxmlElement {
  const found = all(collection, `Responses/${kind}`).find((r) => maybeText(r, 'ClientId') === id || maybeText(r, 'ServerId') === id);
  assert.ok(found, `no Responses/${kind} for ${id} in ${toXml(collection)}`);
  return found;
}

async function deviceErrors(account: EasAccount, id: string) {
  const res = await getJson(`${server.url}/api/v1/devices`, account.authorization);
  assert.equal(res.status, 200);
  return (res.body.devices as Array<{ id: string; errors: Array<{ status: string; message: string }> }>).find((d) => d.id === id)?.errors ?? [];
}

test('key 0 gives a key and no items; native items then come as Adds, two at a time, until MoreAvailable ends', async () => {
  const account = await easAccount(server);
  const native = account.native('native-page');
  const names = ['Ada', 'Bea', 'Cy', 'Dee', 'Eve'];
  for (const name of names) await native.put(account.contacts, `page-${name}`, vcard(`page-${name}`, `${name} Page`));
  const client = account.eas('Page1');
  const first = collectionOf(await client.sync({ collectionId: account.contacts, syncKey: '0' }));
  assert.equal(textAt(first, 'Status'), '1');
  assert.equal(textAt(first, 'SyncKey'), '1');
  assert.equal(has(first, 'Commands'), false, 'key 0 brings no items');
  assert.equal(textAt(first, 'CollectionId'), account.contacts);

  const counts: number[] = [];
  const seen = new Map<string, string | undefined>();
  let key = '1';
  for (;;) {
    const answer = await syncOk(client, account.contacts, key, { windowSize: 2 });
    const adds = commandsOf(answer, 'Add');
    counts.push(adds.length);
    for (const a of adds) {
      assert.equal(has(a, 'ApplicationData'), true);
      seen.set(serverIdOf(a), fileAs(a) ?? maybeText(a, 'ApplicationData/LastName'));
    }
    assert.notEqual(textAt(answer, 'SyncKey'), key);
    key = textAt(answer, 'SyncKey');
    if (!has(answer, 'MoreAvailable')) break;
    assert.ok(counts.length < 10);
  }
  assert.deepEqual(counts, [2, 2, 1]);
  assert.equal(seen.size, 5);
  const nativeIds = [...(await native.items(account.contacts)).keys()].sort();
  assert.deepEqual([...seen.keys()].sort(), nativeIds);
  for (const name of names) assert.ok([...seen.values()].some((v) => v?.includes(name)), `${name} in ${[...seen.values()]}`);
  // In step: the current key answers with nothing.
  const idle = await syncOk(client, account.contacts, key);
  assert.equal(has(idle, 'Commands'), false);
  assert.equal(has(idle, 'MoreAvailable'), false);
});

test('a client Add gets its ServerId, reaches a native device and CardDAV; a native change reaches ActiveSync', async () => {
  const account = await easAccount(server);
  const client = account.eas('Add1');
  const native = account.native('native-add');
  await native.items(account.contacts);
  let key = await client.primeSync(account.contacts);
  const added = await syncOk(client, account.contacts, key, {
    commands: [addCommand('c-1', ...contactData('Grace', 'Hopper', contacts('Email1Address', 'grace@example.org'), contacts('MobilePhoneNumber', '+1 555 0100')))],
  });
  const response = responseFor(added, 'Add', 'c-1');
  assert.equal(textAt(response, 'Status'), '1');
  const serverId = textAt(response, 'ServerId');
  assert.equal(commandsOf(added, 'Add').length, 0, 'the device is not sent its own item');
  key = textAt(added, 'SyncKey');

  const card = (await native.items(account.contacts)).get(serverId)?.data ?? '';
  assert.match(card, /Hopper/);
  assert.match(card, /grace@example\.org/);
  assert.match(card, /555 0100/);

  // CardDAV sees it too, as ITEMID.vcf.
  const propfind = await fetch(`${server.url}/dav/users/${account.accountName}/contacts/`, {
    method: 'PROPFIND',
    headers: { authorization: account.authorization, depth: '1', 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
  });
  assert.equal(propfind.status, 207);
  assert.ok((await propfind.text()).includes(`${serverId}.vcf`));
  const davGet = await fetch(`${server.url}/dav/users/${account.accountName}/contacts/${serverId}.vcf`, { headers: { authorization: account.authorization } });
  assert.equal(davGet.status, 200);
  assert.match(await davGet.text(), /Hopper/);

  // The native device edits it; ActiveSync receives a Change.
  await native.put(account.contacts, (await native.items(account.contacts)).get(serverId)?.localId as string, vcard('grace', 'Grace Brewster Hopper', 'EMAIL:grace@navy.example\r\n'));
  const changed = await syncOk(client, account.contacts, key);
  const change = commandsOf(changed, 'Change');
  assert.equal(change.length, 1, toXml(changed));
  assert.equal(serverIdOf(change[0] as WbxmlElement), serverId);
  assert.match(toXml(change[0] as WbxmlElement), /grace@navy\.example/);
});

test('lost-response replay: the same Sync again gets the same bytes, and one item is made', async () => {
  const account = await easAccount(server);
  const client = account.eas('Lost1');
  const key1 = await client.primeSync(account.contacts);
  const body = syncBody([{ collectionId: account.contacts, syncKey: key1, commands: [addCommand('lost-1', ...contactData('Lost', 'Response'))] }]);
  const native = account.native('native-lost');
  const first = await client.send('Sync', body);
  assert.equal(first.status, 200);
  // The answer never reached the device; it sends the very same request again.
  const second = await client.send('Sync', body);
  assert.equal(second.status, 200);
  assert.deepEqual(Buffer.from(second.bytes), Buffer.from(first.bytes), `replay differs:\n${toXml(first.body as WbxmlElement)}\n${toXml(second.body as WbxmlElement)}`);
  const answer = collectionOf(second.body as WbxmlElement);
  const key2 = textAt(answer, 'SyncKey');
  assert.notEqual(key2, key1);
  const serverId = textAt(responseFor(answer, 'Add', 'lost-1'), 'ServerId');
  const third = await client.send('Sync', body);
  assert.deepEqual(Buffer.from(third.bytes), Buffer.from(first.bytes), 'a third copy too');

  const items = [...(await native.items(account.contacts)).entries()].filter(([, i]) => /Response/.test(i.data));
  assert.deepEqual(items.map(([id]) => id), [serverId], 'exactly one item on the server');

  // The next key is used (with another Add) and that answer is lost too: its key, now the previous one, replays.
  const next = syncBody([{ collectionId: account.contacts, syncKey: key2, commands: [addCommand('lost-2', ...contactData('Second', 'Loss'))] }]);
  const fourth = await client.send('Sync', next);
  const key3 = textAt(collectionOf(fourth.body as WbxmlElement), 'SyncKey');
  assert.notEqual(key3, key2);
  const fifth = await client.send('Sync', next);
  assert.deepEqual(Buffer.from(fifth.bytes), Buffer.from(fourth.bytes));
  assert.equal([...(await native.items(account.contacts)).values()].filter((i) => /Loss/.test(i.data)).length, 1);

  // A key two behind, and one never issued, are Status 3 and the client starts over.
  for (const stale of [key1, '999']) {
    const refused = collectionOf(await client.sync({ collectionId: account.contacts, syncKey: stale }));
    assert.equal(textAt(refused, 'Status'), '3', `key ${stale}: ${toXml(refused)}`);
    assert.equal(textAt(refused, 'SyncKey'), '0');
  }
});

test('a retried Add writes nothing new, and after a re-initialization the same ClientId makes no duplicate', async () => {
  const account = await easAccount(server);
  const client = account.eas('Lost2');
  const native = account.native('native-lost2');
  const key1 = await client.primeSync(account.contacts);
  const body = syncBody([{ collectionId: account.contacts, syncKey: key1, commands: [addCommand('retry-1', ...contactData('Retried', 'Add'))] }]);
  const first = await client.send('Sync', body);
  const serverId = textAt(responseFor(collectionOf(first.body as WbxmlElement), 'Add', 'retry-1'), 'ServerId');
  const stored = (await native.items(account.contacts)).get(serverId)?.data;
  assert.ok(stored);
  const second = await client.send('Sync', body);
  assert.equal(textAt(responseFor(collectionOf(second.body as WbxmlElement), 'Add', 'retry-1'), 'ServerId'), serverId);
  // The retry carried the same thing, so the item (its UID included) is as the first attempt made it.
  assert.equal((await native.items(account.contacts)).get(serverId)?.data, stored, 'the retry rewrote the item');

  // The device loses its state and starts over, then sends its unacknowledged Add again.
  const fresh = await client.primeSync(account.contacts);
  const again = await syncOk(client, account.contacts, fresh, { commands: [addCommand('retry-1', ...contactData('Retried', 'Add'))] });
  assert.equal(textAt(responseFor(again, 'Add', 'retry-1'), 'Status'), '1');
  assert.equal(textAt(responseFor(again, 'Add', 'retry-1'), 'ServerId'), serverId, 'the same item');
  const copies = [...(await native.items(account.contacts)).values()].filter((i) => /Retried/.test(i.data));
  assert.equal(copies.length, 1, `no duplicate by ClientId:\n${copies.map((c) => c.data).join('\n')}`);
});

test('Change keeps what ActiveSync cannot carry; Delete and Fetch work; per-item statuses fail alone', async () => {
  const account = await easAccount(server);
  const native = account.native('native-change');
  const keepId = await native.put(account.contacts, 'keep', vcard('keep', 'Keep Me', 'X-SYNCPOINT-TEST:keep me\r\nNOTE:original note\r\n'));
  const goneId = await native.put(account.contacts, 'gone', vcard('gone', 'Gone Soon'));
  const client = account.eas('Chg1');
  const { key, answers } = await client.pull(account.contacts, await client.primeSync(account.contacts));
  assert.equal(answers.flatMap((a) => commandsOf(a, 'Add')).length, 2);

  // Change from ActiveSync: new name, the private property stays.
  const changed = await syncOk(client, account.contacts, key, {
    commands: [changeCommand(keepId, ...contactData('Kept', 'Renamed', asb('Body', asb('Type', '1'), asb('Data', 'edited note'))))],
  });
  assert.equal(all(changed, 'Responses/Change').length, 0, 'a successful Change is not echoed');
  const card = (await native.items(account.contacts)).get(keepId)?.data ?? '';
  assert.match(card, /Renamed/);
  assert.match(card, /edited note/);
  assert.match(card, /X-SYNCPOINT-TEST:keep me/, card);

  // A Change without a Body leaves the note alone (clients hold truncated bodies); other fields it omits go.
  const noBody = await syncOk(client, account.contacts, textAt(changed, 'SyncKey'), { commands: [changeCommand(keepId, ...contactData('Kept', 'Again'))] });
  const unbodied = (await native.items(account.contacts)).get(keepId)?.data ?? '';
  assert.match(unbodied, /Again/);
  assert.match(unbodied, /NOTE:edited note/, unbodied);

  // Fetch, Delete, a Change of an unknown item and a good Add in one batch.
  let k = textAt(noBody, 'SyncKey');
  const batch = await syncOk(client, account.contacts, k, {
    commands: [
      fetchCommand(keepId),
      deleteCommand(goneId),
      changeCommand('no-such-item', ...contactData('Nobody', 'Here')),
      addCommand('batch-add', ...contactData('Batch', 'Added')),
    ],
  });
  const fetched = responseFor(batch, 'Fetch', keepId);
  assert.equal(textAt(fetched, 'Status'), '1');
  assert.match(toXml(at(fetched, 'ApplicationData') as WbxmlElement), /Again/);
  assert.equal(textAt(responseFor(batch, 'Change', 'no-such-item'), 'Status'), '8');
  assert.equal(textAt(responseFor(batch, 'Add', 'batch-add'), 'Status'), '1');
  assert.equal(all(batch, 'Responses/Delete').length, 0, 'a successful Delete is not echoed');
  k = textAt(batch, 'SyncKey');
  const nativeView = await native.items(account.contacts);
  assert.equal(nativeView.has(goneId), false, 'deleted for the native device');
  assert.ok([...nativeView.values()].some((i) => /Added/.test(i.data)));

  // Fetch of an unknown item, and a Delete of one, fail alone.
  const unknown = await syncOk(client, account.contacts, k, { commands: [fetchCommand('no-such-item'), deleteCommand('no-such-item-2')] });
  assert.equal(textAt(responseFor(unknown, 'Fetch', 'no-such-item'), 'Status'), '8');
  assert.equal(textAt(responseFor(unknown, 'Delete', 'no-such-item-2'), 'Status'), '8');

  // Commands with key 0 are a protocol error.
  const withZero = collectionOf(await client.sync({ collectionId: account.contacts, syncKey: '0', commands: [addCommand('z', ...contactData('Zero', 'Key'))] }));
  assert.equal(textAt(withZero, 'Status'), '4');
});

test('calendar: a bad Add fails with Status 6 while the others succeed; FilterType 4 leaves out an event from a year ago', async () => {
  const account = await easAccount(server);
  const native = account.native('native-cal');
  await native.put(account.calendar, 'old', vevent('old-event', 'Last Year', icalUtc(-365), icalUtc(-365, 11)));
  await native.put(account.calendar, 'soon', vevent('soon-event', 'Next Week', icalUtc(3), icalUtc(3, 11)));
  const client = account.eas('Cal1');
  const filter = [as('FilterType', '4')];
  const key = await client.primeSync(account.calendar, { options: filter });
  const { key: inStep, answers } = await client.pull(account.calendar, key, { options: filter });
  const subjects = answers.flatMap((a) => commandsOf(a, 'Add')).map((a) => maybeText(a, 'ApplicationData/Subject'));
  assert.deepEqual(subjects, ['Next Week'], 'only the event inside two weeks');
  // Without a filter, both come.
  const all2 = account.eas('Cal2');
  const unfiltered = await all2.pull(account.calendar, await all2.primeSync(account.calendar));
  assert.deepEqual(unfiltered.answers.flatMap((a) => commandsOf(a, 'Add')).map((a) => maybeText(a, 'ApplicationData/Subject')).sort(), ['Last Year', 'Next Week']);
  // A request without Options keeps the key 0's filter; a different FilterType under that key starts the folder over.
  const narrow = account.eas('Cal3');
  const narrowKey = (await narrow.pull(account.calendar, await narrow.primeSync(account.calendar, { options: filter }), { options: filter })).key;
  const same = collectionOf(await narrow.sync({ collectionId: account.calendar, syncKey: narrowKey }));
  assert.equal(textAt(same, 'Status'), '1');
  assert.equal(commandsOf(same, 'Add').length, 0, 'the two-week filter still holds');
  const widened = collectionOf(await narrow.sync({ collectionId: account.calendar, syncKey: textAt(same, 'SyncKey'), options: [as('FilterType', '0')] }));
  assert.equal(textAt(widened, 'Status'), '3', 'a new FilterType needs a new key 0');
  const restarted = await narrow.pull(account.calendar, await narrow.primeSync(account.calendar, { options: [as('FilterType', '0')] }), { options: [as('FilterType', '0')] });
  assert.deepEqual(restarted.answers.flatMap((a) => commandsOf(a, 'Add')).map((a) => maybeText(a, 'ApplicationData/Subject')).sort(), ['Last Year', 'Next Week']);

  const event = (subject: string, start: string, end: string) => [
    // UTC: a bias of 0 and no daylight rules (MS-ASDTYPE TimeZone, 172 bytes).
    cal('Timezone', Buffer.alloc(172).toString('base64')),
    cal('AllDayEvent', '0'),
    cal('StartTime', start),
    cal('EndTime', end),
    cal('DtStamp', easUtc(0)),
    cal('Subject', subject),
    cal('Sensitivity', '0'),
    cal('BusyStatus', '2'),
    cal('MeetingStatus', '0'),
  ];
  const batch = await syncOk(client, account.calendar, inStep, {
    options: filter,
    commands: [
      addCommand('good-1', ...event('Good One', easUtc(1), easUtc(1, 11))),
      addCommand('bad-1', ...event('Bad One', 'not-a-time', easUtc(1, 11))),
      addCommand('good-2', ...event('Good Two', easUtc(2), easUtc(2, 11))),
    ],
  });
  assert.equal(textAt(responseFor(batch, 'Add', 'good-1'), 'Status'), '1');
  assert.equal(textAt(responseFor(batch, 'Add', 'bad-1'), 'Status'), '6', toXml(batch));
  assert.equal(has(responseFor(batch, 'Add', 'bad-1'), 'ServerId'), false);
  assert.equal(textAt(responseFor(batch, 'Add', 'good-2'), 'Status'), '1');
  // Responses keep the order of the commands.
  assert.deepEqual(all(batch, 'Responses/Add').map((r) => maybeText(r, 'ClientId')), ['good-1', 'bad-1', 'good-2']);
  const events = [...(await native.items(account.calendar)).values()].map((i) => i.data);
  assert.ok(events.some((d) => /SUMMARY:Good One/.test(d)));
  assert.ok(events.some((d) => /SUMMARY:Good Two/.test(d)));
  assert.ok(!events.some((d) => /Bad One/.test(d)));
});

test('tasks and notes: both ways', async () => {
  const account = await easAccount(server);
  const native = account.native('native-tn');
  await native.put(account.tasks, 'task-n', vtodo('task-n', 'Native Task'));
  await native.put(account.notes, 'note-n', vjournal('note-n', 'Native Note', 'from the native side'));
  const client = account.eas('Tn1');
  for (const [collectionId, subjectPath, expected, added, addedSubject] of [
    [account.tasks, 'ApplicationData/Subject', 'Native Task', [tasks('Subject', 'Eas Task'), tasks('Complete', '0')], 'Eas Task'],
    [account.notes, 'ApplicationData/Subject', 'Native Note', [notes('Subject', 'Eas Note'), asb('Body', asb('Type', '1'), asb('Data', 'from ActiveSync'))], 'Eas Note'],
  ] as const) {
    const { key, answers } = await client.pull(collectionId, await client.primeSync(collectionId));
    const adds = answers.flatMap((a) => commandsOf(a, 'Add'));
    assert.deepEqual(adds.map((a) => maybeText(a, subjectPath)), [expected], toXml(answers[0] as WbxmlElement));
    const answer = await syncOk(client, collectionId, key, { commands: [addCommand(`add-${addedSubject}`, ...added)] });
    assert.equal(textAt(responseFor(answer, 'Add', `add-${addedSubject}`), 'Status'), '1', toXml(answer));
    const items = [...(await native.items(collectionId)).values()].map((i) => i.data);
    assert.ok(items.some((d) => d.includes(`SUMMARY:${addedSubject}`)), items.join('\n'));
  }
  const noteItems = [...(await native.items(account.notes)).values()].map((i) => i.data);
  assert.ok(noteItems.some((d) => /from ActiveSync/.test(d)));
  const noteClass = await client.command('Sync', syncBody([{ collectionId: account.notes, syncKey: '0' }]));
  assert.equal(textAt(collectionOf(noteClass), 'Status'), '1');
});

test('WindowSize 1000 is capped at 512', async () => {
  const account = await easAccount(server);
  const bulk = new Device(server, account.authorization, 'bulk-loader');
  await bulk.sync(account.contacts);
  const cards = Array.from({ length: 600 }, (_, i) => add(`bulk-${i}`, vcard(`bulk-${i}`, `Bulk ${i}`)));
  let loaded = 0;
  for (let start = 0; start < cards.length; start += limits.itemsPerRequestMax) {
    const answer = await bulk.sync(account.contacts, { commands: cards.slice(start, start + limits.itemsPerRequestMax) });
    loaded += answer.results.filter((r) => r.status === 'ok').length;
  }
  assert.equal(loaded, 600);
  const client = account.eas('Cap1');
  const first = await syncOk(client, account.contacts, await client.primeSync(account.contacts), { windowSize: 1000 });
  assert.equal(commandsOf(first, 'Add').length, 512);
  assert.equal(has(first, 'MoreAvailable'), true);
  const rest = await syncOk(client, account.contacts, textAt(first, 'SyncKey'), { windowSize: 1000 });
  assert.equal(commandsOf(rest, 'Add').length, 88);
  assert.equal(has(rest, 'MoreAvailable'), false);
  // The request-level WindowSize counts too.
  const other = account.eas('Cap2');
  const key = await other.primeSync(account.contacts);
  const global = collectionOf(await other.command('Sync', syncBody([{ collectionId: account.contacts, syncKey: key }], 3)));
  assert.equal(commandsOf(global, 'Add').length, 3);
});

test('an empty Sync repeats the last request at the keys since issued; with none before it, Status 13', async () => {
  const account = await easAccount(server);
  const native = account.native('native-empty');
  for (const n of [1, 2, 3]) await native.put(account.contacts, `empty-${n}`, vcard(`empty-${n}`, `Empty ${n}`));
  const client = account.eas('Empty1');
  const none = await client.command('Sync');
  assert.equal(textAt(none, 'Status'), '13');
  const key = await client.primeSync(account.contacts);
  const full = await client.send('Sync', syncBody([{ collectionId: account.contacts, syncKey: key, windowSize: 2 }]));
  const empty = await client.send('Sync');
  assert.equal(empty.status, 200);
  const a = collectionOf(full.body as WbxmlElement);
  const b = collectionOf(empty.body as WbxmlElement);
  assert.equal(commandsOf(a, 'Add').length, 2, 'the window of the full request');
  assert.notEqual(textAt(b, 'SyncKey'), textAt(a, 'SyncKey'), 'the repeat goes on from the key just issued, not back to the same answer');
  assert.equal(commandsOf(b, 'Add').length, 1, 'the one item left, in the same window');
  assert.ok(!commandsOf(a, 'Add').map(serverIdOf).includes(serverIdOf(commandsOf(b, 'Add')[0] as WbxmlElement)));
  const again = collectionOf((await client.send('Sync')).body as WbxmlElement);
  assert.equal(commandsOf(again, 'Add').length, 0, 'nothing new: no livelock on an old key');
});

test('an empty Sync after a stale copy of an old request (Status 3) repeats the last answered one, and brings a delete made meanwhile (sim seed 3000040)', async () => {
  const account = await easAccount(server);
  const native = account.native('native-stale');
  for (const n of [1, 2]) await native.put(account.contacts, `stale-${n}`, vcard(`stale-${n}`, `Stale ${n}`));
  const client = account.eas('Stale1');
  const first = await client.primeSync(account.contacts);
  const request = (key: string) => syncBody([{ collectionId: account.contacts, syncKey: key, windowSize: 10 }]);
  const second = textAt(collectionOf((await client.send('Sync', request(first))).body as WbxmlElement), 'SyncKey');
  const third = textAt(collectionOf((await client.send('Sync', request(second))).body as WbxmlElement), 'SyncKey');
  // A copy of the first request, overtaken on the network, arrives now: its key is long gone.
  const stale = collectionOf((await client.send('Sync', request(first))).body as WbxmlElement);
  assert.equal(textAt(stale, 'Status'), '3', toXml(stale));
  await native.remove(account.contacts, 'stale-1');
  // The phone never saw that answer; it goes on from the key it holds, with an empty Sync.
  const empty = collectionOf((await client.send('Sync')).body as WbxmlElement);
  assert.equal(textAt(empty, 'Status'), '1', toXml(empty));
  assert.notEqual(textAt(empty, 'SyncKey'), third);
  assert.equal(commandsOf(empty, 'Delete').length, 1, `the delete reaches the phone: ${toXml(empty)}`);
});

test('conflict: the native device (higher priority) and ActiveSync change the same field; ActiveSync gets Status 7 and the truth', async () => {
  const account = await easAccount(server);
  const native = account.native('native-conflict');
  const id = await native.put(account.contacts, 'conf', vcard('conf', 'Original Name', 'X-SYNCPOINT-TEST:keep me\r\n'));
  const client = account.eas('Conf1');
  const { key } = await client.pull(account.contacts, await client.primeSync(account.contacts));
  await native.put(account.contacts, 'conf', vcard('conf', 'Native Winner', 'X-SYNCPOINT-TEST:keep me\r\n'));
  const answer = await syncOk(client, account.contacts, key, { commands: [changeCommand(id, ...contactData('Loser', 'Eas'))] });
  assert.equal(textAt(responseFor(answer, 'Change', id), 'Status'), '7', toXml(answer));
  // The truth comes back, in this answer or the next.
  let truth = commandsOf(answer, 'Change').find((c) => serverIdOf(c) === id);
  if (!truth) truth = commandsOf(await syncOk(client, account.contacts, textAt(answer, 'SyncKey')), 'Change').find((c) => serverIdOf(c) === id);
  assert.ok(truth, 'the winning version is sent to the device');
  assert.match(toXml(truth), /Native Winner|Winner/);
  assert.doesNotMatch(toXml(truth), /Loser/);
  const card = (await native.items(account.contacts)).get(id)?.data ?? '';
  assert.match(card, /FN:Native Winner/);
  const conflicts = await getJson(`${server.url}/api/v1/conflicts`, account.authorization);
  assert.ok((conflicts.body.conflicts as Array<{ itemId: string; data: string }>).some((c) => c.itemId === id && /Loser/.test(c.data)), 'the losing version is kept');
});

test('an Add sent again edited after a lost answer, and lost on priority to an edit made meanwhile, gets Status 1 and the ServerId, then the truth', async () => {
  const account = await easAccount(server);
  // Registered first, so ranked above the phone.
  const native = account.native('native-late');
  await native.items(account.contacts);
  const client = account.eas('LateAdd1');
  const key = (await client.pull(account.contacts, await client.primeSync(account.contacts))).key;
  const lost = await syncOk(client, account.contacts, key, { commands: [addCommand('late-1', ...contactData('Ann', 'Lost'))] });
  const id = textAt(responseFor(lost, 'Add', 'late-1'), 'ServerId');
  // The answer is lost. The native device renames the contact meanwhile.
  const held = (await native.items(account.contacts)).get(id);
  assert.ok(held);
  const renamed = held.data.replace(/\r\nFN:[^\r]*/, '\r\nFN:Native Name').replace(/\r\nN:[^\r]*/, '\r\nN:Name;Native;;;');
  await native.put(account.contacts, held.localId, renamed);
  // The phone's user renames it too, and the Add goes again, edited, with the same key.
  const retry = await syncOk(client, account.contacts, key, { commands: [addCommand('late-1', ...contactData('Annie', 'Lost'))] });
  const answer = responseFor(retry, 'Add', 'late-1');
  assert.equal(textAt(answer, 'Status'), '1', toXml(retry));
  assert.equal(textAt(answer, 'ServerId'), id, 'the phone takes the item its Add made');
  let truth = [...commandsOf(retry, 'Add'), ...commandsOf(retry, 'Change')].find((c) => serverIdOf(c) === id);
  if (!truth) {
    const next = await syncOk(client, account.contacts, textAt(retry, 'SyncKey'));
    truth = [...commandsOf(next, 'Add'), ...commandsOf(next, 'Change')].find((c) => serverIdOf(c) === id);
  }
  assert.ok(truth, `the winning version is sent to the phone: ${toXml(retry)}`);
  assert.match(toXml(truth), /Native Name/);
  const conflicts = await getJson(`${server.url}/api/v1/conflicts`, account.authorization);
  assert.ok((conflicts.body.conflicts as Array<{ itemId: string; data: string }>).some((c) => c.itemId === id && /Annie/.test(c.data)), 'the phone\'s version is kept');
});

test('a phone paging through a window edits a contact changed twice meanwhile: the version it holds is not guessed, priority decides and the loser is kept', async () => {
  const account = await easAccount(server);
  // Registered first, so ranked above the phone.
  const native = account.native('native-pager');
  const id = await native.put(account.contacts, 'b', vcard('uid-b', 'Bea Held'));
  const client = account.eas('Pager1');
  const { key } = await client.pull(account.contacts, await client.primeSync(account.contacts));
  // Meanwhile B gets a title, another contact is added, then B gets an email too.
  await native.put(account.contacts, 'b', vcard('uid-b', 'Bea Held', 'TITLE:Engineer\r\n'));
  const other = await native.put(account.contacts, 'c', vcard('uid-c', 'Cy Other'));
  await native.put(account.contacts, 'b', vcard('uid-b', 'Bea Held', 'TITLE:Engineer\r\nEMAIL:bea@example.org\r\n'));
  // One item per page: the phone gets C, and its position passes B's titled version, which it never got.
  const page = await syncOk(client, account.contacts, key, { windowSize: 1 });
  assert.deepEqual(commandsOf(page, 'Add').map(serverIdOf), [other]);
  // The user renames B; the phone sends the whole contact as it holds it: no title, no email.
  const answer = await syncOk(client, account.contacts, textAt(page, 'SyncKey'), { commands: [changeCommand(id, ...contactData('Beatrice', 'Held'))] });
  assert.equal(textAt(responseFor(answer, 'Change', id), 'Status'), '7', toXml(answer));
  const card = (await native.items(account.contacts)).get(id)?.data ?? '';
  assert.match(card, /TITLE:Engineer/, 'the title the phone never saw is not taken as removed by it');
  assert.match(card, /EMAIL[^:]*:bea@example.org/);
  const conflicts = await getJson(`${server.url}/api/v1/conflicts`, account.authorization);
  assert.ok((conflicts.body.conflicts as Array<{ itemId: string; data: string }>).some((c) => c.itemId === id && /Beatrice/.test(c.data)), "the phone's version is kept");
});

test('loop detection: a device that keeps re-sending one key gets smaller windows, then the item is quarantined and reported', async () => {
  const account = await easAccount(server);
  const bulk = new Device(server, account.authorization, 'loop-loader');
  await bulk.sync(account.contacts);
  await bulk.sync(account.contacts, { commands: Array.from({ length: 70 }, (_, i) => add(`loop-${i}`, vcard(`loop-${i}`, `Loop ${i}`))) });
  const client = account.eas('Loop1');
  const key = await client.primeSync(account.contacts);
  const counts: number[] = [];
  const answers: WbxmlElement[] = [];
  for (let i = 0; i < 6; i++) {
    const answer = await syncOk(client, account.contacts, key, { windowSize: 100 });
    answers.push(answer);
    counts.push(commandsOf(answer, 'Add').length);
  }
  assert.equal(counts[0], 70);
  const shrinking = counts.slice(1);
  const at64 = shrinking.findIndex((c) => c <= 64);
  assert.ok(at64 >= 0, `the window never shrank to 64: ${counts}`);
  assert.ok((shrinking[at64 + 1] as number) <= 8, `then to 8: ${counts}`);
  assert.equal(shrinking[at64 + 2], 1, `then to 1: ${counts}`);
  const culprit = serverIdOf(commandsOf(answers[at64 + 3] as WbxmlElement, 'Add')[0] as WbxmlElement);
  const reported = (await deviceErrors(account, 'eas-Loop1')).find((e) => e.status === 'quarantined');
  assert.ok(reported, `no quarantine reported; counts ${counts}`);
  assert.ok(reported.message.includes(culprit), reported.message);
  // The item is left out from now on; everything else still comes.
  const next = await syncOk(client, account.contacts, key, { windowSize: 100 });
  assert.equal(commandsOf(next, 'Add').some((a) => serverIdOf(a) === culprit), false);
  const rest = await client.pull(account.contacts, textAt(next, 'SyncKey'), { windowSize: 100 });
  const delivered = new Set([next, ...rest.answers].flatMap((a) => commandsOf(a, 'Add')).map(serverIdOf));
  assert.equal(delivered.has(culprit), false);
  assert.equal(delivered.size, 69, `the other 69 items arrive (got ${delivered.size})`);
  // Starting the folder over gives the quarantined item another chance.
  const again = await client.pull(account.contacts, await client.primeSync(account.contacts), { windowSize: 100 });
  assert.equal(again.answers.flatMap((a) => commandsOf(a, 'Add')).length, 70, 'a key 0 clears the quarantine');
  // Another device is unaffected.
  const other = account.eas('Loop2');
  const theirs = await other.pull(account.contacts, await other.primeSync(account.contacts), { windowSize: 100 });
  assert.equal(theirs.answers.flatMap((a) => commandsOf(a, 'Add')).length, 70);
});

test('isolation: bob\'s Sync naming alice\'s collection is Status 12; several collections in one request', async () => {
  const alice = await easAccount(server);
  const bob = await easAccount(server);
  await alice.native('alice-n').put(alice.contacts, 'a1', vcard('a1', 'Alice Only'));
  const client = bob.eas('Iso1');
  const answer = await client.command(
    'Sync',
    syncBody([
      { collectionId: bob.contacts, syncKey: '0' },
      { collectionId: alice.contacts, syncKey: '0' },
      { collectionId: bob.calendar, syncKey: '0' },
    ]),
  );
  const statuses = all(answer, 'Collections/Collection').map((c) => [textAt(c, 'CollectionId'), textAt(c, 'Status')]);
  assert.deepEqual(statuses, [
    [bob.contacts, '1'],
    [alice.contacts, '12'],
    [bob.calendar, '1'],
  ]);
  assert.doesNotMatch(toXml(answer), /Alice Only/);
  const keyed = collectionOf(await client.sync({ collectionId: alice.contacts, syncKey: '1' }));
  assert.equal(textAt(keyed, 'Status'), '12');
  assert.doesNotMatch(toXml(keyed), /Alice Only/);
});

test('Supported ghosting: properties the device did not list survive a Change that leaves them out; without Supported they are removed', async () => {
  const account = await easAccount(server);
  const native = account.native('native-ghost');
  const id = await native.put(account.contacts, 'ghost', vcard('ghost', 'Ghost Writer', 'EMAIL:ghost@example.org\r\nTEL;TYPE=CELL:+1 555 0100\r\n'));
  // This device says it supports only its name fields: everything else is ghosted.
  const ghosting = account.eas('Ghost1');
  const primed = collectionOf(
    await ghosting.command(
      'Sync',
      as('Sync', as('Collections', as('Collection', as('SyncKey', '0'), as('CollectionId', account.contacts), as('Supported', contacts('FirstName'), contacts('LastName'), contacts('FileAs'))))),
    ),
  );
  const { key } = await ghosting.pull(account.contacts, textAt(primed, 'SyncKey'));
  await syncOk(ghosting, account.contacts, key, { commands: [changeCommand(id, ...contactData('Ghost', 'Renamed'))] });
  const kept = (await native.items(account.contacts)).get(id)?.data ?? '';
  assert.match(kept, /Renamed/);
  assert.match(kept, /EMAIL:ghost@example\.org/, 'an unlisted property stays');
  assert.match(kept, /\+1 555 0100/);

  // A device without Supported sends whole items: what it leaves out is gone.
  const whole = account.eas('Whole1');
  const { key: wholeKey } = await whole.pull(account.contacts, await whole.primeSync(account.contacts));
  await syncOk(whole, account.contacts, wholeKey, { commands: [changeCommand(id, ...contactData('Ghost', 'Whole'))] });
  const replaced = (await native.items(account.contacts)).get(id)?.data ?? '';
  assert.match(replaced, /Whole/);
  assert.doesNotMatch(replaced, /EMAIL/);
});

test('ActiveSync 16.1: a Delete or Change naming an InstanceId touches that one occurrence, not the series', async () => {
  const account = await easAccount(server);
  const native = account.native('native-instances');
  const series = vevent('weekly', 'Weekly sync', '20270104T090000Z', '20270104T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=5\r\n');
  const id = await native.put(account.calendar, 'weekly', series);
  const client = account.eas('Inst161', { version: '16.1' });
  const { key } = await client.pull(account.calendar, await client.primeSync(account.calendar));
  const deleted = await syncOk(client, account.calendar, key, { commands: [as('Delete', as('ServerId', id), asb('InstanceId', '2027-01-11T09:00:00.000Z'))] });
  const changed = await syncOk(client, account.calendar, textAt(deleted, 'SyncKey'), {
    commands: [
      as(
        'Change',
        as('ServerId', id),
        asb('InstanceId', '2027-01-18T09:00:00.000Z'),
        as('ApplicationData', cal('Subject', 'Moved sync'), cal('StartTime', '20270118T110000Z'), cal('EndTime', '20270118T120000Z')),
      ),
    ],
  });
  assert.equal(all(changed, 'Responses/Change').length, 0, toXml(changed));
  const data = (await native.items(account.calendar)).get(id)?.data ?? '';
  assert.equal(data.match(/RRULE:FREQ=WEEKLY;COUNT=5/g)?.length, 1, 'the series keeps its rule');
  assert.match(data, /EXDATE[^:\r\n]*:20270111T090000Z/, data);
  assert.match(data, /RECURRENCE-ID[^:\r\n]*:20270118T090000Z/, data);
  assert.match(data, /SUMMARY:Moved sync/);
  assert.match(data, /SUMMARY:Weekly sync/, 'the other occurrences keep their title');
});

test('a Change retried after a lost answer writes nothing new', async () => {
  const account = await easAccount(server);
  const native = account.native('native-retried-change');
  const id = await native.put(account.tasks, 'retried', vtodo('retried', 'Retried task'));
  const client = account.eas('Retry2');
  const { key } = await client.pull(account.tasks, await client.primeSync(account.tasks));
  const body = syncBody([{ collectionId: account.tasks, syncKey: key, commands: [changeCommand(id, tasks('Subject', 'Changed once'))] }]);
  const first = await client.send('Sync', body);
  const after = (await native.items(account.tasks)).get(id)?.data;
  const again = await client.send('Sync', body);
  assert.deepEqual(Buffer.from(again.bytes), Buffer.from(first.bytes), 'the same answer');
  assert.equal((await native.items(account.tasks)).get(id)?.data, after, 'the item is exactly what the first attempt made');
});
