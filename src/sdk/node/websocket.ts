import { WebSocket } from 'ws';
import type { PushSocket } from '../push.js';

/** Opens a push channel with the `ws` package (Node 20 has no global WebSocket). */
export function openNodeSocket(url: string): PushSocket {
  return new WebSocket(url, { perMessageDeflate: false }) as unknown as PushSocket;
}
