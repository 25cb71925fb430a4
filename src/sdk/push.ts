import { joinRemainder, pushCloseCodes, pushMessageSchema, type ChangeNotice, type PushMessage } from '../protocol/push.js';
import type { NoticeOutcome, SyncClient } from './sync-loop.js';
import type { HttpTransport } from './transport.js';

/**
 * The device side of push (docs/design.md § Push notices). It keeps one channel open (reconnecting with capped exponential
 * backoff and full jitter), applies each notice to the replica through the SyncClient, fetches the
 * rest of split notices, and syncs whenever it may have missed something:
 *   - after every (re)connect, for what happened while it was away;
 *   - when a token skips ahead of the next one expected, or a heartbeat names a token it never got.
 * Syncs echo the applied tokens, so the server resends exactly what the channel lost.
 */

/** The part of the WebSocket API this needs; browsers' WebSocket and the `ws` package both have it. */
export interface PushSocket {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface PushSubscriberOptions {
  transport: HttpTransport;
  deviceId: string;
  /** Collections to hear about and keep in sync; all of the account's if absent (then nothing is synced). */
  collections?: readonly string[];
  /** Applies notices and runs the repairing syncs. Without one, notices are only reported (`syncpoint watch`). */
  client?: SyncClient;
  openSocket: (url: string) => PushSocket;
  onMessage?: (message: PushMessage, outcome: NoticeOutcome | undefined) => void;
  /** After each repairing sync of the subscribed collections. */
  onSynced?: () => void;
  onError?: (err: unknown) => void;
  backoff?: { delayMsBase: number; delayMsMax: number };
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PushStats {
  connects: number;
  notices: number;
  applied: number;
  duplicates: number;
  gaps: number;
  syncs: number;
}

/** Notices applied between repairing syncs before one is started anyway, so the echo stays a few ranges. */
const echoSyncEvery = 256;

export class PushSubscriber {
  readonly stats: PushStats = { connects: 0, notices: 0, applied: 0, duplicates: 0, gaps: 0, syncs: 0 };
  private stopped = false;
  private socket: PushSocket | undefined;
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private heldSinceSync = 0;

  constructor(private readonly o: PushSubscriberOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.socket?.close(1000, 'client stopping');
    this.wake?.();
    await this.running;
    await this.syncing;
  }

  /** Syncs the subscribed collections now (coalescing with one already running). */
  requestSync(): Promise<void> {
    if (!this.o.client || !this.o.collections) return Promise.resolve();
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    const client = this.o.client;
    const collections = this.o.collections;
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        this.heldSinceSync = 0;
        this.stats.syncs++;
        for (const c of collections) await client.syncCollection(c);
        this.o.onSynced?.();
      } while (this.syncAgain && !this.stopped);
    })()
      .catch((err: unknown) => this.o.onError?.(err))
      .finally(() => {
        this.syncing = undefined;
      });
    return this.syncing;
  }

  private async run(): Promise<void> {
    const { delayMsBase, delayMsMax } = this.o.backoff ?? { delayMsBase: 500, delayMsMax: 30_000 };
    const random = this.o.random ?? Math.random;
    let failures = 0;
    while (!this.stopped) {
      try {
        const helloSeen = await this.connectOnce();
        if (helloSeen) failures = 0;
      } catch (err) {
        this.o.onError?.(err);
      }
      if (this.stopped) break;
      const delay = random() * Math.min(delayMsMax, delayMsBase * 2 ** failures++);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        if (this.o.sleep) void this.o.sleep(delay).then(resolve);
        else timer = setTimeout(resolve, delay);
      });
      // stop() wakes the wait early; the timer must not keep the process alive after it.
      clearTimeout(timer);
    }
  }

  /** One channel, from ticket to close. Resolves whether the server said hello. */
  private async connectOnce(): Promise<boolean> {
    const query = new URLSearchParams({ ticket: await this.o.transport.pushTicket(), device: this.o.deviceId });
    if (this.o.collections) query.set('collections', this.o.collections.join(','));
    if (this.stopped) return false;
    const socket = this.o.openSocket(this.o.transport.pushSocketUrl(query));
    this.socket = socket;
    this.stats.connects++;
    let expected = 0;
    let helloSeen = false;
    let silence: ReturnType<typeof setTimeout> | undefined;
    // A server that stops talking (not even heartbeats) is treated as gone.
    const watch = (heartbeatMs: number) => {
      clearTimeout(silence);
      silence = setTimeout(() => socket.close(pushCloseCodes.dead, 'no heartbeat from the server'), heartbeatMs * 2.5);
    };
    let heartbeatMs = 60_000;
    // Notices are handled one at a time, in arrival order, so a remainder fetch cannot reorder them.
    let queue = Promise.resolve();
    return new Promise<boolean>((resolve) => {
      socket.onmessage = (ev) => {
        watch(heartbeatMs);
        let message: PushMessage;
        try {
          message = pushMessageSchema.parse(JSON.parse(String(ev.data)));
        } catch (err) {
          this.o.onError?.(err);
          return;
        }
        if (message.type === 'hello') {
          helloSeen = true;
          heartbeatMs = message.heartbeatMs;
          watch(heartbeatMs);
          expected = message.nextToken;
          this.o.onMessage?.(message, undefined);
          void this.requestSync();
          return;
        }
        if (message.type === 'heartbeat') {
          if (message.lastToken >= expected) this.noteGap();
          expected = Math.max(expected, message.lastToken + 1);
          return;
        }
        if (message.type === 'syncRequest') {
          this.o.onMessage?.(message, undefined);
          void this.requestSync();
          return;
        }
        if (message.token > expected) this.noteGap();
        expected = Math.max(expected, message.token + 1);
        queue = queue.then(() => this.handleNotice(message));
      };
      socket.onerror = () => undefined;
      socket.onclose = (ev) => {
        clearTimeout(silence);
        this.socket = undefined;
        // Another connection took this device over, or its credentials were revoked: reconnecting
        // would only fight the other one, or be refused.
        if (ev.code === pushCloseCodes.replaced || ev.code === pushCloseCodes.revoked) {
          this.stopped = true;
          this.o.onError?.(new Error(`push channel closed for good: ${ev.code} ${ev.reason}`));
        }
        void queue.then(() => resolve(helloSeen));
      };
    });
  }

  private noteGap(): void {
    this.stats.gaps++;
    void this.requestSync();
  }

  private async handleNotice(notice: ChangeNotice): Promise<void> {
    this.stats.notices++;
    let outcome: NoticeOutcome | undefined;
    try {
      outcome = this.o.client?.applyNotice(notice);
      if (outcome === 'partial') outcome = await this.completeAndApply(notice);
    } catch (err) {
      this.o.onError?.(err);
    }
    if (outcome === 'applied') this.stats.applied++;
    if (outcome === 'duplicate') this.stats.duplicates++;
    // Held tokens wait for a sync to echo them; a sync now and then keeps the echo short.
    if (outcome === 'applied' && ++this.heldSinceSync >= echoSyncEvery) void this.requestSync();
    this.o.onMessage?.(notice, outcome);
  }

  /** Fetches the rest of a split notice by its token; if the item moved on meanwhile, a sync brings it. */
  private async completeAndApply(notice: ChangeNotice): Promise<NoticeOutcome | undefined> {
    const rest = await this.o.transport.pushRemainder(this.o.deviceId, notice.token);
    const whole = rest && joinRemainder(notice, rest);
    if (!whole) {
      void this.requestSync();
      return 'stale';
    }
    return this.o.client?.applyNotice(whole);
  }
}
