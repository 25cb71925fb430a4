import { actionFacts, deriveAction, type Action } from '../core/action-table.js';
import { assert } from '../core/assert.js';
import { limits } from '../core/limits.js';
import {
  advanceKey,
  classifySyncKey,
  noteReinit,
  reachedCheckpoint,
  startingPoint,
  type Checkpoint,
} from '../core/sync-key.js';
import { RuleBudget } from '../content/recurrence-budget.js';
import { truncateUtf8 } from '../content/utf8.js';
import { limitReached, ProtocolError } from '../protocol/errors.js';
import { mergeRanges } from '../protocol/push.js';
import type { ClientCommand, CollectionRequest, CollectionResponse, ServerCommand, SyncOptions, SyncRequest, SyncResponse } from '../protocol/sync.js';
import { assertSupportedVersion, protocolVersion } from '../protocol/version.js';
import type { ChangeRow, DeviceRow, Store, StoreTx } from '../store/store.js';
import { answerFetches, applyClientCommands, type AppliedCommands, type HubClientCommand } from './commands.js';
import { deviceErrorsKept, noteExchange } from './health.js';
import { accountLimit, type HubPorts } from './ports.js';
import { ResponseBudget } from './response-budget.js';

/**
 * One sync exchange (docs/design.md § Sync keys, § The sync message, § The echo): every collection of the request is handled inside a single
 * store transaction, and the response is built only from what that transaction committed, so nothing
 * is acknowledged before it is durable.
 */
/**
 * A collection request as a face hands it to the hub, with its commands' hub-only marks (HubClientCommand).
 * `narrowReplay`: the face has seen the device send this key again and again without taking the answer
 * (ActiveSync loop detection, faces/eas/commands/sync-loops.ts), so a replay may stop short of the answer
 * it replaces, at `windowSize`. `reportedOnce`: a server-driven point's (server-driven.ts), whose report is
 * kept with its records in the exchange's own transaction, so a retry of the exchange never carries it
 * again: an add the retry leaves out is not a withdrawal. Being the items' source, it writes what a
 * kind forbids devices to (Kind.deviceWrites). `keepsIdleKey`: the native protocol's rule that an
 * exchange moving nothing either way keeps its key and writes nothing (docs/protocol.md §5.1, idleExchange).
 */
export type HubCollectionRequest = Omit<CollectionRequest, 'commands'> & { commands?: HubClientCommand[]; narrowReplay?: boolean; reportedOnce?: boolean; keepsIdleKey?: boolean };
export type HubSyncRequest = Omit<SyncRequest, 'collections'> & { collections: HubCollectionRequest[] };

/**
 * A face's own state for the device (device-items.ts withFaceState) that follows from an exchange's
 * answer, written in the exchange's transaction: `update` gets the answered collections and the state
 * as stored, and returns the new one (the same: nothing is written). It may run more than once, if the
 * transaction is retried.
 */
export interface ExchangeFaceState {
  key: string;
  update(collections: readonly CollectionResponse[], stored: string | undefined): string | undefined;
}

export async function runSyncExchange(
  store: Store,
  ports: HubPorts,
  accountId: string,
  protocol: string,
  request: HubSyncRequest,
  tokenId?: string,
  faceState?: ExchangeFaceState,
): Promise<SyncResponse> {
  try {
    assertSupportedVersion(request.version);
    if (request.collections.length > limits.collectionsPerRequestMax) {
      throw new ProtocolError('invalidRequest', `at most ${limits.collectionsPerRequestMax} collections per request`);
    }
    for (const c of request.collections) {
      if ((c.commands?.length ?? 0) > limits.commandsPerCollectionMax) {
        throw new ProtocolError('invalidRequest', `at most ${limits.commandsPerCollectionMax} commands per collection`);
      }
    }
    const seen = new Set<string>();
    for (const c of request.collections) {
      if (seen.has(c.collectionId)) throw new ProtocolError('invalidRequest', `collection ${c.collectionId} appears twice`);
      seen.add(c.collectionId);
    }
    const rules = budgetOf(request.collections.map((c) => c.commands ?? []));
    return await store.transaction(async (tx) => {
      const exchange = await openExchange(tx, ports, accountId, { ...request.device, tokenId }, protocol);
      const collections = await syncCollections(exchange, request.collections, rules);
      await noteExchange(tx, accountId, exchange.deviceId, exchange.now, collections);
      if (faceState) {
        const stored = await tx.getFaceState(accountId, exchange.deviceId, faceState.key);
        const state = faceState.update(collections, stored);
        if (state !== stored) await tx.putFaceState(accountId, exchange.deviceId, faceState.key, state);
      }
      return { version: protocolVersion, status: 'ok', collections };
    });
  } catch (err) {
    // The exchange rolled back; a device the hub knows still gets the refusal on its health record.
    if (err instanceof ProtocolError) {
      await store.transaction(async (tx) => {
        if (await tx.getDevice(accountId, request.device.id)) {
          await tx.addDeviceError(accountId, request.device.id, { at: ports.clock.now(), status: err.status, message: err.message }, deviceErrorsKept);
        }
      });
    }
    throw err;
  }
}

