/**
 * DAV clients' own test suites (`npm run bench:clients -- --python-caldav DIR --vdirsyncer DIR`; run by
 * hand, never in CI): the functional tests two clients ship for checking servers, run against Syncpoint
 * and against Debian's Radicale, each suite file on a fresh server and account, with their passed, failed
 * and skipped counts side by side and the failed tests named. Results go to
 * bench/results/client-suites-latest.json.
 *
 * The suites are not in this repository, and Debian's packages carry neither: DIR is a checkout of each
 * project at the version Debian installs (python-caldav v0.11.0 for python3-caldav, vdirsyncer 0.19.0),
 * whose tests then run with Debian's python3 and libraries (python3-pytest, python3-pytest-asyncio,
 * python3-hypothesis, python3-aioresponses, python3-trustme, python3-pytest-httpserver). Each run copies
 * the suite's `tests` folder into a temporary folder and adds only what names the server: python-caldav's
 * `conf_private.py`, and for vdirsyncer a server mixin like its own ones that reads the URL from the
 * environment. Neither server gets compatibility flags, so both answer the same tests.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, freePort, startRadicale, startServer, stopServer, writeResults } from './server-process.js';

const option = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const python = '/usr/bin/python3';
const account = { user: 'suite', password: 'suite-password-0123' };

interface Target {
  server: 'Syncpoint' | 'Radicale';
  url: string;
  stop(): Promise<void>;
}

interface Row {
  suite: string;
  server: Target['server'];
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
  failures: string[];
}

async function start(server: Target['server'], dir: string): Promise<Target> {
  if (server === 'Radicale') {
    const { base, child } = await startRadicale(dir);
    return { server, url: `${base}/`, stop: async () => void child.kill() };
  }
  createAccount(dir, account);
  const port = await freePort();
  const child: ChildProcess = await startServer(['serve', '--data', dir, '--port', String(port), '--host', '127.0.0.1'], false, true);
  return { server, url: `http://127.0.0.1:${port}/`, stop: () => stopServer(child) };
}

/** pytest's counts from its last line ("4 failed, 31 passed, 1 skipped, 73 deselected in 7.67s") and the FAILED lines of -rf. */
function counts(output: string): Omit<Row, 'suite' | 'server'> {
  const last = output.trim().split('\n').at(-1) ?? '';
  const n = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(last)?.[1] ?? 0);
  if (!/ in [\d.]+s/.test(last)) throw new Error(`pytest ended without its summary:\n${output.slice(-2000)}`);
  const failures = [...output.matchAll(/^(?:FAILED|ERROR) (\S+)/gm)].map((m) => (m[1] as string).split('::').at(-1) as string);
  return { passed: n('passed'), failed: n('failed'), skipped: n('skipped'), errors: n('errors?'), failures };
}

