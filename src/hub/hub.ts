import { Mail } from './mail.js';
import { limits } from '../core/limits.js';
import type { SyncResponse } from '../protocol/sync.js';
import type { Store } from '../store/store.js';
import { Accounts } from './accounts.js';
import { Upstreams, type UpstreamAccess } from './upstreams.js';
import type { HubPorts } from './ports.js';
import { restoreConflict } from './conflicts.js';
import { runServerDrivenSync } from './server-driven.js';
import type { ServerSyncPoint } from '../protocol/server-point.js';
import { runSyncExchange, type ExchangeFaceState, type HubSyncRequest } from './sync.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Checkpoint } from '../core/sync-key.js';
import type { CollectionRow, DeviceRow, ItemRow, StoreTx } from '../store/store.js';
import { admitDevice, moveItem, pendingChanges, readHeldItem, readItem, syncKeyKind, withFaceState, writeEventByUid, type DevicePoint } from './device-items.js';
import { activityDaysKept, dailyActivity, deviceErrorsKept, listDeviceHealth, utcDay } from './health.js';
import { deleteResource, memberName, partsOf, putResource, resolveInParts, type Member, type Preconditions, type Resource, type ResourceClient } from './resources.js';

/** The sync hub: the one place where faces reach the truth store. */
export class Hub {
  readonly accounts: Accounts;
  /** Upstream servers' stored configuration (upstreams.ts). */
  readonly upstreams: Upstreams;
  /** Mail beyond its sync: what the hub asks of IMAP/SMTP upstreams for a device (mail.ts). */
  readonly mail: Mail;

  /** `upstreamAccess`: how the hub reaches upstream servers (none: it runs none). */
  constructor(
    private readonly store: Store,
    private readonly ports: HubPorts,
    upstreamAccess?: UpstreamAccess,
  ) {
    this.accounts = new Accounts(store, ports);
    this.upstreams = new Upstreams(store, ports, upstreamAccess);
    this.mail = new Mail(store, ports, upstreamAccess);
  }

  /** The hub's clock (epoch ms), for answers that carry a timestamp (a free-busy DTSTAMP). */
  now(): number {
    return this.ports.clock.now();
  }

  /**
   * One exchange of the native protocol; `tokenId` is the app password it came with, if any. A face
   * whose own state for the device follows from the answer writes it in the exchange's transaction
   * (`faceState`, sync.ts).
   */
  sync(accountId: string, protocol: string, request: HubSyncRequest, tokenId?: string, faceState?: ExchangeFaceState): Promise<SyncResponse> {
    return runSyncExchange(this.store, this.ports, accountId, protocol, request, tokenId, faceState);
  }

  /** Every device with what waits for it and its recent errors, in priority order. */
  listDeviceHealth(accountId: string) {
    return listDeviceHealth(this.store, accountId);
  }

  /** Puts a failure a face found on the device's record (the devices page lists them). */
  reportDeviceError(accountId: string, deviceId: string, status: string, message: string) {
    return this.store.transaction(async (tx) => {
      if (await tx.getDevice(accountId, deviceId)) await tx.addDeviceError(accountId, deviceId, { at: this.ports.clock.now(), status, message }, deviceErrorsKept);
    });
  }

  /** Changes synced per UTC day over the last `days` days, for the account and each device. */
  dailyActivity(accountId: string, days: number) {
    return dailyActivity(this.store, accountId, this.ports.clock.now(), days);
  }

  /**
   * Forgets a device (its sync state and errors; its past activity still counts in the account's
   * total) and revokes the app password it last used, so it cannot come back with it. A device that
   * used the account password would come back at its next sync, as a new device that re-initializes.
   */
  async revokeDevice(accountId: string, deviceId: string): Promise<DeviceRow> {
    const device = await this.store.transaction(async (tx) => {
      const row = await tx.getDevice(accountId, deviceId);
      if (!row || !(await tx.deleteDevice(accountId, deviceId))) throw new ProtocolError('notFound', `no device ${deviceId}`);
      return row;
    });
    if (device.tokenId !== null) await this.accounts.revokeToken(accountId, device.tokenId);
    return device;
  }

  /** Puts the named devices first, in this order; the rest keep their order after them. */
  setDevicePriority(accountId: string, order: readonly string[]) {
    return this.store.transaction(async (tx) => {
      const devices = await tx.listDevices(accountId);
      const known = new Set(devices.map((d) => d.id));
      const unknown = order.find((id) => !known.has(id));
      if (unknown !== undefined) throw new ProtocolError('notFound', `no device ${unknown}`);
      const named = new Set(order);
      await tx.setDevicePriorities(accountId, [...new Set(order), ...devices.map((d) => d.id).filter((id) => !named.has(id))]);
      return tx.listDevices(accountId);
    });
  }

  /** One run of the two-stage process for server-driven sync points (see server-driven.ts). */
  runServerDrivenSync(accountId: string, points: readonly ServerSyncPoint[]) {
    return runServerDrivenSync(this.store, this.ports, accountId, points);
  }

