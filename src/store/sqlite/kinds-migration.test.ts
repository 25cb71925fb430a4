import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../../sqlite/open.js';
import { migrations } from './schema.js';
import { openSqliteStore } from './sqlite-store.js';

/**
 * A data file made before kinds were registered modules (docs/design.md § Kinds) opens with its rows
 * intact: the collections table is rebuilt without its CHECK on kind, and the rows that name a
 * collection (items, their history, the tasks part of a calendar) still name it and still go with it.
 */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-kinds-migration-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an old data file opens: collections lose the CHECK on kind, and every row that names one is kept and still cascades', async () => {
  const path = join(dir, 'old.db');
  const rebuild = migrations.findIndex((m) => m.includes('collections_rebuilt'));
  assert.ok(rebuild > 0, 'the migration that rebuilds collections was found');
  const { db: old } = openDatabase(path);
  for (let i = 0; i < rebuild; i++) old.exec(`BEGIN; ${migrations[i] as string}; PRAGMA user_version = ${i + 1}; COMMIT;`);
  old.exec(`
    INSERT INTO accounts (id, name, password_hash, created_at) VALUES ('a1', 'alice', 'h', 1);
    INSERT INTO collections (id, account_id, name, kind, display_name, created_at, description) VALUES ('cal', 'a1', 'calendar', 'events', 'Calendar', 2, 'mine');
    INSERT INTO collections (id, account_id, name, kind, display_name, created_at, calendar_id) VALUES ('part', 'a1', 'calendar.tasks', 'tasks', 'Calendar', 2, 'cal');
    INSERT INTO items (id, account_id, collection_id, uid, data, etag, seq, created_seq, title) VALUES ('i1', 'a1', 'cal', 'u1', 'BEGIN:VCALENDAR', 'e1', 1, 1, 'Lunch');
    INSERT INTO items (id, account_id, collection_id, uid, data, etag, seq, created_seq, title) VALUES ('i2', 'a1', 'part', 'u2', 'BEGIN:VCALENDAR', 'e2', 2, 2, 'Chore');
    INSERT INTO item_versions (item_id, seq, data, written_at) VALUES ('i1', 1, 'BEGIN:VCALENDAR', 3);
    INSERT INTO dav_names (account_id, collection_id, name, item_id) VALUES ('a1', 'cal', 'lunch.ics', 'i1');
  `);
  assert.throws(() => old.exec("INSERT INTO collections (id, account_id, name, kind, display_name, created_at) VALUES ('m', 'a1', 'mail', 'mail', 'Mail', 3)"), /CHECK constraint failed/);
  old.close();

  const store = openSqliteStore(path);
  try {
    const collections = await store.transaction((tx) => tx.listCollections('a1'));
    assert.deepEqual(
      collections.map((c) => [c.id, c.kind, c.calendarId, c.description]),
      [
        ['cal', 'events', null, 'mine'],
        ['part', 'tasks', 'cal', null],
      ],
    );
    assert.equal((await store.transaction((tx) => tx.getItem('a1', 'cal', 'i1')))?.title, 'Lunch');
    await store.transaction((tx) =>
      tx.createCollection({ id: 'm', accountId: 'a1', name: 'mail', kind: 'mail', displayName: 'Mail', color: null, description: null, createdAt: 3, calendarId: null }),
    );
    assert.equal((await store.transaction((tx) => tx.getCollection('a1', 'm')))?.kind, 'mail');
    await store.transaction((tx) => tx.deleteCollection('a1', 'cal'));
  } finally {
    await store.close();
  }
  const { db: check, prepare } = openDatabase(path, { readonly: true });
  try {
    const count = (table: string) => (prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    assert.deepEqual([count('collections'), count('items'), count('item_versions'), count('dav_names')], [1, 0, 0, 0], 'deleting the calendar took its tasks part, items, history and names with it');
    assert.doesNotMatch((prepare("SELECT sql FROM sqlite_schema WHERE name = 'collections'").get() as { sql: string }).sql, /CHECK/);
    assert.deepEqual(prepare('PRAGMA foreign_key_check').all(), []);
  } finally {
    check.close();
  }
});
