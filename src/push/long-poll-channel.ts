import { limits } from '../core/limits.js';
import type { ChangeNotice, PushMessage, PollResponse } from '../protocol/push.js';
import type { Channel } from '../hub/push-channel.js';

/**
 * For clients that cannot hold a socket: a mailbox that collects the device's notices between polls.
 * A poll is answered as soon as the mailbox holds a notice after the token the client acknowledged
 * (`after`), or when its wait runs out. Notices stay until a later poll acknowledges them, so a lost
 * answer costs nothing. A mailbox nobody polls for `lingerMs` is closed; one that overflows drops its
 * oldest notices, and the device sees the gap in the tokens and syncs.
 */
export class LongPollChannel implements Channel {
  readonly kind = 'long-poll';
  lastToken = 0;
  private readonly mailbox: ChangeNotice[] = [];
  private waiter: { answer: (r: PollResponse) => void; timer: NodeJS.Timeout } | undefined;
  private lastPollAt: number;
  private open = true;
  private syncRequested = false;

  constructor(
    readonly accountId: string,
    readonly deviceId: string,
    readonly tokenId: string | undefined,
    readonly collections: ReadonlySet<string> | null,
    private readonly lingerMs: number,
    private readonly now: () => number,
  ) {
    this.lastPollAt = now();
  }

  /**
   * Answers with the notices after `after`, now or once one arrives, or empty after `waitMs`. A newer
   * poll answers an older one still waiting; `cancel` (the client went away) forgets this one.
   */
  poll(after: number, waitMs: number): { answer: Promise<PollResponse>; cancel(): void } {
    this.lastPollAt = this.now();
    while (this.mailbox.length > 0 && (this.mailbox[0] as ChangeNotice).token <= after) this.mailbox.shift();
    this.finish();
    let waiter: typeof this.waiter;
    const answer = new Promise<PollResponse>((resolve) => {
      if (this.mailbox.length > 0 || this.syncRequested || !this.open) return resolve(this.response());
      waiter = { answer: resolve, timer: setTimeout(() => this.finish(), waitMs) };
      this.waiter = waiter;
    });
    const cancel = () => {
      if (!waiter || this.waiter !== waiter) return;
      clearTimeout(waiter.timer);
      this.waiter = undefined;
    };
    return { answer, cancel };
  }

  send(message: PushMessage): void {
    if (!this.open) return;
    if (message.type === 'syncRequest') this.syncRequested = true;
    else if (message.type === 'change') {
      this.mailbox.push(message);
      if (this.mailbox.length > limits.pollMailboxMax) this.mailbox.shift();
    } else return;
    this.finish();
  }

  beat(): boolean {
    if (this.open && !this.waiter && this.now() - this.lastPollAt > this.lingerMs) this.close();
    return this.open;
  }

  close(): void {
    this.open = false;
    this.finish();
  }

  private finish(): void {
    if (!this.waiter) return;
    clearTimeout(this.waiter.timer);
    const { answer } = this.waiter;
    this.waiter = undefined;
    answer(this.response());
  }

  private response(): PollResponse {
    const requested = this.syncRequested;
    this.syncRequested = false;
    return { deviceId: this.deviceId, messages: [...this.mailbox], lastToken: this.lastToken, ...(requested ? { syncRequested: true as const } : {}) };
  }
}
