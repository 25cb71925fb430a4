/**
 * Mail part fetches (docs/protocol.md §10.6; not a test, run `node dist/bench/mail-parts.bench.js` after a
 * build): one message in Debian's Dovecot on loopback with a 10 MiB and a 20 MiB base64 attachment, fetched
 * through a real server by their tokens, with curl (so this process is the server alone): the 10 MiB one from IMAP (decoded and kept as a blob), again from
 * the store, and the 20 MiB one (over blobBytesMax: streamed, not kept). For each: wall time, the CPU of
 * this process (the server's) per MiB, and the longest event-loop delay
 * meanwhile (what another request would have waited). Each checks the bytes it got. Needs, besides a build: Debian's
 * `dovecot-imapd`, `dovecot-lmtpd` and `curl`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startDovecot } from '../test/support/dovecot.js';
import { startTestServer } from '../test/support/server.js';
import { deliverOverLmtp } from '../test/support/submission.js';
import { newAccount } from '../test/support/sync.js';
import { addUpstream, runUpstreams } from '../test/support/upstreams.js';

const mib = 1024 * 1024;
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'syncpoint-parts-bench-'));
const file = join(scratch, 'part');
const [dovecot, server] = await Promise.all([startDovecot({ users: { ann: 'ann-secret' } }), startTestServer()]);
try {
  const [kept, streamed] = [randomBytes(10 * mib), randomBytes(20 * mib)];
  const attachment = (bytes: Buffer) => ['--x', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n')];
  const raw = ['Subject: Parts', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="x"', '', '--x', 'Content-Type: text/plain', '', 'Two files.', ...attachment(kept), ...attachment(streamed), '--x--', ''];
  await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`ann@${dovecot.domain}`] }, raw.join('\r\n'));
  const account = await newAccount(server);
  const view = await addUpstream(server, account.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: 'ann', password: 'ann-secret' });
  const inbox = view.collections.find((c) => c.collectionName === 'INBOX')?.collectionId as string;
  await runUpstreams(server, account.accountId);
  const phone = account.device('phone');
  await phone.pull(inbox);
  const [entry] = [...phone.view(inbox).entries()];
  assert.ok(entry, 'the phone holds the message');
  const [itemId, item] = entry;
  const parts = (JSON.parse(item.data) as { attachments: Array<{ part: string }> }).attachments.map((a) => a.part);
  for (const [label, part, expected] of [
    ['10 MiB from IMAP, kept', parts[0], kept],
    ['10 MiB from the store', parts[0], kept],
    ['20 MiB streamed from IMAP', parts[1], streamed],
  ] as const) {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const [cpu, start] = [process.cpuUsage(), performance.now()];
    const { stdout: status } = await run('curl', ['-s', '-o', file, '-w', '%{http_code}', '-H', `authorization: ${account.authorization}`, `${server.url}/api/v1/collections/${inbox}/items/${itemId}/parts/${part}`]);
    const [used, wall] = [process.cpuUsage(cpu), performance.now() - start];
    delay.disable();
    const got = readFileSync(file);
    assert.ok(status === '200' && got.equals(expected), `${label}: the part, byte for byte`);
    const cpuMs = (used.user + used.system) / 1000;
    console.log(`${label}: ${Math.round(wall)} ms, ${Math.round(cpuMs / (got.length / mib))} ms CPU per MiB, longest event-loop delay ${Math.round(delay.max / 1e6)} ms`);
  }
} finally {
  await Promise.all([server.stop(), dovecot.stop()]);
  rmSync(scratch, { recursive: true, force: true });
}
