import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { sdkDevice, type SdkDevice } from '../support/push.js';
import { startTestServer, vcard, vevent, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/**
 * vdirsyncer (Debian's package) syncs an account's contacts and calendar with local folders over
 * CardDAV/CalDAV, both ways, while a native SDK device edits the same collections: adds, edits and
 * deletes on each side reach the other, byte for byte.
 */
let server: TestServer;
const work = mkdtempSync(join(tmpdir(), 'syncpoint-vdirsyncer-'));

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs vdirsyncer without blocking: the server under test lives in this process. */
function vdirsyncer(config: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('vdirsyncer', args, { env: { ...process.env, VDIRSYNCER_CONFIG: config } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    // discover asks whether to create each local collection.
    child.stdin.end('y\n'.repeat(20));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`vdirsyncer ${args.join(' ')} exited with ${code}:\n${out}`));
    });
  });
}

function configFor(dir: string, user: string, password: string): string {
  const storage = (name: string, type: string, ext: string) => `
[pair ${name}]
a = "${name}_local"
b = "${name}_remote"
collections = ["from b"]

[storage ${name}_local]
type = "filesystem"
path = "${dir}/${name}/"
fileext = "${ext}"

[storage ${name}_remote]
type = "${type}"
url = "${server.url}/"
username = "${user}"
password = "${password}"
`;
  const config = `[general]\nstatus_path = "${dir}/status/"\n${storage('contacts', 'carddav', '.vcf')}${storage('cal', 'caldav', '.ics')}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config'), config);
  return join(dir, 'config');
}

const files = (dir: string) => readdirSync(dir).map((name) => readFileSync(join(dir, name), 'utf8'));
const replicaData = (device: SdkDevice, collectionId: string) =>
  device.replica
    .transaction((tx) => tx.all(collectionId))
    .filter((i) => i.data !== null)
    .map((i) => i.data as string);

test('vdirsyncer syncs contacts and events both ways with a native device: adds, edits and deletes', async () => {
  const account = await newAccount(server);
  const dir = join(work, 'a');
  const config = configFor(dir, account.accountName, account.password);
  const phone = sdkDevice(server.url, account.accountName, account.password, 'phone');
  await phone.client.syncCollection(account.contacts);
  await phone.client.syncCollection(account.calendar);

  // Server -> vdirsyncer, byte for byte, unknown properties included.
  const card = vcard('vd-1', 'Ada Lovelace', 'X-CUSTOM;TYPE=odd:keep me\r\nEMAIL:ada@example.org\r\n');
  const event = vevent('vd-ev-1', 'Launch', '20260301T090000Z', '20260301T100000Z', 'X-SPECIAL:yes\r\n');
  // vdirsyncer refuses to empty a whole collection, so one event stays throughout.
  const stays = vevent('vd-ev-2', 'Review', '20260302T090000Z', '20260302T100000Z');
  phone.replica.transaction((tx) => {
    recordLocalPut(tx, account.contacts, 'ada', card);
    recordLocalPut(tx, account.calendar, 'launch', event);
    recordLocalPut(tx, account.calendar, 'review', stays);
  });
  await phone.client.syncCollection(account.contacts);
  await phone.client.syncCollection(account.calendar);
  await vdirsyncer(config, 'discover');
  await vdirsyncer(config, 'sync');
  const contactsDir = join(dir, 'contacts', 'contacts');
  const calendarDir = join(dir, 'cal', 'calendar');
  assert.deepEqual(files(contactsDir), [card]);
  assert.deepEqual(files(calendarDir).sort(), [event, stays].sort());

  // vdirsyncer -> server: a new card, an edited event.
  const added = vcard('vd-2', 'Grace Hopper', 'TEL:+1 555 0100\r\n');
  writeFileSync(join(contactsDir, 'grace.vcf'), added);
  const eventFile = readdirSync(calendarDir).find((name) => readFileSync(join(calendarDir, name), 'utf8') === event) as string;
  const edited = event.replace('SUMMARY:Launch', 'SUMMARY:Launch (moved)');
  writeFileSync(join(calendarDir, eventFile), edited);
  await vdirsyncer(config, 'sync');
  await phone.client.syncCollection(account.contacts);
  await phone.client.syncCollection(account.calendar);
  assert.deepEqual(replicaData(phone, account.contacts).sort(), [card, added].sort());
  assert.deepEqual(replicaData(phone, account.calendar).sort(), [edited, stays].sort());

  // Server edits and deletes -> vdirsyncer.
  const cardEdited = card.replace('EMAIL:ada@example.org', 'EMAIL:ada@analytical.example');
  phone.replica.transaction((tx) => {
    recordLocalPut(tx, account.contacts, 'ada', cardEdited);
    recordLocalDelete(tx, account.calendar, 'launch');
  });
  await phone.client.syncCollection(account.contacts);
  await phone.client.syncCollection(account.calendar);
  await vdirsyncer(config, 'sync');
  assert.deepEqual(files(contactsDir).sort(), [cardEdited, added].sort());
  assert.deepEqual(files(calendarDir), [stays]);

  // vdirsyncer deletes -> server.
  unlinkSync(join(contactsDir, 'grace.vcf'));
  await vdirsyncer(config, 'sync');
  await phone.client.syncCollection(account.contacts);
  assert.deepEqual(replicaData(phone, account.contacts), [cardEdited]);

  // A second run with nothing new changes nothing on either side.
  const out = await vdirsyncer(config, 'sync');
  assert.doesNotMatch(out, /Copying|Deleting|Updating/);
});

test('vdirsyncer discover makes a local task list on the server (a calendar without a component set) and syncs its tasks and events both ways', async () => {
  const account = await newAccount(server);
  const dir = join(work, 'tasks');
  const local = join(dir, 'lists', 'chores');
  mkdirSync(local, { recursive: true });
  const config = join(dir, 'config');
  writeFileSync(
    config,
    `[general]
status_path = "${dir}/status/"

[pair lists]
a = "lists_local"
b = "lists_remote"
collections = ["from a"]

[storage lists_local]
type = "filesystem"
path = "${dir}/lists/"
fileext = ".ics"

[storage lists_remote]
type = "caldav"
url = "${server.url}/"
username = "${account.accountName}"
password = "${account.password}"
`,
  );
  const todo = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:vd-todo-1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Water the plants\r\nDUE:20260305T170000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`;
  const event = vevent('vd-list-ev', 'Plant market', '20260307T090000Z', '20260307T120000Z');
  writeFileSync(join(local, 'water.ics'), todo);
  writeFileSync(join(local, 'market.ics'), event);
  // discover creates the remote collection (vdirsyncer sends MKCOL with no component set); sync uploads both.
  await vdirsyncer(config, 'discover');
  await vdirsyncer(config, 'sync');
  const res = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: account.authorization } });
  const collections = ((await res.json()) as { collections: Array<{ id: string; name: string; kind: string }> }).collections;
  const calendar = collections.find((c) => c.name === 'chores');
  const tasks = collections.find((c) => c.name === 'chores.tasks');
  assert.ok(calendar && tasks, JSON.stringify(collections));
  const phone = sdkDevice(server.url, account.accountName, account.password, 'list-phone');
  await phone.client.syncCollection(tasks.id);
  await phone.client.syncCollection(calendar.id);
  assert.deepEqual(replicaData(phone, tasks.id), [todo]);
  assert.deepEqual(replicaData(phone, calendar.id), [event]);

  // A task the phone adds reaches the local list; one vdirsyncer completes reaches the phone.
  const added = todo.replace('vd-todo-1', 'vd-todo-2').replace('Water the plants', 'Repot the fern');
  phone.replica.transaction((tx) => recordLocalPut(tx, tasks.id, 'fern', added));
  await phone.client.syncCollection(tasks.id);
  await vdirsyncer(config, 'sync');
  assert.deepEqual(files(local).sort(), [todo, event, added].sort());
  const done = todo.replace('SUMMARY:Water the plants\r\n', 'SUMMARY:Water the plants\r\nSTATUS:COMPLETED\r\n');
  writeFileSync(join(local, 'water.ics'), done);
  await vdirsyncer(config, 'sync');
  await phone.client.syncCollection(tasks.id);
  assert.deepEqual(replicaData(phone, tasks.id).sort(), [done, added].sort());
  assert.doesNotMatch(await vdirsyncer(config, 'sync'), /Copying|Deleting|Updating/);
});
