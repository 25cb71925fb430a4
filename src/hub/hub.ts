import { limits } from '../core/limits.js';
import type { SyncRequest, SyncResponse } from '../protocol/sync.js';
import type { Store } from '../store/store.js';
import { Accounts } from './accounts.js';
import type { HubPorts } from './ports.js';
import { restoreConflict } from './conflicts.js';
import { runServerDrivenSync, type ServerSyncPoint } from './server-driven.js';
import { runSyncExchange } from './sync.js';
import { ProtocolError } from '../protocol/errors.js';

/** The sync hub: the one place where faces reach the truth store. */
export class Hub {
  readonly accounts: Accounts;

  constructor(
    private readonly store: Store,
    private readonly ports: HubPorts,
  ) {
    this.accounts = new Accounts(store, ports);
  }

  sync(accountId: string, protocol: string, request: SyncRequest): Promise<SyncResponse> {
    return runSyncExchange(this.store, this.ports, accountId, protocol, request);
  }

  listDevices(accountId: string) {
    return this.store.transaction((tx) => tx.listDevices(accountId));
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

  /** One run of the seed's two-stage process for server-driven sync points (see server-driven.ts). */
  runServerDrivenSync(accountId: string, points: readonly ServerSyncPoint[]) {
    return runServerDrivenSync(this.store, this.ports, accountId, points);
  }

  listConflicts(accountId: string) {
    return this.store.transaction((tx) => tx.listConflicts(accountId));
  }

  restoreConflict(accountId: string, conflictId: string) {
    return restoreConflict(this.store, this.ports, accountId, conflictId);
  }

  /** Forgets tombstones older than the retention horizon; devices behind it re-initialize. */
  async purgeTombstones(): Promise<number> {
    const before = this.ports.clock.now() - limits.tombstoneRetentionMs;
    let purged = 0;
    for (const account of await this.accounts.list()) {
      purged += await this.store.transaction((tx) => tx.purgeTombstones(account.id, before));
    }
    if (purged > 0) this.ports.logger.info({ purged }, 'purged expired tombstones');
    return purged;
  }
}
