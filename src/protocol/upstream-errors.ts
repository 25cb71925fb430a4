/**
 * What can go wrong talking to an upstream server (CardDAV/CalDAV, IMAP), typed so the caller (the
 * scheduler, `upstream add`, the hub's mail gateway) decides without reading messages (docs/architecture.md
 * § Connectors):
 *   - `auth`: 401, or an IMAP login refused; the stored credentials are wrong, retrying will not help;
 *   - `retry-after`: 503 or 429 with `Retry-After`; ask again after `retryAfterSeconds`;
 *   - `transient`: the network, a timeout, a 5xx, a 503/429 without `Retry-After`; ask again later;
 *   - `redirect`: a redirect to another origin (credentials are never sent there), or too many;
 *   - `too-large`: an answer past its byte, element or member bound;
 *   - `address`: the caller's fetch may not reach where the URL points (server/upstream-addresses.ts);
 *   - `protocol`: any other status, or an answer that is not what WebDAV or IMAP says it is (an IMAP
 *     server without CONDSTORE and QRESYNC among them).
 * An ETag precondition that fails (412) is not an error: writes return it as a conflict.
 */
export type UpstreamErrorReason = 'auth' | 'retry-after' | 'transient' | 'redirect' | 'too-large' | 'address' | 'protocol';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly reason: UpstreamErrorReason,
    message: string,
    readonly details: { status?: number; retryAfterSeconds?: number; url?: string } = {},
  ) {
    super(message);
  }
}

/**
 * How a submission to an SMTP server ended when it was not accepted (connectors/smtp/submission.ts), told
 * by what is known of the message: `refused`, the server answered no (`reply`), so nothing was sent;
 * `auth`, it refused the user name and password; `unreachable`, the message was never handed over
 * (no connection, TLS, no answer before the transaction); `unknown`, the connection broke while the
 * message was handed over or before its answer, so it may have been sent (docs/protocol.md §10.7).
 */
export class SubmissionError extends Error {
  override name = 'SubmissionError';
  constructor(
    readonly outcome: 'refused' | 'auth' | 'unreachable' | 'unknown',
    message: string,
    readonly reply?: string,
  ) {
    super(message);
  }
}
