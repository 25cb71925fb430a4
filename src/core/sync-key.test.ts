import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssertionError } from './assert.js';
import { limits } from './limits.js';
import {
  advanceKey,
  classifySyncKey,
  indexRecorded,
  initialCheckpoint,
  noteReinit,
  reachedCheckpoint,
  startingPoint,
  type KeyState,
  type RecordedResult,
} from './sync-key.js';

const state: KeyState = {
  syncKey: 7,
  checkpoint: { seq: 40, baseSeq: 40 },
  previous: { syncKey: 6, checkpoint: { seq: 30, baseSeq: 30 } },
};

test('classifySyncKey: key 0 is an initial sync, with or without state', () => {
  assert.deepEqual(classifySyncKey(0, undefined, 0), { kind: 'initial' });
  assert.deepEqual(classifySyncKey(0, state, 0), { kind: 'initial' });
  // Even behind the tombstone floor: re-initializing is the way out.
  assert.deepEqual(classifySyncKey(0, state, 1000), { kind: 'initial' });
});

test('classifySyncKey: the current key continues from the current checkpoint', () => {
  assert.deepEqual(classifySyncKey(7, state, 0), { kind: 'current', from: { seq: 40, baseSeq: 40 } });
});

test('classifySyncKey: the previous key replays from the previous checkpoint', () => {
  assert.deepEqual(classifySyncKey(6, state, 0), { kind: 'replay', from: { seq: 30, baseSeq: 30 } });
});

test('classifySyncKey: any other key is unknown', () => {
  assert.deepEqual(classifySyncKey(3, undefined, 0), { kind: 'invalid', reason: 'unknown' }, 'no state at all');
  assert.deepEqual(classifySyncKey(8, state, 0), { kind: 'invalid', reason: 'unknown' }, 'a future key');
  assert.deepEqual(classifySyncKey(5, state, 0), { kind: 'invalid', reason: 'unknown' }, 'older than the previous key');
  const noPrevious: KeyState = { ...state, previous: null };
  assert.deepEqual(classifySyncKey(6, noPrevious, 0), { kind: 'invalid', reason: 'unknown' }, 'no previous key kept');
});

test('classifySyncKey: a checkpoint behind the tombstone floor is expired', () => {
  // Floor 35: the previous checkpoint (30) may have missed purged deletes; the current one (40) has not.
  assert.deepEqual(classifySyncKey(6, state, 35), { kind: 'invalid', reason: 'expired' });
  assert.deepEqual(classifySyncKey(7, state, 35), { kind: 'current', from: { seq: 40, baseSeq: 40 } });
  assert.deepEqual(classifySyncKey(7, state, 41), { kind: 'invalid', reason: 'expired' });
  // The boundary: a checkpoint exactly at the floor has seen every purged delete.
  assert.deepEqual(classifySyncKey(7, state, 40), { kind: 'current', from: { seq: 40, baseSeq: 40 } });
  assert.deepEqual(classifySyncKey(6, state, 30), { kind: 'replay', from: { seq: 30, baseSeq: 30 } });
  // Unknown keys stay unknown whatever the floor.
  assert.deepEqual(classifySyncKey(9, state, 1000), { kind: 'invalid', reason: 'unknown' });
});

test('classifySyncKey: an initial sync in progress is expired only by a purge beyond its base', () => {
  // Mid-way through an initial sync that began at sequence 100: tombstones at or below 100 are never
  // sent to it, so purging them loses nothing.
  const paging: KeyState = {
    syncKey: 3,
    checkpoint: { seq: 20, baseSeq: 100 },
    previous: { syncKey: 2, checkpoint: { seq: 10, baseSeq: 100 } },
  };
  assert.deepEqual(classifySyncKey(3, paging, 50), { kind: 'current', from: { seq: 20, baseSeq: 100 } });
  assert.deepEqual(classifySyncKey(2, paging, 100), { kind: 'replay', from: { seq: 10, baseSeq: 100 } });
  assert.deepEqual(classifySyncKey(3, paging, 101), { kind: 'invalid', reason: 'expired' });
  assert.deepEqual(classifySyncKey(2, paging, 101), { kind: 'invalid', reason: 'expired' });
});

test('classifySyncKey: a key that is not a non-negative integer is a bug upstream', () => {
  assert.throws(() => classifySyncKey(-1, state, 0), AssertionError);
  assert.throws(() => classifySyncKey(1.5, state, 0), AssertionError);
});

