import { assert } from './assert.js';
import { limits } from './limits.js';

/**
 * Sync keys and checkpoints (docs/design.md § Sync keys). Each (device, collection) holds an integer key; the
 * server keeps the checkpoint behind the current key and the one behind the previous key, so that a
 * retried exchange can be rolled back and answered again.
 *
 * A checkpoint is a position in the account's change sequence:
 *   - `seq`: every change with a sequence number <= seq has been delivered (or deliberately skipped);
 *   - `baseSeq`: the device knows nothing of what happened at or before baseSeq except what it was sent.
 *     Tombstones and the device's own changes at or before baseSeq are therefore not skipped/sent:
 *     during an initial sync (baseSeq = the sequence when it began) old tombstones stay out, and items
 *     the device itself once wrote come back to a device that lost its state. After the initial
 *     sync completes, baseSeq = seq and both rules reduce to "after seq".
 */
export interface Checkpoint {
  seq: number;
  baseSeq: number;
}

export type KeyDecision =
  | { kind: 'initial' }
  | { kind: 'current'; from: Checkpoint }
  | { kind: 'replay'; from: Checkpoint }
  | { kind: 'invalid'; reason: 'unknown' | 'expired' };

export interface KeyState {
  syncKey: number;
  checkpoint: Checkpoint;
  previous: { syncKey: number; checkpoint: Checkpoint } | null;
}

/** Decide what a sent key means. `tombstoneFloor`: deletes up to this sequence have been forgotten. */
export function classifySyncKey(sent: number, state: KeyState | undefined, tombstoneFloor: number): KeyDecision {
  assert(Number.isInteger(sent) && sent >= 0, 'sync key is validated by the schema');
  if (sent === 0) return { kind: 'initial' };
  if (!state) return { kind: 'invalid', reason: 'unknown' };
  let decision: KeyDecision;
  if (sent === state.syncKey) decision = { kind: 'current', from: state.checkpoint };
  else if (state.previous && sent === state.previous.syncKey) decision = { kind: 'replay', from: state.previous.checkpoint };
  else return { kind: 'invalid', reason: 'unknown' };
  // A device behind the purge horizon may have missed deletes that no longer exist anywhere. Tombstones
  // at or below baseSeq are never sent to it (see Checkpoint), so only a purge beyond both counts.
  if (tombstoneFloor > Math.max(decision.from.seq, decision.from.baseSeq)) return { kind: 'invalid', reason: 'expired' };
  return decision;
}

/**
 * The key issued at the end of an exchange, and the state to keep for the next one. Keys only grow for
 * a (device, collection), across re-initializations too: a key once issued is never valid again, so a
 * late copy of an old request can only ever get "invalid sync key". `resumesInitial`: this key-0
 * exchange retries the previous one, and gets the key that one got.
 */
export function advanceKey(
  decision: Exclude<KeyDecision, { kind: 'invalid' }>,
  sent: number,
  state: KeyState | undefined,
  from: Checkpoint,
  reached: Checkpoint,
  resumesInitial = false,
): KeyState {
  assert(reached.seq >= from.seq, 'checkpoints never move backwards');
  switch (decision.kind) {
    case 'initial':
      return { syncKey: state ? state.syncKey + (resumesInitial ? 0 : 1) : 1, checkpoint: reached, previous: { syncKey: 0, checkpoint: from } };
    case 'current':
      return { syncKey: sent + 1, checkpoint: reached, previous: { syncKey: sent, checkpoint: from } };
    case 'replay':
      // Roll back to the previous checkpoint and issue the same next key again: the lost answer is replaced.
      assert(state !== undefined && state.previous !== null, 'replay needs a previous key');
      return { syncKey: state.syncKey, checkpoint: reached, previous: state.previous };
  }
}

