import type { Command } from 'commander';
import type { Hub } from '../hub/hub.js';
import { loadConfig, type Config } from '../server/config.js';

/** Admin commands find the data directory exactly as `serve` does: flag, environment, config file, default. */
export interface DataOptions {
  data?: string;
  database?: string;
  config?: string;
}

export function addDataOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory (default ./data, env SYNCPOINT_DATA)')
    .option('--database <url>', 'a postgres:// URL instead of SQLite in the data directory (env SYNCPOINT_DATABASE)')
    .option('--config <file>', 'JSON config file (env SYNCPOINT_CONFIG)');
}

/** `upstream add` made the SQLite default key file: its user must know to keep it (docs/operations.md § Upstream servers). */
const keyMade = (path: string, keyId: string) => process.stderr.write(`created the secret key file ${path} (key ${keyId}); keep it, and keep it out of the data directory’s backups\n`);

/** Opens the hub straight on the store (safe while servers run: SQLite WAL, or PostgreSQL's own transactions). */
export async function withLocalHub<T>(opts: DataOptions & { secretKeyFile?: string }, fn: (hub: Hub, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(
    { ...(opts.data ? { data: opts.data } : {}), ...(opts.database ? { database: opts.database } : {}), ...(opts.config ? { config: opts.config } : {}), ...(opts.secretKeyFile ? { secretKeyFile: opts.secretKeyFile } : {}) },
    process.env,
  );
  // Loaded here, not at the top: a command that needs no hub (help, a remote sync) does not load it.
  const [{ pino }, { Hub }, { openStore }, { realPorts }, { upstreamAccess }] = await Promise.all([
    import('pino'),
    import('../hub/hub.js'),
    import('../server/open-store.js'),
    import('../server/ports.js'),
    import('../server/upstream-connector.js'),
  ]);
  const { store } = await openStore(config);
  try {
    return await fn(new Hub(store, realPorts(pino({ level: 'warn' }, pino.destination(2))), upstreamAccess(config, fetch, Date, keyMade)), config);
  } finally {
    await store.close();
  }
}
