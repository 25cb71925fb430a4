import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { limits } from '../core/limits.js';
import { httpStatusOf, ProtocolError } from '../protocol/errors.js';
import { protocolVersion } from '../protocol/version.js';

export interface ReadBodyOptions {
  /** The whole body must arrive within this many ms (a slow sender is refused with 408). */
  timeoutMs?: number;
}

/**
 * Request bodies and responses. The size limit applies to the bytes on the wire and, separately, to
 * the decompressed bytes; gzip may also inflate at most limits.gzipRatioMax times the bytes received
 * (past the first limits.gzipInflatedBytesFree), so a small bomb is refused as soon as it inflates
 * past either. A refused body is drained, not kept: nothing read so far stays referenced.
 */
export function readBody(req: IncomingMessage, bytesMax: number, options: ReadBodyOptions = {}): Promise<Buffer> {
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
  const gunzip = encoding === 'gzip' ? createGunzip() : undefined;
  const source = gunzip ? req.pipe(gunzip) : req;
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let wire = 0;
    let settled = false;
    const settle = (err?: ProtocolError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!err) {
        const body = Buffer.concat(chunks, size);
        // A request held after its body (an ActiveSync Ping) keeps its listeners no longer, nor what they saw.
        chunks = [];
        if (gunzip) req.off('data', onWire);
        source.off('data', onData).off('end', onEnd).off('error', onError);
        req.off('error', onError).off('close', onClose);
        return resolve(body);
      }
      chunks = [];
      // Stop decoding, but do not destroy `req`: that would reset the connection before the error
      // is sent. Drain the rest of the body instead.
      if (gunzip) {
        req.unpipe(gunzip);
        gunzip.destroy();
      }
      req.resume();
      reject(err);
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => settle(new ProtocolError('requestTimeout', `the request body did not arrive within ${options.timeoutMs} ms`)), options.timeoutMs);
    const tooLarge = (why: string) => settle(new ProtocolError('bodyTooLarge', why));
    const onWire = (chunk: Buffer) => {
      wire += chunk.length;
      if (wire > bytesMax) tooLarge(`request body exceeds the limit of ${bytesMax} bytes`);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > bytesMax) return tooLarge(`request body exceeds the limit of ${bytesMax} bytes`);
      if (gunzip && size > limits.gzipInflatedBytesFree && size > wire * limits.gzipRatioMax) {
        return tooLarge(`gzip body inflates more than ${limits.gzipRatioMax} times; send it less compressed or uncompressed`);
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle();
    const onError = (err: Error) => settle(new ProtocolError('invalidRequest', `cannot read the request body: ${err.message}`));
    // A client that hangs up mid-body: nothing of the request may be acted on.
    const onClose = () => {
      if (!req.complete) settle(new ProtocolError('invalidRequest', 'the request body was cut short'));
    };
    if (gunzip) req.on('data', onWire);
    source.on('data', onData);
    source.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    source.on('error', onError);
  });
}

const gzipBytesMin = 1024;
// Level 1 costs about half of level 6 for about 12% more bytes on sync pages (npm run bench), and it
// runs on the thread pool so a large page does not stall other requests.
export const gzipLevel = 1;
const gzipAsync = promisify(gzip);

/** Whether Accept-Encoding allows gzip (RFC 9110 §12.5.3: absent q means 1, q=0 means "not this"). */
function acceptsGzip(header: string | undefined): boolean {
  for (const part of (header ?? '').split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

export async function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string): Promise<void> {
  let payload: Buffer = Buffer.from(body, 'utf8');
  const headers: Record<string, string | number> = { 'content-type': `${contentType}; charset=utf-8`, vary: 'accept-encoding' };
  if (payload.length >= gzipBytesMin && acceptsGzip(req.headers['accept-encoding'])) {
    payload = await gzipAsync(payload, { level: gzipLevel });
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = payload.length;
  res.writeHead(status, headers);
  res.end(payload);
}

export const sendJson = (req: IncomingMessage, res: ServerResponse, status: number, value: object): Promise<void> =>
  send(req, res, status, 'application/json', JSON.stringify(value));

/** The error body of a refused request (docs/protocol.md § 12.2), whatever carries it (HTTP, or an answer by mail: §21). */
export const errorBody = (err: ProtocolError): object => ({ version: protocolVersion, status: err.status, message: err.message, ...err.extra });

/** A refused request's JSON error body (docs/protocol.md § 12.2), for the routes that answer in JSON only. */
export const sendError = (req: IncomingMessage, res: ServerResponse, err: ProtocolError): Promise<void> => sendJson(req, res, httpStatusOf[err.status], errorBody(err));