/** One budget for evaluating the content of a whole request, linear in the item data it carries (docs/architecture.md). */
export function budgetOf(commandLists: ReadonlyArray<readonly ClientCommand[]>): RuleBudget {
  let bytes = 0;
  for (const commands of commandLists) for (const command of commands) if ('data' in command) bytes += Buffer.byteLength(command.data, 'utf8');
  return RuleBudget.forRequest(bytes);
}

/** Registers the sync point (or notes that it was seen) and gathers what its exchange needs. */
export async function openExchange(
  tx: StoreTx,
  ports: HubPorts,
  accountId: string,
  who: SyncPointWho,
  protocol: string,
): Promise<Exchange> {
  // The device alone, counting the account's only for a new one: an account may have thousands of
  // devices (ActiveSync phones), and their priorities are read only when a conflict needs them.
  const known = await tx.getDevice(accountId, who.id);
  const device = await noteDevice(tx, ports, accountId, who, protocol, known ?? (await countDevices(tx, accountId)));
  let priorities: Promise<ReadonlyMap<string, number>> | undefined;
  const prioritiesOnce = () => (priorities ??= tx.listDevices(accountId).then((all) => new Map(all.map((d) => [d.id, d.priority]))));
  return { tx, ports, accountId, deviceId: who.id, now: device.lastSeenAt, priorities: prioritiesOnce, budget: new ResponseBudget() };
}

/** How many sync points the account has, of every protocol. */
export async function countDevices(tx: StoreTx, accountId: string): Promise<number> {
  return Object.values(await tx.countDevices(accountId)).reduce((a, b) => a + b, 0);
}

/** A sync point as it names itself. */
export type SyncPointWho = { id: string; name?: string | undefined; tokenId?: string | undefined; defaultName?: string | undefined };

/**
 * Registers the sync point, or notes that it was seen. `known`: its row when the account has it, else
 * how many sync points the account has: a new one counts against the account's limit
 * (docs/configuration.md § Per-account limits) and goes last in the priority order (priorities are
 * edited through the device API).
 */
export async function noteDevice(tx: StoreTx, ports: HubPorts, accountId: string, who: SyncPointWho, protocol: string, known: DeviceRow | number): Promise<DeviceRow> {
  const now = ports.clock.now();
  const device = typeof known === 'number' ? undefined : known;
  if (typeof known === 'number') {
    const max = accountLimit(ports, 'devicesPerAccountMax');
    if (known >= max) throw limitReached('devicesPerAccountMax', max, `the account has as many sync points as it may, so ${who.id} cannot be added; revoke one first`);
  }
  const row: DeviceRow = {
    accountId,
    id: who.id,
    name: who.name ?? device?.name ?? who.defaultName ?? who.id,
    protocol,
    priority: device ? device.priority : (known as number),
    createdAt: device?.createdAt ?? now,
    lastSeenAt: now,
    tokenId: who.tokenId ?? null,
  };
  // The last-seen time is kept to limits.lastSeenResolutionMs, so a device polling more often than that
  // does not write it each time (docs/protocol.md §16).
  const same = device && device.name === row.name && device.protocol === protocol && device.tokenId === row.tokenId;
  if (!same || now - device.lastSeenAt >= limits.lastSeenResolutionMs) await tx.putDevice(row);
  return row;
}

