import type { ServerResponse } from 'node:http';
import { documentEnd, documentStart, multistatusEnd, multistatusRoot, withinBounds } from './multistatus.js';

/** Bytes gathered before one write to the socket: few system calls, little held. */
const chunkBytes = 64 * 1024;

/**
 * A multistatus answer written while it is made (docs/dav.md § Streaming), with the bounds of
 * Multistatus (multistatus.ts): past limits.davMembersMax responses or limits.davResponseBytesMax bytes
 * `add` refuses, and the answer ends with the 507 response. Nothing is sent before the first full chunk,
 * so an error found early (a bad sync token) still gets its own status; `add` waits while the client
 * is behind (backpressure), so an answer holds about one chunk however large it is.
 */
export class MultistatusStream {
  private pending: string[] = [documentStart(multistatusRoot)];
  private pendingBytes = 0;
  private count = 0;
  private bytes = 0;
  private truncatedAt: string | undefined;

  constructor(private readonly res: ServerResponse) {}

  /** Adds one response; false, and nothing added, past a bound or once the client has gone. */
  async add(response: string): Promise<boolean> {
    const size = Buffer.byteLength(response);
    if (this.truncatedAt !== undefined || this.res.destroyed || !withinBounds(this.count, this.bytes + size)) return false;
    this.pending.push(response);
    this.count += 1;
    this.bytes += size;
    this.pendingBytes += size;
    if (this.pendingBytes >= chunkBytes) await this.flush();
    return !this.res.destroyed;
  }

  /** Ends the answer early: `requestPath` gets the 507. */
  truncate(requestPath: string): void {
    this.truncatedAt ??= requestPath;
  }

  get truncated(): boolean {
    return this.truncatedAt !== undefined;
  }

  /** Sends what is left and ends the answer. */
  end(syncToken?: string): void {
    this.pending.push(multistatusEnd(this.truncatedAt, syncToken), documentEnd(multistatusRoot));
    const rest = this.pending.join('');
    this.pending = [];
    if (this.res.destroyed) return;
    // A short answer goes out whole, with its length; a streamed one ends its chunked body.
    if (!this.res.headersSent) this.res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(rest) });
    this.res.end(rest);
  }

  private async flush(): Promise<void> {
    if (!this.res.headersSent) this.res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8' });
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.res.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}
