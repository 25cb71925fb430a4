import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { Hub } from '../hub/hub.js';
import { databaseFile } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { realPorts } from '../server/ports.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';

/** Admin commands find the data directory exactly as `serve` does: flag, environment, config file, default. */
export interface DataOptions {
  data?: string;
  config?: string;
}

export function addDataOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory (default ./data, env SYNCPOINT_DATA)')
    .option('--config <file>', 'JSON config file (env SYNCPOINT_CONFIG)');
}

/** Opens the hub straight on the data directory (safe while the server runs: SQLite WAL). */
export async function withLocalHub<T>(opts: DataOptions, fn: (hub: Hub) => Promise<T>): Promise<T> {
  const { data } = loadConfig({ ...(opts.data ? { data: opts.data } : {}), ...(opts.config ? { config: opts.config } : {}) }, process.env);
  mkdirSync(data, { recursive: true });
  const store = openSqliteStore(databaseFile(data));
  try {
    return await fn(new Hub(store, realPorts(pino({ level: 'warn' }, pino.destination(2)))));
  } finally {
    await store.close();
  }
}
