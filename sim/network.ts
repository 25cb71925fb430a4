import type { z } from 'zod';
import { collectionSchema, type Collection, type CreateCollection } from '../src/protocol/collections.js';
import { httpStatusOf, ProtocolError } from '../src/protocol/errors.js';
import { syncRequestSchema, syncResponseSchema, type SyncRequest, type SyncResponse } from '../src/protocol/sync.js';
import { RequestRefusedError, RetryableError, type Transport } from '../src/sdk/transport.js';
import type { CollectionRow } from '../src/store/store.js';
import type { Rng } from './random.js';
import type { SimServer } from './server.js';
import { describeRequest, describeResponse, type Trace } from './trace.js';

/**
 * The network between the devices and the server: an in-process Transport that loses, repeats and
 * delays sync requests on a seeded schedule. Requests and replies cross it as JSON and are validated
 * with the wire schemas, as the native face and the HTTP transport do, so nothing is shared by
 * reference between a device and the server.
 *
 * Faults, one per exchange at most:
 *   - dropRequest:      the request never arrives (the device sees a network error);
 *   - dropReply:        the server commits, the reply is lost;
 *   - duplicate:        the request arrives twice in a row; the device gets one of the two replies;
 *   - delayedDuplicate: the request is answered normally, and a copy of it reaches the server again
 *                       a few exchanges later (a retry overtaken by its original, still in flight);
 *                       nobody is waiting for that copy's reply.
 * Server restarts happen here too, between exchanges, because that is when a device would notice one.
 * A restart waits for the exchanges in flight (a device may have several, one per collection) and
 * holds back new ones until it is done: a kill in the middle of one is the crash test's business.
 * Collection calls go straight through: the simulator is about sync.
 */
export const faultKinds = ['dropRequest', 'dropReply', 'duplicate', 'delayedDuplicate'] as const;
export type Fault = (typeof faultKinds)[number];

export interface FaultRates {
  /** Probability that an exchange meets one of the faults. */
  exchange: number;
  /** The faults it may meet. */
  kinds: readonly Fault[];
  /** Probability that the server restarts before an exchange. */
  restart: number;
}

/** Exchanges a delayed copy waits, at most, before it reaches the server. */
const delayExchangesMax = 6;

export class SimNetwork {
  readonly faults: Record<Fault, number> = { dropRequest: 0, dropReply: 0, duplicate: 0, delayedDuplicate: 0 };
  /** Requests that reached the hub, delayed copies included. */
  exchanges = 0;
  faultsOn = true;
  /** Runs while a device waits for its reply (the server has answered): push notices get in here. */
  beforeReply: (deviceId: string) => Promise<void> = async () => undefined;
  /** Called with each request as the device sends it, before any fault. */
  beforeSend: (request: SyncRequest) => void = () => undefined;
  private readonly delayed: Array<{ late: () => Promise<void>; dueAt: number }> = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private restarting: Promise<void> | null = null;

  constructor(
    private readonly rng: Rng,
    private readonly server: SimServer,
    private readonly accountId: string,
    private readonly rates: FaultRates,
    private readonly onDelivered: (request: SyncRequest, response: SyncResponse) => void,
    private readonly trace: Trace | undefined,
  ) {}

  readonly transport: Transport = {
    sync: (request) => this.sync(request),
    listCollections: async () => (await this.server.hub.accounts.listCollections(this.accountId)).map(toCollection),
    createCollection: async (input: CreateCollection) => toCollection(await this.server.hub.accounts.createCollection(this.accountId, input)),
  };

  /** The end of the faulty phase: copies still on their way arrive now, and nothing goes wrong any more. */
  async settle(): Promise<void> {
    this.faultsOn = false;
    for (const { late } of this.delayed.splice(0)) await late();
  }

  private sync(request: SyncRequest): Promise<SyncResponse> {
    return this.tracked(() => this.exchange(request));
  }

  /**
   * An ActiveSync or DAV device's HTTP request, across the same faults as the native ones: `serve(note,
   * copy)` answers one copy as the server would (eas-server.ts, dav-server.ts); `copy` is set for a second
   * copy, which is what the device re-sends (an ActiveSync empty Sync is re-sent in full: only the device's
   * first try of it is empty). `delivered` is told about the reply the device got. Returns that reply.
   */
  httpExchange<T>(deviceId: string, what: string, serve: (note: string, copy: boolean) => Promise<T>, delivered: (reply: T) => void): Promise<T> {
    return this.tracked(async () => {
      const reply = await this.withFaults(deviceId, what, async (note) => {
        this.exchanges++;
        return serve(note, note === 'duplicated, second');
      }, async () => {
        this.exchanges++;
        await serve('late copy, nobody reads the reply', true);
      });
      delivered(reply);
      return reply;
    });
  }

