import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { easAccount, folderIds, pingBody, sleep, startPing, textAt, toXml, type EasAccount, type HeldPing } from '../support/eas-client.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';

/**
 * Many Pings of one account held at once (faces/eas/holds.ts): one commit wakes every Ping that watches
 * the folder it changed, each answered with that folder, and no other; devices watching the same
 * folders share their folder set, yet each is ended on its own (a newer Ping, a hang-up); and a Ping past
 * the account's limit of push channels is told to come back later.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer({ pushChannelsPerAccountMax: 40 });
});

after(async () => {
  await server.stop();
});

const channels = async () => ((await (await fetch(`${server.url}/health`)).json()) as { pushChannels: number }).pushChannels;

/** Waits until the server holds `count` channels in all: the Pings sent are held, not answered. */
async function held(count: number): Promise<void> {
  for (let i = 0; i < 500 && (await channels()) !== count; i++) await sleep(20);
  assert.equal(await channels(), count);
}

interface Watcher {
  name: string;
  ping: HeldPing;
}

/** `perSet` devices for each folder set, each Pinging on its own socket. */
function pingAll(account: EasAccount, sets: Record<string, Array<[string, string]>>, perSet: number): Watcher[] {
  const out: Watcher[] = [];
  for (const [name, folders] of Object.entries(sets)) {
    for (let i = 0; i < perSet; i++) out.push({ name, ping: startPing(account.eas(`Many${name}${i}`), pingBody(300, folders)) });
  }
  return out;
}

async function answerOf(w: Watcher): Promise<WbxmlElement> {
  const res = await w.ping.result;
  assert.equal(res.status, 200);
  return res.body as WbxmlElement;
}

test('a commit wakes each Ping watching the folder it changed, with that folder alone; the others stay held', async () => {
  const account = await easAccount(server);
  const before = await channels();
  const sets: Record<string, Array<[string, string]>> = {
    contacts: [[account.contacts, 'Contacts']],
    calendar: [[account.calendar, 'Calendar']],
    both: [[account.contacts, 'Contacts'], [account.calendar, 'Calendar']],
    tasks: [[account.tasks, 'Tasks']],
  };
  const watchers = pingAll(account, sets, 6);
  await held(before + watchers.length);

  const native = account.native('many-writer');
  await native.put(account.contacts, 'many-c', vcard('many-c', 'Many Contact'));
  for (const w of watchers.filter((w) => w.name === 'contacts' || w.name === 'both')) {
    const answer = await answerOf(w);
    assert.equal(textAt(answer, 'Status'), '2', toXml(answer));
    assert.deepEqual(folderIds(answer), [account.contacts], `${w.name}: only the folder that changed`);
  }
  await sleep(300);
  for (const w of watchers.filter((w) => w.name === 'calendar' || w.name === 'tasks')) assert.equal(w.ping.settled(), false, `${w.name} watches no folder that changed`);
  await held(before + 12);

  await native.put(account.calendar, 'many-e', vevent('many-e', 'Many Event'));
  for (const w of watchers.filter((w) => w.name === 'calendar')) assert.deepEqual(folderIds(await answerOf(w)), [account.calendar]);
  await held(before + 6);
  for (const w of watchers.filter((w) => w.name === 'tasks')) assert.equal(w.ping.settled(), false);

  // Devices sharing one folder set still end one by one: a newer Ping of one ends its older one only.
  const [first, ...rest] = watchers.filter((w) => w.name === 'tasks') as [Watcher, ...Watcher[]];
  const again = startPing(account.eas('Manytasks0'), pingBody(300, sets.tasks as Array<[string, string]>));
  assert.equal(textAt(await answerOf(first), 'Status'), '1', 'the older Ping of the device ends with "nothing changed"');
  await sleep(300);
  assert.equal(again.settled(), false);
  for (const w of rest) assert.equal(w.ping.settled(), false, 'the other devices watching the same folders are not touched');
  // And a hang-up frees that device's Ping alone.
  (rest[0] as Watcher).ping.abort();
  await held(before + 5);
  await native.put(account.tasks, 'many-t', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:many-t\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Many Task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n');
  for (const ping of [again, ...rest.slice(1).map((w) => w.ping)]) {
    const res = await ping.result;
    assert.deepEqual(folderIds(res.body as WbxmlElement), [account.tasks]);
  }
  await held(before);
});

test('a Ping past the account\'s limit of push channels is answered with common status 111 (retry later), and is held once there is room', async () => {
  const account = await easAccount(server);
  const before = await channels();
  const watchers = pingAll(account, { full: [[account.contacts, 'Contacts']] }, 40);
  await held(before + 40);
  const refused = await account.eas('ManyOver').send('Ping', pingBody(300, [[account.contacts, 'Contacts']]));
  assert.equal(refused.status, 200);
  assert.equal(textAt(refused.body as WbxmlElement, 'Status'), '111', toXml(refused.body as WbxmlElement));
  assert.equal(await channels(), before + 40, 'nothing of it is held');

  (watchers[0] as Watcher).ping.abort();
  await held(before + 39);
  const now = startPing(account.eas('ManyOver'), pingBody(300, [[account.contacts, 'Contacts']]));
  await held(before + 40);
  await account.native('many-over-writer').put(account.contacts, 'over', vcard('over', 'Over'));
  assert.equal(textAt((await now.result).body as WbxmlElement, 'Status'), '2');
  for (const w of watchers.slice(1)) assert.equal(textAt(await answerOf(w), 'Status'), '2');
});
