import { WebSocket } from 'ws';
import { pushMessageSchema, type PushMessage } from '../../src/protocol/push.js';
import { openMemoryReplica } from '../../src/sdk/memory-replica.js';
import { openNodeSocket } from '../../src/sdk/node/websocket.js';
import { PushSubscriber, type PushSocket } from '../../src/sdk/push.js';
import { SyncClient } from '../../src/sdk/sync-loop.js';
import { HttpTransport } from '../../src/sdk/transport.js';
import { seededRandom } from '../../sim/random.js';

/** Helpers for push tests: a raw WebSocket that records what it is sent, and SDK devices. */

export interface RawChannel {
  socket: WebSocket;
  messages: PushMessage[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first message (already received or to come) that satisfies `match`. */
  next(match: (m: PushMessage) => boolean, timeoutMs?: number): Promise<PushMessage>;
}

export function openRawChannel(baseUrl: string, query: Record<string, string>, headers: Record<string, string> = {}): RawChannel {
  const url = new URL(`/api/v1/push/ws?${new URLSearchParams(query)}`, baseUrl);
  url.protocol = 'ws:';
  const socket = new WebSocket(url, { headers, perMessageDeflate: false });
  const messages: PushMessage[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data) => {
    messages.push(pushMessageSchema.parse(JSON.parse(String(data))));
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const next = (match: (m: PushMessage) => boolean, timeoutMs = 5000) =>
    new Promise<PushMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching push message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
      const check = () => {
        const found = messages.find(match);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(check);
      };
      check();
    });
  return { socket, messages, closed, next };
}

export interface SdkDevice {
  id: string;
  transport: HttpTransport;
  client: SyncClient;
  replica: ReturnType<typeof openMemoryReplica>;
  subscriber?: PushSubscriber;
}

export function sdkDevice(baseUrl: string, user: string, password: string, id: string): SdkDevice {
  const transport = new HttpTransport({ baseUrl, credentials: { user, password } });
  const replica = openMemoryReplica();
  return { id, transport, replica, client: new SyncClient({ transport, replica, device: { id }, retry: { attemptsMax: 20, delayMsBase: 20, delayMsMax: 200 } }) };
}

/** Starts the device's push subscriber; `route` may rewrite the socket URL (through a proxy, say). */
export function subscribe(device: SdkDevice, collections: string[], route: (url: string) => string = (u) => u, seed = 1): PushSubscriber {
  const subscriber = new PushSubscriber({
    transport: device.transport,
    deviceId: device.id,
    collections,
    client: device.client,
    openSocket: (url): PushSocket => openNodeSocket(route(url)),
    backoff: { delayMsBase: 20, delayMsMax: 300 },
    random: seededRandom(seed),
  });
  device.subscriber = subscriber;
  subscriber.start();
  return subscriber;
}

/** Polls `check` until it holds or the time runs out. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
