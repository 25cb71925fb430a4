/**
 * Mail benchmark (`npm run bench:mail`; not a test): an IMAP folder of 10,000 messages in Dovecot (Debian's,
 * started here on loopback, test/support/dovecot.ts) synced to a device through a Syncpoint server
 * (docs/design.md § Mail), set beside its floor, an IMAP client reading the same thing straight from Dovecot:
 *   - the first sync: the upstream's first run (POST /api/v1/upstreams/ID/sync: the folder listed, each
 *     message's first bytes and structure read, items built and stored) plus a device's initial sync of the
 *     folder's collection, paged to its end; against the floor, one imapflow connection fetching for every
 *     message what the connector fetches (UID, FLAGS, MODSEQ, RFC822.SIZE, INTERNALDATE, BODYSTRUCTURE and
 *     the first limits.upstreamMailSourceBytes of the source). Goal: within 3×;
 *   - a sync with nothing changed: a run of the upstream and the device's sync with its key, each asking
 *     for what changed (CHANGEDSINCE at IMAP, the change log in the hub);
 *   - the server's peak resident memory (VmHWM) over the round, and the CPU it used (from its start, both
 *     syncs included), which other work on the machine disturbs less than the wall times.
 * The folder is filled once over LMTP with messages of 2–30 KB (plain, alternative, some with a
 * base64 attachment); Dovecot's indexes are built by one untimed read first. Syncpoint and the floor take
 * turns, the first alternating by round; medians of `--rounds` samples and the ratio are printed and written
 * to bench/results/mail-latest.json. Each sample checks its result: the collection holds every message once.
 *
 * Flags: --messages N, --rounds N, --cpu-prof DIR (the server writes a CPU profile to DIR; read it with
 * `node dist/bench/cpu-profile-summary.js DIR/*.cpuprofile`). Runs as root (Dovecot's harness makes a mail user), with a build.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import { limits } from '../src/core/limits.js';
import { startDovecot, type Dovecot } from '../test/support/dovecot.js';
import { fill } from './mail-fill.js';
import { cpuSeconds, createAccount, freePort, median, rssKiB, startServer, stopServer, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const messagesTotal = flag('messages', 10_000);
const rounds = flag('rounds', 3);
const profileDir = process.argv.includes('--cpu-prof') ? (process.argv[process.argv.indexOf('--cpu-prof') + 1] as string) : undefined;
const mailUser = { user: 'ann', password: 'ann-mail-password-0123' };
const local = { user: 'carol', password: 'carol-password-0123' };
const authorization = `Basic ${Buffer.from(`${local.user}:${local.password}`).toString('base64')}`;

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark check failed: ${what}`);
}

const imapClient = (dovecot: Dovecot) => new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, auth: { user: mailUser.user, pass: mailUser.password }, logger: false, qresync: true });

/** The floor: what the connector reads of every message, by one IMAP client. */
async function floor(dovecot: Dovecot): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const client = imapClient(dovecot);
  await client.connect();
  await client.mailboxOpen('INBOX');
  let bytes = 0;
  let count = 0;
  for await (const m of client.fetch('1:*', { uid: true, flags: true, size: true, internalDate: true, bodyStructure: true, source: { maxLength: limits.upstreamMailSourceBytes } })) {
    bytes += m.source?.length ?? 0;
    count++;
  }
  await client.logout();
  expect(count === messagesTotal, `the floor read ${count} of ${messagesTotal} messages`);
  return { ms: performance.now() - started, bytes };
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

interface CollectionAnswer {
  syncKey: number;
  moreAvailable?: boolean;
  commands: Array<{ op: string }>;
}

/** A device's sync of the collection from `syncKey`, paged to its end: the key it ends at and the commands it got. */
async function deviceSync(base: string, collectionId: string, syncKey: number): Promise<{ syncKey: number; commands: number }> {
  let commands = 0;
  for (;;) {
    const answer = (await api(base, 'POST', '/api/v1/sync', { version: 1, device: { id: 'bench-phone' }, collections: [{ collectionId, syncKey, windowSize: limits.windowItemsMax }] })) as { collections: CollectionAnswer[] };
    const c = answer.collections[0] as CollectionAnswer;
    commands += c.commands.length;
    syncKey = c.syncKey;
    if (!c.moreAvailable) return { syncKey, commands };
  }
}

