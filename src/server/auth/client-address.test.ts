import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ClientAddresses, parseProxyEntry } from './client-address.js';

const request = (peer: string, headers: Record<string, string | string[]> = {}, encrypted = false) =>
  ({ socket: { remoteAddress: peer, ...(encrypted ? { encrypted: true } : {}) }, headers }) as unknown as IncomingMessage;

test('without trusted proxies the peer is the client and forwarding headers are ignored', () => {
  const addresses = new ClientAddresses([]);
  assert.equal(addresses.of(request('::ffff:198.51.100.7', { 'x-forwarded-for': '203.0.113.9' })), '198.51.100.7');
  assert.equal(addresses.secure(request('127.0.0.1', { 'x-forwarded-proto': 'https' })), false);
  assert.equal(addresses.secure(request('127.0.0.1', {}, true)), true);
});

test('from a trusted proxy the nearest untrusted hop is the client; one the client wrote itself is not believed', () => {
  const addresses = new ClientAddresses(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  assert.equal(addresses.of(request('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })), '203.0.113.9');
  // The client sent "X-Forwarded-For: 198.51.100.7"; the proxies appended the real address and each other.
  assert.equal(addresses.of(request('127.0.0.1', { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 10.1.2.3' })), '203.0.113.9');
  assert.equal(addresses.of(request('127.0.0.1', { forwarded: 'for=198.51.100.7, for="[2001:db8::1]:4711";proto=https, for=10.0.0.2' })), '2001:db8::1');
  assert.equal(addresses.of(request('127.0.0.1', { forwarded: 'for=192.0.2.60:8080' })), '192.0.2.60');
  assert.equal(addresses.of(request('127.0.0.1', { 'x-forwarded-for': ['198.51.100.7', '203.0.113.9'] })), '203.0.113.9');
  assert.equal(addresses.of(request('127.0.0.1', { 'x-forwarded-for': 'garbage, also garbage' })), '127.0.0.1', 'nothing usable: the proxy itself');
  assert.equal(addresses.of(request('127.0.0.1', { 'x-forwarded-for': '10.0.0.5' })), '10.0.0.5', 'all trusted: the farthest hop');
  assert.equal(addresses.of(request('198.51.100.50', { 'x-forwarded-for': '203.0.113.9' })), '198.51.100.50', 'not from a proxy');
  assert.equal(addresses.secure(request('127.0.0.1', { 'x-forwarded-proto': 'https' })), true);
  assert.equal(addresses.secure(request('127.0.0.1', { forwarded: 'for=203.0.113.9;proto=https' })), true);
  assert.equal(addresses.secure(request('127.0.0.1', { forwarded: 'for=203.0.113.9;proto=http' })), false);
  assert.equal(addresses.secure(request('198.51.100.50', { 'x-forwarded-proto': 'https' })), false);
});

test('parseProxyEntry takes addresses and CIDR ranges and nothing else', () => {
  assert.deepEqual(parseProxyEntry('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseProxyEntry('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const bad of ['', 'proxy.local', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) assert.equal(parseProxyEntry(bad), undefined, bad);
  assert.throws(() => new ClientAddresses(['proxy.local']), /trustedProxies: proxy.local/);
});
