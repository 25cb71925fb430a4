import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import pg from 'pg';
import { limits } from '../core/limits.js';
import { openDatabase, type OpenDatabase } from '../sqlite/open.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { migrations as sqliteMigrations } from './sqlite/schema.js';

/**
 * Copies a SQLite installation into an empty PostgreSQL database, table by table and row by row, so
 * devices carry on with their sync keys (docs/operations.md § Moving from SQLite).
 *
 * The tables and columns come from the SQLite file itself (its tables, `PRAGMA table_info`, its foreign
 * keys); PostgreSQL's catalog says which columns are JSONB. The two schemas must name the same columns,
 * except that a SQLite table without a primary key (device_errors) is keyed by its rowid, which goes to
 * the one PostgreSQL column SQLite lacks (its BIGSERIAL id). Rows are read in key order, a batch at a time,
 * and each batch is written in one PostgreSQL transaction that also records, in `migration_progress`, the
 * last key copied: a run that is killed loses at most the batch in flight, and the next run goes on from
 * there. At the end both sides are read again and compared per table (rows and an order-independent sum of
 * each row's hash), then the progress tables are dropped.
 */

export interface MigrateOptions {
  /** The SQLite file (DATA_DIR/syncpoint.db). */
  from: string;
  /** A postgres:// URL. */
  to: string;
  /** Rows per batch (limits.migrateBatchRows; the tests make it tiny to interrupt a copy midway). */
  batchRows?: number;
  /** A line of progress for people. */
  log(line: string): void;
}

/** The target holds data this run must not write over; nothing was written. */
export class TargetNotEmptyError extends Error {}

export interface TableCheck {
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceSum: string;
  targetSum: string;
  ok: boolean;
}

interface Column {
  /** Its expression in SQLite (a quoted name, or `rowid`). */
  source: string;
  /** Its name in PostgreSQL. */
  target: string;
  integer: boolean;
  json: boolean;
}

