import { limits } from '../../../core/limits.js';
import { child, el, type WbxmlElement } from '../wbxml/element.js';
import type { BodyPreference } from './item-mapper.js';
import { rtfBodyText } from './rtf.js';

/**
 * The AirSyncBase Body element ([MS-ASAIRS] 2.2.2.9) every mapper uses for a note, description or body.
 *
 * The hub keeps bodies as plain text (vCard NOTE, iCalendar DESCRIPTION), so toward the client the body
 * is Type 1, whatever type the client prefers: a client that asks for HTML, RTF or MIME gets plain text
 * too, which every client can show. Line breaks travel as CRLF toward the client (Exchange's convention)
 * and are stored as LF on the hub. From the client, Type 1 is taken as it is, Type 2 (HTML) is reduced
 * to its text, and so is Type 3 (RTF, rtf.ts). An RTF body the server cannot read is kept as the client
 * sent it, beside the text, in the property `keptRtfProperty`, and sent back as Type 3 to a client that
 * asks for RTF (docs/eas.md, "What maps to what").
 */

/** An item's body: its text, and an RTF body kept as the client sent it (base64) because it could not be read. */
export interface ItemBody {
  text?: string;
  rtf?: string;
}

/** The vCard / iCalendar property (in the component the body belongs to) that holds a kept RTF body. */
export const keptRtfProperty = 'x-syncpoint-eas-rtf';

/** The largest RTF body kept as sent, in bytes of base64: half an item, so the item keeps room for the rest. */
const keptRtfBytesMax = Math.floor(limits.itemBytesMax / 2);

const asb = (name: string, ...children: Array<WbxmlElement | string | undefined | false>) => el('AirSyncBase', name, ...children);

/** What vCard and iCalendar text cannot carry (see docs/protocol.md §10.1): dropped from client text. */
const forbidden = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Client text made storable: CRLF and lone CR become LF, and characters an item cannot hold are dropped. */
export function cleanText(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(forbidden, '');
}

/**
 * `text` with CRLF line breaks, cut to at most `limit` bytes of UTF-8: never inside a character, nor after
 * a lone CR (which would read as a different break). The text sent, the whole text's size in bytes, and
 * whether it was cut.
 */
export function cutText(text: string, limit: number | undefined): { sent: string; bytes: number; cut: boolean } {
  const data = text.replace(/\r\n|\r|\n/g, '\r\n');
  const bytes = Buffer.from(data, 'utf8');
  if (limit === undefined || bytes.length <= limit) return { sent: data, bytes: bytes.length, cut: false };
  let end = Math.floor(limit);
  // Back up to the first byte of a UTF-8 sequence, so no character is cut in two.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  const sent = bytes.subarray(0, end).toString('utf8');
  return { sent: sent.endsWith('\r') ? sent.slice(0, -1) : sent, bytes: bytes.length, cut: true };
}

/**
 * The Body for `body`, or undefined when there is none to send. A client that asks for RTF (Type 3) gets
 * a kept RTF body as it was sent, whole: with a TruncationSize smaller than it, Truncated is 1 and Data
 * is left out (a cut RTF stream cannot be read). Otherwise the text goes as Type 1; EstimatedDataSize is
 * the whole body's size in UTF-8 bytes; with a TruncationSize smaller than that, Data holds as many whole
 * characters as fit in it and Truncated is 1. An item with only a kept RTF body has none for other clients.
 */
export function bodyToEas(body: ItemBody | undefined, pref: BodyPreference | undefined): WbxmlElement | undefined {
  const limit = pref?.truncationSize;
  if (body?.rtf !== undefined && body.rtf !== '' && pref?.type === 3) {
    const truncated = limit !== undefined && body.rtf.length > limit;
    return asb('Body', asb('Type', '3'), asb('EstimatedDataSize', String(body.rtf.length)), truncated && asb('Truncated', '1'), !truncated && asb('Data', body.rtf));
  }
  const text = body?.text;
  if (text === undefined || text === '') return undefined;
  const { sent, bytes, cut: truncated } = cutText(text, limit);
  return asb(
    'Body',
    asb('Type', '1'),
    asb('EstimatedDataSize', String(bytes)),
    truncated && asb('Truncated', '1'),
    sent !== '' && asb('Data', sent),
  );
}

/**
 * The body in `applicationData` (its AirSyncBase Body), or undefined when there is none (no Body, no
 * Data, or empty Data). Type 1 is taken as it is, Type 2 (HTML) and 3 (RTF) are reduced to text; an RTF
 * body that cannot be read is kept as sent (`rtf`), or refused with an Error when larger than half an
 * item (the Sync command leaves such a body out first: withReadableBody). MIME is refused with an
 * Error, as turning it into text is not done here.
 */
