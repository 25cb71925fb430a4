import { SaxesParser } from 'saxes';
import { limits } from '../../core/limits.js';
import { declarations, element, ns } from '../../protocol/dav-xml.js';
import { escapeText, type XmlElement } from '../../protocol/xml.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';

/**
 * Reading an upstream's WebDAV answers (RFC 4918 §14.16 multistatus) as they arrive: each `<response>` is
 * built as a small element tree, handed on as a compact record and dropped, so a listing of 10,000
 * members never exists as one tree (docs/architecture.md § Connectors). Like protocol/xml.ts's parser
 * (whose element type it shares) it refuses a DOCTYPE and stops at the first bound passed: nesting past
 * limits.xmlDepthMax, more elements than limits.upstreamXmlElementsMax in the answer or
 * limits.upstreamXmlElementsPerResponseMax in one response, more than limits.upstreamMembersMax responses.
 */

export interface MemberResponse {
  /** The `<href>`, resolved against the URL that answered: an absolute URL, as the server encoded it. */
  href: string;
  /** A response-level `<status>` (a member gone from a sync-collection: 404; a truncated answer: 507). */
  status?: number;
  /** Properties found (a 2xx propstat), by `namespace name`. */
  props: Map<string, XmlElement>;
  /** The response's `<error>` (RFC 4918 §14.5), if any. */
  error?: XmlElement;
}

export const propKey = (namespace: string, name: string) => `${namespace} ${name}`;

export const childOf = (el: XmlElement | undefined, namespace: string, name: string) => el?.children.find((c) => c.ns === namespace && c.name === name);

/** Every element under `el` (itself excluded) with this name, depth first; for servers that nest a level more or less than the RFC (Xandikos's supported-report-set). */
export function descendants(el: XmlElement, namespace: string, name: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.ns === namespace && c.name === name) out.push(c);
    descendants(c, namespace, name, out);
  }
  return out;
}

/** The code of an HTTP status line ("HTTP/1.1 404 Not Found"), or undefined. */
export function statusCode(line: string): number | undefined {
  const match = /^\s*HTTP\/[\d.]+\s+(\d{3})/.exec(line);
  return match ? Number(match[1]) : undefined;
}

const fail = (reason: 'protocol' | 'too-large', message: string): never => {
  throw new UpstreamError(reason, message);
};

/** Feeds text in with `write`, hands each response to `onResponse`; `close` returns the top-level `<sync-token>`, if any. */
export class MultistatusReader {
  readonly #parser = new SaxesParser({ xmlns: true });
  /** Open elements from the root down; from depth 2 inside a response, the tree being built. */
  readonly #open: XmlElement[] = [];
  #elements = 0;
  #responseElements = 0;
  #responses = 0;
  #syncToken: string | undefined;

  constructor(
    readonly base: string,
    onResponse: (response: MemberResponse) => void,
  ) {
    const p = this.#parser;
    // Handlers throw: saxes calls them synchronously, so the exception leaves write() and nothing more is read.
    p.on('doctype', () => fail('protocol', 'a DOCTYPE in a WebDAV answer'));
    p.on('error', (err) => fail('protocol', `a WebDAV answer that is not XML: ${err.message}`));
    p.on('opentag', (tag) => {
      const depth = this.#open.length;
      if (depth >= limits.xmlDepthMax) fail('protocol', `a WebDAV answer nested deeper than ${limits.xmlDepthMax} elements`);
      if (++this.#elements > limits.upstreamXmlElementsMax) fail('too-large', `a WebDAV answer of more than ${limits.upstreamXmlElementsMax} elements`);
      const el: XmlElement = { name: tag.local, ns: tag.uri, attrs: {}, children: [], text: '' };
      if (depth === 0 && !(el.ns === ns.dav && el.name === 'multistatus')) fail('protocol', `a WebDAV answer whose root is <${el.name}>, not a multistatus`);
      if (depth === 1 && el.ns === ns.dav && el.name === 'response') {
        if (++this.#responses > limits.upstreamMembersMax) fail('too-large', `a WebDAV answer of more than ${limits.upstreamMembersMax} members`);
        this.#responseElements = 0;
      }
      if (depth >= 2 && ++this.#responseElements > limits.upstreamXmlElementsPerResponseMax) {
        fail('too-large', `a WebDAV response of more than ${limits.upstreamXmlElementsPerResponseMax} elements`);
      }
      for (const attr of Object.values(tag.attributes)) if (attr.prefix !== 'xmlns' && attr.name !== 'xmlns') el.attrs[attr.local] = attr.value;
      this.#open[depth - 1]?.children.push(el);
      this.#open.push(el);
    });
    p.on('closetag', () => {
      const el = this.#open.pop() as XmlElement;
      const depth = this.#open.length;
      if (depth === 1 && el.ns === ns.dav && el.name === 'response') onResponse(this.#member(el));
      else if (depth === 1 && el.ns === ns.dav && el.name === 'sync-token') this.#syncToken = el.text.trim();
      // What the root holds is only ever read from its children above: drop each, keeping memory to one response.
      if (depth === 1) this.#open[0]?.children.pop();
    });
    const addText = (text: string) => {
      // Text only matters inside the root's children; whitespace between responses is dropped unread.
      if (this.#open.length >= 2) (this.#open[this.#open.length - 1] as XmlElement).text += text;
    };
    p.on('text', addText);
    p.on('cdata', addText);
  }

  write(text: string): void {
    this.#parser.write(text);
  }

  close(): { syncToken?: string } {
    this.#parser.close();
    if (this.#elements === 0) fail('protocol', 'an empty WebDAV answer');
    return this.#syncToken === undefined ? {} : { syncToken: this.#syncToken };
  }

  #member(el: XmlElement): MemberResponse {
    const hrefText = childOf(el, ns.dav, 'href')?.text.trim();
    if (!hrefText) return fail('protocol', 'a WebDAV response without an href');
    let href: string;
    try {
      href = new URL(hrefText, this.base).href;
    } catch {
      return fail('protocol', `a WebDAV response with an href that is not a URL: ${hrefText.slice(0, 200)}`);
    }
    const props = new Map<string, XmlElement>();
    for (const propstat of el.children.filter((c) => c.ns === ns.dav && c.name === 'propstat')) {
      const code = statusCode(childOf(propstat, ns.dav, 'status')?.text ?? '');
      if (code === undefined || code < 200 || code > 299) continue;
      for (const prop of childOf(propstat, ns.dav, 'prop')?.children ?? []) props.set(propKey(prop.ns, prop.name), prop);
    }
    const status = statusCode(childOf(el, ns.dav, 'status')?.text ?? '');
    const error = childOf(el, ns.dav, 'error');
    return { href, props, ...(status === undefined ? {} : { status }), ...(error === undefined ? {} : { error }) };
  }
}

/** An element in one of `ns`'s namespaces, as request bodies write them (prefixes declared on the root by `document`). */
export const el = (namespace: string, name: string, inner = '', attrs: Record<string, string> = {}): string => element({ ns: namespace, name }, inner, attrs);

export const text = (value: string) => escapeText(value);

/** A request body: `root` with every prefix declared. */
export function document(root: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n${root.replace(/^<([\w:-]+)/, (m) => `${m} ${declarations}`)}`;
}
