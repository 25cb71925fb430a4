import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmtpConnection } from '../src/connectors/smtp/submission.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';

/**
 * A simulated SMTP submission server (RFC 6409), answering the real submission client
 * (src/connectors/smtp/submission.ts) through the connection interface it uses, in memory. It keeps
 * every message it accepted, so a checker counts what went out per send (sim/mail.ts `mail-sent-once`).
 * What goes wrong, per message and on the world's rates:
 *   - it cannot be reached (nothing handed over);
 *   - it refuses the message (a 5xx reply: not sent);
 *   - it accepts the message and its answer is lost (the connection breaks after the data went: the
 *     client cannot know whether it went);
 *   - it accepts the message and the hub's process dies before it has heard the answer (`onAccepted`).
 */

export interface SmtpFaultRates {
  unreachable: number;
  refuse: number;
  lostAnswer: number;
  /** The hub's process dies once the message is accepted. */
  dies: number;
}

export interface AcceptedMessage {
  from: string;
  to: string[];
  messageId: string;
  raw: Buffer;
}

const connectionError = (message: string) => Object.assign(new Error(message), { code: 'ECONNECTION' });

export class SimSubmission {
  readonly accepted: AcceptedMessage[] = [];
  readonly counts = { messages: 0, delivered: 0, unreachable: 0, refused: 0, lostAnswers: 0, deaths: 0 };
  /** Told when the process is to die with a message accepted (mail.ts strikes the server down). */
  onDeath: () => void = () => undefined;

  constructor(
    private readonly rng: Rng,
    readonly rates: SmtpFaultRates,
    private readonly trace: Trace | undefined,
  ) {}

  open(): SmtpConnection {
    return new SimSmtpConnection(this) as unknown as SmtpConnection;
  }

  connect(): Error | undefined {
    if (!this.rng.chance(this.rates.unreachable)) return undefined;
    this.counts.unreachable++;
    this.trace?.('smtp: cannot be reached');
    return connectionError('connect ECONNREFUSED');
  }

  /** MAIL FROM to the end of DATA: the error the client sees, or the server's answer. */
  send(envelope: { from: string; to: string[] }, raw: Buffer): { err: SMTPConnection.SMTPError } | { info: SMTPConnection.SentMessageInfo } {
    this.counts.messages++;
    const messageId = /^Message-ID:\s*(<[^>\r\n]*>)/im.exec(raw.toString('latin1'))?.[1] ?? '(none)';
    if (this.rng.chance(this.rates.refuse)) {
      this.counts.refused++;
      this.trace?.(`smtp: refuses ${messageId}`);
      return { err: Object.assign(new Error('Message failed: 554 5.7.1 Refused by policy'), { code: 'EMESSAGE', responseCode: 554, response: '554 5.7.1 Refused by policy' }) };
    }
    this.accepted.push({ from: envelope.from, to: [...envelope.to], messageId, raw });
    this.counts.delivered++;
    this.trace?.(`smtp: accepted ${messageId} (${this.accepted.length} accepted in all)`);
    if (this.rng.chance(this.rates.dies)) {
      this.counts.deaths++;
      this.trace?.('smtp: the hub dies before it hears the answer');
      this.onDeath();
      return { err: connectionError('Connection closed unexpectedly') };
    }
    if (this.rng.chance(this.rates.lostAnswer)) {
      this.counts.lostAnswers++;
      this.trace?.(`smtp: the answer to ${messageId} is lost`);
      return { err: connectionError('Connection closed unexpectedly') };
    }
    return { info: { accepted: [...envelope.to], rejected: [], response: `250 2.0.0 Ok: queued as ${this.accepted.length}`, envelopeTime: 0, messageTime: 0, messageSize: raw.length } };
  }
}

/** The subset of nodemailer's SMTPConnection the submission client uses, on the simulated server. */
class SimSmtpConnection {
  constructor(private readonly server: SimSubmission) {}

  on(): this {
    return this;
  }

  connect(callback: (err?: SMTPConnection.SMTPError) => void): void {
    queueMicrotask(() => callback(this.server.connect()));
  }

  login(_auth: unknown, callback: (err?: SMTPConnection.SMTPError) => void): void {
    queueMicrotask(() => callback());
  }

  send(envelope: { from: string; to: string[] }, message: Buffer, callback: (err: SMTPConnection.SMTPError | null, info?: SMTPConnection.SentMessageInfo) => void): void {
    queueMicrotask(() => {
      const answer = this.server.send(envelope, message);
      if ('err' in answer) callback(answer.err);
      else callback(null, answer.info);
    });
  }

  quit(): void {}

  close(): void {}
}
