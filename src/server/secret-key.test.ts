import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSecretKey, readKeyFile, secretKeyPlace, writeNewKeyFile } from './secret-key.js';

const dir = mkdtempSync(join(tmpdir(), 'syncpoint-secret-key-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('where the key is: the setting; else beside the SQLite data directory, made at need; on PostgreSQL nowhere', () => {
  assert.deepEqual(secretKeyPlace({ data: join(dir, 'data'), database: '', secretKeyFile: '' }), { path: `${join(dir, 'data')}.secret-key`, create: true });
  assert.deepEqual(secretKeyPlace({ data: join(dir, 'data'), database: '', secretKeyFile: join(dir, 'k') }), { path: join(dir, 'k'), create: false });
  assert.deepEqual(secretKeyPlace({ data: join(dir, 'data'), database: 'postgres://db/x', secretKeyFile: join(dir, 'k') }), { path: join(dir, 'k'), create: false });
  assert.equal(secretKeyPlace({ data: join(dir, 'data'), database: 'postgres://db/x', secretKeyFile: '' }), undefined);
});

test('a key made at first need is its owner’s alone, and the same key is read back after', () => {
  const place = { path: join(dir, 'made.key'), create: true };
  const first = loadSecretKey(place);
  assert.equal(first.made, true);
  assert.equal(statSync(place.path).mode & 0o777, 0o600);
  assert.match(readFileSync(place.path, 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/);
  const again = loadSecretKey(place);
  assert.equal(again.made, false);
  assert.equal(again.key.id, first.key.id);
  assert.throws(() => writeNewKeyFile(place.path, true), /exists already/);
  assert.throws(() => loadSecretKey({ path: join(dir, 'configured-but-missing.key'), create: false }), /does not exist/);
});

test('a key file others may read, or that holds no key, is refused', () => {
  const path = join(dir, 'shared.key');
  writeFileSync(path, `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
  assert.equal(readKeyFile(path).key.length, 32);
  chmodSync(path, 0o640);
  assert.throws(() => readKeyFile(path), /readable or writable by others than its owner; chmod 600 it/);
  for (const text of ['not base64 at all', Buffer.alloc(16).toString('base64'), `${Buffer.alloc(32).toString('base64')}\nmore`]) {
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600);
    assert.throws(() => readKeyFile(path), /does not hold a secret key/);
  }
});
