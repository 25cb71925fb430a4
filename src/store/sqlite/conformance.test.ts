import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeConformance } from '../conformance.js';
import { openSqliteStore } from './sqlite-store.js';

/** The shared store contract (../conformance.ts) on the SQLite backend: each test on a new file in a temporary folder. */
storeConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncpoint-conformance-'));
  const store = openSqliteStore(join(dir, 'syncpoint.db'));
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
