import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../store/store.js';
import { openPostgresStore, postgresDefaults } from '../store/postgres/postgres-store.js';
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
}

/** PostgreSQL when `database` is set, else the SQLite file in the data directory (made if missing). `onBusError`: what the PostgreSQL process bus reports. */
export async function openStore(config: { data: string; database: string }, onBusError?: (err: Error) => void): Promise<OpenedStore> {
  if (config.database !== '') return { store: await openPostgresStore(config.database, postgresDefaults, onBusError) };
  mkdirSync(config.data, { recursive: true });
  const store = openSqliteStore(databaseFile(config.data));
  return { store, foreignWrites: () => store.foreignWrites() };
}
