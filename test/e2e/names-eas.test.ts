import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { databaseFile } from '../../src/server/app.js';
import { openDatabase } from '../../src/sqlite/open.js';
import { easAccount, fh, folderEntries, textAt } from '../support/eas-client.js';
import { getJson, startTestServer, type TestServer } from '../support/server.js';

/**
 * Control characters in names on the ActiveSync face (docs/protocol.md § Names): FolderCreate and
 * FolderUpdate refuse them with the bad-request status, a DeviceType with one is refused, and a name
 * stored with NUL before the rule no longer turns every FolderSync of the account into a 500.
 * (The other faces are in dav-limits.test.ts.)
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

test('FolderCreate and FolderUpdate refuse a display name with a control character (status 10); nothing is stored', async () => {
  const account = await easAccount(server);
  const client = account.eas('NamesA');
  const key = textAt(await client.folderSync('0'), 'SyncKey');
  const created = await client.command('FolderCreate', fh('FolderCreate', fh('SyncKey', key), fh('ParentId', '0'), fh('DisplayName', 'Evil\u001b[2J'), fh('Type', '14')));
  assert.equal(textAt(created, 'Status'), '10');
  const updated = await client.command('FolderUpdate', fh('FolderUpdate', fh('SyncKey', key), fh('ServerId', account.contacts), fh('ParentId', '0'), fh('DisplayName', 'Bell\u0007')));
  assert.equal(textAt(updated, 'Status'), '10');
  const list = await getJson(`${server.url}/api/v1/collections`, account.authorization);
  assert.ok(!(list.body.collections as Array<{ displayName: string }>).some((c) => /[\u0000-\u001f]/.test(c.displayName)), JSON.stringify(list.body));
});

test('a DeviceType with a control character is refused with 400', async () => {
  const account = await easAccount(server);
  const res = await account.eas('NamesB', { deviceType: 'Phone\u0000' }).send('FolderSync', fh('FolderSync', fh('SyncKey', '0')));
  assert.equal(res.status, 400, res.text);
});

test('a folder name stored with NUL before the rule: FolderSync still answers, without the NUL', async () => {
  const account = await easAccount(server);
  openDatabase(databaseFile(server.dataDir)).prepare('UPDATE collections SET display_name = ? WHERE id = ?').run('Con\u0000tacts', account.contacts);
  const answer = await account.eas('NamesC').folderSync('0');
  assert.equal(textAt(answer, 'Status'), '1');
  assert.equal(folderEntries(answer, 'Add').find((f) => f.id === account.contacts)?.name, 'Contacts');
});
