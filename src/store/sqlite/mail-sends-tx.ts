import type { OpenDatabase } from '../../sqlite/open.js';
import type { MailSendRow, StoreTx } from '../store.js';

/** Mail an account sent, by its client ids (hub/mail.ts, docs/protocol.md §10.7), every statement scoped to its account. */
export type MailSendTx = Pick<StoreTx, 'getMailSend' | 'putMailSend'>;

interface MailSendDbRow {
  account_id: string;
  client_id: string;
  state: MailSendRow['state'];
  upstream_id: string;
  message_id: string;
  started_at: number;
  sent_at: number | null;
  accepted: string;
  rejected: string;
  response: string | null;
  error: string | null;
  sent_folder: string | null;
}

const toMailSend = (r: MailSendDbRow): MailSendRow => ({
  accountId: r.account_id,
  clientId: r.client_id,
  state: r.state,
  upstreamId: r.upstream_id,
  messageId: r.message_id,
  startedAt: r.started_at,
  sentAt: r.sent_at,
  accepted: JSON.parse(r.accepted) as string[],
  rejected: JSON.parse(r.rejected) as MailSendRow['rejected'],
  response: r.response,
  error: r.error,
  sentFolder: r.sent_folder,
});

export function mailSendTx({ prepare: q }: OpenDatabase): MailSendTx {
  const s = {
    get: q<[string, string], MailSendDbRow>('SELECT * FROM mail_sends WHERE account_id = ? AND client_id = ?'),
    put: q(`INSERT INTO mail_sends (account_id, client_id, state, upstream_id, message_id, started_at, sent_at, accepted, rejected, response, error, sent_folder)
      VALUES (@accountId, @clientId, @state, @upstreamId, @messageId, @startedAt, @sentAt, @accepted, @rejected, @response, @error, @sentFolder)
      ON CONFLICT (account_id, client_id) DO UPDATE SET state = excluded.state, upstream_id = excluded.upstream_id, message_id = excluded.message_id,
        started_at = excluded.started_at, sent_at = excluded.sent_at, accepted = excluded.accepted, rejected = excluded.rejected,
        response = excluded.response, error = excluded.error, sent_folder = excluded.sent_folder`),
  };
  return {
    async getMailSend(accountId, clientId) {
      const r = s.get.get(accountId, clientId);
      return r && toMailSend(r);
    },
    async putMailSend(r) {
      s.put.run({ ...r, accepted: JSON.stringify(r.accepted), rejected: JSON.stringify(r.rejected) });
    },
  };
}
