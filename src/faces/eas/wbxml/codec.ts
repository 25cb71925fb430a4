import { limits } from '../../../core/limits.js';
import { codePageOf, codePages, type CodePage } from './code-pages.js';
import type { WbxmlElement } from './element.js';

/**
 * WAP Binary XML as ActiveSync uses it ([MS-ASWBXML], on WBXML 1.3): version 0x03, public identifier 1,
 * UTF-8, no attributes. Decoding is one linear pass under limits (size, depth, node count, opaque
 * size, decoded text), so a hostile body costs no more than its own length; text pieces are gathered
 * as bytes and decoded once per string.
 */

export { el, namespace, child, children, text, type WbxmlElement, type WbxmlNode } from './element.js';

export class WbxmlError extends Error {
  override name = 'WbxmlError';
  constructor(
    message: string,
    /** Where in the input the problem was found; undefined for encoding errors. */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} at offset ${offset}`);
  }
}

export interface WbxmlLimits {
  /** Deepest element nesting; the root is depth 1. */
  depthMax: number;
  /** Largest document. The decoded text is bounded by the document's own length, so string-table references cannot multiply it. */
  bytesMax: number;
  /**
   * Elements, texts and OPAQUE data together: each becomes an object of about a hundred bytes, so the
   * count, not the length, is what a body of tiny tokens costs (docs/eas.md, "Limits").
   */
  nodesMax: number;
  /** Largest single OPAQUE datum. */
  opaqueBytesMax: number;
}

export const defaultWbxmlLimits: Readonly<WbxmlLimits> = {
  depthMax: limits.easWbxmlDepthMax,
  bytesMax: limits.requestBytesMax,
  nodesMax: limits.easWbxmlNodesMax,
  opaqueBytesMax: limits.requestBytesMax,
};

const VERSION_1_3 = 0x03;
const PUBLIC_ID_UNKNOWN = 0x01; // what ActiveSync sends: the code pages, not a DTD, say what the document is
const CHARSET_UTF8 = 106; // IANA MIBenum

const SWITCH_PAGE = 0x00;
const END = 0x01;
const ENTITY = 0x02;
const STR_I = 0x03;
const STR_T = 0x83;
const OPAQUE = 0xc3;
const CONTENT = 0x40;
const ATTRIBUTES = 0x80;

/** The global tokens this codec refuses, named for the error message. */
const unsupported: Record<number, string> = {
  0x04: 'LITERAL', 0x40: 'EXT_I_0', 0x41: 'EXT_I_1', 0x42: 'EXT_I_2', 0x43: 'PI', 0x44: 'LITERAL_C',
  0x80: 'EXT_T_0', 0x81: 'EXT_T_1', 0x82: 'EXT_T_2', 0x84: 'LITERAL_A',
  0xc0: 'EXT_0', 0xc1: 'EXT_1', 0xc2: 'EXT_2', 0xc4: 'LITERAL_AC',
};

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF is content and must survive.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(what: string): number {
    const b = this.bytes[this.pos];
    if (b === undefined) throw new WbxmlError(`truncated document: expected ${what}`, this.pos);
    this.pos++;
    return b;
  }

  /** A WBXML mb_u_int32: big-endian groups of 7 bits, high bit set on all but the last byte. */
  mbUint32(what: string): number {
    const start = this.pos;
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte(what);
      value = value * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) throw new WbxmlError(`${what} does not fit in 32 bits`, start);
        return value;
      }
    }
    throw new WbxmlError(`${what} is an mb_u_int32 longer than 5 bytes`, start);
  }

  take(length: number, what: string): Uint8Array {
    if (length > this.bytes.length - this.pos) {
      throw new WbxmlError(`truncated document: ${what} of ${length} bytes runs past the end`, this.pos);
    }
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
}

/** Decodes an ActiveSync WBXML document into its element tree; throws WbxmlError on anything malformed. */
export function decodeWbxml(bytes: Uint8Array, limits: Partial<WbxmlLimits> = {}): WbxmlElement {
  const { depthMax, bytesMax, nodesMax, opaqueBytesMax } = { ...defaultWbxmlLimits, ...limits };
  if (bytes.length > bytesMax) throw new WbxmlError(`document of ${bytes.length} bytes exceeds the limit of ${bytesMax}`);
  const r = new Reader(bytes);

  const version = r.byte('the WBXML version');
  if (version !== VERSION_1_3) throw new WbxmlError(`unsupported WBXML version ${hex(version)}, expected 0x03 (WBXML 1.3)`, 0);
  let at = r.pos;
  const publicId = r.mbUint32('the public identifier');
  if (publicId !== PUBLIC_ID_UNKNOWN) throw new WbxmlError(`unsupported public identifier ${publicId}, expected 1`, at);
  at = r.pos;
  const charset = r.mbUint32('the charset');
  if (charset !== CHARSET_UTF8) throw new WbxmlError(`unsupported charset ${charset}, only 106 (UTF-8) is supported`, at);
  const table = r.take(r.mbUint32('the string table length'), 'the string table');

  let page: CodePage = codePages[0] as CodePage;
  const stack: WbxmlElement[] = [];
  let root: WbxmlElement | undefined;
  let nodes = 0;
  const countNode = (offset: number) => {
    if (++nodes > nodesMax) throw new WbxmlError(`more than ${nodesMax} nodes (elements, texts and opaque data)`, offset);
  };
  const run = new TextRun();
  let textBytes = 0;

  const addText = (src: Uint8Array, start: number, end: number, offset: number) => {
    if (stack.length === 0) throw new WbxmlError('text outside any element', offset);
    textBytes += end - start;
    if (textBytes > bytes.length) throw new WbxmlError(`decoded text exceeds the document's own ${bytes.length} bytes`, offset);
    run.append(src, start, end, offset);
  };
  const endText = () => {
    if (run.length === 0) return; // also drops empty text, which keeps decoded trees canonical
    const top = stack[stack.length - 1] as WbxmlElement;
    const at = run.offset;
    countNode(at);
    let value: string;
    try {
      value = run.take();
    } catch {
      throw new WbxmlError(`invalid UTF-8 in the text of <${top.name}>`, at);
    }
    top.children.push(value);
  };

  while (root === undefined || stack.length > 0) {
    at = r.pos;
    const top = stack[stack.length - 1];
    if (at >= bytes.length) {
      throw new WbxmlError(`truncated document: expected ${top ? `content or END of <${top.name}>` : 'the root element'}`, at);
    }
    const token = bytes[r.pos++] as number;
    switch (token) {
      case SWITCH_PAGE: {
        const n = r.byte('a code page number');
        const next = codePages[n];
        if (!next) throw new WbxmlError(`unknown code page ${n}`, at + 1);
        page = next;
        break;
      }
      case END: {
        if (!top) throw new WbxmlError('END with no open element', at);
        endText();
        stack.pop();
        break;
      }
      case STR_I: {
        const end = bytes.indexOf(0, r.pos);
        if (end < 0) throw new WbxmlError('truncated document: inline string has no terminating NUL', at);
        addText(bytes, r.pos, end, at);
        r.pos = end + 1;
        break;
      }
      case STR_T: {
        const offset = r.mbUint32('a string table offset');
        const end = offset < table.length ? table.indexOf(0, offset) : -1;
        if (end < 0) throw new WbxmlError(`string table reference ${offset} is outside the ${table.length}-byte table`, at);
        addText(table, offset, end, at);
        break;
      }
      case ENTITY: {
        const code = r.mbUint32('a character entity');
        if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
          throw new WbxmlError(`character entity ${code} is not a character`, at);
        }
        const utf8 = utf8Of(code);
        addText(utf8, 0, utf8.length, at);
        break;
      }
      case OPAQUE: {
        if (!top) throw new WbxmlError('OPAQUE outside any element', at);
        const length = r.mbUint32('an OPAQUE length');
        if (length > opaqueBytesMax) throw new WbxmlError(`OPAQUE of ${length} bytes exceeds the limit of ${opaqueBytesMax}`, at);
        // A plain copy: the tree must not pin the caller's buffer (Buffer.slice would not copy).
        const data = new Uint8Array(r.take(length, 'OPAQUE data'));
        endText();
        countNode(at);
        top.children.push(data);
        break;
      }
      default: {
        const id = token & 0x3f;
        if (id < 0x05) throw new WbxmlError(`unsupported global token ${unsupported[token] ?? hex(token)}`, at);
        if (token & ATTRIBUTES) throw new WbxmlError(`tag ${hex(token)} carries attributes, which ActiveSync never uses`, at);
        const name = page.names[id];
        if (name === undefined) throw new WbxmlError(`unknown tag token ${hex(id)} in code page ${page.page} (${page.ns})`, at);
        countNode(at);
        if (stack.length + 1 > depthMax) throw new WbxmlError(`elements nested deeper than ${depthMax}`, at);
        const element: WbxmlElement = { ns: page.ns, name, children: [] };
        if (top) {
          endText();
          top.children.push(element);
        } else {
          root = element;
        }
        if (token & CONTENT) stack.push(element);
      }
    }
  }
  if (r.pos !== bytes.length) throw new WbxmlError('unexpected data after the root element', r.pos);
  return root as WbxmlElement; // the loop ends only once a root was read and closed
}

