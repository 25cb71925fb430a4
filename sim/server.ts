import { Hub } from '../src/hub/hub.js';
import { PushTokens } from '../src/hub/push-tokens.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { UpstreamAccess } from '../src/hub/upstreams.js';
import { PushHub } from '../src/push/push-hub.js';
import type { ItemRow, Store, StoreTx } from '../src/store/store.js';
import type { SeedDatabase } from './database.js';

/**
 * The simulated server process: the real Hub over the real store (SQLite, or PostgreSQL: database.ts),
 * whose data outlives restarts. A restart drops the store's connections and opens the same data again,
 * so only what was committed survives.
 *
 * The store is wrapped to keep a log of every item version the server committed, in commit order.
 * The checkers need it to place each acknowledgement in the server's own order of events (a reply
 * can reach a device long after the write it acknowledges, when a retry is answered by a replay).
 */

/** One committed item version (data null: a tombstone). `seq` is its place in the account's change sequence. */
export interface ServerWrite {
  seq: number;
  collectionId: string;
  serverId: string;
  data: string | null;
  etag: string;
  originDevice: string | null;
}

/** `upstreamAccess`: how the hub reaches the simulated upstream, in worlds with one (dav-upstream.ts). */
export type HubFactory = (store: Store, ports: HubPorts, upstreamAccess?: UpstreamAccess) => Hub;

/** What the server holds once the run is over, read straight from the tables and the sync states. */
export interface ServerTruth {
  /** Live items of the simulated collections: data by server id. */
  items: Map<string, string>;
  /** Losing versions the hub kept, by item: what a conflict result promised. */
  conflictRecords: Array<{ serverId: string; data: string }>;
  currentSeq: number;
  /** By `device/collection`. */
  syncStates: Map<string, { syncKey: number; checkpointSeq: number } | undefined>;
}

/** How often the real server purges expired tombstones (src/server/app.ts). */
const purgeIntervalMs = 6 * 3600 * 1000;

/** Notices larger than this are split, so the simulation exercises remainders with ordinary cards. */
const pushPortionBytes = 160;

export class SimServer {
  hub: Hub;
  push: PushHub;
  restarts = 0;
  tombstonesPurged = 0;
  /** Struck down while a call into the hub is under way (dies): no transaction commits any more, and it restarts once the call is over. */
  private dying = false;
  private lastPurge: number;
  private readonly restartListeners: Array<() => void> = [];

  private constructor(
    private readonly ports: HubPorts,
    private readonly makeHub: HubFactory,
    private readonly onCommit: (writes: ServerWrite[]) => void,
    private readonly database: SeedDatabase,
    private store: Store,
    private readonly upstreamAccess: UpstreamAccess | undefined,
  ) {
    this.hub = this.makeHub(this.store, this.ports, this.upstreamAccess);
    this.push = this.makePush();
    this.lastPurge = this.ports.clock.now();
  }

  /** Starts the server on `database` (empty: a new one per seed). */
  static async start(ports: HubPorts, makeHub: HubFactory, onCommit: (writes: ServerWrite[]) => void, database: SeedDatabase, upstreamAccess?: UpstreamAccess): Promise<SimServer> {
    const server: SimServer = new SimServer(ports, makeHub, onCommit, database, recordingStore(await database.open(), onCommit, () => server.dying), upstreamAccess);
    return server;
  }

  /** Called after each restart (push channels do not survive one). */
  onRestart(listener: () => void): void {
    this.restartListeners.push(listener);
  }

  /** Crash and start again on the same data, tidying up as `serve` does at start-up. */
  async restart(): Promise<void> {
    await this.database.crash(this.store);
    this.store = recordingStore(await this.database.open(), this.onCommit, () => this.dying);
    this.hub = this.makeHub(this.store, this.ports, this.upstreamAccess);
    this.push = this.makePush();
    for (const listener of this.restartListeners) listener();
    this.restarts++;
    await this.purge();
  }

  /**
   * The process dies in the middle of a call into the hub (an upstream run waiting for an answer): from
   * now on no transaction starts, as none would in a dead process, and `afterDeath` restarts it once the
   * call has unwound. Restarting at once would wait for the connection the call holds (PostgreSQL's pool
   * ends only when its clients are released), which the call gives back only once it is over.
   */
  dies(): void {
    this.dying = true;
  }

  /** Whether it died in the call under way (what it would do next, it does not: mail.ts holds its mail gateway to that too). */
  get dead(): boolean {
    return this.dying;
  }

  /** The restart of a server that died during the call that just ended, if it did. */
  async afterDeath(): Promise<void> {
    if (!this.dying) return;
    this.dying = false;
    await this.restart();
  }

  /** The server's periodic work, for the time that passed: the tombstone purge every six hours. */
  async catchUp(): Promise<void> {
    if (this.ports.clock.now() - this.lastPurge >= purgeIntervalMs) await this.purge();
  }

