import type { FetchMessageObject, MailboxObject } from 'imapflow';
import { limits } from '../../core/limits.js';
import { etagOf } from '../../content/etag.js';
import { parseMailItem } from '../../content/mail/item.js';
import { invitationPartOf, mailItemOf, type MessageFacts } from '../../content/mail/message-item.js';
import { readAgainAsked, type PointApplied, type PointMemory, type PointRecord, type PointReport, type ServerSyncPoint } from '../../protocol/server-point.js';
import type { CollectionResponse } from '../../protocol/sync.js';
import { remoteIdOf, uidIn } from './remote-ids.js';
import { rowsAsked, type ImapClient, type ImapSession } from './session.js';

/**
 * One IMAP folder as a server-driven sync point (docs/design.md § Mail): the folder's messages are
 * items of kind `mail` (docs/protocol.md §10.5), their metadata and the first portion of their text; the
 * IMAP server keeps the only copy of their content.
 *
 * - **Remote ids** are `UIDVALIDITY/UID/FOLDER` (remote-ids.ts); a record's remote etag is the message's MODSEQ. The cursor is
 *   `2 UIDVALIDITY HIGHESTMODSEQ` (cursorOf), stored in the transaction that applies the report that reached it.
 * - **Reports** ask only what changed since the cursor's modseq (UID FETCH … (CHANGEDSINCE n VANISHED),
 *   RFC 7162), never every message again: a message at the modseq its record holds is an echo of the
 *   point's own write; one that changed is read (its first bytes and its structure, and an invitation's
 *   text/calendar part that lies past those bytes: #invitationParts) and sent as an add
 *   or a change; a vanished one as a delete. With no cursor, or when UIDVALIDITY changed, the folder is
 *   listed whole (UID and MODSEQ only), and the items of the old UIDVALIDITY are deleted: the folder is
 *   reset for every device, its messages added again, nothing duplicated. At most
 *   limits.upstreamReportItemsMax commands a report (`reportItemsMax`); the rounds of one run share the listing.
 * - **Actions**: a change sets the message's flags (STORE FLAGS … UNCHANGEDSINCE its modseq), then reads
 *   them back: a message changed there since its record is a conflict, read again at the next report
 *   and merged by the engine (flags merge, never conflict: docs/protocol.md §10.5). A delete expunges the
 *   message (UID EXPUNGE, RFC 4315). A message a record of another UIDVALIDITY names is no longer
 *   addressable: never acted on, its record kept until the whole listing deletes its item.
 */

export interface ImapPointOptions {
  id: string;
  name: string;
  protocol: string;
  collectionId: string;
  session: ImapSession;
  /** The folder's path on the server. */
  path: string;
  /** Commands a report holds at most: limits.upstreamReportItemsMax, fewer in the simulator so a run takes many rounds. */
  reportItemsMax?: number;
}

type Work = { op: 'delete'; record: PointRecord } | { op: 'read'; uid: number; record: PointRecord | undefined };

/**
 * The cursor: `2 UIDVALIDITY HIGHESTMODSEQ`. The leading 2 is the form of the remote ids its records hold
 * (remote-ids.ts, which added the folder): a cursor without it is of records named the older way, which
 * no listing would match, so the folder is listed whole once, each old record's item deleted and each
 * message added again, nothing duplicated.
 */
const cursorOf = (uidValidity: string, modseq: bigint) => `2 ${uidValidity} ${modseq}`;

function cursorParts(cursor: string | null): { uidValidity: string; modseq: bigint } | undefined {
  const m = cursor === null ? null : /^2 (\d+) (\d+)$/.exec(cursor);
  return m ? { uidValidity: m[1] as string, modseq: BigInt(m[2] as string) } : undefined;
}

export class ImapPoint implements ServerSyncPoint {
  readonly id: string;
  readonly name: string;
  readonly protocol: string;
  readonly collectionId: string;
  readonly #o: ImapPointOptions;
  /**
   * What the last listing found that its report had no room for, and the cursor it ends at (as
   * connectors/dav/point.ts keeps), for the next report from the same cursor and UIDVALIDITY; with the
   * reads of that report, asked for ahead.
   */
  #rest: { from: string | null; uidValidity: string; work: Work[]; cursor: string; reading?: Promise<FetchMessageObject[]> | undefined } | undefined;

