import { limits } from '../core/limits.js';
import { toRanges, type ChangeNotice } from '../protocol/push.js';
import type { ClientCommand, CollectionResponse, CommandResult, ServerCommand, SyncOptions, TokenRange } from '../protocol/sync.js';
import { protocolVersion } from '../protocol/version.js';
import { newLocalItem, type LocalItem, type Replica, type ReplicaTx } from './replica.js';
import { RetryableError, type Transport } from './transport.js';

/**
 * The client side of the sync-key protocol:
 *   - each exchange sends the stored key and the pending local edits;
 *   - the whole response and the new key are committed to the replica in one transaction, after
 *     everything in it has been applied;
 *   - a failed exchange is retried with the same key and the same commands, which the server answers
 *     by replaying (so nothing is applied twice);
 *   - "invalid sync key" re-initializes with key 0 without losing local edits;
 *   - moreAvailable is followed until the collection is done.
 * Conflicts are the server's to resolve (docs/design.md § Concurrent changes): a "conflict" result means the server kept another
 * version and stored this one as a conflict record; the client then takes the truth it is sent. A local
 * edit of an item the server no longer knows at all is re-added, so no edit is dropped silently.
 */

/** The horizon while a re-initialization is under way: every push notice is old news until it ends. */
const reinitializing = Number.MAX_SAFE_INTEGER;

/**
 * Items per response a client asks for unless told otherwise: the most the server sends (limits.windowItemsMax;
 * its response budget still ends a page of large items early). Each page costs a round trip and a durable
 * commit on both sides, so a download goes in as few as the server allows (docs/design.md § Speed).
 */
export const windowSizeDefault = 1000;

export interface SyncClientOptions {
  transport: Transport;
  replica: Replica;
  device: { id: string; name?: string };
  /** Items per response the client asks for. */
  windowSize?: number;
  /** Commands sent per exchange (the server takes at most `itemsPerRequestMax` adds and changes, docs/protocol.md §6); the rest go in the next one. */
  commandsMax?: number;
  options?: SyncOptions;
  /** False for a sync point that only uploads (an import): the server then sends no changes. */
  getChanges?: boolean;
  /** Called after each committed exchange. */
  onProgress?: (summary: SyncSummary) => void;
  /** Name for an item first seen from the server (the CLI turns it into a file name). */
  localIdFor?: (serverId: string) => string;
  /** Retry policy for RetryableError: attempts, and capped exponential backoff with full jitter. */
  retry?: { attemptsMax: number; delayMsBase: number; delayMsMax: number };
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1); only used for backoff jitter. */
  random?: () => number;
  /** Exchanges per syncCollection() call, so a server that never finishes cannot spin a client forever. */
  exchangesMax?: number;
}

export interface SyncSummary {
  exchanges: number;
  retries: number;
  sent: number;
  received: number;
  reinitialized: boolean;
  /** Local items the server refused, with its reason. */
  rejected: Array<{ localId: string; status: string; message: string }>;
  /** Local edits that lost a conflict; the server keeps each as a conflict record. */
  conflicts: Array<{ localId: string; message: string }>;
}

/**
 * What applyNotice did: `applied`; `duplicate` (the replica had this very version); `stale` (it had a
 * newer one, or a sync already covered it); `deferred` (a local edit of the item waits to be sent);
 * `untracked` (the collection has not been synced here yet); `partial` (fetch the remainder first).
 */
export type NoticeOutcome = 'applied' | 'duplicate' | 'stale' | 'deferred' | 'untracked' | 'partial';

