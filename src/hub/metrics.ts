import type { StatusCode } from '../protocol/errors.js';

/*
 * What faces and push record for an operator (docs/operations.md § Metrics). The server shell backs it
 * with a Prometheus registry (src/server/metrics.ts) and counts every HTTP request by face itself; this
 * port carries only what the shell cannot see from outside: protocol statuses, held requests and push
 * messages. It lives in the hub so faces and push need not import the shell (docs/architecture.md §
 * Layers). Every label it takes comes from a fixed set, never an account or a device.
 */

/** Who answers a request: a face, push, or the web app (its files and session routes). */
export type Face = 'native' | 'dav' | 'eas' | 'push' | 'web';

export interface Metrics {
  /** A native sync exchange (POST /api/v1/sync) answered, with its request-level status: 'ok' or the error's. */
  nativeExchange(status: StatusCode): void;
  /** A native API request (sync or not) refused with a protocol error. */
  nativeError(status: StatusCode): void;
  /** An ActiveSync command answered, with its top-level Status ('' when the answer has none). */
  easCommand(command: string, status: string): void;
  /**
   * The response `res` is held open by design (a push stream or long poll, an ActiveSync Ping): its
   * length is a wait, not latency, so the shell counts it but keeps it out of the latency histogram.
   */
  held(res: object): void;
  /** A change notice handed to a push channel. */
  pushNotice(): void;
  /** A request to sync handed to a push channel. */
  pushSyncRequest(): void;
}

/** Records nothing: for what runs without a server shell (the simulator). */
export const noMetrics: Metrics = {
  nativeExchange() {},
  nativeError() {},
  easCommand() {},
  held() {},
  pushNotice() {},
  pushSyncRequest() {},
};