function emptyResponse(c: CollectionRequest): CollectionResponse {
  return { collectionId: c.collectionId, status: 'ok', syncKey: 0, seq: 0, moreAvailable: false, commands: [], results: [], fetched: [] };
}

export interface Exchange {
  tx: StoreTx;
  ports: HubPorts;
  accountId: string;
  deviceId: string;
  now: number;
  /** Device priorities of the account, for conflicts: read at the first call, within the exchange's transaction. */
  priorities(): Promise<ReadonlyMap<string, number>>;
  /** What the response may still carry (response-budget.ts). */
  budget: ResponseBudget;
}

/**
 * The collections of one exchange: the commands and window of each, in request order, then the fetches
 * of all of them. Windows draw on the response budget before any fetch does, so a replayed request
 * (docs/protocol.md §5.3) cuts each window where the answer it replaces did, whatever its fetches cost.
 */
export async function syncCollections(exchange: Exchange, requests: readonly HubCollectionRequest[], rules: RuleBudget): Promise<CollectionResponse[]> {
  const responses: CollectionResponse[] = [];
  for (const c of requests) responses.push(await syncCollection(exchange, c, rules));
  for (const [i, c] of requests.entries()) {
    const response = responses[i] as CollectionResponse;
    if (response.status !== 'ok' || !c.commands?.some((command) => command.op === 'fetch')) continue;
    const answered = await answerFetches(exchange.tx, exchange.accountId, response.collectionId, c.commands, exchange.budget);
    response.results = [...response.results, ...answered.results].sort((a, b) => a.index - b.index);
    response.fetched = answered.fetched;
  }
  return responses;
}

async function syncCollection(exchange: Exchange, c: HubCollectionRequest, rules: RuleBudget): Promise<CollectionResponse> {
  const { tx, ports, accountId, deviceId, now } = exchange;
  // Four independent reads, asked together (one round trip on PostgreSQL); all are scoped to the account.
  const [collection, state, floor, seq] = await Promise.all([
    tx.getCollection(accountId, c.collectionId),
    tx.getSyncState(accountId, deviceId, c.collectionId),
    tx.tombstoneFloor(accountId),
    tx.currentSeq(accountId),
  ]);
  // Another account's collection is indistinguishable from one that does not exist.
  if (!collection) return { ...emptyResponse(c), status: 'notFound', message: 'no such collection' };
  const decision = classifySyncKey(c.syncKey, state, floor);
  if (decision.kind === 'invalid') {
    ports.logger.info({ accountId, deviceId, collectionId: collection.id, sent: c.syncKey, reason: decision.reason }, 'invalid sync key');
    const message =
      decision.reason === 'expired'
        ? 'this sync key is older than the tombstone retention horizon; re-initialize with key 0'
        : 'unknown sync key; re-initialize with key 0';
    return { ...emptyResponse(c), status: 'invalidSyncKey', message };
  }
  const { from, until, resumesInitial } = startingPoint(decision, state, floor, seq);

  let reinitTimes = state?.reinitTimes ?? [];
  let looping = false;
  if (decision.kind === 'initial' && state) {
    ({ times: reinitTimes, looping } = noteReinit(reinitTimes, now));
    if (looping) ports.logger.warn({ accountId, deviceId, collectionId: collection.id, reinitTimes }, 'device is stuck re-initializing this collection');
  }

  // The echo (docs/design.md § The echo): the item versions the device holds from push notices, by the tokens it echoed. A token
  // for a change its checkpoint covers that it did not echo is spent: the device holds it from a sync
  // or will drop the late notice as old news. Echoed ones are kept until an answer covering them is
  // confirmed, so a replay of this exchange still finds them.
  // The echo is merged first: a thousand copies of one range cost what one does.
  const echoed = await tx.findPushTokens(accountId, deviceId, collection.id, mergeRanges(c.tokens ?? []));
  const held = new Map<string, number>();
  for (const t of echoed) held.set(t.itemId, Math.max(t.seq, held.get(t.itemId) ?? 0));
  if (decision.kind !== 'initial') await tx.releasePushTokens(accountId, deviceId, collection.id, from.seq, echoed.map((t) => t.token));

  // Commands of a retried exchange are matched against what its first attempt did.
  const retried = state !== undefined && c.syncKey === state.lastSentKey;
  const applied = await applyClientCommands(
    { tx, ports, collection, deviceId, from, held, priorities: exchange.priorities, rules, serverDriven: c.reportedOnce === true },
    c.commands ?? [],
    state?.lastResults ?? [],
    retried,
    c.reportedOnce !== true,
  );
  const changes =
    c.getChanges === false ? { commands: [], moreAvailable: false, reached: from } : await serverChanges(exchange, c, from, until, held, applied);
  const { commands, moreAvailable, reached } = changes;
  if (c.keepsIdleKey && state && decision.kind === 'current' && (c.commands?.length ?? 0) === 0 && echoed.length === 0 && commands.length === 0 && !moreAvailable) {
    if (idleExchange(state, now)) return { collectionId: collection.id, status: 'ok', syncKey: c.syncKey, seq: from.seq, moreAvailable: false, commands: [], results: [], fetched: [] };
  }
  const next = advanceKey(decision, c.syncKey, state, from, reached, resumesInitial);
  await tx.putSyncState({
    accountId,
    deviceId,
    collectionId: collection.id,
    syncKey: next.syncKey,
    checkpoint: next.checkpoint,
    previous: next.previous,
    lastSentKey: c.syncKey,
    lastResults: applied.recorded,
    reinitTimes,
    updatedAt: now,
  });
  const response: CollectionResponse = {
    collectionId: collection.id,
    status: 'ok',
    syncKey: next.syncKey,
    seq: reached.seq,
    moreAvailable,
    commands,
    results: applied.results,
    fetched: [],
  };
  if (looping) response.warning = 'reinitLoop';
  return response;
}

