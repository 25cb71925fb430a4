import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ChangeNotice } from '../../src/protocol/push.js';
import { openRawChannel } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/** A DAV client is a sync point like any other: its writes are pushed to the account's other devices. */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

test('a CardDAV PUT and DELETE reach a push-connected device at once, as the DAV sync point', async () => {
  const account = await newAccount(server);
  const channel = openRawChannel(server.url, { device: 'phone' }, { authorization: account.authorization });
  await channel.next((m) => m.type === 'hello');
  const url = `${server.url}/dav/users/${account.accountName}/contacts/pushed.vcf`;
  const card = vcard('dav-push', 'Pushed From DAV');
  const put = await fetch(url, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'text/vcard' }, body: card });
  assert.equal(put.status, 201);
  const added = (await channel.next((m) => m.type === 'change' && m.command.op === 'add')) as ChangeNotice;
  assert.equal(added.collectionId, account.contacts);
  assert.ok(added.command.op === 'add' && added.command.data === card, 'the notice carries the bytes the DAV client sent');
  assert.equal(`"${added.command.etag}"`, put.headers.get('etag'));

  const del = await fetch(url, { method: 'DELETE', headers: { authorization: account.authorization } });
  assert.equal(del.status, 204);
  const deleted = (await channel.next((m) => m.type === 'change' && m.command.op === 'delete')) as ChangeNotice;
  assert.equal(deleted.command.serverId, added.command.serverId);

  // The DAV client appears among the account's sync points.
  const devices = (await (await fetch(`${server.url}/api/v1/devices`, { headers: { authorization: account.authorization } })).json()) as { devices: Array<{ id: string; protocol: string }> };
  assert.ok(devices.devices.some((d) => d.id === 'dav-password' && d.protocol === 'carddav'), JSON.stringify(devices));
  channel.socket.close();
});
