import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../protocol/upstream-errors.js';
import { guardedFetch, type Resolve } from './upstream-addresses.js';

const names: Record<string, string[]> = {
  'public.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'internal.example': ['10.1.2.3'],
  // A name with one public and one private address is refused: either could be the one connected to.
  'split.example': ['93.184.215.14', '192.168.1.10'],
  'metadata.example': ['169.254.169.254'],
  'mapped.example': ['::ffff:127.0.0.1'],
};
const resolve: Resolve = async (host) => names[host] ?? Promise.reject(new Error(`ENOTFOUND ${host}`));
const reached: string[] = [];
const fetch = async (url: string) => {
  reached.push(url);
  return new Response('ok');
};

test('upstreams at loopback, private, link-local and other non-public addresses are refused unless allowed; public ones pass', async () => {
  const guarded = guardedFetch(fetch, ['10.0.0.0/8', '::1'], resolve);
  for (const url of ['https://public.example/dav/', 'https://internal.example/', 'http://10.9.9.9:8080/', 'http://[::1]:5232/']) {
    assert.equal((await guarded(url, {})).status, 200, url);
  }
  for (const url of ['http://127.0.0.1:5232/', 'http://localhost.invalid/', 'https://split.example/', 'http://metadata.example/latest/', 'http://[::ffff:127.0.0.1]/', 'https://mapped.example/', 'http://0.0.0.0/', 'http://[fe80::1]/', 'http://172.20.0.1/']) {
    const before = reached.length;
    await assert.rejects(guarded(url, {}), (err: unknown) => (err instanceof UpstreamError && err.reason === 'address' && /upstreamAddressesAllow/.test(err.message)) || /ENOTFOUND/.test(String(err)), url);
    assert.equal(reached.length, before, `${url} was not fetched`);
  }
  // Nothing allowed: even loopback is refused.
  await assert.rejects(guardedFetch(fetch, [], resolve)('http://127.0.0.1:5232/', {}), /127\.0\.0\.1 is at 127\.0\.0\.1, a loopback/);
});
