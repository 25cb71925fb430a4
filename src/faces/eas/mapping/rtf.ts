/**
 * The text of an RTF body (AirSyncBase Body Type 3, MS-ASAIRS 2.2.2.22.1): base64 of compressed RTF
 * (MS-OXRTFCP, "LZFu"), of uncompressed RTF in the same wrapper ("MELA"), or bare RTF. The hub keeps
 * bodies as plain text, so only the text survives (docs/eas.md "What maps to what"). Both steps make one
 * pass over their input; the decompressed RTF is bounded by `rtfBytesMax`, checked against the size
 * the header announces before any work and again while writing.
 */

/** MS-OXRTFCP 2.1.3.1.1: the dictionary every compressed stream starts from (207 bytes). */
const initialDictionary = Buffer.from(
  '{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx',
  'latin1',
);
const compressed = 0x75465a4c; // "LZFu"
const uncompressed = 0x414c454d; // "MELA"

/** The RTF in a compressed-RTF stream (MS-OXRTFCP 2.1.3.1), at most `bytesMax` bytes. */
export function decompressRtf(stream: Uint8Array, bytesMax: number): Buffer {
  const input = Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength);
  if (input.length < 16) throw new Error('the compressed RTF is shorter than its header');
  const rawSize = input.readUInt32LE(4);
  const type = input.readUInt32LE(8);
  if (rawSize > bytesMax) throw new Error(`the RTF would be ${rawSize} bytes, more than ${bytesMax}`);
  if (type === uncompressed) return Buffer.from(input.subarray(16, 16 + rawSize));
  if (type !== compressed) throw new Error('the RTF is neither compressed (LZFu) nor uncompressed (MELA)');
  const dictionary = Buffer.alloc(4096);
  initialDictionary.copy(dictionary);
  let write = initialDictionary.length;
  const out = Buffer.alloc(rawSize);
  let produced = 0;
  let i = 16;
  const emit = (byte: number) => {
    if (produced >= rawSize) throw new Error('the compressed RTF holds more than its header says');
    out[produced++] = byte;
    dictionary[write] = byte;
    write = (write + 1) & 0xfff;
  };
  while (i < input.length) {
    const control = input[i++] as number;
    for (let bit = 0; bit < 8 && i < input.length; bit++) {
      if ((control & (1 << bit)) === 0) {
        emit(input[i++] as number);
        continue;
      }
      if (i + 1 >= input.length) throw new Error('the compressed RTF ends inside a reference');
      const word = ((input[i] as number) << 8) | (input[i + 1] as number);
      i += 2;
      const offset = word >> 4;
      // A reference to the write position itself ends the stream.
      if (offset === write) return out.subarray(0, produced);
      const length = (word & 0xf) + 2;
      for (let k = 0; k < length; k++) emit(dictionary[(offset + k) & 0xfff] as number);
    }
  }
  return out.subarray(0, produced);
}

/** Windows-1252 in 0x80–0x9F, where it differs from Latin-1 (RTF's \'hh escapes are in the document's code page, almost always this one). */
const cp1252 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const byteChar = (b: number) => (b >= 0x80 && b < 0xa0 ? (cp1252[b - 0x80] as string) : String.fromCharCode(b));

/** Groups whose content is not text: tables, pictures, metadata, field instructions. */
const skippedDestinations = new Set([
  'fonttbl', 'colortbl', 'stylesheet', 'info', 'pict', 'object', 'objdata', 'fldinst', 'header', 'footer', 'headerl', 'headerr',
  'headerf', 'footerl', 'footerr', 'footerf', 'listtable', 'listoverridetable', 'rsidtbl', 'generator', 'themedata', 'colorschememapping',
  'datastore', 'latentstyles', 'xmlnstbl', 'mmathPr', 'filetbl', 'revtbl', 'pgdsctbl', 'footnote', 'bkmkstart', 'bkmkend',
]);
const plainRun = /[^{}\\\r\n]+/y;
const controlWord = /([a-zA-Z]{1,32})(-?\d{1,10})? ?/y;
const symbols: Record<string, string> = {
  par: '\n', line: '\n', sect: '\n', row: '\n', page: '\n', tab: '\t', cell: '\t', emdash: '\u2014', endash: '\u2013', bullet: '\u2022',
  lquote: '\u2018', rquote: '\u2019', ldblquote: '\u201c', rdblquote: '\u201d', emspace: ' ', enspace: ' ', qmspace: ' ',
};

