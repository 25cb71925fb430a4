import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../sim/random.js';

/**
 * A TCP proxy in front of the push WebSocket that mistreats notices on purpose, driven by a seeded
 * PRNG. Client-to-server bytes pass untouched. Server-to-client, after the HTTP upgrade answer, it
 * reads WebSocket frames (the server's are unmasked) and, for each change notice:
 *   - drops it (`dropRate`);
 *   - sends it twice (`duplicateRate`);
 *   - holds it back until after the next frame (`reorderRate`);
 * and, for any frame, cuts the connection at random (`cutRate`). Hello and heartbeat messages pass.
 */
export interface WsFaultRates {
  dropRate: number;
  duplicateRate: number;
  reorderRate: number;
  cutRate: number;
}

export interface WsFaultProxy {
  /** http://127.0.0.1:port, to use as a transport's base URL. */
  url: string;
  counts: { frames: number; notices: number; dropped: number; duplicated: number; reordered: number; cuts: number };
  /** Stops forwarding in both directions without closing anything: a network that silently died. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startWsFaultProxy(target: string, seed: number, rates: WsFaultRates): Promise<WsFaultProxy> {
  const random = seededRandom(seed);
  const upstream = new URL(target);
  const counts = { frames: 0, notices: 0, dropped: 0, duplicated: 0, reordered: 0, cuts: 0 };
  const sockets = new Set<Socket>();
  let frozen = false;

  const server: Server = createServer((client) => {
    const origin = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(origin);
    const cut = () => {
      client.destroy();
      origin.destroy();
    };
    client.on('error', cut);
    origin.on('error', cut);
    client.on('close', () => {
      sockets.delete(client);
      origin.destroy();
    });
    origin.on('close', () => {
      sockets.delete(origin);
      client.destroy();
    });
    client.on('data', (chunk: Buffer) => {
      if (!frozen) origin.write(chunk);
    });

    let upgraded = false;
    let pending = Buffer.alloc(0);
    let held: Buffer | undefined;
    origin.on('data', (chunk: Buffer) => {
      if (frozen) return;
      pending = Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        client.write(pending.subarray(0, end + 4));
        pending = pending.subarray(end + 4);
        upgraded = true;
      }
      for (let frame = nextFrame(pending); frame; frame = nextFrame(pending)) {
        pending = pending.subarray(frame.length);
        counts.frames++;
        if (random() < rates.cutRate) {
          counts.cuts++;
          return cut();
        }
        const bytes = frame.bytes;
        const isNotice = frame.opcode === 1 && bytes.subarray(frame.headerLength, frame.headerLength + 20).toString().includes('"change"');
        const out: Buffer[] = [];
        if (!isNotice) out.push(bytes);
        else {
          counts.notices++;
          const r = random();
          if (r < rates.dropRate) counts.dropped++;
          else if (r < rates.dropRate + rates.duplicateRate) {
            counts.duplicated++;
            out.push(bytes, bytes);
          } else if (r < rates.dropRate + rates.duplicateRate + rates.reorderRate && !held) {
            counts.reordered++;
            held = bytes;
            continue;
          } else out.push(bytes);
        }
        if (held && isNotice) {
          out.push(held);
          held = undefined;
        }
        for (const b of out) client.write(b);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    freeze() {
      frozen = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The first complete WebSocket frame in `buf`, if there is one. */
function nextFrame(buf: Buffer): { opcode: number; headerLength: number; length: number; bytes: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = (buf[0] as number) & 0x0f;
  const masked = ((buf[1] as number) & 0x80) !== 0;
  let payload = (buf[1] as number) & 0x7f;
  let headerLength = 2;
  if (payload === 126) {
    if (buf.length < 4) return undefined;
    payload = buf.readUInt16BE(2);
    headerLength = 4;
  } else if (payload === 127) {
    if (buf.length < 10) return undefined;
    payload = Number(buf.readBigUInt64BE(2));
    headerLength = 10;
  }
  if (masked) headerLength += 4;
  const length = headerLength + payload;
  if (buf.length < length) return undefined;
  return { opcode, headerLength, length, bytes: buf.subarray(0, length) };
}
