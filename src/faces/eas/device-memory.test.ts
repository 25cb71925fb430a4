import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limits } from '../../core/limits.js';
import { noteRepeat } from './commands/sync-loops.js';
import { DeviceMemory } from './device-memory.js';

/** Saves what `memory` changed into `stored` (the store's value), as a write transaction would. */
function save(memory: DeviceMemory, stored: string | undefined): string | undefined {
  const update = memory.update();
  if (!update) return stored;
  const next = update.apply(stored);
  update.saved();
  return next;
}

test('a memory is stored and read back whole: the kept Sync as bytes, the Ping, the repeats in order', () => {
  const memory = new DeviceMemory();
  memory.lastSync = Uint8Array.of(3, 1, 106, 0, 0, 0xff);
  memory.lastPing = { heartbeatSeconds: 480, folders: ['c1', 'c2'] };
  noteRepeat(memory, 'c2', '7');
  noteRepeat(memory, 'c1', '4');
  noteRepeat(memory, 'c1', '4');
  const stored = save(memory, undefined);
  assert.ok(stored);
  const read = new DeviceMemory(stored);
  assert.deepEqual([...(read.lastSync ?? [])], [3, 1, 106, 0, 0, 0xff]);
  assert.deepEqual(read.lastPing, { heartbeatSeconds: 480, folders: ['c1', 'c2'] });
  assert.deepEqual([...read.repeats], [...memory.repeats]);
  assert.deepEqual([...read.repeats.keys()], ['c2', 'c1'], 'most recently synced last');
  assert.equal(read.repeats.get('c1')?.count, 1);
  assert.ok(stored.length < 200, `compact: ${stored}`);
});

test('nothing changed, nothing to write: a repeated Ping or a memory read and left alone', () => {
  const memory = new DeviceMemory(JSON.stringify({ ping: { heartbeatSeconds: 60, folders: ['c1'] }, repeats: [['c1', '5', 0, 512]] }));
  assert.equal(memory.update(), undefined);
  memory.lastPing = { heartbeatSeconds: 60, folders: ['c1'] };
  assert.equal(memory.update(), undefined, 'the same Ping again');
  memory.lastPing = { heartbeatSeconds: 60, folders: ['c1', 'c2'] };
  const update = memory.update();
  assert.ok(update);
  update.saved();
  assert.equal(memory.update(), undefined, 'once saved, the change is not written again');
});

test('a request writes only the parts it changed: a held Ping does not bring back the Sync it read before a newer one was kept', () => {
  let stored = save(Object.assign(new DeviceMemory(), { lastSync: Uint8Array.of(1) }), undefined);
  const ping = new DeviceMemory(stored);
  const sync = new DeviceMemory(stored);
  sync.lastSync = Uint8Array.of(2);
  noteRepeat(sync, 'c1', '9');
  stored = save(sync, stored);
  ping.lastPing = { heartbeatSeconds: 300, folders: ['c1'] };
  stored = save(ping, stored);
  const now = new DeviceMemory(stored);
  assert.deepEqual([...(now.lastSync ?? [])], [2], 'the newer Sync stands');
  assert.deepEqual(now.lastPing, { heartbeatSeconds: 300, folders: ['c1'] });
  assert.equal(now.repeats.get('c1')?.key, '9');
});

test('repeats are merged per collection: two requests counting different collections keep both; a cleared one goes alone', () => {
  const stored = save(Object.assign(new DeviceMemory(), { repeats: new Map([['a', { key: '3', count: 2, window: 64 }], ['b', { key: '8', count: 0, window: 512 }]]) }), undefined);
  const one = new DeviceMemory(stored);
  const two = new DeviceMemory(stored);
  noteRepeat(one, 'a', '3');
  two.repeats.delete('b');
  noteRepeat(two, 'c', '1');
  const merged = new DeviceMemory(save(two, save(one, stored)));
  assert.deepEqual([...merged.repeats.keys()], ['a', 'c']);
  assert.equal(merged.repeats.get('a')?.count, 3);
});

test('the merged repeats stay within collectionsPerRequestMax, the least recently synced forgotten first', () => {
  const full = new DeviceMemory();
  for (let i = 0; i < limits.collectionsPerRequestMax; i++) noteRepeat(full, `old${i}`, '5');
  const stored = save(full, undefined);
  const other = new DeviceMemory();
  for (let i = 0; i < 3; i++) noteRepeat(other, `new${i}`, '5');
  const merged = new DeviceMemory(save(other, stored));
  assert.equal(merged.repeats.size, limits.collectionsPerRequestMax);
  assert.ok(merged.repeats.has('new2') && !merged.repeats.has('old0') && merged.repeats.has(`old${limits.collectionsPerRequestMax - 1}`));
});

test('a memory left empty is not stored at all', () => {
  const memory = new DeviceMemory(JSON.stringify({ ping: { heartbeatSeconds: 60, folders: ['c1'] } }));
  delete memory.lastPing;
  assert.equal(save(memory, JSON.stringify({ ping: { heartbeatSeconds: 60, folders: ['c1'] } })), undefined);
});
