import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { limits } from '../../src/core/limits.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { postRaw } from '../support/sync.js';

/**
 * Bodies read before anyone is known (the web sign-in) are small and quick, or refused: a gzip bomb
 * is not inflated, a slow sender is cut off, and the server gives back what it read.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
  await server.addUser('bodies');
});
after(async () => {
  await server.stop();
});

const signInUrl = () => `${server.url}/api/v1/session`;
const sameOrigin = () => ({ origin: server.url, 'content-type': 'application/json' });

/** The finding's payload: 15 KB of gzip that inflates to a 15 MiB sign-in. */
const signInBomb = () => gzipSync(Buffer.from(JSON.stringify({ user: 'bodies', password: 'x'.repeat(15 * 1024 * 1024) })), { level: 9 });

test('a gzip bomb to the sign-in route is refused with 413 after at most a few KiB, and the connection is closed', async () => {
  const bomb = signInBomb();
  assert.ok(bomb.length < 20_000, `${bomb.length} bytes on the wire`);
  const res = await postRaw(signInUrl(), undefined, bomb, { ...sameOrigin(), 'content-encoding': 'gzip' });
  assert.equal(res.status, 413, res.text);
  const body = JSON.parse(res.text);
  assert.equal(body.status, 'bodyTooLarge');
  assert.match(body.message, new RegExp(String(limits.signInBodyBytesMax)));
  assert.equal(res.headers.get('connection'), 'close');
  // A plain body over the sign-in limit, too.
  const long = await postRaw(signInUrl(), undefined, JSON.stringify({ user: 'bodies', password: 'y'.repeat(limits.signInBodyBytesMax) }), sameOrigin());
  assert.equal(long.status, 413);
  // A real sign-in still works.
  const ok = await postRaw(signInUrl(), undefined, JSON.stringify({ user: 'bodies', password: 'bodies-password' }), sameOrigin());
  assert.equal(ok.status, 200, ok.text);
});

test('120 sign-in bombs at once leave the server’s memory where it was', async () => {
  const bomb = signInBomb();
  global.gc?.();
  const before = process.memoryUsage().rss;
  const answers = await Promise.all(Array.from({ length: 120 }, () => postRaw(signInUrl(), undefined, bomb, { ...sameOrigin(), 'content-encoding': 'gzip' })));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([413]));
  const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  // Inflated, they were 1.8 GB; refused at 4 KiB each they are nothing next to the test's own heap.
  assert.ok(grownMiB < 300, `RSS grew ${grownMiB.toFixed(0)} MiB`);
});

test(`a sign-in body that does not arrive within ${limits.signInBodyMs} ms is answered 408 and the connection closed`, async () => {
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(`POST /api/v1/session HTTP/1.1\r\nhost: ${url.host}\r\norigin: ${server.url}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"user":`);
  // The rest never comes. The server answers and hangs up on its own (the test's timeout catches a server that waits).
  await closed;
  assert.match(received, /^HTTP\/1\.1 408 /);
  assert.match(received, /requestTimeout/);
});
