import { closeSync, openSync, writeSync } from 'node:fs';
import type { ClientCommand, CollectionResponse, ServerCommand } from '../../src/protocol/sync.js';
import { parseCard } from './cards.js';

/**
 * One JSON line per sync request, answer, failure, kill and start, kept with the run's files when a
 * check fails: the story of every item, to tell a server bug from an SDK bug.
 */
export class WireLog {
  private readonly fd: number;
  private readonly started = performance.now();

  constructor(file: string) {
    this.fd = openSync(file, 'a');
  }

  write(entry: Record<string, unknown>): void {
    writeSync(this.fd, `${JSON.stringify({ ms: Math.round(performance.now() - this.started), ...entry })}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** `add local-d1-3 d1.7`, `change <serverId> d2.9`, `delete <serverId>`: what a command carried, briefly. */
export function describeCommand(command: ClientCommand | ServerCommand): string {
  const target = 'clientId' in command ? command.clientId : command.serverId;
  return 'data' in command ? `${command.op} ${target} ${parseCard(command.data).version}` : `${command.op} ${target}`;
}

export function describeAnswer(response: CollectionResponse): Record<string, unknown> {
  return {
    status: response.status,
    key: response.syncKey,
    more: response.moreAvailable,
    results: response.results.map((r) => `${r.index} ${r.op} ${r.status} ${r.serverId ?? ''}`.trim()),
    commands: response.commands.map(describeCommand),
  };
}
