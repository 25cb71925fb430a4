/**
 * The mail part of the ActiveSync benchmark (bench/eas.bench.ts), against Debian's Dovecot on loopback
 * (test/support/dovecot.ts) with its INBOX filled over LMTP (bench/mail-fill.ts), through a real
 * `syncpoint serve` child process that watches the upstream (--upstream-watchers-max):
 *   1. initial: the initial Sync of the 10,000-message Inbox over ActiveSync with Preview and 4 KB
 *      truncated bodies (BodyPreference Type 1 and 2, TruncationSize 4096, Preview 255; windows of 512),
 *      against the native protocol's initial sync of the same folder (windows of limits.windowItemsMax),
 *      each by a new device, the two taking turns (the first alternating by round); medians and the ratio;
 *   2. delivery: from a message delivered to Dovecot over LMTP (its answer) to the answer of a Ping held
 *      on the Inbox, one message at a time, p50 and p99 (the phone syncs the Inbox after each);
 *   3. memory: N Pings held on a mail folder (bench/eas-load.ts, one device and socket each; an empty
 *      folder, Archive, as a new device's Ping on the full Inbox answers at once), the server's RSS
 *      delta / N, beside the bare Node HTTP server's bytes per held request of the contacts part.
 */
import { Agent } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mkdirSync } from 'node:fs';
import { limits } from '../src/core/limits.js';
import { child, children, namespace, text, type WbxmlElement } from '../src/faces/eas/wbxml/element.js';
import { asMailClient, startDovecot } from '../test/support/dovecot.js';
import { deliverOverLmtp } from '../test/support/submission.js';
import { easPost, waitForHeld, type EasTarget } from './eas-wire.js';
import type { EasLoadCommand, EasLoadReply } from './eas-load.js';
import { fill } from './mail-fill.js';
import { createAccount, freePort, median, rssKiB, startServer, stopServer } from './server-process.js';

const as = namespace('AirSync');
const asb = namespace('AirSyncBase');
const fh = namespace('FolderHierarchy');
const ping = namespace('Ping');
const mailUser = { user: 'ann', password: 'ann-mail-password-0123' };

export interface MailBenchOptions {
  messages: number;
  rounds: number;
  deliveries: number;
  pings: number;
  account: { user: string; password: string };
  authorization: string;
  load: { ask(c: EasLoadCommand): Promise<Extract<EasLoadReply, { ok: true }>> };
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number);
};
const round = (x: number) => Math.round(x * 100) / 100;
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));
const collectionOf = (body: WbxmlElement | undefined) => child(child(body, 'Collections'), 'Collection');