  get #reportItemsMax(): number {
    return this.#o.reportItemsMax ?? limits.upstreamReportItemsMax;
  }

  constructor(options: ImapPointOptions) {
    this.#o = options;
    this.id = options.id;
    this.name = options.name;
    this.protocol = options.protocol;
    this.collectionId = options.collectionId;
  }

  async report(memory: PointMemory, cursor: string | null): Promise<PointReport> {
    const box = await this.#o.session.open(this.#o.path);
    const uidValidity = String(box.uidValidity);
    const rest = this.#rest?.from === cursor && this.#rest.uidValidity === uidValidity ? this.#rest : undefined;
    this.#rest = undefined;
    const listed = rest ?? { from: cursor, uidValidity, ...(await this.#list(memory, box, cursorParts(cursor))) };
    const take = listed.work.slice(0, this.#reportItemsMax);
    const report: PointReport = { commands: [], remotes: [], known: [], problems: [], more: take.length < listed.work.length };
    const next = report.more ? { from: cursor, uidValidity, work: listed.work.slice(take.length), cursor: listed.cursor } : undefined;
    if (!next) report.cursor = listed.cursor;

    const reads = new Map<number, PointRecord | undefined>();
    for (const w of take) {
      if (w.op === 'delete') {
        report.commands.push({ op: 'delete', serverId: w.record.serverId, etag: w.record.heldEtag });
        report.remotes.push({ remoteId: w.record.remoteId, remoteEtag: null });
      } else reads.set(w.uid, w.record);
    }
    const client = await this.#o.session.client();
    // Read ahead by the last report, unless that failed (its connection lost, say): then read now.
    const ahead = listed.reading && (await listed.reading.catch(() => undefined));
    const messages = reads.size === 0 ? [] : (ahead ?? (await this.#read(client, [...reads.keys()])));
    // The next report's messages are asked for now, on this connection, so the server reads them while
    // this report's items are built and stored (apply drops them if it writes to the folder first).
    if (next) this.#rest = { ...next, reading: this.#readAhead(client, next.work) };
    const found = new Set<number>();
    const rows = [...rowsAsked(messages, new Set(reads.keys()), (m) => m.source !== undefined && m.bodyStructure !== undefined).values()];
    const invitations = await this.#invitationParts(client, rows);
    for (const message of rows) {
      found.add(message.uid);
      this.#reportMessage(report, uidValidity, message, reads.get(message.uid), invitations.get(message.uid));
    }
    // Expunged since it was listed: deleted there, if the hub holds it.
    for (const [uid, record] of reads) {
      if (found.has(uid) || record === undefined) continue;
      report.commands.push({ op: 'delete', serverId: record.serverId, etag: record.heldEtag });
      report.remotes.push({ remoteId: record.remoteId, remoteEtag: null });
    }
    return report;
  }

  /** What a report reads of its messages: their first bytes, structure and state. */
  #read(client: ImapClient, uids: readonly number[]): Promise<FetchMessageObject[]> {
    return this.#o.session.asking(() =>
      client.fetchAll(uids.join(','), { uid: true, flags: true, size: true, internalDate: true, bodyStructure: true, source: { maxLength: limits.upstreamMailSourceBytes } }, { uid: true }),
    );
  }

  /**
   * The invitation parts (content/mail/message-item.ts invitationPartOf) of messages whose source was read
   * only in part, fetched apart by UID, one FETCH per part section: an invitation often comes after an HTML
   * version longer than the source a report reads (limits.upstreamMailSourceBytes), and such messages are few.
   */
  async #invitationParts(client: ImapClient, rows: readonly FetchMessageObject[]): Promise<Map<number, NonNullable<MessageFacts['invitationPart']>>> {
    const bySection = new Map<string, number[]>();
    for (const m of rows) {
      if (!m.bodyStructure || (m.source?.length ?? 0) >= (m.size ?? 0)) continue;
      const found = invitationPartOf(m.bodyStructure);
      if (found) bySection.set(found.part, [...(bySection.get(found.part) ?? []), m.uid]);
    }
    const out = new Map<number, NonNullable<MessageFacts['invitationPart']>>();
    for (const [section, uids] of bySection) {
      const fetched = await this.#o.session.asking(() => client.fetchAll(uids.join(','), { uid: true, bodyParts: [section] }, { uid: true }));
      for (const m of rowsAsked(fetched, new Set(uids), (r) => r.bodyParts?.has(section) === true).values()) {
        const bytes = m.bodyParts?.get(section);
        if (bytes) out.set(m.uid, { bytes, decoded: m.binaryParts?.has(section) === true });
      }
    }
    return out;
  }

  /** The reads of the report that takes the first of `work`, started now; a failure is the next report's, and no one's if it never comes. */
  #readAhead(client: ImapClient, work: readonly Work[]): Promise<FetchMessageObject[]> | undefined {
    const uids = work.slice(0, this.#reportItemsMax).flatMap((w) => (w.op === 'read' ? [w.uid] : []));
    if (uids.length === 0) return undefined;
    const reading = this.#read(client, uids);
    reading.catch(() => {});
    return reading;
  }

  /** What changed in the folder since `known` (or all of it, with none or another UIDVALIDITY), as work for reports, and the cursor once it is done. */
  async #list(memory: PointMemory, box: MailboxObject, known: { uidValidity: string; modseq: bigint } | undefined): Promise<{ work: Work[]; cursor: string }> {
    const uidValidity = String(box.uidValidity);
    const cursor = cursorOf(uidValidity, box.highestModseq as bigint);
    const client = await this.#o.session.client();
    const work: Work[] = [];
    if (box.exists > limits.upstreamMembersMax) throw new Error(`folder ${this.#o.path} holds ${box.exists} messages, more than the ${limits.upstreamMembersMax} an upstream folder may`);
    // An empty folder is listed whole, which takes no command: every record is then of a message gone
    // (a FETCH 1:* of an empty folder names nothing, VANISHED included; sim --mail seed 128).
    const whole = known === undefined || known.uidValidity !== uidValidity || box.exists === 0;
    const { result: changed, vanished } = await this.#o.session.watchingVanished(async () => {
      if (box.exists === 0) return [];
      return whole ? client.fetchAll('1:*', { uid: true }, {}) : client.fetchAll('1:*', { uid: true }, { uid: true, changedSince: known.modseq });
    });
    const records = new Map((await memory.byRemote(changed.map((m) => remoteIdOf(this.#o.path, uidValidity, m.uid)))).map((r) => [r.remoteId, r]));
    if (whole) {
      // Every record the listing does not name is gone: expunged, or of an old UIDVALIDITY.
      const named = new Set(changed.map((m) => remoteIdOf(this.#o.path, uidValidity, m.uid)));
      for (const r of await memory.all(limits.upstreamMembersMax)) if (!named.has(r.remoteId)) work.push({ op: 'delete', record: r });
    } else {
      for (const r of await memory.byRemote(vanished.map((uid) => remoteIdOf(this.#o.path, uidValidity, uid)))) if (r.collectionId === this.collectionId) work.push({ op: 'delete', record: r });
    }
    for (const m of changed) {
      const record = records.get(remoteIdOf(this.#o.path, uidValidity, m.uid));
      if (record !== undefined && record.collectionId !== this.collectionId) continue;
      if (record !== undefined && m.modseq !== undefined && record.remoteEtag === String(m.modseq)) continue;
      work.push({ op: 'read', uid: m.uid, record });
    }
    // What the last run could not know (a flag write met a change there, a move's new UID): read again.
    const reading = new Set(work.flatMap((w) => (w.op === 'read' ? [w.uid] : [])));
    for (const r of await memory.stale(this.#reportItemsMax)) {
      const uid = uidIn(r.remoteId, this.#o.path, uidValidity);
      if (uid !== undefined && !reading.has(uid)) work.push({ op: 'read', uid, record: r });
    }
    return { work, cursor };
  }

  /** One message read: an add, a change of the version its record holds, or what the hub holds already. */
  #reportMessage(report: PointReport, uidValidity: string, message: FetchMessageObject, record: PointRecord | undefined, invitationPart: MessageFacts['invitationPart']): void {
    const remote = { remoteId: remoteIdOf(this.#o.path, uidValidity, message.uid), remoteEtag: message.modseq === undefined ? null : String(message.modseq) };
    let data: string;
    try {
      data = mailItemOf({
        source: message.source ?? Buffer.alloc(0),
        bodyStructure: message.bodyStructure ?? { type: 'text/plain' },
        flags: message.flags ?? [],
        size: message.size ?? 0,
        internalDate: new Date(message.internalDate ?? 0),
        invitationPart,
      });
    } catch (err) {
      report.problems.push({ remoteId: remote.remoteId, message: (err as Error).message });
      return;
    }
    if (record !== undefined && record.heldEtag === etagOf(data)) {
      report.known.push({ ...record, remoteEtag: remote.remoteEtag });
      return;
    }
    report.commands.push(record === undefined ? { op: 'add', clientId: remote.remoteId, data } : { op: 'change', serverId: record.serverId, data, etag: record.heldEtag });
    report.remotes.push(remote);
  }

  async apply(outcome: CollectionResponse, memory: PointMemory): Promise<PointApplied> {
    const applied: PointApplied = { acknowledged: true, records: [], forgotten: [], refused: [] };
    if (readAgainAsked(outcome)) this.#rest = undefined;
    if (outcome.commands.length === 0) return applied;
    // What was read ahead may be what these actions change: the next report reads it again.
    if (this.#rest) this.#rest.reading = undefined;
    try {
      const box = await this.#o.session.open(this.#o.path);
      const uidValidity = String(box.uidValidity);
      const records = new Map((await memory.byServer(outcome.commands.map((c) => c.serverId))).map((r) => [r.serverId, r]));
      for (const action of outcome.commands) {
        const record = records.get(action.serverId);
        const uid = record && uidIn(record.remoteId, this.#o.path, uidValidity);
        // A message of another UIDVALIDITY is no longer addressable: nothing is done to it, and its record
        // is kept for the whole listing that a new UIDVALIDITY brings, whose delete of the item is what
        // drops it. Forgotten here, a run that ends before that delete would leave the item in the hub
        // beside the message read again under its new UID (sim --mail seed 1855).
        if (record !== undefined && uid === undefined) continue;
        if (action.op === 'delete') {
          if (record !== undefined && uid !== undefined) await this.#expunge(applied, record, uid);
        } else if (record === undefined || uid === undefined) {
          applied.refused.push({ serverId: action.serverId, message: 'a message reaches an IMAP folder by mail, not as an item written to it' });
        } else {
          const item = parseMailItem(action.data);
          if (typeof item === 'string') applied.refused.push({ serverId: action.serverId, message: item });
          else await this.#setFlags(applied, box, record, uid, item.flags, action.etag);
        }
      }
    } catch (err) {
      applied.acknowledged = false;
      applied.failure = err;
    }
    return applied;
  }

  async #expunge(applied: PointApplied, record: PointRecord, uid: number): Promise<void> {
    const client = await this.#o.session.client();
    await client.messageDelete(String(uid), { uid: true });
    applied.forgotten.push(record.remoteId);
  }

  /** Sets the message's flags unless it changed there since its record (UNCHANGEDSINCE), and reads back what it holds. */
  async #setFlags(applied: PointApplied, box: MailboxObject, record: PointRecord, uid: number, wanted: readonly string[], etag: string): Promise<void> {
    const client = await this.#o.session.client();
    const storable = wanted.filter((f) => canStore(box, f));
    const conflict = () => {
      applied.records.push({ ...record, remoteEtag: null });
      applied.acknowledged = false;
    };
    // Its version there unknown (a write that met a change): read at the next report first, never overwritten blind.
    if (record.remoteEtag === null) return conflict();
    await client.messageFlagsSet(String(uid), storable, { uid: true, unchangedSince: BigInt(record.remoteEtag) });
    const after = await client.fetchOne(String(uid), { uid: true, flags: true }, { uid: true });
    if (!after) {
      // Expunged there meanwhile: the next report's VANISHED says so.
      return;
    }
    const held = [...(after.flags ?? [])].filter((f) => f !== '\\Recent');
    if (sameSet(held, storable)) applied.records.push({ serverId: record.serverId, remoteId: record.remoteId, remoteEtag: after.modseq === undefined ? null : String(after.modseq), heldEtag: etag });
    else conflict();
  }
}

/** Whether the folder keeps this flag (PERMANENTFLAGS; `\*` lets any keyword be made). */
function canStore(box: MailboxObject, flag: string): boolean {
  const permanent = box.permanentFlags;
  if (permanent === undefined) return true;
  return permanent.has(flag) || (!flag.startsWith('\\') && permanent.has('\\*'));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a.map((f) => f.toLowerCase()));
  const right = new Set(b.map((f) => f.toLowerCase()));
  return left.size === right.size && [...left].every((f) => right.has(f));
}
