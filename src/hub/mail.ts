import { ProtocolError } from '../protocol/errors.js';
import type { Store, StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store/store.js';
import { movable, moveWithin, type DevicePoint } from './device-items.js';
import { writeTombstone } from './item-writes.js';
import type { HubPorts } from './ports.js';
import { openExchange } from './sync.js';
import type { UpstreamAccess, Upstreams } from './upstreams.js';

/**
 * Mail beyond its sync (docs/design.md § Mail): what the hub asks of an account's IMAP/SMTP upstream on
 * a device's behalf, through the gateway the server hands in (the hub reaches no network itself).
 */

/** An IMAP/SMTP upstream as the gateway signs in to it. */
export interface MailAccount {
  url: string;
  username: string;
  password: string;
}

/** What the hub asks of an IMAP/SMTP upstream beyond its sync runs; the server's IMAP connector gives it (server/upstream-connector.ts). */
export interface MailGateway {
  /**
   * Moves the message `remoteId` (UIDVALIDITY/UID) of folder `from` to folder `to` (IMAP MOVE): its remote
   * id there; null when the server did not say (no UIDPLUS); `gone` when `from` no longer holds it.
   */
  move(account: MailAccount, from: string, remoteId: string, to: string): Promise<string | null | 'gone'>;
}

/** The IMAP upstream a mail collection is a folder of, and the folder's mapping; notFound when the collection is none. */
export async function mailFolderOf(tx: StoreTx, accountId: string, collectionId: string): Promise<{ upstream: UpstreamRow; mapping: UpstreamCollectionRow }> {
  for (const upstream of await tx.listUpstreams(accountId)) {
    if (upstream.kind !== 'imap') continue;
    const mapping = (await tx.listUpstreamCollections(accountId, upstream.id)).find((m) => m.collectionId === collectionId);
    if (mapping) return { upstream, mapping };
  }
  throw new ProtocolError('notFound', `collection ${collectionId} is no folder of a mail account`);
}

/** The folder's path on its IMAP server, from its mapping's URL (connectors/imap/discovery.ts folderUrl). */
const folderPath = (mapping: UpstreamCollectionRow) => decodeURIComponent(new URL(mapping.url).pathname.slice(1));

export class Mail {
  constructor(
    private readonly store: Store,
    private readonly ports: HubPorts,
    private readonly upstreams: Upstreams,
    private readonly access?: UpstreamAccess,
  ) {}

  /**
   * Moves a message to another folder of its mail account, as the device (docs/protocol.md §10.5): at the
   * IMAP server first (MOVE), then in the hub, where it is deleted from the source collection and added to
   * the destination under a new id (returned), bound to its new UID, as `hub.moveItem` moves any item. The
   * device is told neither. When the server did not say the new UID, only the delete is written: the
   * destination's next run adds it, so it is never there twice. Returns null when the hub no longer held it
   * by the time the move was done there (a run saw it go): the destination's run brings it too.
   */
  async move(point: DevicePoint, fromId: string, itemId: string, toId: string): Promise<string | null> {
    const gateway = this.access?.mail;
    if (!this.access || !gateway) throw new ProtocolError('serverError', 'this server reaches no mail servers');
    const access = this.access;
    const plan = await this.store.transaction(async (tx) => {
      const [from, to] = [await mailFolderOf(tx, point.accountId, fromId), await mailFolderOf(tx, point.accountId, toId)];
      if (from.upstream.id !== to.upstream.id) throw new ProtocolError('invalidRequest', 'a message moves between the folders of one mail account');
      await movable(tx, point.accountId, fromId, itemId, toId);
      const [record] = await tx.pointRecordsByServer(point.accountId, from.upstream.deviceId, fromId, [itemId]);
      if (!record) throw new ProtocolError('notFound', 'the mail server does not hold this message yet');
      return { upstream: from.upstream, from: folderPath(from.mapping), to: folderPath(to.mapping), remoteId: record.remoteId };
    });
    const account = { url: plan.upstream.url, username: plan.upstream.username, password: this.upstreams.password(plan.upstream, access.keys()) };
    const moved = await gateway.move(account, plan.from, plan.remoteId, plan.to);
    if (moved === 'gone') throw new ProtocolError('notFound', 'the message is no longer on the mail server');
    return this.store.transaction(async (tx) => {
      await openExchange(tx, this.ports, point.accountId, point.device, point.protocol);
      const deviceId = plan.upstream.deviceId;
      await tx.deletePointRecord(point.accountId, deviceId, plan.remoteId);
      let found;
      try {
        found = await movable(tx, point.accountId, fromId, itemId, toId);
      } catch {
        return null;
      }
      if (moved === null) {
        await writeTombstone({ tx, ports: this.ports, collection: found.from }, found.item, point.device.id);
        return null;
      }
      const id = await moveWithin(tx, this.ports, found.from, found.to, found.item, point.device.id);
      // Its version there is read at the destination's next run, and found to be this one.
      await tx.putPointRecord(point.accountId, deviceId, toId, { serverId: id, remoteId: moved, remoteEtag: null, heldEtag: found.item.etag });
      return id;
    });
  }
}
