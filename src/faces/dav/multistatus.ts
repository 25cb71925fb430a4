/**
 * Writing WebDAV XML (RFC 4918 §14): multistatus answers and error bodies. Properties are named by
 * namespace and local name; the namespaces clients know get their usual prefixes, any other is
 * declared on the element that uses it.
 */
import { escapeText } from '../../protocol/xml.js';

export const ns = {
  dav: 'DAV:',
  carddav: 'urn:ietf:params:xml:ns:carddav',
  caldav: 'urn:ietf:params:xml:ns:caldav',
  cs: 'http://calendarserver.org/ns/',
  apple: 'http://apple.com/ns/ical/',
} as const;

const prefixes: Record<string, string> = { [ns.dav]: 'd', [ns.carddav]: 'card', [ns.caldav]: 'cal', [ns.cs]: 'cs', [ns.apple]: 'ical' };
const declarations = Object.entries(prefixes)
  .map(([uri, prefix]) => `xmlns:${prefix}="${uri}"`)
  .join(' ');

export interface PropName {
  ns: string;
  name: string;
}


/** `<prefix:name>inner</prefix:name>` (or empty), declaring an unknown namespace in place. */
export function element(p: PropName, inner = ''): string {
  const prefix = prefixes[p.ns];
  const tag = prefix ? `${prefix}:${p.name}` : `x:${p.name}`;
  const declare = prefix ? '' : ` xmlns:x="${escapeText(p.ns)}"`;
  return inner === '' ? `<${tag}${declare}/>` : `<${tag}${declare}>${inner}</${tag}>`;
}

export const dav = (name: string, inner = '') => element({ ns: ns.dav, name }, inner);
export const href = (path: string) => dav('href', escapeText(encodePath(path)));

/** Percent-encodes each path segment (the slashes stay). */
function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(decodeURIComponentSafe(segment)).replace(/%40/g, '@'))
    .join('/');
}

function decodeURIComponentSafe(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const statusLine = (code: number) => `HTTP/1.1 ${code} ${reasons[code] ?? 'Status'}`;

const reasons: Record<number, string> = { 200: 'OK', 403: 'Forbidden', 404: 'Not Found', 507: 'Insufficient Storage' };

/** One resource's `<response>`: found properties under 200, unknown ones under 404. */
export function propResponse(path: string, found: string[], missing: PropName[]): string {
  const stats = [];
  if (found.length > 0) stats.push(dav('propstat', dav('prop', found.join('')) + dav('status', statusLine(200))));
  if (missing.length > 0) stats.push(dav('propstat', dav('prop', missing.map((m) => element(m)).join('')) + dav('status', statusLine(404))));
  return dav('response', href(path) + stats.join(''));
}

/** A `<response>` with a status for the whole resource (a deleted member in sync-collection, a 507). */
export const statusResponse = (path: string, code: number) => dav('response', href(path) + dav('status', statusLine(code)));

export function multistatus(responses: string[], syncToken?: string): string {
  const token = syncToken === undefined ? '' : dav('sync-token', escapeText(syncToken));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<d:multistatus ${declarations}>${responses.join('')}${token}</d:multistatus>`;
}

/** An error body naming the precondition that failed (RFC 4918 §16). */
export function errorBody(condition: PropName, message?: string): string {
  const detail = message === undefined ? '' : `<!-- ${message.replace(/--/g, '- -')} -->`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<d:error ${declarations}>${element(condition)}${detail}</d:error>`;
}
