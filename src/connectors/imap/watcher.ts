import { ImapFlow } from 'imapflow';
import { limits } from '../../core/limits.js';
import { ImapSession, type ImapAccount, type Locate } from './session.js';

/**
 * Watches one IMAP account for changes over ONE connection (docs/design.md § Mail, watching), so a
 * server's per-user connection limit (Dovecot's 10) is met by the watcher and a run beside it:
 *
 * - A server offering NOTIFY (RFC 5465) is told `NOTIFY SET (personal (MessageNew MessageExpunge
 *   FlagChange))` and no folder is selected: it then answers a new message, an expunge or a flag change
 *   in any folder with an untagged STATUS of that folder (with CONDSTORE enabled, its HIGHESTMODSEQ). A
 *   NOOP every limits.mailWatchKeepaliveMs keeps the quiet connection under its socket timeout. IDLE on a
 *   selected Inbox is NOT added beside it: Dovecot then reports Inbox changes seconds late.
 * - A server without NOTIFY gets the Inbox examined (read-only) under IDLE, and every
 *   limits.mailWatchPollMs one `LIST "" "*" RETURN (STATUS (HIGHESTMODSEQ))` (LIST-STATUS, RFC 5819)
 *   whose changed modification sequences name the other folders that changed.
 *
 * Changes are told in bursts: `onChange` gets, limits.mailWatchDebounceMs after the first, every folder
 * named meanwhile; `all` when the watcher cannot know (every connection, the first included: whatever
 * happened while nobody watched). A failed connection is made again after limits.mailWatchBackoffMs,
 * twice as long after each failure in a row up to limits.mailWatchBackoffMaxMs.
 */

export interface WatchedChange {
  /** Folders (IMAP paths, as the server names them) that changed. */
  folders: string[];
  /** Anything may have changed (a new connection): look at every folder. */
  all: boolean;
}

export interface WatcherOptions {
  /** Use NOTIFY when the server offers it (default); false forces the Inbox IDLE and LIST-STATUS polling (tests). */
  notify?: boolean;
  /** Between LIST-STATUS polls without NOTIFY; limits.mailWatchPollMs by default. */
  pollMs?: number;
  /** Told when a connection fails or is refused, with what the server said (the watcher connects again by itself). */
  onError?: (err: unknown) => void;
}

/**
 * imapflow has no NOTIFY API. Its command path (`exec`, which sends a command and settles on its tagged
 * answer) and its table of handlers for untagged answers outside a command are internal, left out of its
 * types: this is the part of them used here (imapflow 2.10; the e2e test of the watcher fails if they change).
 */
interface RawImap {
  exec(command: string, attributes: unknown[]): Promise<{ next?: () => void }>;
  untaggedHandlers: Record<string, ((untagged: { attributes?: Array<{ value?: unknown }> }) => void) | undefined>;
}

export class ImapWatcher {
  #stopped = false;
  #session: ImapSession | undefined;
  #loop: Promise<void> | undefined;
  /** Wakes the wait between connections (stop). */
  #wake: (() => void) | undefined;
  #pending: WatchedChange | undefined;
  #debounce: NodeJS.Timeout | undefined;
  /** How it watches now, once connected. */
  mode: 'notify' | 'poll' | undefined;

  constructor(
    private readonly url: string,
    private readonly account: ImapAccount,
    private readonly locate: Locate,
    private readonly onChange: (change: WatchedChange) => void,
    private readonly options: WatcherOptions = {},
  ) {}

  start(): void {
    this.#loop ??= this.run();
  }

