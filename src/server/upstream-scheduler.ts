import { limits } from '../core/limits.js';
import type { Upstreams } from '../hub/upstreams.js';
import type { Logger } from '../hub/ports.js';

/**
 * Runs upstreams when their time comes (docs/operations.md § Upstream servers): every
 * limits.upstreamSchedulerTickMs it asks the store for those due, on every account, and runs them one
 * after the other. The run times (interval, spread, back-off, Retry-After) are the hub's
 * (hub/upstreams.ts nextRunAt), kept in the store, so any number of processes share one schedule: each
 * upstream runs in one place at a time, and one that another process has just run is no longer due.
 * One tick at a time: a tick that finds the last one still running waits for the next.
 */
export class UpstreamScheduler {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly upstreams: Upstreams,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.tick(), limits.upstreamSchedulerTickMs);
    this.#timer.unref();
    this.tick();
  }

  /** Stops ticking and waits for the run under way, if any. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
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
