import { ns } from '../src/protocol/dav-xml.js';
import { escapeText, parseXml, type XmlElement } from '../src/protocol/xml.js';
import { openMemoryReplica } from '../src/sdk/memory-replica.js';
import { newLocalItem, type LocalItem, type Replica } from '../src/sdk/replica.js';
import { RetryableError } from '../src/sdk/transport.js';
import type { Causality } from './causality.js';
import type { DeviceEnd } from './checkers.js';
import type { DavReply, DavRequest, SimDavServer } from './dav-server.js';
import type { Ack, History } from './history.js';
import type { SimNetwork } from './network.js';
import type { ServerWrite } from './server.js';
import type { Trace } from './trace.js';
import { describeVersion, editable, property, simIdOf, type Kind, type UserDevice } from './workload.js';

/**
 * Scripted CardDAV/CalDAV clients, beside the SDK devices: they speak HTTP to the real DAV face
 * (dav-server.ts) across the same faulty network, and sync the address book, the calendar and the task
 * list. Their users act through the same workload as the SDK devices' users (workload.ts): a DAV device
 * keeps its items in a memory replica, its server id being the resource's name, so the workload's adds,
 * edits and deletes, and the causal model, apply to it unchanged.
 *
 * Two kinds:
 *   - `poll`, as vdirsyncer and Evolution poll: PROPFIND Depth:0 getctag (nothing more when it has not
 *     changed and nothing is pending), PROPFIND Depth:1 getetag, calendar-multiget or
 *     addressbook-multiget of what changed, then PUT with If-Match (If-None-Match: * for a new
 *     resource) and DELETE with If-Match. On a 412 it re-reads the resource and applies the user's
 *     change again on what it finds (the properties the user changed, unless the server changed them
 *     too), as a user resolving the conflict does.
 *   - `sync`, as DAVx5 syncs: uploads first, then the sync-token (PROPFIND Depth:0), REPORT
 *     sync-collection with a small DAV:limit, following each 507 page to the end, and a multiget of
 *     what changed. On a 412 it re-reads the resource and the server's version wins.
 * A new resource already there under another name (409 no-uid-conflict, the user typed a record in
 * again) is found by its UID with calendar-query or addressbook-query, and the user's change goes
 * onto it as on a 412.
 *
 * Lost answers. A request whose answer is lost is sent again as it was, up to `attemptsMax` times. A
 * PUT or DELETE that got no answer at all leaves the device not knowing whether it applied: it marks
 * the item `uncertain`, and the next sync re-reads it (its etag in the listing, or its href): the
 * server holding exactly the device's version, or the one that upload carried when its user has edited
 * since, means it applied. An uncertain item the server no
 * longer has is let go (it may have been applied and then deleted by someone who saw it; sending it
 * again would bring back what they deleted); the `sync` device, whose sync-collection since a token
 * older than the write tells a write that never arrived from one deleted since, sends it again when
 * the changes do not name it. A delayed copy of a create (If-None-Match: *) is not delivered: no HTTP
 * server can tell it from a new create after a delete, so it would test the network, not the server.
 *
 * Acknowledgements (history.ts): a 2xx PUT or DELETE the device received acknowledges the version the
 * request committed (found in the server's log by its etag); so does a re-read that shows the server
 * holding exactly the device's pending version. DAV keeps no conflict records: a change that loses
 * was never acknowledged.
 */

export type DavClientKind = 'poll' | 'sync';

export interface DavCollection {
  id: string;
  kind: Kind;
  /** Its name in the DAV home. */
  name: string;
}

export interface DavDeviceOptions {
  kind: DavClientKind;
  /** The app password's id: the device is the sync point dav-<tokenId>. */
  tokenId: string;
  accountName: string;
  collections: readonly DavCollection[];
  attemptsMax: number;
  /** Hrefs per multiget. */
  multigetMax: number;
  /** The DAV:limit of a sync-collection (`sync`). */
  pageMax: number;
}

/** The device failed in a way no retry fixes (a status it cannot act on). */
export class DavDeviceError extends Error {}

/** What a local item's `appState` holds: the server version its edits were made from, and whether its last upload got no answer. */
interface ItemState {
  base: string | null;
  uncertain: boolean;
  /** What that upload carried. */
  uploaded?: string | null;
}

/** Uploads of one item in one sync (each 412 or 409 re-reads and tries again). */
const uploadRoundsMax = 3;
/** Pages one sync-collection may take before the device is taken to be looping. */
const pagesMax = 500;

