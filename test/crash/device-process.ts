import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteReplica } from '../../src/sdk/node/sqlite-replica.js';
import type { LocalItem } from '../../src/sdk/replica.js';
import type { DeviceChildOptions, DeviceCommand, DeviceMessage } from './device-child.js';
import type { DeviceStats } from './device.js';
import type { AckLedger } from './ledger.js';
import type { WireLog } from './wire-log.js';

/** The compiled device-child.js, next to this file. */
const deviceChild = resolve(dirname(fileURLToPath(import.meta.url)), 'device-child.js');
const stderrTailChars = 4000;

/** Where a device's reports go in the run's own process. */
export interface DeviceSink {
  ledger: AckLedger;
  wireLog: WireLog;
  problem(problem: string): void;
}

/**
 * One crash device (device.ts) as a process that can be SIGKILLed and started again on its replica
 * file, as an app is killed and relaunched. Its reports go to the ledger and the wire log here.
 */
export class DeviceProcess {
  readonly stats: DeviceStats = { syncsSucceeded: 0, syncsFailed: 0, edits: 0, conflicts: 0 };
  readonly kills = { total: 0, whileApplying: 0 };
  /** A sync request is out and neither answered nor failed. */
  onWire = false;
  private child: ChildProcess | null = null;
  private gone: Promise<unknown> = Promise.resolve();
  private life = 0;
  private exitExpected = false;
  private stderrTail = '';
  private reply: { type: 'stopped' | 'synced'; resolve: (m: DeviceMessage) => void } | null = null;

  constructor(
    readonly options: Omit<DeviceChildOptions, 'life'>,
    private readonly sink: DeviceSink,
  ) {}

  get id(): string {
    return this.options.id;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.life++;
    this.exitExpected = false;
    this.onWire = false;
    this.stderrTail = '';
    const options: DeviceChildOptions = { ...this.options, life: this.life, seed: this.options.seed * 7919 + this.life };
    const child = fork(deviceChild, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child = child;
    this.sink.wireLog.write({ device: this.id, life: this.life });
    // Every report a dead process wrote is read before it counts as gone, so its next life's reports come after.
    this.gone = Promise.all([once(child, 'exit'), once(child, 'disconnect')]);
    child.stderr?.on('data', (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString()).slice(-stderrTailChars)));
    child.on('message', (m: DeviceMessage) => this.receive(m));
    child.once('exit', (code, signal) => {
      if (!this.exitExpected) this.sink.problem(`device ${this.id} died (${code ?? signal}): ${this.stderrTail}`);
    });
  }

  /** SIGKILL at whatever the device is doing. */
  async kill(): Promise<void> {
    this.exitExpected = true;
    this.child?.kill('SIGKILL');
    await this.gone;
    this.kills.total++;
  }

  /** The device SIGKILLs itself inside the transaction that applies its next answer (device-child.ts). */
  async killWhileApplying(timeoutMs: number): Promise<void> {
    this.exitExpected = true;
    this.command({ op: 'arm' });
    const died = await Promise.race([this.gone.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (died) {
      this.kills.whileApplying++;
      this.kills.total++;
    } else {
      this.sink.problem(`device ${this.id} applied no answer within ${timeoutMs} ms of being armed`);
      await this.kill();
    }
  }

  /** Ends the edit-and-sync loop; the device then syncs only when asked. */
  async stop(): Promise<void> {
    await this.ask({ op: 'stop' }, 'stopped');
  }

  /** One sync: what it moved (sent plus received), or null when it failed. */
  async sync(): Promise<number | null> {
    const m = await this.ask({ op: 'sync' }, 'synced');
    return m.type === 'synced' ? m.moved : null;
  }

  /** Closes the replica and ends the process. */
  async exit(): Promise<void> {
    this.exitExpected = true;
    this.command({ op: 'exit' });
    await this.gone;
  }

  /** What the replica file holds; only once the process is gone. */
  items(): LocalItem[] {
    const replica = openSqliteReplica(this.options.replicaFile);
    try {
      return replica.transaction((tx) => tx.all(this.options.collectionId));
    } finally {
      replica.close();
    }
  }

  /** A command and its reply; a device that dies instead fails the run rather than leaving it waiting. */
  private ask(command: DeviceCommand, type: 'stopped' | 'synced'): Promise<DeviceMessage> {
    const replied = new Promise<DeviceMessage>((resolveReply) => {
      this.reply = { type, resolve: resolveReply };
      this.command(command);
    });
    const died = this.gone.then(() => Promise.reject(new Error(`device ${this.id} died instead of answering ${command.op}: ${this.stderrTail}`)));
    return Promise.race([replied, died]);
  }

  private command(command: DeviceCommand): void {
    this.child?.send(command);
  }

  private receive(m: DeviceMessage): void {
    const { ledger, wireLog } = this.sink;
    switch (m.type) {
      case 'sent':
        ledger.noteSent(this.id, m.commands, m.at);
        this.onWire = true;
        return;
      case 'answered':
        ledger.noteAnswered(this.id, m.commands, m.response, m.at);
        this.onWire = false;
        return;
      case 'failed':
        wireLog.write({ device: this.id, failed: m.message });
        this.onWire = false;
        return;
      case 'wire':
        wireLog.write({ device: this.id, ...m.entry });
        return;
      case 'problem':
        this.sink.problem(m.problem);
        return;
      case 'count':
        this.stats[m.stat] += m.n;
        return;
      default:
        if (this.reply?.type === m.type) {
          const { resolve: resolveReply } = this.reply;
          this.reply = null;
          resolveReply(m);
        }
    }
  }
}
