import { tracePoints, type Syscall } from './syscall-trace.js';

/**
 * The durability check on a server's system-call trace (see syscall-trace.ts): no byte goes to a client
 * socket while a write to a SQLite WAL file is not yet on disk. A write counts as on disk once an fsync
 * or fdatasync of that WAL file has started after the write finished, and returned 0.
 *
 * This is what "a 200 means durable" needs: a sync answer is written after its transaction's COMMIT,
 * which wrote the commit's frames to the WAL, so the answer must come after a sync of those frames. The
 * server does not tag an answer with its commit, so the check asks for more: that every WAL write before
 * any socket write was synced. With synchronous=FULL that holds, since COMMIT writes and syncs within
 * one synchronous call on the main thread; with a missing fsync (synchronous=OFF or NORMAL) the first
 * answer after any commit fails it. A kill -9 cannot show a missing fsync (the OS still has the pages);
 * this check can.
 */

export interface WalSyncReport {
  /** Socket writes that start an HTTP response. */
  answers: number;
  walWrites: number;
  /** fsync/fdatasync calls of a WAL file that returned 0. */
  walSyncs: number;
  /** Socket writes made while some WAL write was not yet synced. */
  violations: number;
  /** The first violation, in words, with trace lines; null when there is none. */
  firstViolation: string | null;
}

const writeCalls = new Set(['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'sendto', 'sendmsg', 'sendmmsg']);
const syncCalls = new Set(['fsync', 'fdatasync']);
const isWal = (target: string | null) => target !== null && target.endsWith('-wal');
const isClientSocket = (target: string | null) => target !== null && /^TCP(v6)?:\[/.test(target);

interface WalWrite {
  call: Syscall;
  finished: boolean;
}

export function checkWalSyncedBeforeAnswers(trace: string): WalSyncReport {
  const report: WalSyncReport = { answers: 0, walWrites: 0, walSyncs: 0, violations: 0, firstViolation: null };
  /** Writes not yet covered by a sync, by WAL path. */
  const unsynced = new Map<string, WalWrite[]>();
  /** WAL writes in progress (started, not yet returned). */
  const writing = new Map<Syscall, WalWrite>();
  /** The writes each sync in progress covers: those finished before it started. */
  const covering = new Map<Syscall, WalWrite[]>();
  for (const { phase, call, line } of tracePoints(trace)) {
    const { target } = call;
    if (writeCalls.has(call.name) && isWal(target)) {
      const list = unsynced.get(target as string) ?? [];
      unsynced.set(target as string, list);
      if (phase === 'start') {
        report.walWrites++;
        const w = { call, finished: false };
        list.push(w);
        writing.set(call, w);
      } else {
        const w = writing.get(call);
        writing.delete(call);
        if (w) w.finished = true;
      }
    } else if (syncCalls.has(call.name) && isWal(target)) {
      if (phase === 'start') covering.set(call, (unsynced.get(target as string) ?? []).filter((w) => w.finished));
      else {
        const covered = covering.get(call) ?? [];
        covering.delete(call);
        if (call.result !== '0') continue;
        report.walSyncs++;
        unsynced.set(target as string, (unsynced.get(target as string) ?? []).filter((w) => !covered.includes(w)));
      }
    } else if (writeCalls.has(call.name) && isClientSocket(target) && phase === 'start') {
      if (call.preview?.startsWith('HTTP/1.')) report.answers++;
      const pending = [...unsynced.values()].flat()[0];
      if (!pending) continue;
      report.violations++;
      report.firstViolation ??=
        `${call.name} to ${target} at ${call.time} (trace line ${line}) while the ${pending.call.name} to ${pending.call.target} ` +
        `at ${pending.call.time} (line ${pending.call.line}) was not yet fsynced`;
    }
  }
  return report;
}
