import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChangeNotice } from '../../src/protocol/push.js';
import { databaseFile } from '../../src/server/open-store.js';
import { postgresBin, withClient } from '../support/postgres.js';
import { openRawChannel } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { newAccount, syncOnce } from '../support/sync.js';

/**
 * Restoring a backup sets the push counters back (docs/operations.md § Backups). A device still holds the
 * tokens it was sent after the backup was taken; if the restored server gave those numbers again, to other
 * changes, the device's echo would claim changes it never received, and they would never be resent.
 */
test('after a backup is restored, no push token the server gives a device is one it already holds', async () => {
  let server: TestServer = await startTestServer();
  const { dataDir, database } = server;
  const backupFile = join(dataDir, 'backup');
  // As docs/operations.md says: on SQLite the file of the stopped server, on PostgreSQL pg_dump and pg_restore into an empty database.
  const backup = () => (database === '' ? copyFileSync(databaseFile(dataDir), backupFile) : pgTool('pg_dump', ['-Fc', '-f', backupFile, database]));
  const restore = async () => {
    if (database === '') {
      copyFileSync(backupFile, databaseFile(dataDir));
      for (const suffix of ['-wal', '-shm']) rmSync(databaseFile(dataDir) + suffix, { force: true });
      return;
    }
    const name = new URL(database).pathname.slice(1);
    const admin = new URL(database);
    admin.pathname = '/postgres';
    await withClient(admin.href, async (c) => {
      await c.query(`DROP DATABASE ${name}`);
      await c.query(`CREATE DATABASE ${name}`);
    });
    pgTool('pg_restore', ['--no-owner', '-d', database, backupFile]);
  };
  const account = await newAccount(server);
  const held = new Set<number>();
  let cards = 0;

  /** The reader's channel on the running server; the writer adds two cards; the reader holds their tokens. Answers them. */
  const twoChanges = async (): Promise<number[]> => {
    const channel = openRawChannel(server.url, { device: 'reader', collections: account.contacts }, { authorization: account.authorization });
    const hello = await channel.next((m) => m.type === 'hello');
    assert.ok(hello.type === 'hello' && !held.has(hello.nextToken), `hello announces ${JSON.stringify(hello)}, a token the device holds`);
    const names = [`Card ${++cards}`, `Card ${++cards}`];
    // A writer of its own each time: one from before a restore would be sent back to re-initialize.
    await syncOnce(server, account.authorization, `writer-${cards}`, {
      collectionId: account.contacts,
      syncKey: 0,
      commands: names.map((name, i) => ({ op: 'add', clientId: `c${i}`, data: vcard(`uid-${name}`, name) })),
    });
    const tokens: number[] = [];
    for (const name of names) {
      const notice = (await channel.next((m) => m.type === 'change' && m.command.op === 'add' && m.command.data.includes(name))) as ChangeNotice;
      tokens.push(notice.token);
    }
    channel.socket.close();
    await channel.closed;
    return tokens;
  };
  const restart = async () => {
    await server.close();
    server = await startTestServer({ dataDir });
  };

  try {
    for (const token of await twoChanges()) held.add(token);
    // The backup, of the stopped server (pg_dump would do as well while it runs).
    await server.close();
    backup();
    server = await startTestServer({ dataDir });
    // Changes after the backup: the device holds their tokens (it has not synced since).
    for (const token of await twoChanges()) held.add(token);

    // The restore: stop, put the copy back, start.
    await server.close();
    await restore();
    server = await startTestServer({ dataDir });
    const after = await twoChanges();
    assert.deepEqual(after.filter((token) => held.has(token)), [], `tokens ${after} after the restore; the device holds ${[...held]}`);
    assert.ok(after.every((token) => Number.isSafeInteger(token)));
    // And a plain restart keeps to the same rule.
    await restart();
    for (const token of after) held.add(token);
    assert.deepEqual((await twoChanges()).filter((token) => held.has(token)), []);
  } finally {
    await server.stop();
  }
});

function pgTool(tool: string, args: string[]): void {
  const bin = postgresBin();
  assert.ok(bin, 'PostgreSQL is installed');
  execFileSync(join(bin, tool), args, { stdio: ['ignore', 'ignore', 'inherit'] });
}
