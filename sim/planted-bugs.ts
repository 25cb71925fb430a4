import { etagOf } from '../src/content/etag.js';
import { Hub } from '../src/hub/hub.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { UpstreamAccess } from '../src/hub/upstreams.js';
import type { Preconditions, ResourceClient } from '../src/hub/resources.js';
import { ProtocolError } from '../src/protocol/errors.js';
import type { ServerSyncPoint } from '../src/protocol/server-point.js';
import type { SyncRequest, SyncResponse } from '../src/protocol/sync.js';
import type { Replica, ReplicaTx } from '../src/sdk/replica.js';
import type { WbxmlElement } from '../src/faces/eas/wbxml/codec.js';
import type { Store, StoreTx } from '../src/store/store.js';
import type { CheckName } from './checkers.js';
import type { HubFactory } from './server.js';
import type { EasRewrite } from './eas-server.js';
import { wrapPoint } from './wrap-point.js';
import { children as wbxmlChildren, child as wbxmlChild, text as wbxmlText } from '../src/faces/eas/wbxml/codec.js';

/**
 * Bugs planted on purpose (`--plant-bug NAME`), to prove the checkers are not blind. Each swaps one
 * component for a version with a mistake the design exists to prevent; nothing in src changes. The hub
 * still runs its own code: a store that answers it wrongly, or that changes what it is told to write,
 * puts the mistake in the real code path (a merge, a conflict record, a duplicate match). Every check
 * has a bug that it alone catches (test/sim.test.ts).
 */
export interface PlantedBug {
  description: string;
  /** Exactly the checks that fail on some seed (the unmodified code passing that seed). */
  caughtBy: readonly CheckName[];
  hub?: HubFactory;
  replica?: (replica: Replica) => Replica;
  /** What reaches the ActiveSync face in place of the phone's request (a request line and its decoded body). */
  easRequest?: EasRewrite;
  /** The upstream's sync point in place of the connector's (dav-upstream.ts). */
  point?: (point: ServerSyncPoint) => ServerSyncPoint;
  /** The world the bug needs (phones, and which requests they make; an upstream); the unmodified code is tried on the same. */
  world?: { easDevices?: number; easVersion?: '14.1' | '16.1'; upstreams?: number };
}

/** What Hub.sync takes after the request: the token an ActiveSync or DAV request came with, and a face's state written with the exchange. */
type HubSyncRest = Parameters<Hub['sync']> extends [string, string, unknown, ...infer Rest] ? Rest : never;

/**
 * A hub that skips the replay path: it forgets what the last exchange's commands did, and its add
 * ledger never remembers an add.
 */
class ForgetfulHub extends Hub {
  constructor(
    private readonly truthStore: Store,
    ports: HubPorts,
    upstreamAccess?: UpstreamAccess,
  ) {
    super(
      {
        transaction: (fn) => truthStore.transaction((tx) => fn({ ...tx, findLedgerAdd: async () => undefined })),
        observeCommits: (observer) => truthStore.observeCommits(observer),
        tryExclusive: (name, fn) => truthStore.tryExclusive(name, fn),
        close: () => truthStore.close(),
      },
      ports,
      upstreamAccess,
    );
  }

  // The rest of the arguments (an ActiveSync request's token and face state) go through as they came.
  override async sync(accountId: string, protocol: string, request: SyncRequest, ...rest: HubSyncRest): Promise<SyncResponse> {
    await this.truthStore.transaction(async (tx) => {
      for (const c of request.collections) {
        const state = await tx.getSyncState(accountId, request.device.id, c.collectionId);
        if (state) await tx.putSyncState({ ...state, lastResults: [] });
      }
    });
    return super.sync(accountId, protocol, request, ...rest);
  }
}

/** A hub whose DAV writes ignore If-Match, as a server without ETag preconditions would: a stale PUT replaces what it never saw. */
class IfMatchBlindHub extends Hub {
  override putResource(client: ResourceClient, collectionId: string, name: string, data: string, preconditions: Preconditions) {
    return super.putResource(client, collectionId, name, data, { ...preconditions, ifMatch: undefined });
  }
}

/** A hub that refuses an exchange carrying more than one delete, as if that were malformed. */
class RefusingHub extends Hub {
  override async sync(accountId: string, protocol: string, request: SyncRequest, ...rest: HubSyncRest): Promise<SyncResponse> {
    const deletes = request.collections.flatMap((c) => c.commands ?? []).filter((c) => c.op === 'delete').length;
    if (deletes > 1) throw new ProtocolError('invalidRequest', 'one delete per request');
    return super.sync(accountId, protocol, request, ...rest);
  }
}

/** A hub whose store never finds the push tokens a device echoes: the server ignores what push delivered. */
class DeafToEchoHub extends Hub {
  constructor(store: Store, ports: HubPorts, upstreamAccess?: UpstreamAccess) {
    super(
      {
        transaction: (fn) => store.transaction((tx) => fn({ ...tx, findPushTokens: async () => [] })),
        observeCommits: (observer) => store.observeCommits(observer),
        tryExclusive: (name, fn) => store.tryExclusive(name, fn),
        close: () => store.close(),
      },
      ports,
      upstreamAccess,
    );
  }
}

