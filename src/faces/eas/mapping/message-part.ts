import { escapeHtml } from './body.js';

/**
 * The message part of a message (MS-ASCON 2.2.2.1; the AirSyncBase BodyPart of MS-ASAIRS 2.2.2.10): what
 * its sender wrote, without the earlier messages it quotes, as HTML, the one type a BodyPart has
 * (docs/eas.md § Mail, BodyPart). The hub keeps no conversation to compare a message with, so the quote
 * is found by the marks mail programs leave where it starts:
 * - in HTML, the first `<blockquote type="cite">` (Thunderbird, Apple Mail, Evolution, this server's own
 *   SmartReply), `<div class="gmail_quote">` (Gmail) or `<div class="moz-cite-prefix">` (Thunderbird's
 *   "On … wrote:" line before its blockquote), and everything after it;
 * - in text, the first line that begins with `>` and everything after it, with the line before it when
 *   that one ends in `wrote:`, and a line `-----Original Message-----` (Outlook) and everything after it.
 * The text left is escaped and its lines joined with `<br>`. One pass over the input; a message with no
 * such mark is its own message part whole.
 */
export interface MessagePart {
  html: string;
  /** A quote was found and left out: the part ends before it, even where the body the hub holds is a first portion. */
  cut: boolean;
}

const htmlMarks = ['<blockquote type="cite"', "<blockquote type='cite'", '<div class="gmail_quote"', '<div class="moz-cite-prefix"'];

export function messagePart(body: { type: 'text/plain' | 'text/html'; text: string }): MessagePart {
  if (body.type === 'text/html') {
    // ASCII lowering keeps every index of `lower` an index of the text.
    const lower = body.text.replace(/[A-Z]+/g, (c) => c.toLowerCase());
    const at = Math.min(...htmlMarks.map((m) => lower.indexOf(m)).filter((i) => i >= 0));
    return Number.isFinite(at) ? { html: body.text.slice(0, at), cut: true } : { html: body.text, cut: false };
  }
  const lines = body.text.split(/\r\n|\r|\n/);
  let end = lines.findIndex((line) => line.startsWith('>') || line.trim() === '-----Original Message-----');
  const cut = end >= 0;
  if (!cut) end = lines.length;
  else if (end > 0 && lines[end]?.startsWith('>') && /wrote:\s*$/.test(lines[end - 1] ?? '')) end--;
  const kept = lines.slice(0, end);
  while (kept.length > 0 && kept[kept.length - 1]?.trim() === '') kept.pop();
  return { html: kept.map(escapeHtml).join('<br>\r\n'), cut };
}
