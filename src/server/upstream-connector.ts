import { discover } from '../connectors/dav/discovery.js';
import { UpstreamError } from '../connectors/dav/errors.js';
import { Transport, type Fetch } from '../connectors/dav/transport.js';
import type { UpstreamConnector } from '../hub/upstreams.js';
import { ProtocolError } from '../protocol/errors.js';

/**
 * The hub's UpstreamConnector on the CardDAV/CalDAV client (src/connectors/dav/): discovery with HTTP
 * Basic, its typed errors told as what a person can act on. They are `invalidRequest`, never
 * `unauthorized`: the upstream refused the credentials given for it, not the caller's own.
 */
export function davConnector(fetch: Fetch, clock: { now(): number }): UpstreamConnector {
  return {
    async discover(url, account) {
      try {
        return (await discover(new Transport({ fetch, clock, account }), url)).collections;
      } catch (err) {
        throw problemOf(err, url);
      }
    },
  };
}

function problemOf(err: unknown, url: string): Error {
  if (!(err instanceof UpstreamError)) return err as Error;
  const problem = (message: string) => new ProtocolError('invalidRequest', message, { upstreamError: err.reason });
  switch (err.reason) {
    case 'auth':
      return problem(`${url} refused the user name and password (401)`);
    case 'transient':
    case 'retry-after':
      return problem(`cannot reach ${url}: ${err.message}`);
    case 'redirect':
      return problem(err.message);
    default:
      return problem(`${url} did not answer as a CardDAV/CalDAV server: ${err.message}`);
  }
}
