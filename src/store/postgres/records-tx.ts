import type { AuthFailureRow, ConflictRow, PushChannelRow, PushTicketRow, PushTokenRow, StoreOptions, StoreTx } from '../store.js';
import { spanOf, withinRanges } from '../token-ranges.js';
import type { Sql } from './sql.js';

/** What the hub keeps beside items: conflicts, the add ledger, DAV names and push tokens. */
export type RecordTx = Pick<
  StoreTx,
  | 'addConflict'
  | 'listConflicts'
  | 'getConflict'
  | 'markConflictRestored'
  | 'findLedgerAdd'
  | 'recordLedgerAdd'
  | 'purgedEtag'
  | 'findDavName'
  | 'davNameOf'
  | 'setDavName'
  | 'nextPushToken'
  | 'issuePushTokens'
  | 'getPushToken'
  | 'findPushTokens'
  | 'releasePushTokens'
  | 'listPushTokensAfter'
  | 'putPushChannel'
  | 'deletePushChannel'
  | 'listPushChannels'
  | 'touchPushChannels'
  | 'putPushTicket'
  | 'takePushTicket'
  | 'purgePushTickets'
  | 'getAuthFailures'
  | 'putAuthFailures'
  | 'purgeAuthFailures'
>;

const conflictColumns = (sql: Sql) => sql`id, account_id, collection_id, item_id, data, lost_by, won_by, reason, created_at, restored_at`;