export class SyncClient {
  private readonly o: Required<Omit<SyncClientOptions, 'options'>> & { options: SyncOptions | undefined };
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: SyncClientOptions) {
    this.o = {
      windowSize: windowSizeDefault,
      commandsMax: limits.itemsPerRequestMax,
      localIdFor: (serverId) => serverId,
      retry: { attemptsMax: 8, delayMsBase: 200, delayMsMax: 10_000 },
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
      exchangesMax: 100_000,
      getChanges: true,
      onProgress: () => undefined,
      options: undefined,
      ...options,
    };
  }

  /**
   * Bring one collection in line with the server, both ways. Calls for the same collection run one
   * after another (a push subscriber, a save and a timer may all ask at once); each starts only when the
   * one before it has settled, so no two exchanges of a collection are ever in flight together.
   */
  syncCollection(collectionId: string): Promise<SyncSummary> {
    return this.fetchItems(collectionId, []);
  }

  /**
   * A sync of the collection that also fetches these items whole (docs/protocol.md §8) and stores them
   * as the server's version. A fetch the server answers `deferred` (its response was full) goes out
   * again in the next exchange, until each is answered.
   */
  fetchItems(collectionId: string, serverIds: readonly string[]): Promise<SyncSummary> {
    const run = (this.queues.get(collectionId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.runSync(collectionId, new Set(serverIds)));
    this.queues.set(collectionId, run);
    return run;
  }

  private async runSync(collectionId: string, wanted: Set<string>): Promise<SyncSummary> {
    const summary: SyncSummary = { exchanges: 0, retries: 0, sent: 0, received: 0, reinitialized: false, rejected: [], conflicts: [] };
    for (let exchange = 0; exchange < this.o.exchangesMax; exchange++) {
      // An exchange that got no answer is sent again exactly as it was (after a restart too), so the
      // server can recognize it; only then do new edits go out. An initial sync (key 0) only downloads:
      // edits wait for the first keyed exchange, where a late copy of the request can never be taken
      // for a new one (a key-0 request always can).
      const { syncKey, commands, resent, tokens } = this.o.replica.transaction((tx) => {
        const key = tx.syncKey(collectionId);
        // The echo (docs/design.md § The echo): the push notices applied here, so the server does not send them again. The
        // oldest ranges go first if there are more than a request may carry; the rest wait their turn.
        const all = tx.heldTokens(collectionId);
        const last = toRanges(all).slice(0, limits.tokenRangesMax).pop()?.to ?? 0;
        const held = all.filter((t) => t <= last);
        // A first sync is a sync from scratch too: a notice older than its last page may name a token the
        // server has purged (it keeps none for a collection the device never synced), so none is applied
        // until then; the sync itself brings what they carried (docs/protocol.md §5.4; sim seed 1601400).
        if (key === 0 && tx.horizon(collectionId) === 0) tx.setHorizon(collectionId, reinitializing);
        if (key === 0) return { syncKey: key, commands: [], resent: false, tokens: held };
        const inflight = tx.inflight(collectionId);
        const edits = inflight ? [] : toCommands(tx.pending(collectionId, this.o.commandsMax));
        const fetches = [...wanted].slice(0, this.o.commandsMax - edits.length).map((serverId): ClientCommand => ({ op: 'fetch', serverId }));
        const batch = inflight ?? [...edits, ...fetches];
        // An empty batch is not kept: there is nothing to send again exactly, and a retry that carries
        // edits made since is answered as new commands (docs/protocol.md §5.3). Not keeping it spares
        // every page of a download and every idle sync a durable write.
        if (!inflight && batch.length > 0) tx.setInflight(collectionId, batch);
        return { syncKey: key, commands: batch, resent: inflight !== null, tokens: held };
      });
      const response = await this.exchange(collectionId, syncKey, commands, toRanges(tokens), summary);
      summary.exchanges++;
      if (response.status === 'invalidSyncKey') {
        if (syncKey === 0) throw new Error(`server refused key 0 for ${collectionId}: ${response.message ?? ''}`);
        this.o.replica.transaction((tx) => reinitialize(tx, collectionId));
        summary.reinitialized = true;
        continue;
      }
      if (response.status !== 'ok') throw new Error(`collection ${collectionId}: ${response.status} ${response.message ?? ''}`);
      const pendingRemain = this.o.replica.transaction((tx) => {
        applyResults(tx, collectionId, commands, response.results, summary);
        for (const command of response.commands) {
          // A push notice that overtook this answer brought a newer version than the answer's.
          if ((tx.knownSeq(collectionId, command.serverId) ?? 0) > response.seq) continue;
          applyServerCommand(tx, collectionId, command, this.o.localIdFor);
        }
        for (const item of response.fetched) {
          // As for server commands: a notice past the answer's position may be newer; later pages bring the truth.
          if ((tx.knownSeq(collectionId, item.serverId) ?? 0) > response.seq) continue;
          applyServerCommand(tx, collectionId, { op: 'change', serverId: item.serverId, data: item.data, etag: item.etag }, this.o.localIdFor);
        }
        const before = tx.horizon(collectionId);
        // A re-initialization ends with its last page; until then every notice is old news (below).
        const horizon = before === reinitializing ? (response.moreAvailable ? before : response.seq) : Math.max(before, response.seq);
        // Only what changed is written: an exchange that moved nothing (the server kept its key,
        // docs/protocol.md §5.1) leaves the replica as it was, with no durable write.
        if (horizon !== before) tx.setHorizon(collectionId, horizon);
        tx.forgetKnownSeqs(collectionId, horizon);
        // A token echoed here is spent once the last page of the answer covers its change; until then
        // every page echoes it (an initial sync skips deletes from before it began unless it knows the
        // device holds the item). One applied while this exchange was in flight goes out next time.
        if (!response.moreAvailable) tx.releaseTokens(collectionId, tokens, response.seq);
        // The end of an initial sync: whatever it did not re-deliver is gone from the server.
        if (!response.moreAvailable) tx.dropStale(collectionId);
        if (response.syncKey !== syncKey) tx.setSyncKey(collectionId, response.syncKey);
        // A batch is answered (or, after a re-initialization, moot) once this commits. Only the adds of
        // items deleted or edited here while they were in flight must still go out as they were sent:
        // the server knows the item such an add may have made by its content alone, and the delete or
        // edit then goes to that item, naming the version it was made from (docs/protocol.md §5.3, §15).
        const stillNeeded = syncKey === 0 ? (tx.inflight(collectionId) ?? []).filter((c) => isChangedInFlight(tx, collectionId, c)) : [];
        tx.setInflight(collectionId, stillNeeded.length > 0 ? stillNeeded : null);
        return tx.pending(collectionId, 1).length > 0;
      });
      summary.sent += commands.length;
      summary.received += response.commands.length + response.fetched.length;
      for (const result of response.results) if (result.op === 'fetch' && result.status !== 'deferred' && result.serverId) wanted.delete(result.serverId);
      this.o.onProgress(summary);
      // A full batch or a resent one may have left more to send; edits made while an exchange was in
      // flight wait for the next syncCollection() call.
      if (!response.moreAvailable && wanted.size === 0 && !((commands.length === this.o.commandsMax || resent || syncKey === 0) && pendingRemain)) return summary;
    }
    throw new Error(`collection ${collectionId} did not settle within ${this.o.exchangesMax} exchanges`);
  }

  /**
   * Applies a push notice (docs/design.md § Push notices) to the replica, unless the replica already has that version or a
   * newer one, or holds a local edit of the item (the sync resolves that one). Only an applied or
   * duplicate notice's token is kept for the echo; every other change reaches the replica by sync.
   * A split notice must be completed (its remainder fetched) before it can be applied.
   */
  applyNotice(notice: ChangeNotice): NoticeOutcome {
    const { collectionId: c, command, token, seq } = notice;
    return this.o.replica.transaction((tx) => {
      if (tx.syncKey(c) === 0) return 'untracked';
      if (command.op !== 'delete' && command.truncated) return 'partial';
      if (seq <= tx.horizon(c)) return 'stale';
      const known = tx.knownSeq(c, command.serverId);
      if (known !== undefined && known >= seq) return known === seq ? 'duplicate' : 'stale';
      const item = tx.byServerId(c, command.serverId);
      // The delete of an item this replica does not hold changes nothing here, and is not held either:
      // an Add in flight may yet turn out to have made that very item, and then the sync must say so.
      if (command.op === 'delete' && !item) return 'duplicate';
      const inFlight = tx.inflight(c)?.some((sent) => sent.op !== 'add' && sent.serverId === command.serverId) ?? false;
      if ((item && item.pending !== null) || inFlight) return 'deferred';
      // By content, not etag: after a merge the server answers with the merged version's etag while
      // this replica still holds its own data, until the merged version arrives.
      const same = item !== undefined && item.data === (command.op === 'delete' ? null : command.data);
      // A stale item (a re-initialization is under way) is confirmed by the notice as by a sync.
      if (!same || item.stale) applyServerCommand(tx, c, command, this.o.localIdFor);
      tx.setKnownSeq(c, command.serverId, seq);
      tx.holdToken(c, token, seq);
      return same ? 'duplicate' : 'applied';
    });
  }

  /** One exchange, retried with the same key and commands until it gets an answer. */
  private async exchange(collectionId: string, syncKey: number, commands: ClientCommand[], tokens: TokenRange[], summary: SyncSummary): Promise<CollectionResponse> {
    const request = {
      version: protocolVersion,
      device: this.o.device,
      collections: [
        {
          collectionId,
          syncKey,
          windowSize: this.o.windowSize,
          getChanges: this.o.getChanges,
          commands,
          ...(tokens.length > 0 ? { tokens } : {}),
          ...(this.o.options ? { options: this.o.options } : {}),
        },
      ],
    };
    const { attemptsMax, delayMsBase, delayMsMax } = this.o.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.o.transport.sync(request);
        const collection = response.collections.find((c) => c.collectionId === collectionId);
        if (!collection) throw new RetryableError(`response has no answer for collection ${collectionId}`);
        return collection;
      } catch (err) {
        if (!(err instanceof RetryableError) || attempt >= attemptsMax) throw err;
        summary.retries++;
        await this.o.sleep(this.o.random() * Math.min(delayMsMax, delayMsBase * 2 ** (attempt - 1)));
      }
    }
  }
}

