import { limits } from '../core/limits.js';
import { ImapWatcher, type WatchedChange } from '../connectors/imap/watcher.js';
import type { Locate } from '../connectors/imap/session.js';
import type { Upstreams, WatchedUpstream } from '../hub/upstreams.js';
import type { Logger } from '../hub/ports.js';

/**
 * Keeps one watcher (connectors/imap/watcher.ts) per IMAP upstream of every account, and runs an upstream
 * as soon as its watcher sees a change, so that new mail reaches devices by push within a second
 * (docs/design.md § Mail, watching; docs/operations.md § Upstream servers).
 *
 * - One process watches: the one holding the store's `upstream watchers` lease (Upstreams.leadWatching,
 *   Store.tryExclusive; on PostgreSQL an advisory lock on a connection of its own). The others try again
 *   every limits.mailWatchReconcileMs and take over when it ends.
 * - The watched set follows the stored one at once for this process's adds and removes, and every
 *   limits.mailWatchReconcileMs for other processes' (and a password re-sealed under a new key).
 * - At most `max` upstreams are watched (config `upstreamWatchersMax`); the rest wait for their scheduled
 *   runs, as every upstream does when its watcher is down.
 * - At most limits.mailWatchRunsMax runs asked for by watchers go at once on this process, the others
 *   wait their turn: a server starting with many upstreams (each watcher's first connection asks for a
 *   run) does not open as many IMAP connections and transactions at once.
 * - When the Inbox changed (or may have: a new connection), `onInbox` runs before the run: the pick-up
 *   of sync requests by mail (sync-by-mail.ts, docs/protocol.md §21), within a second of their delivery.
 *   A pick-up that fails (the submission server out of reach) is tried again after
 *   limits.mailSyncPickupRetryMs, twice that after a second failure, and so on up to
 *   limits.mailWatchBackoffMaxMs: a device waiting for its answer may send nothing that would bring a look.
 * - A change that meets a run of that upstream under way (here or elsewhere: the run is skipped) is not
 *   lost: the run is asked again every limits.mailWatchBusyRetryMs until it goes ahead, and a change that
 *   comes during a run of this process's asks for one more run after it.
 */
export class MailWatchers {
  readonly #watched = new Map<string, Watched>();
  readonly #slots = new Slots(limits.mailWatchRunsMax);
  #stopped = false;
  #lead: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #reconciling: Promise<void> | undefined;
  #again = false;
  #overLimit = false;
  /** While this process holds the lease: only then does it watch. */
  #leading = false;

  constructor(
    private readonly upstreams: Upstreams,
    private readonly locate: Locate,
    private readonly logger: Logger,
    private readonly max: number,
    /** Runs before the upstream's run when its Inbox changed (sync requests by mail, sync-by-mail.ts); none when off. */
    private readonly onInbox?: (upstream: WatchedUpstream) => Promise<void>,
  ) {}

  start(): void {
    this.upstreams.observe(() => void this.reconcile());
    this.#lead = this.lead();
  }

  /** Stops every watcher and waits for the runs under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#lead;
  }

  /** How many upstreams this process watches now (tests, metrics). */
  get size(): number {
    return this.#watched.size;
  }

