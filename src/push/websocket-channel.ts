import type { WebSocket } from 'ws';
import type { PushMessage } from '../protocol/push.js';
import type { Channel } from '../hub/push-channel.js';
import { encodePushMessage } from './encode.js';

/** A channel that has this much unsent data drops further notices until it drains: the device finds the gap. */
const bufferedBytesMax = 1024 * 1024;

/** The primary channel: one WebSocket. Ping frames find dead peers; the heartbeat message finds lost notices. */
export class WebSocketChannel implements Channel {
  readonly kind = 'websocket';
  lastToken = 0;
  private alive = true;

  constructor(
    private readonly socket: WebSocket,
    readonly accountId: string,
    readonly deviceId: string,
    readonly tokenId: string | undefined,
    readonly collections: ReadonlySet<string> | null,
  ) {
    socket.on('pong', () => {
      this.alive = true;
    });
    // Any frame from the client proves it alive too (clients may answer with their own heartbeats).
    socket.on('message', () => {
      this.alive = true;
    });
  }

  send(message: PushMessage): void {
    if (this.socket.readyState !== this.socket.OPEN || this.socket.bufferedAmount > bufferedBytesMax) return;
    this.socket.send(encodePushMessage(message));
  }

  beat(): boolean {
    if (!this.alive || this.socket.readyState !== this.socket.OPEN) {
      this.socket.terminate();
      return false;
    }
    this.alive = false;
    this.socket.ping();
    this.send({ type: 'heartbeat', lastToken: this.lastToken });
    return true;
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
    // A peer that never answers the close handshake must not hold the socket.
    setTimeout(() => this.socket.terminate(), 5_000).unref();
  }
}