function isChangedInFlight(tx: ReplicaTx, collectionId: string, command: ClientCommand): boolean {
  if (command.op !== 'add') return false;
  const item = tx.get(collectionId, command.clientId);
  return item !== undefined && item.serverId === null && item.pending !== null && item.data !== command.data;
}

function toCommands(items: LocalItem[]): ClientCommand[] {
  const commands: ClientCommand[] = [];
  for (const item of items) {
    if (item.pending === 'add' && item.data !== null) commands.push({ op: 'add', clientId: item.localId, data: item.data });
    else if (item.pending === 'change' && item.serverId !== null && item.data !== null) {
      // The etag names the version the edit (or delete, below) was made from: a version the server
      // sent meanwhile, which this replica kept out because of the edit, makes it a concurrent change.
      commands.push({ op: 'change', serverId: item.serverId, data: item.data, ...(item.etag !== null ? { etag: item.etag } : {}) });
    } else if (item.pending === 'delete' && item.serverId !== null) commands.push({ op: 'delete', serverId: item.serverId, ...(item.etag !== null ? { etag: item.etag } : {}) });
  }
  return commands;
}

/**
 * Re-initialization: the server forgot (or never had) this device's state. Local edits stay pending.
 * Clean items are kept but marked stale; the initial sync re-delivers each one the server still has,
 * and whatever is still stale at its end was deleted on the server meanwhile.
 */
