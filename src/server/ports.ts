import { randomBytes } from 'node:crypto';
import type { Logger as Pino } from 'pino';
import type { HubPorts } from '../hub/ports.js';

/** The real clock, randomness and logger handed to the hub in production. */
export function realPorts(log: Pino): HubPorts {
  return {
    clock: { now: () => Date.now() },
    random: { id: () => randomBytes(12).toString('base64url') },
    pause: () => new Promise((resolve) => setImmediate(resolve)),
    logger: {
      info: (fields, message) => log.info(fields, message),
      warn: (fields, message) => log.warn(fields, message),
      debug: (message) => log.debug(message),
    },
  };
}
