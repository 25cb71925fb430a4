import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub } from '../src/hub/hub.js';
import { PushTokens } from '../src/hub/push-tokens.js';
import type { HubPorts } from '../src/hub/ports.js';
import { PushHub } from '../src/push/push-hub.js';
import { openDatabase } from '../src/sqlite/open.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { ItemRow, Store, StoreTx } from '../src/store/store.js';

/**
 * The simulated server process: the real Hub over the real SQLite store, in a file that outlives
 * restarts. A restart closes the store and opens the file again, so only what was committed survives.
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

export type HubFactory = (store: Store, ports: HubPorts) => Hub;

/** What the server holds once the run is over, read straight from the file and the sync states. */
export interface ServerTruth {
  /** Live items of the simulated collections: data by server id. */
  items: Map<string, string>;
  /** Losing versions the hub kept, by item: what a conflict result promised. */
  conflictRecords: Array<{ serverId: string; data: string }>;
  currentSeq: number;
  /** By `device/collection`. */
  syncStates: Map<string, { syncKey: number; checkpointSeq: number } | undefined>;
}

// A tmpfs keeps thousands of synchronous=FULL commits cheap; durability across restarts only needs
// the file to outlive the connection.
const scratchRoot = writable('/dev/shm') ? '/dev/shm' : tmpdir();

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
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
  private store: Store;
  private lastPurge: number;
  private readonly restartListeners: Array<() => void> = [];
  private readonly dir: string;
  private readonly file: string;

  constructor(
    private readonly ports: HubPorts,
    private readonly makeHub: HubFactory,
    private readonly onCommit: (writes: ServerWrite[]) => void,
  ) {
    this.dir = mkdtempSync(join(scratchRoot, 'syncpoint-sim-'));
    this.file = join(this.dir, 'syncpoint.db');
    this.store = this.openStore();
    this.hub = this.makeHub(this.store, this.ports);
    this.push = this.makePush();
    this.lastPurge = this.ports.clock.now();
  }

  /** Called after each restart (push channels do not survive one). */
  onRestart(listener: () => void): void {
    this.restartListeners.push(listener);
  }

  /** Stop and start again on the same file, tidying up as `serve` does at start-up. */
  async restart(): Promise<void> {
    await this.store.close();
    this.store = this.openStore();
    this.hub = this.makeHub(this.store, this.ports);
    this.push = this.makePush();
    for (const listener of this.restartListeners) listener();
    this.restarts++;
    await this.purge();
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
    const { db, prepare } = openDatabase(this.file);
    try {
      const rows = prepare<[string, string], { id: string; data: string }>(
        'SELECT id, data FROM items WHERE account_id = ? AND collection_id = ? AND deleted_at IS NULL ORDER BY id',
      );
      const kept = prepare<[string, string], { item_id: string; data: string }>(
        'SELECT item_id, data FROM conflicts WHERE account_id = ? AND collection_id = ? ORDER BY created_at, id',
      );
      return {
        items: new Map(collectionIds.flatMap((c) => rows.all(accountId, c)).map((r) => [r.id, r.data])),
        conflictRecords: collectionIds.flatMap((c) => kept.all(accountId, c)).map((r) => ({ serverId: r.item_id, data: r.data })),
        currentSeq,
        syncStates,
      };
    } finally {
      db.close();
    }
  }

  /**
   * The item each resource name a DAV client gave names, by `collection id/name`, read straight from the
   * file (other items answer to their id and the kind's extension: hub/resources.ts).
   */
  readDavNames(accountId: string): Map<string, string> {
    const { db, prepare } = openDatabase(this.file);
    try {
      const rows = prepare<[string], { collection_id: string; name: string; item_id: string }>('SELECT collection_id, name, item_id FROM dav_names WHERE account_id = ?').all(accountId);
      return new Map(rows.map((r) => [`${r.collection_id}/${r.name}`, r.item_id]));
    } finally {
      db.close();
    }
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async purge(): Promise<void> {
    this.tombstonesPurged += await this.hub.purgeTombstones();
    this.lastPurge = this.ports.clock.now();
  }

  private makePush(): PushHub {
    // No timers: heartbeats are about sockets, which the simulation does not have.
    return new PushHub(new PushTokens(this.store, this.hub.accounts, this.ports.clock, 'sim'), this.ports.logger, this.hub.accounts, { heartbeatMs: 30_000, portionBytes: pushPortionBytes });
  }

  private openStore(): Store {
    const inner = openSqliteStore(this.file);
    const onCommit = this.onCommit;
    return {
      async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
        const writes: ServerWrite[] = [];
        const result = await inner.transaction((tx) => fn(recording(tx, writes)));
        // Reached only once COMMIT returned: a rolled-back transaction wrote nothing.
        if (writes.length > 0) onCommit(writes);
        return result;
      },
      observeCommits: (observer) => inner.observeCommits(observer),
      tryExclusive: (name, fn) => inner.tryExclusive(name, fn),
      close: () => inner.close(),
    };
  }
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
