import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/sqlite/open.js';
import { openPostgresStore, postgresDefaults } from '../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store, StoreTx } from '../src/store/store.js';
import { startPgCluster, withClient, type PgCluster } from '../test/support/postgres.js';

/**
 * Where the simulated server keeps its data: a SQLite file (the default) or a PostgreSQL database in a
 * throwaway cluster started once for the whole run (`--database postgres`), a fresh one for every seed.
 * A server crash is the same on both: the store's connections go away without committing anything more,
 * and the store is opened again on the same data, so what was committed survives and nothing else does.
 */

export type DatabaseKind = 'sqlite' | 'postgres';

/** One seed's data, which outlives the server's restarts. */
export interface SeedDatabase {
  /** Opens the store on what the seed's server committed so far. */
  open(): Promise<Store>;
  /** The server process dies: its store's connections end, committing nothing that was not committed. */
  crash(store: Store): Promise<void>;
  /** Rows read straight from the tables, not through the store under test (`?` marks a parameter). */
  select<T>(sql: string, params: readonly string[]): Promise<T[]>;
  /** Removes the data (the store is closed). */
  drop(): Promise<void>;
}

/** A run's supply of seed databases. */
export interface SimDatabases {
  readonly kind: DatabaseKind;
  forSeed(): Promise<SeedDatabase>;
  /** Stops what the run started (the PostgreSQL cluster). */
  close(): Promise<void>;
}

// A tmpfs keeps thousands of synchronous=FULL commits cheap; durability across restarts only needs
// the file to outlive the connection (and the cluster's files to outlive its clients).
const scratchRoot = writable('/dev/shm') ? '/dev/shm' : tmpdir();

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A SQLite file per seed in a folder of its own; a crash closes the connection, as a process exit would. */
export const sqliteDatabases: SimDatabases = {
  kind: 'sqlite',
  async forSeed() {
    const dir = mkdtempSync(join(scratchRoot, 'syncpoint-sim-'));
    const file = join(dir, 'syncpoint.db');
    return {
      open: async () => openSqliteStore(file),
      crash: (store) => store.close(),
      async select<T>(sql: string, params: readonly string[]) {
        const { db, prepare } = openDatabase(file);
        try {
          return prepare<string[], T>(sql).all(...params);
        } finally {
          db.close();
        }
      },
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  close: async () => undefined,
};

/**
 * A throwaway PostgreSQL cluster (test/support/postgres.ts) on a tmpfs, for the run; each seed gets a new
 * database copied from a template the store has migrated once, and dropped after the seed. The cluster
 * does not wait for the disk at COMMIT (synchronous_commit off): a committed transaction is visible to
 * every connection at once and survives the end of the connections that made it, which is the crash the
 * simulator makes; only a crash of PostgreSQL itself or the machine could lose it (the multi-process fault
 * test's business, not this one's).
 */
export async function startPostgresDatabases(): Promise<SimDatabases> {
  const cluster: PgCluster = await startPgCluster({ dir: scratchRoot, settings: { synchronous_commit: 'off' } });
  try {
    const template = await cluster.createDatabase();
    await (await openPostgresStore(template)).close();
    const templateName = databaseName(template);
    let made = 0;
    return {
      kind: 'postgres',
      async forSeed() {
        const name = `sim_${process.pid}_${++made}`;
        await withClient(cluster.url, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${templateName} STRATEGY FILE_COPY`));
        const url = new URL(cluster.url);
        url.pathname = `/${name}`;
        return postgresSeed(cluster.url, url.href);
      },
      async close() {
        cluster.stop();
      },
    };
  } catch (err) {
    cluster.stop();
    throw err;
  }
}

const databaseName = (url: string) => new URL(url).pathname.slice(1);

function postgresSeed(adminUrl: string, url: string): SeedDatabase {
  const name = databaseName(url);
  // The server ends every session of the store, from outside, as when the process holding them dies:
  // a transaction open on one is rolled back, and session advisory locks go with it.
  const endSessions = () => withClient(adminUrl, (c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]));
  return {
    open: async () => oneAtATime(await openPostgresStore(url, postgresDefaults)),
    async crash(store) {
      await endSessions();
      // What is left is the dead pool's bookkeeping.
      await store.close();
    },
    async select<T>(sql: string, params: readonly string[]) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      return withClient(url, async (c) => (await c.query(text, [...params])).rows as T[]);
    },
    async drop() {
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`));
    },
  };
}

/**
 * `store` with its transactions run one after another in the order they were asked for, as the SQLite
 * store runs them (a promise chain), so that a seed replays exactly. The simulated server has one
 * account, and PostgreSQL already runs its transactions one at a time (the account's advisory lock:
 * src/store/postgres/account-gate.ts), but in the order their lock requests reach the server, which the
 * sockets decide; this makes it the order of the calls. Waiting in that lock, and transactions of several
 * accounts or processes at once, are the conformance suite's and the multi-process fault test's business.
 */
function oneAtATime(store: Store): Store {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      const run = () => store.transaction(fn);
      const next = tail.then(run, run);
      tail = next.catch(() => undefined);
      return next;
    },
    observeCommits: (observer) => store.observeCommits(observer),
    tryExclusive: (name, fn) => store.tryExclusive(name, fn),
    close: () => store.close(),
  };
}

/** The databases of a run on `kind`, started for it. */
export function startDatabases(kind: DatabaseKind): Promise<SimDatabases> {
  return kind === 'postgres' ? startPostgresDatabases() : Promise.resolve(sqliteDatabases);
}
