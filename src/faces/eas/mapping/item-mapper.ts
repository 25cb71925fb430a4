import type { WbxmlElement } from '../wbxml/element.js';

/**
 * Converts between the hub's items (vCard for contacts, iCalendar for events, tasks and notes) and the
 * ActiveSync schemas (MS-ASCNTC, MS-ASCAL, MS-ASTASK, MS-ASNOTE), one mapper per collection kind.
 *
 * `toEas` builds the children of a Sync `ApplicationData` (or an ItemOperations `Properties`) element.
 * `fromEas` builds a hub item from the `ApplicationData` a client sent. For a Change, `existing` is the
 * hub's current item: every property and component that ActiveSync cannot carry is kept from it
 * untouched, and every field ActiveSync does carry is taken from the client (a field the client left
 * out is removed, as MS-ASCMD says for Change without ghosting).
 */
export interface ItemMapper {
  toEas(data: string, options: ToEasOptions): WbxmlElement[];
  fromEas(applicationData: WbxmlElement, existing: string | undefined, context: FromEasContext): string;
}

/** The protocol version the client negotiated, e.g. "14.1" or "16.1" (MS-ASProtocolVersion header). */
export type EasVersion = '14.0' | '14.1' | '16.0' | '16.1';

export interface BodyPreference {
  /** AirSyncBase Type: 1 plain text, 2 HTML, 3 RTF, 4 MIME. */
  type: number;
  /** Truncate the body to this many bytes (Truncated=1 and EstimatedDataSize tell the client). */
  truncationSize?: number;
  /** AllOrNone (MS-ASAIRS 2.2.2.3): a body that would be cut is sent without its Data. Mail only. */
  allOrNone?: boolean;
  /** Preview (MS-ASAIRS 2.2.2.37, 14.0 and later): at most this many characters of preview text. Mail only. */
  preview?: number;
  /**
   * Mail, Type 4 only: MIMESupport (MS-ASCMD 2.2.3.110), 1 for S/MIME messages only, 2 for every
   * message (0 or absent: no MIME), and the preference the device listed after its Type 4 one, for the
   * messages it does not get as MIME (none listed: Type 1).
   */
  mime?: { support: number; otherwise: BodyPreference | undefined };
}

/**
 * A mail item's whole body part, fetched because the device asked for more than the item holds, or the
 * whole message as the IMAP server holds it, for a device that asked for MIME (sync-mail.ts wholeBodies).
 */
export type WholeBody = { type: 'text/plain' | 'text/html'; text: string } | { type: 'message/rfc822'; bytes: Uint8Array };

export interface ToEasOptions {
  version: EasVersion;
  /** From Sync Options or ItemOperations; absent: plain text, whole. */
  bodyPreference?: BodyPreference;
  /** Mail, 14.1 and later: the BodyPartPreference (MS-ASAIRS 2.2.2.11; Type 2 only), which asks for the message part too. */
  bodyPartPreference?: BodyPreference;
  /** Where the item is, for references to its parts (a mail attachment's FileReference). */
  item?: { collectionId: string; serverId: string };
  /** For mail: the body part or the message fetched whole, when it was (sync-mail.ts wholeBodies). */
  wholeBody?: WholeBody;
}

export interface FromEasContext {
  version: EasVersion;
  /** For a new item without a UID of its own. */
  newUid(): string;
  /** Epoch milliseconds, for DTSTAMP and similar. */
  now: number;
}
