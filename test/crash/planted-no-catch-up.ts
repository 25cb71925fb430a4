import { PushTokens } from '../../src/hub/push-tokens.js';

/**
 * A planted bug for the fault test's own test, loaded into each server only with
 * `node --import <this file> syncpoint serve` (faults.ts, `plant: 'no-catch-up'`): a process never finds
 * the tokens another process's commits issued to the channels it holds, so a change committed on one
 * process never reaches a channel held by another. The push probe must see it. It says so on stderr, so
 * a plant that no longer takes is seen as such.
 */
PushTokens.prototype.after = async () => [];
process.stderr.write('planted bug: no catch-up\n');
