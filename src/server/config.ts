import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { limits } from '../core/limits.js';
import { parseProxyEntry } from './auth/client-address.js';

/** Addresses and CIDR ranges; a comma-separated list in the environment. */
const addressListSchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()).filter((e) => e.length > 0) : v),
  z.array(z.string().refine((e) => parseProxyEntry(e) !== undefined, 'must be an IP address or CIDR range')).max(100),
);

/**
 * Server settings. Precedence: command-line flag, then environment (SYNCPOINT_*), then the JSON config
 * file (--config or SYNCPOINT_CONFIG), then the defaults below. docs/configuration.md lists them all.
 */
export const configSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  data: z.string().min(1).default('./data'),
  /** A PostgreSQL URL (postgres://USER@HOST:PORT/DB); empty: the embedded SQLite file in `data` (docs/operations.md § PostgreSQL). */
  database: z
    .string()
    .regex(/^(postgres(ql)?:\/\/\S+)?$/, 'expected a postgres:// URL, or nothing for SQLite in the data directory')
    .default(''),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seconds between push heartbeats; a WebSocket peer that misses one is dropped at the next. */
  pushHeartbeatSeconds: z.coerce.number().min(0.05).max(3600).default(30),
  /** The built web app served at `/` (npm run build writes it); empty for the package's own. */
  webDir: z.string().default(''),
  /** The URL clients reach the server at (the TLS proxy's), named by Autodiscover; empty for the listening address. Never taken from a request's Host. */
  publicUrl: z
    .string()
    .regex(/^(https?:\/\/[^/?#\s]+)?$/, 'expected an http:// or https:// origin such as https://sync.example.com, without a path')
    .default(''),
  /** ActiveSync devices (DeviceIds) one account may have; a new one past it gets Status 177. */
  easDevicesMax: z.coerce.number().int().min(1).max(100_000).default(limits.easDevicesPerAccountDefault),
  /** Per-account limits (docs/configuration.md § Per-account limits). */
  appPasswordsPerAccountMax: z.coerce.number().int().min(1).default(limits.appPasswordsPerAccountMax),
  collectionsPerAccountMax: z.coerce.number().int().min(1).default(limits.collectionsPerAccountMax),
  devicesPerAccountMax: z.coerce.number().int().min(1).default(limits.devicesPerAccountMax),
  pushChannelsPerAccountMax: z.coerce.number().int().min(1).default(limits.pushChannelsPerAccountMax),
  pollMailboxesPerAccountMax: z.coerce.number().int().min(1).default(limits.pollMailboxesPerAccountMax),
  /**
   * Reverse proxies (addresses or CIDR ranges) whose Forwarded / X-Forwarded-For / X-Forwarded-Proto
   * headers are believed; from anyone else they are ignored. A comma-separated list in the environment.
   */
  trustedProxies: addressListSchema.default([]),
  /** Clients (addresses or CIDR ranges) that may read GET /metrics (docs/operations.md § Metrics); empty: nobody. */
  metricsAllow: addressListSchema.default(['127.0.0.1', '::1']),
  /** The file holding the key upstream passwords are sealed with (docs/operations.md § Upstream servers); empty: DATA.secret-key beside the data directory on SQLite, none on PostgreSQL. */
  secretKeyFile: z.string().default(''),
  /** Loopback, private and link-local addresses (or CIDR ranges) upstream servers may be at; public addresses always may (docs/operations.md § Upstream servers). */
  upstreamAddressesAllow: addressListSchema.default([]),
  /** Minutes between runs of each upstream (docs/operations.md § Upstream servers); 0: upstreams run only when asked (Sync now, `upstream sync`). */
  upstreamRunMinutes: z.coerce.number().min(0).max(24 * 60).default(limits.upstreamRunIntervalMs / 60_000),
  /** IMAP upstreams this server watches for changes, one connection each (docs/operations.md § Upstream servers); 0: none, they wait for their scheduled runs. */
  upstreamWatchersMax: z.coerce.number().int().min(0).max(100_000).default(limits.mailWatchersMax),
  /** Sync requests by mail (docs/protocol.md §21), picked up from the Inbox of watched IMAP upstreams with a submission server; `off`: left alone. */
  syncByMail: z.enum(['on', 'off']).default('on'),
});
export type Config = z.infer<typeof configSchema>;

/** The web app `npm run build` writes, next to this package's dist/. */
export const packageWebDir = fileURLToPath(new URL('../../../web/dist', import.meta.url));

const envNames: Record<keyof Config, string> = {
  host: 'SYNCPOINT_HOST',
  port: 'SYNCPOINT_PORT',
  data: 'SYNCPOINT_DATA',
  database: 'SYNCPOINT_DATABASE',
  logLevel: 'SYNCPOINT_LOG_LEVEL',
  pushHeartbeatSeconds: 'SYNCPOINT_PUSH_HEARTBEAT_SECONDS',
  webDir: 'SYNCPOINT_WEB_DIR',
  publicUrl: 'SYNCPOINT_PUBLIC_URL',
  easDevicesMax: 'SYNCPOINT_EAS_DEVICES_MAX',
  appPasswordsPerAccountMax: 'SYNCPOINT_APP_PASSWORDS_PER_ACCOUNT_MAX',
  collectionsPerAccountMax: 'SYNCPOINT_COLLECTIONS_PER_ACCOUNT_MAX',
  devicesPerAccountMax: 'SYNCPOINT_DEVICES_PER_ACCOUNT_MAX',
  pushChannelsPerAccountMax: 'SYNCPOINT_PUSH_CHANNELS_PER_ACCOUNT_MAX',
  pollMailboxesPerAccountMax: 'SYNCPOINT_POLL_MAILBOXES_PER_ACCOUNT_MAX',
  trustedProxies: 'SYNCPOINT_TRUSTED_PROXIES',
  metricsAllow: 'SYNCPOINT_METRICS_ALLOW',
  secretKeyFile: 'SYNCPOINT_SECRET_KEY_FILE',
  upstreamRunMinutes: 'SYNCPOINT_UPSTREAM_RUN_MINUTES',
  upstreamAddressesAllow: 'SYNCPOINT_UPSTREAM_ADDRESSES_ALLOW',
  upstreamWatchersMax: 'SYNCPOINT_UPSTREAM_WATCHERS_MAX',
  syncByMail: 'SYNCPOINT_SYNC_BY_MAIL',
};

export function loadConfig(flags: Partial<Record<keyof Config, string | number>> & { config?: string }, env: NodeJS.ProcessEnv): Config {
  const file = flags.config ?? env.SYNCPOINT_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`cannot read config file ${file}: ${(err as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [key, name] of Object.entries(envNames)) {
    if (env[name] !== undefined && env[name] !== '') merged[key] = env[name];
  }
  for (const [key, value] of Object.entries(flags)) {
    if (key !== 'config' && value !== undefined) merged[key] = value;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${detail}`);
  }
  return { ...parsed.data, data: resolve(parsed.data.data), webDir: resolve(parsed.data.webDir || packageWebDir) };
}
