/**
 * The raw MIME pieces the mail item builder (message-item.ts) needs from the start of a message's
 * source (RFC 5322, RFC 2045–2046): its header block, and the body of one part, found by the IMAP
 * section the message's structure names, and decoded to text. The source may be cut anywhere; every
 * function here says whether it saw the whole of what it returns. Each is one linear pass.
 */

/** A part of a message's structure, as the IMAP server describes it (BODYSTRUCTURE, RFC 3501 §7.4.2). */
export interface BodyStructure {
  /** The part's IMAP section ("1", "1.2"); absent for the message itself when it is multipart (a single-part message's body is section "1"). */
  part?: string | undefined;
  /** Lowercase media type: "text/plain", "multipart/alternative", "message/rfc822"… */
  type: string;
  /** Content-Type parameters, decoded, names lowercase (charset, name, boundary). */
  parameters?: Record<string, string> | undefined;
  /** Content-Transfer-Encoding, lowercase ("base64", "quoted-printable", "7bit"). */
  encoding?: string | undefined;
  /** Lowercase Content-Disposition ("inline", "attachment"), absent when the part has none. */
  disposition?: string | undefined;
  /** Content-Disposition parameters, decoded, names lowercase (filename). */
  dispositionParameters?: Record<string, string> | undefined;
  /** Content-ID, as sent. */
  id?: string | undefined;
  /** The part's size in bytes, as encoded. */
  size?: number | undefined;
  /** A multipart's parts; an attached message's own structure, which the builder does not enter. */
  childNodes?: BodyStructure[] | undefined;
}

/** A stretch of the source; `whole`: its end was in the source (not cut off by the source's end). */
interface Span {
  start: number;
  end: number;
  whole: boolean;
}

const CR = 0x0d;
const LF = 0x0a;

/** Where the header block of the entity in `span` ends and its body starts, or -1 when the source ends first. */
function bodyStart(source: Buffer, span: Span): number {
  for (let i = source.indexOf(LF, span.start); i !== -1 && i < span.end; i = source.indexOf(LF, i + 1)) {
    if (i === span.start || source[i - 1] === LF) return i + 1;
    if (source[i - 1] === CR && (i - 1 === span.start || source[i - 2] === LF)) return i + 1;
  }
  return -1;
}

/**
 * The message's header block, without the blank line that ends it; when the source ends inside it,
 * without the last line, which may be cut. Unfolded and split into fields by headerFields.
 */
export function headerBlock(source: Buffer): Buffer {
  const start = bodyStart(source, { start: 0, end: source.length, whole: true });
  if (start !== -1) return source.subarray(0, start);
  const lastLine = source.lastIndexOf(LF);
  return source.subarray(0, lastLine + 1);
}

/** The fields of a header block, names lowercase, in order, values unfolded (RFC 5322 §2.2.3) and trimmed. */
export function headerFields(block: string): Array<{ name: string; value: string }> {
  const fields: Array<{ name: string; value: string }> = [];
  for (const line of block.split(/\r?\n/)) {
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) last.value += line;
    else {
      const colon = line.indexOf(':');
      if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) });
    }
  }
  for (const f of fields) f.value = f.value.trim();
  return fields;
}

/**
 * The parts of the multipart body in `body` (their entities, headers included), up to the `count`th:
 * between the delimiter lines `--boundary` (RFC 2046 §5.1.1), the line break before a delimiter
 * belonging to it. A part is whole when the next delimiter is in the source.
 */
function multipartParts(source: Buffer, body: Span, boundary: string, count: number): Span[] {
  const delimiter = Buffer.from(`--${boundary}`, 'utf8');
  const parts: Span[] = [];
  let open: number | undefined;
  for (let i = source.indexOf(delimiter, body.start); i !== -1 && i + delimiter.length <= body.end; i = source.indexOf(delimiter, i + 1)) {
    if (i !== body.start && source[i - 1] !== LF) continue;
    let after = i + delimiter.length;
    const closing = after + 2 <= body.end && source[after] === 0x2d && source[after + 1] === 0x2d;
    if (!closing) {
      // Only white space may follow a delimiter on its line.
      while (after < body.end && (source[after] === 0x20 || source[after] === 0x09)) after++;
      if (after < body.end && source[after] !== CR && source[after] !== LF) continue;
    }
    if (open !== undefined) {
      const end = i > body.start && source[i - 1] === LF ? i - (source[i - 2] === CR ? 2 : 1) : i;
      parts.push({ start: open, end: Math.max(open, end), whole: true });
      if (parts.length === count) return parts;
    }
    if (closing) return parts;
    const lineEnd = source.indexOf(LF, after);
    if (lineEnd === -1 || lineEnd >= body.end) return parts;
    open = lineEnd + 1;
  }
  if (open !== undefined) parts.push({ start: open, end: body.end, whole: false });
  return parts;
}

