import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../sim/random.js';

/**
 * An HTTP proxy that loses traffic on purpose, driven by a seeded PRNG so a failing run replays exactly.
 * Per request it picks one fate:
 *   - dropRequest:  read the request, never forward it, hang up on the client;
 *   - cutRequest:   forward half the request body, then abort the upstream request and the client;
 *   - dropResponse: forward the request, let the server answer (it has committed), hang up on the client;
 *   - cutResponse:  forward the answer's headers and half its body, then hang up;
 *   - pass:         forward faithfully.
 */
export type Fate = 'pass' | 'dropRequest' | 'cutRequest' | 'dropResponse' | 'cutResponse';

export interface FaultProxy {
  url: string;
  counts: Record<Fate, number>;
  /** Probability that a request meets a fault (split evenly between the four kinds). */
  setFaultRate(rate: number): void;
  close(): Promise<void>;
}

const faults: Fate[] = ['dropRequest', 'cutRequest', 'dropResponse', 'cutResponse'];

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startFaultProxy(target: string, seed: number, faultRate: number): Promise<FaultProxy> {
  const random = seededRandom(seed);
  const upstream = new URL(target);
  const counts: Record<Fate, number> = { pass: 0, dropRequest: 0, cutRequest: 0, dropResponse: 0, cutResponse: 0 };
  let rate = faultRate;

  const server: Server = createServer(async (req, res) => {
    const fate: Fate = random() < rate ? (faults[Math.floor(random() * faults.length)] as Fate) : 'pass';
    counts[fate]++;
    const body = await readAll(req);
    if (fate === 'dropRequest') return req.socket.destroy();
    const headers = { ...req.headers, host: upstream.host };
    const forward = httpRequest({ hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers });
    forward.on('error', () => req.socket.destroy());
    if (fate === 'cutRequest') {
      // Half a body, then the connection dies: the server must not commit anything of it.
      forward.write(body.subarray(0, Math.floor(body.length / 2)));
      setTimeout(() => {
        forward.destroy();
        req.socket.destroy();
      }, 5);
      return;
    }
    forward.on('response', async (answer) => {
      const payload = await readAll(answer);
      if (fate === 'dropResponse') return req.socket.destroy();
      const { 'content-length': _length, 'transfer-encoding': _te, connection: _c, ...rest } = answer.headers;
      if (fate === 'cutResponse') {
        res.writeHead(answer.statusCode ?? 502, { ...rest, 'content-length': payload.length });
        res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, { ...rest, 'content-length': payload.length });
      res.end(payload);
    });
    forward.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    setFaultRate: (r) => {
      rate = r;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
