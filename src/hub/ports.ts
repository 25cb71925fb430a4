import { limits, type AccountLimits } from '../core/limits.js';

/**
 * What the hub is handed instead of reaching for globals, so a simulator can drive it with a fake
 * clock, seeded randomness and an in-memory store, and replay any run exactly.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface Random {
  /** A new unguessable identifier (URL-safe, no more than 32 characters). */
  id(): string;
}

export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  debug(message: string): void;
}

export interface HubPorts {
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The server's per-account limits; core/limits.ts's defaults where absent. */
  accountLimits?: AccountLimits;
  /**
   * Lets the process's other work run (a macrotask turn) in the middle of a large batch, so a request of
   * a thousand commands does not hold the event loop for its whole length (docs/architecture.md). Requests
   * that need the store still wait for the transaction. The simulator gives none: its runs replay exactly.
   */
  pause?: () => Promise<void>;
}

/** The per-account limit `name` these ports set. */
export function accountLimit(ports: HubPorts, name: keyof AccountLimits): number {
  return ports.accountLimits?.[name] ?? limits[name];
}