test('advanceKey: initial issues key 1 to a new device and keeps key 0 as the previous one', () => {
  const from = initialCheckpoint(12);
  assert.deepEqual(from, { seq: 0, baseSeq: 12 });
  const reached = { seq: 12, baseSeq: 12 };
  assert.deepEqual(advanceKey({ kind: 'initial' }, 0, undefined, from, reached), {
    syncKey: 1,
    checkpoint: reached,
    previous: { syncKey: 0, checkpoint: from },
  });
  // Re-initializing a device with state starts over, but with a key never issued before, so no old key
  // (a late copy of an old request) becomes valid again; a retried key-0 exchange gets its key again.
  assert.deepEqual(advanceKey({ kind: 'initial' }, 0, state, from, reached).syncKey, state.syncKey + 1);
  assert.deepEqual(advanceKey({ kind: 'initial' }, 0, state, from, reached, true).syncKey, state.syncKey);
});

test('advanceKey: current moves the key by one and remembers where it came from', () => {
  const from = state.checkpoint;
  const reached = { seq: 55, baseSeq: 55 };
  const next = advanceKey({ kind: 'current', from }, 7, state, from, reached);
  assert.deepEqual(next, { syncKey: 8, checkpoint: reached, previous: { syncKey: 7, checkpoint: from } });
  // And that next state classifies its own keys as expected.
  assert.equal(classifySyncKey(8, next, 0).kind, 'current');
  assert.equal(classifySyncKey(7, next, 0).kind, 'replay');
  assert.equal(classifySyncKey(6, next, 0).kind, 'invalid');
});

test('advanceKey: replay reissues the same next key and keeps the previous one', () => {
  // State after key 7 was answered with key 8 (the answer was lost).
  const after7: KeyState = { syncKey: 8, checkpoint: { seq: 55, baseSeq: 55 }, previous: { syncKey: 7, checkpoint: { seq: 40, baseSeq: 40 } } };
  const decision = classifySyncKey(7, after7, 0);
  assert.equal(decision.kind, 'replay');
  if (decision.kind !== 'replay') return;
  const reached = { seq: 60, baseSeq: 60 };
  const next = advanceKey(decision, 7, after7, decision.from, reached);
  assert.deepEqual(next, { syncKey: 8, checkpoint: reached, previous: after7.previous });
  // A second retry of key 7 is still a replay.
  assert.equal(classifySyncKey(7, next, 0).kind, 'replay');
  assert.throws(() => advanceKey({ kind: 'replay', from: decision.from }, 7, undefined, decision.from, reached), AssertionError);
  assert.throws(() => advanceKey({ kind: 'replay', from: decision.from }, 7, { ...after7, previous: null }, decision.from, reached), AssertionError);
});

test('advanceKey: a checkpoint never moves backwards', () => {
  assert.throws(() => advanceKey({ kind: 'current', from: state.checkpoint }, 7, state, state.checkpoint, { seq: 39, baseSeq: 39 }), AssertionError);
});

test('reachedCheckpoint: a partial window stops at the last change sent and keeps the base', () => {
  assert.deepEqual(reachedCheckpoint({ seq: 0, baseSeq: 100 }, true, 25, 120), { seq: 25, baseSeq: 100 });
  assert.deepEqual(reachedCheckpoint({ seq: 25, baseSeq: 100 }, true, 50, 130), { seq: 50, baseSeq: 100 });
});

test('reachedCheckpoint: a complete window catches up to the current sequence', () => {
  assert.deepEqual(reachedCheckpoint({ seq: 50, baseSeq: 100 }, false, 90, 130), { seq: 130, baseSeq: 130 });
  assert.deepEqual(reachedCheckpoint({ seq: 10, baseSeq: 10 }, false, 10, 10), { seq: 10, baseSeq: 10 }, 'nothing sent');
});