/** A hub over the store with some of its transaction's methods replaced. */
function alteredHub(alter: (tx: StoreTx) => Partial<StoreTx>): HubFactory {
  return (store, ports, upstreamAccess) =>
    new Hub(
      {
        transaction: (fn) => store.transaction((tx) => fn({ ...tx, ...alter(tx) })),
        observeCommits: (observer) => store.observeCommits(observer),
        tryExclusive: (name, fn) => store.tryExclusive(name, fn),
        close: () => store.close(),
      },
      ports,
      upstreamAccess,
    );
}

/** A vCard or iCalendar object's main component's properties, by name, as the lines that carry them (the sim writes no folded lines). */
function propertyLines(data: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const line of data.split('\r\n')) {
    const name = /^[A-Z-]+(?=[:;])/.exec(line)?.[0];
    if (name && name !== 'BEGIN' && name !== 'END' && !lines.has(name)) lines.set(name, line);
  }
  return lines;
}

/**
 * A hub whose property merges come out wrong: `mutate(merged, base, truth)` is what gets written in
 * place of the merged version. A merge is the one write the hub makes as itself (no origin device),
 * right after reading the common version (getVersionHeld).
 */
function mergeGoneWrong(mutate: (merged: string, base: Map<string, string>, truth: Map<string, string>) => string): HubFactory {
  return alteredHub((tx) => {
    let base: string | undefined;
    return {
      getVersionHeld: async (accountId, itemId, deviceId, seq, baseSeq) => {
        const held = await tx.getVersionHeld(accountId, itemId, deviceId, seq, baseSeq);
        base = held?.data;
        return held;
      },
      putItem: async (row, writtenAt) => {
        const truth = row.originDevice === null && row.data !== null && base !== undefined ? await tx.getItem(row.accountId, row.collectionId, row.id) : undefined;
        const data = truth?.data && row.data && base !== undefined ? mutate(row.data, propertyLines(base), propertyLines(truth.data)) : row.data;
        return tx.putItem(data === row.data ? row : { ...row, data, etag: etagOf(data as string) }, writtenAt);
      },
    };
  });
}

