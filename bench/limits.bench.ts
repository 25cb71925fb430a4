/**
 * Limits benchmark (`npm run bench:limits`; not a test): the worst input known for each class of costly
 * request, through each face that takes it (native JSON and XML, DAV, ActiveSync, push, web sign-in),
 * against a real `syncpoint serve` child process. Per case it reports:
 *   - cpuMs:         the server process's CPU time (every thread) during the case, from /proc/PID/stat;
 *   - rssGrowthMiB:  its peak resident set during the case above that at its start (/proc/PID/status);
 *   - healthStallMs: the longest another client waited for `/health` meanwhile (a poller in its own
 *                    process asks every ~10 ms: bench/limits/health-poller.ts).
 * The goal: every request's cost is linear in its input with a small constant, at most 100 ms of CPU
 * per MB of input (100 ms for any case under 1 MB), and no other request stalls over 200 ms. A case that
 * sends many separate requests (1,000 PUTs, 30 guesses) is judged per request: it may spend that many
 * times the allowance of one request of its average size. A case that attacks with items may name a
 * floor, a case of normal items of the same size and shape; its notes then give the ratio of the two.
 * Each case runs on a fresh server and data directory, so one case's damage cannot spill into the next;
 * its preparation (accounts, data, payloads, and for a case that sends items, requests of ordinary items
 * through the same face first: wire.ts, warmUpRequests) is not measured. A case that runs out of time (--timeout,
 * default 30 s, or 100 ms per request when that is more) or kills the server is recorded as such, and the bench goes on.
 * Flags: --timeout SECONDS, --only TEXT (cases whose "face case" contains TEXT; repeatable).
 * Figures go to stdout and bench/results/limits-latest.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { davCases } from './limits/dav.js';
import { easCases } from './limits/eas.js';
import type { PollerCommand, PollerReport } from './limits/health-poller.js';
import { nativeCases } from './limits/native.js';
import { ProcessMeter } from './limits/process-meter.js';
import { pushCases } from './limits/push.js';
import { signInCases } from './limits/sign-in.js';
import type { LimitCase, Step, Target } from './limits/wire.js';
import { createAccount, freePort, startServer, stopServer, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const only = process.argv.flatMap((arg, i) => (process.argv[i - 1] === '--only' ? [arg.toLowerCase()] : []));
const timeoutMs = flag('timeout', 30) * 1000;
/** A case of many requests gets at least this much time per request (1,000 PUTs need over 30 s of wall time on a shared machine). */
const timeoutMsPerRequest = 100;
const setupTimeoutMs = 180_000;
const account = { user: 'bench', password: 'bench-password-0123' };
const authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
const MB = 1024 * 1024;
const goal = { cpuMsPerMB: 100, cpuMsMin: 100, healthStallMsMax: 200 };

const cases: LimitCase[] = [...nativeCases, ...davCases, ...easCases, ...pushCases, ...signInCases].filter(
  (c) => only.length === 0 || only.some((o) => `${c.face} ${c.case}`.toLowerCase().includes(o)),
);

