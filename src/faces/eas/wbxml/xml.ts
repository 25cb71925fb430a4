import { parseXml, type XmlElement } from '../../../protocol/xml.js';
import { codePages, type CodePage } from './code-pages.js';
import type { WbxmlElement, WbxmlNode } from './element.js';

/**
 * WBXML trees as XML, for tests, fixtures and logs. `toXml` writes what `wbxml2xml -m 0 -l ACTIVESYNC`
 * (libwbxml) prints: its declaration and DOCTYPE, a default `xmlns="Page:"` wherever the code page
 * changes, `<Tag/>` for empty elements, OPAQUE data in base64. Unlike wbxml2xml it writes CR as `&#13;`,
 * so that a parser cannot fold CRLF into LF.
 */

const prolog =
  '<?xml version="1.0"?><!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };
const escape = (s: string) => s.replace(/[&<>"'\r]/g, (c) => escapes[c] as string);

export function toXml(root: WbxmlElement): string {
  const out: string[] = [prolog];
  const write = (e: WbxmlElement, parentNs: string | undefined): void => {
    out.push(e.ns === parentNs ? `<${e.name}` : `<${e.name} xmlns="${e.ns}:"`);
    const content = e.children.filter((c) => c !== '');
    if (content.length === 0) {
      out.push('/>');
      return;
    }
    out.push('>');
    for (const c of content) {
      if (typeof c === 'string') out.push(escape(c));
      else if (c instanceof Uint8Array) out.push(Buffer.from(c).toString('base64'));
      else write(c, e.ns);
    }
    out.push(`</${e.name}>`);
  };
  write(root, undefined);
  return out.join('');
}

// libwbxml writes "AirSync:" and "Gal:"; Microsoft's documents write "AirSync" and "GAL".
const byNamespaceUri = new Map<string, CodePage>(codePages.map((p) => [p.ns.toLowerCase(), p]));

/**
 * Parses XML in any of those spellings back into a tree: an element's namespace picks its code page;
 * text between child elements (indentation) is dropped; all text is a string, base64 included. A
 * DOCTYPE without an internal subset, as wbxml2xml prints, is skipped: it cannot declare entities.
 */
export function fromXml(xml: string): WbxmlElement {
  const withoutDoctype = xml.replace(/^(\s*<\?xml[^>]*\?>)?\s*<!DOCTYPE[^[>]*>/, '$1');
  return convert(parseXml(withoutDoctype, 256, true));
}

function convert(x: XmlElement): WbxmlElement {
  const page = byNamespaceUri.get(x.ns.replace(/:$/, '').toLowerCase());
  if (!page) throw new Error(`<${x.name}> is in namespace "${x.ns}", which is no ActiveSync code page`);
  const attribute = Object.keys(x.attrs)[0];
  if (attribute !== undefined) throw new Error(`<${x.name}> has attribute ${attribute}; ActiveSync uses none`);
  if (x.children.length > 0 && x.text.trim() !== '') throw new Error(`<${x.name}> mixes text and elements`);
  const children: WbxmlNode[] = x.children.length > 0 ? x.children.map(convert) : x.text === '' ? [] : [x.text];
  return { ns: page.ns, name: x.name, children };
}
