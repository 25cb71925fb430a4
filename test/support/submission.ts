import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { Dovecot } from './dovecot.js';

/**
 * A real SMTP submission server for the mail tests and bench (npm `smtp-server`) on a free loopback port:
 * AUTH PLAIN or LOGIN with a Dovecot user's name and password (no TLS on loopback), and every accepted
 * message delivered at once over LMTP into Dovecot, so sent mail really lands in its recipients' INBOX
 * before the client hears 250. Recipients at the Dovecot domain must be its users (others get 550 at
 * RCPT); recipients elsewhere are accepted and only recorded, as if relayed to the world.
 */

export interface SubmittedMessage {
  /** The authenticated user's login name. */
  user: string;
  from: string;
  to: string[];
  /** The message as the client sent it (RFC 5322, CRLF line ends). */
  raw: Buffer;
}

export interface SubmissionOptions {
  dovecot: Dovecot;
  /** Largest message accepted, in bytes (advertised as SIZE); 25 MB by default. */
  messageBytesMax?: number;
  /** The loopback port to listen on; a free one by default. */
  port?: number;
}

export interface Submission {
  host: '127.0.0.1';
  port: number;
  /** Every message accepted so far, in order. */
  accepted: SubmittedMessage[];
  /** Those of them with that subject. */
  withSubject(subject: string): SubmittedMessage[];
  stop(): Promise<void>;
}

/**
 * Delivers `raw` into Dovecot over LMTP for each address of `to` (all at Dovecot's domain); throws if
 * Dovecot refuses any of them. Resolves once the message is in every recipient's INBOX.
 */
export async function deliverOverLmtp(dovecot: Dovecot, envelope: { from: string; to: string[] }, raw: Buffer | string): Promise<void> {
  const lmtp = nodemailer.createTransport({ host: dovecot.host, port: dovecot.lmtpPort, lmtp: true, secure: false, ignoreTLS: true });
  try {
    const info = await lmtp.sendMail({ envelope, raw });
    if (info.rejected.length > 0) throw new Error(`LMTP refused ${info.rejected.join(', ')}: ${info.response}`);
  } finally {
    lmtp.close();
  }
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startSubmission(options: SubmissionOptions): Promise<Submission> {
  const { dovecot } = options;
  const accepted: SubmittedMessage[] = [];
  const local = (address: string) => address.toLowerCase().endsWith(`@${dovecot.domain.toLowerCase()}`);
  const server = new SMTPServer({
    name: 'submission.syncpoint.test',
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    size: options.messageBytesMax ?? 25 * 1024 * 1024,
    logger: false,
    // Clients that stay connected do not hold up `stop` for smtp-server's default 30 s.
    closeTimeout: 1000,
    // The users and passwords Dovecot has right now (addUser included), as a submission server sharing its passdb would.
    onAuth(auth, _session, callback) {
      const user = Object.hasOwn(dovecot.users, auth.username ?? '') ? dovecot.users[auth.username!] : undefined;
      if (!user || user.password !== auth.password) return callback(smtpError(535, 'Authentication credentials invalid'));
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      if (!local(address.address)) return callback();
      const name = address.address.slice(0, address.address.lastIndexOf('@')).toLowerCase();
      callback(Object.hasOwn(dovecot.users, name) ? undefined : smtpError(550, `No such user here: ${address.address}`));
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(smtpError(552, 'Message exceeds the size limit'));
        const raw = Buffer.concat(chunks);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address);
        const here = to.filter(local);
        const delivered = here.length > 0 ? deliverOverLmtp(dovecot, { from, to: here }, raw) : Promise.resolve();
        delivered.then(
          () => {
            accepted.push({ user: String(session.user), from, to, raw });
            callback();
          },
          (error: Error) => callback(smtpError(451, `Local delivery failed: ${error.message}`)),
        );
      });
    },
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => done());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    accepted,
    withSubject: (subject) => accepted.filter((m) => m.raw.toString('utf8').includes(`Subject: ${subject}\r\n`)),
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}
