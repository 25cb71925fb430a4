import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Accounts } from '../../hub/accounts.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { addressKey, PasswordThrottle, type Attempt } from './password-throttle.js';

/** The throttle on an injected clock, its counters in a real store: backoff that grows, is capped and decays; known clients. */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-throttle-'));
const stores: Array<ReturnType<typeof openSqliteStore>> = [];
after(async () => {
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function clocked() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A throttle with counters of its own (a fresh store). */
function throttleOn(now: () => number): PasswordThrottle {
  const store = openSqliteStore(join(dir, `throttle-${stores.length}.db`));
  stores.push(store);
  const accounts = new Accounts(store, { clock: { now }, random: { id: () => 'x' }, logger: { info() {}, warn() {}, debug() {} } });
  return new PasswordThrottle(accounts, now, limits);
}

const limits = {
  perClient: { freeFailures: 3, delayMs: 1000, delayMsMax: 8000, decayMs: 60_000 },
  perAddress: { freeFailures: 10, delayMs: 1000, delayMsMax: 4000, decayMs: 60_000 },
  perSubject: { freeFailures: 20, delayMs: 1000, delayMsMax: 4000, decayMs: 60_000 },
};

const attempt = (subject: string, address: string, known = false): Attempt => ({ subject, client: `a:${addressKey(address)}`, address, known });

test('failures past the free ones wait, doubling up to the cap; nothing ever locks for longer', async () => {
  const clock = clocked();
  const throttle = throttleOn(clock.now);
  const a = attempt('name:alice', '203.0.113.9');
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    let wait = await throttle.begin(a);
    if (wait > 0) {
      waits.push(wait);
      clock.advance(wait * 1000);
      wait = await throttle.begin(a);
    }
    assert.equal(wait, 0, 'after waiting, the attempt is checked');
  }
  assert.deepEqual(waits, [1, 2, 4, 8, 8]);
});

test('failures decay: one is forgiven per decay period without a new one', async () => {
  const clock = clocked();
  const throttle = throttleOn(clock.now);
  const a = attempt('name:alice', '203.0.113.9');
  for (let i = 0; i < 3; i++) assert.equal(await throttle.begin(a), 0);
  assert.equal(await throttle.begin(a), 1);
  clock.advance(60_000);
  assert.equal(await throttle.begin(a), 0, 'one failure decayed: a free attempt again');
  assert.ok(await throttle.begin(a) > 0);
});

test('a success takes its attempt back: counted in advance, forgiven after', async () => {
  const clock = clocked();
  const throttle = throttleOn(clock.now);
  const a = attempt('name:alice', '198.51.100.7');
  for (let i = 0; i < 10; i++) {
    assert.equal(await throttle.begin(a), 0);
    await throttle.succeeded(a);
  }
});

test('a burst of parallel guesses is counted before any is checked', async () => {
  const throttle = throttleOn(clocked().now);
  const a = attempt('name:alice', '203.0.113.9');
  const admitted = (await Promise.all(Array.from({ length: 20 }, () => throttle.begin(a)))).filter((w) => w === 0).length;
  assert.equal(admitted, 3);
});

test('a known client answers only for its own failures: other clients and addresses cannot hold it back', async () => {
  const throttle = throttleOn(clocked().now);
  // A distributed attack: many addresses, one subject, until unknown clients must wait.
  for (let i = 0; i < 40; i++) await throttle.begin(attempt('name:alice', `203.0.113.${i}`));
  assert.ok(await throttle.begin(attempt('name:alice', '192.0.2.1')) > 0, 'an unknown client waits');
  assert.equal(await throttle.begin(attempt('name:alice', '198.51.100.7', true)), 0, 'a known one does not');
  // One address spraying names.
  for (let i = 0; i < 40; i++) await throttle.begin(attempt(`name:n${i}`, '203.0.113.200'));
  assert.ok(await throttle.begin(attempt('name:bob', '203.0.113.200')) > 0);
  assert.equal(await throttle.begin(attempt('name:bob', '203.0.113.200', true)), 0, 'known for bob at that address: only its own count');
  // But its own failures still count.
  const own = attempt('name:carol', '198.51.100.9', true);
  for (let i = 0; i < 3; i++) assert.equal(await throttle.begin(own), 0);
  assert.ok(await throttle.begin(own) > 0);
});

test('addressKey: IPv4 as is, mapped IPv4 unwrapped, IPv6 by /64', () => {
  assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
});

test('two server processes on one store count the same failures: guesses spread over both wait as on one', async () => {
  const clock = clocked();
  const path = join(dir, 'shared.db');
  const throttles = [0, 1].map(() => {
    const store = openSqliteStore(path);
    stores.push(store);
    const accounts = new Accounts(store, { clock: { now: clock.now }, random: { id: () => 'x' }, logger: { info() {}, warn() {}, debug() {} } });
    return new PasswordThrottle(accounts, clock.now, limits);
  });
  const a = attempt('name:alice', '203.0.113.9');
  const waits = [];
  for (let i = 0; i < 6; i++) waits.push(await (throttles[i % 2] as PasswordThrottle).begin(a));
  assert.deepEqual(waits, [0, 0, 0, 1, 1, 1], 'three free failures in all, not three per process');
});
