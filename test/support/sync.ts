import assert from 'node:assert/strict';
import {
  syncResponseSchema,
  type ClientCommand,
  type CollectionResponse,
  type SyncOptions,
} from '../../src/protocol/sync.js';
import { serverSql } from './database.js';
import { getJson, postJson, type TestServer } from './server.js';

/**
 * Helpers for end-to-end sync tests: one exchange at a time over real HTTP (`syncOnce`), and a model
 * device (`Device`) that keeps its sync keys and a replica of each collection the way a client would.
 */

export interface Endpoint {
  url: string;
}

export interface CollectionCall {
  collectionId: string;
  syncKey: number;
  commands?: ClientCommand[];
  windowSize?: number;
  getChanges?: boolean;
  options?: SyncOptions;
  /** Push tokens the device applied (docs/protocol.md, push). */
  tokens?: Array<{ from: number; to: number }>;
}

/** POST one sync request as JSON; asserts HTTP 200 and a schema-valid body, returns the parsed body. */
export async function syncRequest(server: Endpoint, authorization: string, deviceId: string, collections: CollectionCall[]) {
  const res = await postJson(`${server.url}/api/v1/sync`, authorization, { version: 1, device: { id: deviceId }, collections });
  assert.equal(res.status, 200, `sync failed: ${JSON.stringify(res.body)}`);
  const parsed = syncResponseSchema.safeParse(res.body);
  assert.ok(parsed.success, `response does not match the schema: ${JSON.stringify(res.body)}`);
  assert.equal(parsed.data.status, 'ok');
  assert.equal(parsed.data.collections.length, collections.length);
  return parsed.data;
}

/** One exchange for one collection; returns that collection's response. */
export async function syncOnce(server: Endpoint, authorization: string, deviceId: string, call: CollectionCall): Promise<CollectionResponse> {
  const body = await syncRequest(server, authorization, deviceId, [call]);
  const collection = body.collections[0] as CollectionResponse;
  assert.equal(collection.collectionId, call.collectionId);
  return collection;
}

/** Collection ids of an account by collection name. */
export async function collectionIds(server: Endpoint, authorization: string): Promise<Record<string, string>> {
  const res = await getJson(`${server.url}/api/v1/collections`, authorization);
  assert.equal(res.status, 200);
  return Object.fromEntries((res.body.collections as Array<{ name: string; id: string }>).map((c) => [c.name, c.id]));
}

let accountsCreated = 0;

/** A fresh account on the server, its default collections' ids, and a way to make its devices. */
export async function newAccount(server: TestServer) {
  const user = await server.addUser(`user${++accountsCreated}`);
  const ids = await collectionIds(server, user.authorization);
  const [contacts, calendar, tasks] = [ids.contacts, ids.calendar, ids.tasks];
  assert.ok(contacts && calendar && tasks, 'a new account has its default collections');
  const device = (id: string) => new Device(server, user.authorization, id);
  return { ...user, contacts, calendar, tasks, device };
}

/** The account's change sequence, read from the server's database (its SQLite file, or its PostgreSQL database) beside the server. */
export async function accountSeq(server: { dataDir: string; database: string }, accountId: string): Promise<number> {
  const [row] = await serverSql<{ seq: number | string }>(server, 'SELECT seq FROM accounts WHERE id = ?', [accountId]);
  assert.ok(row, `no account ${accountId}`);
  return Number(row.seq);
}

export interface ReplicaItem {
  data: string;
  etag: string;
}

/**
 * A model client: one sync key and one replica per collection. Server commands are applied the way the
 * protocol says (add/change store by server id, delete removes), and the device's own successful
 * commands are applied from their results.
 */
export class Device {
  readonly keys = new Map<string, number>();
  private readonly replicas = new Map<string, Map<string, ReplicaItem>>();

  constructor(
    readonly server: Endpoint,
    readonly authorization: string,
    readonly id: string,
  ) {}

  key(collectionId: string): number {
    return this.keys.get(collectionId) ?? 0;
  }

  view(collectionId: string): Map<string, ReplicaItem> {
    let replica = this.replicas.get(collectionId);
    if (!replica) this.replicas.set(collectionId, (replica = new Map()));
    return replica;
  }

  /** Data by server id, for comparisons. */
  snapshot(collectionId: string): Record<string, string> {
    const entries = [...this.view(collectionId)].map(([id, item]): [string, string] => [id, item.data]);
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Forget everything about a collection, as a client that lost its state. */
  reset(collectionId: string): void {
    this.keys.delete(collectionId);
    this.replicas.delete(collectionId);
  }

  /** One exchange with the current key; the response is applied and the new key kept. */
  async sync(collectionId: string, extra: Omit<CollectionCall, 'collectionId' | 'syncKey'> = {}): Promise<CollectionResponse> {
    const sent = this.key(collectionId);
    const response = await syncOnce(this.server, this.authorization, this.id, { collectionId, syncKey: sent, ...extra });
    assert.equal(response.status, 'ok', `sync of ${collectionId} with key ${sent}: ${response.status} ${response.message ?? ''}`);
    this.apply(collectionId, extra.commands ?? [], response);
    return response;
  }

  /** Follow moreAvailable until the collection is in step; returns every response. */
  async pull(collectionId: string, extra: Omit<CollectionCall, 'collectionId' | 'syncKey' | 'commands'> = {}): Promise<CollectionResponse[]> {
    const responses: CollectionResponse[] = [];
    for (;;) {
      const response = await this.sync(collectionId, extra);
      responses.push(response);
      if (!response.moreAvailable) return responses;
      assert.ok(responses.length < 100_000, 'moreAvailable never ends');
    }
  }

  apply(collectionId: string, commands: readonly ClientCommand[], response: CollectionResponse): void {
    const replica = this.view(collectionId);
    if (response.syncKey === 0) {
      this.reset(collectionId);
      return;
    }
    // The server's results first: server changes are newer than the commands they answer.
    for (const result of response.results) {
      if (result.status !== 'ok') continue;
      const command = commands[result.index];
      assert.ok(command, `result index ${result.index} has no command`);
      assert.equal(command.op, result.op);
      if (command.op === 'add' || command.op === 'change') {
        assert.ok(result.serverId && result.etag, 'ok add/change results carry serverId and etag');
        replica.set(result.serverId, { data: command.data, etag: result.etag });
      } else if (command.op === 'delete') {
        replica.delete(command.serverId);
      }
    }
    for (const command of response.commands) {
      if (command.op === 'delete') replica.delete(command.serverId);
      else replica.set(command.serverId, { data: command.data, etag: command.etag });
    }
    this.keys.set(collectionId, response.syncKey);
  }
}

export const add = (clientId: string, data: string): ClientCommand => ({ op: 'add', clientId, data });
export const change = (serverId: string, data: string): ClientCommand => ({ op: 'change', serverId, data });
export const del = (serverId: string): ClientCommand => ({ op: 'delete', serverId });
export const fetchItem = (serverId: string): ClientCommand => ({ op: 'fetch', serverId });

/** A vCard without a UID, which only the clientId record can match on retry. */
export function vcardWithoutUid(name: string): string {
  return `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:${name}\r\nN:${name};;;;\r\nEND:VCARD\r\n`;
}

export async function postRaw(
  url: string,
  authorization: string | undefined,
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...(authorization ? { authorization } : {}), ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
