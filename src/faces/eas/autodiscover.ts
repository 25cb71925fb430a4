import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProtocolError } from '../../protocol/errors.js';
import { escapeText, parseXml, XmlDecodeError, type XmlElement } from '../../protocol/xml.js';
import type { Principal } from '../../http/principal.js';
import { readBody } from '../../http/body.js';

/**
 * Autodiscover, the v1 "plain old XML" form (MS-ASCMD 2.2.1.1 / MS-OXDSCLI) that phones try first
 * with the user's address: `POST /autodiscover/autodiscover.xml` (any letter case). The answer names
 * the ActiveSync URL under the server's configured public URL (docs/eas.md): never one built from the
 * request's Host or X-Forwarded-* headers, which whoever sends the request chooses.
 */
export const autodiscoverPath = '/autodiscover/autodiscover.xml';

const mobileSyncSchema = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const requestBytesMax = 64 * 1024;
const xmlDepthMax = 8;

export async function autodiscover(principal: Principal, req: IncomingMessage, res: ServerResponse, publicUrl: string): Promise<void> {
  if (req.method !== 'POST') {
    req.resume();
    return reply(res, 405, errorDocument('600', 'Autodiscover takes POST'));
  }
  let email = principal.accountName;
  try {
    const request = parseXml((await readBody(req, requestBytesMax)).toString('utf8'), xmlDepthMax, true);
    const inner = find(request, 'Request');
    const schema = find(inner, 'AcceptableResponseSchema');
    if (schema && textOf(schema).trim() !== mobileSyncSchema) return reply(res, 200, errorDocument('601', 'only the mobilesync response schema is offered'));
    const address = find(inner, 'EMailAddress');
    if (address) email = textOf(address).trim() || email;
  } catch (err) {
    if (err instanceof XmlDecodeError || err instanceof ProtocolError) return reply(res, 400, errorDocument('600', 'invalid request'));
    throw err;
  }
  const url = `${publicUrl}/Microsoft-Server-ActiveSync`;
  return reply(
    res,
    200,
    document(
      `<Response xmlns="${mobileSyncSchema}"><Culture>en:us</Culture>` +
        `<User><DisplayName>${escapeText(principal.accountName)}</DisplayName><EMailAddress>${escapeText(email)}</EMailAddress></User>` +
        `<Action><Settings><Server><Type>MobileSync</Type><Url>${escapeText(url)}</Url><Name>${escapeText(url)}</Name></Server></Settings></Action></Response>`,
    ),
  );
}

const find = (e: XmlElement | undefined, name: string) => e?.children.find((c) => c.name === name);
const textOf = (e: XmlElement) => e.text;

function document(inner: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">${inner}</Autodiscover>\n`;
}

function errorDocument(code: string, message: string): string {
  return document(`<Response><Error><ErrorCode>${code}</ErrorCode><Message>${escapeText(message)}</Message></Error></Response>`);
}

function reply(res: ServerResponse, status: number, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': 'text/xml; charset=utf-8', 'content-length': bytes.length });
  res.end(bytes);
}
