import { createHash } from 'node:crypto';
import { limits } from '../../core/limits.js';
import { etagOf } from '../../content/etag.js';
import { checkItem } from '../../kinds/registry.js';
import type { CollectionKind } from '../../protocol/collections.js';
import { isDisplaced, readAgainAsked, type PointApplied, type PointMemory, type PointRecord, type PointReport, type ServerSyncPoint } from '../../protocol/server-point.js';
import type { ClientCommand, CollectionResponse } from '../../protocol/sync.js';
import { listChanges, type ChangeList, type KnownState, type MemberChange } from './changes.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';
import { fetchMembers, type FetchedMember } from './multiget.js';
import { memberUrl } from './names.js';
import { deleteMember, memberEtag, putMember } from './writes.js';
import type { Transport } from './transport.js';

/**
 * One upstream CardDAV/CalDAV collection as a server-driven sync point (docs/architecture.md §
 * Connectors): it reports what changed upstream since its cursor, and writes the hub's actions there.
 *
 * - **Reports** list changes with sync-collection from the stored token (or by etags), skip what the
 *   hub's records already hold at that etag (an echo of the point's own write; a member reported by an
 *   earlier, partial report of the same listing), read the rest with multiget, at most
 *   limits.upstreamReportItemsMax a report, and send each as an add (a member never seen, matched by UID
 *   in the hub: nothing is duplicated on a first run when both sides hold the same items) or a change
 *   made from the version the member held. The cursor moves only with the report that carries the last
 *   change of a listing: the later rounds of one run read what its listing had no room for, and a run
 *   that stops anywhere is listed again from where it started.
 * - **Actions** are written with `If-Match` the etag recorded (a new member with `If-None-Match: *`, at
 *   a name made of the item's id, so a create retried after a lost answer meets what it made). A 412 is
 *   a conflict: the member is marked unknown, read at the next report and reconciled by the hub's
 *   engine; meanwhile the point does not acknowledge, so the hub hands it the same actions again. A
 *   create is recorded before it is sent (`creating`), so the member it may have made is read back as
 *   the item's whatever becomes of its answer; when the hub writes to a member whose version is unknown
 *   or that is being created, and it is not there (the create never landed, or it was deleted), it is
 *   written afresh, or forgotten for a delete.
 * - A calendar that feeds two collections (events, and tasks) is two points; each takes the members of
 *   its kind and leaves the other's.
 */

export interface DavPointOptions {
  /** The upstream's device id, its name and protocol. */
  id: string;
  name: string;
  protocol: string;
  collectionId: string;
  /** What the collection holds. */
  kind: CollectionKind;
  transport: Transport;
  collectionUrl: string;
  type: 'addressbook' | 'calendar';
  /** Commands a report holds at most: limits.upstreamReportItemsMax, fewer in the simulator so a run takes many rounds. */
  reportItemsMax?: number;
}

const calendarKinds: readonly CollectionKind[] = ['events', 'tasks', 'notes'];

/** A member's client id in an add: its URL, or a hash of it when longer than a client id may be. */
function clientIdOf(href: string): string {
  return href.length <= 256 ? href : `sha256:${createHash('sha256').update(href, 'utf8').digest('hex')}`;
}

/** The cursor as stored: "sync <token>" after a sync-collection listing, "ctag <ctag>" (possibly empty) after an etag listing. */
function knownFrom(cursor: string | null): { state: KnownState; etagListing: boolean } {
  if (cursor?.startsWith('sync ')) return { state: { syncToken: cursor.slice(5) }, etagListing: false };
  if (cursor?.startsWith('ctag ')) return { state: cursor.length > 5 ? { ctag: cursor.slice(5) } : {}, etagListing: true };
  return { state: {}, etagListing: false };
}

function cursorOf(list: ChangeList): string | undefined {
  if (list.syncToken !== undefined) return `sync ${list.syncToken}`;
  return list.method === 'etag-listing' ? `ctag ${list.ctag ?? ''}` : undefined;
}

export class DavPoint implements ServerSyncPoint {
  readonly id: string;
  readonly name: string;
  readonly protocol: string;
  readonly collectionId: string;
  readonly #o: DavPointOptions;
  /**
   * What the last listing named that its report had no room for, and the cursor it ends at: the next
   * round of the same run, asked from the same cursor, reads those instead of listing every member again
   * (a first run of 10,000 members is 20 rounds; bench/README.md § bench:upstream). Changes made since
   * the listing are named by the next run's, from the cursor it stores.
   */
  #rest: { from: string | null; changed: MemberChange[]; cursor: string | undefined } | undefined;

  constructor(options: DavPointOptions) {
    this.#o = options;
    this.id = options.id;
    this.name = options.name;
    this.protocol = options.protocol;
    this.collectionId = options.collectionId;
  }

