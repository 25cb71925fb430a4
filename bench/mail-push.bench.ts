/**
 * Mail push benchmark (`npm run bench:mail-push`; not a test): the delay from a message delivered over
 * LMTP into Debian's Dovecot to a device's push channel carrying it (docs/design.md § Mail, watching;
 * issue goal: p99 under 1 s). A server (in this process, SQLite, watchers on, no schedule) has one
 * account with Dovecot's user as its IMAP upstream; the device holds a native push channel. One message at
 * a time is delivered (the next once the last was pushed, and 100 ms after), and for each are taken:
 *   - `floor`: from the LMTP answer (the message is in the Inbox) to a second watcher of the same user
 *     (src/connectors/imap/watcher.ts, NOTIFY) hearing of it: what Dovecot's reporting delay and the
 *     watcher's 50 ms burst wait cost before Syncpoint can do anything;
 *   - `notice`: from the LMTP answer to the device's `add` notice.
 * Dovecot reports changes on a timer of its own per connection (about every 500 ms), so each delay is the
 * phase of that timer plus, for the notice, the run and its commit: the two are compared by their
 * quantiles, not message by message. Prints p50, p99 and max of both and the ratio of their p99s, and
 * writes them with every sample to bench/results/mail-push-latest.json. Flags: --messages N (default 50).
 */
import { performance } from 'node:perf_hooks';
import { ImapWatcher } from '../src/connectors/imap/watcher.js';
import type { PushMessage } from '../src/protocol/push.js';
import { hostGuard } from '../src/server/upstream-addresses.js';
import { startDovecot } from '../test/support/dovecot.js';
import { openRawChannel } from '../test/support/push.js';
import { startTestServer } from '../test/support/server.js';
import { deliverOverLmtp } from '../test/support/submission.js';
import { addUpstream } from '../test/support/upstreams.js';
import { writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const messages = flag('messages', 50);

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
};
const summary = (values: number[]) => ({ p50: Math.round(quantile(values, 0.5)), p99: Math.round(quantile(values, 0.99)), max: Math.round(Math.max(...values)) });

const dovecot = await startDovecot({ users: { ann: 'ann-secret' } });
const server = await startTestServer({ upstreamWatchersMax: 10 });
const floorWatcher = new ImapWatcher(`imap://${dovecot.host}:${dovecot.imapPort}`, { username: 'ann', password: 'ann-secret' }, hostGuard(['127.0.0.1']), (change) => {
  if (change.folders.includes('INBOX')) seenAt ??= performance.now();
});
let seenAt: number | undefined;
try {
  const user = await server.addUser('bench');
  const upstream = await addUpstream(server, user.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'ann', password: 'ann-secret' });
  const inbox = upstream.collections.find((c) => c.collectionName === 'INBOX')?.collectionId;
  if (!inbox) throw new Error('no INBOX collection');
  floorWatcher.start();
  const channel = openRawChannel(server.url, { device: 'phone' }, { authorization: user.authorization });
  await channel.next((m) => m.type === 'hello');
  // Both watchers connected (the server's first run done): what follows is theirs to see.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const floor: number[] = [];
  const notice: number[] = [];
  const added = (subject: string) => (m: PushMessage) => m.type === 'change' && m.collectionId === inbox && m.command.op === 'add' && 'data' in m.command && typeof m.command.data === 'string' && (JSON.parse(m.command.data) as { subject: string }).subject === subject;
  for (let i = 0; i < messages; i++) {
    const subject = `Bench ${i}`;
    const raw = `From: carol@example.org\r\nTo: ann@${dovecot.domain}\r\nSubject: ${subject}\r\nMessage-ID: <bench${i}@example.org>\r\n\r\nMessage ${i}.\r\n`;
    seenAt = undefined;
    await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, raw);
    const delivered = performance.now();
    await channel.next(added(subject), 10_000);
    notice.push(performance.now() - delivered);
    // The floor watcher may hear of it after the notice (both wait on Dovecot): wait for it too.
    const deadline = Date.now() + 5000;
    while (seenAt === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    if (seenAt === undefined) throw new Error(`the floor watcher never heard of ${subject}`);
    floor.push(seenAt - delivered);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  channel.socket.close();
  const figures = {
    messages,
    floorMs: summary(floor),
    noticeMs: summary(notice),
    p99RatioNoticeToFloor: Number((quantile(notice, 0.99) / quantile(floor, 0.99)).toFixed(2)),
    samples: notice.map((n, i) => ({ noticeMs: Math.round(n), floorMs: Math.round(floor[i] as number) })),
  };
  console.log(JSON.stringify({ ...figures, samples: undefined }, null, 2));
  console.log(`results: ${writeResults('mail-push', figures)}`);
} finally {
  await floorWatcher.stop();
  await server.stop();
  await dovecot.stop();
}
