import { SaxesParser } from 'saxes';
import type { z } from 'zod';
import { limits } from '../core/limits.js';

/**
 * The XML encoding of the protocol's schemas, derived from the zod schemas so that JSON and XML can
 * never drift apart. Rules (docs/protocol.md § XML):
 *   - the root element names the message (`sync`, `syncResponse`, ...);
 *   - each object field is a child element of the same name, scalars as text;
 *   - an array field is the same element repeated, once per entry;
 *   - booleans are `true`/`false`, numbers are decimal;
 *   - a CR inside text is written as `&#13;` so vCard/iCalendar CRLF line ends survive XML's
 *     end-of-line normalization byte for byte.
 * Parsing refuses any DOCTYPE (no entity expansion, ever), nesting deeper than `depthMax`, and is
 * linear in the input.
 */

export class XmlDecodeError extends Error {
  override name = 'XmlDecodeError';
}

export interface XmlElement {
  /** The local name when parsing with namespaces, else the name as written. */
  name: string;
  /** The namespace URI when parsing with namespaces (WebDAV), else ''. */
  ns: string;
  /** Attributes by (local) name. */
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * Parses into a small element tree, in time linear in the input: the first problem ends the parse at
 * once (a DOCTYPE, nesting deeper than `depthMax`, more than `elementsMax` elements, more than
 * `childrenMax` children of one element, more than limits.xmlAttributesPerElementMax attributes on one
 * element, malformed XML). Stopping at once matters:
 * saxes resolves each prefix by walking the open tags, so reading on past the depth bound costs the
 * square of the depth (docs/dav.md § Limits). `namespaces`: resolve prefixes (WebDAV bodies), instead
 * of the native protocol's plain names.
 */
export function parseXml(
  source: string,
  depthMax: number,
  namespaces = false,
  elementsMax = Number.POSITIVE_INFINITY,
  childrenMax = Number.POSITIVE_INFINITY,
): XmlElement {
  const parser = new SaxesParser({ xmlns: namespaces, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  let attributes = 0;
  // Handlers throw: saxes calls them synchronously, so the exception leaves write() and nothing more is read.
  const fail = (message: string): never => {
    throw new XmlDecodeError(message);
  };
  parser.on('doctype', () => fail('DOCTYPE is not allowed'));
  parser.on('error', (err) => fail(`malformed XML: ${err.message}`));
  parser.on('opentagstart', () => {
    if (stack.length >= depthMax) fail(`XML nested deeper than ${depthMax} elements`);
    if (++elements > elementsMax) fail(`more than ${elementsMax} XML elements`);
    const parent = stack[stack.length - 1];
    if (parent && parent.children.length >= childrenMax) fail(`more than ${childrenMax} child elements in <${parent.name}>`);
    attributes = 0;
  });
  parser.on('attribute', () => {
    if (++attributes > limits.xmlAttributesPerElementMax) fail(`more than ${limits.xmlAttributesPerElementMax} attributes on one XML element`);
  });
  parser.on('opentag', (tag) => {
    const attrs: Record<string, string> = {};
    for (const [name, attr] of Object.entries(tag.attributes)) {
      if (typeof attr === 'string') attrs[name] = attr;
      else if (attr.prefix !== 'xmlns' && attr.name !== 'xmlns') attrs[attr.local] = attr.value;
    }
    const el: XmlElement = namespaces
      ? { name: tag.local ?? tag.name, ns: tag.uri ?? '', attrs, children: [], text: '' }
      : { name: tag.name, ns: '', attrs, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const addText = (text: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += text;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.write(source).close();
  if (!root) throw new XmlDecodeError('empty XML document');
  return root;
}

type AnySchema = z.ZodType;

/** Strip optional/default/nullable wrappers to reach the schema that says what a value is. */
function core(schema: AnySchema): AnySchema {
  let s = schema as AnySchema & { def: { type: string; innerType?: AnySchema } };
  while (s.def.type === 'optional' || s.def.type === 'default' || s.def.type === 'nullable') {
    s = s.def.innerType as typeof s;
  }
  return s;
}

/** Whether null is a value the field takes (under its optional/default wrappers). */
function isNullable(schema: AnySchema): boolean {
  let s = schema as AnySchema & { def: { type: string; innerType?: AnySchema } };
  while (s.def.type === 'optional' || s.def.type === 'default') s = s.def.innerType as typeof s;
  return s.def.type === 'nullable';
}

function defOf(schema: AnySchema): Record<string, unknown> & { type: string } {
  return (schema as unknown as { def: Record<string, unknown> & { type: string } }).def;
}

/** Turn an element into the plain value the schema expects; zod then validates it as it does JSON. */
function toValue(el: XmlElement, schema: AnySchema): unknown {
  const s = core(schema);
  const def = defOf(s);
  switch (def.type) {
    case 'object':
      return toObject(el, (def.shape as Record<string, AnySchema>) ?? {});
    case 'union': {
      // Discriminated unions: the discriminator child picks the member.
      const discriminator = def.discriminator as string | undefined;
      const options = def.options as AnySchema[];
      if (!discriminator) return el.text;
      const tag = el.children.find((c) => c.name === discriminator)?.text;
      const member = options.find((o) => {
        const field = (defOf(core(o)).shape as Record<string, AnySchema>)[discriminator];
        return field !== undefined && (defOf(field).values as unknown[] | undefined)?.includes(tag);
      });
      if (!member) return { [discriminator]: tag };
      return toValue(el, member);
    }
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(el.text.trim()) ? Number(el.text.trim()) : el.text;
    case 'boolean':
      return el.text.trim() === 'true' ? true : el.text.trim() === 'false' ? false : el.text;
    default:
      return el.text;
  }
}

function toObject(el: XmlElement, shape: Record<string, AnySchema>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const child of el.children) {
    const field = shape[child.name];
    if (!field) continue; // unknown elements are ignored, as unknown JSON keys are
    const inner = core(field);
    if (defOf(inner).type === 'array') {
      const element = defOf(inner).element as AnySchema;
      const list = (out[child.name] as unknown[] | undefined) ?? [];
      list.push(toValue(child, element));
      out[child.name] = list;
    } else if (child.name in out) {
      throw new XmlDecodeError(`element <${child.name}> appears more than once in <${el.name}>`);
    } else if (isNullable(field) && child.children.length === 0 && child.text === '') {
      // XML has no null: an empty element clears a field that JSON clears with null (docs/protocol.md §11).
      out[child.name] = null;
    } else {
      out[child.name] = toValue(child, field);
    }
  }
  // An array field with no elements is an empty list, so required arrays stay valid in XML.
  for (const [name, field] of Object.entries(shape)) {
    if (!(name in out) && defOf(core(field)).type === 'array' && defOf(field).type !== 'optional') out[name] = [];
  }
  return out;
}

/** More scalar fields than any message object has (a sync collection has seven). */
const xmlScalarFieldsMax = 32;

/** Parse an XML document into the plain value `schema` describes (unvalidated; run schema.safeParse next). */
export function decodeXml(source: string, rootName: string, schema: AnySchema, depthMax: number): unknown {
  // No message has a list longer than limits.bodyListItemsMax, beside a few scalar fields: an element with
  // more children is refused as soon as the next one opens, before the rest is read (docs/protocol.md §11).
  const root = parseXml(source, depthMax, false, Number.POSITIVE_INFINITY, limits.bodyListItemsMax + xmlScalarFieldsMax);
  if (root.name !== rootName) throw new XmlDecodeError(`expected root element <${rootName}>, got <${root.name}>`);
  return toValue(root, schema);
}

/**
 * XML 1.0 cannot carry most C0 controls, U+FFFE/U+FFFF or lone surrogates, not even as references. Names
 * and items with them are refused on the way in (protocol/names.ts, content checks), but one stored
 * before that rule must not turn a whole listing into invalid XML: it is written as U+FFFD.
 */
const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;', '"': '&quot;' };
const mustEscape = /[&<>\r"\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Every character mustEscape may replace, found in one scan without lookarounds: most texts (hrefs, etags, names) have none. */
const mayEscape = /[&<>\r"\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
/** Escapes text for element content or a quoted attribute; a CR becomes &#13; so CRLF survives parsing. */
export function escapeText(text: string): string {
  return mayEscape.test(text) ? text.replace(mustEscape, (c) => escapes[c] ?? '\ufffd') : text;
}

function writeValue(name: string, value: unknown, out: string[]): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const entry of value) writeValue(name, entry, out);
    return;
  }
  if (typeof value === 'object') {
    out.push(`<${name}>`);
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) writeValue(key, child, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeText(String(value))}</${name}>`);
}

export function encodeXml(rootName: string, value: object): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  writeValue(rootName, value, out);
  return out.join('');
}
