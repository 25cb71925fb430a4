import type { StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store.js';
import type { Sql } from './sql.js';

/** Upstream servers and their mapped collections (docs/operations.md § Upstream servers), every statement scoped to its account. */
export type UpstreamTx = Pick<
  StoreTx,
  'createUpstream' | 'listUpstreams' | 'listDueUpstreams' | 'listUpstreamsOfKind' | 'getUpstream' | 'setUpstreamSecret' | 'setUpstreamRunState' | 'deleteUpstream' | 'putUpstreamCollection' | 'listUpstreamCollections'
>;

const upstreamColumns = (sql: Sql) => sql`id, account_id, kind, url, submission_url, username, secret, device_id, created_at, last_run_at, last_error, next_run_at, failures`;

export function upstreamTx(sql: Sql): UpstreamTx {
  return {
    async createUpstream(r) {
      await sql`INSERT INTO upstreams (id, account_id, kind, url, submission_url, username, secret, device_id, created_at, last_run_at, last_error, next_run_at, failures)
        VALUES (${r.id}, ${r.accountId}, ${r.kind}, ${r.url}, ${r.submissionUrl}, ${r.username}, ${r.secret}, ${r.deviceId}, ${r.createdAt}, ${r.lastRunAt}, ${r.lastError}, ${r.nextRunAt}, ${r.failures})`;
    },
    async listUpstreams(accountId) {
      return sql<UpstreamRow[]>`SELECT ${upstreamColumns(sql)} FROM upstreams WHERE account_id = ${accountId} ORDER BY created_at, id`;
    },
    async listDueUpstreams(now, max) {
      return sql<Array<{ accountId: string; id: string }>>`SELECT account_id, id FROM upstreams WHERE next_run_at IS NULL OR next_run_at <= ${now}
        ORDER BY coalesce(next_run_at, 0), id LIMIT ${max}`;
    },
    async listUpstreamsOfKind(kind, max) {
      return sql<UpstreamRow[]>`SELECT ${upstreamColumns(sql)} FROM upstreams WHERE kind = ${kind} ORDER BY created_at, id LIMIT ${max}`;
    },
    async getUpstream(accountId, id) {
      const [r] = await sql<UpstreamRow[]>`SELECT ${upstreamColumns(sql)} FROM upstreams WHERE account_id = ${accountId} AND id = ${id}`;
      return r;
    },
    async setUpstreamSecret(accountId, id, secret) {
      return (await sql`UPDATE upstreams SET secret = ${secret} WHERE account_id = ${accountId} AND id = ${id}`.run()) > 0;
    },
    async setUpstreamRunState(accountId, id, s) {
      return (
        (await sql`UPDATE upstreams SET last_run_at = ${s.lastRunAt}, last_error = ${s.lastError}, next_run_at = ${s.nextRunAt}, failures = ${s.failures}
          WHERE account_id = ${accountId} AND id = ${id}`.run()) > 0
      );
    },
    async deleteUpstream(accountId, id) {
      // Its mappings go with it (ON DELETE CASCADE).
      return (await sql`DELETE FROM upstreams WHERE account_id = ${accountId} AND id = ${id}`.run()) > 0;
    },
    async putUpstreamCollection(r) {
      // The mapping's upstream and collection must be the account's own: a row naming another account's is not written.
      const written = await sql`INSERT INTO upstream_collections (account_id, upstream_id, url, collection_id)
        SELECT ${r.accountId}, ${r.upstreamId}, ${r.url}, ${r.collectionId}
        WHERE EXISTS (SELECT 1 FROM upstreams WHERE account_id = ${r.accountId} AND id = ${r.upstreamId})
          AND EXISTS (SELECT 1 FROM collections WHERE account_id = ${r.accountId} AND id = ${r.collectionId})
        ON CONFLICT (upstream_id, url, collection_id) DO UPDATE SET url = excluded.url
        WHERE upstream_collections.account_id = excluded.account_id`.run();
      if (written === 0) throw new Error(`upstream ${r.upstreamId} or collection ${r.collectionId} is not account ${r.accountId}'s`);
    },
    async listUpstreamCollections(accountId, upstreamId) {
      return sql<UpstreamCollectionRow[]>`SELECT account_id, upstream_id, url, collection_id FROM upstream_collections
        WHERE account_id = ${accountId} AND upstream_id = ${upstreamId} ORDER BY url, collection_id`;
    },
  };
}
