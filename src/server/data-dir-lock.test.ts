import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lockDataDir } from './data-dir-lock.js';

// Across processes: test/e2e/cli.test.ts. Within one process too, a second lock on the directory is refused.
test('a data directory is locked once, in this process as in any other, until released', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncpoint-lock-'));
  try {
    const release = lockDataDir(dir);
    assert.equal(readFileSync(join(dir, 'syncpoint.pid'), 'utf8'), `${process.pid}\n`);
    assert.throws(() => lockDataDir(dir), { message: `another syncpoint serve is using ${dir} (pid ${process.pid}); use PostgreSQL (--database) to run several processes` });
    release();
    lockDataDir(dir)();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
