import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { Hub } from '../hub/hub.js';
import { databaseFile } from '../server/app.js';
import { realPorts } from '../server/ports.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';

/** Opens the hub straight on a data directory, for admin commands (safe while the server runs: WAL). */
export async function withLocalHub<T>(dataDir: string, fn: (hub: Hub) => Promise<T>): Promise<T> {
  mkdirSync(dataDir, { recursive: true });
  const store: Store = openSqliteStore(databaseFile(dataDir));
  try {
    return await fn(new Hub(store, realPorts(pino({ level: 'warn' }, pino.destination(2)))));
  } finally {
    await store.close();
  }
}