/** The merged object with `replace(name, line)` applied to every line of its main component: a new line, or null to drop it. */
const rewriteLines = (merged: string, replace: (name: string, line: string) => string | null): string =>
  merged
    .split('\r\n')
    .map((line) => {
      const name = /^[A-Z-]+(?=[:;])/.exec(line)?.[0];
      return name && name !== 'BEGIN' && name !== 'END' ? replace(name, line) : line;
    })
    .filter((line): line is string => line !== null)
    .join('\r\n');

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
    hub: (store, ports, upstreamAccess) => new ForgetfulHub(store, ports, upstreamAccess),
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
    // Every exchange is then an initial sync, and with three collections one of them pages: it never
    // ends, and the device gives up on the run.
    caughtBy: ['run-completes'],
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
    hub: (store, ports, upstreamAccess) => new DeafToEchoHub(store, ports, upstreamAccess),
  },
  'merge-drops-their-property': {
    description: "the three-way merge drops a property only the other device set (the truth has it, the common version does not)",
    caughtBy: ['acknowledged-changes-kept'],
    hub: mergeGoneWrong((merged, base, truth) => rewriteLines(merged, (name, line) => (!base.has(name) && truth.get(name) === line ? null : line))),
  },
  'merge-keeps-incoming': {
    description: "the merge keeps the incoming device's value of a property the other device changed (a plain lost update)",
    caughtBy: ['acknowledged-changes-kept'],
    hub: mergeGoneWrong((merged, base, truth) =>
      rewriteLines(merged, (name, line) => {
        const before = base.get(name);
        return before !== undefined && truth.get(name) === line && before !== line ? before : line;
      }),
    ),
  },
  'priority-win-keeps-nothing': {
    description: 'when an incoming version wins on priority, the version it replaces is not kept as a conflict record',
    caughtBy: ['acknowledged-changes-kept'],
    hub: alteredHub((tx) => ({
      addConflict: async (row) => {
        const replaced = row.reason === 'priority' && (await tx.getItem(row.accountId, row.collectionId, row.itemId))?.data === row.data;
        if (!replaced) await tx.addConflict(row);
      },
    })),
  },
  'delete-win-keeps-nothing': {
    description: 'when a delete wins on priority over an edit, the edited version is not kept as a conflict record',
    caughtBy: ['acknowledged-changes-kept'],
    hub: alteredHub((tx) => ({
      addConflict: async (row) => {
        if (row.reason !== 'deleteLost') await tx.addConflict(row);
      },
    })),
  },
  'twins-by-name-alone': {
    description: 'duplicate detection matches contacts by name alone: two different "John Smith"s with different emails become one',
    caughtBy: ['records-stay-apart'],
    // The store hands the hub every contact of the same name as if it carried the new card's UID.
    hub: alteredHub((tx) => ({
      findTwinCandidates: async (accountId, collectionId, uid, matchName) => {
        const rows = await tx.findTwinCandidates(accountId, collectionId, uid, matchName);
        return uid === null ? rows : rows.map((r) => (matchName !== null && r.matchName === matchName ? { ...r, uid } : r));
      },
    })),
  },
  'dav-ignores-if-match': {
    description: "a DAV PUT ignores its If-Match, so a DAV client's edit of an old version replaces what another device wrote since",
    // Only worlds with a DAV client (two in five) can show it.
    caughtBy: ['acknowledged-changes-kept'],
    hub: (store, ports, upstreamAccess) => new IfMatchBlindHub(store, ports, upstreamAccess),
  },
  'refuse-two-deletes': {
    description: 'the hub refuses, as an invalid request, an exchange that deletes more than one item',
    // The device cannot go on: the run stops there, and no end state is checked.
    caughtBy: ['run-completes'],
    hub: (store, ports, upstreamAccess) => new RefusingHub(store, ports, upstreamAccess),
  },
  'queue-skips-adds-without-uid': {
    description: "the replica's pending queue leaves out new cards without a UID, so they are never sent",
    caughtBy: ['nothing-pending'],
    replica: (replica) =>
      alterTx(replica, (tx) => ({
        pending: (c, limit) => tx.pending(c, Number.MAX_SAFE_INTEGER).filter((i) => !(i.pending === 'add' && i.data !== null && !/^UID:/m.test(i.data))).slice(0, limit),
      })),
  },
  'eas-change-wipes-series': {
    description: "issue 13 D1 back: the ActiveSync face reads a 16.1 calendar Change by the 14.1 rule, so what it leaves out (the recurrence, exceptions, location) is removed",
    caughtBy: ['devices-match-truth'],
    world: { easDevices: 1, easVersion: '16.1' },
    // The face's rule for what a Change leaves out (leftOutMeansUnchanged) is the one of the version it is told.
    easRequest: (line, body) => (line.version.startsWith('16') && easCommands(body).some((c) => c.name === 'Change' && !wbxmlChild(c, 'InstanceId', 'AirSyncBase')) ? { line: { ...line, version: '14.1' }, body } : { line, body }),
  },
  'eas-keeps-last-occurrence-edit': {
    description: 'issue 13 D2 back: of several occurrence edits of one series in one Sync, only the last reaches the item; the others answer success',
    caughtBy: ['devices-match-truth'],
    world: { easDevices: 1, easVersion: '16.1' },
    // Successful edits are not echoed (MS-ASCMD), so edits the face never applies answer as applied.
    easRequest: (line, body) => ({ line, body: withoutEarlierOccurrenceEdits(body) }),
  },
  'upstream-forgets-deletes': {
    description: "the upstream's point forgets the hub's deletes instead of making them: it drops its record of the member as if it had deleted it, and the upstream keeps the contact",
    // The hub, its devices and the history all agree; only the upstream holds what the server does not.
    caughtBy: ['upstream-matches-truth'],
    world: { upstreams: 1 },
    point: (point) =>
      wrapPoint(point, {
        apply: async (outcome, memory) => {
          const deleted = await memory.byServer(outcome.commands.flatMap((c) => (c.op === 'delete' ? [c.serverId] : [])));
          const applied = await point.apply({ ...outcome, commands: outcome.commands.filter((c) => c.op !== 'delete') }, memory);
          return { ...applied, forgotten: [...applied.forgotten, ...deleted.map((r) => r.remoteId)] };
        },
      }),
  },
} satisfies Record<string, PlantedBug>;

/** The commands of every collection of a Sync request. */
function easCommands(body: WbxmlElement | undefined): WbxmlElement[] {
  return wbxmlChildren(wbxmlChild(body, 'Collections'), 'Collection').flatMap((c) => elementsOf(wbxmlChild(c, 'Commands')));
}

const elementsOf = (e: WbxmlElement | undefined) => (e?.children ?? []).filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));

/** The Sync with only the last occurrence edit or delete (InstanceId) of each series in each collection. */
function withoutEarlierOccurrenceEdits(body: WbxmlElement | undefined): WbxmlElement | undefined {
  if (!body || body.name !== 'Sync') return body;
  const rewrite = (e: WbxmlElement): WbxmlElement => {
    if (e.name !== 'Commands') return { ...e, children: e.children.map((c) => (typeof c === 'object' && !(c instanceof Uint8Array) ? rewrite(c) : c)) };
    const commands = elementsOf(e);
    const occurrence = (c: WbxmlElement) => (wbxmlChild(c, 'InstanceId', 'AirSyncBase') ? wbxmlText(wbxmlChild(c, 'ServerId')) : undefined);
    const kept = commands.filter((c, i) => {
      const series = occurrence(c);
      return series === undefined || !commands.slice(i + 1).some((later) => occurrence(later) === series);
    });
    return { ...e, children: kept };
  };
  return rewrite(body);
}

export type PlantedBugName = keyof typeof plantedBugs;

export const isPlantedBug = (name: string): name is PlantedBugName => Object.hasOwn(plantedBugs, name);
