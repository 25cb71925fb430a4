import type { Collection } from '../../src/protocol/collections.js';
import type { ClientCommand, CollectionResponse, SyncRequest, SyncResponse } from '../../src/protocol/sync.js';
import type { Transport } from '../../src/sdk/transport.js';
import { monotonicMicros } from './ledger.js';
import { describeAnswer, describeCommand } from './wire-log.js';

/** Where a device process reports its exchanges: the run's AckLedger and wire log, in the parent process. */
export interface ExchangeReporter {
  /** Resolves once the report is certain to reach the ledger, even if this process dies the next moment. */
  sent(commands: ClientCommand[], at: number): Promise<void>;
  answered(commands: ClientCommand[], response: CollectionResponse, at: number): void;
  /** No answer came (the server was down, or the connection broke). */
  failed(message: string): void;
  /** A line for the wire log. */
  wire(entry: Record<string, unknown>): void;
}

/**
 * A Transport that reports what each sync request carried and what the server answered. A request
 * leaves only once its report is on its way, so the ledger knows every version's first sending even
 * when this device is killed right after.
 */
export class RecordingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly reporter: ExchangeReporter,
  ) {}

  async sync(request: SyncRequest): Promise<SyncResponse> {
    const at = monotonicMicros();
    for (const c of request.collections) {
      this.reporter.wire({ sent: c.syncKey, commands: (c.commands ?? []).map(describeCommand) });
      await this.reporter.sent(c.commands ?? [], at);
    }
    try {
      const response = await this.inner.sync(request);
      const answeredAt = monotonicMicros();
      for (const c of request.collections) {
        const answer = response.collections.find((r) => r.collectionId === c.collectionId);
        if (!answer) continue;
        this.reporter.wire({ answered: c.syncKey, ...describeAnswer(answer) });
        this.reporter.answered(c.commands ?? [], answer, answeredAt);
      }
      return response;
    } catch (err) {
      this.reporter.failed((err as Error).message);
      throw err;
    }
  }

  listCollections(): Promise<Collection[]> {
    return this.inner.listCollections();
  }

  createCollection(input: Parameters<Transport['createCollection']>[0]): Promise<Collection> {
    return this.inner.createCollection(input);
  }
}
