import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { exchange, statusCounts, type LimitCase, type Target } from './wire.js';

/**
 * Sign-in cases of the limits bench: what a client that has no password can make the server spend.
 * A small gzip body that inflates to 15 MiB (once, and held open on 120 connections), a wrong secret
 * for a known app-token id, and password guesses.
 */

const bomb = () => gzipSync(Buffer.alloc(15 * 1024 * 1024, ' '), { level: 9 });

const signInHeaders = { 'content-type': 'application/json', 'content-encoding': 'gzip' };

/** Sends the headers and the whole gzip body, but declares one byte more: the server waits for it. */
function holdOpen(target: Target, body: Buffer): Promise<() => void> {
  const { hostname, port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const head = `POST /api/v1/session HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${body.length + 1}\r\n\r\n`;
      socket.write(head);
      socket.write(body, () => resolve(() => socket.destroy()));
    });
    socket.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const guesses = 30;

export const signInCases: LimitCase[] = [
  {
    face: 'web-sign-in',
    case: '15 KB gzip body inflating to 15 MiB, no credentials',
    async prepare(target) {
      const body = bomb();
      return { bytes: body.length, run: async () => [`HTTP ${(await exchange(target, 'POST', '/api/v1/session', signInHeaders, body)).status}`] };
    },
  },
  {
    face: 'web-sign-in',
    case: 'the same gzip body held open on 120 connections',
    async prepare(target) {
      const body = bomb();
      return {
        bytes: body.length * 120,
        requests: 120,
        async run() {
          const closers: Array<() => void> = [];
          try {
            for (let i = 0; i < 120; i++) closers.push(await holdOpen(target, body));
            await sleep(3000);
          } finally {
            for (const close of closers) close();
          }
          await sleep(1000);
          return [`${closers.length} connections held 3 s, then closed (${(body.length / 1024).toFixed(1)} KB of gzip each)`];
        },
      };
    },
  },
  {
    face: 'web-sign-in',
    case: `wrong secret for a known app-token id, ${guesses} times`,
    async prepare(target) {
      const res = await fetch(new URL('/api/v1/tokens', target.url), {
        method: 'POST',
        headers: { authorization: target.authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ label: 'bench' }),
        signal: target.signal,
      });
      const { token } = (await res.json()) as { token: string };
      // sp_<12-character id>_<secret>: the id kept, a secret of the right form but wrong.
      const wrong = `${token.slice(0, 'sp_'.length + 12 + 1)}${'A'.repeat(32)}`;
      const authorization = `Basic ${Buffer.from(`${target.user}:${wrong}`).toString('base64')}`;
      return {
        bytes: guesses * authorization.length,
        requests: guesses,
        async run() {
          const statuses: number[] = [];
          for (let i = 0; i < guesses; i++) statuses.push((await exchange(target, 'GET', '/api/v1/collections', { authorization })).status);
          return [statusCounts(statuses)];
        },
      };
    },
  },
  {
    face: 'web-sign-in',
    case: `${guesses} password guesses`,
    async prepare(target) {
      const bodies = Array.from({ length: guesses }, (_, i) => JSON.stringify({ user: target.user, password: `guess-${i}` }));
      return {
        bytes: bodies.reduce((sum, b) => sum + b.length, 0),
        requests: guesses,
        async run() {
          const statuses: number[] = [];
          for (const body of bodies) statuses.push((await exchange(target, 'POST', '/api/v1/session', { 'content-type': 'application/json' }, body)).status);
          return [statusCounts(statuses)];
        },
      };
    },
  },
];
