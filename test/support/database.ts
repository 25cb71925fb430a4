import type { Statement } from 'better-sqlite3';
import { databaseFile } from '../../src/server/open-store.js';
import { openDatabase, type OpenDatabase } from '../../src/sqlite/open.js';
import { withClient } from './postgres.js';

/** One connection per SQLite file and one statement per text, opened the project's way (retained, never collected: src/sqlite/open.ts). */
const sqliteFiles = new Map<string, { db: OpenDatabase; statements: Map<string, Statement> }>();

/**
 * Runs one statement straight on a test server's database, beside the server, as an operator's database
 * shell would: its SQLite file, or its PostgreSQL database (support/server.ts says which). For what no
 * public face can do or show: a password set by `UPDATE`, a name stored before a rule, a purge's floor,
 * which rows a table holds. One text serves both dialects: parameters are `?`, numbered here for
 * PostgreSQL. Returns the rows a query reads (PostgreSQL gives BIGINT and count() as strings), or none.
 */
export async function serverSql<R = Record<string, unknown>>(server: { dataDir: string; database: string }, sql: string, params: unknown[] = []): Promise<R[]> {
  if (server.database !== '') {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await withClient(server.database, (c) => c.query(text, params))).rows as R[];
  }
  let file = sqliteFiles.get(server.dataDir);
  if (!file) sqliteFiles.set(server.dataDir, (file = { db: openDatabase(databaseFile(server.dataDir)), statements: new Map() }));
  let statement = file.statements.get(sql);
  if (!statement) file.statements.set(sql, (statement = file.db.prepare(sql)));
  if (statement.reader) return statement.all(...params) as R[];
  statement.run(...params);
  return [];
}

/** The lowest control character the server's database can hold in a name: NUL in SQLite; PostgreSQL's TEXT refuses NUL, so U+0001 there. */
export const lowestControl = (server: { database: string }): string => (server.database !== '' ? '\u0001' : '\u0000');
