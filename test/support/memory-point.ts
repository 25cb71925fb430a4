import assert from 'node:assert/strict';
import type { PointApplied, PointReport, ServerSyncPoint } from '../../src/protocol/server-point.js';
import type { ClientCommand, CollectionResponse } from '../../src/protocol/sync.js';
import type { TestServer } from './server.js';

/** A sync point that keeps its records in memory, reports its edits (each its own remote object), and can refuse to acknowledge. */
export class MemoryPoint implements ServerSyncPoint {
  readonly protocol = 'memory';
  readonly records = new Map<string, string>();
  edits: ClientCommand[] = [];
  online = true;
  acknowledge = true;
  applied = 0;
  constructor(
    readonly id: string,
    readonly name: string,
    readonly collectionId: string,
  ) {}
  async report(): Promise<PointReport> {
    if (!this.online) throw new Error('unreachable');
    const remotes = this.edits.map((e) => ({ remoteId: e.op === 'add' ? e.clientId : e.serverId, remoteEtag: null }));
    return { commands: this.edits, remotes, known: [], problems: [], more: false };
  }
  async apply(outcome: CollectionResponse): Promise<PointApplied> {
    this.applied++;
    const applied: PointApplied = { acknowledged: this.acknowledge, records: [], forgotten: [], refused: [] };
    if (!this.acknowledge) return applied;
    for (const r of outcome.results) {
      const edit = this.edits[r.index];
      if (edit?.op === 'add' && r.serverId) this.records.set(r.serverId, edit.data);
    }
    for (const c of outcome.commands) {
      if (c.op === 'delete') this.records.delete(c.serverId);
      else this.records.set(c.serverId, c.data);
    }
    this.edits = [];
    return applied;
  }
}

/** A point's device exists before it runs (an upstream's is made when it is added): here, registered as a face registers one. */
export async function memoryPoint(server: TestServer, accountId: string, id: string, name: string, collectionId: string): Promise<MemoryPoint> {
  assert.ok(await server.hub.admitDevice({ accountId, device: { id, name }, protocol: 'memory' }, 100, 'memory'));
  return new MemoryPoint(id, name, collectionId);
}
