/**
 * The tree ActiveSync commands read and write. A child is an element, text (`string`, WBXML STR_I) or
 * opaque bytes (`Uint8Array`, WBXML OPAQUE). The decoder yields canonical trees: text that arrived in
 * several pieces is one string and empty text is left out, so a canonical tree survives an encode and
 * decode unchanged.
 */

export type WbxmlNode = WbxmlElement | string | Uint8Array;

export interface WbxmlElement {
  /** The code page's namespace as Microsoft names it: "AirSync", "FolderHierarchy", ... */
  ns: string;
  name: string;
  children: WbxmlNode[];
}

/** Builds an element; `undefined`, `null` and `false` children are dropped so optional parts read inline. */
export function el(ns: string, name: string, ...children: Array<WbxmlNode | undefined | null | false>): WbxmlElement {
  return { ns, name, children: children.filter((c): c is WbxmlNode => c !== undefined && c !== null && c !== false) };
}

/** `el` bound to one namespace: `const as = namespace('AirSync'); as('Sync', as('Collections'))`. */
export function namespace(ns: string) {
  return (name: string, ...children: Array<WbxmlNode | undefined | null | false>): WbxmlElement =>
    el(ns, name, ...children);
}

function isElement(node: WbxmlNode): node is WbxmlElement {
  return typeof node === 'object' && !(node instanceof Uint8Array);
}

/** The child elements named `name` (and in namespace `ns`, when given). */
export function children(e: WbxmlElement | undefined, name: string, ns?: string): WbxmlElement[] {
  if (!e) return [];
  return e.children.filter((c): c is WbxmlElement => isElement(c) && c.name === name && (ns === undefined || c.ns === ns));
}

/** The first child element named `name` (and in namespace `ns`, when given). */
export function child(e: WbxmlElement | undefined, name: string, ns?: string): WbxmlElement | undefined {
  if (!e) return undefined;
  for (const c of e.children) if (isElement(c) && c.name === name && (ns === undefined || c.ns === ns)) return c;
  return undefined;
}

/** The element's text (its string children joined); undefined for an absent element, so lookups chain. */
export function text(e: WbxmlElement): string;
export function text(e: WbxmlElement | undefined): string | undefined;
export function text(e: WbxmlElement | undefined): string | undefined {
  if (!e) return undefined;
  let out = '';
  for (const c of e.children) if (typeof c === 'string') out += c;
  return out;
}
