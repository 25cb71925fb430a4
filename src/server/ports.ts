import { randomFillSync } from 'node:crypto';
import type { Logger as Pino } from 'pino';
import type { HubPorts } from '../hub/ports.js';

/** 12 random bytes as base64url (never starting with '-'), taken from a pool refilled 4 KiB at a time: an upstream's first run makes an id per item, thousands in a row. */
function randomIds(): () => string {
  const pool = Buffer.alloc(12 * 341);
  let at = pool.length;
  return () => {
    if (at === pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    at += 12;
    const id = pool.toString('base64url', at - 12, at);
    // Never a leading '-': an id is a CLI argument (`syncpoint upstream remove ID`), and one there reads as an option.
    return id.startsWith('-') ? `_${id.slice(1)}` : id;
  };
}

/** The real clock, randomness and logger handed to the hub in production. */
export function realPorts(log: Pino): HubPorts {
  return {
    clock: { now: () => Date.now() },
    random: { id: randomIds() },
    pause: () => new Promise((resolve) => setImmediate(resolve)),
    logger: {
      info: (fields, message) => log.info(fields, message),
      warn: (fields, message) => log.warn(fields, message),
      debug: (message) => log.debug(message),
    },
  };
}
