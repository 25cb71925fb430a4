import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { sdkDevice, type SdkDevice } from '../support/push.js';
import { startTestServer, vevent, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/**
 * python-caldav (Debian's python3-caldav 0.11, a real CalDAV client library) against the server, while
 * a native SDK device edits the same calendar: discovery, saving events, time-range searches, edits,
 * deletes, and RFC 6578 sync tokens that return exactly what changed since, whichever side changed it.
 * The Python side runs in phases (test/e2e/dav-caldav-client.py); the SDK device acts in between.
 */
const python = '/usr/bin/python3';
// .py files are not copied to dist: the script is found from the repository root.
const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/e2e/dav-caldav-client.py');

let server: TestServer;
const work = mkdtempSync(join(tmpdir(), 'syncpoint-caldav-python-'));

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Synced {
  url: string;
  data: string | null;
}

/** Runs one phase of the Python client without blocking: the server under test lives in this process. */
function caldavClient(phase: string, user: string, password: string, state: string, url = `${server.url}/dav/`): Promise<any> {
  return new Promise((resolvePhase, reject) => {
    const child = spawn(python, [script, phase, url, user, password, state], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`python-caldav phase ${phase} exited with ${code}:\n${out}\n${err}`));
      try {
        resolvePhase(JSON.parse(last));
      } catch {
        reject(new Error(`python-caldav phase ${phase} printed no JSON:\n${out}\n${err}`));
      }
    });
  });
}

const live = (device: SdkDevice, collectionId: string) =>
  device.replica
    .transaction((tx) => tx.all(collectionId))
    .filter((i) => i.data !== null && i.serverId !== null)
    .map((i) => ({ serverId: i.serverId as string, localId: i.localId, data: i.data as string }));