/**
 * Where an exchange starts (`from`), and how far a replay may go (`until`: the lost answer's span).
 * A retried key-0 exchange (`resumesInitial`) resumes the initial sync it retries, so deletes since it
 * began still count, unless deletes from that span have been purged since: then it starts afresh.
 */
export function startingPoint(
  decision: Exclude<KeyDecision, { kind: 'invalid' }>,
  state: (KeyState & { lastSentKey: number }) | undefined,
  tombstoneFloor: number,
  currentSeq: number,
): { from: Checkpoint; until: Checkpoint | undefined; resumesInitial: boolean } {
  if (decision.kind !== 'initial') return { from: decision.from, until: decision.kind === 'replay' ? state?.checkpoint : undefined, resumesInitial: false };
  const resumesInitial =
    state !== undefined &&
    state.lastSentKey === 0 &&
    state.previous?.syncKey === 0 &&
    tombstoneFloor <= Math.max(state.checkpoint.seq, state.checkpoint.baseSeq);
  if (!resumesInitial) return { from: initialCheckpoint(currentSeq), until: undefined, resumesInitial };
  return { from: (state.previous as { checkpoint: Checkpoint }).checkpoint, until: state.checkpoint, resumesInitial };
}

/** The checkpoint an initial sync starts from, given the account's sequence when it began. */
export function initialCheckpoint(currentSeq: number): Checkpoint {
  return { seq: 0, baseSeq: currentSeq };
}

/** Where the device stands after it receives `sent` changes, the last at `lastSentSeq`. */
export function reachedCheckpoint(from: Checkpoint, moreAvailable: boolean, lastSentSeq: number, currentSeq: number): Checkpoint {
  if (moreAvailable) return { seq: lastSentSeq, baseSeq: from.baseSeq };
  return { seq: currentSeq, baseSeq: currentSeq };
}

/** What a client command did, recorded so that a retried exchange does not apply it twice. */
export interface RecordedResult {
  op: 'add' | 'change' | 'delete';
  clientId?: string;
  serverId?: string;
  /** Etag of the data the command carried; a retry with different data is a new edit. */
  dataEtag?: string;
  status: string;
  etag?: string;
  /** The account sequence of the version that matches what the command carried, when one does. */
  seq?: number;
  message?: string;
}

type RetriedCommand =
  | { op: 'add'; clientId: string; dataEtag: string }
  | { op: 'change'; serverId: string; dataEtag: string }
  | { op: 'delete'; serverId: string };

function recordKey(c: RetriedCommand | RecordedResult): string {
  const id = c.op === 'add' ? c.clientId : c.serverId;
  return `${c.op}\u0000${id ?? ''}\u0000${'dataEtag' in c ? (c.dataEtag ?? '') : ''}`;
}

export interface RecordedIndex {
  /** The outcome of a retried command whose earlier attempt carried the same thing. */
  same(command: RetriedCommand): RecordedResult | undefined;
  /** The earlier attempt's successful Add with this client id, whatever data it carried: the item it created and the version it carried. */
  addedAs(clientId: string): RecordedResult | undefined;
}

/** Index an exchange's recorded outcomes so a retry of it answers from the record (linear in size). */
export function indexRecorded(recorded: readonly RecordedResult[]): RecordedIndex {
  const byKey = new Map(recorded.map((r) => [recordKey(r), r]));
  const added = new Map(recorded.filter((r) => r.op === 'add' && r.status === 'ok' && r.serverId).map((r) => [r.clientId, r]));
  return { same: (command) => byKey.get(recordKey(command)), addedAs: (clientId) => added.get(clientId) };
}

/** Re-initializations inside the loop window, including this one at `now`, and whether that is a loop. */
export function noteReinit(previousTimes: readonly number[], now: number): { times: number[]; looping: boolean } {
  const times = [...previousTimes.filter((t) => now - t < limits.reinitLoopWindowMs), now].slice(-limits.reinitLoopCount);
  return { times, looping: times.length >= limits.reinitLoopCount };
}
