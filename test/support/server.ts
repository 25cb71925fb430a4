import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../src/server/app.js';
import { hashSecret } from '../../src/hub/secrets.js';
import { configSchema, packageWebDir, type Config } from '../../src/server/config.js';
import { writeNewKeyFile } from '../../src/server/secret-key.js';
import { createDatabase, testPostgresEnv } from './postgres.js';

/**
 * A real server on 127.0.0.1 with a fresh SQLite file in a temp directory, for end-to-end tests; or, in a
 * run under test/support/with-postgres.ts, a fresh database in that run's PostgreSQL cluster.
 */
export interface TestServer extends RunningServer {
  dataDir: string;
  /** The PostgreSQL database it serves, or '' for SQLite in dataDir. */
  database: string;
  /** The secret key file upstream passwords are sealed with, beside the data directory, on either backend ('' when started with the server's default). */
  secretKeyFile: string;
  /** Creates an account and returns an HTTP Basic Authorization header for it. */
  addUser(name: string, password?: string): Promise<{ accountId: string; accountName: string; authorization: string; password: string }>;
  stop(): Promise<void>;
}

/**
 * `options` are settings of src/server/config.ts; the others take their defaults there. `dataDir`: reopen
 * the data of a stopped server (a restart); `close()` it then, since `stop()` deletes it.
 */
const databases = new Map<string, string>();

export async function startTestServer(options: Partial<Config> & { dataDir?: string } = {}): Promise<TestServer> {
  const { dataDir: reopen, ...settings } = options;
  const dataDir = reopen ?? mkdtempSync(join(tmpdir(), 'syncpoint-test-'));
  const cluster = process.env[testPostgresEnv];
  // A restart on PostgreSQL reopens the database the data directory was first served with.
  const database = settings.database ?? databases.get(dataDir) ?? (cluster ? await createDatabase(cluster) : '');
  databases.set(dataDir, database);
  // '' keeps the server's own default: DATA.secret-key made at first need on SQLite, none on PostgreSQL.
  const secretKeyFile = settings.secretKeyFile ?? `${dataDir}.key`;
  if (secretKeyFile !== '' && !existsSync(secretKeyFile)) writeNewKeyFile(secretKeyFile, true);
  // Upstreams run when a test asks, unless it sets a schedule or watchers (upstreamWatchersMax); they are on loopback.
  const config = configSchema.parse({ host: '127.0.0.1', port: 0, logLevel: 'silent', webDir: packageWebDir, upstreamRunMinutes: 0, upstreamWatchersMax: 0, upstreamAddressesAllow: ['127.0.0.1'], ...settings, secretKeyFile, database, data: dataDir });
  const server = await startServer(config, pino({ level: 'silent' }));
  return {
    ...server,
    dataDir,
    database,
    secretKeyFile,
    async addUser(name, password = `${name}-password`) {
      const account = await server.hub.accounts.create(name, await hashSecret(password));
      return { accountId: account.id, accountName: account.name, authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`, password };
    },
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(secretKeyFile === '' ? `${dataDir}.secret-key` : secretKeyFile, { force: true });
    },
  };
}

/** POST a JSON body and return status and parsed JSON. */
export async function postJson(url: string, authorization: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

export async function getJson(url: string, authorization: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers: { authorization } });
  return { status: res.status, body: await res.json() };
}

export function vcard(uid: string, name: string, extra = ''): string {
  return `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${name}\r\nN:${name};;;;\r\n${extra}END:VCARD\r\n`;
}

export function vevent(uid: string, summary: string, start = '20260110T100000Z', end = '20260110T110000Z', extra = ''): string {
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:${start}\r\nDTEND:${end}\r\nSUMMARY:${summary}\r\n${extra}END:VEVENT\r\nEND:VCALENDAR\r\n`;
}