test('indexRecorded: finds a retried command only when it carries the same thing', () => {
  const recorded: RecordedResult[] = [
    { op: 'add', clientId: 'c1', serverId: 's1', dataEtag: 'e1', status: 'ok', etag: 'e1' },
    { op: 'change', serverId: 's2', dataEtag: 'e2', status: 'ok', etag: 'e2' },
    { op: 'delete', serverId: 's3', status: 'ok' },
    { op: 'add', clientId: 'c4', dataEtag: 'e4', status: 'invalidItem', message: 'bad' },
  ];
  const index = indexRecorded(recorded);
  const lookup = index.same;
  assert.equal(lookup({ op: 'add', clientId: 'c1', dataEtag: 'e1' }), recorded[0]);
  assert.equal(lookup({ op: 'change', serverId: 's2', dataEtag: 'e2' }), recorded[1]);
  assert.equal(lookup({ op: 'delete', serverId: 's3' }), recorded[2]);
  assert.equal(lookup({ op: 'add', clientId: 'c4', dataEtag: 'e4' }), recorded[3], 'failures are answered the same way too');
  // Edited between attempts: a new command.
  assert.equal(lookup({ op: 'add', clientId: 'c1', dataEtag: 'other' }), undefined);
  assert.equal(lookup({ op: 'change', serverId: 's2', dataEtag: 'other' }), undefined);
  // Another id, or another op on the same id.
  assert.equal(lookup({ op: 'add', clientId: 'c2', dataEtag: 'e1' }), undefined);
  assert.equal(lookup({ op: 'delete', serverId: 's2' }), undefined);
  assert.equal(lookup({ op: 'change', serverId: 's3', dataEtag: '' }), undefined);
  // A clientId that happens to equal a serverId is not confused with it.
  assert.equal(lookup({ op: 'change', serverId: 'c1', dataEtag: 'e1' }), undefined);
  assert.equal(indexRecorded([]).same({ op: 'delete', serverId: 's3' }), undefined);
  // The item a successful Add created is found by client id alone, so an edited retry lands on it.
  assert.equal(index.addedAs('c1')?.serverId, 's1');
  assert.equal(index.addedAs('c1')?.dataEtag, 'e1', 'with the version it carried, which an edit between the attempts was made from');
  assert.equal(index.addedAs('c4'), undefined, 'a refused Add created nothing');
  assert.equal(index.addedAs('s1'), undefined);
});

test('noteReinit: counts re-initializations inside the window and reports a loop at the limit', () => {
  const now = 10 * limits.reinitLoopWindowMs;
  let times: number[] = [];
  for (let i = 1; i <= limits.reinitLoopCount; i++) {
    const r = noteReinit(times, now + i);
    assert.equal(r.times.length, i);
    assert.equal(r.times[r.times.length - 1], now + i);
    assert.equal(r.looping, i >= limits.reinitLoopCount, `re-initialization ${i}`);
    times = r.times;
  }
  // The list stays bounded.
  const more = noteReinit(times, now + 100);
  assert.equal(more.times.length, limits.reinitLoopCount);
  assert.equal(more.looping, true);
});

test('noteReinit: re-initializations older than the window are forgotten', () => {
  const now = 10 * limits.reinitLoopWindowMs;
  const old = Array.from({ length: limits.reinitLoopCount }, (_, i) => now - limits.reinitLoopWindowMs - i);
  const r = noteReinit(old, now);
  assert.deepEqual(r.times, [now]);
  assert.equal(r.looping, false);
  // Just inside the window still counts.
  const recent = Array.from({ length: limits.reinitLoopCount - 1 }, () => now - limits.reinitLoopWindowMs + 1);
  assert.equal(noteReinit(recent, now).looping, true);
  assert.equal(noteReinit(recent.slice(1), now).looping, false);
});

test('startingPoint: current and replay start behind their key; a replay may not go past the lost answer', () => {
  const withSent = { ...state, lastSentKey: 6 };
  assert.deepEqual(startingPoint({ kind: 'current', from: state.checkpoint }, withSent, 0, 99), { from: state.checkpoint, until: undefined, resumesInitial: false });
  const replay = { kind: 'replay' as const, from: state.previous!.checkpoint };
  assert.deepEqual(startingPoint(replay, withSent, 0, 99), { from: state.previous!.checkpoint, until: state.checkpoint, resumesInitial: false });
});

test('startingPoint: key 0 starts afresh, unless it retries the key-0 exchange just before (and nothing it needs was purged)', () => {
  const afterInitial = { syncKey: 3, checkpoint: { seq: 20, baseSeq: 50 }, previous: { syncKey: 0, checkpoint: { seq: 0, baseSeq: 50 } }, lastSentKey: 0 };
  assert.deepEqual(startingPoint({ kind: 'initial' }, undefined, 0, 99), { from: { seq: 0, baseSeq: 99 }, until: undefined, resumesInitial: false });
  assert.deepEqual(startingPoint({ kind: 'initial' }, afterInitial, 0, 99), { from: { seq: 0, baseSeq: 50 }, until: afterInitial.checkpoint, resumesInitial: true });
  assert.equal(startingPoint({ kind: 'initial' }, afterInitial, 60, 99).resumesInitial, false, 'deletes it needed are gone');
  assert.equal(startingPoint({ kind: 'initial' }, { ...afterInitial, lastSentKey: 3 }, 0, 99).resumesInitial, false, 'the device moved on since');
});
