import type { z } from 'zod';
import { limits } from '../../core/limits.js';
import { ProtocolError } from '../../protocol/errors.js';
import { clip, parseJson, validate } from '../../protocol/validate.js';
import { decodeXml, encodeXml, XmlDecodeError } from '../../protocol/xml.js';

/** The native face's two encodings of one schema, chosen by Content-Type (requests) and Accept (GETs). */
export type Encoding = 'json' | 'xml';

export const mediaTypes: Record<Encoding, string> = { json: 'application/json', xml: 'application/xml' };

export function encodingOfContentType(header: string | undefined): Encoding {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/xml' || type === 'text/xml') return 'xml';
  throw new ProtocolError('unsupportedMediaType', `content-type must be application/json or application/xml, got ${type || 'none'}`);
}

export function encodingOfAccept(header: string | undefined): Encoding {
  return /\b(application|text)\/xml\b/.test(header ?? '') && !/\bapplication\/json\b/.test(header ?? '') ? 'xml' : 'json';
}

/** Decode and validate a body (protocol/validate.ts); any failure is an invalidRequest naming what is wrong and where. */
export function decodeBody<S extends z.ZodType>(body: Buffer, encoding: Encoding, rootName: string, schema: S, precheck?: (raw: unknown) => void): z.infer<S> {
  const text = body.toString('utf8');
  let value: unknown;
  if (encoding === 'json') value = parseJson(text);
  else {
    try {
      value = decodeXml(text, rootName, schema, limits.xmlDepthMax);
    } catch (err) {
      if (err instanceof XmlDecodeError) throw new ProtocolError('invalidRequest', clip(err.message));
      throw err;
    }
  }
  precheck?.(value);
  return validate(schema, value, rootName);
}

export function encodeBody(encoding: Encoding, rootName: string, value: object): string {
  return encoding === 'json' ? JSON.stringify(value) : encodeXml(rootName, value);
}
