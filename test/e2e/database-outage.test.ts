import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPgCluster, type PgCluster } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { collectionIds, syncOnce } from '../support/sync.js';

/**
 * While PostgreSQL is down (a restart, a crash), every face answers 503 with Retry-After instead of a 500
 * that says nothing was committed (docs/protocol.md §12.2), and the server carries on once it is back.
 */
let cluster: PgCluster;
let server: TestServer;

before(async () => {
  cluster = await startPgCluster();
  server = await startTestServer({ database: await cluster.createDatabase() });
});
after(async () => {
  await server.stop();
  cluster.stop();
});

test('with the database down every face answers 503 and Retry-After; once it is back, the same requests succeed', async () => {
  const user = await server.addUser('outage');
  const { contacts } = await collectionIds(server, user.authorization);
  assert.ok(contacts);
  const first = await syncOnce(server, user.authorization, 'phone', { collectionId: contacts, syncKey: 0 });
  const requests = {
    native: () => fetch(`${server.url}/api/v1/sync`, { method: 'POST', headers: { authorization: user.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ version: 1, device: { id: 'phone' }, collections: [{ collectionId: contacts, syncKey: first.syncKey }] }) }),
    dav: () => fetch(`${server.url}/dav/users/outage/contacts/`, { method: 'PROPFIND', headers: { authorization: user.authorization, depth: '0' } }),
    // A FolderSync without a body: the account is read before anything else (then the phone is told to send one).
    eas: () => fetch(`${server.url}/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=outage&DeviceId=Outage1&DeviceType=Phone`, { method: 'POST', headers: { authorization: user.authorization, 'ms-asprotocolversion': '14.1' } }),
  };
  cluster.crash();
  try {
    for (const [face, request] of Object.entries(requests)) {
      const res = await request();
      assert.equal(res.status, 503, face);
      assert.equal(res.headers.get('retry-after'), '5', face);
      const body = (await res.json()) as { status: string; retryAfterSeconds: number };
      assert.equal(body.status, 'unavailable', face);
    }
  } finally {
    cluster.restart();
  }
  for (const [face, request] of Object.entries(requests)) {
    let status = 0;
    // The pool's connections broke with the crash; the first requests may still meet one.
    for (let i = 0; i < 20 && (status === 0 || status === 503); i++) {
      const res = await request();
      status = res.status;
      await res.arrayBuffer();
      if (status === 503) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const expected = { native: [200], dav: [207], eas: [200, 400] }[face];
    assert.ok(expected?.includes(status), `${face} after the restart: ${status}`);
  }
});