/**
 * An exchange that sent nothing, received nothing and echoed nothing keeps its key, and the position
 * behind it stays where it is: nothing of this collection lies between it and now, so the same key asks
 * for the same thing next time. Nothing is written, so polling costs no durable write (docs/protocol.md
 * §5.1). Not while an initial sync is under way (`baseSeq` ahead of `seq`); not right after one (the
 * last exchange sent key 0), since a key-0 request is taken for a retry of the initial sync until a keyed
 * exchange is recorded (startingPoint); and not when the position was last written `idleKeyRefreshMs` ago
 * or more: it must stay far ahead of the tombstone purge horizon, which deletes in the account's other
 * collections raise too (classifySyncKey's `expired`).
 */
function idleExchange(state: { checkpoint: Checkpoint; lastSentKey: number; updatedAt: number }, now: number): boolean {
  return state.checkpoint.seq >= state.checkpoint.baseSeq && state.lastSentKey !== 0 && now - state.updatedAt < limits.idleKeyRefreshMs;
}

/**
 * The server's side of the exchange: what the device's action table holds after `from`, one window of
 * it, and where that leaves the device. A replay (`until`) answers for the same span as the answer it
 * replaces, never further: a late copy of an old request must not move the device past changes it has
 * not received. A version the device holds from a push notice (`held`) counts as sent.
 */