  async report(memory: PointMemory, cursor: string | null): Promise<PointReport> {
    const rest = this.#rest?.from === cursor ? this.#rest : undefined;
    this.#rest = undefined;
    const list: ChangeList = rest ? { method: 'sync-collection', initial: false, changed: rest.changed, removed: [] } : await this.#list(memory, cursor);
    const next = rest ? rest.cursor : cursorOf(list);
    const report: PointReport = { commands: [], remotes: [], known: [], problems: [], more: false };
    const byRemote = new Map((await memory.byRemote([...list.changed.map((c) => c.href), ...list.removed])).map((r) => [r.remoteId, r]));
    const mine = (r: (PointRecord & { collectionId: string }) | undefined) => (r !== undefined && r.collectionId === this.collectionId ? r : undefined);
    // Deleted upstream: named removed, or, in a listing of every member, not named at all.
    const removed = new Set(list.removed);
    if (list.initial) {
      const named = new Set(list.changed.map((c) => c.href));
      // Not a create that may never have landed: it is looked for when it is written again (apply).
      for (const r of await memory.all(limits.upstreamMembersMax)) if (!named.has(r.remoteId) && r.remoteEtag !== creating) removed.add(r.remoteId);
      for (const r of await memory.byRemote([...removed])) byRemote.set(r.remoteId, r);
    }
    for (const href of removed) {
      const record = mine(byRemote.get(href));
      if (!record) continue;
      report.commands.push({ op: 'delete', serverId: record.serverId, etag: record.heldEtag });
      report.remotes.push({ remoteId: href, remoteEtag: null });
    }
    // Changed upstream, unless the hub's record holds that very etag; and what the last run could not know.
    const wanted = new Map<string, PointRecord | undefined>();
    for (const change of list.changed) {
      const record = byRemote.get(change.href);
      if (record !== undefined && record.collectionId !== this.collectionId) continue;
      if (record !== undefined && change.etag !== undefined && record.remoteEtag === change.etag) continue;
      wanted.set(change.href, record);
    }
    for (const record of await memory.stale(this.#o.reportItemsMax ?? limits.upstreamReportItemsMax)) if (!removed.has(record.remoteId)) wanted.set(record.remoteId, record);

    const hrefs = [...wanted.keys()];
    const take = hrefs.slice(0, this.#o.reportItemsMax ?? limits.upstreamReportItemsMax);
    report.more = take.length < hrefs.length;
    if (report.more) {
      const left = new Set(hrefs.slice(take.length));
      this.#rest = { from: cursor, changed: list.changed.filter((c) => left.has(c.href)), cursor: next };
    }
    for await (const batch of fetchMembers(this.#o.transport, this.#o.collectionUrl, this.#o.type, take)) {
      for (const member of batch.members) this.#reportMember(report, member, wanted.get(member.href));
      for (const href of batch.tooLarge) report.problems.push({ remoteId: href, message: `larger than ${limits.upstreamResponseBytesMax} bytes; not synced` });
      // Gone since it was listed (or since its record went unknown): deleted there, if the hub holds it.
      for (const href of batch.missing) {
        const record = wanted.get(href);
        if (record === undefined) continue;
        report.commands.push({ op: 'delete', serverId: record.serverId, etag: record.heldEtag });
        report.remotes.push({ remoteId: href, remoteEtag: null });
      }
    }
    if (!report.more && next !== undefined) report.cursor = next;
    return report;
  }

  /** What changed upstream since `cursor`, or every member without one. */
  async #list(memory: PointMemory, cursor: string | null): Promise<ChangeList> {
    const known = knownFrom(cursor);
    if (known.etagListing) {
      // The etags of every member it holds: a listing by etags names only the members whose etag differs.
      const records = await memory.all(limits.upstreamMembersMax);
      known.state.etags = new Map(records.flatMap((r) => (r.remoteEtag === null || r.remoteEtag === creating ? [] : [[r.remoteId, r.remoteEtag] as const])));
    }
    return listChanges(this.#o.transport, this.#o.collectionUrl, known.state, known.etagListing ? { method: 'etag-listing' } : {});
  }

  /** One member read: an add, a change, or a copy the hub holds already. */
  #reportMember(report: PointReport, member: FetchedMember, record: PointRecord | undefined): void {
    const remote = { remoteId: member.href, remoteEtag: member.etag ?? null };
    if (this.#o.type === 'calendar') {
      const check = checkItem(calendarKinds, member.data);
      // A member of another kind is the other collection's (or none's); one that cannot be read is reported, once.
      if (check.ok && check.kind !== this.#o.kind) return;
      if (!check.ok && this.#o.kind !== 'events') return;
    }
    const dataEtag = etagOf(member.data);
    if (record !== undefined && record.heldEtag === dataEtag) {
      report.known.push({ ...record, remoteEtag: remote.remoteEtag });
      return;
    }
    // A displaced member edited there since it was displaced: its edit is matched by UID again, as an add.
    const command: ClientCommand =
      record === undefined || isDisplaced(record)
        ? { op: 'add', clientId: clientIdOf(member.href), data: member.data }
        : { op: 'change', serverId: record.serverId, data: member.data, etag: record.heldEtag };
    report.commands.push(command);
    report.remotes.push(remote);
  }

  async apply(outcome: CollectionResponse, memory: PointMemory): Promise<PointApplied> {
    const applied: PointApplied = { acknowledged: true, records: [], forgotten: [], refused: [] };
    if (readAgainAsked(outcome)) this.#rest = undefined;
    const records = new Map((await memory.byServer(outcome.commands.map((c) => c.serverId))).map((r) => [r.serverId, r]));
    try {
      for (const action of outcome.commands) {
        const record = records.get(action.serverId);
        if (action.op === 'delete') await this.#delete(applied, record);
        else await this.#write(applied, memory, action.serverId, action.data, action.etag, record);
      }
    } catch (err) {
      applied.acknowledged = false;
      applied.failure = err;
    }
    return applied;
  }

  async #write(applied: PointApplied, memory: PointMemory, serverId: string, data: string, etag: string, record: PointRecord | undefined): Promise<void> {
    // Held there already (a first run's twin, a replayed action that was written).
    if (record !== undefined && record.remoteEtag !== null && record.remoteEtag !== creating && record.heldEtag === etag) return;
    // Its version upstream is unknown: read at the next report first, never overwritten blind; unless it is not there.
    const unknown = record !== undefined && (record.remoteEtag === null || record.remoteEtag === creating);
    if (unknown && !(await this.#gone(applied, record))) return;
    const href = record?.remoteId ?? memberUrl(this.#o.collectionUrl, serverId, this.#o.type);
    // A create may land whatever happens next (its answer lost, the server stopped before the apply's
    // records are stored): the member it makes is this item's, its version unknown until read, not a
    // new one to read back as an add (sim seeds 11100414 and 11100520 with --upstreams 1).
    if (record === undefined || unknown) await memory.remember([{ serverId, remoteId: href, remoteEtag: creating, heldEtag: etag }]);
    try {
      const put = await putMember(this.#o.transport, href, data, this.#o.type, record && !unknown ? { etag: record.remoteEtag as string } : 'create');
      if (put.outcome === 'written') applied.records.push({ serverId, remoteId: href, remoteEtag: put.etag, heldEtag: etag });
      else {
        applied.records.push({ serverId, remoteId: href, remoteEtag: null, heldEtag: record?.heldEtag ?? etag });
        applied.acknowledged = false;
      }
    } catch (err) {
      if (!refusedForGood(err)) throw err;
      applied.refused.push({ serverId, message: (err as Error).message });
      if (record === undefined || unknown) applied.forgotten.push(href);
    }
  }

  /** A record whose version upstream is unknown: whether its member is gone (a create that never landed, or deleted since); if it is there, the point does not acknowledge. */
  async #gone(applied: PointApplied, record: PointRecord): Promise<boolean> {
    if ((await memberEtag(this.#o.transport, record.remoteId)) === undefined) return true;
    applied.acknowledged = false;
    return false;
  }

  async #delete(applied: PointApplied, record: PointRecord | undefined): Promise<void> {
    if (record === undefined) return;
    if (record.remoteEtag === null || record.remoteEtag === creating) {
      if (await this.#gone(applied, record)) applied.forgotten.push(record.remoteId);
      return;
    }
    const deleted = await deleteMember(this.#o.transport, record.remoteId, record.remoteEtag);
    if (deleted.outcome === 'conflict') {
      applied.records.push({ ...record, remoteEtag: null });
      applied.acknowledged = false;
    } else applied.forgotten.push(record.remoteId);
  }
}

/**
 * The remote etag of a record made before a create is sent (sim seeds 11100414 and 11100520 with
 * --upstreams 1): not known to have landed, so neither read as stale nor taken for deleted when it is
 * missing; if it landed, the next listing names it and it is read back as the item's version.
 */
const creating = '';

/** A write the upstream refuses for what it is (403, 415, a precondition of RFC 4791 §5.3.2), not for now: retrying will not help. */
function refusedForGood(err: unknown): boolean {
  return err instanceof UpstreamError && err.reason === 'protocol' && err.details.status !== undefined && err.details.status >= 400 && err.details.status < 500;
}
