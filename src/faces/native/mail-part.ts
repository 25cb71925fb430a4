import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MailPart } from '../../hub/mail.js';

/**
 * A mail part's answer (docs/protocol.md §10.6): its bytes with its own Content-Type, never sniffed nor
 * run as a page of this origin (a message's HTML is anyone's), private to the account, with its file
 * name for an attachment, and a single byte range when the whole part is at hand.
 */

/** `Content-Disposition` for a file name (RFC 6266): an ASCII fallback, and the name itself as UTF-8 (RFC 8187). */
export function contentDisposition(kind: 'attachment' | 'inline', name: string | null): string {
  if (name === null) return kind;
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** The one range of `bytes=a-b`, `bytes=a-` or `bytes=-n` in a part of `size` bytes; 'ignore' for any other form (RFC 9110 §14.2 lets a server), 'unsatisfiable' for one past its end. */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'ignore' | 'unsatisfiable' {
  const m = header === undefined ? null : /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'ignore';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return 'ignore';
  return start >= size ? 'unsatisfiable' : { start, end };
}

export async function sendMailPart(req: IncomingMessage, res: ServerResponse, part: MailPart): Promise<void> {
  const headers: Record<string, string | number> = {
    'content-type': part.contentType,
    'cache-control': 'private, no-cache',
    'x-content-type-options': 'nosniff',
    // Opened in a browser, a message's HTML runs nowhere: no script, no origin, nothing loaded.
    'content-security-policy': "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
  };
  if (part.attachment) headers['content-disposition'] = contentDisposition(part.attachment.inline ? 'inline' : 'attachment', part.attachment.name);
  const body = part.body;
  if ('stream' in body) {
    headers['accept-ranges'] = 'none';
    res.writeHead(200, headers);
    try {
      await pipeline(Readable.from(body.stream), res);
    } catch {
      // Headers are sent: a part that failed midway (the IMAP server went away) ends the answer short,
      // as the connection's close tells the client, never as a part that looks whole.
      res.destroy();
    } finally {
      await body.close();
    }
    return;
  }
  const bytes = body.bytes;
  headers['accept-ranges'] = 'bytes';
  const range = byteRange(req.headers.range, bytes.length);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${bytes.length}`, 'content-length': 0 });
    res.end();
    return;
  }
  if (range === 'ignore') {
    res.writeHead(200, { ...headers, 'content-length': bytes.length });
    res.end(bytes);
    return;
  }
  res.writeHead(206, { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${bytes.length}`, 'content-length': range.end - range.start + 1 });
  res.end(bytes.subarray(range.start, range.end + 1));
}