function reinitialize(tx: ReplicaTx, collectionId: string): void {
  tx.setSyncKey(collectionId, 0);
  tx.markStale(collectionId);
  // The initial sync must re-deliver every item it does not learn of again: no echo may hold one back.
  tx.releaseTokens(collectionId, tx.heldTokens(collectionId), Number.MAX_SAFE_INTEGER);
  // Notices sent before now may name tokens the server has already forgotten (that is why it asked
  // for a re-initialization), so none is applied until the initial sync is complete.
  tx.setHorizon(collectionId, reinitializing);
}

function applyResults(tx: ReplicaTx, collectionId: string, sent: ClientCommand[], results: CommandResult[], summary: SyncSummary): void {
  for (const result of results) {
    const command = sent[result.index];
    if (!command || command.op === 'fetch') continue;
    // The server's version of the item was what this replica sent: older notices are old news. (A
    // replayed answer can name a version a notice has since superseded, so the known one only grows.)
    if (result.seq !== undefined && result.serverId !== undefined && result.seq > (tx.knownSeq(collectionId, result.serverId) ?? 0)) {
      tx.setKnownSeq(collectionId, result.serverId, result.seq);
    }
    const item = command.op === 'add' ? tx.get(collectionId, command.clientId) : tx.byServerId(collectionId, command.serverId);
    if (!item) continue;
    // The user may have edited again while the exchange was in flight; that newer edit stays pending.
    const sentData = command.op === 'delete' ? null : command.data;
    const unchanged = item.data === sentData;
    if (result.status === 'ok') {
      if (command.op === 'delete') {
        if (item.pending === 'delete') tx.remove(collectionId, item.localId);
        continue;
      }
      const serverId = result.serverId ?? item.serverId;
      // An Add matched an item this replica holds under another row, and a later command of this
      // exchange changed or deleted that row: that command is the server's last word, so its row stays.
      const overtaken =
        command.op === 'add' &&
        unchanged &&
        serverId !== null &&
        sent.slice(result.index + 1).some((later) => later.op !== 'add' && later.op !== 'fetch' && later.serverId === serverId);
      if (overtaken) {
        tx.remove(collectionId, item.localId);
        continue;
      }
      // Without a `seq` the server's version is not what this Add carried (another device's, or a
      // merge); with one, a notice may still have brought a later version.
      const superseded = serverId !== null && (result.seq === undefined || (tx.knownSeq(collectionId, serverId) ?? 0) > result.seq);
      // A twin the user edited or deleted here is taken over whatever the version: the edit names its own etag.
      const twin = command.op === 'add' && unchanged ? pushedTwin(tx, collectionId, item, serverId, superseded) : undefined;
      const truth = twin && (superseded || twin.pending !== null) ? twin : undefined;
      // A change answered without `seq` was merged: the server never held the data sent, so the row
      // keeps the etag that data was made from until the merged version arrives. An edit made from it,
      // while the change was in flight or after, is then weighed against the merge it never saw, as is
      // a delete (docs/protocol.md §4.1, §8; seeds 1401119, 1501880).
      const mergedUnseen = command.op === 'change' && result.seq === undefined;
      dropTwinRow(tx, collectionId, item, serverId);
      tx.put(collectionId, {
        ...item,
        serverId,
        ...(truth ? { data: truth.data } : {}),
        etag: truth ? truth.etag : mergedUnseen ? item.etag : (result.etag ?? item.etag),
        pending: truth ? truth.pending : unchanged ? null : item.pending === 'add' ? 'change' : item.pending,
        stale: false,
      });
    } else if (item.pending === 'delete' && item.serverId === null) {
      // Deleted here while its Add was in flight, and the Add created nothing: nothing left to do.
      tx.remove(collectionId, item.localId);
    } else if (result.status === 'conflict') {
      // The server kept the other side's version (and this one as a conflict record the user can
      // restore); the truth arrives as a server command, now or in a following page.
      summary.conflicts.push({ localId: item.localId, message: result.message ?? 'conflict' });
      const serverId = result.serverId ?? item.serverId;
      const truth = command.op === 'add' && unchanged ? pushedTwin(tx, collectionId, item, serverId) : undefined;
      if (command.op === 'add') dropTwinRow(tx, collectionId, item, serverId);
      // A losing add's answer names the version it carried, which this row keeps until the truth
      // arrives: an edit made meanwhile names it, so it is weighed against the truth (docs/protocol.md §8).
      const etag = truth ? truth.etag : command.op === 'add' ? (result.etag ?? item.etag) : item.etag;
      tx.put(collectionId, { ...item, serverId, ...(truth ? { data: truth.data } : {}), etag, pending: truth ? truth.pending : unchanged ? null : item.pending });
    } else if (result.status === 'notFound' && command.op === 'change') {
      // The server does not know the item at all (never, or long purged): keep the edit as a new item,
      // unless the user deleted it here meanwhile, and then nothing is left on either side (seed 900502).
      if (item.pending === 'delete') tx.remove(collectionId, item.localId);
      else tx.put(collectionId, { ...item, serverId: null, etag: null, pending: 'add' });
    } else if (result.status === 'notFound' && command.op === 'delete') {
      tx.remove(collectionId, item.localId);
    } else {
      const message = result.message ?? result.status;
      summary.rejected.push({ localId: item.localId, status: result.status, message });
      if (unchanged) tx.put(collectionId, { ...item, rejected: `${result.status}: ${message}` });
    }
  }
}

