import Database from 'better-sqlite3';

/**
 * The one way this project opens a better-sqlite3 database.
 *
 * better-sqlite3 12 on Node 24 aborts the process (`Assertion failed: (env) != nullptr` in
 * RemoveEnvironmentCleanupHook) when the garbage collector finalizes a Statement, or a Database whose
 * cached transaction statements go with it; upstream closed the report without a fix, and version 13
 * needs Node 22. So nothing here is ever left for the collector: every database and every statement
 * is retained for the life of the process, statements are prepared once per database, and pragmas
 * go through exec() (db.pragma() prepares a throwaway statement). Closing a database still finalizes
 * its statements in SQLite; only the small JS wrappers stay.
 */
const retained: unknown[] = [];

export interface OpenDatabase {
  db: Database.Database;
  /** Prepare a statement that lives as long as the process. Call it once per statement, at open. */
  prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string): Database.Statement<P, R>;
}

/**
 * Opens a file in WAL mode with durable commits: a transaction is on disk when COMMIT returns. `readonly`:
 * an existing file, for reading only (`syncpoint migrate` reads its source so); nothing in it changes.
 */
export function openDatabase(path: string, options: { readonly?: boolean } = {}): OpenDatabase {
  const db = options.readonly ? new Database(path, { readonly: true, fileMustExist: true }) : new Database(path);
  retained.push(db);
  db.exec(options.readonly ? 'PRAGMA busy_timeout = 5000;' : 'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  return {
    db,
    prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string) {
      const statement = db.prepare<P, R>(sql);
      retained.push(statement);
      return statement;
    },
  };
}
