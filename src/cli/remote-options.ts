import { Option, type Command } from 'commander';
import type { CollectionKind } from '../protocol/collections.js';
import { kindNames } from '../kinds/registry.js';
import { HttpTransport } from '../sdk/transport.js';
import { obtainPassword } from './password.js';

/** The options every command that talks to a server shares, and the transport they make. */
export interface RemoteOptions {
  server: string;
  user: string;
  collection: string;
  kind?: CollectionKind;
  passwordStdin?: boolean;
  xml?: boolean;
}

export function addRemoteOptions(command: Command): Command {
  return command
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--user <name>', 'account name')
    .requiredOption('--collection <name>', 'collection name; created if missing')
    .addOption(new Option('--kind <kind>', 'collection kind when creating it').choices(kindNames()))
    .option('--password-stdin', 'read the password or app token from standard input (else SYNCPOINT_PASSWORD or a prompt)')
    .option('--xml', 'speak the XML encoding instead of JSON');
}

export async function transportFor(opts: RemoteOptions): Promise<HttpTransport> {
  const password = await obtainPassword(opts, process.env, false);
  return new HttpTransport({ baseUrl: opts.server, credentials: { user: opts.user, password }, encoding: opts.xml ? 'xml' : 'json' });
}
