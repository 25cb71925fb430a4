import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import type { Store, StoreTx } from '../../src/store/store.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';

/**
 * DAV listings stream (docs/dav.md § Streaming): a PROPFIND or sync-collection of a collection larger
 * than a page reads it a page at a time from the store, reads item data only for properties that need
 * it, and sends the answer chunked as it is made. The store is the real one; the test only watches
 * which item rows each store call returns.
 */

let server: TestServer;
/** Each store call that returned item rows: how many, and how many of them with their data. */
const reads: Array<{ method: string; rows: number; withData: number }> = [];

before(async () => {
  server = await startTestServer();
  // The hub's store, watched: every transaction's calls are passed through and their item rows counted.
  const store = (server.hub as unknown as { store: Store }).store;
  const transaction = store.transaction.bind(store);
  store.transaction = <T>(fn: (tx: StoreTx) => Promise<T>) =>
    transaction((tx) =>
      fn(
        new Proxy(tx, {
          get(target, prop) {
            const value = Reflect.get(target, prop) as unknown;
            if (typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              const result = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
              const rows = Array.isArray(result) ? result.filter((r): r is { etag: string; data: string | null } => typeof r === 'object' && r !== null && 'etag' in r) : [];
              if (rows.length > 0) reads.push({ method: String(prop), rows: rows.length, withData: rows.filter((r) => r.data !== null).length });
              return result;
            };
          },
        }),
      ),
    );
});

after(async () => {
  await server.stop();
});

const members = limits.davPageRows * 2 + 100;

async function request(method: string, path: string, auth: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/xml; charset=utf-8', ...headers }, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

test(`a PROPFIND and a sync-collection of ${members} contacts read pages of at most ${limits.davPageRows} members, no item data for getetag, and answer chunked`, async () => {
  const user = await server.addUser('streamer');
  const path = `/dav/users/${user.accountName}/contacts/`;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < members) {
        const i = next++;
        const res = await fetch(`${server.url}${path}c${i}.vcf`, { method: 'PUT', headers: { authorization: user.authorization, 'content-type': 'text/vcard' }, body: vcard(`s-${i}`, `Person ${i}`) });
        assert.equal(res.status, 201);
      }
    }),
  );

  reads.length = 0;
  const propfind = await request('PROPFIND', path, user.authorization, '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>', { depth: '1' });
  assert.equal(propfind.status, 207);
  assert.equal(propfind.headers.get('content-length'), null, 'a large answer is sent as it is made, so its length is not known up front');
  assert.equal(propfind.headers.get('transfer-encoding'), 'chunked');
  assert.equal(propfind.text.match(/<d:getetag>/g)?.length, members, 'every member has its etag');
  assert.ok(propfind.text.includes(`<d:href>${path}c${members - 1}.vcf</d:href>`));
  assert.ok(reads.length >= 3, `the members were read in pages: ${JSON.stringify(reads)}`);
  assert.ok(
    reads.every((r) => r.rows <= limits.davPageRows && r.withData === 0),
    `each store read holds one page, without item data: ${JSON.stringify(reads)}`,
  );
  const etag = /<d:href>[^<]*c7\.vcf<\/d:href><d:propstat><d:prop><d:getetag>([^<]*)</.exec(propfind.text)?.[1];
  const get = await fetch(`${server.url}${path}c7.vcf`, { headers: { authorization: user.authorization } });
  assert.equal(get.headers.get('etag'), etag?.replace(/&quot;/g, '"'), 'the listed etag is the item’s');

  // A sync with no DAV:limit is one answer, read a page at a time; with address-data, pages of davPageRowsWithData.
  for (const [prop, pageRows, withData] of [
    ['<d:getetag/>', limits.davPageRows, false],
    ['<d:getetag/><card:address-data/>', limits.davPageRowsWithData, true],
  ] as const) {
    reads.length = 0;
    const sync = await request(
      'REPORT',
      path,
      user.authorization,
      `<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop>${prop}</d:prop></d:sync-collection>`,
      { depth: '1' },
    );
    assert.equal(sync.status, 207);
    assert.ok(!sync.text.includes('507 Insufficient Storage'), 'the whole sync is one answer');
    assert.equal(sync.text.match(/<d:response>/g)?.length, members);
    assert.equal(sync.text.match(/BEGIN:VCARD/g)?.length ?? 0, withData ? members : 0);
    assert.ok(
      reads.every((r) => r.rows <= pageRows && (withData || r.withData === 0)),
      `each store read holds one page${withData ? '' : ', without item data'}: ${JSON.stringify(reads.slice(0, 5))}`,
    );
    assert.ok(reads.length >= Math.ceil(members / pageRows), 'the members were read in pages');
  }
});
