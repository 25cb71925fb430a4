import { Hub } from '../src/hub/hub.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { SyncRequest, SyncResponse } from '../src/protocol/sync.js';
import type { Replica, ReplicaTx } from '../src/sdk/replica.js';
import type { Store } from '../src/store/store.js';
import type { CheckName } from './checkers.js';
import type { HubFactory } from './server.js';

/**
 * Bugs planted on purpose (`--plant-bug NAME`), to prove the checkers are not blind. Each swaps one
 * component for a version with a mistake the design exists to prevent; nothing in src changes.
 */
export interface PlantedBug {
  description: string;
  /** The checks that must catch it, on some seeds. */
  caughtBy: readonly CheckName[];
  hub?: HubFactory;
  replica?: (replica: Replica) => Replica;
}

/**
 * A hub that skips the replay path: it forgets what the last exchange's commands did, and its add
 * ledger never remembers an add.
 */
class ForgetfulHub extends Hub {
  constructor(
    private readonly truthStore: Store,
    ports: HubPorts,
  ) {
    super(
      {
        transaction: (fn) => truthStore.transaction((tx) => fn({ ...tx, findLedgerAdd: async () => undefined })),
        observeCommits: (observer) => truthStore.observeCommits(observer),
        close: () => truthStore.close(),
      },
      ports,
    );
  }

  override async sync(accountId: string, protocol: string, request: SyncRequest): Promise<SyncResponse> {
    await this.truthStore.transaction(async (tx) => {
      for (const c of request.collections) {
        const state = await tx.getSyncState(accountId, request.device.id, c.collectionId);
        if (state) await tx.putSyncState({ ...state, lastResults: [] });
      }
    });
    return super.sync(accountId, protocol, request);
  }
}

/** A hub whose store never finds the push tokens a device echoes: the server ignores what push delivered. */
class DeafToEchoHub extends Hub {
  constructor(store: Store, ports: HubPorts) {
    super(
      {
        transaction: (fn) => store.transaction((tx) => fn({ ...tx, findPushTokens: async () => [] })),
        observeCommits: (observer) => store.observeCommits(observer),
        close: () => store.close(),
      },
      ports,
    );
  }
}

/** The replica with some of its transaction's methods replaced. */
function alterTx(replica: Replica, alter: (tx: ReplicaTx) => Partial<ReplicaTx>): Replica {
  return {
    transaction: (fn) => replica.transaction((tx) => fn({ ...tx, ...alter(tx) })),
    close: () => replica.close(),
  };
}

export const plantedBugs = {
  'forget-replay-record': {
    description: "the hub forgets what the last exchange's commands did and every earlier add, so a retried exchange applies them again as new",
    caughtBy: ['no-duplicates'],
    hub: (store, ports) => new ForgetfulHub(store, ports),
  },
  'reinit-resends-everything': {
    description: 'a re-initializing client re-sends every item it holds as an add, bringing back what was deleted elsewhere',
    caughtBy: ['deletes-stay-deleted'],
    replica: (replica) =>
      alterTx(replica, (tx) => ({
        markStale: (c) => {
          for (const item of tx.all(c)) {
            if (item.pending === null && item.data !== null) tx.put(c, { ...item, serverId: null, etag: null, pending: 'add' });
          }
        },
      })),
  },
  'replica-drops-sync-key': {
    description: 'the replica does not store the key a reply brings, so the device keeps sending the one it started with',
    // Every exchange is then an initial sync: with paging it never ends, without it the keys disagree.
    caughtBy: ['run-completes', 'nothing-pending'],
    replica: (replica) =>
      alterTx(replica, (tx) => ({
        setSyncKey: (c, key) => {
          if (key === 0) tx.setSyncKey(c, key);
        },
      })),
  },
  'ignore-push-echo': {
    description: 'the hub ignores the push tokens a device echoes, so a device that got an add by push never hears that the item was deleted',
    caughtBy: ['devices-match-truth'],
    hub: (store, ports) => new DeafToEchoHub(store, ports),
  },
} satisfies Record<string, PlantedBug>;

export type PlantedBugName = keyof typeof plantedBugs;

export const isPlantedBug = (name: string): name is PlantedBugName => Object.hasOwn(plantedBugs, name);
