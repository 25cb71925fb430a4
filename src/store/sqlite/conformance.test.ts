import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeConformance, type StoreUnderTest } from '../conformance.js';
import { openSqliteStore } from './sqlite-store.js';

/** The shared store contract (../conformance.ts) on the SQLite backend: each test on a new file in a temporary folder. */
storeConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncpoint-conformance-'));
  const file = join(dir, 'syncpoint.db');
  const sut: StoreUnderTest = {
    store: openSqliteStore(file),
    async reopen(next) {
      await sut.store.close();
      return (sut.store = openSqliteStore(file, undefined, next));
    },
    async close() {
      await sut.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sut;
});
