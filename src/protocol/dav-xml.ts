import { escapeText } from './xml.js';

/**
 * WebDAV XML names both sides of DAV speak: the DAV face's answers (faces/dav/multistatus.ts) and the
 * upstream client's requests (connectors/dav/). The namespaces clients and servers know get their usual
 * prefixes; any other is declared on the element that uses it.
 */
export const ns = {
  dav: 'DAV:',
  carddav: 'urn:ietf:params:xml:ns:carddav',
  caldav: 'urn:ietf:params:xml:ns:caldav',
  cs: 'http://calendarserver.org/ns/',
  apple: 'http://apple.com/ns/ical/',
} as const;

export const prefixes: Readonly<Record<string, string>> = { [ns.dav]: 'd', [ns.carddav]: 'card', [ns.caldav]: 'cal', [ns.cs]: 'cs', [ns.apple]: 'ical' };

/** Every usual prefix declared, for a document's root element. */
export const declarations = Object.entries(prefixes)
  .map(([uri, prefix]) => `xmlns:${prefix}="${uri}"`)
  .join(' ');

export interface PropName {
  ns: string;
  name: string;
}

/** `<prefix:name>inner</prefix:name>` (or empty), declaring an unknown namespace in place (none for no namespace: XML 1.0 cannot undeclare a prefix). */
export function element(p: PropName, inner = '', attrs: Readonly<Record<string, string>> = {}): string {
  const t = tagsOf(p, attrs);
  return inner === '' ? t.empty : `${t.open}${inner}${t.close}`;
}

export function tagsOf(p: PropName, attrs: Readonly<Record<string, string>> = {}): { open: string; close: string; empty: string } {
  const prefix = prefixes[p.ns];
  const tag = prefix ? `${prefix}:${p.name}` : p.ns === '' ? p.name : `x:${p.name}`;
  const declare = prefix || p.ns === '' ? '' : ` xmlns:x="${escapeText(p.ns)}"`;
  const written = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeText(v)}"`)
    .join('');
  return { open: `<${tag}${declare}${written}>`, close: `</${tag}>`, empty: `<${tag}${declare}${written}/>` };
}
