/**
 * Writing WebDAV XML (RFC 4918 §14): multistatus answers and error bodies. Properties are named by
 * namespace and local name; the namespaces clients know get their usual prefixes, any other is
 * declared on the element that uses it.
 */
import { limits } from '../../core/limits.js';
import { escapeText } from '../../protocol/xml.js';
import { declarations, element, ns, prefixes, tagsOf, type PropName } from '../../protocol/dav-xml.js';

/** Our own elements in error bodies: clients ignore what they do not know (RFC 4918 §16). */
const syncpointNs = 'urn:syncpoint:dav';

export const dav = (name: string, inner = '') => element({ ns: ns.dav, name }, inner);
/** An href for a path of decoded names: each segment is percent-encoded exactly once (docs/dav.md § Names in URLs). */
export const href = (path: string) => dav('href', escapeText(encodePath(path)));
/** An href exactly as the client sent it (a multiget member that does not exist). */
export const hrefAsSent = (sent: string) => dav('href', escapeText(sent));

/** Characters encodeURIComponent leaves alone, '@' (kept as is: docs/dav.md § Names in URLs) and '/': such a path needs no work, nor any XML escape. */
const plainPath = /^[\w\-.!~*'()@/]*$/;

function encodePath(path: string): string {
  if (plainPath.test(path)) return path;
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%40/g, '@'))
    .join('/');
}

const statusLine = (code: number) => `HTTP/1.1 ${code} ${reasons[code] ?? 'Status'}`;

const reasons: Record<number, string> = { 200: 'OK', 403: 'Forbidden', 404: 'Not Found', 424: 'Failed Dependency', 507: 'Insufficient Storage' };

/** A `<propstat>` of these properties, empty, with one status (nothing when there are none). */
export const propstat = (names: PropName[], code: number) => (names.length === 0 ? '' : dav('propstat', dav('prop', names.map((n) => element(n)).join('')) + dav('status', statusLine(code))));

/**
 * Renders one request's `<response>`s from the property values of each resource: found ones under
 * 200, unknown ones (undefined) under 404, in the order of `requested`. With no property asked for (an
 * empty `<prop/>`) a response still carries an empty 200 propstat: a response holds a status or a
 * propstat (RFC 4918 §14.24), and a changed member in sync-collection a propstat (RFC 6578 §3.2). The
 * tags are built once per request, not per member, as a listing renders thousands (docs/dav.md § Streaming).
 */
export function responseTemplate(requested: PropName[]): (path: string, values: ReadonlyArray<string | undefined>) => string {
  const tags = requested.map((p) => tagsOf(p));
  const ok = `</d:prop>${dav('status', statusLine(200))}</d:propstat>`;
  const notFound = `</d:prop>${dav('status', statusLine(404))}</d:propstat>`;
  const nothingAsked = dav('propstat', dav('prop') + dav('status', statusLine(200)));
  return (path, values) => {
    let found = '';
    let missing = '';
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i] as (typeof tags)[number];
      const value = values[i];
      if (value === undefined) missing += t.empty;
      else found += value === '' ? t.empty : t.open + value + t.close;
    }
    const foundStat = found !== '' ? `<d:propstat><d:prop>${found}${ok}` : missing === '' ? nothingAsked : '';
    const missingStat = missing === '' ? '' : `<d:propstat><d:prop>${missing}${notFound}`;
    return `<d:response>${href(path)}${foundStat}${missingStat}</d:response>`;
  };
}

/** A `<response>` with a status for the whole resource (a deleted member in sync-collection); `hrefXml` from href() or hrefAsSent(). */
export const statusResponse = (hrefXml: string, code: number) => dav('response', hrefXml + dav('status', statusLine(code)));

/**
 * The responses of one multistatus answer, bounded by limits.davMembersMax responses and
 * limits.davResponseBytesMax bytes (docs/dav.md § Limits). Past either bound `add` refuses, and the
 * answer ends with a 507 response for the request URI naming DAV:number-of-matches-within-limits
 * (RFC 6352 §8.6.1, RFC 4791 §7.8.1, RFC 6578 §3.6), so a truncated answer is never mistaken for a whole one.
 */
export class Multistatus {
  private readonly parts: string[] = [];
  private bytes = 0;
  private truncatedAt: string | undefined;

  /** Adds one response; false, and nothing added, if it would pass a bound. */
  add(response: string): boolean {
    const size = Buffer.byteLength(response);
    if (this.truncatedAt !== undefined || !withinBounds(this.parts.length, this.bytes + size)) return false;
    this.parts.push(response);
    this.bytes += size;
    return true;
  }

  /** Ends the answer early: `requestPath` gets the 507. */
  truncate(requestPath: string): void {
    this.truncatedAt ??= requestPath;
  }

  get truncated(): boolean {
    return this.truncatedAt !== undefined;
  }

  render(syncToken?: string): string {
    return xmlDocument(multistatusRoot, `${this.parts.join('')}${multistatusEnd(this.truncatedAt, syncToken)}`);
  }
}

export const multistatusRoot: PropName = { ns: ns.dav, name: 'multistatus' };

/** Whether an answer of `count` responses may take one more, making it `bytes` long. */
export const withinBounds = (count: number, bytes: number) => count < limits.davMembersMax && bytes <= limits.davResponseBytesMax;

/** What follows the responses: the 507 of a truncated answer, then the sync token if any. */
export function multistatusEnd(truncatedAt: string | undefined, syncToken: string | undefined): string {
  const limited =
    truncatedAt === undefined
      ? ''
      : dav(
          'response',
          href(truncatedAt) +
            dav('status', statusLine(507)) +
            dav('error', dav('number-of-matches-within-limits')) +
            dav('responsedescription', `the answer stops at ${limits.davMembersMax} members or ${limits.davResponseBytesMax} bytes`),
        );
  return limited + (syncToken === undefined ? '' : dav('sync-token', escapeText(syncToken)));
}

/** An error body naming the precondition that failed (RFC 4918 §16). */
export function errorBody(condition: PropName, message?: string): string {
  // The message may quote client data (a UID); it travels as escaped text, never inside a comment.
  const detail = message === undefined ? '' : element({ ns: syncpointNs, name: 'message' }, escapeText(message));
  return xmlDocument({ ns: ns.dav, name: 'error' }, element(condition) + detail);
}

/** A whole document whose root, in a namespace with a usual prefix, declares those prefixes. */
export function xmlDocument(root: PropName, inner: string): string {
  return `${documentStart(root)}${inner}${documentEnd(root)}`;
}

export const documentStart = (root: PropName) => `<?xml version="1.0" encoding="UTF-8"?>\n<${prefixes[root.ns]}:${root.name} ${declarations}>`;
export const documentEnd = (root: PropName) => `</${prefixes[root.ns]}:${root.name}>`;
