import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import type { CollectionResponse } from '../../src/protocol/sync.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { accountSeq, add, change, collectionIds, del, Device, newAccount, fetchItem } from '../support/sync.js';

/** Client commands one by one: Fetch, per-command failures, deletes, getChanges, truncation, time ranges. */

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

const setup = () => newAccount(server);

function statuses(r: CollectionResponse): string[] {
  return r.results.map((res) => res.status);
}

const vtodo = (uid: string, summary: string) =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:${summary}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`;

test('fetch returns only the asked item; unknown, deleted and foreign ids are notFound', async () => {
  const { contacts, device } = await setup();
  const a = device('a');
  const r = await a.sync(contacts, {
    commands: [add('x', vcard('uid-x', 'X')), add('y', vcard('uid-y', 'Y')), add('z', vcard('uid-z', 'Z'))],
  });
  const [x, y, z] = r.results.map((res) => res.serverId as string) as [string, string, string];
  await a.sync(contacts, { commands: [del(z)] });

  const other = await server.addUser('cmds-other');
  const otherContacts = (await collectionIds(server, other.authorization)).contacts as string;
  const foreign = (await new Device(server, other.authorization, 'o').sync(otherContacts, { commands: [add('f', vcard('uid-f', 'Foreign'))] }))
    .results[0]?.serverId as string;
  assert.ok(foreign);

  const f = await a.sync(contacts, { commands: [fetchItem(y), fetchItem('no-such-item'), fetchItem(z), fetchItem(foreign)] });
  assert.deepEqual(
    f.results.map((res) => [res.index, res.op, res.serverId, res.status]),
    [
      [0, 'fetch', y, 'ok'],
      [1, 'fetch', 'no-such-item', 'notFound'],
      [2, 'fetch', z, 'notFound'],
      [3, 'fetch', foreign, 'notFound'],
    ],
  );
  assert.deepEqual(f.fetched, [{ serverId: y, data: vcard('uid-y', 'Y'), etag: f.results[0]?.etag }]);
  assert.equal(f.fetched[0]?.etag, a.view(contacts).get(y)?.etag);
  assert.deepEqual(f.commands, [], 'a fetch is not a change');
  assert.ok(x);
});

test('per-command failures: each command fails alone and the others are committed', async () => {
  const { contacts, calendar, tasks, device } = await setup();
  const a = device('a');
  const observer = device('observer');
  const huge = vcard('uid-huge', 'Huge', `NOTE:${'x'.repeat(limits.itemBytesMax)}\r\n`);
  const r = await a.sync(contacts, {
    commands: [
      add('ok1', vcard('uid-1', 'One')),
      add('bad', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken'),
      add('ok2', vcard('uid-2', 'Two')),
      add('event', vevent('uid-e', 'An event')),
      add('nofn', 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:nofn\r\nEND:VCARD\r\n'),
      add('v2', 'BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nEND:VCARD\r\n'),
      add('ctrl', vcard('uid-ctrl', 'Bell\u0007')),
      add('huge', huge),
      add('ok3', vcard('uid-3', 'Three')),
    ],
  });
  assert.deepEqual(statuses(r), ['ok', 'invalidItem', 'ok', 'wrongKind', 'invalidItem', 'invalidItem', 'invalidItem', 'itemTooLarge', 'ok']);
  for (const res of r.results) {
    if (res.status === 'ok') assert.ok(res.serverId && res.etag);
    else {
      assert.equal(res.serverId, undefined, 'a refused add has no server id');
      assert.ok(res.message, 'a refused command says why');
    }
  }
  assert.deepEqual(
    r.results.map((res) => res.clientId),
    ['ok1', 'bad', 'ok2', 'event', 'nofn', 'v2', 'ctrl', 'huge', 'ok3'],
  );
  const [one, , two] = r.results.map((res) => res.serverId as string) as [string, string, string];

  await observer.pull(contacts);
  assert.deepEqual(Object.values(observer.snapshot(contacts)).sort(), [vcard('uid-1', 'One'), vcard('uid-3', 'Three'), vcard('uid-2', 'Two')].sort());

  // Wrong component for the collection, in calendars too.
  const ev = await a.sync(calendar, { commands: [add('card', vcard('uid-c', 'Card')), add('todo', vtodo('uid-t', 'Todo')), add('ev', vevent('uid-e', 'Event'))] });
  assert.deepEqual(statuses(ev), ['wrongKind', 'wrongKind', 'ok']);
  const tk = await a.sync(tasks, { commands: [add('ev', vevent('uid-e2', 'Event')), add('todo', vtodo('uid-t', 'Todo'))] });
  assert.deepEqual(statuses(tk), ['wrongKind', 'ok']);

  // Changes: unknown id, UID taken by another item, invalid data; a valid change beside them.
  const c = await a.sync(contacts, {
    commands: [
      change('no-such-item', vcard('uid-9', 'Nine')),
      change(one, vcard('uid-2', 'One pretending to be Two')),
      change(two, 'not a vcard'),
      change(one, vcard('uid-1', 'One v2')),
    ],
  });
  assert.deepEqual(statuses(c), ['notFound', 'uidConflict', 'invalidItem', 'ok']);
  assert.deepEqual(
    c.results.map((res) => res.serverId),
    ['no-such-item', one, two, one],
  );
  const seen = await observer.sync(contacts);
  assert.deepEqual(
    seen.commands.map((cmd) => [cmd.op, cmd.serverId]),
    [['change', one]],
  );
  assert.equal(observer.view(contacts).get(one)?.data, vcard('uid-1', 'One v2'));
  assert.equal(observer.view(contacts).get(two)?.data, vcard('uid-2', 'Two'), 'the refused changes left Two alone');
});

test('delete, then delete again: both ok, one delete reaches other devices, the item is gone', async () => {
  const { accountId, contacts, device } = await setup();
  const a = device('a');
  const b = device('b');
  const r = await a.sync(contacts, { commands: [add('x', vcard('uid-x', 'X')), add('y', vcard('uid-y', 'Y'))] });
  const [x, y] = r.results.map((res) => res.serverId as string) as [string, string];
  await b.pull(contacts);

  let d = await a.sync(contacts, { commands: [del(x)] });
  assert.deepEqual(statuses(d), ['ok']);
  let seen = await b.sync(contacts);
  assert.deepEqual(seen.commands, [{ op: 'delete', serverId: x }]);
  assert.deepEqual(Object.keys(b.snapshot(contacts)), [y]);

  const seq = await accountSeq(server, accountId);
  d = await a.sync(contacts, { commands: [del(x), del('never-existed')] });
  assert.deepEqual(
    d.results.map((res) => [res.op, res.serverId, res.status]),
    [
      ['delete', x, 'ok'],
      ['delete', 'never-existed', 'notFound'],
    ],
  );
  assert.equal(await accountSeq(server, accountId), seq, 'deleting what is deleted writes nothing');
  seen = await b.sync(contacts);
  assert.deepEqual(seen.commands, [], 'no second delete reaches other devices');

  // A deleted item can be neither changed nor fetched; its UID is free again.
  const after = await a.sync(contacts, { commands: [change(x, vcard('uid-x', 'X again')), fetchItem(x), add('x2', vcard('uid-x', 'X reborn'))] });
  assert.deepEqual(statuses(after), ['notFound', 'notFound', 'ok']);
  assert.notEqual(after.results[2]?.serverId, x, 'a new item, not the tombstone revived');
  const fresh = device('fresh');
  await fresh.pull(contacts);
  assert.deepEqual(Object.values(fresh.snapshot(contacts)).sort(), [vcard('uid-x', 'X reborn'), vcard('uid-y', 'Y')].sort());
});

test('getChanges false: commands are applied, no server changes are sent, and none are lost', async () => {
  const { contacts, device } = await setup();
  const a = device('a');
  const b = device('b');
  await a.pull(contacts);
  await b.sync(contacts, { commands: [add('b1', vcard('uid-b1', 'From B')), add('b2', vcard('uid-b2', 'Also from B'))] });

  const quiet = await a.sync(contacts, { getChanges: false, commands: [add('a1', vcard('uid-a1', 'From A'))] });
  assert.deepEqual(quiet.commands, []);
  assert.equal(quiet.moreAvailable, false);
  assert.deepEqual(statuses(quiet), ['ok']);
  assert.equal(quiet.syncKey, 2);

  const loud = await a.sync(contacts);
  assert.equal(loud.syncKey, 3);
  assert.deepEqual(
    loud.commands.map((cmd) => cmd.op === 'delete' ? null : cmd.data).sort(),
    [vcard('uid-b2', 'Also from B'), vcard('uid-b1', 'From B')].sort(),
    'the withheld changes arrive, and A’s own add is not echoed',
  );
  await b.sync(contacts);
  assert.deepEqual(a.snapshot(contacts), b.snapshot(contacts));
});

test('options.bodyBytesMax truncates long bodies (flagged, full size given); fetch returns them whole', async () => {
  const { contacts, device } = await setup();
  const writer = device('writer');
  // Multi-byte characters around the cut: the cut must not split one.
  const long = vcard('uid-long', 'Lång Ñame', `NOTE:${'é€😀'.repeat(40)}\r\n`);
  const short = vcard('uid-s', 'S');
  const w = await writer.sync(contacts, { commands: [add('long', long), add('short', short)] });
  const [longId, shortId] = w.results.map((res) => res.serverId as string) as [string, string];
  const cap = 101;
  assert.ok(Buffer.byteLength(short) <= cap && Buffer.byteLength(long) > cap);

  // Nine consecutive caps: the note repeats a 9-byte run (2-, 3- and 4-byte characters), so the cut
  // lands at every position inside a character once.
  for (let bodyBytesMax = cap; bodyBytesMax < cap + 9; bodyBytesMax++) {
    const reader = device(`reader-${bodyBytesMax}`);
    const r = await reader.sync(contacts, { options: { bodyBytesMax } });
    const longCmd = r.commands.find((cmd) => cmd.serverId === longId);
    const shortCmd = r.commands.find((cmd) => cmd.serverId === shortId);
    assert.ok(longCmd && longCmd.op !== 'delete' && shortCmd && shortCmd.op !== 'delete');
    assert.equal(longCmd.truncated, true);
    assert.equal(longCmd.size, Buffer.byteLength(long, 'utf8'));
    assert.ok(Buffer.byteLength(longCmd.data, 'utf8') <= bodyBytesMax, 'within the cap');
    assert.ok(Buffer.byteLength(longCmd.data, 'utf8') > bodyBytesMax - 4, 'cut at most one character short of the cap');
    assert.ok(long.startsWith(longCmd.data), 'a prefix of the item, no broken character');
    assert.equal(longCmd.etag, w.results[0]?.etag, 'the etag is the whole item’s');
    assert.deepEqual(shortCmd, { op: 'add', serverId: shortId, data: short, etag: w.results[1]?.etag }, 'short bodies are not flagged');

    const f = await reader.sync(contacts, { options: { bodyBytesMax }, commands: [fetchItem(longId)] });
    assert.deepEqual(f.fetched, [{ serverId: longId, data: long, etag: longCmd.etag }]);
  }
});

test('options.timeRange sends only events overlapping [start, end)', async () => {
  const { calendar, device } = await setup();
  const writer = device('writer');
  const events = {
    jan: vevent('jan', 'January', '20260110T100000Z', '20260110T110000Z'),
    feb: vevent('feb', 'February', '20260215T100000Z', '20260215T110000Z'),
    mar: vevent('mar', 'March', '20260310T100000Z', '20260310T110000Z'),
    endsAtStart: vevent('edge1', 'Ends at start', '20260131T230000Z', '20260201T000000Z'),
    startsAtEnd: vevent('edge2', 'Starts at end', '20260301T000000Z', '20260301T010000Z'),
    spanning: vevent('span', 'Spanning', '20260120T000000Z', '20260205T000000Z'),
    weeklyInto: vevent('weekly', 'Weekly into Feb', '20260105T090000Z', '20260105T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=6\r\n'),
    weeklyBefore: vevent('weekly2', 'Weekly in Jan', '20260105T090000Z', '20260105T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=3\r\n'),
    forever: vevent('forever', 'Daily forever', '20250101T090000Z', '20250101T100000Z', 'RRULE:FREQ=DAILY\r\n'),
  };
  const w = await writer.sync(calendar, { commands: Object.entries(events).map(([k, data]) => add(k, data)) });
  assert.ok(w.results.every((res) => res.status === 'ok'), JSON.stringify(w.results));
  const idOf = Object.fromEntries(w.results.map((res) => [res.clientId, res.serverId]));
  const nameOf = Object.fromEntries(w.results.map((res) => [res.serverId, res.clientId]));

  const reader = device('reader');
  const timeRange = { start: '2026-02-01T00:00:00Z', end: '2026-03-01T00:00:00Z' };
  const r = await reader.sync(calendar, { options: { timeRange } });
  assert.deepEqual(r.commands.map((cmd) => nameOf[cmd.serverId]).sort(), ['feb', 'forever', 'spanning', 'weeklyInto']);

  // Deletes are not filtered: a device must hear of them whatever it holds.
  const d = await writer.sync(calendar, { commands: [del(idOf.jan as string), del(idOf.feb as string)] });
  assert.deepEqual(statuses(d), ['ok', 'ok']);
  const r2 = await reader.sync(calendar, { options: { timeRange } });
  assert.deepEqual(
    r2.commands.map((cmd) => [cmd.op, nameOf[cmd.serverId]]).sort(),
    [
      ['delete', 'feb'],
      ['delete', 'jan'],
    ],
  );
  // Without a range, everything that is left.
  const all = device('all');
  await all.pull(calendar);
  assert.equal(all.view(calendar).size, Object.keys(events).length - 2);
});
