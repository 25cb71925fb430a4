import type { ImapFlow } from 'imapflow';
import { rawPart } from '../../content/mail/item.js';
import type { BodyStructure } from '../../content/mail/mime.js';
import type { MailPartAnswer } from '../../protocol/mail-parts.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';
import { uidIn } from './remote-ids.js';
import { problemOf, type ImapClient, type ImapSession } from './session.js';

/**
 * One part of one message, fetched from its IMAP folder on a device's request (docs/protocol.md §10.6):
 * the message's structure is read first, so a part whose encoded size says it can decode to more than
 * the caller allows is refused before any of it is downloaded; then the part is downloaded (BODY.PEEK in
 * chunks, which leaves \Seen alone) and decoded from its transfer encoding by imapflow, a text part to
 * UTF-8 where its charset is known. The bytes are counted as they come, and past the bound the download
 * fails rather than ending short. The whole message (`raw`) is downloaded as the server holds it
 * (BODY.PEEK[]), not decoded, and bounded by its size (RFC822.SIZE).
 */

export interface PartRequest {
  /** The folder's path on the server. */
  path: string;
  /** The message, as its sync point names it: `UIDVALIDITY/UID/FOLDER` (remote-ids.ts). */
  remoteId: string;
  /** The part's IMAP section, as the mail item names it, or `raw` (rawPart): the whole message. */
  part: string;
  bytesMax: number;
}

/** The node of the structure that is IMAP section `part` (a single-part message's body is section "1"). */
export function partNode(structure: BodyStructure, part: string): BodyStructure | undefined {
  const stack = [structure];
  while (stack.length > 0) {
    const node = stack.pop() as BodyStructure;
    const section = node.part ?? (node.type.startsWith('multipart/') ? undefined : '1');
    if (section === part) return node;
    for (const child of node.childNodes ?? []) stack.push(child);
  }
  return undefined;
}

/** The most bytes a part decodes to, from its encoded size: base64 carries 3 bytes in 4 characters, other encodings never grow. */
export function decodedBytesAtMost(node: BodyStructure): number | null {
  if (node.size === undefined) return null;
  return node.encoding?.toLowerCase() === 'base64' ? Math.ceil((node.size * 3) / 4) : node.size;
}

/** A client that downloads parts: imapflow's (the simulator's IMAP server syncs folders only). */
const downloads = (client: ImapClient): client is ImapClient & Pick<ImapFlow, 'download'> => typeof (client as Partial<ImapFlow>).download === 'function';

/** Fetches the part with `session` (which the caller closes once `content` is read or given up). */
export async function fetchPart(session: ImapSession, request: PartRequest): Promise<MailPartAnswer> {
  const host = new URL(session.url).host;
  const client = await session.client();
  if (!downloads(client)) throw new UpstreamError('protocol', `the IMAP client of ${host} cannot download parts`);
  let node: BodyStructure | undefined;
  let size: number | undefined;
  let uid: number | undefined;
  try {
    // Read-only: a fetch changes nothing in the folder.
    const box = await client.mailboxOpen(request.path, { readOnly: true });
    uid = uidIn(request.remoteId, request.path, String(box.uidValidity));
    if (uid === undefined) return { found: 'gone' };
    const message = await client.fetchOne(String(uid), { uid: true, bodyStructure: true, size: true }, { uid: true });
    node = message && message.bodyStructure ? partNode(message.bodyStructure, request.part) : undefined;
    size = message ? message.size : undefined;
  } catch (err) {
    throw problemOf(err, host);
  }
  const raw = request.part === rawPart;
  if (raw ? size === undefined : node === undefined) return { found: 'gone' };
  // The whole message is not decoded: its size (RFC822.SIZE) is its length.
  const bytesAtMost = raw ? (size as number) : decodedBytesAtMost(node as BodyStructure);
  if (bytesAtMost !== null && bytesAtMost > request.bytesMax) return { found: 'tooLarge', bytesAtMost };
  let download: Awaited<ReturnType<typeof client.download>>;
  try {
    // One byte past the bound, so a part that decodes to more is seen to, not cut to fit.
    download = await client.download(String(uid), raw ? undefined : request.part, { uid: true, maxBytes: request.bytesMax + 1 });
  } catch (err) {
    throw problemOf(err, host);
  }
  if (!download.content) return { found: 'gone' };
  const stream = download.content;
  const meta = download.meta;
  async function* content(): AsyncGenerator<Uint8Array> {
    let bytes = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > request.bytesMax) throw new Error(`part ${request.part} decodes to more than ${request.bytesMax} bytes`);
        yield chunk;
      }
    } catch (err) {
      throw problemOf(err, host);
    } finally {
      stream.destroy();
    }
  }
  return { found: 'part', type: (meta.contentType ?? (raw ? 'message/rfc822' : (node as BodyStructure).type)).toLowerCase(), charset: meta.charset ?? null, bytesAtMost, content: content() };
}
