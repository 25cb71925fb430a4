import type { ImapFlowOptions } from 'imapflow';
import type { ImapClient } from '../src/connectors/imap/session.js';
import type { BodyStructure } from '../src/content/mail/mime.js';
import { invitationMessage } from '../test/support/invitation.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';

/**
 * A simulated IMAP server with three folders (INBOX, Archive, and Sent, marked `\Sent` as RFC 6154 says),
 * answering the real IMAP connector and mail gateway (src/connectors/imap/, server/upstream-connector.ts)
 * through the client interface they use (session.ts ImapClient), with what RFC 7162 gives them (a MODSEQ
 * per message, HIGHESTMODSEQ, FETCH CHANGEDSINCE with VANISHED, STORE UNCHANGEDSINCE) and RFC 4315's
 * UIDPLUS (MOVE answered with COPYUID, APPEND with APPENDUID; in some worlds neither is said).
 * Its own user (another mail program, and mail arriving) acts between exchanges:
 *   - new mail is delivered to INBOX; a flag is set or cleared; a message is expunged, or moved between
 *     INBOX and Archive;
 *   - rarely, a folder is rebuilt: a new UIDVALIDITY, every message under a new UID;
 *   - in worlds with ActiveSync phones, meeting invitations arrive too (deliverInvitation): a
 *     multipart/alternative with a base64 `text/calendar; method=REQUEST` part, its BODYSTRUCTURE told as
 *     Dovecot tells it, so the IMAP point keeps the mail item's `invitation` (docs/eas.md § Meeting invitations).
 * And its connection fails as real ones do, for every command (MOVE and APPEND included):
 *   - a command is lost before it arrives (nothing done), or its answer after it was done (the connector
 *     sees a reset connection either way, and must not take a write for done or undone blindly);
 *   - the server restarts (the connection is gone; the next command reconnects).
 * Message-IDs are unique, so the checkers compare the folders and the hub by them (sim/mail.ts). The
 * server remembers every message it ever held and which were expunged, so a message lost or copied
 * on its way from folder to folder shows.
 */

export interface ImapFaultRates {
  /** Per turn of its own user: mail arrives, a flag changes, a message is expunged or moved, a folder is rebuilt. */
  deliver: number;
  flag: number;
  expunge: number;
  move: number;
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
  /** What FETCH BODYSTRUCTURE tells of it: a single text/plain part unless said otherwise. */
  bodyStructure?: BodyStructure;
}

/** The address of the account's user, an attendee of every invitation; the organizer is elsewhere. */
export const simAttendee = 'ann@example.org';
export const simOrganizer = { name: 'Olga Organizer', address: 'olga@example.net' };

class SimFolder {
  uidNext = 1;
  readonly messages = new Map<number, SimMessage>();
  /** Expunged UIDs with the modseq of their expunge, for VANISHED; forgotten when the folder is rebuilt. */
  expunged: Array<{ uid: number; modseq: bigint }> = [];

  constructor(
    readonly path: string,
    readonly specialUse: string | undefined,
    public uidValidity: bigint,
  ) {}
}

export const simFlags = ['\\Seen', '\\Flagged', '\\Answered', '$Forwarded'] as const;
export const simFolders = ['INBOX', 'Archive', 'Sent'] as const;
/** With ActiveSync phones, a Deleted Items folder too, where their deletes move messages (docs/eas.md § Mail). */
export const simFoldersWithTrash = [...simFolders, 'Trash'] as const;

export class SimImapServer {
  private highestModseq = 1n;
  readonly folders: ReadonlyMap<string, SimFolder>;
  private delivered = 0;
  /** Invitations delivered: the n of the last one's UID (`meeting-<n>@example.net`). */
  private invitations = 0;
  private lastUidValidity: bigint;
  /** Every Message-ID it has held, and those expunged (by its user, or by a client's EXPUNGE): what must be somewhere, once. */
  readonly everHeld = new Set<string>();
  readonly expungedIds = new Set<string>();
  /** How many times each Message-ID was appended (a sent message's copy filed in Sent). */
  readonly appended = new Map<string, number>();
  /** Bumped at each restart: a client of an older one is no longer usable. */
  private epoch = 0;
  readonly counts = { commands: 0, lostCommands: 0, lostAnswers: 0, delivered: 0, invitations: 0, rebuilds: 0, moves: 0, appends: 0 };

