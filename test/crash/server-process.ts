import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The compiled `syncpoint` command (this file runs from dist/test/crash/). */
export const syncpointBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const plantedSynchronousOff = resolve(dirname(fileURLToPath(import.meta.url)), 'planted-synchronous-off.js');

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

/** The system calls the durability check needs (wal-sync-check.ts): writes of every kind, and syncs. */
const tracedCalls = 'write,pwrite64,writev,pwritev,pwritev2,sendto,sendmsg,sendmmsg,fsync,fdatasync';

export interface ServerProcessOptions {
  /** Where each life's system-call trace goes: `life-<n>.strace`. */
  traceDir: string;
  /** A planted bug for the crash test's own test (planted-synchronous-off.ts); never in a real run. */
  plant?: 'synchronous-off';
}

/**
 * `syncpoint serve` as a separate process that can be SIGKILLed and started again on the same data. It
 * runs under Debian's strace (-f: every thread; --seccomp-bpf: only the traced calls stop the process;
 * -yy: each descriptor with its path or socket address; -s 16: enough of each buffer to tell an HTTP
 * answer), so each life leaves a trace of its writes and syncs. Signals go to the server itself, by pid.
 */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private serverPid = 0;
  private stderrTail = '';
  private lives = 0;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly options: ServerProcessOptions,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The trace of the current (or last) life. */
  get traceFile(): string {
    return join(this.options.traceDir, `life-${this.lives}.strace`);
  }

  /** Starts the server and resolves once it prints its "serving" line (it is listening by then). */
  async start(): Promise<void> {
    this.lives++;
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
    const plant = this.options.plant ? ['--import', pathToFileURL(plantedSynchronousOff).href] : [];
    const serve = [process.execPath, ...plant, syncpointBin, 'serve', '--data', this.dataDir, '--port', String(this.port), '--log-level', 'warn'];
    const strace = ['-f', '--seccomp-bpf', '-qq', '-tt', '-yy', '-s', '16', '-e', `trace=${tracedCalls}`, '-o', this.traceFile, '--', ...serve];
    const child = spawn('strace', strace, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise((resolveStart, reject) => {
      let started = false;
      child.once('error', (err) => reject(new Error(`cannot run strace (Debian package strace; .ci/setup installs it): ${err.message}`)));
      child.stderr?.on('data', (chunk: Buffer) => {
        this.stderrTail = (this.stderrTail + chunk.toString()).slice(-stderrTailChars);
        if (started || !/syncpoint serving /.test(this.stderrTail)) return;
        started = true;
        if (this.options.plant && !/planted bug: synchronous = OFF/.test(this.stderrTail)) {
          reject(new Error(`the planted bug did not take: ${this.stderrTail}`));
          return;
        }
        // strace starts the server as its only child.
        const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/);
        if (children.length !== 1) return reject(new Error(`strace has ${children.length} children, expected the server alone`));
        this.serverPid = Number(children[0]);
        resolveStart();
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

  /** Signals the server and waits for strace, which exits with it (and with its exit code) once the trace is complete. */
  private async signal(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    process.kill(this.serverPid, signal);
    const code = await exited;
    this.child = null;
    return code;
  }
}
