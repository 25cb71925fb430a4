import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, BackoffCounter, PasswordThrottle, type Attempt } from './password-throttle.js';

/** The throttle on an injected clock: backoff that grows, is capped and decays; known clients; bounded memory. */
function clocked() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const limits = {
  perClient: { freeFailures: 3, delayMs: 1000, delayMsMax: 8000, decayMs: 60_000, keysMax: 100 },
  perAddress: { freeFailures: 10, delayMs: 1000, delayMsMax: 4000, decayMs: 60_000, keysMax: 100 },
  perSubject: { freeFailures: 20, delayMs: 1000, delayMsMax: 4000, decayMs: 60_000, keysMax: 100 },
};

const attempt = (subject: string, address: string, known = false): Attempt => ({ subject, client: `a:${addressKey(address)}`, address, known });

test('failures past the free ones wait, doubling up to the cap; nothing ever locks for longer', () => {
  const clock = clocked();
  const throttle = new PasswordThrottle(clock.now, limits);
  const a = attempt('name:alice', '203.0.113.9');
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    let wait = throttle.begin(a);
    if (wait > 0) {
      waits.push(wait);
      clock.advance(wait * 1000);
      wait = throttle.begin(a);
    }
    assert.equal(wait, 0, 'after waiting, the attempt is checked');
  }
  assert.deepEqual(waits, [1, 2, 4, 8, 8]);
});

test('failures decay: one is forgiven per decay period without a new one', () => {
  const clock = clocked();
  const throttle = new PasswordThrottle(clock.now, limits);
  const a = attempt('name:alice', '203.0.113.9');
  for (let i = 0; i < 3; i++) assert.equal(throttle.begin(a), 0);
  assert.equal(throttle.begin(a), 1);
  clock.advance(60_000);
  assert.equal(throttle.begin(a), 0, 'one failure decayed: a free attempt again');
  assert.ok(throttle.begin(a) > 0);
});

test('a success takes its attempt back: counted in advance, forgiven after', () => {
  const clock = clocked();
  const throttle = new PasswordThrottle(clock.now, limits);
  const a = attempt('name:alice', '198.51.100.7');
  for (let i = 0; i < 10; i++) {
    assert.equal(throttle.begin(a), 0);
    throttle.succeeded(a);
  }
});

test('a burst of parallel guesses is counted before any is checked', () => {
  const throttle = new PasswordThrottle(clocked().now, limits);
  const a = attempt('name:alice', '203.0.113.9');
  const admitted = Array.from({ length: 20 }, () => throttle.begin(a)).filter((w) => w === 0).length;
  assert.equal(admitted, 3);
});

test('a known client answers only for its own failures: other clients and addresses cannot hold it back', () => {
  const throttle = new PasswordThrottle(clocked().now, limits);
  // A distributed attack: many addresses, one subject, until unknown clients must wait.
  for (let i = 0; i < 40; i++) throttle.begin(attempt('name:alice', `203.0.113.${i}`));
  assert.ok(throttle.begin(attempt('name:alice', '192.0.2.1')) > 0, 'an unknown client waits');
  assert.equal(throttle.begin(attempt('name:alice', '198.51.100.7', true)), 0, 'a known one does not');
  // One address spraying names.
  for (let i = 0; i < 40; i++) throttle.begin(attempt(`name:n${i}`, '203.0.113.200'));
  assert.ok(throttle.begin(attempt('name:bob', '203.0.113.200')) > 0);
  assert.equal(throttle.begin(attempt('name:bob', '203.0.113.200', true)), 0, 'known for bob at that address: only its own count');
  // But its own failures still count.
  const own = attempt('name:carol', '198.51.100.9', true);
  for (let i = 0; i < 3; i++) assert.equal(throttle.begin(own), 0);
  assert.ok(throttle.begin(own) > 0);
});

test('memory is bounded: past keysMax the least recently failed key is forgotten', () => {
  const clock = clocked();
  const counter = new BackoffCounter({ freeFailures: 1, delayMs: 1000, delayMsMax: 1000, decayMs: 60_000, keysMax: 50 });
  for (let i = 0; i < 1000; i++) counter.fail(`k${i}`, clock.now());
  assert.equal(counter.size, 50);
  assert.ok(counter.waitMs('k999', clock.now()) > 0);
  assert.equal(counter.waitMs('k0', clock.now()), 0);
});

test('addressKey: IPv4 as is, mapped IPv4 unwrapped, IPv6 by /64', () => {
  assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
});
