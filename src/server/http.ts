import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, gzipSync } from 'node:zlib';
import { ProtocolError } from '../protocol/errors.js';

/**
 * Request bodies and responses. The size limit applies to the bytes on the wire and, separately, to
 * the decompressed bytes, so a small gzip bomb is refused as soon as it inflates past the limit.
 */
export function readBody(req: IncomingMessage, bytesMax: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > bytesMax) {
    req.resume();
    return Promise.reject(new ProtocolError('bodyTooLarge', `request body is ${declared} bytes; the limit is ${bytesMax}`));
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    req.resume();
    return Promise.reject(new ProtocolError('unsupportedMediaType', `content-encoding ${encoding} is not supported; use gzip or none`));
  }
  const source = encoding === 'gzip' ? req.pipe(createGunzip()) : req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let wire = 0;
    const tooLarge = () => {
      source.destroy();
      req.resume();
      reject(new ProtocolError('bodyTooLarge', `request body exceeds the limit of ${bytesMax} bytes`));
    };
    if (source !== req) {
      req.on('data', (chunk: Buffer) => {
        wire += chunk.length;
        if (wire > bytesMax) tooLarge();
      });
    }
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bytesMax) return tooLarge();
      chunks.push(chunk);
    });
    source.on('end', () => resolve(Buffer.concat(chunks)));
    source.on('error', (err) => reject(new ProtocolError('invalidRequest', `cannot read the request body: ${err.message}`)));
  });
}

const gzipBytesMin = 1024;

export function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string): void {
  let payload: Buffer = Buffer.from(body, 'utf8');
  const headers: Record<string, string | number> = { 'content-type': `${contentType}; charset=utf-8`, vary: 'accept-encoding' };
  if (payload.length >= gzipBytesMin && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    payload = gzipSync(payload, { level: 6 });
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = payload.length;
  res.writeHead(status, headers);
  res.end(payload);
}