  constructor(
    private readonly rng: Rng,
    private readonly rates: ImapFaultRates,
    private readonly trace: Trace | undefined,
    /** Whether MOVE and APPEND say the new UID (COPYUID, APPENDUID). */
    private readonly uidPlus = true,
    /** Whether the folders begin with one UIDVALIDITY, as a server whose UIDVALIDITY is the folder's creation time gives folders made together. */
    sameUidValidity = false,
    paths: readonly string[] = simFolders,
  ) {
    const specialUse: Record<string, string> = { Sent: '\\Sent', Trash: '\\Trash' };
    this.folders = new Map(paths.map((path, i) => [path, new SimFolder(path, specialUse[path], sameUidValidity ? 1000n : 1000n + BigInt(i) * 100n)]));
    this.lastUidValidity = 1000n + BigInt(paths.length) * 100n;
  }

  /** What each folder holds, by Message-ID: its flags, sorted, once per copy. */
  contents(): Map<string, Array<{ messageId: string; flags: string[] }>> {
    return new Map([...this.folders].map(([path, f]) => [path, [...f.messages.values()].map((m) => ({ messageId: m.messageId, flags: [...m.flags].sort() }))]));
  }

  private folder(path: string): SimFolder {
    const folder = this.folders.get(path);
    if (!folder) throw Object.assign(new Error(`Mailbox doesn't exist: ${path}`), { responseText: `Mailbox doesn't exist: ${path}` });
    return folder;
  }

  /** Its own user's turn. */
  act(): void {
    if (this.rng.chance(this.rates.deliver)) this.deliver();
    const present = [...this.folders.values()].flatMap((f) => [...f.messages.values()].map((m) => ({ f, m })));
    if (present.length > 0 && this.rng.chance(this.rates.flag)) {
      const { m } = present[this.rng.int(0, present.length - 1)] as { f: SimFolder; m: SimMessage };
      const flag = simFlags[this.rng.int(0, simFlags.length - 1)] as string;
      if (m.flags.has(flag)) m.flags.delete(flag);
      else m.flags.add(flag);
      m.modseq = this.nextModseq();
      this.trace?.(`imap user: ${m.messageId} flags ${[...m.flags].sort().join(' ') || '(none)'}`);
    }
    if (present.length > 0 && this.rng.chance(this.rates.expunge)) {
      const { f, m } = present[this.rng.int(0, present.length - 1)] as { f: SimFolder; m: SimMessage };
      this.remove(f.path, m.uid);
      this.trace?.(`imap user: expunges ${m.messageId} from ${f.path}`);
    }
    const movable = present.filter(({ f }) => f.path !== 'Sent');
    if (movable.length > 0 && this.rng.chance(this.rates.move)) {
      const { f, m } = movable[this.rng.int(0, movable.length - 1)] as { f: SimFolder; m: SimMessage };
      const to = f.path === 'INBOX' ? 'Archive' : 'INBOX';
      const uid = this.moveMessage(f, m.uid, this.folder(to));
      this.trace?.(`imap user: moves ${m.messageId} from ${f.path} to ${to} (UID ${uid})`);
    }
    if (this.rng.chance(this.rates.rebuild)) this.rebuild(this.rng.pick([...this.folders.values()]));
  }

  deliver(): void {
    const n = ++this.delivered;
    const messageId = `<sim-${n}@example.org>`;
    const text = `Message ${n}.\r\n`.repeat(1 + (n % 5));
    const source = Buffer.from(`From: Sim <sim@example.org>\r\nTo: ann@example.org\r\nSubject: Message ${n}\r\nMessage-ID: ${messageId}\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}`);
    const uid = this.add(this.folder('INBOX'), { messageId, flags: new Set(), source, internalDate: new Date(Date.UTC(2026, 0, 1) + n * 60_000) });
    this.counts.delivered++;
    this.trace?.(`imap: delivered ${messageId} as UID ${uid}`);
  }