function pytest(cwd: string, args: string[], env: Record<string, string> = {}): string {
  const run = spawnSync(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-o', 'addopts=', '--tb=no', '-rfE', ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  return `${run.stdout}${run.stderr}`;
}

/** python-caldav's functional tests (tests/test_caldav.py) against one private server, as its conf_private.py names one. */
async function pythonCaldav(checkout: string, server: Target['server'], work: string): Promise<Row> {
  const dir = mkdtempSync(join(work, 'python-caldav-'));
  cpSync(join(checkout, 'tests'), join(dir, 'tests'), { recursive: true });
  const target = await start(server, mkdtempSync(join(work, 'server-')));
  try {
    writeFileSync(
      join(dir, 'tests/conf_private.py'),
      [
        `caldav_servers = [{'url': '${target.url}', 'username': '${account.user}', 'password': '${account.password}', 'incompatibilities': []}]`,
        'test_public_test_servers = False',
        'test_private_test_servers = True',
        'test_xandikos = False',
        'test_radicale = False',
        '',
      ].join('\n'),
    );
    return { suite: 'python-caldav tests/test_caldav.py', server, ...counts(pytest(dir, ['tests/test_caldav.py', '-k', 'TestForServer'])) };
  } finally {
    await target.stop();
  }
}

/** A vdirsyncer server mixin like the suite's own (tests/storage/servers/*), for a server already running at DAV_URL. */
const vdirsyncerMixin = `import os

import pytest


class ServerMixin:
    @pytest.fixture
    def get_storage_args(self, request, tmpdir, slow_create_collection, aio_connector):
        async def inner(collection="test"):
            args = {"url": os.environ["DAV_URL"], "connector": aio_connector, "username": os.environ["DAV_USER"], "password": os.environ["DAV_PASSWORD"]}
            if collection is not None:
                args = await slow_create_collection(self.storage_class, args, collection)
            return args

        return inner
`;

/** One of vdirsyncer's DAV storage test files against a fresh server. */
async function vdirsyncer(checkout: string, file: string, server: Target['server'], work: string): Promise<Row> {
  const dir = mkdtempSync(join(work, 'vdirsyncer-'));
  cpSync(join(checkout, 'tests'), join(dir, 'tests'), { recursive: true });
  mkdirSync(join(dir, 'tests/storage/servers/bench_target'), { recursive: true });
  writeFileSync(join(dir, 'tests/storage/servers/bench_target/__init__.py'), vdirsyncerMixin);
  const target = await start(server, mkdtempSync(join(work, 'server-')));
  try {
    const env = { DAV_SERVER: 'bench_target', DAV_URL: target.url, DAV_USER: account.user, DAV_PASSWORD: account.password };
    return { suite: `vdirsyncer ${file}`, server, ...counts(pytest(dir, [file], env)) };
  } finally {
    await target.stop();
  }
}

async function main(): Promise<void> {
  const caldavCheckout = option('python-caldav');
  const vdirsyncerCheckout = option('vdirsyncer');
  if (!caldavCheckout && !vdirsyncerCheckout) throw new Error('give --python-caldav DIR and/or --vdirsyncer DIR: checkouts of the clients (see the top of bench/client-suites.ts)');
  for (const dir of [caldavCheckout, vdirsyncerCheckout]) if (dir && !existsSync(join(dir, 'tests'))) throw new Error(`${dir} has no tests folder`);
  if (spawnSync(python, ['-c', 'import pytest, pytest_asyncio, caldav, vdirsyncer']).status !== 0) {
    throw new Error('Debian packages missing: apt-get install python3-pytest python3-pytest-asyncio python3-hypothesis python3-aioresponses python3-trustme python3-pytest-httpserver python3-caldav vdirsyncer radicale');
  }
  const work = mkdtempSync(join(tmpdir(), 'client-suites-'));
  const rows: Row[] = [];
  try {
    for (const server of ['Syncpoint', 'Radicale'] as const) {
      if (caldavCheckout) rows.push(await pythonCaldav(caldavCheckout, server, work));
      if (vdirsyncerCheckout) for (const file of ['tests/storage/dav/test_caldav.py', 'tests/storage/dav/test_carddav.py']) rows.push(await vdirsyncer(vdirsyncerCheckout, file, server, work));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${'suite'.padEnd(46)} ${'server'.padEnd(10)} passed failed skipped errors`);
  for (const r of rows) console.log(`${r.suite.padEnd(46)} ${r.server.padEnd(10)} ${String(r.passed).padStart(6)} ${String(r.failed).padStart(6)} ${String(r.skipped).padStart(7)} ${String(r.errors).padStart(6)}`);
  for (const server of ['Syncpoint', 'Radicale'] as const) {
    const mine = rows.filter((r) => r.server === server);
    const sum = (key: 'passed' | 'failed') => mine.reduce((n, r) => n + r[key], 0);
    console.log(`${server}: ${sum('passed')} passed, ${sum('failed')} failed${mine.some((r) => r.failures.length) ? `; failed: ${mine.flatMap((r) => r.failures).join(', ')}` : ''}`);
  }
  console.log(`written to ${writeResults('client-suites', { rows })}`);
}

await main();
