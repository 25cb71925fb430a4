import { limits } from '../core/limits.js';
import type { Upstreams } from '../hub/upstreams.js';
import type { Logger } from '../hub/ports.js';

/**
 * Runs upstreams when their time comes (docs/operations.md § Upstream servers): every
 * limits.upstreamSchedulerTickMs it asks the store for those due, on every account, and runs them one
 * after the other. The run times (interval, spread, back-off, Retry-After) are the hub's
 * (hub/upstreams.ts nextRunAt), kept in the store, so any number of processes share one schedule: each
 * upstream runs in one place at a time, and one that another process has just run is no longer due.
 * One tick at a time: a tick that finds the last one still running waits for the next. A device's write to
 * an upstream's collection runs that upstream soon, beside the schedule (runSoon).
 */
export class UpstreamScheduler {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Runs asked for by runSoon, per upstream: its timer, the run under way, and whether another was asked for meanwhile. */
  readonly #soon = new Map<string, { timer?: NodeJS.Timeout; run?: Promise<void>; again: boolean; tries: number; firstAsked?: number }>();
  #stopped = false;

  constructor(
    private readonly upstreams: Upstreams,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.tick(), limits.upstreamSchedulerTickMs);
    this.#timer.unref();
    this.tick();
  }

  /** Stops ticking and waits for the runs under way, if any. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const soon of this.#soon.values()) clearTimeout(soon.timer);
    await Promise.all([this.#running, ...[...this.#soon.values()].map((s) => s.run)]);
  }

  /**
   * Runs the upstream shortly (limits.upstreamFollowDelayMs), whatever its schedule: a device wrote to
   * one of its collections (Upstreams.followDeviceWrites). Asked again while it runs, it runs once more
   * after, since the run may have read before the write. A run another process holds is tried again a
   * few times; after that the next scheduled run takes the write up.
   */
  runSoon(accountId: string, upstreamId: string): void {
    if (this.#stopped) return;
    const key = `${accountId} ${upstreamId}`;
    const soon = this.#soon.get(key) ?? { again: false, tries: 0 };
    this.#soon.set(key, soon);
    if (soon.run) {
      soon.again = true;
      return;
    }
    // Writes close together share one run; a steady stream of them delays it by at most ten delays.
    const now = Date.now();
    soon.firstAsked ??= now;
    if (soon.timer !== undefined && now - soon.firstAsked >= 10 * limits.upstreamFollowDelayMs) return;
    clearTimeout(soon.timer);
    soon.timer = setTimeout(() => {
      soon.timer = undefined;
      soon.firstAsked = undefined;
      soon.run = this.upstreams
        .run(accountId, { upstreamId })
        .then(
          ([run]) => {
            if (run?.ran === false && ++soon.tries < limits.upstreamFollowTriesMax) soon.again = true;
            else soon.tries = 0;
          },
          (err: unknown) => this.logger.warn({ err: String(err), accountId, upstream: upstreamId }, 'upstream run after a device write failed'),
        )
        .finally(() => {
          soon.run = undefined;
          if (!soon.again) return this.#soon.delete(key);
          soon.again = false;
          this.runSoon(accountId, upstreamId);
        });
    }, limits.upstreamFollowDelayMs);
    soon.timer.unref();
  }

  private tick(): void {
    if (this.#running) return;
    this.#running = this.upstreams
      .runDue(limits.upstreamsPerTickMax)
      .then(
        () => undefined,
        (err: unknown) => this.logger.warn({ err: String(err) }, 'upstream scheduler tick failed'),
      )
      .finally(() => (this.#running = undefined));
  }
}
