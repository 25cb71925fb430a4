import type { MatchKeys } from '../core/twins.js';
import type { StatusCode } from '../protocol/errors.js';
import type { RuleBudget } from '../content/recurrence-budget.js';

/**
 * What a kind of item is to Syncpoint (docs/design.md § Kinds): a module the registry holds
 * (kinds/registry.ts). The hub stores, versions, merges and syncs items of any registered kind alike;
 * all it knows of their content comes through here.
 */

/** What the hub indexes of an item: the columns every item row carries, whatever its kind. */
export interface ItemIndex extends MatchKeys {
  /** The identity the item's own content carries (vCard/iCalendar UID), unique among a collection's live items; null for none. */
  uid: string | null;
  /** A short label for logs, lists and push notices. */
  title: string;
  /** Epoch ms span that date-range filters match; null bounds mean "open". Null both for kinds without one. */
  startMs: number | null;
  endMs: number | null;
}

/** `kind`: the kind the item is, one of those it was checked against. */
export type ContentCheck = { ok: true; index: ItemIndex; kind: string } | { ok: false; status: StatusCode; message: string };

/**
 * One text format that one or more kinds share (vCard; iCalendar, which holds events, tasks and notes).
 * A collection that holds several kinds (a CalDAV calendar with events and tasks) checks an item once,
 * against all of them, so they must share a format.
 */
export interface ItemFormat {
  /**
   * Whether `data` is acceptable as one of `kinds` (all of this format), and its index. The registry
   * has already refused data over limits.itemBytesMax, so the cost is bounded by that; `budget` is what
   * expanding dates may spend, shared by every item of one request.
   */
  check(kinds: readonly string[], data: string, budget: RuleBudget | undefined): ContentCheck;
  /**
   * Three-way merge of two edits made from `base` (docs/design.md § Concurrent changes): the merged
   * text, or null when both changed the same part differently (device priority then decides).
   */
  merge(base: string, incoming: string, truth: string): string | null;
  /** Whether two texts are one version written out differently (a server that re-serializes what it stores reorders lines). */
  same(a: string, b: string): boolean;
}

/** How CardDAV/CalDAV serve a kind: as an address book, or as a calendar holding one component. */
export type DavFace = { collection: 'addressbook' } | { collection: 'calendar'; component: string };

/** How Exchange ActiveSync serves a kind: its folder types (MS-ASCMD FolderSync Type) and AirSync Class. */
export interface EasFace {
  class: string;
  defaultFolderType: number;
  userFolderType: number;
  /**
   * For a kind whose folders are another server's (mail: the IMAP account's), which a device cannot make,
   * rename or delete: the folder type of each well-known folder name (lower case); the first folder of
   * each name gets it, the others are user folders. `defaultFolderType` is then unused.
   */
  namedFolders?: Readonly<Record<string, number>>;
}

export interface Kind {
  /** The name collections carry (`kind`); kinds/registry.ts says what names may be. */
  name: string;
  format: ItemFormat;
  /** The media type faces serve an item as, and the file extension of a resource or export file. */
  contentType: string;
  fileExtension: string;
  /** Whether an added item duplicates an existing one (docs/design.md § Duplicates). */
  areTwins(a: MatchKeys, b: MatchKeys): boolean;
  /** The faces beyond the native protocol (which carries every kind) that carry it; a face lists no collection of a kind it does not carry. */
  faces: { dav?: DavFace; eas?: EasFace };
  /**
   * What devices may not write, for a kind whose items only its source makes (mail: docs/protocol.md
   * §10.5); absent, they write freely. Server-driven sync points (the source itself) are never bound
   * (docs/design.md § Kinds). Each answer is the message of the `invalidItem` the command gets.
   */
  deviceWrites?: {
    /** Why a device may not add an item of this kind; absent, it may. */
    addRefused?: string;
    /** Why a device may not change the current version into `incoming` (both already checked by the format), or null when it may. */
    changeRefused?(current: string, incoming: string): string | null;
  };
}
