import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../../sqlite/open.js';
import { membersSql, openSqliteStore } from './sqlite-store.js';

/**
 * How SQLite runs a DAV listing's page on the migrated schema: the etag listing that PROPFIND Depth:1
 * polls with reads only indexes, not the items' rows (docs/dav.md § Streaming).
 */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-members-plan-'));
const path = join(dir, 'syncpoint.db');
const store = openSqliteStore(path);
const { prepare } = openDatabase(path);
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const plan = (sql: string) =>
  prepare<Record<string, unknown>, { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all({ collectionId: 'c', accountId: 'a', afterId: '', limit: 500, rangeStart: 1, rangeEnd: 2 })
    .map((row) => row.detail)
    .join(' | ');

test('a page of members without data is read from indexes alone', () => {
  const steps = plan(membersSql('NULL'));
  assert.match(steps, /SEARCH items USING COVERING INDEX items_members \(collection_id=\? AND id>\?\)/, steps);
  assert.match(steps, /SEARCH dav_names USING COVERING INDEX dav_names_item \(item_id=\?\)/, steps);
});
