import type { ImapFlowOptions } from 'imapflow';
import type { ImapClient } from '../src/connectors/imap/session.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';

/**
 * A simulated IMAP server with one folder (INBOX), answering the real IMAP connector
 * (src/connectors/imap/) through the client interface it uses (session.ts ImapClient), with what RFC 7162
 * gives it: a MODSEQ per message, HIGHESTMODSEQ, FETCH CHANGEDSINCE with VANISHED, STORE UNCHANGEDSINCE.
 * Its own user (another mail program, and mail arriving) acts between exchanges:
 *   - new mail is delivered; a flag is set or cleared; a message is expunged;
 *   - rarely, the folder is rebuilt: a new UIDVALIDITY, every message under a new UID.
 * And its connection fails as real ones do:
 *   - a command is lost before it arrives (nothing done), or its answer after it was done (the connector
 *     sees a reset connection either way, and must not take a write for done or undone blindly);
 *   - the server restarts (the connection is gone; the next command reconnects).
 * Message-IDs are unique, so the checkers compare the folder and the hub by them (sim/mail.ts).
 */

export interface ImapFaultRates {
  /** Per turn of its own user: mail arrives, a flag changes, a message is expunged, the folder is rebuilt. */
  deliver: number;
  flag: number;
  expunge: number;
  rebuild: number;
  /** Per command: lost before it arrives, or its answer lost after it was done. */
  lostCommand: number;
  lostAnswer: number;
}

interface SimMessage {
  uid: number;
  messageId: string;
  flags: Set<string>;
  modseq: bigint;
  source: Buffer;
  internalDate: Date;
}

export const simFlags = ['\\Seen', '\\Flagged', '\\Answered', '$Forwarded'] as const;

export class SimImapServer {
  uidValidity = 1000n;
  private uidNext = 1;
  private highestModseq = 1n;
  private readonly messages = new Map<number, SimMessage>();
  /** Expunged UIDs with the modseq of their expunge, for VANISHED; forgotten when the folder is rebuilt. */
  private expunged: Array<{ uid: number; modseq: bigint }> = [];
  private delivered = 0;
  /** Bumped at each restart: a client of an older one is no longer usable. */
  private epoch = 0;
  readonly counts = { commands: 0, lostCommands: 0, lostAnswers: 0, delivered: 0, rebuilds: 0 };

  constructor(
    private readonly rng: Rng,
    private readonly rates: ImapFaultRates,
    private readonly trace: Trace | undefined,
  ) {}

  /** What the folder holds, by Message-ID: its flags, sorted. */
  contents(): Map<string, string[]> {
    return new Map([...this.messages.values()].map((m) => [m.messageId, [...m.flags].sort()]));
  }

  /** Its own user's turn. */
  act(): void {
    if (this.rng.chance(this.rates.deliver)) this.deliver();
    const present = [...this.messages.values()];
    if (present.length > 0 && this.rng.chance(this.rates.flag)) {
      const m = present[this.rng.int(0, present.length - 1)] as SimMessage;
      const flag = simFlags[this.rng.int(0, simFlags.length - 1)] as string;
      if (m.flags.has(flag)) m.flags.delete(flag);
      else m.flags.add(flag);
      m.modseq = this.nextModseq();
      this.trace?.(`imap user: ${m.messageId} flags ${[...m.flags].sort().join(' ') || '(none)'}`);
    }
    if (present.length > 0 && this.rng.chance(this.rates.expunge)) {
      const m = present[this.rng.int(0, present.length - 1)] as SimMessage;
      this.expunge(m.uid);
      this.trace?.(`imap user: expunges ${m.messageId}`);
    }
    if (this.rng.chance(this.rates.rebuild)) this.rebuild();
  }

  deliver(): void {
    const n = ++this.delivered;
    const messageId = `<sim-${n}@example.org>`;
    const text = `Message ${n}.\r\n`.repeat(1 + (n % 5));
    const source = Buffer.from(`From: Sim <sim@example.org>\r\nTo: ann@example.org\r\nSubject: Message ${n}\r\nMessage-ID: ${messageId}\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}`);
    const uid = this.uidNext++;
    this.messages.set(uid, { uid, messageId, flags: new Set(), modseq: this.nextModseq(), source, internalDate: new Date(Date.UTC(2026, 0, 1) + n * 60_000) });
    this.counts.delivered++;
    this.trace?.(`imap: delivered ${messageId} as UID ${uid}`);
  }

  restart(): void {
    this.epoch++;
    this.trace?.('imap: the server restarts');
  }

  private rebuild(): void {
    this.uidValidity++;
    this.uidNext = 1;
    const kept = [...this.messages.values()];
    this.messages.clear();
    this.expunged = [];
    for (const m of kept) {
      const uid = this.uidNext++;
      this.messages.set(uid, { ...m, uid, modseq: this.nextModseq() });
    }
    this.counts.rebuilds++;
    this.trace?.(`imap: the folder is rebuilt, UIDVALIDITY ${this.uidValidity}`);
  }

  private nextModseq(): bigint {
    return ++this.highestModseq;
  }

  private expunge(uid: number): void {
    if (!this.messages.delete(uid)) return;
    this.expunged.push({ uid, modseq: this.nextModseq() });
  }

  /** A client as imapflow's, for the connector's session (its `options` carry the expunge handler VANISHED goes to). */
  open(options: ImapFlowOptions): ImapClient {
    return new SimImapClient(this, options) as unknown as ImapClient;
  }

