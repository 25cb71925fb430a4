import type { MailSendRow, StoreTx } from '../store.js';
import type { Sql } from './sql.js';

/** Mail an account sent, by its client ids (hub/mail.ts, docs/protocol.md §10.7), every statement scoped to its account. */
export type MailSendTx = Pick<StoreTx, 'getMailSend' | 'putMailSend'>;

type MailSendDbRow = Omit<MailSendRow, 'accepted' | 'rejected'> & { accepted: string; rejected: string };

export function mailSendTx(sql: Sql): MailSendTx {
  return {
    async getMailSend(accountId, clientId) {
      const [r] = await sql<MailSendDbRow[]>`SELECT account_id, client_id, state, upstream_id, message_id, started_at, sent_at, accepted, rejected, response, error, sent_folder
        FROM mail_sends WHERE account_id = ${accountId} AND client_id = ${clientId}`;
      return r && { ...r, accepted: JSON.parse(r.accepted) as string[], rejected: JSON.parse(r.rejected) as MailSendRow['rejected'] };
    },
    async putMailSend(r) {
      await sql`INSERT INTO mail_sends (account_id, client_id, state, upstream_id, message_id, started_at, sent_at, accepted, rejected, response, error, sent_folder)
        VALUES (${r.accountId}, ${r.clientId}, ${r.state}, ${r.upstreamId}, ${r.messageId}, ${r.startedAt}, ${r.sentAt}, ${JSON.stringify(r.accepted)}, ${JSON.stringify(r.rejected)}, ${r.response}, ${r.error}, ${r.sentFolder})
        ON CONFLICT (account_id, client_id) DO UPDATE SET state = excluded.state, upstream_id = excluded.upstream_id, message_id = excluded.message_id,
          started_at = excluded.started_at, sent_at = excluded.sent_at, accepted = excluded.accepted, rejected = excluded.rejected,
          response = excluded.response, error = excluded.error, sent_folder = excluded.sent_folder`;
    },
  };
}
