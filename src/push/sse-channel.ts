import type { ServerResponse } from 'node:http';
import type { PushMessage, StreamClose } from '../protocol/push.js';
import type { Channel } from '../hub/push-channel.js';
import { encodePushMessage } from './encode.js';

/**
 * The fallback channel: Server-Sent Events. Each message is one event named by its type, with the
 * token as the event id. The heartbeat event keeps proxies from timing the stream out.
 */
export class SseChannel implements Channel {
  readonly kind = 'sse';
  lastToken = 0;
  private open = true;

  constructor(
    private readonly res: ServerResponse,
    readonly accountId: string,
    readonly deviceId: string,
    readonly tokenId: string | undefined,
    readonly collections: ReadonlySet<string> | null,
  ) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.on('close', () => {
      this.open = false;
    });
  }

  send(message: PushMessage): void {
    if (!this.open || this.res.writableNeedDrain) return;
    const id = message.type === 'change' ? `id: ${message.token}\n` : '';
    this.res.write(`event: ${message.type}\n${id}data: ${encodePushMessage(message)}\n\n`);
  }

  beat(): boolean {
    if (!this.open) return false;
    this.send({ type: 'heartbeat', lastToken: this.lastToken });
    return true;
  }

  /** Ends the stream with a last `close` event, which says why as a WebSocket's close frame would (docs/protocol.md §18.3). */
  close(code: number, reason: string): void {
    if (this.open && !this.res.writableNeedDrain) this.res.write(`event: close\ndata: ${JSON.stringify({ type: 'close', code, reason } satisfies StreamClose)}\n\n`);
    this.open = false;
    this.res.end();
  }
}