const xmlType = { 'content-type': 'application/xml; charset=utf-8' };
const unquote = (etag: string | undefined) => (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
const extensionOf = (kind: Kind) => (kind === 'contacts' ? '.vcf' : '.ics');

export class DavDevice implements UserDevice {
  readonly id: string;
  readonly replica: Replica = openMemoryReplica();
  offlineUntil = 0;
  readonly counts = { syncs: 0, requests: 0, gaveUp: 0, conflicts: 0, pages: 0, tokenResets: 0 };
  private locals = 0;
  /** `poll`: the getctag of each collection at its last complete sync. */
  private readonly ctags = new Map<string, string>();
  /** `sync`: the sync-token of each collection ('' before the first sync). */
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly options: DavDeviceOptions,
    private readonly face: SimDavServer,
    private readonly network: SimNetwork,
    private readonly history: History,
    private readonly causality: Causality,
    private readonly advanceClock: (ms: number) => void,
    private readonly trace: Trace | undefined,
  ) {
    this.id = `dav-${options.tokenId}`;
  }

  get kind(): DavClientKind {
    return this.options.kind;
  }

  newLocalId(): string {
    return `${this.id}-${this.locals++}`;
  }

  hasPending(): boolean {
    return this.replica.transaction((tx) => this.options.collections.some((c) => tx.all(c.id).some((i) => i.pending !== null)));
  }

  /** What the checkers read: every item, its resource name turned into the server's item id (`davNames`: server.ts readDavNames). */
  end(davNames: ReadonlyMap<string, string>): DeviceEnd {
    const itemIdOf = (c: DavCollection, name: string) => {
      const ext = extensionOf(c.kind);
      return davNames.get(`${c.id}/${name}`) ?? (name.endsWith(ext) ? name.slice(0, -ext.length) : name);
    };
    const items = this.replica.transaction((tx) =>
      this.options.collections.flatMap((c) => tx.all(c.id).map((i) => ({ ...i, serverId: i.serverId === null ? null : itemIdOf(c, i.serverId) }))),
    );
    return { id: this.id, items, syncKeys: new Map() };
  }

  /** Every collection, one after another; a collection whose requests keep failing waits for the next sync. */
  async sync(): Promise<void> {
    this.counts.syncs++;
    this.trace?.(`${this.id} syncs (${this.kind === 'poll' ? 'getctag, PROPFIND, multiget' : 'sync-collection'})`);
    for (const c of this.options.collections) {
      const done = this.kind === 'poll' ? await this.poll(c) : await this.syncCollection(c);
      if (!done) {
        this.counts.gaveUp++;
        this.trace?.(`${this.id} gives up on ${c.name} until later`);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // The two ways of finding out what changed

  /** vdirsyncer, Evolution: getctag, the etags of every member, a multiget of the changed ones, then uploads. */
  private async poll(c: DavCollection): Promise<boolean> {
    const head = await this.propfind(c, '0', [{ ns: ns.cs, name: 'getctag' }]);
    if (!head) return false;
    const ctag = head.responses.find((r) => r.href.endsWith('/'))?.props.get(`${ns.cs} getctag`);
    if (ctag === undefined) throw new DavDeviceError(`${this.id}: PROPFIND of ${c.name} brought no getctag`);
    if (ctag === this.ctags.get(c.id) && !this.pendingIn(c)) return true;
    const listing = await this.propfind(c, '1', [{ ns: ns.dav, name: 'getetag' }]);
    if (!listing) return false;
    if (listing.responses.some((r) => r.status === 507)) throw new DavDeviceError(`${this.id}: the listing of ${c.name} was cut short`);
    const listed = new Map<string, string>();
    for (const r of listing.responses) {
      const etag = r.props.get(`${ns.dav} getetag`);
      if (!r.href.endsWith('/') && etag !== undefined) listed.set(nameOf(r.href), unquote(etag));
    }
    if (!(await this.fetch(c, [...listed].filter(([name, etag]) => this.local(c, name)?.etag !== etag).map(([name]) => name)))) return false;
    const known = this.replica.transaction((tx) => tx.all(c.id).flatMap((i) => (i.serverId === null ? [] : [i.serverId])));
    for (const name of known) if (!listed.has(name)) this.gone(c, name);
    if (!(await this.uploadAll(c, false))) return false;
    this.ctags.set(c.id, ctag);
    return true;
  }

  /**
   * DAVx5: uploads (but not those whose last upload got no answer), the sync-token, sync-collection
   * pages of at most `pageMax` members from the stored token to the end, a multiget of the changed
   * members, then the uploads still to do. An expired token starts the collection over from scratch.
   */
  private async syncCollection(c: DavCollection): Promise<boolean> {
    if (!(await this.uploadAll(c, true))) return false;
    const head = await this.propfind(c, '0', [
      { ns: ns.cs, name: 'getctag' },
      { ns: ns.dav, name: 'sync-token' },
    ]);
    if (!head) return false;
    const current = head.responses.find((r) => r.href.endsWith('/'))?.props.get(`${ns.dav} sync-token`);
    if (current === undefined) throw new DavDeviceError(`${this.id}: PROPFIND of ${c.name} brought no sync-token`);
    let token = this.tokens.get(c.id) ?? '';
    // name -> etag, or null for a member deleted since the token
    const changes = new Map<string, string | null>();
    if (token !== current || token === '') {
      for (let page = 0; ; page++) {
        if (page >= pagesMax) throw new DavDeviceError(`${this.id}: sync-collection of ${c.name} had not ended after ${pagesMax} pages`);
        const reply = await this.http(
          { method: 'REPORT', path: this.collectionPath(c), headers: { ...xmlType, depth: '0' }, body: syncCollectionBody(token, this.options.pageMax) },
          `sync-collection ${c.name} from ${token === '' ? 'scratch' : token.slice(token.lastIndexOf(':', token.length - 1) + 1)}`,
        );
        if (!reply) return false;
        this.counts.pages++;
        if (reply.status === 403 && reply.body.includes('valid-sync-token')) {
          if (token === '') throw new DavDeviceError(`${this.id}: sync-collection of ${c.name} from scratch answered ${reply.body}`);
          this.counts.tokenResets++;
          this.trace?.(`${this.id} starts ${c.name} over: its sync-token is no longer valid`);
          token = '';
          changes.clear();
          this.tokens.delete(c.id);
          continue;
        }
        const answer = this.multistatus(reply, 'sync-collection');
        let more = false;
        for (const r of answer.responses) {
          if (r.href.endsWith('/')) {
            if (r.status !== 507) throw new DavDeviceError(`${this.id}: sync-collection of ${c.name} answered ${r.status} for the collection`);
            more = true;
            continue;
          }
          const name = nameOf(r.href);
          changes.delete(name);
          const etag = r.props.get(`${ns.dav} getetag`);
          if (r.status === 404) changes.set(name, null);
          else if (etag !== undefined) changes.set(name, unquote(etag));
          else throw new DavDeviceError(`${this.id}: sync-collection of ${c.name} named ${name} with neither an etag nor 404`);
        }
        if (answer.syncToken === null) throw new DavDeviceError(`${this.id}: sync-collection of ${c.name} brought no sync-token`);
        token = answer.syncToken;
        if (!more) break;
      }
    }
    const fromScratch = !this.tokens.has(c.id);
    const changed = [...changes].filter((e): e is [string, string] => e[1] !== null && this.local(c, e[0])?.etag !== e[1]).map(([name]) => name);
    if (!(await this.fetch(c, changed))) return false;
    for (const [name, etag] of changes) if (etag === null) this.gone(c, name);
    const unnamed = this.replica.transaction((tx) => tx.all(c.id).filter((i) => i.serverId !== null && !changes.has(i.serverId)));
    for (const item of unnamed) {
      // From scratch, a member not listed is not there; since a token, an upload the changes do not name never arrived.
      if (fromScratch) this.gone(c, item.serverId as string);
      else if (stateOf(item).uncertain) this.replica.transaction((tx) => tx.put(c.id, withState(item, { ...stateOf(item), uncertain: false })));
    }
    this.tokens.set(c.id, token);
    return this.uploadAll(c, false);
  }

  /** calendar-multiget or addressbook-multiget of these members, `multigetMax` hrefs at a time. */
  private async fetch(c: DavCollection, names: readonly string[]): Promise<boolean> {
    const report = c.kind === 'contacts' ? { ns: ns.carddav, name: 'addressbook-multiget', data: 'address-data' } : { ns: ns.caldav, name: 'calendar-multiget', data: 'calendar-data' };
    for (let i = 0; i < names.length; i += this.options.multigetMax) {
      const batch = names.slice(i, i + this.options.multigetMax);
      const body =
        `<?xml version="1.0" encoding="utf-8"?><r:${report.name} xmlns:d="DAV:" xmlns:r="${report.ns}"><d:prop><d:getetag/><r:${report.data}/></d:prop>` +
        batch.map((n) => `<d:href>${escapeText(this.itemPath(c, n))}</d:href>`).join('') +
        `</r:${report.name}>`;
      const reply = await this.http({ method: 'REPORT', path: this.collectionPath(c), headers: { ...xmlType, depth: '1' }, body }, `${report.name} ${c.name} [${batch.join(', ')}]`);
      if (!reply) return false;
      for (const r of this.multistatus(reply, report.name).responses) {
        const name = nameOf(r.href);
        const etag = r.props.get(`${ns.dav} getetag`);
        const data = r.props.get(`${report.ns} ${report.data}`);
        if (r.status === 404) this.gone(c, name);
        else if (etag !== undefined && data !== undefined) this.fromServer(c, name, unquote(etag), data);
        else throw new DavDeviceError(`${this.id}: ${report.name} of ${c.name} answered for ${name} without its etag and data`);
      }
    }
    return true;
  }

  /** GET of one member, after a 412: what the server holds now decides what happens to the local change. */
  private async reread(c: DavCollection, name: string): Promise<boolean> {
    const reply = await this.http({ method: 'GET', path: this.itemPath(c, name), headers: {}, body: '' }, `GET ${c.name}/${name}`);
    if (!reply) return false;
    if (reply.status === 404) this.gone(c, name);
    else if (reply.status === 200) this.fromServer(c, name, unquote(reply.headers.etag), reply.body);
    else throw new DavDeviceError(`${this.id}: GET ${c.name}/${name} answered ${reply.status}: ${reply.body}`);
    return true;
  }

  // ------------------------------------------------------------------------------------------------
  // What the server holds, against what the device holds

  /** The server holds `data` under `name`, at `etag`. */
  private fromServer(c: DavCollection, name: string, etag: string, data: string): void {
    this.replica.transaction((tx) => {
      const item = tx.byServerId(c.id, name);
      if (!item) {
        tx.put(c.id, newLocalItem(this.newLocalId(), { serverId: name, data, etag, appState: encodeState({ base: data, uncertain: false }) }));
        return;
      }
      const clean = () => tx.put(c.id, { ...item, data, etag, pending: null, rejected: null, appState: encodeState({ base: data, uncertain: false }) });
      if (item.pending === null) return clean();
      if (item.pending === 'delete') {
        if (item.etag === etag) return;
        // The version the user deleted is there (an upload whose answer was lost arrived): the delete goes on.
        if (data === this.causality.deletedVersion(this.id, item.localId)) return tx.put(c.id, { ...item, etag, appState: encodeState({ base: data, uncertain: false }) });
        this.trace?.(`${this.id}: ${c.name}/${name} changed since its user deleted it; the delete yields to ${describeVersion(data)}`);
        return clean();
      }
      if (data === item.data) {
        this.acknowledge(c, item, etag, data);
        return clean();
      }
      // The upload that got no answer arrived, and its user has edited since: the edit goes onto it
      // (sim seed 9603671: taking it for another device's change left the add unacknowledged).
      const state = stateOf(item);
      if (state.uncertain && data === state.uploaded) {
        this.acknowledge(c, item, etag, data);
        return tx.put(c.id, { ...item, etag, pending: 'change', appState: encodeState({ base: data, uncertain: false }) });
      }
      // The server still holds the version this edit was made from: it goes up as it is.
      if (item.etag === etag) return;
      this.counts.conflicts++;
      if (this.kind === 'sync') {
        this.trace?.(`${this.id}: ${c.name}/${name} changed on the server; its version ${describeVersion(data)} wins over ${describeVersion(item.data)}`);
        return clean();
      }
      const merged = rebase(c.kind, item.data as string, stateOf(item).base, data);
      if (merged === data) return clean();
      this.causality.recordEdit(merged, [data, item.data as string]);
      this.trace?.(`${this.id}: ${c.name}/${name} changed on the server; its user's change goes onto ${describeVersion(data)} as ${describeVersion(merged)}`);
      tx.put(c.id, { ...item, data: merged, etag, pending: 'change', appState: encodeState({ base: data, uncertain: false }) });
    });
  }

  /** The server does not hold `name` (any more). */
  private gone(c: DavCollection, name: string): void {
    this.replica.transaction((tx) => {
      const item = tx.byServerId(c.id, name);
      if (!item) return;
      if (item.pending === null || item.pending === 'delete') return tx.remove(c.id, item.localId);
      if (stateOf(item).uncertain) {
        this.trace?.(`${this.id}: ${c.name}/${name} is not on the server, and whether its last upload arrived is unknown: the device lets it go`);
        return tx.remove(c.id, item.localId);
      }
      // Never created (as far as the device knows), or deleted elsewhere: an edit beats a delete, it is created again.
      if (item.etag !== null) this.trace?.(`${this.id}: ${c.name}/${name} was deleted on the server; its user's edit creates it again`);
      tx.put(c.id, { ...item, etag: null });
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Uploads

  private async uploadAll(c: DavCollection, skipUncertain: boolean): Promise<boolean> {
    const pending = this.replica.transaction((tx) => tx.pending(c.id, Number.MAX_SAFE_INTEGER)).filter((i) => !(skipUncertain && stateOf(i).uncertain));
    for (const { localId } of pending) if (!(await this.upload(c, localId))) return false;
    return true;
  }

  /** One item's PUT or DELETE; a 412 or 409 re-reads and tries again, up to uploadRoundsMax times. False: the network kept failing. */
  private async upload(c: DavCollection, localId: string): Promise<boolean> {
    for (let round = 0; round < uploadRoundsMax; round++) {
      const item = this.replica.transaction((tx) => tx.get(c.id, localId));
      if (!item || item.pending === null) return true;
      if (item.pending === 'delete') {
        if (item.serverId === null) {
          this.replica.transaction((tx) => tx.remove(c.id, localId));
          return true;
        }
        // Its create got no answer: what is there decides what the delete is about.
        if (item.etag === null) {
          if (!(await this.reread(c, item.serverId))) return false;
          continue;
        }
        // What the delete is about, noted before it is sent (history.ts), for the item its If-Match names.
        const deleted = this.causality.deletedVersion(this.id, localId) ?? stateOf(item).base;
        const target = this.latestWrite((w) => w.collectionId === c.id && w.data !== null && w.etag === item.etag);
        if (deleted !== null && target) this.history.noteDelete(this.id, target.serverId, deleted);
        const reply = await this.http(
          { method: 'DELETE', path: this.itemPath(c, item.serverId), headers: { 'if-match': `"${item.etag}"` }, body: '' },
          `DELETE ${c.name}/${item.serverId} If-Match ${item.etag.slice(0, 6)}`,
        );
        if (!reply) {
          this.setUncertain(c, localId);
          return false;
        }
        if (reply.status === 204 || reply.status === 404) {
          if (reply.status === 204) this.acknowledgeDelete(item.serverId, reply);
          this.replica.transaction((tx) => tx.remove(c.id, localId));
          return true;
        }
        if (reply.status !== 412) throw new DavDeviceError(`${this.id}: DELETE ${c.name}/${item.serverId} answered ${reply.status}: ${reply.body}`);
        this.counts.conflicts++;
        if (!(await this.reread(c, item.serverId))) return false;
        continue;
      }
      const data = item.data as string;
      const name = item.serverId ?? `${localId}${extensionOf(c.kind)}`;
      if (item.serverId === null) this.replica.transaction((tx) => tx.put(c.id, { ...item, serverId: name }));
      const creating = item.etag === null;
      const reply = await this.http(
        { method: 'PUT', path: this.itemPath(c, name), headers: { 'content-type': c.kind === 'contacts' ? 'text/vcard' : 'text/calendar', ...(creating ? { 'if-none-match': '*' } : { 'if-match': `"${item.etag}"` }) }, body: data },
        `PUT ${c.name}/${name} ${creating ? 'If-None-Match *' : `If-Match ${(item.etag as string).slice(0, 6)}`} ${describeVersion(data)}`,
      );
      if (!reply) {
        this.setUncertain(c, localId);
        return false;
      }
      if (reply.status === 201 || reply.status === 204) {
        const etag = unquote(reply.headers.etag);
        this.acknowledgePut(c, localId, reply, etag, data);
        this.replica.transaction((tx) => {
          const now = tx.get(c.id, localId) as LocalItem;
          tx.put(c.id, { ...now, serverId: name, etag, pending: null, rejected: null, appState: encodeState({ base: data, uncertain: false }) });
        });
        return true;
      }
      if (reply.status === 412) {
        this.counts.conflicts++;
        if (!(await this.reread(c, name))) return false;
        continue;
      }
      if (reply.status === 409 && reply.body.includes('no-uid-conflict')) {
        if (!(await this.sameUid(c, localId, data))) return false;
        continue;
      }
      throw new DavDeviceError(`${this.id}: PUT ${c.name}/${name} of ${describeVersion(data)} answered ${reply.status}: ${reply.body}`);
    }
    return true;
  }

  /**
   * A new resource whose UID another resource has: the user typed in a record the server holds under
   * another name. The device finds it by its UID (calendar-query or addressbook-query) and takes it as
   * the user's item: the new resource is dropped, and (`poll`) the user's version goes onto it.
   */
  private async sameUid(c: DavCollection, localId: string, data: string): Promise<boolean> {
    const uid = property(data, 'UID');
    if (uid === null) throw new DavDeviceError(`${this.id}: a resource without a UID was refused for its UID`);
    const reply = await this.http({ method: 'REPORT', path: this.collectionPath(c), headers: { ...xmlType, depth: '1' }, body: uidQueryBody(c.kind, uid) }, `query ${c.name} for UID ${uid}`);
    if (!reply) return false;
    const dataProp = c.kind === 'contacts' ? `${ns.carddav} address-data` : `${ns.caldav} calendar-data`;
    const holders = this.multistatus(reply, 'query')
      .responses.map((r) => ({ name: nameOf(r.href), etag: r.props.get(`${ns.dav} getetag`), data: r.props.get(dataProp) }))
      .filter((h): h is { name: string; etag: string; data: string } => h.etag !== undefined && h.data !== undefined && property(h.data, 'UID') === uid);
    const holder = holders[0];
    // Gone again since: the next upload creates the resource as it was.
    if (!holder || holders.length > 1) {
      if (holders.length > 1) throw new DavDeviceError(`${this.id}: UID ${uid} is held by ${holders.length} resources of ${c.name}`);
      return true;
    }
    this.trace?.(`${this.id}: UID ${uid} is ${c.name}/${holder.name} on the server; its user's new resource becomes that one`);
    const mine = this.replica.transaction((tx) => tx.get(c.id, localId));
    if (!mine) return true;
    this.fromServer(c, holder.name, unquote(holder.etag), holder.data);
    this.replica.transaction((tx) => {
      tx.remove(c.id, localId);
      if (this.kind === 'sync') return;
      const held = tx.byServerId(c.id, holder.name) as LocalItem;
      const onto = held.data ?? holder.data;
      const merged = rebase(c.kind, data, null, onto);
      if (merged === onto && held.pending !== 'delete') return;
      this.causality.recordEdit(merged, [onto, data]);
      tx.put(c.id, { ...held, data: merged, etag: held.etag ?? unquote(holder.etag), pending: 'change', rejected: null });
    });
    return true;
  }

  private setUncertain(c: DavCollection, localId: string): void {
    this.replica.transaction((tx) => {
      const item = tx.get(c.id, localId);
      if (item) tx.put(c.id, withState(item, { ...stateOf(item), uncertain: true, uploaded: item.data }));
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Acknowledgements

  /** A 2xx PUT: the version it committed, found by its etag among the request's writes (else earlier: a PUT of what was there). */
  private acknowledgePut(c: DavCollection, localId: string, reply: DavReply, etag: string, data: string): void {
    const write = reply.writes.filter((w) => w.originDevice === this.id && w.data !== null && w.etag === etag).at(-1) ?? this.latestWrite((w) => w.collectionId === c.id && w.data !== null && w.etag === etag);
    this.pushAck(reply.status === 201 ? 'add' : 'change', localId, write, data);
  }

  /** A re-read showing exactly the device's pending version: its upload arrived. */
  private acknowledge(c: DavCollection, item: LocalItem, etag: string, data: string): void {
    this.pushAck(item.etag === null ? 'add' : 'change', item.localId, this.latestWrite((w) => w.collectionId === c.id && w.data === data && w.etag === etag), data);
    this.trace?.(`${this.id}: the server holds its version ${describeVersion(data)}: its upload arrived`);
  }

  private pushAck(op: 'add' | 'change', localId: string, write: ServerWrite | undefined, data: string): void {
    const ack: Ack = { deviceId: this.id, op, serverId: write?.serverId ?? `?${localId}`, ...(op === 'add' ? { clientId: localId } : {}), data: write?.data ?? data, simId: simIdOf(data), seq: write?.seq ?? null };
    this.history.acks.push(ack);
  }

  /** A 204 DELETE: the tombstone it wrote. */
  private acknowledgeDelete(name: string, reply: DavReply): void {
    const write = reply.writes.find((w) => w.originDevice === this.id && w.data === null);
    const lastLive = write && this.history.versionsOf(write.serverId).filter((w) => w.data !== null && w.seq < write.seq).at(-1);
    this.history.acks.push({ deviceId: this.id, op: 'delete', serverId: write?.serverId ?? `?${name}`, data: null, simId: lastLive?.data ? simIdOf(lastLive.data) : null, seq: write?.seq ?? null });
  }

  private latestWrite(matches: (w: ServerWrite) => boolean): ServerWrite | undefined {
    let latest: ServerWrite | undefined;
    for (const [, versions] of this.history.items()) for (const w of versions) if (matches(w) && (!latest || w.seq > latest.seq)) latest = w;
    return latest;
  }

  // ------------------------------------------------------------------------------------------------
  // HTTP

  private collectionPath(c: DavCollection): string {
    return `/dav/users/${encodeURIComponent(this.options.accountName)}/${encodeURIComponent(c.name)}/`;
  }

  private itemPath(c: DavCollection, name: string): string {
    return `${this.collectionPath(c)}${encodeURIComponent(name)}`;
  }

  private local(c: DavCollection, name: string): LocalItem | undefined {
    return this.replica.transaction((tx) => tx.byServerId(c.id, name));
  }

  private pendingIn(c: DavCollection): boolean {
    return this.replica.transaction((tx) => tx.all(c.id).some((i) => i.pending !== null));
  }

  private async propfind(c: DavCollection, depth: '0' | '1', props: ReadonlyArray<{ ns: string; name: string }>): Promise<Multistatus | undefined> {
    const body = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:cs="${ns.cs}"><d:prop>${props.map((p) => `<${p.ns === ns.cs ? 'cs' : 'd'}:${p.name}/>`).join('')}</d:prop></d:propfind>`;
    const reply = await this.http({ method: 'PROPFIND', path: this.collectionPath(c), headers: { ...xmlType, depth }, body }, `PROPFIND ${c.name} Depth ${depth} ${props.map((p) => p.name).join(' ')}`);
    return reply && this.multistatus(reply, 'PROPFIND');
  }

  private multistatus(reply: DavReply, what: string): Multistatus {
    if (reply.status !== 207) throw new DavDeviceError(`${this.id}: ${what} answered ${reply.status}: ${reply.body}`);
    return readMultistatus(reply.body);
  }

  /**
   * One request over the network, sent again as it was when no answer comes, until one does or the
   * attempts run out (undefined: the device tries again at its next sync).
   */
  private async http(request: DavRequest, what: string): Promise<DavReply | undefined> {
    const line = `${this.id} ${what}`;
    const create = request.headers['if-none-match'] === '*';
    for (let attempt = 1; ; attempt++) {
      this.counts.requests++;
      try {
        return await this.network.httpExchange(
          this.id,
          line,
          async (note) => {
            if (create && note.startsWith('late copy')) {
              this.trace?.(`  a late copy of ${line} is not delivered (see dav-device.ts)`);
              return { status: 0, headers: {}, body: '', writes: [] };
            }
            const reply = await this.face.serve(this.options.tokenId, request);
            this.trace?.(`#${this.network.exchanges} ${line} -> ${reply.status}${reply.headers.etag ? ` etag ${unquote(reply.headers.etag).slice(0, 6)}` : ''}${note ? ` (${note})` : ''}`);
            return reply;
          },
          () => undefined,
        );
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        if (attempt >= this.options.attemptsMax) return undefined;
        this.advanceClock(Math.min(8000, 250 * 2 ** attempt));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Item state, merging a user's change onto another version

const stateOf = (item: LocalItem): ItemState => (item.appState === null ? { base: null, uncertain: false } : (JSON.parse(item.appState) as ItemState));
const encodeState = (state: ItemState) => JSON.stringify(state);
const withState = (item: LocalItem, state: ItemState): LocalItem => ({ ...item, appState: encodeState(state) });

/**
 * The user's change (`local` against the version it was made from, `base`; null for a new item)
 * applied onto `onto`: each of the two edited properties the user changed goes over onto's, unless
 * onto changed it too. There the server's value stays, as a user shown the conflict may choose: a
 * version that took the user's value over one it replaced would be the user's own text again, and
 * would not carry the knowledge of what it replaced (causality.ts keys versions by their text).
 */
function rebase(kind: Kind, local: string, base: string | null, onto: string): string {
  const names = editable[kind];
  let out = onto;
  for (const which of ['note', 'title'] as const) {
    const mine = property(local, which);
    const before = base === null ? null : property(base, which);
    if (mine === null || mine === before || property(onto, which) !== before) continue;
    const line = `${names[which]}:${mine}\r\n`;
    const existing = new RegExp(`^${names[which]}:.*\\r\\n`, 'm');
    if (existing.test(out)) out = out.replace(existing, line);
    else {
      // A title goes before the note, as the workload writes them; a note before the end of the (first) component.
      const at = out.search(which === 'title' && property(out, 'note') !== null ? new RegExp(`^${names.note}:`, 'm') : /^END:(VCARD|VEVENT|VTODO)\r$/m);
      out = at < 0 ? out : `${out.slice(0, at)}${line}${out.slice(at)}`;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// XML

interface DavResponse {
  href: string;
  /** The response's own status (a member deleted, the 507 of a page), if any. */
  status: number | null;
  /** The properties found (propstat 200), by `namespace name`. */
  props: Map<string, string>;
}

interface Multistatus {
  responses: DavResponse[];
  syncToken: string | null;
}

const davChild = (el: XmlElement, name: string) => el.children.find((c) => c.ns === ns.dav && c.name === name);
const statusOf = (el: XmlElement | undefined) => {
  const m = el && /^HTTP\/\d\.\d (\d{3})/.exec(el.text.trim());
  return m ? Number(m[1]) : null;
};
const nameOf = (href: string) => decodeURIComponent(href.slice(href.lastIndexOf('/') + 1));

function readMultistatus(body: string): Multistatus {
  const root = parseXml(body, 64, true);
  if (root.ns !== ns.dav || root.name !== 'multistatus') throw new DavDeviceError(`not a multistatus: ${body.slice(0, 200)}`);
  const responses = root.children
    .filter((c) => c.ns === ns.dav && c.name === 'response')
    .map((r): DavResponse => {
      const props = new Map<string, string>();
      for (const stat of r.children.filter((c) => c.ns === ns.dav && c.name === 'propstat')) {
        if (statusOf(davChild(stat, 'status')) !== 200) continue;
        for (const p of davChild(stat, 'prop')?.children ?? []) props.set(`${p.ns} ${p.name}`, p.text);
      }
      return { href: davChild(r, 'href')?.text.trim() ?? '', status: statusOf(davChild(r, 'status')), props };
    });
  const token = davChild(root, 'sync-token');
  return { responses, syncToken: token ? token.text.trim() : null };
}

function syncCollectionBody(token: string, limit: number): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${escapeText(token)}</d:sync-token>` +
    `<d:sync-level>1</d:sync-level><d:limit><d:nresults>${limit}</d:nresults></d:limit><d:prop><d:getetag/></d:prop></d:sync-collection>`
  );
}

/** A query for the resources with this UID: an exact match on a card (RFC 6352 §10.5.4); CalDAV matches substrings (RFC 4791 §9.7.5), so the device checks the UID itself. */
function uidQueryBody(kind: Kind, uid: string): string {
  if (kind === 'contacts') {
    return (
      `<?xml version="1.0" encoding="utf-8"?><c:addressbook-query xmlns:d="DAV:" xmlns:c="${ns.carddav}"><d:prop><d:getetag/><c:address-data/></d:prop>` +
      `<c:filter><c:prop-filter name="UID"><c:text-match collation="i;octet" match-type="equals">${escapeText(uid)}</c:text-match></c:prop-filter></c:filter></c:addressbook-query>`
    );
  }
  const component = kind === 'tasks' ? 'VTODO' : 'VEVENT';
  return (
    `<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="${ns.caldav}"><d:prop><d:getetag/><c:calendar-data/></d:prop>` +
    `<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="${component}"><c:prop-filter name="UID"><c:text-match collation="i;octet">${escapeText(uid)}</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
  );
}
