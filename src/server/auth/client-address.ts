import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * Who sent a request, and whether it came over HTTPS. Behind a reverse proxy every connection comes
 * from the proxy, so the client's address is taken from `Forwarded` (RFC 7239) or `X-Forwarded-For`,
 * and HTTPS from their `proto` — but only when the connection comes from a proxy named in the
 * `trustedProxies` setting (docs/configuration.md); anyone else could write those headers. The chain
 * is read from the right, skipping trusted proxies, so a client cannot choose its own address by
 * sending the header itself.
 */
export class ClientAddresses {
  private readonly isTrusted: (address: string) => boolean;

  constructor(trustedProxies: readonly string[]) {
    this.isTrusted = addressList(trustedProxies, 'trustedProxies');
  }

  /** The client's address: the peer's, or the nearest untrusted one a trusted proxy forwarded. */
  of(req: IncomingMessage): string {
    const peer = plain(req.socket.remoteAddress ?? 'unknown');
    if (!this.isTrusted(peer)) return peer;
    const chain = forwardedFor(req);
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i] as string;
      if (!this.isTrusted(hop)) return hop;
    }
    return chain[0] ?? peer;
  }

  /**
   * The client's address when it can be told for sure: as `of`, but undefined when the request says it
   * was forwarded and its peer is no trusted proxy. A proxy nobody declared (on this host, say) makes
   * every client look like the proxy, so its address vouches for no one.
   */
  vouched(req: IncomingMessage): string | undefined {
    const forwarded = header(req, 'forwarded') !== undefined || header(req, 'x-forwarded-for') !== undefined;
    if (forwarded && !this.isTrusted(plain(req.socket.remoteAddress ?? ''))) return undefined;
    return this.of(req);
  }

  /** Whether the request came over HTTPS: on a TLS socket, or said so by a trusted proxy. */
  secure(req: IncomingMessage): boolean {
    if ('encrypted' in req.socket) return true;
    if (!this.isTrusted(plain(req.socket.remoteAddress ?? ''))) return false;
    const forwarded = header(req, 'forwarded');
    if (forwarded !== undefined) return /(?:^|[;,\s])proto="?https"?(?:[;,\s]|$)/i.test(forwarded);
    return header(req, 'x-forwarded-proto')?.split(',').at(-1)?.trim().toLowerCase() === 'https';
  }

}

/** Whether an address is in `entries` (addresses and CIDR ranges; the setting named `setting`). */
export function addressList(entries: readonly string[], setting: string): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseProxyEntry(entry);
    if (!parsed) throw new Error(`${setting}: ${entry} is not an IP address or CIDR range`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  if (entries.length === 0) return () => false;
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** An address or CIDR range (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`). */
export function parseProxyEntry(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > bits) return undefined;
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** The hops a proxy listed, client first: from `Forwarded` if present, else `X-Forwarded-For`. Invalid ones are dropped. */
function forwardedFor(req: IncomingMessage): string[] {
  const forwarded = header(req, 'forwarded');
  const raw =
    forwarded !== undefined
      ? [...forwarded.matchAll(/(?:^|[;,\s])for="?([^";,]*)"?/gi)].map((m) => m[1] as string)
      : (header(req, 'x-forwarded-for')?.split(',') ?? []);
  return raw.map((hop) => plain(stripPort(hop.trim()))).filter((hop) => isIP(hop) !== 0);
}

/** `[2001:db8::1]:4711` and `192.0.2.1:80` lose their ports; a bare IPv6 address stays whole. */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) return bracketed[1] as string;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4 ? (v4[1] as string) : hop;
}

/** IPv4 mapped into IPv6 (`::ffff:127.0.0.1`, how a dual-stack socket reports it) as plain IPv4. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

/** A header sent once or several times, joined as HTTP joins repeated list headers. */
function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
