import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { noStoreOptions, type Store, type StoreOptions, type TransactionTimer } from '../store/store.js';
import { openPostgresStore, postgresDefaults, type PostgresStore } from '../store/postgres/postgres-store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';

export const databaseFile = (dataDir: string) => join(dataDir, 'syncpoint.db');

/** The store a configuration names, and what only one backend can tell. */
export interface OpenedStore {
  store: Store;
  /**
   * SQLite only: a number that moves when another process (the CLI) committed to the file, so push
   * re-checks credentials (src/push/push-hub.ts).
   */
  foreignWrites?: () => number;
  /** PostgreSQL only: the pool and the retry count, for the operator's metrics (src/server/metrics.ts). */
  postgres?: Pick<PostgresStore, 'pool' | 'retries'>;
}

/**
 * The push token floor of a server that starts at `nowMs` (StoreOptions.pushTokenFloor): 1024 tokens for
 * every millisecond since 1970. A device's counter grows by one per token, and since the last start (which
 * raised it to that start's floor) it got fewer than 1024 tokens a millisecond (a commit gives a device at
 * most 100, and its commits are one at a time), so it stays below the floor of any later start: whatever a
 * restored backup set the counters back to, no number already sent comes back (docs/operations.md §
 * Backups). Tokens stay safe integers until the year 2248.
 */
export const pushTokenFloorAt = (nowMs: number) => nowMs * 1024;

/**
 * PostgreSQL when `database` is set, else the SQLite file in the data directory (made if missing).
 * `onBusError`: what the PostgreSQL process bus reports. `timer` is told how long each transaction took.
 * `options` for a server; the admin commands, which issue no push tokens, need none.
 */
export async function openStore(
  config: { data: string; database: string },
  onBusError?: (err: Error) => void,
  timer?: TransactionTimer,
  options: StoreOptions = noStoreOptions,
): Promise<OpenedStore> {
  if (config.database !== '') {
    const store = await openPostgresStore(config.database, { ...postgresDefaults, ...options, timer }, onBusError);
    return { store, postgres: store };
  }
  mkdirSync(config.data, { recursive: true });
  const store = openSqliteStore(databaseFile(config.data), timer, options);
  return { store, foreignWrites: () => store.foreignWrites() };
}
