import type { MailPartRow, StoreTx } from '../store.js';
import type { Sql } from './sql.js';

/** Mail parts kept from IMAP (docs/protocol.md §10.6), every statement scoped to its account. */
export type MailPartTx = Pick<StoreTx, 'getMailPart' | 'putMailPart'>;

export function mailPartTx(sql: Sql): MailPartTx {
  return {
    async getMailPart(accountId, collectionId, itemId, part) {
      const [r] = await sql<Array<Pick<MailPartRow, 'remoteId' | 'blobHash' | 'bytes' | 'contentType' | 'fetchedAt'>>>`SELECT remote_id, blob_hash, bytes, content_type, fetched_at
        FROM mail_parts WHERE account_id = ${accountId} AND collection_id = ${collectionId} AND item_id = ${itemId} AND part = ${part}`;
      return r && { accountId, collectionId, itemId, part, remoteId: r.remoteId, blobHash: r.blobHash, bytes: Number(r.bytes), contentType: r.contentType, fetchedAt: Number(r.fetchedAt) };
    },
    async putMailPart(row: MailPartRow) {
      // Only for a live item of the account in that collection.
      const written = await sql`INSERT INTO mail_parts (account_id, collection_id, item_id, part, remote_id, blob_hash, bytes, content_type, fetched_at)
        SELECT ${row.accountId}, ${row.collectionId}, ${row.itemId}, ${row.part}, ${row.remoteId}, ${row.blobHash}, ${row.bytes}, ${row.contentType}, ${row.fetchedAt}
        WHERE EXISTS (SELECT 1 FROM items WHERE id = ${row.itemId} AND account_id = ${row.accountId} AND collection_id = ${row.collectionId} AND deleted_at IS NULL)
        ON CONFLICT (account_id, collection_id, item_id, part) DO UPDATE SET remote_id = excluded.remote_id, blob_hash = excluded.blob_hash,
          bytes = excluded.bytes, content_type = excluded.content_type, fetched_at = excluded.fetched_at`.run();
      return written > 0;
    },
  };
}
