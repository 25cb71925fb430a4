import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { recordLocalPut } from '../../src/sdk/replica.js';
import { eventually, sdkDevice } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount } from '../support/sync.js';

/** `syncpoint watch` and `syncpoint sync DIR --watch` as separate processes against a real server. */
const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'syncpoint-cli-push-'));
let server: TestServer;

before(async () => {
  server = await startTestServer({ pushHeartbeatSeconds: 1 });
});

after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

function spawnCli(args: string[], password: string): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, SYNCPOINT_PASSWORD: password } });
  const lines: string[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
  });
  return { child, lines };
}

const stopped = (child: ChildProcess) =>
  new Promise<number | null>((r) => {
    child.on('exit', (code) => r(code));
    child.kill('SIGTERM');
  });

test('watch prints each notification as one JSON line', async () => {
  const account = await newAccount(server);
  const { child, lines } = spawnCli(['watch', '--server', server.url, '--user', account.accountName, '--device', 'terminal'], account.password);
  await eventually(() => lines.some((l) => JSON.parse(l).type === 'hello'), 'the hello line');
  const writer = sdkDevice(server.url, account.accountName, account.password, 'writer');
  await writer.client.syncCollection(account.contacts);
  writer.replica.transaction((tx) => recordLocalPut(tx, account.contacts, 'w', vcard('watched', 'Watched Person')));
  await writer.client.syncCollection(account.contacts);
  await eventually(() => lines.some((l) => l.includes('"type":"change"')), 'the change line');
  const change = JSON.parse(lines.find((l) => l.includes('"type":"change"')) as string);
  assert.equal(change.collectionId, account.contacts);
  assert.equal(change.command.op, 'add');
  assert.match(change.command.data, /FN:Watched Person/);
  assert.equal(await stopped(child), 0);
});

test('sync DIR --watch writes pushed changes to the folder and sends local edits', async () => {
  const account = await newAccount(server);
  const dir = join(work, 'folder');
  const { child, lines } = spawnCli(['sync', dir, '--watch', '--server', server.url, '--user', account.accountName, '--collection', 'contacts'], account.password);
  await eventually(() => lines.includes('watching; Ctrl-C stops'), 'the watch to start', 20_000);

  const phone = sdkDevice(server.url, account.accountName, account.password, 'phone');
  await phone.client.syncCollection(account.contacts);
  phone.replica.transaction((tx) => recordLocalPut(tx, account.contacts, 'p', vcard('from-phone', 'Pushed Here')));
  await phone.client.syncCollection(account.contacts);
  const files = () => readdirSync(dir).filter((n) => n.endsWith('.vcf'));
  await eventually(() => files().some((n) => readFileSync(join(dir, n), 'utf8').includes('Pushed Here')), 'the pushed card in the folder');

  writeFileSync(join(dir, 'typed.vcf'), vcard('from-folder', 'Typed There'));
  await eventually(() => lines.some((l) => l.startsWith('local: 1 new')), 'the folder edit to be picked up');
  const seen = async () => {
    await phone.client.syncCollection(account.contacts);
    return phone.replica.transaction((tx) => tx.all(account.contacts)).some((i) => i.data?.includes('Typed There'));
  };
  const deadline = Date.now() + 10_000;
  while (!(await seen())) {
    assert.ok(Date.now() < deadline, 'the folder edit reached the phone');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await stopped(child), 0);
});
