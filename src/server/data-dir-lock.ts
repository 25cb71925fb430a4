import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../sqlite/open.js';

/**
 * One `syncpoint serve` per SQLite data directory (docs/operations.md § Data directory): push hears of
 * the commits of its own process only, so a second server on the same file would serve devices that never
 * hear of the first one's changes. The lock is a write transaction held open for the server's life on a
 * database of its own, `syncpoint.lock`: SQLite takes it with an OS lock, which the kernel drops when the
 * process ends however it ends (kill -9 included), so no stale lock needs judging by a pid that may have
 * been reused. The main database is not locked, so the admin commands (`user`, `token`) work beside the
 * server. `syncpoint.pid` only names the holder in the refusal.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'syncpoint.pid');
  const { db } = openDatabase(join(dir, 'syncpoint.lock'));
  try {
    // Refused at once rather than after the usual wait for a busy database.
    db.exec('PRAGMA busy_timeout = 0; BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    const pid = readPid(pidFile);
    throw new Error(`another syncpoint serve is using ${dir}${pid === undefined ? '' : ` (pid ${pid})`}; use PostgreSQL (--database) to run several processes`);
  }
  writeFileSync(pidFile, `${process.pid}\n`);
  return () => {
    rmSync(pidFile, { force: true });
    db.exec('ROLLBACK');
    db.close();
  };
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