  /** Runs an exchange as one in flight, after a server restart that may come first. */
  private async tracked<T>(run: () => Promise<T>): Promise<T> {
    while (this.restarting) await this.restarting;
    if (this.faultsOn && this.rng.chance(this.rates.restart)) {
      this.restarting = this.restartWhenIdle();
      await this.restarting;
    }
    const exchange = run();
    this.inFlight.add(exchange);
    try {
      return await exchange;
    } finally {
      this.inFlight.delete(exchange);
    }
  }

  private async restartWhenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.server.restart();
    this.trace?.('server restarts');
    this.restarting = null;
  }

  private async exchange(request: SyncRequest): Promise<SyncResponse> {
    const sent = wire(request, syncRequestSchema);
    this.beforeSend(sent);
    const reply = await this.withFaults(
      sent.device.id,
      describeRequest(sent),
      // The second of a duplicate is a copy of its own, as the first is.
      (note) => this.serve(note === 'duplicated, second' ? wire(request, syncRequestSchema) : sent, note),
      () => this.deliverLate(wire(request, syncRequestSchema)),
    );
    const delivered = wire(reply, syncResponseSchema);
    this.onDelivered(sent, delivered);
    return delivered;
  }

  /**
   * One request across the network: copies delayed earlier that are due arrive first, then at most one
   * fault. `serve(note)` has the server answer one copy; `late` delivers a copy whose reply nobody reads.
   */
  private async withFaults<T>(deviceId: string, what: string, serve: (note: string) => Promise<T>, late: () => Promise<void>): Promise<T> {
    for (const due of this.delayed.filter((d) => d.dueAt <= this.exchanges)) {
      this.delayed.splice(this.delayed.indexOf(due), 1);
      await due.late();
    }
    const fault: Fault | null = this.faultsOn && this.rates.kinds.length > 0 && this.rng.chance(this.rates.exchange) ? this.rng.pick(this.rates.kinds) : null;
    if (fault) this.faults[fault]++;
    let reply: T;
    switch (fault) {
      case 'dropRequest':
        this.trace?.(`${what} -> request lost`);
        throw new RetryableError('simulated network: the request was lost');
      case 'dropReply':
        await serve('reply lost');
        await this.beforeReply(deviceId);
        throw new RetryableError('simulated network: the reply was lost after the server committed');
      case 'duplicate': {
        const first = await serve('duplicated, first');
        const second = await serve('duplicated, second');
        reply = this.rng.chance(0.5) ? first : second;
        this.trace?.(`  the device gets the ${reply === first ? 'first' : 'second'} reply`);
        break;
      }
      case 'delayedDuplicate':
        this.delayed.push({ late, dueAt: this.exchanges + this.rng.int(1, delayExchangesMax) });
        reply = await serve('a copy is delayed');
        break;
      case null:
        reply = await serve('');
    }
    await this.beforeReply(deviceId);
    return reply;
  }

  /** What the native face does with a decoded request: the hub's answer, or its refusal as an HTTP error. */
  private async serve(request: SyncRequest, note: string): Promise<SyncResponse> {
    this.exchanges++;
    try {
      const response = await this.server.hub.sync(this.accountId, 'native', request);
      this.trace?.(`#${this.exchanges} ${describeRequest(request)} -> ${describeResponse(response)}${note ? ` (${note})` : ''}`);
      return response;
    } catch (err) {
      this.trace?.(`#${this.exchanges} ${describeRequest(request)} -> ${(err as Error).message}${note ? ` (${note})` : ''}`);
      if (err instanceof ProtocolError) throw new RequestRefusedError(httpStatusOf[err.status], err.status, err.message);
      throw err;
    }
  }

  /** A copy arriving late: the server handles it, and its reply goes to a connection nobody reads. */
  private async deliverLate(request: SyncRequest): Promise<void> {
    try {
      await this.serve(request, 'late copy, nobody reads the reply');
    } catch (err) {
      // Its original got the same refusal, and that one reached the device.
      if (!(err instanceof RequestRefusedError)) throw err;
    }
  }
}

/** Across the wire: serialized, parsed back, and checked against the schema as the receiver would. */
function wire<T>(message: T, schema: z.ZodType<T>): T {
  return schema.parse(JSON.parse(JSON.stringify(message)));
}

const toCollection = (row: CollectionRow): Collection =>
  collectionSchema.parse({ id: row.id, name: row.name, kind: row.kind, displayName: row.displayName, ...(row.color ? { color: row.color } : {}) });
