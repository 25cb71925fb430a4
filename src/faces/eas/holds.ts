import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Credential } from '../../hub/accounts.js';
import type { Hub } from '../../hub/hub.js';
import type { Logger } from '../../hub/ports.js';
import type { Channel } from '../../hub/push-channel.js';
import type { PushMessage } from '../../protocol/push.js';
import type { PingRegistry } from './context.js';

/**
 * The requests this process holds until a folder changes: Pings, and Syncs that ask to wait
 * (commands/ping.ts, commands/sync-hold.ts). A server holds thousands of them, so each costs what its
 * socket costs and little more (bench/README.md § bench:eas, Ping): one small object that is the push
 * hub's channel for the device, kept in a deadline list (one timer for all of them, not one each), its
 * folder set shared with every other hold watching the same folders, and no request state: a held Ping
 * keeps no parsed request, body or context, only the response to answer.
 */

/** The device a hold is for, and the credential its request authenticated with (the hold ends with it). */
export interface Holder {
  accountId: string;
  deviceId: string;
  tokenId: string | undefined;
  credential: Credential;
}

/** Called once, with the folders that changed; none when the time ran out or the hold was ended. */
export type HoldDone = (changed: readonly string[]) => void;

/** One held request: the device's push channel while it lasts (hub/push-channel.ts). */
class Hold implements Channel {
  lastToken = 0;
  /** Monotonic ms (performance.now) at which the hold answers that nothing changed. */
  deadline = 0;
  /** Neighbours in the deadline list of its wait (Deadlines). */
  prev: Hold | undefined;
  next: Hold | undefined;
  ended = false;

  constructor(
    private readonly holds: Holds,
    readonly accountId: string,
    readonly deviceId: string,
    readonly tokenId: string | undefined,
    readonly watched: Watched,
    readonly waitMs: number,
    readonly res: ServerResponse,
    public done: HoldDone | undefined,
  ) {}

  get kind() {
    return 'eas-ping' as const;
  }

  get collections(): ReadonlySet<string> {
    return this.watched.set;
  }

  /** A notice read from the store (another process's commit, hub/push-tokens.ts): the folder it names, or all asked to sync. */
  send(message: PushMessage): void {
    if (message.type === 'change' && this.collections.has(message.collectionId)) this.end([message.collectionId]);
    else if (message.type === 'syncRequest') this.end([...this.collections]);
  }

  /** A commit here changed these of its folders: no token is issued for a hold (it only says which folders changed). */
  changed(collectionIds: readonly string[]): void {
    this.end(collectionIds);
  }

  beat(): boolean {
    return true;
  }

  close(): void {
    this.end([]);
  }

  end(changed: readonly string[]): void {
    this.holds.end(this, changed);
  }
}

/** A set of folders, shared by the holds watching exactly these (Holds.folderSets). */
interface Watched {
  key: string;
  set: ReadonlySet<string>;
  holds: number;
}

/** Which hold a response belongs to, for the one hang-up listener all of them share. */
const holdOf = new WeakMap<ServerResponse, Hold>();

function hungUp(this: ServerResponse): void {
  holdOf.get(this)?.end([]);
}

export class Holds {
  /** Holds by the time they wait: each list is in deadline order, since a hold joins its list's end. */
  private readonly deadlines = new Map<number, { head: Hold | undefined; tail: Hold | undefined }>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Folder sets in use, shared by the holds watching the same folders. */
  private readonly folderSets = new Map<string, Watched>();

  constructor(
    private readonly hub: Hub,
    private readonly pings: PingRegistry,
    private readonly logger: Logger,
  ) {}

  /**
   * Holds `res` until one of `folders` changes, `waitMs` passes, the client hangs up, a newer request of
   * the device takes over, or the credential ends; then calls `done` once. The channel is registered
   * before looking at what is already waiting, so a change commits either before the look (and is
   * counted) or after the registration (and wakes the hold). Resolves once the hold is set up, or over:
   * the caller keeps nothing of its request for the wait.
   */
  async hold(holder: Holder, folders: readonly string[], waitMs: number, res: ServerResponse, done: HoldDone): Promise<void> {
    const key = folders.join('\n');
    let watched = this.folderSets.get(key);
    if (!watched) this.folderSets.set(key, (watched = { key, set: new Set(folders), holds: 0 }));
    watched.holds++;
    const hold = new Hold(this, holder.accountId, holder.deviceId, holder.tokenId, watched, waitMs, res, done);
    this.schedule(hold);
    holdOf.set(res, hold);
    res.on('close', hungUp);
    // A client that hung up while its request was read or checked.
    if (res.destroyed) return hold.end([]);
    try {
      await this.pings.register(hold, holder.credential);
      const pending = await this.hub.pendingChanges(holder.accountId, holder.deviceId, folders, 1);
      const waiting = folders.filter((id) => (pending.get(id)?.pending ?? 0) > 0);
      if (waiting.length > 0) hold.end(waiting);
    } catch (err) {
      // Whatever failed (a credential that ended, the account's limits, the store), the hold goes with it,
      // and the caller answers the request.
      hold.done = undefined;
      hold.end([]);
      throw err;
    }
  }

  /** Ends a hold once: forgets it everywhere, then tells its `done`. */
  end(hold: Hold, changed: readonly string[]): void {
    if (hold.ended) return;
    hold.ended = true;
    this.unschedule(hold);
    hold.res.off('close', hungUp);
    holdOf.delete(hold.res);
    if (--hold.watched.holds === 0) this.folderSets.delete(hold.watched.key);
    this.pings.unregister(hold);
    const done = hold.done;
    hold.done = undefined;
    try {
      done?.(changed);
    } catch (err) {
      this.logger.warn({ err }, 'answering a held request failed');
    }
  }

  private schedule(hold: Hold): void {
    hold.deadline = performance.now() + hold.waitMs;
    let list = this.deadlines.get(hold.waitMs);
    if (!list) this.deadlines.set(hold.waitMs, (list = { head: undefined, tail: undefined }));
    hold.prev = list.tail;
    if (list.tail) list.tail.next = hold;
    else list.head = hold;
    list.tail = hold;
    if (hold.deadline < this.timerAt) this.arm(hold.deadline);
  }

  private unschedule(hold: Hold): void {
    const list = this.deadlines.get(hold.waitMs);
    if (!list) return;
    if (hold.prev) hold.prev.next = hold.next;
    else list.head = hold.next;
    if (hold.next) hold.next.prev = hold.prev;
    else list.tail = hold.prev;
    hold.prev = hold.next = undefined;
    if (!list.head) this.deadlines.delete(hold.waitMs);
    if (this.deadlines.size === 0) this.arm(Infinity);
  }

  /** One timer, for the earliest deadline of all. */
  private arm(at: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - performance.now()));
  }

  private expire(): void {
    const now = performance.now();
    for (const list of [...this.deadlines.values()]) {
      while (list.head && list.head.deadline <= now) list.head.end([]);
    }
    let next = Infinity;
    for (const list of this.deadlines.values()) if (list.head && list.head.deadline < next) next = list.head.deadline;
    this.arm(next);
  }
}