  /**
   * Runs every upstream of the account now ("Sync now"), each on one process at a time: one whose run is
   * under way elsewhere is not started beside it, and is in neither list. `online`: the device ids of
   * those that ran through; `offline`: of those that failed.
   */
  async syncServerPoints(accountId: string): Promise<{ online: string[]; offline: string[] }> {
    const runs = (await this.upstreams.run(accountId)).filter((r) => r.ran);
    return { online: runs.filter((r) => r.error === null).map((r) => r.deviceId), offline: runs.filter((r) => r.error !== null).map((r) => r.deviceId) };
  }

  listConflicts(accountId: string) {
    return this.store.transaction((tx) => tx.listConflicts(accountId));
  }

  restoreConflict(accountId: string, conflictId: string) {
    return restoreConflict(this.store, this.ports, accountId, conflictId);
  }

  /** A face's own per-device state, read and written with the account's collections in one transaction (device-items.ts). */
  withFaceState<T>(point: DevicePoint, key: string, fn: (collections: CollectionRow[], state: string | undefined) => { state: string | undefined; result: T }) {
    return withFaceState(this.store, this.ports, point, key, fn);
  }

  /**
   * Whether a device may sync under a per-account limit on devices of its protocol; a new one admitted is
   * registered, and an admitted one gets the face's state under `key` (device-items.ts).
   */
  admitDevice(point: DevicePoint, max: number, key: string) {
    return admitDevice(this.store, this.ports, point, max, key);
  }

  /** A face's own state for a device, read alone. */
  readFaceState(accountId: string, deviceId: string, key: string) {
    return this.store.transaction((tx) => tx.getFaceState(accountId, deviceId, key));
  }

  readItem(accountId: string, collectionId: string, itemId: string) {
    return readItem(this.store, accountId, collectionId, itemId);
  }

  /** The live item as the device holds it, syncing with `syncKey`: the version its edits are made from (device-items.ts). */
  readHeldItem(accountId: string, deviceId: string, collectionId: string, syncKey: number, itemId: string) {
    return readHeldItem(this.store, accountId, deviceId, collectionId, syncKey, itemId);
  }

  syncKeyKind(accountId: string, deviceId: string, collectionId: string, syncKey: number) {
    return syncKeyKind(this.store, accountId, deviceId, collectionId, syncKey);
  }

  pendingChanges(accountId: string, deviceId: string, collectionIds: readonly string[], limit: number) {
    return pendingChanges(this.store, accountId, deviceId, collectionIds, limit);
  }

  moveItem(point: DevicePoint, fromCollectionId: string, itemId: string, toCollectionId: string) {
    return moveItem(this.store, this.ports, point, fromCollectionId, itemId, toCollectionId);
  }

  /** Writes or deletes the event with this UID in a calendar as the server, on the device's behalf (device-items.ts). */
  writeEventByUid(point: DevicePoint, collectionId: string, uid: string, edit: (existing: ItemRow | undefined) => string | null) {
    return writeEventByUid(this.store, this.ports, point, collectionId, uid, edit);
  }

  /** Writes a named resource under ETag preconditions (CardDAV/CalDAV; see resources.ts). */
  putResource(client: ResourceClient, collectionId: string, name: string, data: string, preconditions: Preconditions) {
    return putResource(this.store, this.ports, client, collectionId, name, data, preconditions);
  }

  deleteResource(client: ResourceClient, collectionId: string, name: string, preconditions: Preconditions) {
    return deleteResource(this.store, this.ports, client, collectionId, name, preconditions);
  }

  /**
   * A consistent read of one collection for a resource face: its row, its latest change, the account's
   * tombstone floor, and the resources that `read` asks for, all from one snapshot.
   */
  readCollection<T>(accountId: string, collectionId: string, read: (view: CollectionView) => Promise<T>): Promise<T | undefined> {
    return this.store.transaction(async (tx) => {
      const collection = await tx.getCollection(accountId, collectionId);
      if (!collection) return undefined;
      return read(collectionView(tx, collection, await partsOf(tx, collection)));
    });
  }

  /**
   * The live members of a collection (each of its parts: partsOf) in id order, a page at a time
   * (limits.davPageRows, or davPageRowsWithData with `withData`), each page read in its own short
   * transaction: a listing of any size holds one page, and a slow reader never holds the store between
   * pages (docs/dav.md § Streaming). The listing is not one snapshot: a member changed meanwhile is
   * listed as it is when its page is read, one added meanwhile may be missing (the collection's ctag,
   * read before, has already moved). Ends early when the collection is gone.
   */
  async *members(accountId: string, collectionId: string, options: { withData: boolean; timeRange?: { startMs: number; endMs: number } | undefined }): AsyncGenerator<Member[]> {
    const limit = options.withData ? limits.davPageRowsWithData : limits.davPageRows;
    const parts = await this.store.transaction(async (tx) => {
      const collection = await tx.getCollection(accountId, collectionId);
      return collection ? partsOf(tx, collection) : [];
    });
    for (const part of parts) {
      let afterId = '';
      for (;;) {
        const page = await this.store.transaction(async (tx) => {
          if (!(await tx.getCollection(accountId, part.id))) return [];
          const rows = await tx.listMembers({ accountId, collectionId: part.id, afterId, limit, withData: options.withData, ...(options.timeRange ? { timeRange: options.timeRange } : {}) });
          return rows.map((item) => ({ name: memberName(part, item), item }));
        });
        if (page.length > 0) yield page;
        if (page.length < limit) break;
        afterId = (page[page.length - 1] as Member).item.id;
      }
    }
  }