  /** Ends the connection and every timer; resolves once the watcher is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#debounce);
    this.#wake?.();
    await this.#session?.close();
    await this.#loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      // The session's own connection (its checks of CONDSTORE and QRESYNC), kept whole: NOTIFY needs more of imapflow than a session uses.
      let flow: ImapFlow | undefined;
      const session = new ImapSession(this.url, this.account, this.locate, (options) => (flow = new ImapFlow(options)));
      this.#session = session;
      const timers: NodeJS.Timeout[] = [];
      try {
        await session.client();
        const client = flow as ImapFlow;
        const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
        if (this.#stopped) break;
        if (!(this.options.notify !== false && client.capabilities.has('NOTIFY') && (await this.watchNotify(client, timers)))) await this.watchPolling(client, timers);
        failures = 0;
        this.changed(undefined);
        await closed;
      } catch (err) {
        if (!this.#stopped) this.options.onError?.(err);
      } finally {
        for (const t of timers) clearInterval(t);
        this.mode = undefined;
        await session.close();
      }
      if (this.#stopped) break;
      failures++;
      const wait = Math.min(limits.mailWatchBackoffMs * 2 ** Math.min(failures - 1, 30), limits.mailWatchBackoffMaxMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** False when the server refused the NOTIFY SET. */
  private async watchNotify(client: ImapFlow, timers: NodeJS.Timeout[]): Promise<boolean> {
    const raw = client as unknown as RawImap;
    raw.untaggedHandlers.STATUS = (untagged) => {
      // A name sent as a literal comes as bytes: still a change, of a folder not named here.
      const path = untagged.attributes?.[0]?.value;
      this.changed(typeof path === 'string' ? path : undefined);
    };
    const atom = (value: string) => ({ type: 'ATOM', value });
    try {
      const answer = await raw.exec('NOTIFY', [atom('SET'), [atom('personal'), ['MessageNew', 'MessageExpunge', 'FlagChange'].map(atom)]]);
      answer.next?.();
    } catch (err) {
      // Refused (a tagged NO or BAD: the server offers NOTIFY but not for these events): watch without it.
      if ((err as { responseStatus?: string }).responseStatus === undefined) throw err;
      raw.untaggedHandlers.STATUS = undefined;
      return false;
    }
    this.mode = 'notify';
    timers.push(setInterval(() => void client.noop().catch(() => client.close()), limits.mailWatchKeepaliveMs));
    return true;
  }

  private async watchPolling(client: ImapFlow, timers: NodeJS.Timeout[]): Promise<void> {
    const inbox = await client.mailboxOpen('INBOX', { readOnly: true });
    for (const event of ['exists', 'expunge', 'flags'] as const) client.on(event, () => this.changed(inbox.path));
    const seen = new Map<string, string>();
    const poll = async (tell: boolean) => {
      for (const folder of await client.list({ statusQuery: { highestModseq: true } })) {
        const modseq = String(folder.status?.highestModseq ?? '');
        if (tell && seen.get(folder.path) !== modseq && folder.path !== inbox.path) this.changed(folder.path);
        seen.set(folder.path, modseq);
      }
    };
    await poll(false);
    this.mode = 'poll';
    timers.push(setInterval(() => void poll(true).catch(() => client.close()), this.options.pollMs ?? limits.mailWatchPollMs));
    // IDLE until the connection ends: a poll (or imapflow's NOOP after a quiet socket) breaks it, and it starts again.
    void (async () => {
      // Without a selected folder imapflow's idle() returns at once: a connection that lost it starts over.
      while (!this.#stopped && client.usable && client.mailbox) await client.idle().catch(() => undefined);
      if (!this.#stopped) client.close();
    })();
  }

  /** Adds `path` (or everything) to the burst told limits.mailWatchDebounceMs after its first change. */
  private changed(path: string | undefined): void {
    if (this.#stopped) return;
    const pending = (this.#pending ??= { folders: [], all: false });
    if (path === undefined) pending.all = true;
    else if (!pending.folders.includes(path)) pending.folders.push(path);
    this.#debounce ??= setTimeout(() => {
      this.#debounce = undefined;
      const change = this.#pending;
      this.#pending = undefined;
      if (change && !this.#stopped) this.onChange(change);
    }, limits.mailWatchDebounceMs);
  }
}