export function recordTx(sql: Sql, { pushTokenFloor: tokenFloor }: StoreOptions): RecordTx {
  return {
    async addConflict(r) {
      await sql`INSERT INTO conflicts (id, account_id, collection_id, item_id, data, lost_by, won_by, reason, created_at, restored_at)
        VALUES (${r.id}, ${r.accountId}, ${r.collectionId}, ${r.itemId}, ${r.data}, ${r.lostBy}, ${r.wonBy}, ${r.reason}, ${r.createdAt}, ${r.restoredAt})`;
    },
    async listConflicts(accountId) {
      return sql<ConflictRow[]>`SELECT ${conflictColumns(sql)} FROM conflicts WHERE account_id = ${accountId} ORDER BY created_at DESC, id`;
    },
    async getConflict(accountId, id) {
      const [r] = await sql<ConflictRow[]>`SELECT ${conflictColumns(sql)} FROM conflicts WHERE account_id = ${accountId} AND id = ${id}`;
      return r;
    },
    async markConflictRestored(accountId, id, at) {
      await sql`UPDATE conflicts SET restored_at = ${at} WHERE account_id = ${accountId} AND id = ${id}`;
    },

    async findLedgerAdd(accountId, deviceId, collectionId, clientId, dataEtag) {
      const [r] = await sql<{ itemId: string; status: string }[]>`SELECT item_id, status FROM add_ledger
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId} AND client_id = ${clientId} AND data_etag = ${dataEtag}`;
      return r && { itemId: r.itemId, lost: r.status === 'conflict' };
    },
    async recordLedgerAdd(accountId, deviceId, collectionId, clientId, dataEtag, itemId, lost) {
      await sql`INSERT INTO add_ledger (account_id, device_id, collection_id, client_id, data_etag, item_id, status)
        VALUES (${accountId}, ${deviceId}, ${collectionId}, ${clientId}, ${dataEtag}, ${itemId}, ${lost ? 'conflict' : 'ok'}) ON CONFLICT DO NOTHING`;
    },
    async purgedEtag(accountId, collectionId, itemId) {
      const [r] = await sql<{ etag: string }[]>`SELECT etag FROM purged_items WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND item_id = ${itemId}`;
      return r?.etag;
    },

    async findDavName(accountId, collectionId, name) {
      const [r] = await sql<{ itemId: string }[]>`SELECT item_id FROM dav_names WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND name = ${name}`;
      return r?.itemId;
    },
    async davNameOf(accountId, itemId) {
      const [r] = await sql<{ name: string }[]>`SELECT name FROM dav_names WHERE account_id = ${accountId} AND item_id = ${itemId}`;
      return r?.name;
    },
    async setDavName(accountId, collectionId, name, itemId) {
      // As SQLite's INSERT OR REPLACE: the name, and the item, each name one row.
      await sql`DELETE FROM dav_names WHERE account_id = ${accountId} AND ((collection_id = ${collectionId} AND name = ${name}) OR item_id = ${itemId})`;
      await sql`INSERT INTO dav_names (account_id, collection_id, name, item_id) VALUES (${accountId}, ${collectionId}, ${name}, ${itemId})`;
    },

    async nextPushToken(accountId, deviceId) {
      const [r] = await sql<{ nextToken: number }[]>`SELECT next_token FROM push_counters WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      return Math.max(r?.nextToken ?? 1, tokenFloor);
    },
    async issuePushTokens(accountId, issues, issuedAt) {
      const given = issues.filter((i) => i.entries.length > 0);
      if (given.length === 0) return issues.map(() => []);
      // Every device's counter moves in one statement and every token is stored in a second: a commit that
      // tells a thousand devices costs two round trips, not two per device.
      const counters = await sql<{ deviceId: string; nextToken: number }[]>`INSERT INTO push_counters (account_id, device_id, next_token)
        SELECT ${accountId}, d.device_id, ${tokenFloor} + d.count FROM unnest(${given.map((i) => i.deviceId)}::text[], ${given.map((i) => i.entries.length)}::bigint[]) AS d(device_id, count)
        ON CONFLICT (account_id, device_id) DO UPDATE SET next_token = GREATEST(push_counters.next_token, ${tokenFloor}) + (excluded.next_token - ${tokenFloor})
        RETURNING device_id, next_token`;
      const end = new Map(counters.map((c) => [c.deviceId, c.nextToken]));
      const issued = issues.map(({ deviceId, entries }) =>
        entries.map((e, i) => ({ token: (end.get(deviceId) as number) - entries.length + i, ...e })),
      );
      const rows = issues.flatMap(({ deviceId }, d) => (issued[d] as PushTokenRow[]).map((t) => ({ deviceId, ...t })));
      await sql`INSERT INTO push_tokens (account_id, device_id, token, collection_id, item_id, seq, issued_at)
        SELECT ${accountId}, t.device_id, t.token, t.collection_id, t.item_id, t.seq, ${issuedAt}
        FROM unnest(${rows.map((t) => t.deviceId)}::text[], ${rows.map((t) => t.token)}::bigint[], ${rows.map((t) => t.collectionId)}::text[], ${rows.map((t) => t.itemId)}::text[], ${rows.map((t) => t.seq)}::bigint[])
          AS t(device_id, token, collection_id, item_id, seq)`;
      return issued;
    },
    async getPushToken(accountId, deviceId, token) {
      const [r] = await sql<PushTokenRow[]>`SELECT token, collection_id, item_id, seq FROM push_tokens WHERE account_id = ${accountId} AND device_id = ${deviceId} AND token = ${token}`;
      return r;
    },
    async findPushTokens(accountId, deviceId, collectionId, ranges) {
      const span = spanOf(ranges);
      if (!span) return [];
      const rows = await sql<PushTokenRow[]>`SELECT token, collection_id, item_id, seq FROM push_tokens
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId} AND token BETWEEN ${span.from} AND ${span.to} ORDER BY token`;
      return [...withinRanges(rows, ranges)];
    },
    async listPushTokensAfter(accountId, deviceId, afterToken, limit) {
      return sql<PushTokenRow[]>`SELECT token, collection_id, item_id, seq FROM push_tokens
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND token > ${afterToken} ORDER BY token LIMIT ${limit}`;
    },
    async putPushChannel(r) {
      await sql`INSERT INTO push_counters (account_id, device_id, next_token) VALUES (${r.accountId}, ${r.deviceId}, ${tokenFloor})
        ON CONFLICT (account_id, device_id) DO UPDATE SET next_token = GREATEST(push_counters.next_token, ${tokenFloor})`;
      await sql`INSERT INTO push_channels (account_id, device_id, process_id, mailbox, collections, seen_at)
        VALUES (${r.accountId}, ${r.deviceId}, ${r.processId}, ${r.mailbox}, ${r.collections === null ? null : sql.json(r.collections)}, ${r.seenAt})
        ON CONFLICT (account_id, device_id) DO UPDATE SET process_id = excluded.process_id, mailbox = excluded.mailbox, collections = excluded.collections, seen_at = excluded.seen_at`;
    },
    async deletePushChannel(accountId, deviceId, processId) {
      await sql`DELETE FROM push_channels WHERE account_id = ${accountId} AND device_id = ${deviceId} AND process_id = ${processId}`;
    },
    async listPushChannels(accountId, seenSince) {
      return sql<PushChannelRow[]>`SELECT account_id, device_id, process_id, mailbox, collections, seen_at FROM push_channels
        WHERE account_id = ${accountId} AND seen_at >= ${seenSince} ORDER BY device_id`;
    },
    async touchPushChannels(processId, at) {
      await sql`UPDATE push_channels SET seen_at = ${at} WHERE process_id = ${processId}`;
    },
    async putPushTicket(r, now, keepMax) {
      await sql`DELETE FROM push_tickets WHERE account_id = ${r.accountId} AND expires_at <= ${now}`;
      await sql`INSERT INTO push_tickets (ticket_hash, account_id, token_id, session_id_hash, epoch, expires_at)
        VALUES (${r.ticketHash}, ${r.accountId}, ${r.tokenId}, ${r.sessionIdHash}, ${r.epoch}, ${r.expiresAt})`;
      await sql`DELETE FROM push_tickets WHERE account_id = ${r.accountId} AND ticket_hash NOT IN
        (SELECT ticket_hash FROM push_tickets WHERE account_id = ${r.accountId} ORDER BY expires_at DESC, ticket_hash LIMIT ${keepMax})`;
    },
    async takePushTicket(ticketHash) {
      const [r] = await sql<PushTicketRow[]>`DELETE FROM push_tickets WHERE ticket_hash = ${ticketHash}
        RETURNING ticket_hash, account_id, token_id, session_id_hash, epoch, expires_at`;
      return r;
    },
    async purgePushTickets(now) {
      return await sql`DELETE FROM push_tickets WHERE expires_at <= ${now}`.run();
    },
    async getAuthFailures(keyHashes) {
      // Locked: a parallel attempt on one counter waits, then fails its snapshot and is run again (postgres-store.ts).
      return sql<AuthFailureRow[]>`SELECT key_hash, failures, last_at FROM auth_failures WHERE key_hash = ANY(${[...keyHashes]}::text[]) ORDER BY key_hash FOR UPDATE`;
    },
    async putAuthFailures(rows) {
      for (const r of rows) {
        if (r.failures > 0) {
          await sql`INSERT INTO auth_failures (key_hash, failures, last_at) VALUES (${r.keyHash}, ${r.failures}, ${r.lastAt})
            ON CONFLICT (key_hash) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at`;
        } else await sql`DELETE FROM auth_failures WHERE key_hash = ${r.keyHash}`;
      }
    },
    async purgeAuthFailures(before) {
      return await sql`DELETE FROM auth_failures WHERE last_at < ${before}`.run();
    },
    async releasePushTokens(accountId, deviceId, collectionId, seq, keep) {
      await sql`DELETE FROM push_tokens WHERE account_id = ${accountId} AND device_id = ${deviceId} AND collection_id = ${collectionId} AND seq <= ${seq}
        AND NOT (token = ANY(${[...keep]}::bigint[]))`;
    },
  };
}