  /**
   * A meeting invitation from the organizer to the account's user and one more attendee, with a UID of its
   * own: a single meeting, or every third one a weekly series. Its UID.
   */
  deliverInvitation(): string {
    const n = ++this.invitations;
    const uid = `meeting-${n}@example.net`;
    const messageId = `<invitation-${n}@example.net>`;
    const day = String(10 + (n % 18));
    const message = invitationMessage({
      uid,
      organizer: simOrganizer,
      attendees: [
        { name: 'Ann', address: simAttendee },
        { name: 'Ben', address: 'ben@example.net' },
      ],
      summary: `Meeting ${n}`,
      location: `Room ${n % 7}`,
      start: `202612${day}T100000`,
      end: `202612${day}T113000`,
      extra: n % 3 === 0 ? ['RRULE:FREQ=WEEKLY;COUNT=5'] : [],
      messageId,
    });
    const source = Buffer.from(message, 'utf8');
    const internalDate = new Date(Date.UTC(2026, 0, 1) + (this.delivered + n) * 60_000);
    const folderUid = this.add(this.folder('INBOX'), { messageId, flags: new Set(), source, internalDate, bodyStructure: alternativeStructure(source) });
    this.counts.invitations++;
    this.trace?.(`imap: delivered the invitation ${messageId} to ${uid} as UID ${folderUid}`);
    return uid;
  }

  restart(): void {
    this.epoch++;
    this.trace?.('imap: the server restarts');
  }

  private add(folder: SimFolder, m: Omit<SimMessage, 'uid' | 'modseq'>): number {
    const uid = folder.uidNext++;
    folder.messages.set(uid, { ...m, uid, modseq: this.nextModseq() });
    this.everHeld.add(m.messageId);
    return uid;
  }

  private rebuild(folder: SimFolder): void {
    this.lastUidValidity += 1n;
    folder.uidValidity = this.lastUidValidity;
    folder.uidNext = 1;
    const kept = [...folder.messages.values()];
    folder.messages.clear();
    folder.expunged = [];
    for (const m of kept) this.add(folder, m);
    this.counts.rebuilds++;
    this.trace?.(`imap: ${folder.path} is rebuilt, UIDVALIDITY ${folder.uidValidity}`);
  }

  private nextModseq(): bigint {
    return ++this.highestModseq;
  }

  private expunge(folder: SimFolder, uid: number): SimMessage | undefined {
    const m = folder.messages.get(uid);
    if (!m) return undefined;
    folder.messages.delete(uid);
    folder.expunged.push({ uid, modseq: this.nextModseq() });
    return m;
  }

