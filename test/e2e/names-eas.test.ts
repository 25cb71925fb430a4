import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeWbxml, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { easAccount, fh, textAt } from '../support/eas-client.js';
import { getJson, startTestServer, type TestServer } from '../support/server.js';

/**
 * Control characters in names on the ActiveSync face (docs/protocol.md § Names): FolderCreate and
 * FolderUpdate refuse them with the bad-request status, and a DeviceType with one is refused. (A name
 * stored before the rule is sent as U+FFFD: eas-limits.test.ts; the other faces are in dav-limits.test.ts.)
 */

let server: TestServer;

/**
 * The request's bytes with each `~` turned into the control character `byte`: our encoder (shared with the
 * server) sends such characters as U+FFFD, but a device may send them raw, and WBXML strings can carry them.
 */
function withControl(body: WbxmlElement, byte: number): Uint8Array {
  return encodeWbxml(body).map((b) => (b === 0x7e ? byte : b));
}

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
  const created = await client.command('FolderCreate', withControl(fh('FolderCreate', fh('SyncKey', key), fh('ParentId', '0'), fh('DisplayName', 'Evil~[2J'), fh('Type', '14')), 0x1b));
  assert.equal(textAt(created, 'Status'), '10');
  const updated = await client.command('FolderUpdate', withControl(fh('FolderUpdate', fh('SyncKey', key), fh('ServerId', account.contacts), fh('ParentId', '0'), fh('DisplayName', 'Bell~')), 0x07));
  assert.equal(textAt(updated, 'Status'), '10');
  const list = await getJson(`${server.url}/api/v1/collections`, account.authorization);
  assert.ok(!(list.body.collections as Array<{ displayName: string }>).some((c) => /[\u0000-\u001f]/.test(c.displayName)), JSON.stringify(list.body));
});

test('a DeviceType with a control character is refused with 400', async () => {
  const account = await easAccount(server);
  const res = await account.eas('NamesB', { deviceType: 'Phone\u0000' }).send('FolderSync', fh('FolderSync', fh('SyncKey', '0')));
  assert.equal(res.status, 400, res.text);
});
