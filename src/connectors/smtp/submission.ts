import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { limits } from '../../core/limits.js';
import { SubmissionError, UpstreamError } from '../../protocol/upstream-errors.js';

/**
 * Hands one message to an SMTP submission server (RFC 6409) for an IMAP upstream (docs/protocol.md §10.7):
 * `smtps://` is TLS from the start, `smtp://` upgrades with STARTTLS whenever the server offers it; AUTH
 * with the upstream's user name and password. `ready` runs once signed in and before the SMTP transaction
 * (MAIL FROM) begins, so the caller records the send first: what happens after it may have sent the
 * message. Every failure is a SubmissionError saying whether the message may have gone out.
 */

export interface SubmissionAccount {
  url: string;
  username: string;
  password: string;
}

export interface Submitted {
  /** The recipients the server took, and those it refused (with its reply to each). */
  accepted: string[];
  rejected: Array<{ address: string; reply: string }>;
  /** Its reply to the message (250 …). */
  response: string;
}

/** Where the URL's host may be reached (server/upstream-addresses.ts). */
export type Locate = (url: string) => Promise<string>;

/** What `submit` uses of an SMTP connection: nodemailer's, or the simulator's submission server (sim/smtp-submission.ts). */
export type SmtpConnection = Pick<SMTPConnection, 'on' | 'connect' | 'login' | 'send' | 'quit' | 'close'>;
export type OpenConnection = (options: SMTPConnection.Options) => SmtpConnection;

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
  recipient?: string;
}

export async function submit(
  account: SubmissionAccount,
  locate: Locate,
  envelope: { from: string; to: string[] },
  message: Buffer,
  ready: () => Promise<void>,
  openConnection: OpenConnection = (options) => new SMTPConnection(options),
): Promise<Submitted> {
  const url = new URL(account.url);
  const secure = url.protocol === 'smtps:';
  let host: string;
  try {
    host = await locate(account.url);
  } catch (err) {
    throw new SubmissionError('unreachable', err instanceof UpstreamError ? err.message : `cannot reach ${url.host}: ${String(err)}`);
  }
  const connection = openConnection({
    host,
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    servername: url.hostname,
    connectionTimeout: limits.upstreamRequestMs,
    greetingTimeout: limits.upstreamRequestMs,
    socketTimeout: limits.upstreamRequestMs,
  });
  // nodemailer tells some failures (a refused connection, one closed) by these events alone, not to the
  // pending call: each step fails with them, so none waits for an answer that never comes.
  let failStep: ((err: unknown) => void) | undefined;
  connection.on('error', (err) => failStep?.(err));
  connection.on('end', () => failStep?.(Object.assign(new Error('the server closed the connection'), { code: 'ECONNECTION' })));
  const step = <T>(start: (done: (value: T) => void, fail: (err: unknown) => void) => void) =>
    new Promise<T>((done, fail) => {
      failStep = fail;
      start(done, fail);
    }).finally(() => (failStep = undefined));
  try {
    try {
      await step<void>((done, fail) => connection.connect((err) => (err ? fail(err) : done())));
      await step<void>((done, fail) => connection.login({ user: account.username, pass: account.password }, (err) => (err ? fail(err) : done())));
    } catch (err) {
      const e = err as SmtpFailure;
      if (e.code === 'EAUTH') throw new SubmissionError('auth', `${url.host} refused the user name and password${e.response ? `: ${e.response}` : ''}`, e.response);
      throw new SubmissionError('unreachable', `cannot send through ${url.host}: ${e.response ?? e.message ?? String(err)}`, e.response);
    }
    await ready();
    const info = await step<SMTPConnection.SentMessageInfo>((done, fail) =>
      connection.send({ from: envelope.from, to: envelope.to, use8BitMime: message.some((b) => b > 0x7f) }, message, (err, sent) => (err || !sent ? fail(err) : done(sent))),
    ).catch((err: unknown) => {
      const e = err as SmtpFailure;
      // An answer from the server decides: the message was not taken. Without one (the connection broke,
      // a timeout), it may have been, unless nodemailer refused it before sending anything (API).
      if (typeof e.responseCode === 'number') throw new SubmissionError('refused', `${url.host} refused the message: ${refusals(err)}`, e.response);
      if ((err as { command?: string }).command === 'API') throw new SubmissionError('refused', `the message cannot be sent: ${e.message ?? String(err)}`);
      throw new SubmissionError('unknown', `the connection to ${url.host} broke while the message was handed over (${e.message ?? String(err)}); it may have been sent`);
    });
    connection.quit();
    const replies = new Map((info.rejectedErrors ?? []).map((e) => [(e as SmtpFailure).recipient ?? '', (e as SmtpFailure).response ?? '']));
    return { accepted: info.accepted.map(String), rejected: info.rejected.map((a) => ({ address: String(a), reply: replies.get(String(a)) ?? '' })), response: info.response };
  } finally {
    connection.close();
  }
}

/** The server's replies: to each recipient it refused, else to the message. */
function refusals(err: unknown): string {
  const e = err as SmtpFailure & { rejectedErrors?: SmtpFailure[] };
  const each = (e.rejectedErrors ?? []).map((r) => `${r.recipient ?? ''}: ${r.response ?? r.message ?? ''}`);
  return each.length > 0 ? each.join('; ') : (e.response ?? e.message ?? String(err));
}
