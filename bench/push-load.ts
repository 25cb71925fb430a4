/**
 * The client side of the push benchmark, run as its own process (bench/push.bench.ts forks it), so the
 * server's figures are not shared with the load that measures them. It takes commands over IPC:
 *   - idle:   open N WebSockets as N devices of one account and keep them open;
 *   - fanout: build N SDK devices (replica, SyncClient, PushSubscriber), optionally losing a share of
 *             notices on arrival, and report when each one holds a given item;
 *   - raw:    open N plain WebSockets to a baseline broadcast server and time each message.
 * For SDK devices it times both a notice's arrival on the socket (as the raw sockets' messages are timed)
 * and the moment the device's replica holds the change, and it notes the size of the messages each gets.
 * Times are wall-clock milliseconds with sub-millisecond precision (timeOrigin + now), comparable
 * across the two processes on one machine.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { openMemoryReplica } from '../src/sdk/memory-replica.js';
import { PushSubscriber, type PushSocket } from '../src/sdk/push.js';
import { SyncClient } from '../src/sdk/sync-loop.js';
import { HttpTransport } from '../src/sdk/transport.js';
import { seededRandom } from '../sim/random.js';

export type LoadCommand =
  | { cmd: 'idle'; url: string; authorization: string; count: number; concurrency: number }
  | { cmd: 'closeIdle' }
  | { cmd: 'fanout'; baseUrl: string; user: string; password: string; collectionId: string; count: number; dropRate: number; seed: number }
  | { cmd: 'await'; marker: string; timeoutMs: number }
  | { cmd: 'closeFanout' }
  | { cmd: 'raw'; url: string; count: number }
  | { cmd: 'awaitRaw'; marker: string; timeoutMs: number }
  | { cmd: 'closeRaw' };

export type LoadReply =
  | {
      ok: true;
      opened?: number;
      failed?: number;
      rssKiB: number;
      /** When each device that holds the marker got it (in its replica; for raw sockets, on the socket). */
      times?: number[];
      /** SDK devices: when the marker's notice arrived on each socket, for those it arrived on. */
      arrived?: number[];
      /** Bytes of the marker's message as the sockets got it. */
      messageBytes?: number;
      viaSync?: number;
      missing?: number;
      elapsedMs?: number;
    }
  | { ok: false; error: string };

const now = () => performance.timeOrigin + performance.now();
const rssKiB = () => Math.round(process.memoryUsage().rss / 1024);

const idle: WebSocket[] = [];
let devices: Array<{ client: SyncClient; subscriber: PushSubscriber; got: Map<string, { at: number; viaSync: boolean }>; arrived: Map<string, number> }> = [];
let raw: Array<{ socket: WebSocket; got: Map<string, number> }> = [];
/** Bytes of each marker's message, as the first socket to get it saw it (raw sockets' markers are counted apart). */
const messageBytes = new Map<string, number>();
const rawBytes = new Map<string, number>();
const markerOf = (text: string) => /marker-\d+/.exec(text)?.[0];

async function openIdle(c: Extract<LoadCommand, { cmd: 'idle' }>): Promise<LoadReply> {
  let failed = 0;
  const started = now();
  for (let next = 0; next < c.count; ) {
    const batch = Math.min(c.concurrency, c.count - next);
    await Promise.all(
      Array.from({ length: batch }, (_, k) => {
        const i = next + k;
        return new Promise<void>((done) => {
          const socket = new WebSocket(`${c.url}&device=idle-${i}`, { headers: { authorization: c.authorization }, perMessageDeflate: false });
          // A server out of file descriptors leaves connections unaccepted: count them as failed.
          const timer = setTimeout(() => {
            failed++;
            socket.terminate();
            done();
          }, 15_000);
          socket.once('message', () => {
            clearTimeout(timer);
            idle.push(socket);
            done();
          });
          socket.once('error', () => {
            clearTimeout(timer);
            failed++;
            done();
          });
        });
      }),
    );
    next += batch;
  }
  return { ok: true, opened: idle.length, failed, rssKiB: rssKiB(), elapsedMs: now() - started };
}

