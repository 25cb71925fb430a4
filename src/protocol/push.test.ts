import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mergeRanges, toRanges } from './push.js';

test('toRanges compresses a token set to sorted, disjoint, non-adjacent ranges', () => {
  assert.deepEqual(toRanges([]), []);
  assert.deepEqual(toRanges([5, 3, 4, 9, 9, 11, 10, 1]), [
    { from: 1, to: 1 },
    { from: 3, to: 5 },
    { from: 9, to: 11 },
  ]);
});

test('toRanges keeps exactly the tokens it was given', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 100 }), (tokens) => {
      const ranges = toRanges(tokens);
      const expanded = ranges.flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i));
      assert.deepEqual(expanded, [...new Set(tokens)].sort((a, b) => a - b));
      for (let i = 1; i < ranges.length; i++) assert.ok((ranges[i] as { from: number }).from > (ranges[i - 1] as { to: number }).to + 1);
    }),
  );
});

test('mergeRanges covers exactly the tokens of the ranges it was given, as toRanges would', () => {
  const range = fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 20 })).map(([from, length]) => ({ from, to: from + length }));
  fc.assert(
    fc.property(fc.array(range, { maxLength: 50 }), (ranges) => {
      const tokens = ranges.flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i));
      assert.deepEqual(mergeRanges(ranges), toRanges(tokens));
    }),
  );
  const full = { from: 1, to: Number.MAX_SAFE_INTEGER };
  assert.deepEqual(mergeRanges(Array.from({ length: 1000 }, () => full)), [full]);
});
