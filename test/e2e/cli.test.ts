import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EasClient, st, textAt } from '../support/eas-client.js';
import { startPgCluster, type PgCluster } from '../support/postgres.js';

/** The `syncpoint` command as a user runs it: separate processes, a real data directory, real HTTP. */
const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'syncpoint-cli-'));
const data = join(work, 'data');

function run(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { env: { ...process.env, SYNCPOINT_LOG_LEVEL: 'warn', ...env } });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /serving (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
  });
  return { child, url };
}

const exitOf = (child: ChildProcess) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

after(() => rmSync(work, { recursive: true, force: true }));

describe('accounts and app passwords', () => {
  let server: { child: ChildProcess; url: string };
  before(async () => {
    assert.equal(run(['user', 'add', 'carol', '--password-stdin', '--data', data], 'carol-password\n').code, 0);
    server = await startServe(['--data', data, '--port', '0']);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await exitOf(server.child);
  });

  test('user add refuses a second account with the same name', () => {
    const r = run(['user', 'add', 'carol', '--password-stdin', '--data', data], 'another-password\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists/);
  });

  test('user email sets, shows and clears the address ActiveSync reports; user add takes one with --email', async () => {
    assert.equal(run(['user', 'add', 'erin', '--email', 'erin@example.com', '--password-stdin', '--data', data], 'erin-password\n').code, 0);
    assert.equal(run(['user', 'email', 'erin', '--data', data]).stdout, 'erin@example.com\n');
    const bad = run(['user', 'add', 'frank', '--email', 'frank', '--password-stdin', '--data', data], 'frank-password\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an email address/);
    assert.match(run(['user', 'email', 'carol', '--data', data]).stdout, /none set; ActiveSync reports carol/);
    assert.equal(run(['user', 'email', 'carol', 'carol@example.org', '--data', data]).code, 0);
    // The running server reports it to a phone at once.
    const phone = new EasClient({ baseUrl: server.url, user: 'carol', password: 'carol-password', deviceId: 'CliPhone1', version: '16.1' });
    const answer = await phone.command('Settings', st('Settings', st('UserInformation', st('Get'))));
    assert.equal(textAt(answer, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), 'carol@example.org');
    assert.match(run(['user', 'list', '--data', data]).stdout, /^carol\t\S+\tcarol@example\.org$/m);
    assert.equal(run(['user', 'email', 'carol', '--clear', '--data', data]).code, 0);
    assert.match(run(['user', 'email', 'carol', '--data', data]).stdout, /none set/);
    assert.equal(run(['user', 'email', 'carol', 'not-an-address', '--data', data]).code, 1);
  });

  test('user add refuses a short password', () => {
    const r = run(['user', 'add', 'dave', '--password-stdin', '--data', data], 'short\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /at least 8/);
  });

  test('a created token authenticates, is listed without its secret, and stops working when revoked', async () => {
    const created = run(['token', 'create', '--user', 'carol', '--label', 'phone', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^sp_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{32}$/);
    const id = token.slice(3, 15);
    const listed = run(['token', 'list', '--user', 'carol', '--data', data]);
    assert.match(listed.stdout, new RegExp(`^${id}\\tphone\\t`, 'm'));
    assert.ok(!listed.stdout.includes(token.slice(16)), 'the secret is never shown again');
    // Stored hashed: the database file does not contain the secret.
    assert.ok(!readFileSync(join(data, 'syncpoint.db')).includes(token.slice(16)));

    const bearer = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 200);
    const basic = await fetch(`${server.url}/api/v1/collections`, {
      headers: { authorization: `Basic ${Buffer.from(`carol:${token}`).toString('base64')}` },
    });
    assert.equal(basic.status, 200);
    assert.equal(run(['token', 'revoke', id, '--user', 'carol', '--data', data]).code, 0);
    const after = await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401);
  });

  test('sync keeps two folders in two-way sync, including edits and deletes', async () => {
    const [a, b] = [join(work, 'folder-a'), join(work, 'folder-b')];
    mkdirSync(a);
    writeFileSync(join(a, 'ann.vcf'), 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ann\r\nFN:Ann\r\nEND:VCARD\r\n');
    const args = (dir: string) => ['sync', dir, '--server', server.url, '--user', 'carol', '--collection', 'friends', '--password-stdin'];
    const syncDir = (dir: string) => {
      const r = run(args(dir), 'carol-password\n');
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.match(syncDir(a), /sent 1 new/);
    assert.match(syncDir(b), /received 1/);
    const [name] = readdirSync(b).filter((n) => n.endsWith('.vcf'));
    assert.ok(name);
    assert.equal(readFileSync(join(b, name), 'utf8'), readFileSync(join(a, 'ann.vcf'), 'utf8'), 'byte for byte');
    writeFileSync(join(b, name), 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ann\r\nFN:Ann Smith\r\nEND:VCARD\r\n');
    assert.match(syncDir(b), /1 changed/);
    syncDir(a);
    assert.match(readFileSync(join(a, 'ann.vcf'), 'utf8'), /FN:Ann Smith/);
    rmSync(join(a, 'ann.vcf'));
    assert.match(syncDir(a), /1 deleted/);
    assert.match(syncDir(b), /1 removed/);
    assert.deepEqual(readdirSync(b).filter((n) => n.endsWith('.vcf')), []);
    // The password can also come from the environment, and a wrong one is refused clearly.
    const wrong = run(['sync', b, '--server', server.url, '--user', 'carol', '--collection', 'friends'], undefined, { SYNCPOINT_PASSWORD: 'nope-nope' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /401|credentials/);
  });

  test('import uploads a large export, refuses bad items alone, and adds nothing twice when re-run', async () => {
    const cards = Array.from({ length: 1500 }, (_, i) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:imp-${i}\r\nFN:Person ${i}\r\nEND:VCARD\r\n`);
    cards.splice(700, 0, 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:broken\r\nEND:VCARD\r\n');
    const file = join(work, 'export.vcf');
    writeFileSync(file, cards.join(''));
    const args = ['import', file, '--server', server.url, '--user', 'carol', '--collection', 'imported'];
    const first = run(args, undefined, { SYNCPOINT_PASSWORD: 'carol-password' });
    assert.equal(first.code, 2, 'a refused item makes the exit status non-zero');
    assert.match(first.stdout, /imported 1500 of 1501 items/);
    assert.match(first.stderr, /refused item-700: invalidItem: vCard has no FN/);
    assert.match(first.stderr, /1501\/1501/, 'the progress bar reaches the end');
    run(args, undefined, { SYNCPOINT_PASSWORD: 'carol-password' });
    const dir = join(work, 'imported');
    const r = run(['sync', dir, '--server', server.url, '--user', 'carol', '--collection', 'imported'], undefined, { SYNCPOINT_PASSWORD: 'carol-password' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.vcf')).length, 1500);
  });
});

describe('serve', () => {
  test('takes its settings from flags, environment and a config file, and stops cleanly on SIGTERM', async () => {
    const dir = join(work, 'serve-data');
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ host: '127.0.0.1', port: 0, data: join(work, 'from-file') }));
    // The flag beats the environment, which beats the file.
    const { child, url } = await startServe(['--config', config, '--data', dir], { SYNCPOINT_DATA: join(work, 'from-env') });
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.db')), ['syncpoint.db']);
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0);
    const env = await startServe(['--config', config], { SYNCPOINT_DATA: join(work, 'from-env') });
    assert.ok(readdirSync(join(work, 'from-env')).includes('syncpoint.db'));
    env.child.kill('SIGTERM');
    assert.equal(await exitOf(env.child), 0);
  });

  test('a second serve on one data directory is refused while the first runs; the admin commands are not; after a kill -9 a new serve starts', async () => {
    const dir = join(work, 'one-server');
    const first = await startServe(['--data', dir, '--port', '0']);
    const servers = [first.child];
    try {
      const second = run(['serve', '--data', dir, '--port', '0']);
      assert.equal(second.code, 1);
      assert.equal(second.stderr, `syncpoint: another syncpoint serve is using ${dir} (pid ${first.child.pid}); use PostgreSQL (--database) to run several processes\n`);
      assert.equal(run(['user', 'add', 'dora', '--password-stdin', '--data', dir], 'dora-password\n').code, 0, 'user add works beside the server');
      assert.equal((await fetch(`${first.url}/health`)).status, 200, 'the first server carries on');

      first.child.kill('SIGKILL');
      await exitOf(first.child);
      const next = await startServe(['--data', dir, '--port', '0']);
      servers.push(next.child);
      const authorization = `Basic ${Buffer.from('dora:dora-password').toString('base64')}`;
      assert.equal((await fetch(`${next.url}/api/v1/collections`, { headers: { authorization } })).status, 200);
      assert.equal(run(['serve', '--data', dir, '--port', '0']).code, 1, 'and holds the directory in turn');
      next.child.kill('SIGTERM');
      assert.equal(await exitOf(next.child), 0);
      assert.ok(!readdirSync(dir).includes('syncpoint.pid'), 'a clean stop removes the pid file');
    } finally {
      // A failed assertion must not leave a server running, which would hold the test run open.
      for (const child of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('refuses a bad configuration with a clear message', () => {
    const r = run(['serve', '--port', 'eighty'], undefined, {});
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid configuration: port/);
  });
});

describe('on PostgreSQL', () => {
  let cluster: PgCluster;
  let database: string;
  const servers: ChildProcess[] = [];
  before(async () => {
    cluster = await startPgCluster();
    database = await cluster.createDatabase();
  });
  after(async () => {
    // Each server is kept as soon as it serves, so a failure starting the next cannot leave it running (holding the test run open).
    for (const child of servers) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = exitOf(child);
      child.kill('SIGTERM');
      await exited;
    }
    cluster.stop();
  });

  test('user add takes --database, two serve processes on it (one given SYNCPOINT_DATABASE) serve the same account, and a change made through one is read through the other', async () => {
    assert.equal(run(['user', 'add', 'dana', '--password-stdin', '--database', database], 'dana-password\n').code, 0);
    assert.match(run(['user', 'list', '--database', database]).stdout, /dana/);
    const one = await startServe(['--database', database, '--port', '0']);
    servers.push(one.child);
    const two = await startServe(['--port', '0'], { SYNCPOINT_DATABASE: database });
    servers.push(two.child);
    const authorization = `Basic ${Buffer.from('dana:dana-password').toString('base64')}`;
    const collections = async (url: string) => ((await (await fetch(`${url}/api/v1/collections`, { headers: { authorization } })).json()) as { collections: { id: string; name: string }[] }).collections;
    const made = await fetch(`${one.url}/api/v1/collections`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shared', kind: 'contacts' }),
    });
    assert.equal(made.status, 201, await made.clone().text());
    assert.ok((await collections(two.url)).some((c) => c.name === 'shared'), 'the other process reads what this one wrote');
    assert.ok(!run(['user', 'list', '--data', join(work, 'empty')]).stdout.includes('dana'), 'without --database the CLI reads its SQLite data directory, which has no dana');
  });
});
