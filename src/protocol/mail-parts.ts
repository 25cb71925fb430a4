/**
 * What an IMAP connector answers when asked for one part of one message (docs/protocol.md §10.6), as the
 * hub's mail gateway passes it on (hub/mail.ts MailPartFetch): the part, decoded, or why not.
 */
export type MailPartAnswer =
  /** The folder's UIDVALIDITY changed, or the message or the part is no longer there. */
  | { found: 'gone' }
  /** Its structure says it can decode to more than the bound: nothing was downloaded. */
  | { found: 'tooLarge'; bytesAtMost: number }
  | {
      found: 'part';
      /** Lowercase media type, as the part's header gives it, and the charset its decoded bytes are in (text parts). */
      type: string;
      charset: string | null;
      /** The most bytes it can decode to, as far as its structure tells (null: it does not say). */
      bytesAtMost: number | null;
      /** The decoded bytes; it throws once they pass the bound. */
      content: AsyncIterable<Uint8Array>;
    };
