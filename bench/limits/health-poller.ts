/**
 * The `/health` poller of the limits bench (bench/limits.bench.ts), in a process of its own so a busy
 * bench process cannot pass for a stalled server. It asks `/health` every ~10 ms, one request at a time
 * on one kept-alive connection, and reports the longest wait for an answer since it was started: the
 * longest the server kept another client waiting. A request still unanswered when asked to stop counts
 * with the time it has waited so far; a refused request (the server died) counts as an error.
 */
import { Agent, get } from 'node:http';

export type PollerCommand = { cmd: 'start'; url: string } | { cmd: 'stop' };
export interface PollerReport {
  longestMs: number;
  polls: number;
  errors: number;
}

const intervalMs = 10;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let run: { url: string; longestMs: number; polls: number; errors: number; sentAt: number | undefined; stopped: boolean } | undefined;

function pollOnce(current: NonNullable<typeof run>): void {
  if (current.stopped) return;
  current.sentAt = performance.now();
  const done = (failed: boolean) => {
    if (current.sentAt === undefined) return;
    const waited = performance.now() - current.sentAt;
    current.sentAt = undefined;
    if (current.stopped) return;
    current.longestMs = Math.max(current.longestMs, waited);
    current.polls++;
    if (failed) current.errors++;
    setTimeout(() => pollOnce(current), intervalMs);
  };
  const req = get(`${current.url}/health`, { agent }, (res) => {
    res.resume();
    res.on('end', () => done(false));
    res.on('error', () => done(true));
  });
  req.on('error', () => done(true));
}

process.on('message', (message: PollerCommand) => {
  if (message.cmd === 'start') {
    run = { url: message.url, longestMs: 0, polls: 0, errors: 0, sentAt: undefined, stopped: false };
    pollOnce(run);
    return;
  }
  const current = run;
  run = undefined;
  if (!current) return void process.send?.({ longestMs: 0, polls: 0, errors: 0 } satisfies PollerReport);
  const inFlight = current.sentAt === undefined ? 0 : performance.now() - current.sentAt;
  current.stopped = true;
  agent.destroy();
  process.send?.({ longestMs: Math.max(current.longestMs, inFlight), polls: current.polls, errors: current.errors } satisfies PollerReport);
});