  /** One command: lost before it is done, done, or done with its answer lost. */
  command<T>(client: { epoch: number; usable: boolean }, what: string, work: () => T): T {
    this.counts.commands++;
    if (client.epoch !== this.epoch) client.usable = false;
    if (!client.usable) throw Object.assign(new Error('Connection not available'), { code: 'NoConnection' });
    if (this.rng.chance(this.rates.lostCommand)) {
      this.counts.lostCommands++;
      client.usable = false;
      this.trace?.(`imap: ${what} is lost before it arrives`);
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    }
    const result = work();
    if (this.rng.chance(this.rates.lostAnswer)) {
      this.counts.lostAnswers++;
      client.usable = false;
      this.trace?.(`imap: the answer to ${what} is lost`);
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    }
    return result;
  }

  state(): { uidValidity: bigint; uidNext: number; exists: number; highestModseq: bigint } {
    return { uidValidity: this.uidValidity, uidNext: this.uidNext, exists: this.messages.size, highestModseq: this.highestModseq };
  }

  /** Messages by UID set ("1:*", or UIDs joined by commas), or all for a sequence range, changed since `modseq` if given; and what vanished since. */
  select(range: string, byUid: boolean, changedSince: bigint | undefined): { found: SimMessage[]; vanished: number[] } {
    let found = [...this.messages.values()].sort((a, b) => a.uid - b.uid);
    if (range !== '1:*') {
      const wanted = new Set(range.split(',').map(Number));
      found = byUid ? found.filter((m) => wanted.has(m.uid)) : found.filter((_, i) => wanted.has(i + 1));
    }
    if (changedSince === undefined) return { found, vanished: [] };
    return { found: found.filter((m) => m.modseq > changedSince), vanished: byUid ? this.expunged.filter((e) => e.modseq > changedSince).map((e) => e.uid) : [] };
  }

  setFlags(uid: number, flags: readonly string[], unchangedSince: bigint | undefined): void {
    const m = this.messages.get(uid);
    if (!m || (unchangedSince !== undefined && m.modseq > unchangedSince)) return;
    m.flags = new Set(flags);
    m.modseq = this.nextModseq();
  }

  remove(uid: number): void {
    this.expunge(uid);
  }

  /** The epoch a new client belongs to. */
  currentEpoch(): number {
    return this.epoch;
  }
}

/** The subset of imapflow's client the connector uses, on the simulated server. */
class SimImapClient {
  usable = false;
  epoch: number;
  readonly capabilities = new Map<string, boolean | number>([
    ['CONDSTORE', true],
    ['QRESYNC', true],
  ]);
  readonly enabled = new Set(['CONDSTORE', 'QRESYNC']);

  constructor(
    private readonly server: SimImapServer,
    private readonly options: ImapFlowOptions,
  ) {
    this.epoch = server.currentEpoch();
  }

  on(): this {
    return this;
  }

  async connect(): Promise<void> {
    this.epoch = this.server.currentEpoch();
    this.usable = true;
    this.server.command(this, 'LOGIN', () => undefined);
  }

  async logout(): Promise<void> {
    this.usable = false;
  }

  close(): void {
    this.usable = false;
  }

  async list(): Promise<Array<{ path: string; delimiter: string; flags: Set<string> }>> {
    return this.server.command(this, 'LIST', () => [{ path: 'INBOX', delimiter: '/', flags: new Set<string>() }]);
  }

  async mailboxOpen(path: string): Promise<Record<string, unknown>> {
    return this.server.command(this, `SELECT ${path}`, () => ({ path, delimiter: '/', flags: new Set(), permanentFlags: new Set(['\\Seen', '\\Flagged', '\\Answered', '\\Draft', '\\*']), ...this.server.state() }));
  }

  async fetchAll(range: string, query: { source?: boolean | { maxLength?: number } }, options: { uid?: boolean; changedSince?: bigint | number } = {}): Promise<Array<Record<string, unknown>>> {
    const changedSince = options.changedSince === undefined ? undefined : BigInt(options.changedSince);
    const { found, vanished } = this.server.command(this, `FETCH ${range}${changedSince === undefined ? '' : ` CHANGEDSINCE ${changedSince}`}`, () => this.server.select(range, options.uid === true, changedSince));
    for (const uid of vanished) await this.options.expungeHandler?.({ path: 'INBOX', uid, vanished: true, earlier: true } as never);
    const max = typeof query.source === 'object' ? (query.source.maxLength ?? Infinity) : Infinity;
    return found.map((m, i) => ({
      seq: i + 1,
      uid: m.uid,
      modseq: m.modseq,
      flags: new Set(m.flags),
      size: m.source.length,
      internalDate: m.internalDate,
      bodyStructure: { part: '1', type: 'text/plain', parameters: { charset: 'utf-8' }, encoding: '7bit', size: m.source.length },
      source: m.source.subarray(0, max),
    }));
  }

  async fetchOne(range: string, query: object, options: { uid?: boolean } = {}): Promise<Record<string, unknown> | false> {
    const [found] = await this.fetchAll(range, query, options);
    return found ?? false;
  }

  async messageFlagsSet(range: string, flags: string[], options: { uid?: boolean; unchangedSince?: bigint | number } = {}): Promise<boolean> {
    this.server.command(this, `STORE ${range} FLAGS`, () => this.server.setFlags(Number(range), flags, options.unchangedSince === undefined ? undefined : BigInt(options.unchangedSince)));
    return true;
  }

  async messageDelete(range: string): Promise<boolean> {
    this.server.command(this, `EXPUNGE ${range}`, () => this.server.remove(Number(range)));
    return true;
  }
}