interface Row {
  face: string;
  case: string;
  bytes: number;
  cpuMs: number;
  rssGrowthMiB: number;
  healthStallMs: number;
  /** Separate HTTP requests the case sends; the goal applies to each. */
  requests: number;
  /** cpuMs / requests. */
  cpuMsPerRequest: number;
  /** ok, timeout (the case ran out of time), crashed (the server died), or setup failed. */
  outcome: string;
  /** CPU the goal allows this input: requests x the allowance of one request of bytes / requests. */
  cpuMsAllowed: number;
  overGoal: boolean;
  wallMs: number;
  /** Resident set at the end of the case above that at its start: memory kept after the requests. */
  rssRetainedMiB: number;
  notes: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pollerPath = join(dirname(fileURLToPath(import.meta.url)), 'limits/health-poller.js');

class HealthPoller {
  private readonly child: ChildProcess = fork(pollerPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  start(url: string): void {
    this.child.send({ cmd: 'start', url } satisfies PollerCommand);
  }
  stop(): Promise<PollerReport> {
    return new Promise((resolve) => {
      this.child.once('message', (report: PollerReport) => resolve(report));
      this.child.send({ cmd: 'stop' } satisfies PollerCommand);
    });
  }
  close(): void {
    this.child.kill();
  }
}

async function collectionIds(url: string): Promise<Record<string, string>> {
  const res = await fetch(`${url}/api/v1/collections`, { headers: { authorization } });
  const { collections } = (await res.json()) as { collections: Array<{ id: string; name: string }> };
  return Object.fromEntries(collections.map((c) => [c.name, c.id]));
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const allowedCpuMs = (bytes: number, requests: number) => requests * Math.max(goal.cpuMsMin, (goal.cpuMsPerMB * bytes) / requests / MB);
const round = (x: number) => Math.round(x);

async function runCase(c: LimitCase, work: string, poller: HealthPoller): Promise<Row> {
  const dataDir = mkdtempSync(join(work, 'case-'));
  createAccount(dataDir, account);
  const port = await freePort();
  const server = await startServer(['serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'], false, true);
  const pid = server.pid as number;
  // The server's last words (V8 prints why it gave up: "FATAL ERROR: ... heap out of memory").
  let stderrTail = '';
  server.stderr?.on('data', (chunk: string) => (stderrTail = (stderrTail + chunk).slice(-4000)));
  const fatal = () => /FATAL ERROR:[^\n]*/.exec(stderrTail)?.[0] ?? /^\w*Error:[^\n]*/m.exec(stderrTail)?.[0];
  const died = new Promise<string>((resolve) => server.once('close', (code, signal) => resolve([signal ?? `exit code ${code}`, fatal()].filter(Boolean).join(': '))));
  const controller = new AbortController();
  // A case may have many requests in flight, each listening for the abort.
  setMaxListeners(Infinity, controller.signal);
  const url = `http://127.0.0.1:${port}`;
  const row = (fields: Partial<Row>): Row => {
    const r = { face: c.face, case: c.case, bytes: 0, cpuMs: 0, rssGrowthMiB: 0, healthStallMs: 0, requests: 1, outcome: 'ok', wallMs: 0, rssRetainedMiB: 0, notes: '', ...fields };
    const cpuMsAllowed = round(allowedCpuMs(r.bytes, r.requests));
    return { ...r, cpuMsPerRequest: round(r.cpuMs / r.requests), cpuMsAllowed, overGoal: r.outcome !== 'ok' || r.cpuMs > cpuMsAllowed || r.healthStallMs > goal.healthStallMsMax };
  };
  try {
    let step: Step;
    try {
      const target: Target = { url, dataDir, ...account, authorization, collections: await collectionIds(url), signal: controller.signal };
      step = await withTimeout(Promise.race([c.prepare(target), died.then((how) => Promise.reject(new Error(`the server died (${how})`)))]), setupTimeoutMs, 'setup');
    } catch (err) {
      return row({ outcome: 'setup failed', notes: (err as Error).message });
    }
    await sleep(300);
    const meter = new ProcessMeter(pid);
    poller.start(url);
    const started = performance.now();
    const running = step.run();
    running.catch(() => undefined);
    const caseTimeoutMs = Math.max(timeoutMs, (step.requests ?? 1) * timeoutMsPerRequest);
    const result = await Promise.race([
      running.then((notes) => ({ outcome: 'ok', notes }), (err: Error) => ({ outcome: 'failed', notes: [err.message] })),
      sleep(caseTimeoutMs).then(() => ({ outcome: 'timeout', notes: [`no answer within ${caseTimeoutMs / 1000} s`] })),
      died.then((how) => ({ outcome: 'crashed', notes: [`the server died (${how})`] })),
    ]);
    const wallMs = performance.now() - started;
    const metered = meter.stop();
    const stall = await poller.stop();
    // A request the server failed on may still be answered after the server died: the death wins.
    const outcome = metered.gone && result.outcome === 'ok' ? 'crashed' : result.outcome;
    return row({
      bytes: step.bytes,
      requests: step.requests ?? 1,
      cpuMs: round(metered.cpuMs),
      rssGrowthMiB: metered.rssGrowthMiB,
      healthStallMs: round(stall.longestMs),
      outcome,
      wallMs: round(wallMs),
      rssRetainedMiB: metered.rssRetainedMiB,
      notes: [
        ...result.notes,
        ...(metered.rssRetainedMiB >= 10 ? [`${metered.rssRetainedMiB} MiB still resident at the end`] : []),
        ...(stall.errors > 0 ? [`${stall.errors} /health polls failed`] : []),
      ].join('; '),
    });
  } finally {
    controller.abort();
    if (server.exitCode === null && server.signalCode === null) {
      // A server still busy with the case would not stop in time; only one that finished is stopped gently.
      await stopServer(server).catch(() => server.kill('SIGKILL'));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const padLeft = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const kb = (bytes: number) => (bytes >= 1000 * 1024 ? `${(bytes / MB).toFixed(1)} MB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${bytes} B`);

function printRow(r: Row): void {
  const mark = r.overGoal ? 'OVER' : 'ok';
  const stall = r.healthStallMs > goal.healthStallMsMax ? `${r.healthStallMs}!` : String(r.healthStallMs);
  const cpu = r.cpuMs > r.cpuMsAllowed ? `${r.cpuMs}!` : String(r.cpuMs);
  console.log(
    `${pad(mark, 5)}${pad(r.face, 12)}${pad(r.case, 52)}${padLeft(kb(r.bytes), 9)}${padLeft(String(r.requests), 6)}${padLeft(cpu, 9)}${padLeft(String(r.cpuMsPerRequest), 8)}${padLeft(String(r.cpuMsAllowed), 7)}${padLeft(String(r.rssGrowthMiB), 9)}${padLeft(stall, 9)}  ${pad(r.outcome, 9)}${r.notes}`,
  );
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-limits-bench-'));
  const poller = new HealthPoller();
  const rows: Row[] = [];
  try {
    console.log(`Limits bench: node ${process.version}, ${cpus().length} cores, ${cases.length} cases, ${timeoutMs / 1000} s per case (${timeoutMsPerRequest} ms per request when more)`);
    console.log(`Goal: CPU <= ${goal.cpuMsPerMB} ms per MB of input per request (at least ${goal.cpuMsMin} ms a request; "allow" = reqs x that), /health stall <= ${goal.healthStallMsMax} ms; "!" marks a figure over it.\n`);
    console.log(`${pad('', 5)}${pad('face', 12)}${pad('case', 52)}${padLeft('input', 9)}${padLeft('reqs', 6)}${padLeft('cpu ms', 9)}${padLeft('per req', 8)}${padLeft('allow', 7)}${padLeft('rss MiB', 9)}${padLeft('stall ms', 9)}  ${pad('outcome', 9)}notes`);
    for (const c of cases) {
      const r = await runCase(c, work, poller);
      const floor = rows.find((f) => f.face === c.face && f.case === c.floor && f.outcome === 'ok');
      if (floor && r.outcome === 'ok') {
        const ratio = floor.cpuMs > 0 ? `${(r.cpuMs / floor.cpuMs).toFixed(1)}x` : 'floor 0 ms, no ratio';
        r.notes = [r.notes, `${ratio} the CPU of "${floor.case}" (${floor.cpuMs} ms)`].filter(Boolean).join('; ');
      }
      rows.push(r);
      printRow(r);
    }
    const over = rows.filter((r) => r.overGoal).length;
    console.log(`\n${over} of ${rows.length} cases over the goal.`);
    const command = `npm run bench:limits${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    writeResults('limits', { command, caseTimeoutSeconds: timeoutMs / 1000, timeoutMsPerRequest, goal, rows });
  } finally {
    poller.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