test('python-caldav and a native device share a calendar: save, search, edit, delete and sync tokens', async () => {
  const account = await newAccount(server);
  const state = join(work, 'state.json');
  const user = account.accountName;
  const calendarUrl = `${server.url}/dav/users/${user}/calendar/`;
  const phone = sdkDevice(server.url, user, account.password, 'phone');

  // The native device has one event before the Python client first looks.
  const standup = vevent('ts-standup', 'Standup (phone)', '20260311T083000Z', '20260311T084500Z', 'X-FROM-PHONE:yes\r\n');
  phone.replica.transaction((tx) => recordLocalPut(tx, account.calendar, 'standup', standup));
  await phone.client.syncCollection(account.calendar);
  const standupId = live(phone, account.calendar).find((i) => i.localId === 'standup')?.serverId;
  assert.ok(standupId, 'the phone has uploaded its event');
  const standupUrl = `${calendarUrl}${standupId}.ics`;

  // ---- Phase 1: discovery, initial sync, saving events, searches, the client's own changes.
  const first = await caldavClient('first', user, account.password, state);
  assert.equal(first.principal, `${server.url}/dav/principals/${user}/`);
  assert.equal(first.calendarHomeSet, `${server.url}/dav/users/${user}/`);
  // Calendars only (the address book is not one), each with its component.
  assert.deepEqual(first.calendars, [
    { url: calendarUrl, name: 'Calendar', components: ['VEVENT'] },
    { url: `${server.url}/dav/users/${user}/notes/`, name: 'Notes', components: ['VJOURNAL'] },
    { url: `${server.url}/dav/users/${user}/tasks/`, name: 'Tasks', components: ['VTODO'] },
  ]);
  // The first sync-token call returns everything: the phone's event, byte for byte.
  assert.deepEqual(first.initial, [{ url: standupUrl, data: standup }]);

  // save_event names the resource after the UID.
  assert.equal(first.saved.march.url, `${calendarUrl}py-march.ics`);
  assert.equal(first.saved.may.url, `${calendarUrl}py-may.ics`);
  assert.match(first.saved.march.data, /SUMMARY:Planning \(python\)\r\n/);

  // Time-range searches (calendar-query) find exactly the events that overlap the range.
  assert.deepEqual(first.dateSearchMarch, ['py-march', 'ts-standup']);
  assert.deepEqual(first.searchMay, ['py-may']);
  assert.deepEqual(first.searchSpring, ['py-march', 'py-may', 'ts-standup']);
  assert.deepEqual(first.searchAdjacent, []);
  assert.deepEqual(first.searchEmpty, []);
  assert.equal(first.eventByUid, 'Planning (python)');

  // A sync from the first token reports the client's own two writes, nothing else.
  assert.deepEqual(first.ownChanges, [
    { url: first.saved.march.url, data: first.saved.march.data },
    { url: first.saved.may.url, data: first.saved.may.data },
  ]);

  // The phone receives the Python client's events exactly as they were sent.
  await phone.client.syncCollection(account.calendar);
  const byData = (data: string) => live(phone, account.calendar).find((i) => i.data === data);
  assert.ok(byData(first.saved.march.data), 'the phone has the March event byte for byte');
  assert.ok(byData(first.saved.may.data), 'the phone has the May event byte for byte');
  assert.equal(live(phone, account.calendar).length, 3);

  // The phone moves its standup.
  const moved = standup.replace('SUMMARY:Standup (phone)', 'SUMMARY:Standup (moved on the phone)');
  phone.replica.transaction((tx) => recordLocalPut(tx, account.calendar, 'standup', moved));
  await phone.client.syncCollection(account.calendar);

  // ---- Phase 2: the next sync-token call returns only the phone's change; then Python edits and deletes.
  const second = await caldavClient('second', user, account.password, state);
  assert.deepEqual(second.changes, [{ url: standupUrl, data: moved }]);
  assert.match(second.edited, /SUMMARY:Planning \(moved by python\)\r\n/);
  assert.equal(second.mayAfterDelete, 'gone');
  // Its own edit and delete come back with the next token: the deleted member has no data.
  assert.deepEqual(second.ownChanges, [
    { url: first.saved.march.url, data: second.edited },
    { url: first.saved.may.url, data: null },
  ]);

  // The phone sees the edit (byte for byte) and the delete.
  await phone.client.syncCollection(account.calendar);
  assert.deepEqual(live(phone, account.calendar).map((i) => i.data).sort(), [moved, second.edited].sort());

  // The phone deletes its standup.
  phone.replica.transaction((tx) => recordLocalDelete(tx, account.calendar, 'standup'));
  await phone.client.syncCollection(account.calendar);

  // ---- Phase 3: the delete arrives as the only change; nothing after it; a bogus token is refused.
  const third = await caldavClient('third', user, account.password, state);
  const changes: Synced[] = third.changes;
  assert.deepEqual(changes, [{ url: standupUrl, data: null }]);
  assert.deepEqual(third.nothingNew, []);
  assert.deepEqual(third.events, [[first.saved.march.url, 'Planning (moved by python)']]);
  // python-caldav reports any 403 as an AuthorizationError; the server answers 403 valid-sync-token.
  assert.equal(third.bogusToken.error, 'AuthorizationError');
  assert.match(third.bogusToken.detail, /Forbidden/);
});

test('python-caldav save_todo and save_event on a calendar it makes with its defaults (no component set)', async () => {
  const account = await newAccount(server);
  const result = await caldavClient('tasks', account.accountName, account.password, join(work, 'tasks.json'));
  const base = `${server.url}/dav/users/${account.accountName}/errands/`;
  assert.deepEqual(result.components, ['VEVENT', 'VTODO']);
  assert.deepEqual(result.saved, [`${base}py-errand-event.ics`, `${base}py-todo.ics`]);
  assert.deepEqual(result.todos, ['py-todo']);
  assert.deepEqual(result.events, ['py-errand-event']);
  assert.deepEqual(result.synced, [`${base}py-errand-event.ics`, `${base}py-todo.ics`]);
});

test('python-caldav given only the server address (no path) finds the principal, the home and the calendars', async () => {
  const account = await newAccount(server);
  const user = account.accountName;
  // python-caldav sends PROPFIND / for current-user-principal; a redirect would lose the body (docs/dav.md § Setting up a client).
  const root = await caldavClient('root', user, account.password, join(work, 'root-state.json'), server.url);
  assert.equal(root.principal, `${server.url}/dav/principals/${user}/`);
  assert.equal(root.calendarHomeSet, `${server.url}/dav/users/${user}/`);
  assert.deepEqual(root.calendars, ['calendar', 'notes', 'tasks'].map((c) => `${server.url}/dav/users/${user}/${c}/`));
  assert.deepEqual(root.saved, { url: `${server.url}/dav/users/${user}/calendar/py-root.ics`, summary: 'Found from the root' });
  assert.deepEqual(root.afterDelete, []);
});
