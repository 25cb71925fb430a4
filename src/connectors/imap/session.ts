import { ImapFlow, type FetchMessageObject, type ImapFlowOptions, type MailboxObject } from 'imapflow';
import { limits } from '../../core/limits.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';

/**
 * One connection to an upstream IMAP account, shared by the sync points of its folders for one run
 * (docs/operations.md § Upstream servers: one connection per account, so a server's per-user connection
 * limit is never the reason a run fails). It connects at first need, and refuses a server without
 * CONDSTORE and QRESYNC (RFC 7162): without them, changes can only be found by reading every message of
 * every folder again, which is what the design rules out (docs/design.md § Mail).
 */

export interface ImapAccount {
  username: string;
  password: string;
}

/** Where the URL's host may be reached: the address to connect to, once the caller allowed it (server/upstream-addresses.ts). */
export type Locate = (url: string) => Promise<string>;

/** What a session uses of an IMAP client: imapflow's, or the simulator's IMAP server (sim/imap-upstream.ts). */
export type ImapClient = Pick<
  ImapFlow,
  'usable' | 'capabilities' | 'enabled' | 'connect' | 'logout' | 'close' | 'on' | 'mailboxOpen' | 'list' | 'fetchAll' | 'fetchOne' | 'messageFlagsSet' | 'messageDelete' | 'messageMove' | 'append' | 'getMailboxLock' | 'search'
>;
export type OpenClient = (options: ImapFlowOptions) => ImapClient;

/**
 * The rows of a UID FETCH's answer that are about the messages it asked for, one per message. imapflow's
 * fetchAll lists every FETCH row that arrived while the command ran: unsolicited ones too (a flag another
 * session changed, RFC 9051 §7.5.2), for other messages or with only their flags, and a server may answer
 * for one message in several rows. Rows of one message are merged in the order they came, so a later
 * flag change (with its MODSEQ) wins; `has` says whether the merged row holds what was asked for.
 */
export function rowsAsked(rows: readonly FetchMessageObject[], uids: ReadonlySet<number>, has: (row: FetchMessageObject) => boolean): Map<number, FetchMessageObject> {
  const merged = new Map<number, FetchMessageObject>();
  for (const row of rows) {
    if (!uids.has(row.uid)) continue;
    const before = merged.get(row.uid);
    merged.set(row.uid, before === undefined ? row : { ...before, ...Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) });
  }
  for (const [uid, row] of merged) if (!has(row)) merged.delete(uid);
  return merged;
}

export class ImapSession {
  #client: ImapClient | undefined;
  /** UIDs the server reported expunged (VANISHED) while a fetch with `vanished` runs. */
  #vanished: number[] | undefined;

  constructor(
    readonly url: string,
    private readonly account: ImapAccount,
    private readonly locate: Locate,
    private readonly openClient: OpenClient = (options) => new ImapFlow(options),
  ) {}

  /** The signed-in connection, with QRESYNC enabled. */
  async client(): Promise<ImapClient> {
    if (this.#client?.usable) return this.#client;
    const url = new URL(this.url);
    const secure = url.protocol === 'imaps:';
    const host = await this.locate(this.url);
    const client = this.openClient({
      host,
      port: url.port === '' ? (secure ? 993 : 143) : Number(url.port),
      secure,
      servername: url.hostname,
      auth: { user: this.account.username, pass: this.account.password },
      logger: false,
      qresync: true,
      disableAutoIdle: true,
      connectionTimeout: limits.upstreamRequestMs,
      greetingTimeout: limits.upstreamRequestMs,
      socketTimeout: limits.upstreamRequestMs,
      expungeHandler: (event) => {
        if (event.vanished && event.uid !== undefined) this.#vanished?.push(event.uid);
      },
    });
    // A connection that fails later is dropped, not thrown from an event nobody awaits.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      throw problemOf(err, url.host);
    }
    if (!client.capabilities.has('CONDSTORE') || !client.enabled.has('QRESYNC')) {
      await client.logout().catch(() => {});
      throw new UpstreamError('protocol', `${url.host} does not offer CONDSTORE and QRESYNC (RFC 7162), which Syncpoint needs to find what changed without reading every message again`);
    }
    this.#client = client;
    return client;
  }

  /** Opens a folder (read-write: flags are written to it) and says where it stands. */
  async open(path: string): Promise<MailboxObject> {
    const client = await this.client();
    try {
      const box = await client.mailboxOpen(path);
      if (box.noModseq === true || box.highestModseq === undefined) throw new UpstreamError('protocol', `folder ${path} keeps no modification sequences (RFC 7162 NOMODSEQ)`);
      return box;
    } catch (err) {
      throw problemOf(err, new URL(this.url).host);
    }
  }

  /**
   * Runs `work`, a command that asks for no VANISHED, its failure as the typed error. Unlike
   * watchingVanished it keeps no state, so a command read ahead (ImapPoint) may run beside another.
   */
  async asking<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw problemOf(err, new URL(this.url).host);
    }
  }

  /** Runs `work`, and gives what the server reported expunged meanwhile. */
  async watchingVanished<T>(work: () => Promise<T>): Promise<{ result: T; vanished: number[] }> {
    this.#vanished = [];
    try {
      const result = await work();
      return { result, vanished: this.#vanished };
    } catch (err) {
      throw problemOf(err, new URL(this.url).host);
    } finally {
      this.#vanished = undefined;
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client?.usable) await client.logout().catch(() => client.close());
  }
}

/** An IMAP failure as the typed error the hub's scheduler reads (protocol/upstream-errors.ts). */
export function problemOf(err: unknown, host: string): Error {
  if (err instanceof UpstreamError) return err;
  const e = err as { authenticationFailed?: boolean; code?: string; message?: string; responseText?: string };
  if (e.authenticationFailed === true) return new UpstreamError('auth', `${host} refused the user name and password`);
  if (typeof e.code === 'string' && /^(E|NoConnection)/.test(e.code)) return new UpstreamError('transient', `cannot reach ${host}: ${e.message ?? e.code}`);
  return new UpstreamError('protocol', `${host}: ${e.responseText ?? e.message ?? String(err)}`);
}
