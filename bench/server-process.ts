import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A real `syncpoint serve` child process for benchmarks, and the helpers around it. */

/** Radicale and the port helpers live with the tests' other DAV servers (test/support/dav-servers.ts); benchmarks use them from here. */
export { freePort, startRadicale, waitForHttp } from '../test/support/dav-servers.js';

/** This file runs as dist/bench/server-process.js; the repository root is two levels up. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = join(repoRoot, 'dist/src/cli/main.js');

/** As run from the repository root; recorded in the results. */
export const nodeCommand = (args: string[]) => `node ${['dist/src/cli/main.js', ...args].join(' ')}`;

/** The middle sample (the upper of the two middle ones for an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Writes a benchmark's figures to bench/results/NAME-latest.json, with the Node version and core count they were measured on; returns the path. */
export function writeResults(name: string, figures: Record<string, unknown>): string {
  const path = join(repoRoot, 'bench/results', `${name}-latest.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ node: process.version, cores: cpus().length, ...figures }, null, 2)}\n`);
  return path;
}

/** `where`: a SQLite data directory, or the CLI's own arguments for another database (`['--database', URL]`). */
export const accountArgs = (where: string | string[], user: string) => ['user', 'add', user, '--password-stdin', ...(typeof where === 'string' ? ['--data', where] : where)];

export function createAccount(where: string | string[], account: { user: string; password: string }): void {
  const run = spawnSync(process.execPath, [cliPath, ...accountArgs(where, account.user)], { input: `${account.password}\n`, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`user add failed (exit ${run.status}): ${run.stderr}`);
}

/** The most files (sockets included) one process may open here: the hard RLIMIT_NOFILE. */
export function fileDescriptorHardLimit(): number {
  return Number(spawnSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
}

/**
 * Starts `syncpoint serve` with these arguments and resolves once it prints that it is serving.
 * `manySockets` raises the soft open-file limit to the hard one first (through the shell's ulimit).
 * `quiet` keeps the server's logs and stderr out of the bench's output (stderr stays readable on the
 * child, for a crash's reason). `nodeArgs` go to node before the script (`--cpu-prof`, say).
 */
export async function startServer(args: string[], manySockets = false, quiet = false, nodeArgs: string[] = []): Promise<ChildProcess> {
  const command = [process.execPath, ...nodeArgs, cliPath, ...args];
  const env = { ...process.env, SYNCPOINT_LOG_LEVEL: 'warn' };
  const stdio: ['ignore', 'inherit' | 'ignore', 'pipe'] = ['ignore', quiet ? 'ignore' : 'inherit', 'pipe'];
  const child = manySockets
    ? spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'serve', ...command], { env, stdio })
    : spawn(command[0] as string, command.slice(1), { env, stdio });
  // Warnings and errors (JSON logs on stdout) show up in the bench's output; the readiness line is on stderr.
  await new Promise<void>((ready, fail) => {
    let out = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (!quiet) process.stderr.write(chunk);
      out += chunk;
      if (out.includes('syncpoint serving')) ready();
    });
    child.once('exit', (code) => fail(new Error(`the server exited (code ${code}) before it was serving`)));
  });
  return child;
}

/** Resident set of a running process from Linux's /proc, in KiB: `VmHWM` is the peak, `VmRSS` the current. */
export function rssKiB(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** CPU seconds a process has used (user + system), from Linux's /proc; `children` adds the children it has waited for. */
export function cpuSeconds(pid: number, children = false): number {
  try {
    // The fields after the command's closing parenthesis: utime, stime, cutime, cstime are the 12th to 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
    return ticks / 100;
  } catch {
    return 0; // gone since listed
  }
}

/** CPU seconds the whole machine has been busy, all cores (Linux's /proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number {
  const ticks = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) - (ticks[3] as number) - (ticks[4] as number)) / 100;
}

/** SIGTERM, then wait for the graceful shutdown; a server that hangs is killed and reported. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 10_000).unref());
  const outcome = await Promise.race([exited, timeout]);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    throw new Error('the server did not stop within 10 s of SIGTERM');
  }
  if (outcome !== 0) throw new Error(`the server exited with code ${outcome} after SIGTERM`);
}
