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