export function bodyFromEas(applicationData: WbxmlElement): ItemBody | undefined {
  const body = child(applicationData, 'Body', 'AirSyncBase');
  if (!body) return undefined;
  const type = textOf(child(body, 'Type', 'AirSyncBase')).trim() || '1';
  const dataElement = child(body, 'Data', 'AirSyncBase');
  if (!dataElement) return undefined;
  const data = textOf(dataElement);
  let plain: string;
  if (type === '1') plain = data;
  else if (type === '2') plain = htmlToText(data);
  else if (type === '3') {
    const read = readRtf(dataElement);
    if ('text' in read) plain = read.text;
    else if (read.rtf !== undefined) return { rtf: read.rtf };
    else throw new Error(`AirSyncBase:Body: ${read.problem}`);
  } else if (type === '4') throw new Error('AirSyncBase:Body of Type 4 (MIME) is not supported; send Type 1 (plain text), 2 (HTML) or 3 (RTF)');
  else throw new Error(`AirSyncBase:Body has an unknown Type ${JSON.stringify(type.slice(0, 20))}`);
  const cleaned = cleanText(plain);
  return cleaned === '' ? undefined : { text: cleaned };
}

/**
 * The item's body once the client sent `sent` (from bodyFromEas), the one rule every mapper applies
 * (docs/eas.md): an RTF body that could not be read is kept as sent, beside the text the item has; a
 * readable body that differs from the item's text replaces both (an empty one clears them); one equal
 * to the item's text, or none, leaves both as they are, so a client that was never sent the kept RTF
 * cannot lose it by sending back the text it was sent. Returns `stored` itself when nothing changes.
 */
export function bodyAfter(stored: ItemBody | undefined, sent: ItemBody | undefined): ItemBody | undefined {
  if (sent?.rtf !== undefined) return stored?.rtf === sent.rtf ? stored : { ...(stored?.text ? { text: stored.text } : {}), rtf: sent.rtf };
  const text = (b: ItemBody | undefined) => b?.text?.replace(/\r\n?/g, '\n') || undefined;
  if (text(stored) === text(sent)) return stored;
  return sent?.text ? { text: sent.text } : undefined;
}

/** What an RTF Body's Data holds: its text, or, when it cannot be read, the body as sent (base64) if it is small enough to keep, and why. */
function readRtf(data: WbxmlElement): { text: string } | { rtf?: string; problem: string } {
  try {
    return { text: rtfBodyText(textOf(data), limits.itemBytesMax) };
  } catch (err) {
    const rtf = asSent(data);
    const problem = (err as Error).message;
    return rtf.length <= keptRtfBytesMax ? { rtf, problem } : { problem: `${problem}; at ${rtf.length} bytes of base64 it is too large to keep (more than ${keptRtfBytesMax})` };
  }
}

/** A Body's Data as base64: as sent when it is base64 (white space dropped), else the base64 of its bytes. */
function asSent(data: WbxmlElement): string {
  const bytes = Buffer.concat(data.children.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c instanceof Uint8Array ? Buffer.from(c.buffer, c.byteOffset, c.byteLength) : Buffer.alloc(0))));
  const compact = bytes.toString('latin1').replace(/[\t\n\r ]+/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact) ? compact : bytes.toString('base64');
}

/**
 * The item's data with each RTF body (the item's, and each calendar Exception's) read once: one the
 * server can read becomes a plain-text one; one it cannot is kept as sent (bodyFromEas keeps it), or,
 * when too large to keep, left out, and `problem` says which and why. An item is never refused for its
 * RTF body: left out, an Add has no body, a Change keeps the body it had (a Change without a Body keeps
 * it, sync.ts), and an Exception takes the series' body.
 */