interface TablePlan {
  name: string;
  columns: Column[];
  /** Indexes into `columns` of the key the rows are read in, in order. */
  key: number[];
  /** A filter for each part copied in turn: rows that reference rows of the same table come after those they reference. */
  parts: string[];
  /** The PostgreSQL sequence behind the rowid's column, moved past the copied ids at the end. */
  serial: string | null;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Copies, checks and returns the check of every table. Throws TargetNotEmptyError before writing anything to a target that is not empty. */
export async function migrateToPostgres(options: MigrateOptions): Promise<TableCheck[]> {
  const source = openSource(options.from);
  try {
    // The schema first, as `serve` would make it (a database made by this run, or by an interrupted one).
    await (await openPostgresStore(options.to)).close();
    return await withTarget(options.to, async (client) => {
      const plans = await planTables(source, client);
      const identity = sourceIdentity(options.from);
      await claimTarget(client, plans, identity, options.log);
      const batchRows = options.batchRows ?? limits.migrateBatchRows;
      for (const plan of plans) await copyTable(source, client, plan, batchRows, options.log);
      for (const plan of plans) {
        if (plan.serial) await client.query(`SELECT setval($1, coalesce((SELECT max(${quote(plan.columns[plan.key[0] as number]!.target)}) FROM ${quote(plan.name)}), 0) + 1, false)`, [plan.serial]);
      }
      const checks = await compareTables(source, client, plans);
      if (checks.every((c) => c.ok)) await client.query('DROP TABLE migration_progress, migration_source');
      return checks;
    });
  } finally {
    source.db.close();
  }
}

/** Compares the source and the target table by table, writing nothing (`syncpoint migrate --verify-only`). */
export async function verifyMigration(options: Pick<MigrateOptions, 'from' | 'to'>): Promise<TableCheck[]> {
  const source = openSource(options.from);
  try {
    return await withTarget(options.to, async (client) => compareTables(source, client, await planTables(source, client)));
  } finally {
    source.db.close();
  }
}

function openSource(path: string): OpenDatabase {
  if (!existsSync(path)) throw new Error(`no Syncpoint database at ${path}`);
  const source = openDatabase(path, { readonly: true });
  const version = (source.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version !== sqliteMigrations.length) {
    source.db.close();
    throw new Error(
      `${path} has schema version ${version}, this Syncpoint ${sqliteMigrations.length}: ` +
        (version < sqliteMigrations.length ? 'start and stop `syncpoint serve` on it once with this version first' : 'migrate it with the Syncpoint that wrote it'),
    );
  }
  return source;
}

/** What names the source across runs: its real path and file (a resumed run must read the same one). */
function sourceIdentity(path: string): string {
  return `${realpathSync(path)} (inode ${statSync(path).ino})`;
}

async function withTarget<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'syncpoint migrate' });
  await client.connect();
  try {
    // One run at a time on a target; the lock goes with the connection.
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext('syncpoint migrate')) AS locked`);
    if (!rows[0]?.locked) throw new Error('another `syncpoint migrate` is running on this database');
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Every SQLite table with its columns, key and parts, parents before children; checked against PostgreSQL's. */
async function planTables(source: OpenDatabase, client: pg.Client): Promise<TablePlan[]> {
  const names = (source.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
  const { rows: targetColumns } = await client.query<{ table_name: string; column_name: string; data_type: string; serial: string | null }>(
    `SELECT table_name, column_name, data_type, pg_get_serial_sequence(quote_ident(table_name), column_name) AS serial
       FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  );
  const parents = new Map<string, Set<string>>();
  const plans = new Map<string, TablePlan>();
  for (const name of names) {
    const info = source.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string; type: string; pk: number }[];
    const target = new Map(targetColumns.filter((c) => c.table_name === name).map((c) => [c.column_name, c]));
    if (target.size === 0) throw new Error(`table ${name} of the SQLite file is missing in PostgreSQL`);
    const columns: Column[] = info.map((c) => {
      const t = target.get(c.name);
      if (!t) throw new Error(`column ${name}.${c.name} of the SQLite file is missing in PostgreSQL`);
      return { source: quote(c.name), target: c.name, integer: c.type === 'INTEGER', json: t.data_type === 'jsonb' };
    });
    const extra = [...target.values()].filter((c) => !info.some((s) => s.name === c.column_name));
    const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    let key: number[];
    let serial: string | null = null;
    if (pk.length === 0 && extra.length === 1) {
      // A rowid table without a key of its own: the rowid becomes PostgreSQL's id.
      columns.unshift({ source: 'rowid', target: extra[0]!.column_name, integer: true, json: false });
      key = [0];
      serial = extra[0]!.serial;
    } else if (pk.length > 0 && extra.length === 0) {
      key = pk.map((c) => info.indexOf(c));
    } else {
      throw new Error(`table ${name} has columns in PostgreSQL that the SQLite file lacks: ${extra.map((c) => c.column_name).join(', ')}`);
    }
    const foreign = source.prepare(`PRAGMA foreign_key_list(${quote(name)})`).all() as { table: string; from: string }[];
    parents.set(name, new Set(foreign.map((f) => f.table).filter((t) => t !== name)));
    const selfColumns = foreign.filter((f) => f.table === name).map((f) => quote(f.from));
    const parts = selfColumns.length === 0 ? ['true'] : [selfColumns.map((c) => `${c} IS NULL`).join(' AND '), `NOT (${selfColumns.map((c) => `${c} IS NULL`).join(' AND ')})`];
    plans.set(name, { name, columns, key, parts, serial });
  }
  // Parents before children (foreign keys are checked row by row in PostgreSQL).
  const ordered: TablePlan[] = [];
  const placed = new Set<string>();
  while (ordered.length < plans.size) {
    const ready = names.filter((n) => !placed.has(n) && [...(parents.get(n) ?? [])].every((p) => placed.has(p) || !plans.has(p)));
    if (ready.length === 0) throw new Error('the SQLite tables reference each other in a cycle');
    for (const n of ready) {
      placed.add(n);
      ordered.push(plans.get(n)!);
    }
  }
  return ordered;
}

/**
 * Makes sure the target is this run's: empty (no Syncpoint table has a row) and then marked with the
 * source's identity and a progress row per table part, or marked so by an interrupted run from the same source.
 */
