import type { MailPart } from '../../hub/mail.js';

/**
 * The bytes of a mail part (hub.mail.fetchPart) from `start` to `end` (inclusive; to its end when
 * undefined), and the part's whole size: a part kept whole is cut in memory; a streamed one (over
 * blobBytesMax) is read through, only the range kept, and ended. undefined when the range would hold
 * more than `keepMax` bytes: the stream is ended as soon as that is known.
 */
export async function partBytes(body: MailPart['body'], keepMax: number, start = 0, end?: number): Promise<{ bytes: Buffer; total: number } | undefined> {
  if ('bytes' in body) {
    const all = Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
    const bytes = all.subarray(Math.min(start, all.length), end === undefined ? undefined : Math.min(end + 1, all.length));
    return bytes.length > keepMax ? undefined : { bytes, total: all.length };
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let kept = 0;
  try {
    for await (const chunk of body.stream) {
      const from = Math.max(start - total, 0);
      const to = end === undefined ? chunk.length : Math.min(end + 1 - total, chunk.length);
      total += chunk.length;
      if (to <= from) continue;
      kept += to - from;
      if (kept > keepMax) return undefined;
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset + from, to - from));
    }
  } finally {
    await body.close();
  }
  return { bytes: Buffer.concat(chunks), total };
}
