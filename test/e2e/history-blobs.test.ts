import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import { serverSql } from '../support/database.js';
import { getJson, postJson, startTestServer, type TestServer } from '../support/server.js';
import { add, change, newAccount } from '../support/sync.js';

/**
 * docs/design.md § Blobs through the real server: an item's large versions are kept in its history as
 * blobs, and a version that holds a body the history already has (a restored conflict record here) adds
 * a row naming it, not another copy.
 */
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

/** A contact with a NOTE large enough that its versions' bodies are blobs. */
const bigCard = (note: string) => ['BEGIN:VCARD', 'VERSION:3.0', 'UID:big', 'FN:Big', `NOTE:${note}${'x'.repeat(limits.versionBlobBytesMin)}`, 'END:VCARD', ''].join('\r\n');

test('a restored version of a large contact shares its body with the version the history already holds', async () => {
  const { authorization, accountId, contacts, device } = await newAccount(server);
  const [a, b] = [device('a'), device('b')];
  const id = (await a.sync(contacts, { commands: [add('big', bigCard('one'))] })).results[0]?.serverId as string;
  await b.pull(contacts);
  // b edits the note; a, which ranks first and has not heard of it, edits the same note: a wins, b's version is the conflict record.
  await b.sync(contacts, { commands: [change(id, bigCard('from b'))] });
  assert.equal((await a.sync(contacts, { commands: [change(id, bigCard('from a'))] })).results[0]?.status, 'ok');
  const [kept] = (await getJson(`${server.url}/api/v1/conflicts`, authorization)).body.conflicts as Array<{ id: string; lostBy: string }>;
  assert.equal(kept?.lostBy, 'b');

  const history = async () => {
    const [blobs] = await serverSql<{ n: number | string; bytes: number | string }>(server, 'SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM blobs WHERE account_id = ?', [accountId]);
    const [versions] = await serverSql<{ n: number | string; inline: number | string }>(
      server,
      'SELECT count(*) AS n, coalesce(sum(length(v.data)), 0) AS inline FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.account_id = ?',
      [accountId],
    );
    return { blobs: Number(blobs?.n), blobBytes: Number(blobs?.bytes), versions: Number(versions?.n), inlineChars: Number(versions?.inline) };
  };
  const size = (note: string) => Buffer.byteLength(bigCard(note));
  assert.deepEqual(await history(), { blobs: 3, blobBytes: size('one') + size('from b') + size('from a'), versions: 3, inlineChars: 0 });

  // Restoring b's version writes its body again, as a fourth version: one more row, no more bytes.
  assert.equal((await postJson(`${server.url}/api/v1/conflicts/${kept?.id}/restore`, authorization, {})).status, 200);
  assert.deepEqual(await history(), { blobs: 3, blobBytes: size('one') + size('from b') + size('from a'), versions: 4, inlineChars: 0 });
  await a.pull(contacts);
  assert.equal(a.view(contacts).get(id)?.data, bigCard('from b'), 'the restored version is the truth, read back whole');
});