/**
 * The text since the last element boundary, gathered as UTF-8 bytes in one reused buffer and decoded
 * once when the run ends: text split into many pieces (STR_I, STR_T, ENTITY) costs linear time.
 */
class TextRun {
  private buf = new Uint8Array(256);
  length = 0;
  /** Where the run began, for error messages. */
  offset = 0;

  append(src: Uint8Array, start: number, end: number, offset: number): void {
    const n = end - start;
    if (this.length === 0) this.offset = offset;
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    // Short pieces are copied by hand: making a subarray view costs more than a few byte moves.
    if (n > 64) this.buf.set(src.subarray(start, end), this.length);
    else for (let i = 0; i < n; i++) this.buf[this.length + i] = src[start + i] as number;
    this.length += n;
  }

  take(): string {
    const n = this.length;
    this.length = 0;
    // Short ASCII (keys, ids, flags: most of a request's texts) without the decoder's call overhead.
    if (n <= 16) {
      let ascii = '';
      for (let i = 0; i < n; i++) {
        const b = this.buf[i] as number;
        if (b >= 0x80) return utf8Decoder.decode(this.buf.subarray(0, n));
        ascii += String.fromCharCode(b);
      }
      return ascii;
    }
    return utf8Decoder.decode(this.buf.subarray(0, n));
  }
}

