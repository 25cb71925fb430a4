import { openDatabase } from '../../src/sqlite/open.js';

/**
 * Whether anything committed a change to a SQLite file since the last call: `PRAGMA data_version`, read
 * from a connection of its own, moves when another connection commits a change, and only then (a
 * transaction that wrote nothing leaves it as it was). For tests and benches that prove a sync wrote nothing.
 */
export function sqliteCommitWatcher(path: string): () => boolean {
  const { db } = openDatabase(path, { readonly: true });
  const version = db.prepare('PRAGMA data_version').pluck();
  let last = version.get() as number;
  return () => {
    const now = version.get() as number;
    const changed = now !== last;
    last = now;
    return changed;
  };
}