export function withReadableBody(applicationData: WbxmlElement): { data: WbxmlElement; problem?: string } {
  const problems: string[] = [];
  const readBodyOf = (parent: WbxmlElement, what: string): WbxmlElement => {
    const body = child(parent, 'Body', 'AirSyncBase');
    const data = child(body, 'Data', 'AirSyncBase');
    if (!data || textOf(child(body, 'Type', 'AirSyncBase')).trim() !== '3') return parent;
    const read = readRtf(data);
    if ('text' in read) return { ...parent, children: parent.children.map((c) => (c === body ? asb('Body', asb('Type', '1'), asb('Data', read.text)) : c)) };
    problems.push(`${what} could not be read (${read.problem.slice(0, 200)}); ${read.rtf !== undefined ? 'it was kept as the client sent it' : 'it was left out'}, the item kept`);
    return read.rtf !== undefined ? parent : { ...parent, children: parent.children.filter((c) => c !== body) };
  };
  let data = readBodyOf(applicationData, 'its RTF body');
  const exceptions = child(data, 'Exceptions', 'Calendar');
  if (exceptions) {
    const read = { ...exceptions, children: exceptions.children.map((x) => (typeof x === 'object' && !(x instanceof Uint8Array) && x.name === 'Exception' ? readBodyOf(x, 'the RTF body of an Exception') : x)) };
    if (read.children.some((x, i) => x !== exceptions.children[i])) data = { ...data, children: data.children.map((c) => (c === exceptions ? read : c)) };
  }
  return problems.length === 0 ? { data } : { data, problem: problems.join('; ') };
}

/** An element's text, with OPAQUE children read as UTF-8; '' for an absent element. */
export function textOf(e: WbxmlElement | undefined): string {
  if (!e) return '';
  let out = '';
  for (const c of e.children) {
    if (typeof c === 'string') out += c;
    else if (c instanceof Uint8Array) out += Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('utf8');
  }
  return out;
}

/** Elements whose start or end begins a new line of text. */
const blockTags = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'dd', 'div', 'dl', 'dt', 'fieldset', 'figcaption', 'figure', 'footer',
  'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'table',
  'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul',
]);
/** Elements whose content is not text to show. */
const skippedTags = new Set(['head', 'script', 'style', 'template', 'title']);

const namedEntities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z]{2,6});/g, (whole, ref: string) => {
    if (ref[0] !== '#') return namedEntities[ref.toLowerCase()] ?? whole;
    const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
    return String.fromCodePoint(code);
  });
}

/** Text made safe to place in HTML, inside elements or quoted attributes. */
export const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * HTML reduced to its text, in one pass over the input (linear time, no backtracking): tags and comments
 * are dropped, the content of head, script, style, title and template too, block elements and <br>
 * break lines (no more than one empty line in a row), runs of white space become one space, and character references are decoded.
 */
export function htmlToText(html: string): string {
  // The text so far, built without ever looking back: a space waits until text follows it, and at
  // most one empty line is kept.
  let out = '';
  let pendingSpace = false;
  let newlines = 2; // as if a paragraph had just ended: no leading blank lines
  const emit = (raw: string) => {
    const s = decodeEntities(raw.replace(/[ \t\r\n\f]+/g, ' '));
    if (s === '') return;
    const lead = s.startsWith(' ');
    const trail = s.endsWith(' ') && s.length > 1;
    const core = s.slice(lead ? 1 : 0, trail ? -1 : undefined);
    if (core === '' || core === ' ') {
      if (newlines === 0) pendingSpace = true;
      return;
    }
    if ((lead || pendingSpace) && newlines === 0) out += ' ';
    out += core;
    pendingSpace = trail;
    newlines = 0;
  };
  const newline = () => {
    pendingSpace = false;
    if (newlines < 2) {
      out += '\n';
      newlines++;
    }
  };
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    const end = lt === -1 ? n : lt;
    if (end > i) emit(html.slice(i, end));
    if (lt === -1) break;
    i = lt;
    if (html.startsWith('<!--', i)) {
      const close = html.indexOf('-->', i + 4);
      i = close === -1 ? n : close + 3;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9]*)/.exec(html.slice(i, i + 40));
    const next = html[i + 1];
    if (!m && next !== '!' && next !== '?' && next !== '/') {
      // A "<" that opens no tag is text.
      emit('<');
      i++;
      continue;
    }
    // The tag ends at the first ">" outside quotes; a tag left open at the end of the input is dropped.
    let j = i + 1;
    let quote = '';
    for (; j < n; j++) {
      const c = html[j];
      if (quote) {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
    }
    i = j + 1;
    if (!m) continue;
    const name = (m[2] as string).toLowerCase();
    // <br> breaks the line; a block starts and ends on a line of its own.
    if (name === 'br') newline();
    else if (blockTags.has(name) && newlines === 0) newline();
    if (m[1] !== '/' && skippedTags.has(name)) {
      const closer = new RegExp(`</${name}[\\s>/]`, 'gi');
      closer.lastIndex = i;
      const found = closer.exec(html);
      if (!found) break;
      i = found.index;
    }
  }
  let cut = out.length;
  while (cut > 0 && out[cut - 1] === '\n') cut--;
  return out.slice(0, cut);
}