export async function measureMail(work: string, o: MailBenchOptions) {
  const dovecot = await startDovecot({ users: { [mailUser.user]: mailUser.password } });
  const dataDir = join(work, 'mail');
  mkdirSync(dataDir);
  createAccount(dataDir, o.account);
  const perAccount = String(o.pings + 100);
  Object.assign(process.env, { SYNCPOINT_DEVICES_PER_ACCOUNT_MAX: perAccount, SYNCPOINT_PUSH_CHANNELS_PER_ACCOUNT_MAX: perAccount, SYNCPOINT_EAS_DEVICES_MAX: perAccount });
  const port = await freePort();
  const serve = () => startServer(['serve', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port), '--upstream-run-minutes', '0', '--upstream-watchers-max', '10', '--upstream-addresses-allow', '127.0.0.1'], true, true);
  let server = await serve();
  const base = `http://127.0.0.1:${port}`;
  let pid = server.pid as number;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: o.authorization, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const answer = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${answer}`);
    return JSON.parse(answer) as unknown;
  };
  try {
    // An empty folder beside the Inbox for the held Pings: a new device's Ping on the full Inbox would answer at once.
    await asMailClient(dovecot, mailUser.user, (client) => client.mailboxCreate('Archive'));
    await fill(dovecot, o.messages);
    const added = (await api('POST', '/api/v1/upstreams', { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: mailUser.user, password: mailUser.password })) as { id: string; collections: Array<{ collectionName: string; collectionId: string }> };
    const inbox = added.collections.find((c) => c.collectionName === 'INBOX')?.collectionId as string;
    const archive = added.collections.find((c) => c.collectionName === 'Archive')?.collectionId as string;
    await api('POST', `/api/v1/upstreams/${added.id}/sync`);

    // 1. The initial sync of the Inbox, ActiveSync against native, taking turns.
    const target: EasTarget = { baseUrl: base, authorization: o.authorization, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
    const options = as('Options', as('FilterType', '0'), asb('BodyPreference', asb('Type', '2'), asb('TruncationSize', '4096'), asb('Preview', '255')), asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '4096'), asb('Preview', '255')));
    const sync = (deviceId: string, key: string, extra: WbxmlElement[] = []) => easPost(target, 'Sync', deviceId, as('Sync', as('Collections', as('Collection', as('SyncKey', key), as('CollectionId', inbox), ...extra))));
    /** An ActiveSync phone's sync of the Inbox from `key` to its end: the key, the Adds, the bytes. */
    const easPull = async (deviceId: string, key: string) => {
      let [items, bytes] = [0, 0];
      for (;;) {
        const reply = await sync(deviceId, key, [as('GetChanges', '1'), as('WindowSize', '512'), options]);
        const c = collectionOf(reply.body);
        if (text(child(c, 'Status')) !== '1') throw new Error(`Sync of the Inbox: HTTP ${reply.status}, Status ${text(child(c, 'Status'))}`);
        items += children(child(c, 'Commands'), 'Add').length;
        bytes += reply.bytes;
        key = text(child(c, 'SyncKey')) ?? key;
        if (!child(c, 'MoreAvailable')) return { key, items, bytes };
      }
    };
    const easFirst = async (deviceId: string) => {
      await easPost(target, 'FolderSync', deviceId, fh('FolderSync', fh('SyncKey', '0')));
      const primed = text(child(collectionOf((await sync(deviceId, '0', [options])).body), 'SyncKey')) ?? '0';
      return easPull(deviceId, primed);
    };
    const nativeFirst = async (deviceId: string) => {
      let [syncKey, items] = [0, 0];
      for (;;) {
        const answer = (await api('POST', '/api/v1/sync', { version: 1, device: { id: deviceId }, collections: [{ collectionId: inbox, syncKey, windowSize: limits.windowItemsMax }] })) as { collections: Array<{ syncKey: number; moreAvailable?: boolean; commands: unknown[] }> };
        const c = answer.collections[0] as { syncKey: number; moreAvailable?: boolean; commands: unknown[] };
        items += c.commands.length;
        syncKey = c.syncKey;
        if (!c.moreAvailable) return { items };
      }
    };
    const easMs: number[] = [];
    const nativeMs: number[] = [];
    let easBytesPerItem = 0;
    for (let r = 0; r < o.rounds; r++) {
      for (const which of r % 2 === 0 ? ['eas', 'native'] : ['native', 'eas']) {
        const started = performance.now();
        if (which === 'eas') {
          const got = await easFirst(`mailphone${r}`);
          if (got.items !== o.messages) throw new Error(`the phone got ${got.items} of ${o.messages} messages`);
          easMs.push(performance.now() - started);
          easBytesPerItem = Math.round(got.bytes / got.items);
        } else {
          const got = await nativeFirst(`mailnative${r}`);
          if (got.items !== o.messages) throw new Error(`the native device got ${got.items} of ${o.messages} messages`);
          nativeMs.push(performance.now() - started);
        }
      }
      process.stderr.write(`mail round ${r + 1}: ActiveSync ${easMs.at(-1)?.toFixed(0)} ms, native ${nativeMs.at(-1)?.toFixed(0)} ms\n`);
    }

    // 2. A message delivered to Dovecot -> the held Ping's answer.
    const pinger = 'pingphone';
    let { key } = await easFirst(pinger);
    const pingBody = ping('Ping', ping('HeartbeatInterval', '600'), ping('Folders', ping('Folder', ping('Id', inbox), ping('Class', 'Email'))));
    const pingTarget: EasTarget = { ...target, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
    const delays: number[] = [];
    for (let i = 0; i < o.deliveries; i++) {
      const held = easPost(pingTarget, 'Ping', pinger, pingBody);
      // The Ping reaches the server and waits (a Ping that arrives after the delivery answers at once, which would measure less).
      await sleep(300);
      await deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`${mailUser.user}@${dovecot.domain}`] }, `From: carol@example.org\r\nTo: ann@${dovecot.domain}\r\nSubject: Ping bench ${i}\r\nMessage-ID: <ping-bench-${i}@example.org>\r\n\r\nMessage ${i}.\r\n`);
      const delivered = performance.now();
      const answer = await held;
      delays.push(performance.now() - delivered);
      if (text(child(answer.body, 'Status')) !== '2') throw new Error(`Ping answered Status ${text(child(answer.body, 'Status'))}`);
      key = (await easPull(pinger, key)).key;
    }

    // 3. Memory per Ping held on a mail folder, from a server started again: the syncs above leave garbage
    // whose collection would otherwise be counted against the Pings.
    await stopServer(server);
    server = await serve();
    pid = server.pid as number;
    const health = async () => ((await (await fetch(`${base}/health`)).json()) as { pushChannels: number }).pushChannels;
    const channelsBefore = await health();
    await sleep(1000);
    const rssBefore = rssKiB(pid, 'VmRSS');
    await o.load.ask({ cmd: 'reset' });
    await o.load.ask({ cmd: 'pings', baseUrl: base, authorization: o.authorization, folderId: archive, folderClass: 'Email', count: o.pings, concurrency: 500, heartbeatSeconds: 3540 });
    const held = await waitForHeld(o.pings, async () => (await health()) - channelsBefore);
    await sleep(2000);
    const rssHeld = rssKiB(pid, 'VmRSS');
    return {
      messages: o.messages,
      rounds: o.rounds,
      initial: {
        easMsMedian: round(median(easMs)),
        nativeMsMedian: round(median(nativeMs)),
        ratio: round(median(easMs) / median(nativeMs)),
        easBytesPerItem,
        samples: { easMs: easMs.map(round), nativeMs: nativeMs.map(round) },
      },
      deliveryToPing: { deliveries: delays.length, p50Ms: Math.round(quantile(delays, 0.5)), p99Ms: Math.round(quantile(delays, 0.99)), maxMs: Math.round(Math.max(...delays)) },
      pings: { requested: o.pings, held, bytesPerPing: Math.round(((rssHeld - rssBefore) * 1024) / Math.max(1, held)) },
      serverPeakRssMiB: Math.round(rssKiB(pid) / 102.4) / 10,
    };
  } finally {
    await stopServer(server);
    await dovecot.stop();
  }
}
