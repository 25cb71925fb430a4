import type { OpenDatabase } from '../../sqlite/open.js';
import type { MailPartRow, StoreTx } from '../store.js';

/** Mail parts kept from IMAP (docs/protocol.md §10.6), every statement scoped to its account. */
export type MailPartTx = Pick<StoreTx, 'getMailPart' | 'putMailPart'>;

interface MailPartDbRow {
  remote_id: string;
  blob_hash: string;
  bytes: number;
  content_type: string;
  fetched_at: number;
}

export function mailPartTx({ prepare: q }: OpenDatabase): MailPartTx {
  const s = {
    get: q<[string, string, string, string], MailPartDbRow>(
      'SELECT remote_id, blob_hash, bytes, content_type, fetched_at FROM mail_parts WHERE account_id = ? AND collection_id = ? AND item_id = ? AND part = ?',
    ),
    // Only for a live item of the account in that collection.
    put: q(`INSERT INTO mail_parts (account_id, collection_id, item_id, part, remote_id, blob_hash, bytes, content_type, fetched_at)
      SELECT @accountId, @collectionId, @itemId, @part, @remoteId, @blobHash, @bytes, @contentType, @fetchedAt
      WHERE EXISTS (SELECT 1 FROM items WHERE id = @itemId AND account_id = @accountId AND collection_id = @collectionId AND deleted_at IS NULL)
      ON CONFLICT (account_id, collection_id, item_id, part) DO UPDATE SET remote_id = excluded.remote_id, blob_hash = excluded.blob_hash,
        bytes = excluded.bytes, content_type = excluded.content_type, fetched_at = excluded.fetched_at`),
  };
  return {
    async getMailPart(accountId, collectionId, itemId, part) {
      const r = s.get.get(accountId, collectionId, itemId, part);
      return r && { accountId, collectionId, itemId, part, remoteId: r.remote_id, blobHash: r.blob_hash, bytes: r.bytes, contentType: r.content_type, fetchedAt: r.fetched_at };
    },
    async putMailPart(row: MailPartRow) {
      return s.put.run({ ...row }).changes > 0;
    },
  };
}
