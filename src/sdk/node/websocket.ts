import { WebSocket } from 'ws';
import type { PushSocket } from '../push.js';

/** Opens a push channel with the `ws` package (Node 20 has no global WebSocket). */
export function openNodeSocket(url: string): PushSocket {
  // A server that accepts the connection but never completes the upgrade must not hang the client.
  return new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000 }) as unknown as PushSocket;
}