interface Sample {
  firstMs: number;
  upstreamRunMs: number;
  deviceMs: number;
  noChangeMs: number;
  peakKiB: number;
  cpuS: number;
}

async function syncpoint(dovecot: Dovecot): Promise<Sample> {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-bench-mail-'));
  const data = join(work, 'data');
  createAccount(data, local);
  const port = await freePort();
  const server = await startServer(['serve', '--data', data, '--host', '127.0.0.1', '--port', String(port), '--upstream-run-minutes', '0', '--upstream-watchers-max', '0', '--upstream-addresses-allow', '127.0.0.1'], false, true, profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]);
  const base = `http://127.0.0.1:${port}`;
  try {
    const added = (await api(base, 'POST', '/api/v1/upstreams', { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: mailUser.user, password: mailUser.password })) as {
      id: string;
      collections: Array<{ collectionName: string; collectionId: string }>;
    };
    const inbox = added.collections.find((c) => c.collectionName === 'INBOX')?.collectionId as string;
    const started = performance.now();
    const run = (await api(base, 'POST', `/api/v1/upstreams/${added.id}/sync`)) as { upstream: { state: string; lastError?: string } };
    expect(run.upstream.state === 'ok', `the upstream's first run: ${run.upstream.lastError}`);
    const ran = performance.now();
    const first = await deviceSync(base, inbox, 0);
    const done = performance.now();
    expect(first.commands === messagesTotal, `the device got ${first.commands} of ${messagesTotal} messages`);
    const quiet = performance.now();
    await api(base, 'POST', `/api/v1/upstreams/${added.id}/sync`);
    const again = await deviceSync(base, inbox, first.syncKey);
    const noChangeMs = performance.now() - quiet;
    expect(again.commands === 0, `a sync with nothing changed got ${again.commands} commands`);
    return { firstMs: done - started, upstreamRunMs: ran - started, deviceMs: done - ran, noChangeMs, peakKiB: rssKiB(server.pid as number), cpuS: cpuSeconds(server.pid as number) };
  } finally {
    await stopServer(server);
    rmSync(work, { recursive: true, force: true });
  }
}

const dovecot = await startDovecot({ users: { [mailUser.user]: mailUser.password } });
try {
  await fill(dovecot, messagesTotal);
  await floor(dovecot);
  const floors: number[] = [];
  const samples: Sample[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['floor', 'syncpoint'] : ['syncpoint', 'floor'];
    for (const which of order) {
      if (which === 'floor') floors.push((await floor(dovecot)).ms);
      else samples.push(await syncpoint(dovecot));
    }
    const s = samples[samples.length - 1] as Sample;
    process.stderr.write(`round ${round + 1}: floor ${floors[floors.length - 1]?.toFixed(0)} ms; first sync ${s.firstMs.toFixed(0)} ms (run ${s.upstreamRunMs.toFixed(0)}, device ${s.deviceMs.toFixed(0)}), no change ${s.noChangeMs.toFixed(0)} ms, peak ${(s.peakKiB / 1024).toFixed(1)} MiB, server CPU ${s.cpuS.toFixed(2)} s\n`);
  }
  const figures = {
    messages: messagesTotal,
    rounds,
    floor: { msMedian: median(floors) },
    first: { msMedian: median(samples.map((s) => s.firstMs)), upstreamRunMsMedian: median(samples.map((s) => s.upstreamRunMs)), deviceMsMedian: median(samples.map((s) => s.deviceMs)) },
    noChange: { msMedian: median(samples.map((s) => s.noChangeMs)) },
    serverPeakMiB: Math.round((median(samples.map((s) => s.peakKiB)) / 1024) * 10) / 10,
    serverCpuS: median(samples.map((s) => s.cpuS)),
    ratio: { firstToFloor: Math.round((median(samples.map((s) => s.firstMs)) / median(floors)) * 100) / 100 },
  };
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  process.stderr.write(`written to ${writeResults('mail', figures)}\n`);
} finally {
  await dovecot.stop();
}
