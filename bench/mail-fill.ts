/**
 * A 10,000-message Inbox for the mail benches (bench:mail, bench:eas): messages of 2–30 KB (plain,
 * alternative, some with a base64 attachment) delivered into Dovecot over LMTP.
 */
import { performance } from 'node:perf_hooks';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { Dovecot } from '../test/support/dovecot.js';

/** Message i: a few kinds and sizes, as a real Inbox holds. */
function message(i: number, domain: string): SendMailOptions {
  const paragraph = `Paragraph ${i}: the quarterly figures are in, and the team would like your thoughts before Friday. `;
  const text = paragraph.repeat(20 + (i % 280));
  const base = {
    from: `Sender ${i % 50} <sender${i % 50}@example.org>`,
    to: `ann@${domain}`,
    subject: `Report ${i} about topic ${i % 37}`,
    messageId: `<bench-${i}@example.org>`,
    date: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
    text,
  };
  if (i % 3 === 1) return { ...base, html: `<p>${text}</p>` };
  if (i % 10 === 2) return { ...base, attachments: [{ filename: `figures-${i}.bin`, content: Buffer.alloc(8_000 + (i % 7) * 1000, i % 256) }] };
  return base;
}

/** Fills Dovecot's `ann` INBOX with `messagesTotal` messages over LMTP, 100 at a time. */
export async function fill(dovecot: Dovecot, messagesTotal: number): Promise<void> {
  const lmtp = nodemailer.createTransport({ host: dovecot.host, port: dovecot.lmtpPort, lmtp: true, secure: false, ignoreTLS: true, pool: true, maxConnections: 2, maxMessages: Infinity } as never);
  const started = performance.now();
  for (let i = 0; i < messagesTotal; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, messagesTotal - i) }, (_, k) =>
        lmtp.sendMail({ ...message(i + k, dovecot.domain), envelope: { from: 'sender@example.org', to: [`ann@${dovecot.domain}`] } }),
      ),
    );
  }
  lmtp.close();
  process.stderr.write(`filled INBOX with ${messagesTotal} messages over LMTP in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