/**
 * The text of an RTF document, in one pass: groups of skipped destinations (and `\*` ones) are dropped,
 * paragraphs and line breaks become LF, `\'hh` and `\uN` become their characters, and `\htmlrtf` runs
 * (RTF that only encapsulates HTML) are left out.
 */
export function rtfToText(rtf: string): string {
  if (!rtf.startsWith('{\\rtf')) throw new Error('the body is not RTF');
  const out: string[] = [];
  // Per open group: whether its content is skipped, and how many characters follow a \uN (\ucN).
  const stack: Array<{ skip: boolean; uc: number }> = [];
  let skip = false;
  let uc = 1;
  let htmlrtf = false;
  let pendingFallback = 0;
  const text = (s: string) => {
    if (pendingFallback > 0) {
      pendingFallback--;
      return;
    }
    if (!skip && !htmlrtf) out.push(s);
  };
  const n = rtf.length;
  let i = 0;
  while (i < n) {
    const c = rtf[i] as string;
    if (c === '{') {
      stack.push({ skip, uc });
      pendingFallback = 0;
      i++;
    } else if (c === '}') {
      const outer = stack.pop();
      if (outer) ({ skip, uc } = outer);
      pendingFallback = 0;
      i++;
    } else if (c === '\r' || c === '\n') {
      i++;
    } else if (c !== '\\') {
      // A run of plain text is taken at once; characters standing in for a \uN are dropped from its start.
      plainRun.lastIndex = i;
      const run = (plainRun.exec(rtf) as RegExpExecArray)[0];
      const dropped = Math.min(pendingFallback, run.length);
      pendingFallback -= dropped;
      if (!skip && !htmlrtf && dropped < run.length) out.push(dropped === 0 ? run : run.slice(dropped));
      i += run.length;
    } else {
      const next = rtf[i + 1];
      if (next === undefined) break;
      if (next === "'") {
        const hex = rtf.slice(i + 2, i + 4);
        i += 4;
        if (/^[0-9a-fA-F]{2}$/.test(hex)) text(byteChar(parseInt(hex, 16)));
      } else if (next === '*') {
        skip = true;
        i += 2;
      } else if (/[a-zA-Z]/.test(next)) {
        controlWord.lastIndex = i + 1;
        const m = controlWord.exec(rtf) as RegExpExecArray;
        i += 1 + m[0].length;
        const word = m[1] as string;
        const param = m[2] === undefined ? undefined : Number(m[2]);
        if (skippedDestinations.has(word)) skip = true;
        else if (word === 'u' && param !== undefined) {
          if (!skip && !htmlrtf) out.push(String.fromCharCode(param < 0 ? param + 65536 : param));
          pendingFallback = uc;
        } else if (word === 'uc' && param !== undefined) uc = Math.max(0, Math.min(param, 8));
        else if (word === 'htmlrtf') htmlrtf = param !== 0;
        else if (symbols[word] !== undefined) text(symbols[word]);
      } else {
        // Control symbols: escaped braces and backslash, non-breaking space, hyphens; \<newline> is \par.
        i += 2;
        if (next === '\\' || next === '{' || next === '}') text(next);
        else if (next === '~') text('\u00a0');
        else if (next === '_') text('-');
        else if (next === '\n' || next === '\r') text('\n');
      }
    }
  }
  return out.join('').replace(/[ \t]+$/gm, '').replace(/\n+$/, '');
}

/**
 * The text of an AirSyncBase Body Data of Type 3: base64 of (compressed) RTF, or RTF itself. Throws
 * an Error when it is neither, or the RTF inside cannot be read.
 */
export function rtfBodyText(data: string, bytesMax: number): string {
  const trimmed = data.trim();
  if (trimmed.startsWith('{\\rtf')) return rtfToText(trimmed);
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(trimmed)) throw new Error('the RTF body is not base64');
  const bytes = Buffer.from(trimmed, 'base64');
  const rtf = bytes.subarray(0, 5).toString('latin1') === '{\\rtf' ? bytes : decompressRtf(bytes, bytesMax);
  return rtfToText(rtf.toString('latin1'));
}
