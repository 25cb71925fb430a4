/** Cut to at most `bytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  let cut = Math.min(bytes, buf.length);
  // Step back over continuation bytes (10xxxxxx) to the start of the character the cut falls in.
  while (cut > 0 && cut < buf.length && ((buf[cut] as number) & 0xc0) === 0x80) cut--;
  return buf.subarray(0, cut).toString('utf8');
}
