import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoByText } from './parse-cache.js';

function counting<T>(parse: (text: string) => T): { parse: (text: string) => T; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    parse: (text) => {
      calls.push(text);
      return parse(text);
    },
  };
}

test('each distinct text is parsed once, and a hit returns the very same result', () => {
  const p = counting((text) => ({ upper: text.toUpperCase() }));
  const read = memoByText(p.parse);
  const first = read('a');
  assert.equal(read('a'), first);
  assert.deepEqual(read('b'), { upper: 'B' });
  read('a');
  read('b');
  assert.deepEqual(p.calls, ['a', 'b']);
});

test('at most max texts are kept; the least recently used goes first', () => {
  const p = counting((text) => text.length);
  const read = memoByText(p.parse, 2);
  read('a');
  read('bb');
  read('a'); // 'a' is now the most recently used
  read('ccc'); // evicts 'bb'
  assert.deepEqual(p.calls, ['a', 'bb', 'ccc']);
  read('a');
  read('ccc');
  assert.deepEqual(p.calls, ['a', 'bb', 'ccc'], 'a and ccc stayed');
  read('bb'); // parsed again, evicting 'a'
  read('a');
  assert.deepEqual(p.calls, ['a', 'bb', 'ccc', 'bb', 'a']);
});

test('the cache never holds more than max texts', () => {
  const p = counting((text) => text);
  const read = memoByText(p.parse, 100);
  for (let i = 0; i < 1000; i++) read(String(i));
  p.calls.length = 0;
  for (let i = 900; i < 1000; i++) read(String(i));
  assert.equal(p.calls.length, 0, 'the last 100 are cached');
  read('899');
  read('900'); // evicted by 899, the least recently used then
  assert.deepEqual(p.calls, ['899', '900']);
});

test('a text the parser refuses throws the same error again without being parsed again', () => {
  const p = counting((text) => {
    if (text === 'bad') throw new Error('unreadable');
    return text;
  });
  const read = memoByText(p.parse);
  assert.throws(() => read('bad'), /unreadable/);
  assert.throws(() => read('bad'), /unreadable/);
  assert.equal(read('good'), 'good');
  assert.deepEqual(p.calls, ['bad', 'good']);
});
