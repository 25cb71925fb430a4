import type { OpenDatabase } from '../../sqlite/open.js';
import type { StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store.js';

/** Upstream servers and their mapped collections (docs/operations.md § Upstream servers), every statement scoped to its account. */
export type UpstreamTx = Pick<
  StoreTx,
  'createUpstream' | 'listUpstreams' | 'listDueUpstreams' | 'listUpstreamsOfKind' | 'getUpstream' | 'setUpstreamSecret' | 'setUpstreamRunState' | 'deleteUpstream' | 'putUpstreamCollection' | 'listUpstreamCollections'
>;

interface UpstreamDbRow {
  id: string;
  account_id: string;
  kind: string;
  url: string;
  submission_url: string | null;
  username: string;
  secret: string;
  device_id: string;
  created_at: number;
  last_run_at: number | null;
  last_error: string | null;
  next_run_at: number | null;
  failures: number;
}

interface MappingDbRow {
  account_id: string;
  upstream_id: string;
  url: string;
  collection_id: string;
}

const toUpstream = (r: UpstreamDbRow): UpstreamRow => ({
  id: r.id,
  accountId: r.account_id,
  kind: r.kind,
  url: r.url,
  submissionUrl: r.submission_url,
  username: r.username,
  secret: r.secret,
  deviceId: r.device_id,
  createdAt: r.created_at,
  lastRunAt: r.last_run_at,
  lastError: r.last_error,
  nextRunAt: r.next_run_at,
  failures: r.failures,
});

const toMapping = (r: MappingDbRow): UpstreamCollectionRow => ({
  accountId: r.account_id,
  upstreamId: r.upstream_id,
  url: r.url,
  collectionId: r.collection_id,
});

export function upstreamTx({ prepare: q }: OpenDatabase): UpstreamTx {
  const s = {
    insert: q(`INSERT INTO upstreams (id, account_id, kind, url, submission_url, username, secret, device_id, created_at, last_run_at, last_error, next_run_at, failures)
      VALUES (@id, @accountId, @kind, @url, @submissionUrl, @username, @secret, @deviceId, @createdAt, @lastRunAt, @lastError, @nextRunAt, @failures)`),
    list: q<[string], UpstreamDbRow>('SELECT * FROM upstreams WHERE account_id = ? ORDER BY created_at, id'),
    due: q<[number, number], { account_id: string; id: string }>('SELECT account_id, id FROM upstreams WHERE next_run_at IS NULL OR next_run_at <= ? ORDER BY coalesce(next_run_at, 0), id LIMIT ?'),
    ofKind: q<[string, number], UpstreamDbRow>('SELECT * FROM upstreams WHERE kind = ? ORDER BY created_at, id LIMIT ?'),
    byId: q<[string, string], UpstreamDbRow>('SELECT * FROM upstreams WHERE account_id = ? AND id = ?'),
    setSecret: q('UPDATE upstreams SET secret = ? WHERE account_id = ? AND id = ?'),
    setRunState: q('UPDATE upstreams SET last_run_at = @lastRunAt, last_error = @lastError, next_run_at = @nextRunAt, failures = @failures WHERE account_id = @accountId AND id = @id'),
    delete: q('DELETE FROM upstreams WHERE account_id = ? AND id = ?'),
    // The mapping's upstream must be the account's own: a row naming another account's upstream is not written.
    putMapping: q(`INSERT INTO upstream_collections (account_id, upstream_id, url, collection_id)
      SELECT @accountId, @upstreamId, @url, @collectionId
      WHERE EXISTS (SELECT 1 FROM upstreams WHERE account_id = @accountId AND id = @upstreamId)
        AND EXISTS (SELECT 1 FROM collections WHERE account_id = @accountId AND id = @collectionId)
      ON CONFLICT (upstream_id, url, collection_id) DO UPDATE SET url = excluded.url
      WHERE upstream_collections.account_id = excluded.account_id`),
    mappings: q<[string, string], MappingDbRow>('SELECT * FROM upstream_collections WHERE account_id = ? AND upstream_id = ? ORDER BY url, collection_id'),
  };
  return {
    async createUpstream(r) {
      s.insert.run(r);
    },
    async listUpstreams(accountId) {
      return s.list.all(accountId).map(toUpstream);
    },
    async listDueUpstreams(now, max) {
      return s.due.all(now, max).map((r) => ({ accountId: r.account_id, id: r.id }));
    },
    async listUpstreamsOfKind(kind, max) {
      return s.ofKind.all(kind, max).map(toUpstream);
    },
    async getUpstream(accountId, id) {
      const r = s.byId.get(accountId, id);
      return r && toUpstream(r);
    },
    async setUpstreamSecret(accountId, id, secret) {
      return s.setSecret.run(secret, accountId, id).changes > 0;
    },
    async setUpstreamRunState(accountId, id, state) {
      return s.setRunState.run({ ...state, accountId, id }).changes > 0;
    },
    async deleteUpstream(accountId, id) {
      // Its mappings go with it (ON DELETE CASCADE).
      return s.delete.run(accountId, id).changes > 0;
    },
    async putUpstreamCollection(r) {
      if (s.putMapping.run(r).changes === 0) throw new Error(`upstream ${r.upstreamId} or collection ${r.collectionId} is not account ${r.accountId}'s`);
    },
    async listUpstreamCollections(accountId, upstreamId) {
      return s.mappings.all(accountId, upstreamId).map(toMapping);
    },
  };
}
