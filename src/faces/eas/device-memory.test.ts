import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceMemories, memoryBytes } from './device-memory.js';

test('device memories are bounded by count: the least recently used device forgets first', () => {
  const memories = new DeviceMemories(3, 1_000_000);
  for (const key of ['a', 'b', 'c']) memories.get(key).lastSync = new Uint8Array(10);
  memories.get('a'); // a is now the most recently used
  memories.get('d');
  assert.equal(memories.size, 3);
  assert.equal(memories.get('a').lastSync?.length, 10, 'a was used lately and is kept');
  assert.equal(memories.get('b').lastSync, undefined, 'b was the least recently used and was forgotten');
});

test('device memories are bounded by bytes: settle counts what a command left and forgets the oldest past the bound', () => {
  const memories = new DeviceMemories(1000, 50_000);
  for (let i = 0; i < 10; i++) {
    const key = `device${i}`;
    memories.get(key).lastSync = new Uint8Array(10_000);
    memories.settle(key);
    assert.ok(memories.bytes <= 50_000, `after ${i + 1} devices ${memories.bytes} bytes are remembered`);
  }
  assert.ok(memories.size <= 5 && memories.size >= 4, `${memories.size} devices remembered`);
  assert.equal(memories.get('device9').lastSync?.length, 10_000, 'the latest is kept');
  assert.equal(memories.get('device0').lastSync, undefined, 'the first is forgotten');
  // A memory that shrinks gives its bytes back.
  const before = memories.bytes;
  memories.get('device9').lastSync = undefined;
  memories.settle('device9');
  assert.ok(memories.bytes <= before - 10_000);
});

test('memoryBytes counts the kept Sync, the Ping folders and the repeat counters', () => {
  const empty = memoryBytes({ repeats: new Map() });
  assert.ok(memoryBytes({ repeats: new Map(), lastSync: new Uint8Array(5000) }) >= empty + 5000);
  assert.ok(memoryBytes({ repeats: new Map(), lastPing: { heartbeatSeconds: 60, folders: ['x'.repeat(100)] } }) >= empty + 200);
  assert.ok(memoryBytes({ repeats: new Map([['c'.repeat(50), { key: '12', count: 1, window: 512 }]]) }) >= empty + 100);
});