  async readTruth(accountId: string, collectionIds: readonly string[], deviceIds: readonly string[]): Promise<ServerTruth> {
    const { currentSeq, syncStates } = await this.store.transaction(async (tx) => {
      const states = new Map<string, { syncKey: number; checkpointSeq: number } | undefined>();
      for (const id of deviceIds) {
        for (const collectionId of collectionIds) {
          const state = await tx.getSyncState(accountId, id, collectionId);
          states.set(`${id}/${collectionId}`, state && { syncKey: state.syncKey, checkpointSeq: state.checkpoint.seq });
        }
      }
      return { currentSeq: await tx.currentSeq(accountId), syncStates: states };
    });
    // The items table itself, not the hub's change query: the truth should not depend on the code under test.
    const items: Array<{ id: string; data: string }> = [];
    const kept: Array<{ item_id: string; data: string }> = [];
    for (const c of collectionIds) {
      items.push(...(await this.database.select<{ id: string; data: string }>('SELECT id, data FROM items WHERE account_id = ? AND collection_id = ? AND deleted_at IS NULL ORDER BY id', [accountId, c])));
      kept.push(...(await this.database.select<{ item_id: string; data: string }>('SELECT item_id, data FROM conflicts WHERE account_id = ? AND collection_id = ? ORDER BY created_at, id', [accountId, c])));
    }
    return {
      items: new Map(items.map((r) => [r.id, r.data])),
      conflictRecords: kept.map((r) => ({ serverId: r.item_id, data: r.data })),
      currentSeq,
      syncStates,
    };
  }

  /** The account's sends (docs/protocol.md §10.7), read straight from their table. */
  async readMailSends(accountId: string): Promise<Array<{ clientId: string; state: string; messageId: string; sentFolder: string | null }>> {
    const rows = await this.database.select<{ client_id: string; state: string; message_id: string; sent_folder: string | null }>('SELECT client_id, state, message_id, sent_folder FROM mail_sends WHERE account_id = ? ORDER BY client_id', [accountId]);
    return rows.map((r) => ({ clientId: r.client_id, state: r.state, messageId: r.message_id, sentFolder: r.sent_folder }));
  }

  /**
   * The item each resource name a DAV client gave names, by `collection id/name`, read straight from the
   * tables (other items answer to their id and the kind's extension: hub/resources.ts).
   */
  async readDavNames(accountId: string): Promise<Map<string, string>> {
    const rows = await this.database.select<{ collection_id: string; name: string; item_id: string }>('SELECT collection_id, name, item_id FROM dav_names WHERE account_id = ?', [accountId]);
    return new Map(rows.map((r) => [`${r.collection_id}/${r.name}`, r.item_id]));
  }

  async close(): Promise<void> {
    await this.store.close();
    await this.database.drop();
  }

  private async purge(): Promise<void> {
    this.tombstonesPurged += await this.hub.purgeTombstones();
    this.lastPurge = this.ports.clock.now();
  }

  private makePush(): PushHub {
    // No timers: heartbeats are about sockets, which the simulation does not have.
    return new PushHub(new PushTokens(this.store, this.hub.accounts, this.ports.clock, 'sim'), this.ports.logger, this.hub.accounts, { heartbeatMs: 30_000, portionBytes: pushPortionBytes });
  }
}

/** `inner`, keeping the log of the item versions each transaction committed. */
function recordingStore(inner: Store, onCommit: (writes: ServerWrite[]) => void, dead: () => boolean): Store {
  return {
    async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      if (dead()) throw new Error('the server process died');
      const writes: ServerWrite[] = [];
      const result = await inner.transaction((tx) => {
        // A run that PostgreSQL rolled back and runs again (a serialization failure) committed nothing.
        writes.length = 0;
        return fn(recording(tx, writes));
      });
      // Reached only once COMMIT returned: a rolled-back transaction wrote nothing.
      if (writes.length > 0) onCommit(writes);
      return result;
    },
    observeCommits: (observer) => inner.observeCommits(observer),
    tryExclusive: (name, fn) => inner.tryExclusive(name, fn),
    close: () => inner.close(),
  };
}

/**
 * The transaction as is, except that item writes are also noted. A version kept in the history only (what
 * a device sent when the hub stored a merge of it: hub/commands.ts) is noted with the write of the merge,
 * which follows it and names the collection. Other methods pass straight through.
 */
function recording(tx: StoreTx, writes: ServerWrite[]): StoreTx {
  let historyOnly: Omit<ServerWrite, 'collectionId'> | undefined;
  return new Proxy(tx, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === 'putItemVersion') {
        return (serverId: string, seq: number, data: string, etag: string, writtenAt: number, originDevice: string) => {
          historyOnly = { seq, serverId, data, etag, originDevice };
          return value.call(target, serverId, seq, data, etag, writtenAt, originDevice);
        };
      }
      if (property !== 'putItem') return value;
      return (row: ItemRow, ...rest: unknown[]) => {
        if (historyOnly?.serverId === row.id) writes.push({ ...historyOnly, collectionId: row.collectionId });
        historyOnly = undefined;
        writes.push({ seq: row.seq, collectionId: row.collectionId, serverId: row.id, data: row.data, etag: row.etag, originDevice: row.originDevice });
        return value.call(target, row, ...rest);
      };
    },
  });
}
