import { request } from 'node:http';

/**
 * What the cases of the limits bench share: the server they run against, and one raw HTTP exchange
 * that counts the bytes each way without keeping a large answer (a case may be answered with hundreds
 * of megabytes).
 */
export type Face = 'native-json' | 'native-xml' | 'dav' | 'eas' | 'push' | 'web-sign-in';

export interface Target {
  url: string;
  dataDir: string;
  user: string;
  password: string;
  authorization: string;
  /** The account's default collections' ids by name (contacts, calendar, tasks, notes). */
  collections: Record<string, string>;
  /** Aborted when the case runs out of time. */
  signal: AbortSignal;
}

/** The measured step of a case: the bytes it sends, and a run that says what came of it (statuses, bytes answered, rows written). */
export interface Step {
  bytes: number;
  /** Separate HTTP requests the run sends (1 when absent): the goal is judged per request. */
  requests?: number;
  run(): Promise<string[]>;
}

export interface LimitCase {
  face: Face;
  case: string;
  /** The case of the same face sending normal traffic of the same size and shape, whose CPU this one is compared with. */
  floor?: string;
  /** Unmeasured: puts what the case needs on the server and builds the payload. */
  prepare(target: Target): Promise<Step>;
}

/**
 * Requests of ordinary items a case that sends items first makes the server serve, unmeasured, through
 * the same face (README.md, Benchmarks): the figures are then those of a server in
 * service. A process's first requests of a kind cost it two to three times as much while V8 compiles
 * the code they run, and an attacker meets a server that has long been running.
 */
export const warmUpRequests = 5;

export interface Exchange {
  status: number;
  /** Bytes of the answer's body as sent (compressed if it was). */
  answerBytes: number;
  /** The start of the answer, for messages. */
  head: string;
}

const headBytesMax = 300;

export function exchange(target: Pick<Target, 'url' | 'signal'>, method: string, path: string, headers: Record<string, string | number>, body?: Buffer | string): Promise<Exchange> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, target.url),
      { method, agent: false, signal: target.signal, headers: { ...headers, ...(payload ? { 'content-length': payload.length } : {}) } },
      (res) => {
        let answerBytes = 0;
        let head = '';
        res.on('data', (chunk: Buffer) => {
          answerBytes += chunk.length;
          if (head.length < headBytesMax) head += chunk.subarray(0, headBytesMax - head.length).toString('latin1');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, answerBytes, head }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export const mib = (bytes: number) => `${Math.round(bytes / 104857.6) / 10} MiB`;

/** A note on one exchange: its status, and its answer's size when that is worth saying. */
export const answered = (x: Exchange) => `HTTP ${x.status}, ${x.answerBytes >= 100_000 ? mib(x.answerBytes) : `${x.answerBytes} bytes`} answered`;

/** Statuses of many exchanges, counted: "HTTP 200 x998, HTTP 500 x2". */
export function statusCounts(statuses: readonly (number | string)[]): string {
  const counts = new Map<number | string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${typeof s === 'number' ? `HTTP ${s}` : s} x${n}`).join(', ');
}

/** Runs `task` over `items`, `width` at a time. */
export async function pool<T>(items: readonly T[], width: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i] as T, i);
      }
    }),
  );
}
