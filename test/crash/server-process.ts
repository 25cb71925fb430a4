import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled `syncpoint` command (this file runs from dist/test/crash/). */
export const syncpointBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** A port nobody listens on right now; the server is restarted on it after every kill. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `syncpoint user add`, straight on the data directory, as an operator would before the first start. */
export function addUser(dataDir: string, name: string, password: string): void {
  const r = spawnSync(process.execPath, [syncpointBin, 'user', 'add', name, '--password-stdin', '--data', dataDir], {
    input: `${password}\n`,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`user add failed (${r.status}): ${r.stderr}`);
}

const startAttemptsMax = 5;
const stderrTailChars = 4000;

/** `syncpoint serve` as a separate process that can be SIGKILLed and started again on the same data. */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private stderrTail = '';

  constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server and resolves once it prints its "serving" line (it is listening by then). */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce();
      } catch (err) {
        // A port still held by the dead process's sockets clears within moments; anything else is a finding.
        if (attempt >= startAttemptsMax || !/EADDRINUSE/.test(this.stderrTail)) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  private startOnce(): Promise<void> {
    this.stderrTail = '';
    const child = spawn(process.execPath, [syncpointBin, 'serve', '--data', this.dataDir, '--port', String(this.port), '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    return new Promise((resolveStart, reject) => {
      let started = false;
      child.stderr?.on('data', (chunk: Buffer) => {
        this.stderrTail = (this.stderrTail + chunk.toString()).slice(-stderrTailChars);
        if (!started && /syncpoint serving /.test(this.stderrTail)) {
          started = true;
          resolveStart();
        }
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        if (!started) reject(new Error(`serve exited during start-up (${code ?? signal}): ${this.stderrTail}`));
      });
    });
  }

  /** SIGKILL: no handler runs, no transaction gets to finish, nothing is flushed but what is on disk. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: the clean shutdown; resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    const code = await exited;
    this.child = null;
    return code;
  }
}