/**
 * The body of the part at `section` (its raw, still encoded bytes), found in the source by the
 * message's structure, and whether the source held all of it; undefined when the source ends before
 * it starts or the structure does not match the source. `messageWhole`: the source is the whole message.
 */
export function partBody(source: Buffer, structure: BodyStructure, section: string, messageWhole: boolean): { bytes: Buffer; whole: boolean } | undefined {
  let node = structure;
  let entity: Span = { start: 0, end: source.length, whole: messageWhole };
  const path = section.split('.').map(Number);
  // A single-part message's body is its section 1.
  if (node.childNodes === undefined || !node.type.startsWith('multipart/')) {
    if (section !== '1' && section !== node.part) return undefined;
    path.length = 0;
  }
  for (;;) {
    const start = bodyStart(source, entity);
    if (start === -1) return undefined;
    const body: Span = { start, end: entity.end, whole: entity.whole };
    const index = path.shift();
    if (index === undefined) return { bytes: source.subarray(body.start, body.end), whole: body.whole };
    const boundary = node.parameters?.boundary;
    const child = node.childNodes?.[index - 1];
    if (boundary === undefined || boundary === '' || child === undefined) return undefined;
    const parts = multipartParts(source, body, boundary, index);
    const found = parts[index - 1];
    if (found === undefined) return undefined;
    entity = { ...found, whole: found.whole || (body.whole && found.end === body.end) };
    node = child;
  }
}

const hexValue = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);

/** Quoted-printable (RFC 2045 §6.7) decoded; a source cut inside an `=XX` escape ends before it. The runs between escapes are copied whole. */
function decodeQuotedPrintable(bytes: Buffer, whole: boolean): Buffer {
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; ; ) {
    const escape = bytes.indexOf(0x3d, i);
    n += bytes.copy(out, n, i, escape === -1 ? bytes.length : escape);
    if (escape === -1) break;
    const a = bytes[escape + 1];
    const b = bytes[escape + 2];
    if (a === undefined || (b === undefined && a !== LF)) {
      if (!whole) break;
      out[n++] = 0x3d;
      i = escape + 1;
    } else if (a === LF) i = escape + 2;
    else if (a === CR && b === LF) i = escape + 3;
    else if (hexValue(a) !== -1 && hexValue(b as number) !== -1) {
      out[n++] = hexValue(a) * 16 + hexValue(b as number);
      i = escape + 3;
    } else {
      out[n++] = 0x3d;
      i = escape + 1;
    }
  }
  return out.subarray(0, n);
}

/** Base64 (RFC 2045 §6.8) decoded; characters outside its alphabet are skipped, and a cut source decodes whole groups only. */
function decodeBase64(bytes: Buffer, whole: boolean): Buffer {
  let clean = bytes.toString('latin1').replace(/[^A-Za-z0-9+/]/g, '');
  if (!whole) clean = clean.slice(0, clean.length - (clean.length % 4));
  return Buffer.from(clean, 'base64');
}

/** The decoder of a charset label, UTF-8 for a label nobody knows (WHATWG Encoding labels; us-ascii and iso-8859-1 read as windows-1252, their superset). */
function decoderFor(charset: string | undefined): TextDecoder {
  try {
    return new TextDecoder(charset === undefined || charset === '' ? 'utf-8' : charset);
  } catch {
    return new TextDecoder('utf-8');
  }
}

/**
 * A text part's body decoded to a string: its transfer encoding undone, then its charset. When the
 * source held only the start of it, a character cut at the end is left out rather than mangled.
 */
export function decodeText(bytes: Buffer, whole: boolean, encoding: string | undefined, charset: string | undefined): string {
  const raw = encoding === 'base64' ? decodeBase64(bytes, whole) : encoding === 'quoted-printable' ? decodeQuotedPrintable(bytes, whole) : bytes;
  return decoderFor(charset).decode(raw, { stream: !whole });
}
