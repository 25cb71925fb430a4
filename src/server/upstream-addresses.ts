import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { UpstreamError } from '../protocol/upstream-errors.js';
import type { Fetch } from '../connectors/dav/transport.js';
import { addressList } from './auth/client-address.js';

/**
 * Where upstreams may be (docs/operations.md § Upstream servers): any account holder can name an upstream
 * URL on the web app, and the server fetches it, so a URL at a loopback, private, link-local or otherwise
 * non-public address (the server's own host, the internal network, a cloud metadata service) is refused
 * unless the administrator allows its address in `upstreamAddressesAllow`. Every address the host name
 * resolves to is checked, before each request.
 */
const nonPublic = addressList(
  [
    '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/3',
    '::/128', '::1/128', '64:ff9b::/96', '100::/64', 'fc00::/7', 'fe80::/10', 'ff00::/8',
  ],
  'non-public ranges',
);

export type Resolve = (host: string) => Promise<string[]>;

const resolveAll: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Checks where a URL's host is: resolves to the first of its addresses, once every one of them is allowed; else throws UpstreamError `address`. */
export type HostGuard = (url: string) => Promise<string>;

export function hostGuard(allowed: readonly string[], resolve: Resolve = resolveAll): HostGuard {
  const isAllowed = addressList(allowed, 'upstreamAddressesAllow');
  return async (url) => {
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = isIP(host) !== 0 ? [host] : await resolve(host);
    if (addresses.length === 0) throw new UpstreamError('transient', `${host} has no address`, { url });
    for (const found of addresses) {
      // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is.
      const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(found)?.[1] ?? found;
      if (nonPublic(address) && !isAllowed(address)) {
        throw new UpstreamError('address', `${host} is at ${found}, a loopback, private or link-local address, which upstreams may only be at if the server's administrator allows it (upstreamAddressesAllow)`, { url });
      }
    }
    return addresses[0] as string;
  };
}

export function guardedFetch(fetch: Fetch, allowed: readonly string[], resolve: Resolve = resolveAll): Fetch {
  const guard = hostGuard(allowed, resolve);
  return async (url, init) => {
    await guard(url);
    return fetch(url, init);
  };
}
