import type { ClientCommand, CollectionResponse } from '../../src/protocol/sync.js';
import { openSqliteReplica } from '../../src/sdk/node/sqlite-replica.js';
import type { Replica, ReplicaTx } from '../../src/sdk/replica.js';
import type { Credentials } from '../../src/sdk/transport.js';
import { seededRandom } from '../../sim/random.js';
import { CrashDevice, type DeviceReporter, type DeviceStats } from './device.js';

/**
 * The process one crash device lives in (started by DeviceProcess with fork(); options as JSON in
 * argv[2]). It edits and syncs until told to stop, reports everything to the parent over the IPC
 * channel, and can be killed at any moment, by the parent or, when armed, by itself in the middle of
 * applying an answer: then it sends itself SIGKILL from inside the replica transaction that applies
 * the answer, after a random number of that transaction's reads and writes, before it commits.
 */

export interface DeviceChildOptions {
  id: string;
  life: number;
  replicaFile: string;
  baseUrl: string;
  credentials: Credentials;
  collectionId: string;
  seed: number;
}

/** Parent to child. */
export type DeviceCommand = { op: 'stop' } | { op: 'sync' } | { op: 'arm' } | { op: 'exit' };

/** Child to parent. */
export type DeviceMessage =
  | { type: 'sent'; commands: ClientCommand[]; at: number }
  | { type: 'answered'; commands: ClientCommand[]; response: CollectionResponse; at: number }
  | { type: 'failed'; message: string }
  | { type: 'wire'; entry: Record<string, unknown> }
  | { type: 'problem'; problem: string }
  | { type: 'count'; stat: keyof DeviceStats; n: number }
  | { type: 'stopped' }
  | { type: 'synced'; moved: number | null };

/** Every apply transaction makes more calls than this (results, horizon, key, in-flight batch), so the kill lands inside. */
const applyCallsMin = 6;

const options = JSON.parse(process.argv[2] as string) as DeviceChildOptions;
const random = seededRandom(options.seed);
const send = (message: DeviceMessage, sent?: () => void): void => void process.send?.(message, undefined, {}, sent);

let armed = false;
let answerArrived = false;
const reporter: DeviceReporter = {
  sent: (commands, at) => new Promise((resolve) => send({ type: 'sent', commands, at }, resolve)),
  answered: (commands, response, at) => {
    answerArrived = true;
    send({ type: 'answered', commands, response, at });
  },
  failed: (message) => send({ type: 'failed', message }),
  wire: (entry) => send({ type: 'wire', entry }),
  problem: (problem) => send({ type: 'problem', problem }),
  count: (stat, n) => send({ type: 'count', stat, n }),
};

const replica = killableWhileApplying(openSqliteReplica(options.replicaFile));
const device = new CrashDevice({ ...options, replica, reporter, random });
let keepGoing = true;
const running = device.run(() => keepGoing);

// A device outlives no run: when the run's process is gone, so is this one.
process.on('disconnect', () => process.exit(0));
process.on('message', (command: DeviceCommand) => {
  if (command.op === 'arm') armed = true;
  else if (command.op === 'stop') {
    keepGoing = false;
    void running.then(() => send({ type: 'stopped' }));
  } else if (command.op === 'sync') void device.sync().then((s) => send({ type: 'synced', moved: s ? s.sent + s.received : null }));
  else {
    replica.close();
    process.exit(0);
  }
});

/** The replica, except that once armed, the first transaction after an answer arrived ends in SIGKILL. */
function killableWhileApplying(inner: Replica): Replica {
  return {
    ...inner,
    transaction: (fn) => {
      const applying = answerArrived;
      answerArrived = false;
      if (!armed || !applying) return inner.transaction(fn);
      let callsLeft = 1 + Math.floor(random() * applyCallsMin);
      return inner.transaction((tx) =>
        fn(
          new Proxy(tx, {
            get(target, name: keyof ReplicaTx) {
              const method = target[name] as (...args: unknown[]) => unknown;
              return (...args: unknown[]) => {
                if (--callsLeft === 0) process.kill(process.pid, 'SIGKILL');
                return method.apply(target, args);
              };
            },
          }),
        ),
      );
    },
  };
}
