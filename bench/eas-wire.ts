import { request, type Agent } from 'node:http';
import { decodeWbxml, encodeWbxml } from '../src/faces/eas/wbxml/codec.js';
import type { WbxmlElement } from '../src/faces/eas/wbxml/element.js';

/** One ActiveSync POST for the benchmarks: the plain query form, WBXML in and out. */
export interface EasTarget {
  baseUrl: string;
  authorization: string;
  agent: Agent | false;
}

export async function easPost(target: EasTarget, command: string, deviceId: string, body: WbxmlElement | undefined): Promise<{ status: number; body: WbxmlElement | undefined; bytes: number }> {
  const raw = await easPostRaw(target, command, deviceId, body);
  return { status: raw.status, body: raw.wbxml ? decodeWbxml(raw.wbxml) : undefined, bytes: raw.bytes };
}

/**
 * The same POST, its answer left undecoded (`wbxml`: the body when it is WBXML): a load that times
 * thousands of answers arriving together spends no time decoding one before the next is read.
 */
export function easPostRaw(target: EasTarget, command: string, deviceId: string, body: WbxmlElement | undefined): Promise<{ status: number; wbxml: Buffer | undefined; bytes: number }> {
  const payload = body ? Buffer.from(encodeWbxml(body)) : Buffer.alloc(0);
  const url = new URL(`/Microsoft-Server-ActiveSync?Cmd=${command}&User=bench&DeviceId=${deviceId}&DeviceType=Bench`, target.baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: target.agent,
        headers: {
          authorization: target.authorization,
          'ms-asprotocolversion': '14.1',
          'content-type': 'application/vnd.ms-sync.wbxml',
          'content-length': payload.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          // The baseline server of the bench answers plain text.
          const wbxml = bytes.length > 0 && res.headers['content-type'] === 'application/vnd.ms-sync.wbxml';
          resolve({ status: res.statusCode ?? 0, wbxml: wbxml ? bytes : undefined, bytes: bytes.length });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Polls `held` until it reaches `count`, or until it has not grown for `stallMs`: opening thousands of
 * Pings takes as long as the server needs, and one that refuses or loses some shows as fewer held. A
 * poll that fails (its connection waits behind the Pings' in the server's backlog) counts as no growth.
 */
export async function waitForHeld(count: number, held: () => Promise<number>, stallMs = 30_000): Promise<number> {
  let last = 0;
  let grewAt = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await held().catch(() => last);
    if (now >= count) return now;
    if (now > last) [last, grewAt] = [now, Date.now()];
    else if (Date.now() - grewAt > stallMs) return now;
  }
}
