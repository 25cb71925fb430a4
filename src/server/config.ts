import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseProxyEntry } from './auth/client-address.js';

/**
 * Server settings. Precedence: command-line flag, then environment (SYNCPOINT_*), then the JSON config
 * file (--config or SYNCPOINT_CONFIG), then the defaults below. docs/configuration.md lists them all.
 */
export const configSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  data: z.string().min(1).default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seconds between push heartbeats; a WebSocket peer that misses one is dropped at the next. */
  pushHeartbeatSeconds: z.coerce.number().min(0.05).max(3600).default(30),
  /** The built web app served at `/` (npm run build writes it); empty for the package's own. */
  webDir: z.string().default(''),
  /**
   * Reverse proxies (addresses or CIDR ranges) whose Forwarded / X-Forwarded-For / X-Forwarded-Proto
   * headers are believed; from anyone else they are ignored. A comma-separated list in the environment.
   */
  trustedProxies: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()).filter((e) => e.length > 0) : v),
      z.array(z.string().refine((e) => parseProxyEntry(e) !== undefined, 'must be an IP address or CIDR range')).max(100),
    )
    .default([]),
});
export type Config = z.infer<typeof configSchema>;

/** The web app `npm run build` writes, next to this package's dist/. */
export const packageWebDir = fileURLToPath(new URL('../../../web/dist', import.meta.url));

const envNames: Record<keyof Config, string> = {
  host: 'SYNCPOINT_HOST',
  port: 'SYNCPOINT_PORT',
  data: 'SYNCPOINT_DATA',
  logLevel: 'SYNCPOINT_LOG_LEVEL',
  pushHeartbeatSeconds: 'SYNCPOINT_PUSH_HEARTBEAT_SECONDS',
  webDir: 'SYNCPOINT_WEB_DIR',
  trustedProxies: 'SYNCPOINT_TRUSTED_PROXIES',
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
