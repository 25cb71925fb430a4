import { limits } from '../core/limits.js';
import type { SyncRequest, SyncResponse } from '../protocol/sync.js';
import type { Store } from '../store/store.js';
import { Accounts } from './accounts.js';
import type { HubPorts } from './ports.js';
import { runSyncExchange } from './sync.js';

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