  /**
   * A collection's changes after `from` up to `untilSeq`, oldest first, a page at a time, each in its
   * own short transaction (see members). A member changed meanwhile moves past `untilSeq` and is left
   * for the next sync, whose token starts at `untilSeq`. The changes of several parts are one sequence:
   * a page is the first `limit` of the merge of each part's first `limit`.
   */
  async *memberChanges(accountId: string, collectionId: string, from: Checkpoint, untilSeq: number, withData: boolean): AsyncGenerator<Member[]> {
    const limit = withData ? limits.davPageRowsWithData : limits.davPageRows;
    let seq = from.seq;
    // Nothing lies past `untilSeq`: a client already there (a poll that finds nothing) costs no read at all.
    while (seq < untilSeq) {
      const page = await this.store.transaction(async (tx) => {
        const collection = await tx.getCollection(accountId, collectionId);
        if (!collection) return [];
        const out: Member[] = [];
        for (const part of await partsOf(tx, collection)) {
          // No device is excluded: a DAV client is told of its own writes too, and compares etags.
          const rows = await tx.listMemberChanges({ accountId, collectionId: part.id, checkpoint: { seq, baseSeq: from.baseSeq }, deviceId: '', limit, untilSeq }, withData);
          for (const item of rows) out.push({ name: memberName(part, item), item });
        }
        return out.sort((a, b) => a.item.seq - b.item.seq).slice(0, limit);
      });
      if (page.length > 0) yield page;
      if (page.length < limit) return;
      seq = (page[page.length - 1] as Member).item.seq;
    }
  }

  /**
   * purgeTombstones as the periodic job: run by one process at a time on a store several processes share
   * (Store.tryExclusive), and skipped, undefined, while another runs it.
   */
  async purgeExpired(): Promise<number | undefined> {
    let purged: number | undefined;
    const ran = await this.store.tryExclusive('purge', async () => {
      purged = await this.purgeTombstones();
    });
    if (!ran) this.ports.logger.debug('tombstone purge skipped: another process is running it');
    return purged;
  }

  /**
   * Forgets tombstones older than the retention horizon (devices behind it re-initialize), and the
   * activity, browser sessions, push tickets and failed-secret counters that have aged out.
   */
  async purgeTombstones(): Promise<number> {
    const now = this.ports.clock.now();
    const before = now - limits.tombstoneRetentionMs;
    const activityBefore = utcDay(now - activityDaysKept * 86_400_000);
    let purged = 0;
    for (const account of await this.accounts.list()) {
      purged += await this.store.transaction(async (tx) => {
        await tx.purgeActivity(account.id, activityBefore);
        return tx.purgeTombstones(account.id, before);
      });
    }
    await this.store.transaction(async (tx) => {
      await tx.purgeWebSessions(now);
      await tx.purgePushTickets(now);
      await tx.purgeAuthFailures(now - limits.authFailuresKeptMs);
    });
    if (purged > 0) this.ports.logger.info({ purged }, 'purged expired tombstones');
    return purged;
  }
}

/** What a resource face may read of one collection (Hub.readCollection). */
export interface CollectionView {
  collection: CollectionRow;
  /** The collections whose items it holds: itself, and a calendar's tasks collection (docs/dav.md § Calendars made without a component set). */
  parts: readonly CollectionRow[];
  /**
   * The collection's position: its ctag and the position of a full sync. The sequence of its latest
   * change, or the account's tombstone floor if that is later: positions below the floor count as
   * expired (tombstones past them may be gone), and a purge removes the rows that held the latest changes,
   * so without the floor a quiet collection's position would fall back below it and every page of an
   * initial sync would be refused (sim seed 74).
   */
  seq(): Promise<number>;
  tombstoneFloor(): Promise<number>;
  get(name: string): Promise<Resource | undefined>;
}

function collectionView(tx: StoreTx, collection: CollectionRow, parts: readonly CollectionRow[]): CollectionView {
  return {
    collection,
    parts,
    async seq() {
      let latest = await tx.tombstoneFloor(collection.accountId);
      for (const part of parts) latest = Math.max(latest, await tx.collectionSeq(part.accountId, part.id));
      return latest;
    },
    tombstoneFloor: () => tx.tombstoneFloor(collection.accountId),
    async get(name) {
      // An item answers to one name only (resolveResource), so the name it was found by is its name.
      const found = await resolveInParts(tx, parts, name);
      return found && { name, item: found.item };
    },
  };
}
