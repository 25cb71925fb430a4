import pg from 'pg';
import type { BusMessage, ProcessBus } from '../store.js';

/** The PostgreSQL channel every Syncpoint process listens on (the schema's triggers notify on it too). */
const channel = 'syncpoint';
/** Waits between attempts to listen again after the listening connection broke, in ms. */
const relistenMs = [100, 500, 1000, 2000, 5000];

/**
 * Process hints over LISTEN/NOTIFY: one connection of its own listens (a pooled one would be handed to
 * transactions), publishing goes through the pool. NOTIFY is not stored: a process that is not listening
 * when a notice is sent never gets it, which is why every receiver looks again after listening again.
 */
export class PostgresBus implements ProcessBus {
  private listener: pg.Client | undefined;
  private handler: ((message: BusMessage) => void) | undefined;
  private reconnected: (() => void) | undefined;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly onError: (err: Error) => void,
  ) {}

  publish(message: BusMessage): void {
    this.pool.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(message)]).catch(this.onError);
  }

  subscribe(handler: (message: BusMessage) => void, reconnected: () => void): void {
    this.handler = handler;
    this.reconnected = reconnected;
    void this.listen();
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'syncpoint listener' });
    const retry = (err: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.onError(err);
      const wait = relistenMs[Math.min(this.failures++, relistenMs.length - 1)] as number;
      setTimeout(() => void this.listen(), wait).unref();
    };
    this.listener = client;
    client.on('error', retry);
    client.on('end', () => retry(new Error('the listening connection ended')));
    client.on('notification', (n) => {
      if (n.channel !== channel || !n.payload) return;
      try {
        this.handler?.(JSON.parse(n.payload) as BusMessage);
      } catch (err) {
        this.onError(err as Error);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
      this.failures = 0;
      // Whatever was sent while nobody listened is gone: the receiver looks in the store again.
      this.reconnected?.();
    } catch (err) {
      retry(err as Error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }
}
