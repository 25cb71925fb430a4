import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Store, TransactionTimer } from '../store/store.js';
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
 * PostgreSQL when `database` is set, else the SQLite file in the data directory (made if missing).
 * `onBusError`: what the PostgreSQL process bus reports. `timer` is told how long each transaction took.
 */
export async function openStore(config: { data: string; database: string }, onBusError?: (err: Error) => void, timer?: TransactionTimer): Promise<OpenedStore> {
  if (config.database !== '') {
    const store = await openPostgresStore(config.database, { ...postgresDefaults, timer }, onBusError);
    return { store, postgres: store };
  }
  mkdirSync(config.data, { recursive: true });
  const store = openSqliteStore(databaseFile(config.data), timer);
  return { store, foreignWrites: () => store.foreignWrites() };
}
