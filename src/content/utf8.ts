/** Cut to at most `bytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  let cut = Math.min(bytes, buf.length);
  // Step back over continuation bytes (10xxxxxx) to the start of the character the cut falls in.
  while (cut > 0 && cut < buf.length && ((buf[cut] as number) & 0xc0) === 0x80) cut--;
  return buf.subarray(0, cut).toString('utf8');
}

/** Control characters other than TAB, LF and CR, and U+FFFE and U+FFFF: XML 1.0 cannot carry them. */
const xmlControls = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/;

/**
 * Whether an item's text may hold `text`: no control character other than TAB, LF and CR, no U+FFFE or
 * U+FFFF, no unpaired surrogate. XML 1.0 cannot carry them (nor can UTF-8 store a lone surrogate byte for
 * byte), so an item a JSON client could store with one would reach no XML client (docs/protocol.md §10.1).
 * One character class and the engine's own surrogate scan: linear, and cheap on every item of a sync.
 */
export const carriedByXml = (text: string): boolean => !xmlControls.test(text) && text.isWellFormed();

/** `text` with every character XML cannot carry (see carriedByXml) replaced by U+FFFD. */
export const xmlCarriable = (text: string): string => (carriedByXml(text) ? text : text.toWellFormed().replace(new RegExp(xmlControls.source, 'g'), '\ufffd'));