/**
 * The row a push notice made for the server item an Add of this replica turned out to match, while
 * that Add was in flight: it holds the server's version (and the server counts it as delivered), or an
 * edit or delete the user made of that version here (seed 1501000), so the Add's row takes its content,
 * etag and pending state when it takes over: dropping the twin must not drop the server's version or the edit.
 * When a notice brought a version newer than the Add's (`newer`), that may be a delete: the twin is then
 * a tombstone, and the Add's row becomes one too (seed 1631367: a replayed answer's older `ok` brought the
 * deleted item back to life here).
 */
function pushedTwin(tx: ReplicaTx, collectionId: string, item: LocalItem, serverId: string | null, newer = false): LocalItem | undefined {
  const twin = serverId ? tx.byServerId(collectionId, serverId) : undefined;
  return twin && twin.localId !== item.localId && (twin.pending !== null || twin.data !== null || newer) ? twin : undefined;
}

/**
 * An Add the server matched to an item this replica already holds under another name (a duplicate):
 * the server has one item, so the replica keeps one row, the one that made the Add.
 */
function dropTwinRow(tx: ReplicaTx, collectionId: string, item: LocalItem, serverId: string | null): void {
  const twin = serverId ? tx.byServerId(collectionId, serverId) : undefined;
  // Whatever the twin row still had pending is about the same server item and superseded by this Add.
  if (twin && twin.localId !== item.localId) tx.remove(collectionId, twin.localId);
}

function applyServerCommand(tx: ReplicaTx, collectionId: string, command: ServerCommand, localIdFor: (serverId: string) => string): void {
  const item = tx.byServerId(collectionId, command.serverId);
  if (command.op === 'delete') {
    if (!item) return;
    // Edited here while this exchange was in flight, deleted there: keep the edit, as a new item.
    if (item.pending === 'change' || item.pending === 'add') tx.put(collectionId, { ...item, serverId: null, etag: null, pending: 'add' });
    else tx.put(collectionId, { ...item, data: null, pending: null, etag: null, stale: false });
    return;
  }
  // A local edit not yet acknowledged is newer than what the server sent; it goes up next exchange.
  if (item && item.pending !== null && item.pending !== 'delete') return;
  if (item) {
    tx.put(collectionId, { ...item, data: command.data, etag: command.etag, pending: null, rejected: null, stale: false });
    return;
  }
  // A new row, under the name the application gives it, or a longer one while that is taken (one statement in the common case).
  let localId = localIdFor(command.serverId);
  while (!tx.putNew(collectionId, newLocalItem(localId, { serverId: command.serverId, data: command.data, etag: command.etag }))) localId = `${localId}-${command.etag.slice(0, 6)}`;
}
