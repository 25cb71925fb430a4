import assert from 'node:assert/strict';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { easAccount, type EasAccount } from '../../../test/support/eas-client.js';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { Holds, type Holder } from './holds.js';

/**
 * The deadline lists of holds.ts, which no end-to-end test can wait out (a Ping's shortest heartbeat is
 * 30 s): holds of several lengths, each list in the order its holds came, end with nothing changed in the
 * order of their deadlines, on one timer; and the server's push hub lets each channel go.
 */
let server: TestServer;
let account: EasAccount;

before(async () => {
  server = await startTestServer();
  account = await easAccount(server);
});

after(async () => {
  await server.stop();
});

test('holds that time out end with nothing changed, in the order of their deadlines, and leave no channel', async () => {
  const holds = new Holds(server.hub, server.push, { info() {}, warn() {}, debug() {} });
  const row = await server.hub.accounts.get(account.accountId);
  assert.ok(row);
  const holder = (deviceId: string): Holder => ({
    accountId: account.accountId,
    deviceId,
    tokenId: undefined,
    credential: { accountId: account.accountId, tokenId: undefined, sessionIdHash: undefined, epoch: row.credentialEpoch },
  });
  const ended: Array<{ name: string; changed: readonly string[] }> = [];
  const http = createServer((req, res: ServerResponse) => {
    req.resume();
    const [name, waitMs] = (req.url ?? '').slice(1).split('/') as [string, string];
    void holds.hold(holder(`holds-${name}`), [account.contacts], Number(waitMs), res, (changed) => {
      ended.push({ name, changed });
      res.end(name);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      })
        .on('error', reject)
        .end();
    });
  try {
    const channelsBefore = server.push.size;
    // Two holds of 200 ms around one of 400 ms, after one of 600 ms: three lists, one of them of two.
    const answers: Array<Promise<string>> = [];
    for (const [name, waitMs] of [['long', 600], ['short1', 200], ['middle', 400], ['short2', 200]] as const) {
      answers.push(get(`/${name}/${waitMs}`));
      for (let i = 0; i < 100 && server.push.size < channelsBefore + answers.length; i++) await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(await Promise.all(answers), ['long', 'short1', 'middle', 'short2']);
    assert.deepEqual(ended.map((e) => e.name), ['short1', 'short2', 'middle', 'long']);
    assert.ok(ended.every((e) => e.changed.length === 0), 'nothing changed');
    assert.equal(server.push.size, channelsBefore, 'every channel let go');
  } finally {
    await new Promise((resolve) => http.close(resolve));
  }
});