  /** Holds the lease while the server runs, or waits for it. */
  private async lead(): Promise<void> {
    while (!this.#stopped) {
      await this.upstreams
        .leadWatching(async () => {
          this.#leading = true;
          try {
            while (!this.#stopped) {
              await this.reconcile();
              await this.sleep(limits.mailWatchReconcileMs);
            }
          } finally {
            this.#leading = false;
            await this.#reconciling;
            await Promise.all([...this.#watched.values()].map((w) => w.stop()));
            this.#watched.clear();
          }
        })
        .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'upstream watchers: cannot take the lease'));
      await this.sleep(limits.mailWatchReconcileMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** Starts watchers for upstreams not watched yet, stops those of upstreams gone or changed; one look at a time, another after it if asked meanwhile. */
  private reconcile(): Promise<void> {
    if (this.#reconciling) {
      this.#again = true;
      return this.#reconciling;
    }
    this.#reconciling = (async () => {
      do {
        this.#again = false;
        await this.look().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'upstream watchers: cannot list the upstreams'));
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#reconciling = undefined));
    return this.#reconciling;
  }

  private async look(): Promise<void> {
    if (this.#stopped || !this.#leading || this.max === 0) return;
    const found = await this.upstreams.watchable(this.max + 1);
    const over = found.length > this.max;
    if (over && !this.#overLimit) this.logger.warn({ max: this.max }, 'more IMAP upstreams than upstreamWatchersMax: those past it are not watched and wait for their scheduled runs');
    this.#overLimit = over;
    const wanted = new Map(found.slice(0, this.max).map((u) => [u.id, u]));
    for (const [id, w] of this.#watched) {
      const now = wanted.get(id);
      if (!now || now.url !== w.upstream.url || now.username !== w.upstream.username || now.password !== w.upstream.password) {
        this.#watched.delete(id);
        await w.stop();
      }
    }
    for (const [id, upstream] of wanted) {
      if (this.#stopped || !this.#leading || this.#watched.has(id)) continue;
      const w = new Watched(upstream, this.upstreams, this.#slots, this.locate, this.logger, this.onInbox);
      this.#watched.set(id, w);
      w.start();
    }
  }
}

/** One upstream's watcher and the runs its changes ask for. */
class Watched {
  readonly #watcher: ImapWatcher;
  #running: Promise<void> | undefined;
  #again = false;
  /** The Inbox changed (or may have) since the last look for sync requests. */
  #inbox = false;
  #stopped = false;
  /** The next try of a failed pick-up, and the pick-ups failed in a row. */
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(
    readonly upstream: WatchedUpstream,
    private readonly upstreams: Upstreams,
    private readonly slots: Slots,
    locate: Locate,
    private readonly logger: Logger,
    private readonly onInbox?: (upstream: WatchedUpstream) => Promise<void>,
  ) {
    const { accountId, id } = upstream;
    this.#watcher = new ImapWatcher(upstream.url, { username: upstream.username, password: upstream.password }, locate, (change) => this.changed(change), {
      onError: (err) => logger.warn({ accountId, upstream: id, err: String(err) }, 'upstream watcher: connection failed; connecting again'),
    });
  }

  start(): void {
    this.#watcher.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#watcher.stop();
    await this.#running;
  }

  private changed(change: WatchedChange): void {
    // Every change asks for a run of the whole upstream: a run reads only what changed in each folder (CONDSTORE), so a folder that did not change costs it a SELECT and an empty FETCH.
    if (this.#stopped) return;
    if (change.all || change.folders.some((f) => f.toUpperCase() === 'INBOX')) this.#inbox = true;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.runWhileAsked().finally(() => (this.#running = undefined));
  }

  private async runWhileAsked(): Promise<void> {
    const { accountId, id } = this.upstream;
    let busy = 0;
    do {
      this.#again = false;
      const inbox = this.#inbox;
      this.#inbox = false;
      try {
        const [run] = await this.slots.with(async () => {
          // Requests first, so the run that follows finds them gone and no device sees them as mail.
          if (inbox && this.onInbox) {
            clearTimeout(this.#retry);
            await this.onInbox(this.upstream).then(
              () => (this.#failures = 0),
              (err: unknown) => {
                const retryMs = Math.min(limits.mailSyncPickupRetryMs * 2 ** this.#failures++, limits.mailWatchBackoffMaxMs);
                this.logger.warn({ accountId, upstream: id, err: String(err), retryMs }, 'sync requests by mail: pick-up failed; the requests wait for the next');
                this.#retry = setTimeout(() => this.changed({ folders: ['INBOX'], all: false }), retryMs);
              },
            );
          }
          return this.upstreams.run(accountId, { upstreamId: id });
        });
        // Skipped: a run is under way elsewhere, which may have read the folder before this change.
        if (run && !run.ran && busy++ < limits.mailWatchBusyRetriesMax) {
          this.#again = true;
          await new Promise((resolve) => setTimeout(resolve, limits.mailWatchBusyRetryMs));
        }
      } catch (err) {
        this.logger.warn({ accountId, upstream: id, err: String(err) }, 'upstream watcher: run failed');
      }
    } while (this.#again && !this.#stopped);
  }
}

/** At most `max` jobs at once; the others start in the order they came as those end. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number) {
    this.#free = max;
  }

  async with<T>(job: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await job();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