async function serverChanges(
  { tx, accountId, deviceId, budget }: Exchange,
  c: HubCollectionRequest,
  from: Checkpoint,
  until: Checkpoint | undefined,
  held: ReadonlyMap<string, number>,
  { deletedSince, resend }: Pick<AppliedCommands, 'deletedSince' | 'resend'>,
): Promise<{ commands: ServerCommand[]; moreAvailable: boolean; reached: Checkpoint }> {
  // A replay covers the whole span of the answer it replaces, whatever window it asks for: the device
  // may hold that answer (an ActiveSync phone's empty Sync and its retry in full ask for different
  // windows), and the key it sends next must mean the same place either way (sim seed 9200612). Only a
  // device known to be stuck on the answer gets a narrower one.
  const window = until && !c.narrowReplay ? limits.windowItemsMax : Math.min(c.windowSize ?? limits.windowItemsDefault, limits.windowItemsMax);
  const query = { accountId, collectionId: c.collectionId, deviceId, ...timeRangeOf(c.options) };
  const span = { ...query, checkpoint: from, ...(until ? { untilSeq: until.seq } : {}) };
  // The window also ends where the response budget does, decided from the rows' sizes before any data
  // is read. Every listed row counts, whatever its action, so the cut depends on the rows alone and a
  // replay, whose rows are those of the lost answer still unchanged, reaches the same place.
  const sizes = await tx.listChangeSizes({ ...span, limit: window + 1 });
  const costOf = (bytes: number) => Math.min(bytes, c.options?.bodyBytesMax ?? bytes);
  let fitting = 0;
  while (fitting < Math.min(window, sizes.length) && budget.take(costOf((sizes[fitting] as { bytes: number }).bytes))) fitting++;
  const last = sizes[fitting - 1];
  const sent = last ? await tx.listChanges({ ...span, limit: fitting, untilSeq: last.seq }) : [];
  assert(sent.length === fitting, 'sizes and rows of one listing agree');
  const commands = sent.flatMap((row) => toServerCommand(row, deriveAction(actionFacts(row), from, deviceId, held.get(row.id)), c.options));
  const told = new Set(commands.map((command) => command.serverId));
  const listed = new Set(sent.map((row) => row.id));
  // A held version that is not the truth's, and that the listing will never reach: the checkpoint has
  // passed the truth's version (the device applied the notice after sending the request that moved
  // it), or the truth is a delete from before an initial sync began, which the listing leaves out.
  for (const [itemId, seq] of held) {
    if (listed.has(itemId)) continue;
    const item = await tx.getItem(accountId, c.collectionId, itemId);
    const listedLater = item !== undefined && item.seq > from.seq && (item.deletedAt === null || item.seq > from.baseSeq);
    if (item && (item.seq === seq || listedLater)) continue;
    told.add(itemId);
    commands.push(...(item ? toServerCommand(item, item.deletedAt === null ? 'UPDATE' : 'DELETE', c.options) : [{ op: 'delete' as const, serverId: itemId }]));
  }
  for (const id of deletedSince) if (!told.has(id)) commands.push({ op: 'delete', serverId: id });
  for (const id of resend) {
    const item = told.has(id) ? undefined : await tx.getItem(accountId, c.collectionId, id);
    if (item && item.deletedAt === null) commands.push(...toServerCommand(item, 'UPDATE', c.options));
  }
  const moreAvailable = sizes.length > fitting;
  if (!moreAvailable && until) {
    return { commands, reached: until, moreAvailable: (await tx.countChanges({ ...query, checkpoint: until, limit: 1 })) > 0 };
  }
  const reached = reachedCheckpoint(from, moreAvailable, sent[sent.length - 1]?.seq ?? from.seq, await tx.currentSeq(accountId));
  return { commands, moreAvailable, reached };
}

function timeRangeOf(options: SyncOptions | undefined): { timeRange?: { startMs: number; endMs: number } } {
  const range = options?.timeRange;
  if (!range) return {};
  const startMs = Date.parse(range.start);
  const endMs = Date.parse(range.end);
  if (!(endMs > startMs)) throw new ProtocolError('invalidRequest', 'options.timeRange.end must be after its start');
  return { timeRange: { startMs, endMs } };
}

/** A row's pending action as the server command that carries it out (none for NO_CHANGE). */
function toServerCommand(row: ChangeRow, action: Action, options: SyncOptions | undefined): ServerCommand[] {
  if (action === 'NO_CHANGE') return [];
  if (action === 'DELETE') return [{ op: 'delete', serverId: row.id }];
  assert(row.data !== null && row.deletedAt === null, 'ADD and UPDATE carry live data');
  const op = action === 'ADD' ? 'add' : 'change';
  const cap = options?.bodyBytesMax;
  const size = Buffer.byteLength(row.data, 'utf8');
  if (cap !== undefined && size > cap) {
    return [{ op, serverId: row.id, data: truncateUtf8(row.data, cap), etag: row.etag, truncated: true, size }];
  }
  return [{ op, serverId: row.id, data: row.data, etag: row.etag }];
}