/** The UTF-8 bytes of one code point (already checked to be a character). */
function utf8Of(code: number): Uint8Array {
  if (code < 0x80) return Uint8Array.of(code);
  if (code < 0x800) return Uint8Array.of(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
  if (code < 0x10000) return Uint8Array.of(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
  return Uint8Array.of(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 0x3f), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
}

/** A growable byte buffer, doubling so that encoding stays linear. */
class Writer {
  buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  mbUint32(value: number): void {
    const groups = [value % 128];
    for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) groups.push(v % 128);
    for (let i = groups.length - 1; i >= 0; i--) this.byte((groups[i] as number) | (i > 0 ? 0x80 : 0));
  }

  utf8(s: string): void {
    this.reserve(s.length * 3); // a UTF-16 unit never takes more than 3 UTF-8 bytes
    this.length += utf8Encoder.encodeInto(s, this.buf.subarray(this.length)).written;
  }
}

/**
 * Characters XML 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF; unpaired
 * surrogates). Clients turn WBXML into XML, and STR_I cannot carry NUL at all, so text read from the
 * store (a name or note written before control characters were refused, say) is sent with each of
 * them replaced by U+FFFD: one odd stored string must not make every answer that names it fail.
 */
const notXmlChar = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/gu;

/**
 * Encodes an element tree: SWITCH_PAGE only where the code page changes, empty elements without the
 * content flag, text as inline strings (STR_I, with `notXmlChar` replaced), Uint8Array children as
 * OPAQUE. Throws WbxmlError for a namespace or tag the code pages do not define.
 */
export function encodeWbxml(root: WbxmlElement): Uint8Array {
  const w = new Writer();
  w.byte(VERSION_1_3);
  w.byte(PUBLIC_ID_UNKNOWN);
  w.mbUint32(CHARSET_UTF8);
  w.byte(0); // no string table
  let page = 0;

  const write = (e: WbxmlElement): void => {
    const p = codePageOf(e.ns);
    if (!p) throw new WbxmlError(`unknown namespace "${e.ns}" of <${e.name}>`);
    const token = p.tokens.get(e.name);
    if (token === undefined) throw new WbxmlError(`unknown tag <${e.name}> in code page ${p.page} (${p.ns})`);
    if (p.page !== page) {
      w.byte(SWITCH_PAGE);
      w.byte(p.page);
      page = p.page;
    }
    const hasContent = e.children.some((c) => c !== '');
    w.byte(hasContent ? token | CONTENT : token);
    if (!hasContent) return;
    for (const c of e.children) {
      if (typeof c === 'string') {
        if (c === '') continue;
        w.byte(STR_I);
        w.utf8(c.replace(notXmlChar, '\uFFFD'));
        w.byte(0);
      } else if (c instanceof Uint8Array) {
        w.byte(OPAQUE);
        w.mbUint32(c.length);
        w.bytes(c);
      } else {
        write(c);
      }
    }
    w.byte(END);
  };
  write(root);
  return w.buf.slice(0, w.length);
}
