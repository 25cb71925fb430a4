/**
 * The client side of the ActiveSync benchmark, run as its own process (bench/eas.bench.ts forks it), so
 * the server's memory is not mixed with the load's. Over IPC it opens N Pings as N devices, each on its
 * own socket, and records when each is answered.
 */
import { performance } from 'node:perf_hooks';
import { decodeWbxml } from '../src/faces/eas/wbxml/codec.js';
import { child, namespace, text } from '../src/faces/eas/wbxml/element.js';
import { easPostRaw } from './eas-wire.js';

export type EasLoadCommand =
  | { cmd: 'pings'; baseUrl: string; authorization: string; folderId: string; folderClass?: string; count: number; concurrency: number; heartbeatSeconds: number }
  /** Waits for `count` answers (those after the time `after` only, if given). */
  | { cmd: 'await'; count: number; after?: number; timeoutMs: number }
  | { cmd: 'reset' };

export type EasLoadReply =
  | { ok: true; sent?: number; answered?: number; times?: number[]; failed?: number; failures?: Record<string, number>; statuses?: Record<string, number>; rssKiB: number }
  | { ok: false; error: string };

const now = () => performance.timeOrigin + performance.now();
const rssKiB = () => Math.round(process.memoryUsage().rss / 1024);
const ping = namespace('Ping');

/** Each answer's time, HTTP status and WBXML body, decoded only when asked (statusOf): not while answers arrive. */
let answers: Array<{ at: number; status: number; wbxml: Buffer | undefined }> = [];
let failed = 0;
/** Failed requests by error code. */
let failures: Record<string, number> = {};

async function openPings(c: Extract<EasLoadCommand, { cmd: 'pings' }>): Promise<EasLoadReply> {
  const body = ping('Ping', ping('HeartbeatInterval', String(c.heartbeatSeconds)), ping('Folders', ping('Folder', ping('Id', c.folderId), ping('Class', c.folderClass ?? 'Contacts'))));
  let sent = 0;
  for (let next = 0; next < c.count; next += c.concurrency) {
    const batch = Array.from({ length: Math.min(c.concurrency, c.count - next) }, (_, k) => next + k);
    for (const i of batch) {
      sent++;
      // Each Ping on a socket of its own, as each phone has its own.
      easPostRaw({ baseUrl: c.baseUrl, authorization: c.authorization, agent: false }, 'Ping', `bench${i}`, body).then(
        (r) => answers.push({ at: now(), status: r.status, wbxml: r.wbxml }),
        (err: NodeJS.ErrnoException) => {
          failed++;
          failures[err.code ?? err.message] = (failures[err.code ?? err.message] ?? 0) + 1;
        },
      );
    }
    // Let the batch reach the server before the next one.
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ok: true, sent, rssKiB: rssKiB() };
}

/** The HTTP status, and the Ping's Status for a WBXML answer (`200/2`: changes). */
const statusOf = (a: (typeof answers)[number]) => (a.wbxml ? `${a.status}/${text(child(decodeWbxml(a.wbxml), 'Status')) ?? ''}` : String(a.status));

async function awaitAnswers(c: Extract<EasLoadCommand, { cmd: 'await' }>): Promise<EasLoadReply> {
  const deadline = now() + c.timeoutMs;
  const counted = () => (c.after === undefined ? answers : answers.filter((a) => a.at >= (c.after as number)));
  while (counted().length < c.count && now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const times = counted().map((a) => a.at);
  const statuses: Record<string, number> = {};
  for (const a of counted()) statuses[statusOf(a)] = (statuses[statusOf(a)] ?? 0) + 1;
  return { ok: true, answered: times.length, times, failed, failures, statuses, rssKiB: rssKiB() };
}

process.on('message', (c: EasLoadCommand) => {
  const run = async (): Promise<EasLoadReply> => {
    if (c.cmd === 'pings') return openPings(c);
    if (c.cmd === 'await') return awaitAnswers(c);
    answers = [];
    failed = 0;
    failures = {};
    return { ok: true, rssKiB: rssKiB() };
  };
  run().then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ ok: false, error: String(err) }),
  );
});
