import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { send, sendError } from '../http/body.js';
import type { Face, Metrics } from '../hub/metrics.js';
import { channelKinds, type ChannelKind } from '../hub/push-channel.js';
import { ProtocolError, type StatusCode } from '../protocol/errors.js';
import type { TransactionTimer } from '../store/store.js';
import type { ClientAddresses } from './auth/client-address.js';
import type { OpenedStore } from './open-store.js';

/**
 * The process's Prometheus metrics, served at GET /metrics (docs/operations.md § Metrics lists them all).
 * Every label comes from a fixed set: faces, status classes, HTTP statuses and protocol statuses the
 * server itself sends, channel kinds. Nothing names an account or a device, so the number of series
 * stays bounded however many clients there are. Label children are looked up once and kept, so
 * recording a request allocates nothing beyond prom-client's own bookkeeping.
 */
const faces: readonly Face[] = ['native', 'dav', 'eas', 'push', 'web'];
/** An answer's status class; `aborted`: the client went away before any answer was sent. */
const classes = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const;

type Child = { inc(): void };

export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly heldResponses = new WeakSet<object>();
  private readonly requests: Record<Face, readonly Child[]>;
  private readonly latency: Record<Face, { observe(seconds: number): void }>;
  private readonly errorCounter: Counter<'face' | 'status'>;
  private readonly errors = new Map<string, Child>();
  private readonly nativeExchanges: Counter<'status'>;
  private readonly nativeErrors: Counter<'status'>;
  private readonly easCommands: Counter<'command' | 'status'>;
  private readonly easChildren = new Map<string, Child>();
  private readonly notices: Child;
  private readonly syncRequests: Child;
  private readonly transactions: Record<'commit' | 'rollback', { observe(seconds: number): void }>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const requests = new Counter({
      name: 'syncpoint_requests_total',
      help: 'HTTP requests answered, by face (native, dav, eas, push, web) and status class (2xx … 5xx; aborted: the client left before an answer)',
      labelNames: ['face', 'class'] as const,
      registers,
    });
    this.requests = perFace((face) => classes.map((c) => requests.labels(face, c)));
    const latency = new Histogram({
      name: 'syncpoint_request_duration_seconds',
      help: 'Time from a request’s arrival to the end of its answer, by face; held requests (push streams and long polls, ActiveSync Ping) are left out',
      labelNames: ['face'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.latency = perFace((face) => latency.labels(face));
    this.errorCounter = new Counter({
      name: 'syncpoint_request_errors_total',
      help: 'HTTP requests answered with a status of 400 or more, by face and HTTP status',
      labelNames: ['face', 'status'] as const,
      registers,
    });
    this.nativeExchanges = new Counter({
      name: 'syncpoint_native_exchanges_total',
      help: 'Native sync exchanges (POST /api/v1/sync) answered, by request-level protocol status (ok, or the error’s code)',
      labelNames: ['status'] as const,
      registers,
    });
    this.nativeErrors = new Counter({
      name: 'syncpoint_native_errors_total',
      help: 'Native API requests refused with a protocol error, by its status code (docs/protocol.md § 12)',
      labelNames: ['status'] as const,
      registers,
    });
    this.easCommands = new Counter({
      name: 'syncpoint_eas_commands_total',
      help: 'ActiveSync commands answered, by command and top-level Status (none: the answer has no top-level Status)',
      labelNames: ['command', 'status'] as const,
      registers,
    });
    this.notices = new Counter({ name: 'syncpoint_push_notices_total', help: 'Change notices handed to push channels', registers });
    this.syncRequests = new Counter({ name: 'syncpoint_push_sync_requests_total', help: 'Requests to sync handed to push channels', registers });
    const transactions = new Histogram({
      name: 'syncpoint_store_transaction_duration_seconds',
      help: 'Time a store transaction held the database, from BEGIN to COMMIT or ROLLBACK (each run of a retried one apart), by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.transactions = { commit: transactions.labels('commit'), rollback: transactions.labels('rollback') };
  }

  /** Counts `req`'s answer under `face` once the response is over (sent, or the client left). */
  request(face: Face, res: ServerResponse): void {
    const began = performance.now();
    // 'close' comes once; `on` spares the wrapper `once` would keep per response (thousands of held Pings).
    res.on('close', () => {
      const answered = res.headersSent;
      const status = res.statusCode;
      (this.requests[face][answered ? Math.min(Math.floor(status / 100), 5) - 1 : 5] as Child).inc();
      if (answered && status >= 400) this.error(face, status);
      if (!this.heldResponses.has(res)) this.latency[face].observe((performance.now() - began) / 1000);
    });
  }

  /** What the store tells of each transaction. */
  readonly transactionTimer: TransactionTimer = (seconds, committed) => this.transactions[committed ? 'commit' : 'rollback'].observe(seconds);

  /** Gauges read on each scrape: open push channels by kind, and (PostgreSQL) the pool and retries. */
  watch(channels: () => Record<ChannelKind, number>, store: OpenedStore): void {
    const registers = [this.registry];
    new Gauge({
      name: 'syncpoint_push_channels',
      help: 'Push channels open in this process, by kind (websocket, sse, long-poll, eas-ping: a held ActiveSync Ping)',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const counts = channels();
        for (const kind of channelKinds) this.set({ kind }, counts[kind]);
      },
    });
    const postgres = store.postgres;
    if (!postgres) return;
    let retriesSeen = 0;
    new Counter({
      name: 'syncpoint_store_transaction_retries_total',
      help: 'Store transactions run again after PostgreSQL aborted them (serialization failure or deadlock)',
      registers,
      collect() {
        const retries = postgres.retries();
        this.inc(retries - retriesSeen);
        retriesSeen = retries;
      },
    });
    const { pool } = postgres;
    gauge('syncpoint_store_pool_connections', 'PostgreSQL connections the pool holds, busy or idle', () => pool.totalCount);
    gauge('syncpoint_store_pool_idle_connections', 'PostgreSQL connections the pool holds that are idle', () => pool.idleCount);
    gauge('syncpoint_store_pool_waiting', 'Transactions waiting for a PostgreSQL connection from the pool', () => pool.waitingCount);
    function gauge(name: string, help: string, read: () => number) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    }
  }

  nativeExchange(status: StatusCode): void {
    this.nativeExchanges.labels(status).inc();
  }

  nativeError(status: StatusCode): void {
    this.nativeErrors.labels(status).inc();
  }

  easCommand(command: string, status: string): void {
    const key = `${command} ${status}`;
    let child = this.easChildren.get(key);
    if (!child) this.easChildren.set(key, (child = this.easCommands.labels(command, status === '' ? 'none' : status)));
    child.inc();
  }

  held(res: object): void {
    this.heldResponses.add(res);
  }

  pushNotice(): void {
    this.notices.inc();
  }

  pushSyncRequest(): void {
    this.syncRequests.inc();
  }

  private error(face: Face, status: number): void {
    const key = `${face} ${status}`;
    let child = this.errors.get(key);
    if (!child) this.errors.set(key, (child = this.errorCounter.labels(face, String(status))));
    child.inc();
  }
}

function perFace<T>(make: (face: Face) => T): Record<Face, T> {
  return Object.fromEntries(faces.map((face) => [face, make(face)])) as Record<Face, T>;
}

export const metricsPath = '/metrics';

/**
 * GET /metrics: the registry in Prometheus's text format, for the clients `allowed` names only (the
 * metricsAllow setting). The client is the one `addresses` vouches for: a request forwarded by a proxy
 * that is not among trustedProxies is refused, since its peer's address says nothing about its client.
 */
export function metricsRoute(metrics: PrometheusMetrics, addresses: ClientAddresses, allowed: (address: string) => boolean) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    req.resume();
    const address = addresses.vouched(req);
    if (address === undefined || !allowed(address)) {
      return sendError(req, res, new ProtocolError('forbidden', `${metricsPath} answers only the addresses of the metricsAllow setting (docs/operations.md § Metrics)`));
    }
    return send(req, res, 200, 'text/plain; version=0.0.4', await metrics.registry.metrics());
  };
}
