import type { ClientCommand, CommandResult, ServerCommand, SyncRequest, SyncResponse } from '../src/protocol/sync.js';
import { describeVersion } from './workload.js';

/**
 * One-line descriptions of exchanges for `--trace`, the first thing to read when a seed fails: which
 * device sent which key and edits, what came back, and which fault hit it.
 */
export type Trace = (line: string) => void;

const clientCommand = (c: ClientCommand): string =>
  c.op === 'add' ? `add ${c.clientId} ${describeVersion(c.data)}` : c.op === 'change' ? `change ${c.serverId} ${describeVersion(c.data)}` : `${c.op} ${c.serverId}`;

const serverCommand = (c: ServerCommand): string => (c.op === 'delete' ? `delete ${c.serverId}` : `${c.op} ${c.serverId} ${describeVersion(c.data)}`);

const result = (r: CommandResult): string => `${r.op} ${r.status}${r.serverId ? ` ${r.serverId}` : ''}`;

export function describeRequest(request: SyncRequest): string {
  return request.collections
    .map((c) => `${request.device.id} key ${c.syncKey} [${(c.commands ?? []).map(clientCommand).join('; ')}]`)
    .join(' | ');
}

export function describeResponse(response: SyncResponse): string {
  return response.collections
    .map(
      (c) =>
        `${c.status} key ${c.syncKey}${c.moreAvailable ? ' (more)' : ''} ` +
        `changes [${c.commands.map(serverCommand).join('; ')}] results [${c.results.map(result).join('; ')}]`,
    )
    .join(' | ');
}
