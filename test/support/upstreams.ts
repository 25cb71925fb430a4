import type { AddUpstream } from '../../src/hub/upstreams.js';
import { readKeyFile } from '../../src/server/secret-key.js';
import { davConnector } from '../../src/server/upstream-connector.js';
import type { TestServer } from './server.js';

/** Adds an upstream to the test server's account as `syncpoint upstream add` does: real discovery, the password sealed with the server's key file. */
export function addUpstream(server: TestServer, accountId: string, input: AddUpstream) {
  return server.hub.upstreams.add(accountId, input, { connector: davConnector(fetch, Date), key: () => readKeyFile(server.secretKeyFile) });
}

/** Runs the account's upstreams now and checks every one ran through. */
export async function runUpstreams(server: TestServer, accountId: string, upstreamId?: string) {
  const runs = await server.hub.upstreams.run(accountId, upstreamId === undefined ? {} : { upstreamId });
  for (const r of runs) if (!r.ran || r.error !== null) throw new Error(`upstream ${r.id} did not run through: ${r.ran ? r.error : 'skipped'}`);
  return runs;
}