async function buildFanout(c: Extract<LoadCommand, { cmd: 'fanout' }>): Promise<LoadReply> {
  const random = seededRandom(c.seed);
  devices = [];
  for (let i = 0; i < c.count; i++) {
    const transport = new HttpTransport({ baseUrl: c.baseUrl, credentials: { user: c.user, password: c.password } });
    const replica = openMemoryReplica();
    const client = new SyncClient({ transport, replica, device: { id: `fan-${i}` } });
    const got = new Map<string, { at: number; viaSync: boolean }>();
    const arrived = new Map<string, number>();
    // A notice applied holds its own marker; a sync may have brought any, so the replica is read then.
    const noteApplied = (data: string | undefined) => {
      const marker = markerOf(data ?? '');
      if (marker && !got.has(marker)) got.set(marker, { at: now(), viaSync: false });
    };
    const note = (viaSync: boolean) => {
      for (const item of replica.transaction((tx) => tx.all(c.collectionId))) {
        const marker = /NOTE:(marker-\d+)/.exec(item.data ?? '')?.[1];
        if (marker && !got.has(marker)) got.set(marker, { at: now(), viaSync });
      }
    };
    // The channel loses this share of notices on arrival: the device must find the gap and sync.
    const lossy = (url: string): PushSocket => {
      const socket = new WebSocket(url, { perMessageDeflate: false }) as unknown as PushSocket;
      const wrapped: PushSocket = {
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null,
        close: (code, reason) => socket.close(code, reason),
      };
      socket.onopen = (ev) => wrapped.onopen?.(ev);
      socket.onclose = (ev) => wrapped.onclose?.(ev);
      socket.onerror = (ev) => wrapped.onerror?.(ev);
      socket.onmessage = (ev) => {
        const text = String(ev.data);
        if (text.startsWith('{"type":"change"')) {
          if (random() < c.dropRate) return;
          const marker = markerOf(text);
          if (marker) {
            arrived.set(marker, now());
            if (!messageBytes.has(marker)) messageBytes.set(marker, Buffer.byteLength(text));
          }
        }
        wrapped.onmessage?.({ data: text });
      };
      return wrapped;
    };
    await client.syncCollection(c.collectionId);
    const subscriber = new PushSubscriber({
      transport,
      deviceId: `fan-${i}`,
      collections: [c.collectionId],
      client,
      openSocket: lossy,
      onMessage: (m, outcome) => m.type === 'change' && outcome === 'applied' && m.command.op !== 'delete' && noteApplied(m.command.data),
      onSynced: () => note(true),
      random,
    });
    subscriber.start();
    devices.push({ client, subscriber, got, arrived });
  }
  // Connected and caught up: each has had its hello and the catch-up sync that follows it.
  const deadline = now() + 120_000;
  while (devices.some((d) => d.subscriber.stats.syncs === 0)) {
    if (now() > deadline) return { ok: false, error: 'devices did not all connect within 120 s' };
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  return { ok: true, opened: devices.length, rssKiB: rssKiB() };
}

async function awaitMarker(
  marker: string,
  timeoutMs: number,
  holders: () => Array<Map<string, unknown>>,
  times: () => number[],
  viaSync: () => number,
  bytes: Map<string, number>,
  arrived?: () => number[],
): Promise<LoadReply> {
  const deadline = now() + timeoutMs;
  while (holders().some((g) => !g.has(marker)) && now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return { ok: true, times: times(), arrived: arrived?.(), messageBytes: bytes.get(marker), viaSync: viaSync(), missing: holders().filter((g) => !g.has(marker)).length, rssKiB: rssKiB() };
}

async function openRaw(c: Extract<LoadCommand, { cmd: 'raw' }>): Promise<LoadReply> {
  raw = [];
  await Promise.all(
    Array.from(
      { length: c.count },
      () =>
        new Promise<void>((done, fail) => {
          const socket = new WebSocket(c.url, { perMessageDeflate: false });
          const got = new Map<string, number>();
          socket.on('message', (data) => {
            const text = String(data);
            const marker = markerOf(text);
            if (!marker) return;
            got.set(marker, now());
            if (!rawBytes.has(marker)) rawBytes.set(marker, Buffer.byteLength(text));
          });
          socket.once('open', () => done());
          socket.once('error', fail);
          raw.push({ socket, got });
        }),
    ),
  );
  return { ok: true, opened: raw.length, rssKiB: rssKiB() };
}

async function handle(c: LoadCommand): Promise<LoadReply> {
  switch (c.cmd) {
    case 'idle':
      return openIdle(c);
    case 'closeIdle':
      for (const s of idle.splice(0)) s.terminate();
      return { ok: true, rssKiB: rssKiB() };
    case 'fanout':
      return buildFanout(c);
    case 'await':
      return awaitMarker(
        c.marker,
        c.timeoutMs,
        () => devices.map((d) => d.got),
        () => devices.flatMap((d) => (d.got.has(c.marker) ? [(d.got.get(c.marker) as { at: number }).at] : [])),
        () => devices.filter((d) => d.got.get(c.marker)?.viaSync).length,
        messageBytes,
        () => devices.flatMap((d) => (d.arrived.has(c.marker) ? [d.arrived.get(c.marker) as number] : [])),
      );
    case 'closeFanout':
      await Promise.all(devices.map((d) => d.subscriber.stop()));
      devices = [];
      return { ok: true, rssKiB: rssKiB() };
    case 'raw':
      return openRaw(c);
    case 'awaitRaw':
      return awaitMarker(
        c.marker,
        c.timeoutMs,
        () => raw.map((r) => r.got),
        () => raw.flatMap((r) => (r.got.has(c.marker) ? [r.got.get(c.marker) as number] : [])),
        () => 0,
        rawBytes,
      );
    case 'closeRaw':
      for (const r of raw.splice(0)) r.socket.terminate();
      return { ok: true, rssKiB: rssKiB() };
  }
}

// The bench lets go of this process when done with it; exiting (rather than being killed) writes a --cpu-prof profile.
process.on('disconnect', () => process.exit(0));
process.on('message', (c: LoadCommand) => {
  handle(c).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies LoadReply),
  );
});
