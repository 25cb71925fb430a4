import Database from 'better-sqlite3';

/**
 * A planted bug for the crash test's own test, loaded into the server only with
 * `node --import <this file> syncpoint serve` (ServerProcess, `plant: 'synchronous-off'`): every database
 * the process opens gets `synchronous = OFF` where src/sqlite/open.ts asks for FULL, so commits are
 * never fsynced. The server itself has no switch for this; no option, variable or file can make a
 * real deployment acknowledge a change it has not synced (docs/operations.md, "How durability is tested").
 *
 * It says so on stderr when it rewrites a pragma, so a plant that no longer takes (the pragma text
 * changed) is seen as such instead of passing for a server that syncs.
 */
const exec = Database.prototype.exec;
Database.prototype.exec = function (this: Database.Database, sql: string) {
  const planted = sql.replace(/PRAGMA synchronous = FULL/i, 'PRAGMA synchronous = OFF');
  if (planted !== sql) process.stderr.write('planted bug: synchronous = OFF\n');
  return exec.call(this, planted);
};
