import type { AddUpstream } from '../../src/hub/upstreams.js';
import { readKeyFile } from '../../src/server/secret-key.js';
import { hostGuard } from '../../src/server/upstream-addresses.js';
import { davConnector, imapConnector } from '../../src/server/upstream-connector.js';
import type { TestServer } from './server.js';

/** Adds an upstream to the test server's account as `syncpoint upstream add` does: real discovery (on loopback), the password sealed with the server's key file. */
export function addUpstream(server: TestServer, accountId: string, input: AddUpstream) {
  const connector = input.kind === 'imap' ? imapConnector(hostGuard(['127.0.0.1'])) : davConnector(fetch, Date);
  return server.hub.upstreams.add(accountId, input, { connector, key: () => readKeyFile(server.secretKeyFile) });
}

/** Runs the account's upstreams now and checks every one ran through. */
export async function runUpstreams(server: TestServer, accountId: string, upstreamId?: string) {
  const runs = await server.hub.upstreams.run(accountId, upstreamId === undefined ? {} : { upstreamId });
  for (const r of runs) if (!r.ran || r.error !== null) throw new Error(`upstream ${r.id} did not run through: ${r.ran ? r.error : 'skipped'}`);
  return runs;
}
