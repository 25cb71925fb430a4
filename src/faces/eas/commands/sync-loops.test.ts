import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limits } from '../../../core/limits.js';
import { DeviceMemory } from '../device-memory.js';
import { boundedQuarantine, noteRepeat, type Quarantine } from './sync-loops.js';

test('loop detection remembers at most as many collections as one Sync may name, the least recently synced forgotten first', () => {
  const memory = new DeviceMemory();
  for (let i = 0; i < 1000; i++) noteRepeat(memory, `collection${i}`, '5');
  assert.equal(memory.repeats.size, limits.collectionsPerRequestMax);
  assert.ok(memory.repeats.has('collection999'));
  assert.ok(!memory.repeats.has('collection0'));
  // Repeats of a collection still narrow the window as before.
  const windows = Array.from({ length: 6 }, () => noteRepeat(memory, 'collection999', '5'));
  assert.deepEqual(windows.map((w) => w.window), [512, 64, 8, 1, 1, 1]);
  assert.equal(windows.at(-1)?.stuck, true);
});

test('the quarantine keeps the newest easQuarantinedMax versions of live collections', () => {
  const all: Quarantine = {
    gone: { a: 'e1' },
    old: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`old${i}`, 'e'])),
    recent: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`recent${i}`, 'e'])),
  };
  const kept = boundedQuarantine(all, new Set(['old', 'recent']));
  assert.equal(kept.gone, undefined, 'a deleted collection is dropped');
  const count = Object.values(kept).reduce((n, items) => n + Object.keys(items).length, 0);
  assert.equal(count, limits.easQuarantinedMax);
  assert.equal(Object.keys(kept.recent ?? {}).length, 600, 'the most recent collection is kept whole');
  assert.ok(kept.old && !('old0' in kept.old) && 'old599' in kept.old, 'the oldest versions go first');
  assert.deepEqual(boundedQuarantine({ c: { x: 'e' } }, new Set(['c'])), { c: { x: 'e' } });
});