async function claimTarget(client: pg.Client, plans: TablePlan[], identity: string, log: (line: string) => void): Promise<void> {
  const { rows: marked } = await client.query<{ marked: boolean }>(`SELECT to_regclass('migration_source') IS NOT NULL AS marked`);
  const { rows } = marked[0]?.marked ? await client.query<{ source: string }>('SELECT source FROM migration_source') : { rows: [] };
  if (rows[0]) {
    if (rows[0].source !== identity) throw new TargetNotEmptyError(`the target holds an interrupted migration from ${rows[0].source}, not from ${identity}: run that one again, or start over with an empty database`);
    log(`resuming the interrupted migration from ${identity}`);
    return;
  }
  for (const plan of plans) {
    const { rows: found } = await client.query(`SELECT 1 FROM ${quote(plan.name)} LIMIT 1`);
    if (found.length > 0) throw new TargetNotEmptyError(`the target database is not empty (table ${plan.name} has rows): migrate copies into an empty database only`);
  }
  // The marks and the progress rows appear together or not at all.
  await client.query('BEGIN');
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS migration_source (only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row), source TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    await client.query(`CREATE TABLE IF NOT EXISTS migration_progress (
      table_name TEXT NOT NULL, part INTEGER NOT NULL, last_key JSONB, rows_copied BIGINT NOT NULL DEFAULT 0, done BOOLEAN NOT NULL DEFAULT false,
      PRIMARY KEY (table_name, part))`);
    await client.query('INSERT INTO migration_source (source) VALUES ($1)', [identity]);
    for (const plan of plans) {
      for (let part = 0; part < plan.parts.length; part++) await client.query('INSERT INTO migration_progress (table_name, part) VALUES ($1, $2)', [plan.name, part]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A SQLite value as node-postgres sends it: integers (read as BigInt) as decimal text, JSON as its text (cast to JSONB). */
const toParam = (v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
const rowBytes = (row: unknown[]) => row.reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.byteLength : 8), 0);

async function copyTable(source: OpenDatabase, client: pg.Client, plan: TablePlan, batchRows: number, log: (line: string) => void): Promise<void> {
  const keyColumns = plan.key.map((i) => plan.columns[i]!.source).join(', ');
  const select = plan.columns.map((c) => c.source).join(', ');
  // PostgreSQL takes at most 65,535 parameters in one statement.
  const rowsPerBatch = Math.max(1, Math.min(batchRows, Math.floor(65_535 / plan.columns.length)));
  const insertHead = `INSERT INTO ${quote(plan.name)} (${plan.columns.map((c) => quote(c.target)).join(', ')}) VALUES `;
  for (let part = 0; part < plan.parts.length; part++) {
    const { rows: progress } = await client.query<{ last_key: string[] | null; rows_copied: string; done: boolean }>(
      'SELECT last_key, rows_copied, done FROM migration_progress WHERE table_name = $1 AND part = $2',
      [plan.name, part],
    );
    const state = progress[0];
    if (!state) throw new Error(`migration_progress has no row for ${plan.name} part ${part}`);
    if (state.done) continue;
    const label = `${plan.name}${plan.parts.length > 1 ? ` (part ${part + 1} of ${plan.parts.length})` : ''}`;
    log(`copying ${label}`);
    const base = `SELECT ${select} FROM ${quote(plan.name)} WHERE (${plan.parts[part]})`;
    const order = ` ORDER BY ${keyColumns} LIMIT ?`;
    const first = source.prepare(base + order).raw(true).safeIntegers(true);
    const after = source.prepare(`${base} AND (${keyColumns}) > (${plan.key.map(() => '?').join(', ')})${order}`).raw(true).safeIntegers(true);
    // Integer keys are kept as decimal text in the progress row and bound as BigInt again.
    let lastKey: unknown[] | null = state.last_key === null ? null : state.last_key.map((v, i) => (plan.columns[plan.key[i] as number]!.integer ? BigInt(v) : v));
    let copied = Number(state.rows_copied);
    // A line after the first batch of this run, then at most one a second.
    let loggedAt = 0;
    for (;;) {
      const batch: unknown[][] = [];
      let bytes = 0;
      const rows = lastKey === null ? first.iterate(rowsPerBatch) : after.iterate(...lastKey, rowsPerBatch);
      for (const row of rows as Iterable<unknown[]>) {
        batch.push(row);
        bytes += rowBytes(row);
        if (bytes >= limits.migrateBatchBytesMax) break;
      }
      if (batch.length === 0) break;
      const params: unknown[] = [];
      const values = batch.map((row) => `(${plan.columns.map((c, i) => {
        params.push(toParam(row[i]));
        return c.json ? `$${params.length}::jsonb` : `$${params.length}`;
      }).join(', ')})`);
      const last = batch[batch.length - 1] as unknown[];
      lastKey = plan.key.map((i) => last[i]);
      copied += batch.length;
      await client.query('BEGIN');
      try {
        await client.query(insertHead + values.join(', '), params);
        await client.query('UPDATE migration_progress SET last_key = $3, rows_copied = $4 WHERE table_name = $1 AND part = $2', [plan.name, part, JSON.stringify(lastKey.map(toParam)), copied]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`copying ${plan.name}: ${(err as Error).message}`);
      }
      if (Date.now() - loggedAt >= 1000) {
        loggedAt = Date.now();
        log(`${label}: ${copied} rows copied`);
      }
    }
    await client.query('UPDATE migration_progress SET done = true WHERE table_name = $1 AND part = $2', [plan.name, part]);
    log(`copied ${label}: ${copied} rows`);
  }
}

const modulus = 1n << 256n;

/** A row as canonical JSON (integers as decimal text, JSON values with their keys sorted), hashed. */
function rowHash(plan: TablePlan, row: unknown[]): bigint {
  const canonical = plan.columns.map((c, i) => {
    const v = row[i];
    if (v === null || v === undefined) return null;
    if (c.integer) return String(v);
    if (c.json) return sortKeys(typeof v === 'string' ? JSON.parse(v) : v);
    return v;
  });
  return BigInt(`0x${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

/** Rows and the sum of their hashes, per table, on both sides; each side read in one snapshot, a batch at a time. */
async function compareTables(source: OpenDatabase, client: pg.Client, plans: TablePlan[]): Promise<TableCheck[]> {
  const sums = new Map<string, { rows: number; sum: bigint }>();
  source.db.exec('BEGIN');
  try {
    for (const plan of plans) {
      let rows = 0;
      let sum = 0n;
      const statement = source.prepare(`SELECT ${plan.columns.map((c) => c.source).join(', ')} FROM ${quote(plan.name)}`).raw(true).safeIntegers(true);
      for (const row of statement.iterate() as Iterable<unknown[]>) {
        rows++;
        sum = (sum + rowHash(plan, row)) % modulus;
      }
      sums.set(plan.name, { rows, sum });
    }
  } finally {
    source.db.exec('COMMIT');
  }
  const checks: TableCheck[] = [];
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const plan of plans) {
      await client.query(`DECLARE rows_cursor NO SCROLL CURSOR FOR SELECT ${plan.columns.map((c) => quote(c.target)).join(', ')} FROM ${quote(plan.name)}`);
      let rows = 0;
      let sum = 0n;
      // A FETCH cannot stop at a byte count: it starts with as many rows as fit the batch bytes at the largest
      // item size, and takes more at a time once the table's rows have proved smaller.
      let fetchRows = Math.max(1, Math.floor(limits.migrateBatchBytesMax / limits.itemBytesMax));
      let largestBytes = 1;
      for (;;) {
        const batch = await client.query({ text: `FETCH ${fetchRows} FROM rows_cursor`, rowMode: 'array' });
        for (const row of batch.rows as unknown[][]) {
          rows++;
          sum = (sum + rowHash(plan, row)) % modulus;
          largestBytes = Math.max(largestBytes, rowBytes(row));
        }
        if (batch.rows.length < fetchRows) break;
        fetchRows = Math.max(1, Math.min(limits.migrateBatchRows, Math.floor(limits.migrateBatchBytesMax / (2 * largestBytes))));
      }
      await client.query('CLOSE rows_cursor');
      const mine = sums.get(plan.name)!;
      const hex = (n: bigint) => n.toString(16).padStart(64, '0').slice(0, 16);
      checks.push({ table: plan.name, sourceRows: mine.rows, targetRows: rows, sourceSum: hex(mine.sum), targetSum: hex(sum), ok: mine.rows === rows && mine.sum === sum });
    }
  } finally {
    await client.query('COMMIT');
  }
  return checks;
}
