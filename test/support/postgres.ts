import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: Debian's server binaries, initdb and pg_ctl
 * in a temporary folder, listening on 127.0.0.1 at a free port, stopped and deleted after. It never
 * touches a system cluster. PostgreSQL refuses to run as root, so as root the cluster runs as the
 * `postgres` user the Debian package creates.
 */
export interface PgCluster {
  /** The superuser's URL of the cluster's `postgres` database. */
  url: string;
  port: number;
  /** A new empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /** `pg_ctl stop -m immediate` then start again: a crash of the database server, its data kept. */
  crashAndRestart(): void;
  /** `pg_ctl stop -m immediate` alone: the database is down, its data kept, until `restart`. */
  crash(): void;
  restart(): void;
  stop(): void;
}

/** The newest installed server's bin folder, or undefined when no PostgreSQL server is installed. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin/pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let databases = 0;

/** Runs `fn` on a connection of its own to `url`, closed after. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Makes a new empty database in the cluster at `adminUrl`; returns its URL. */
export async function createDatabase(adminUrl: string): Promise<string> {
  const name = `syncpoint_${process.pid}_${++databases}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** Set by test/support/with-postgres.ts: the cluster every test server of the run makes its database in. */
export const testPostgresEnv = 'SYNCPOINT_TEST_POSTGRES';

/** Where the cluster's folder goes (the system's temporary folder by default), and more server settings (`-c name=value`). */
export interface PgClusterOptions {
  dir?: string;
  settings?: Record<string, string>;
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql; .ci/setup does)');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(options.dir ?? tmpdir(), 'syncpoint-pg-'));
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (tool: string, args: string[]) => {
    const command = asRoot ? 'runuser' : join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    const done = spawnSync(command, argv, { encoding: 'utf8', cwd: dir });
    if (done.status !== 0) throw new Error(`${tool} failed (${done.status}): ${done.stderr}${done.stdout}`);
  };
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'syncpoint', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  // Loopback only, the socket in the folder; fsync stays on, as in production (unless `settings` say otherwise).
  const extra = Object.entries(options.settings ?? {}).map(([name, value]) => ` -c ${name}=${value}`);
  const serverOptions = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c max_connections=200${extra.join('')}`;
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', serverOptions, '-w', '-t', '60', 'start']);
  start();
  const crash = () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  const url = `postgres://syncpoint@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    createDatabase: () => createDatabase(url),
    crashAndRestart() {
      crash();
      start();
    },
    crash,
    restart: start,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
