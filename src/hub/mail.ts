import { UpstreamError } from '../connectors/errors.js';
import { limits } from '../core/limits.js';
import { parseMailItem, type MailItem } from '../content/mail/item.js';
import { limitReached, ProtocolError } from '../protocol/errors.js';
import type { Store, StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store/store.js';
import type { HubPorts } from './ports.js';
import { openUpstreamPassword, type UpstreamAccess } from './upstreams.js';

/**
 * Mail beyond its sync (docs/design.md § Mail): what the hub asks of an account's IMAP/SMTP upstream on
 * a device's behalf, through the connector the server hands in (the hub reaches no network itself).
 */

/** One part of one message, as a device asks for it (docs/protocol.md §10.6). */
export interface MailPartRequest {
  /** The folder's URL, as the upstream's mapping holds it. */
  folderUrl: string;
  /** The message, as the folder's sync point names it: `UIDVALIDITY/UID`. */
  remoteId: string;
  /** The part token of the mail item: the part's IMAP section. */
  part: string;
  /** The most bytes it may decode to (limits.mailPartBytesMax). */
  bytesMax: number;
}

/** What the gateway found: the part, decoded, or why not (it throws an UpstreamError when the server cannot be reached or refuses). */
export type MailPartFetch =
  /** Another UIDVALIDITY, or the message or the part is no longer there. */
  | { found: 'gone' }
  /** Its structure says it can decode to more than `bytesMax`: nothing was downloaded. */
  | { found: 'tooLarge'; bytesAtMost: number }
  | {
      found: 'part';
      /** Lowercase media type, and the charset its decoded bytes are in (text parts). */
      type: string;
      charset: string | null;
      /** The most bytes it decodes to, as far as its structure says (null: unknown). */
      bytesAtMost: number | null;
      /** The decoded bytes; throws past `bytesMax`. */
      content: AsyncIterable<Uint8Array>;
      /** Ends the fetch (the IMAP connection): once `content` is read, or when it is given up. */
      close(): Promise<void>;
    };

/** What the hub asks of an IMAP/SMTP upstream beyond its sync runs; the server's IMAP connector gives it (server/upstream-connector.ts). */
export interface MailGateway {
  /** One part of one message of the upstream's account. */
  fetchPart(upstream: { url: string; username: string; password: string }, request: MailPartRequest): Promise<MailPartFetch>;
}

/** A part as the native face serves it (docs/protocol.md §10.6). */
export interface MailPart {
  /** The Content-Type to serve it with, parameters included. */
  contentType: string;
  /** For an attachment's token, its file name and whether it is shown inline; null for the body and its HTML version. */
  attachment: { name: string | null; inline: boolean } | null;
  /** Whether it came from the hub's store, without asking the IMAP server. */
  kept: boolean;
  /** The whole part (kept, or small enough to keep), or a stream of it (a part over limits.blobBytesMax), which the caller reads or ends with `close`. */
  body: { bytes: Uint8Array } | { stream: AsyncIterable<Uint8Array>; close(): Promise<void> };
}

/** The IMAP upstream a mail collection is a folder of, and the folder's mapping; notFound when the collection is none. */
export async function mailFolderOf(tx: StoreTx, accountId: string, collectionId: string): Promise<{ upstream: UpstreamRow; mapping: UpstreamCollectionRow }> {
  for (const upstream of await tx.listUpstreams(accountId)) {
    if (upstream.kind !== 'imap') continue;
    const mapping = (await tx.listUpstreamCollections(accountId, upstream.id)).find((m) => m.collectionId === collectionId);
    if (mapping) return { upstream, mapping };
  }
  throw new ProtocolError('notFound', `collection ${collectionId} is no folder of a mail account`);
}

/** Which of the item's parts the token names: its body (or HTML version), an attachment, or none. */
function partOf(item: MailItem, part: string): { attachment: MailPart['attachment'] } | undefined {
  if (item.body !== null && (item.body.part === part || item.body.htmlPart === part)) return { attachment: null };
  const attachment = item.attachments.find((a) => a.part === part);
  return attachment && { attachment: { name: attachment.name, inline: attachment.inline } };
}

const mediaType = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/;
const charsetToken = /^[A-Za-z0-9!#$%&'+^_`{}~.-]{1,40}$/;

/** A Content-Type a response header can carry: the part's type (else application/octet-stream) and its charset, when both are tokens. */
export function partContentType(type: string, charset: string | null): string {
  const t = mediaType.test(type) ? type : 'application/octet-stream';
  return charset !== null && charsetToken.test(charset) ? `${t}; charset=${charset.toLowerCase()}` : t;
}

const gone = () => new ProtocolError('notFound', 'the message is no longer on the mail server');

export class Mail {
  /** Parts being read from IMAP on this process, by account (limits.mailPartFetchesPerAccountMax). */
  readonly #fetching = new Map<string, number>();

  constructor(
    protected readonly store: Store,
    protected readonly ports: HubPorts,
    protected readonly access?: UpstreamAccess,
  ) {}

  /**
   * The part of a live mail item that its token names (docs/protocol.md §10.6), decoded: from the store
   * when it was kept, else from the message's IMAP folder, and kept when it fits a blob. notFound for
   * anything the account does not hold (another account's item included, so nothing is learned of it),
   * and for a message no longer on the server; limitReached for a part over limits.mailPartBytesMax,
   * before any of it is read; unavailable when the IMAP server cannot be reached.
   */
  async fetchPart(accountId: string, collectionId: string, itemId: string, part: string): Promise<MailPart> {
    const found = await this.store.transaction(async (tx) => {
      const { upstream, mapping } = await mailFolderOf(tx, accountId, collectionId);
      const row = await tx.getItem(accountId, collectionId, itemId);
      const item = row?.data == null || row.deletedAt !== null ? undefined : parseMailItem(row.data);
      if (item === undefined || typeof item === 'string') throw new ProtocolError('notFound', `no mail item ${itemId} in collection ${collectionId}`);
      const what = partOf(item, part);
      if (!what) throw new ProtocolError('notFound', `mail item ${itemId} has no part ${part}`);
      const [record] = await tx.pointRecordsByServer(accountId, upstream.deviceId, collectionId, [itemId]);
      if (!record) throw gone();
      const kept = await tx.getMailPart(accountId, collectionId, itemId, part);
      const bytes = kept?.remoteId === record.remoteId ? await tx.getBlob(accountId, kept.blobHash) : undefined;
      if (kept && bytes) return { kept: { contentType: kept.contentType, attachment: what.attachment, kept: true, body: { bytes } } satisfies MailPart };
      return { kept: undefined, upstream, mapping, remoteId: record.remoteId, attachment: what.attachment };
    });
    if (found.kept) return found.kept;

    const access = this.access;
    if (!access?.mail) throw new ProtocolError('unavailable', 'this server reaches no mail servers');
    const { upstream } = found;
    const release = this.#startFetch(accountId);
    let fetched: MailPartFetch;
    try {
      const password = openUpstreamPassword(upstream, access.keys());
      fetched = await access.mail.fetchPart(
        { url: upstream.url, username: upstream.username, password },
        { folderUrl: found.mapping.url, remoteId: found.remoteId, part, bytesMax: limits.mailPartBytesMax },
      );
    } catch (err) {
      release();
      throw unreachable(err);
    }
    if (fetched.found !== 'part') release();
    else {
      const close = fetched.close;
      fetched.close = async () => {
        release();
        await close();
      };
    }
    if (fetched.found === 'gone') throw gone();
    if (fetched.found === 'tooLarge') {
      throw limitReached('mailPartBytesMax', limits.mailPartBytesMax, `part ${part} decodes to as many as ${fetched.bytesAtMost} bytes, more than a part fetched through this server may; read it with a mail program`);
    }
    const contentType = partContentType(fetched.type, fetched.charset);
    if (fetched.bytesAtMost === null || fetched.bytesAtMost > limits.blobBytesMax) {
      return { contentType, attachment: found.attachment, kept: false, body: { stream: fetched.content, close: fetched.close } };
    }
    // Small enough to keep: read whole, kept as a blob its row names (docs/design.md § Blobs).
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of fetched.content) chunks.push(chunk);
    } catch (err) {
      throw unreachable(err);
    } finally {
      await fetched.close();
    }
    const bytes = Buffer.concat(chunks);
    // Text converted to UTF-8 can outgrow what its structure said: served, not kept.
    if (bytes.length > limits.blobBytesMax) return { contentType, attachment: found.attachment, kept: false, body: { bytes } };
    await this.store.transaction(async (tx) => {
      const blobHash = await tx.putBlob(accountId, bytes);
      // An item deleted meanwhile takes no row; its blob, named by nothing, goes at the next purge.
      await tx.putMailPart({ accountId, collectionId, itemId, part, remoteId: found.remoteId, blobHash, bytes: bytes.length, contentType, fetchedAt: this.ports.clock.now() });
    });
    return { contentType, attachment: found.attachment, kept: false, body: { bytes } };
  }

  /** Counts a fetch from IMAP for the account, refused past limits.mailPartFetchesPerAccountMax; the answer ends it (once). */
  #startFetch(accountId: string): () => void {
    const now = this.#fetching.get(accountId) ?? 0;
    if (now >= limits.mailPartFetchesPerAccountMax) {
      throw new ProtocolError('rateLimited', `${now} parts of this account are being read from its mail server already; fetch this one when one of them is done`, {
        retryAfterSeconds: 1,
      });
    }
    this.#fetching.set(accountId, now + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#fetching.get(accountId) ?? 1) - 1;
      if (left === 0) this.#fetching.delete(accountId);
      else this.#fetching.set(accountId, left);
    };
  }
}

/** An IMAP server that could not be reached, or refused, as what a client can act on: 503, try later. */
function unreachable(err: unknown): Error {
  if (err instanceof ProtocolError) return err;
  if (err instanceof UpstreamError) return new ProtocolError('unavailable', `the mail server did not give the part: ${err.message}`, { upstreamError: err.reason });
  return err as Error;
}