  /** MOVE (RFC 6851): the message leaves `from` (VANISHED there) and is in `to` under a new UID, with its flags and INTERNALDATE. */
  private moveMessage(from: SimFolder, uid: number, to: SimFolder): number | undefined {
    const m = this.expunge(from, uid);
    if (!m) return undefined;
    this.counts.moves++;
    return this.add(to, m);
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

  state(path: string): { uidValidity: bigint; uidNext: number; exists: number; highestModseq: bigint } {
    const f = this.folder(path);
    return { uidValidity: f.uidValidity, uidNext: f.uidNext, exists: f.messages.size, highestModseq: this.highestModseq };
  }

  list(): Array<{ path: string; delimiter: string; flags: Set<string>; specialUse?: string }> {
    return [...this.folders.values()].map((f) => ({ path: f.path, delimiter: '/', flags: new Set<string>(), ...(f.specialUse ? { specialUse: f.specialUse } : {}) }));
  }

  /** Messages of a folder by UID set ("1:*", or UIDs joined by commas), or all for a sequence range, changed since `modseq` if given; and what vanished since. */
  select(path: string, range: string, byUid: boolean, changedSince: bigint | undefined): { found: SimMessage[]; vanished: number[] } {
    const folder = this.folder(path);
    let found = [...folder.messages.values()].sort((a, b) => a.uid - b.uid);
    if (range !== '1:*') {
      const wanted = new Set(range.split(',').map(Number));
      found = byUid ? found.filter((m) => wanted.has(m.uid)) : found.filter((_, i) => wanted.has(i + 1));
    }
    if (changedSince === undefined) return { found, vanished: [] };
    return { found: found.filter((m) => m.modseq > changedSince), vanished: byUid ? folder.expunged.filter((e) => e.modseq > changedSince).map((e) => e.uid) : [] };
  }

  setFlags(path: string, uid: number, flags: readonly string[], unchangedSince: bigint | undefined): void {
    const m = this.folder(path).messages.get(uid);
    if (!m || (unchangedSince !== undefined && m.modseq > unchangedSince)) return;
    m.flags = new Set(flags);
    m.modseq = this.nextModseq();
  }

  remove(path: string, uid: number): void {
    const m = this.expunge(this.folder(path), uid);
    if (m) this.expungedIds.add(m.messageId);
  }

  /** UID MOVE: COPYUID (when the server says it) for the message moved, none for a UID not there. */
  move(path: string, uid: number, to: string): { path: string; destination: string; uidValidity?: bigint; uidMap?: Map<number, number> } {
    const destination = this.folder(to);
    const moved = this.moveMessage(this.folder(path), uid, destination);
    if (moved === undefined || !this.uidPlus) return { path, destination: to };
    return { path, destination: to, uidValidity: destination.uidValidity, uidMap: new Map([[uid, moved]]) };
  }

  append(path: string, content: Buffer, flags: readonly string[]): { destination: string; uidValidity?: bigint; uid?: number } {
    const folder = this.folder(path);
    const messageId = /^Message-ID:\s*(<[^>\r\n]*>)/im.exec(content.toString('latin1'))?.[1] ?? `(none ${this.counts.appends})`;
    const uid = this.add(folder, { messageId, flags: new Set(flags), source: content, internalDate: new Date(Date.UTC(2026, 0, 2) + this.counts.appends * 60_000) });
    this.counts.appends++;
    this.appended.set(messageId, (this.appended.get(messageId) ?? 0) + 1);
    this.trace?.(`imap: appended ${messageId} to ${path} as UID ${uid}`);
    return this.uidPlus ? { destination: path, uidValidity: folder.uidValidity, uid } : { destination: path };
  }

  search(path: string, messageId: string): number[] {
    return [...this.folder(path).messages.values()].filter((m) => m.messageId === messageId).map((m) => m.uid);
  }

  /** The epoch a new client belongs to. */
  currentEpoch(): number {
    return this.epoch;
  }
}

/** The subset of imapflow's client the connector and the gateway use, on the simulated server. */
class SimImapClient {
  usable = false;
  epoch: number;
  /** The folder selected (SELECT, or a mailbox lock's). */
  private selected: string | undefined;
  readonly capabilities = new Map<string, boolean | number>([
    ['CONDSTORE', true],
    ['QRESYNC', true],
    ['MOVE', true],
    ['UIDPLUS', true],
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

  async list(): Promise<Array<{ path: string; delimiter: string; flags: Set<string>; specialUse?: string }>> {
    return this.server.command(this, 'LIST', () => this.server.list());
  }

  async mailboxOpen(path: string): Promise<Record<string, unknown>> {
    return this.server.command(this, `SELECT ${path}`, () => {
      const state = this.server.state(path);
      this.selected = path;
      return { path, delimiter: '/', flags: new Set(), permanentFlags: new Set(['\\Seen', '\\Flagged', '\\Answered', '\\Draft', '\\*']), ...state };
    });
  }

  async getMailboxLock(path: string): Promise<{ path: string; release(): void }> {
    await this.mailboxOpen(path);
    return { path, release: () => undefined };
  }

  /** The selected folder: a command on none is refused, as a server refuses it. */
  private box(): string {
    if (this.selected === undefined) throw Object.assign(new Error('No mailbox selected'), { responseText: 'No mailbox selected' });
    return this.selected;
  }

  async fetchAll(range: string, query: { source?: boolean | { maxLength?: number } }, options: { uid?: boolean; changedSince?: bigint | number } = {}): Promise<Array<Record<string, unknown>>> {
    const path = this.box();
    const changedSince = options.changedSince === undefined ? undefined : BigInt(options.changedSince);
    const { found, vanished } = this.server.command(this, `FETCH ${path} ${range}${changedSince === undefined ? '' : ` CHANGEDSINCE ${changedSince}`}`, () => this.server.select(path, range, options.uid === true, changedSince));
    for (const uid of vanished) await this.options.expungeHandler?.({ path, uid, vanished: true, earlier: true } as never);
    const max = typeof query.source === 'object' ? (query.source.maxLength ?? Infinity) : Infinity;
    return found.map((m, i) => ({
      seq: i + 1,
      uid: m.uid,
      modseq: m.modseq,
      flags: new Set(m.flags),
      size: m.source.length,
      internalDate: m.internalDate,
      bodyStructure: m.bodyStructure ?? { part: '1', type: 'text/plain', parameters: { charset: 'utf-8' }, encoding: '7bit', size: m.source.length },
      source: m.source.subarray(0, max),
    }));
  }

  async fetchOne(range: string, query: object, options: { uid?: boolean } = {}): Promise<Record<string, unknown> | false> {
    const [found] = await this.fetchAll(range, query, options);
    return found ?? false;
  }

  async messageFlagsSet(range: string, flags: string[], options: { uid?: boolean; unchangedSince?: bigint | number } = {}): Promise<boolean> {
    const path = this.box();
    this.server.command(this, `STORE ${path} ${range} FLAGS`, () => this.server.setFlags(path, Number(range), flags, options.unchangedSince === undefined ? undefined : BigInt(options.unchangedSince)));
    return true;
  }

  async messageDelete(range: string): Promise<boolean> {
    const path = this.box();
    this.server.command(this, `EXPUNGE ${path} ${range}`, () => this.server.remove(path, Number(range)));
    return true;
  }

  async messageMove(range: string, destination: string): Promise<{ path: string; destination: string; uidValidity?: bigint; uidMap?: Map<number, number> }> {
    const path = this.box();
    return this.server.command(this, `MOVE ${path} ${range} ${destination}`, () => this.server.move(path, Number(range), destination));
  }

  async append(path: string, content: Buffer | string, flags: string[] = []): Promise<{ destination: string; uidValidity?: bigint; uid?: number }> {
    return this.server.command(this, `APPEND ${path}`, () => this.server.append(path, Buffer.from(content), flags));
  }

  async search(query: { header?: Record<string, string> }): Promise<number[]> {
    const path = this.box();
    const messageId = query.header?.['message-id'];
    if (messageId === undefined) throw new Error('the simulated server searches by Message-ID alone');
    return this.server.command(this, `SEARCH ${path} HEADER Message-ID ${messageId}`, () => this.server.search(path, messageId));
  }
}

/**
 * The BODYSTRUCTURE of a multipart/alternative message with one boundary (an invitation: invitationMessage),
 * as imapflow gives Dovecot's: each part's type and parameters from its Content-Type, its
 * Content-Transfer-Encoding, and its body's size in bytes.
 */
function alternativeStructure(source: Buffer): BodyStructure {
  const text = source.toString('latin1');
  const boundary = /boundary="([^"]+)"/.exec(text)?.[1];
  if (!boundary) throw new Error('the simulated invitation has no boundary');
  const parts = text.split(`\r\n--${boundary}`).slice(1, -1);
  return {
    type: 'multipart/alternative',
    parameters: { boundary },
    childNodes: parts.map((raw, i) => {
      const [head = '', body = ''] = raw.replace(/^\r\n/, '').split('\r\n\r\n');
      const [type = 'text/plain', ...params] = (/^Content-Type:\s*(.*)$/im.exec(head)?.[1] ?? 'text/plain').split(';').map((s) => s.trim());
      const parameters = Object.fromEntries(params.map((p) => p.split('=') as [string, string]).map(([k, v]) => [k.toLowerCase(), v]));
      return { part: String(i + 1), type: type.toLowerCase(), parameters, encoding: /^Content-Transfer-Encoding:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase() ?? '7bit', size: Buffer.byteLength(body, 'latin1') };
    }),
  };
}
