/**
 * The client side of the ActiveSync benchmark, run as its own process (bench/eas.bench.ts forks it), so
 * the server's memory is not mixed with the load's. Over IPC it opens N Pings as N devices, each on its
 * own socket, and records when each is answered.
 */
import { performance } from 'node:perf_hooks';
import { namespace } from '../src/faces/eas/wbxml/element.js';
import { easPost } from './eas-wire.js';

export type EasLoadCommand =
  | { cmd: 'pings'; baseUrl: string; authorization: string; folderId: string; folderClass?: string; count: number; concurrency: number; heartbeatSeconds: number }
  | { cmd: 'await'; count: number; timeoutMs: number }
  | { cmd: 'reset' };

export type EasLoadReply = { ok: true; sent?: number; answered?: number; times?: number[]; failed?: number; rssKiB: number } | { ok: false; error: string };

const now = () => performance.timeOrigin + performance.now();
const rssKiB = () => Math.round(process.memoryUsage().rss / 1024);
const ping = namespace('Ping');

let answers: Array<{ at: number; status: number }> = [];
let failed = 0;

async function openPings(c: Extract<EasLoadCommand, { cmd: 'pings' }>): Promise<EasLoadReply> {
  const body = ping('Ping', ping('HeartbeatInterval', String(c.heartbeatSeconds)), ping('Folders', ping('Folder', ping('Id', c.folderId), ping('Class', c.folderClass ?? 'Contacts'))));
  let sent = 0;
  for (let next = 0; next < c.count; next += c.concurrency) {
    const batch = Array.from({ length: Math.min(c.concurrency, c.count - next) }, (_, k) => next + k);
    for (const i of batch) {
      sent++;
      // Each Ping on a socket of its own, as each phone has its own.
      easPost({ baseUrl: c.baseUrl, authorization: c.authorization, agent: false }, 'Ping', `bench${i}`, body).then(
        (r) => answers.push({ at: now(), status: r.status }),
        () => failed++,
      );
    }
    // Let the batch reach the server before the next one.
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ok: true, sent, rssKiB: rssKiB() };
}

async function awaitAnswers(c: Extract<EasLoadCommand, { cmd: 'await' }>): Promise<EasLoadReply> {
  const deadline = now() + c.timeoutMs;
  while (answers.length < c.count && now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { ok: true, answered: answers.length, times: answers.map((a) => a.at), failed, rssKiB: rssKiB() };
}

process.on('message', (c: EasLoadCommand) => {
  const run = async (): Promise<EasLoadReply> => {
    if (c.cmd === 'pings') return openPings(c);
    if (c.cmd === 'await') return awaitAnswers(c);
    answers = [];
    failed = 0;
    return { ok: true, rssKiB: rssKiB() };
  };
  run().then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ ok: false, error: String(err) }),
  );
});
