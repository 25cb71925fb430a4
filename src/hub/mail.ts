import { ProtocolError } from '../protocol/errors.js';
import type { Store, StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store/store.js';
import type { HubPorts } from './ports.js';
import type { UpstreamAccess } from './upstreams.js';

/**
 * Mail beyond its sync (docs/design.md § Mail): what the hub asks of an account's IMAP/SMTP upstream on
 * a device's behalf, through the connector the server hands in (the hub reaches no network itself).
 */

/** What the hub asks of an IMAP/SMTP upstream beyond its sync runs; the server's IMAP connector gives it (server/upstream-connector.ts). */
export interface MailGateway {}

/** The IMAP upstream a mail collection is a folder of, and the folder's mapping; notFound when the collection is none. */
export async function mailFolderOf(tx: StoreTx, accountId: string, collectionId: string): Promise<{ upstream: UpstreamRow; mapping: UpstreamCollectionRow }> {
  for (const upstream of await tx.listUpstreams(accountId)) {
    if (upstream.kind !== 'imap') continue;
    const mapping = (await tx.listUpstreamCollections(accountId, upstream.id)).find((m) => m.collectionId === collectionId);
    if (mapping) return { upstream, mapping };
  }
  throw new ProtocolError('notFound', `collection ${collectionId} is no folder of a mail account`);
}

export class Mail {
  constructor(
    protected readonly store: Store,
    protected readonly ports: HubPorts,
    protected readonly access?: UpstreamAccess,
  ) {}
}
