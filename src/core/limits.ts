import { assert } from './assert.js';

/**
 * Every bound the server enforces, in one place. Units and qualifiers come last in each name.
 * The relations between them are checked when this module loads, so a bad edit fails at start-up.
 */
export const limits = {
  /** Largest request body, before and after gzip decoding. */
  requestBytesMax: 16 * 1024 * 1024,
  /** A gzip body may inflate to this many times the bytes received, once past the free allowance below. */
  gzipRatioMax: 100,
  gzipInflatedBytesFree: 1024 * 1024,
  /** A sign-in or password-change body (two passwords of up to 1,024 characters), read before anyone is known: small, and quick to arrive. */
  signInBodyBytesMax: 16 * 1024,
  signInBodyMs: 5000,
  /** Request headers must arrive within this; the server checks its connections this often. */
  headersMs: 10_000,
  connectionsCheckMs: 1000,
  /** A whole request (headers and body) must arrive within this. */
  requestMs: 120_000,
  /** Largest single vCard or iCalendar object. */
  itemBytesMax: 1024 * 1024,
  /** An item version's body this large or larger is kept in its history as a blob, stored once however many versions share it (docs/design.md § Blobs). */
  versionBlobBytesMin: 16 * 1024,
  /** Largest blob the store takes (docs/design.md § Blobs). */
  blobBytesMax: 16 * 1024 * 1024,
  /** Longest physical line inside an item, before unfolding (an unfolded PHOTO line is the usual giant). */
  itemLineBytesMax: 512 * 1024,
  /** Deepest XML element nesting accepted in a request. */
  xmlDepthMax: 16,
  /** Most items a server may send for one collection in one response. */
  windowItemsMax: 1000,
  /** Window used when the client does not send one. */
  windowItemsDefault: 100,
  /**
   * Item data one sync response carries, server commands first and then fetched items, all collections
   * together (docs/protocol.md §6, §8): past it a window ends early and a fetch is answered `deferred`.
   */
  syncResponseBytesMax: 4 * 1024 * 1024,
  /** Most client commands (add/change/delete/fetch) per collection per request. */
  commandsPerCollectionMax: 1000,
  /**
   * Most adds and changes (the commands that carry item data to check and index) in one sync request, all
   * collections together, checked before any is read: 1,000 calendar adds cost 0.5–1 s of CPU on a fresh
   * server, 200 about 90 ms. Native: 413 `bodyTooLarge` (docs/protocol.md §6); ActiveSync: Status 4, as
   * MS-ASCMD 3.1.5.10 recommends for a Sync of more than 200 commands.
   */
  itemsPerRequestMax: 200,
  /** Most push-token ranges a device may echo per collection in one sync request. */
  tokenRangesMax: 1000,
  /** Changes larger than this are pushed in two portions: the first, and the rest on request by token. */
  pushPortionBytes: 16 * 1024,
  /** Notifications a long-poll mailbox holds for a device between polls; beyond it the device must sync. */
  pollMailboxMax: 1000,
  /** Push tickets not yet used that one account holds; past it, its oldest is forgotten (docs/protocol.md §18.2). */
  pushTicketsPerAccountMax: 100,
  /** A counter of failed secrets is forgotten this long after its last failure (docs/operations.md § The web app). */
  authFailuresKeptMs: 24 * 60 * 60_000,
  /** Most collections in one sync request. */
  collectionsPerRequestMax: 64,
  /** Most recurrence instances expanded while indexing one event; beyond it the series counts as unbounded. */
  recurrenceInstancesMax: 5000,
  /**
   * Candidate dates ical.js may test (recurrence rules, time zone transitions) for one request, shared by
   * all its items: the base, plus this many per KiB of item data, up to the cap. About 2 µs each.
   * See docs/architecture.md, "Calendar content has a cost budget".
   */
  ruleStepsBase: 10_000,
  ruleStepsPerKiB: 40,
  ruleStepsRequestMax: 100_000,
  /** Steps charged for one RDATE or EXDATE value (ical.js sorts and converts them outside the rule loop), and per instance walked. */
  recurrenceDateSteps: 10,
  recurrenceInstanceSteps: 4,
  /** RDATE and EXDATE values in one item, VTIMEZONE observances included. */
  recurrenceDatesMax: 1000,
  /** RRULE and EXRULE properties in one component, and BY* values in one rule. */
  recurrenceRulesMax: 8,
  ruleByValuesMax: 400,
  /** Longest DURATION, TRIGGER or period duration in an item: 100 years (ical.js adds them month by month). */
  durationSecondsMax: 36_525 * 86_400,
  /** Deepest nesting of components in an item (VCALENDAR > VEVENT > VALARM is 3). */
  componentDepthMax: 8,
  /**
   * A VTIMEZONE observance with an RRULE is expanded by ical.js from its DTSTART to five years past the
   * latest year the item uses: the years of all such observances of one item, summed, are at most this.
   */
  timezoneRuleYearsMax: 1000,
  /** Deleted items are remembered this long so devices can learn of the delete; older sync keys must re-initialize. */
  tombstoneRetentionMs: 90 * 24 * 3600 * 1000,
  /**
   * A sync key an exchange that moves nothing keeps (docs/protocol.md §5.1) is written anew once it is this
   * old, so the position behind it stays far ahead of the tombstone purge horizon above.
   */
  idleKeyRefreshMs: 24 * 3600 * 1000,
  /** A device's last-seen time is written when it moved by at least this much, not at every exchange. */
  lastSeenResolutionMs: 60 * 1000,
  /** This many re-initializations of one (device, collection) inside the window below is reported as a loop. */
  reinitLoopCount: 3,
  reinitLoopWindowMs: 3600 * 1000,
  /** Ids sent by clients. */
  idCharsMax: 128,
  clientIdCharsMax: 256,
  /** Collection names, display names and colours. */
  nameCharsMax: 200,
  /** Most attributes on one XML element, namespace declarations included (any face). */
  xmlAttributesPerElementMax: 64,
  /** CardDAV/CalDAV (docs/dav.md § Limits): largest PROPFIND/REPORT/PROPPATCH/MKCOL body, and most XML elements in one. */
  davXmlBodyBytesMax: 1024 * 1024,
  davXmlElementsMax: 10_000,
  /** Most distinct properties one DAV request names, and the longest namespace and local name of one. */
  davPropsMax: 100,
  davPropNameCharsMax: 256,
  /** Most hrefs in one multiget; most filter elements (comp-, prop- and param-filters, text-matches, time-ranges) in one query, and the longest text-match. */
  davHrefsMax: 1000,
  davFiltersMax: 16,
  davMatchTextCharsMax: 256,
  /** Most members and bytes in one multistatus answer; beyond either, the answer is truncated with a 507. */
  davMembersMax: 100_000,
  davResponseBytesMax: 16 * 1024 * 1024,
  /** Members one store read of a DAV listing holds (docs/dav.md § Streaming): etags only, or with their data (at most itemBytesMax each). */
  davPageRows: 500,
  davPageRowsWithData: 16,
  /** ActiveSync (docs/eas.md): WBXML nodes (elements, texts, opaque data) decoded from one request. */
  easWbxmlNodesMax: 100_000,
  /** ActiveSync: deepest WBXML element nesting; the root is depth 1. */
  easWbxmlDepthMax: 32,
  /** ActiveSync: the compact part of one device's last Sync kept in the store for its next empty one (faces/eas/device-memory.ts). */
  easDeviceMemoryBytesMax: 16 * 1024,
  /** ActiveSync: children of a folder's `Supported` list (ghosting); only the class's own property names are kept. */
  easSupportedMax: 256,
  /** ActiveSync: item versions quarantined for one device (loop detection); the oldest are released first. */
  easQuarantinedMax: 1000,
  /** ActiveSync: Moves in one MoveItems request; the rest fail alone. */
  easMovesMax: 512,
  /** ActiveSync: responses one MeetingResponse request answers; each past it gets Status 4 and can be sent again (faces/eas/commands/meeting-response.ts). */
  easMeetingResponsesMax: 64,
  /** Replies to one meeting (one version of it) the server sends the organizer: each changes the user's answer. */
  easMeetingRepliesMax: 32,
  /** ActiveSync: Fetches in one ItemOperations request. */
  easOperationsMax: 512,
  /** ActiveSync: item data one ItemOperations answer carries; a Fetch past it gets Status 11 and can be asked again. */
  easFetchedBytesMax: 8 * 1024 * 1024,
  /** ActiveSync: Fetch commands of one Sync read from the store; further ones (and those past `easFetchedBytesMax`) get Status 16, retry. */
  easSyncFetchesMax: 32,
  /** ActiveSync: mail bodies one Sync or ItemOperations answer fetches whole from the mail server (faces/eas/commands/sync-mail.ts); the others are sent as the item holds them, Truncated. */
  easMailBodiesPerAnswerMax: 8,
  /** ActiveSync: the largest mail body (the message's size less its attachments) fetched whole for an answer. */
  easMailBodyBytesMax: 1024 * 1024,
  /** ActiveSync: messages one Sync answer soft-deletes as they leave the FilterType window. */
  easSoftDeletesMax: 512,
  /** ActiveSync: DstMsgIds MoveItems answered that one device's next Sync of their folder checks (faces/eas/commands/sync-mail.ts); the oldest are dropped first. */
  easMovedInMax: 512,
  /** ActiveSync: results one Search answers at most, the largest Range (MS-ASCMD gives a mailbox search 0-99). */
  easSearchResultsMax: 100,
  /** ActiveSync devices one account may have, unless configured otherwise (`easDevicesMax`). */
  easDevicesPerAccountDefault: 100,
  /**
   * Per-account defaults (docs/configuration.md § Per-account limits; the server's settings override
   * them): app passwords, collections, sync points (devices of every protocol), push channels of every
   * kind, and of those the long-poll mailboxes, which outlive their polls.
   */
  appPasswordsPerAccountMax: 100,
  collectionsPerAccountMax: 200,
  devicesPerAccountMax: 200,
  pushChannelsPerAccountMax: 50,
  pollMailboxesPerAccountMax: 20,
  /** A commit with more changes than this for one device is announced with one syncRequest instead of a notice (and a stored token) each. */
  pushNoticesPerCommitMax: 100,
  /** Longest list in any request body (no protocol list is longer), and deepest JSON nesting; checked before parsing. */
  bodyListItemsMax: 1000,
  jsonDepthMax: 16,
  /** An error body lists at most this many problems with a request body; validation stops there. */
  errorIssuesMax: 10,
  /** Longest message or path in an error body (they may quote a key the client sent). */
  errorTextCharsMax: 200,
  /**
   * Upstream CardDAV/CalDAV servers (src/connectors/dav/, docs/architecture.md § Connectors): the longest any
   * request may take, body included; the largest answer read (decoded), and the largest error body read
   * for its precondition; the redirects followed from one URL; the most XML elements in one answer and in
   * one of its `<response>`s (parsed as they arrive); the members one listing may name; the hrefs asked
   * for in one multiget (a batch whose answer is too large is split); the pages of one sync-collection
   * (507 paging); the longest `Retry-After` passed on.
   */
  upstreamRequestMs: 60_000,
  upstreamResponseBytesMax: 32 * 1024 * 1024,
  upstreamErrorBodyBytesMax: 64 * 1024,
  upstreamRedirectsMax: 5,
  upstreamXmlElementsMax: 2_000_000,
  upstreamXmlElementsPerResponseMax: 1000,
  upstreamMembersMax: 100_000,
  upstreamMultigetHrefsMax: 100,
  /** Items one report of an upstream collection carries (the rest in the next, which the same run asks for), and rounds one run makes. */
  upstreamReportItemsMax: 500,
  /** The first bytes of a message an IMAP upstream's report reads: its headers and the first portion of its text (docs/protocol.md §10.5); the rest stays on the IMAP server. */
  upstreamMailSourceBytes: 32 * 1024,
  upstreamRunRoundsMax: 100,
  /** How often each upstream runs (and up to a fifth more, spread), and the longest wait after failures in a row. */
  upstreamRunIntervalMs: 5 * 60_000,
  upstreamBackoffMaxMs: 6 * 3600_000,
  /** How often a server looks for upstreams whose run is due, and how many it runs at one look. */
  upstreamSchedulerTickMs: 15_000,
  /**
   * How long after a device wrote to an upstream's collection the upstream runs (writes close together
   * share one run), and how often a run another process held is tried again before the schedule takes over.
   */
  upstreamFollowDelayMs: 300,
  upstreamFollowTriesMax: 5,
  upstreamsPerTickMax: 50,
  /**
   * Watching IMAP upstreams for changes (src/connectors/imap/watcher.ts, src/server/mail-watchers.ts,
   * docs/operations.md § Upstream servers): the most watchers (one connection each) a server keeps, past
   * which upstreams wait for their scheduled runs; how long a change waits for others of its burst; how
   * often a quiet NOTIFY connection says NOOP (below upstreamRequestMs, the socket's timeout) and a
   * server without NOTIFY is asked LIST-STATUS for its other folders; the first and longest waits before
   * connecting again after a failure; how often the watched upstreams are compared with the stored ones;
   * how often and how long a change that met a run under way elsewhere tries again; and how many runs the
   * watchers of one server ask for at once (the others wait their turn).
   */
  mailWatchersMax: 1000,
  mailWatchDebounceMs: 50,
  mailWatchKeepaliveMs: 25_000,
  mailWatchPollMs: 30_000,
  mailWatchBackoffMs: 1000,
  mailWatchBackoffMaxMs: 5 * 60_000,
  mailWatchReconcileMs: 15_000,
  mailWatchBusyRetryMs: 500,
  mailWatchBusyRetriesMax: 120,
  mailWatchRunsMax: 4,
  /** Ids one read of a server-driven point's records names. */
  pointRecordsPerReadMax: 500,
  upstreamSyncPagesMax: 1000,
  upstreamRetryAfterSecondsMax: 24 * 3600,
  /**
   * Upstream servers an account may keep (docs/operations.md § Upstream servers) and the collections one
   * upstream may map (409 limitReached past either); the longest upstream URL, and user name or password.
   */
  upstreamsPerAccountMax: 20,
  upstreamCollectionsMax: 50,
  upstreamUrlCharsMax: 2048,
  upstreamCredentialCharsMax: 1024,
  /**
   * Mail items (docs/protocol.md §10.5), checked by the mail kind's format and met by the item builder
   * (src/content/mail/message-item.ts): addresses in one field (from, to, cc…), an address and a display
   * name, the subject, a message id (Message-ID, In-Reply-To, each reference, a Content-ID), the
   * references kept, the attachments listed, an attachment's file name and media type, a part token,
   * the flags and one flag (ASCII), the preview (characters are UTF-16 code units), and the first portion
   * of the text (UTF-8 bytes). `mailSourceBytesMax`: the most of a message's raw source the builder reads.
   */
  mailAddressesPerFieldMax: 100,
  mailAddressCharsMax: 254,
  mailDisplayNameCharsMax: 100,
  mailSubjectCharsMax: 998,
  mailIdCharsMax: 250,
  mailReferencesMax: 50,
  mailAttachmentsMax: 100,
  mailFileNameCharsMax: 255,
  mailPartCharsMax: 64,
  mailFlagsMax: 100,
  mailFlagCharsMax: 64,
  mailPreviewCharsMax: 256,
  mailBodyBytesMax: 8192,
  mailSourceBytesMax: 256 * 1024,
  /**
   * The iCalendar object of an invitation (iMIP, RFC 6047) a mail item keeps (docs/protocol.md §10.5), its
   * text/calendar part decoded (UTF-8 bytes): a larger part, or one cut off by mailSourceBytesMax, is not kept,
   * and neither is one that would take the item past itemBytesMax (content/mail/message-item.ts).
   */
  mailInvitationBytesMax: 64 * 1024,
  /**
   * The largest mail part a device fetches through the hub (docs/protocol.md §10.6), decoded: refused
   * before anything is downloaded when the part's encoded size in the message's structure says it can
   * decode to more, and cut off if it decodes to more all the same. Parts up to blobBytesMax are kept.
   */
  mailPartBytesMax: 25 * 1024 * 1024,
  /**
   * Parts of one account being read from its IMAP server at once, on one server process (each on a
   * connection of its own): past it 429, so a client fetching many leaves room under the server's
   * per-user connection limit (Dovecot allows 10) for the account's sync runs and other mail programs.
   */
  mailPartFetchesPerAccountMax: 3,
  /** Searching mail at its IMAP server (hub/mail.ts search): folders searched at once, words of one search (one IMAP SEARCH each per folder), and characters of its text. */
  mailSearchFoldersMax: 32,
  mailSearchWordsMax: 5,
  mailSearchTextCharsMax: 256,
  /**
   * Sending mail (docs/protocol.md §10.7): the largest message sent, as composed (413 past it; its base64
   * attachments in the request are a third larger, which requestBytesMax leaves room for); the longest
   * client id; the recipients of one message (To, Cc and Bcc together).
   */
  mailSendBytesMax: 10 * 1024 * 1024,
  mailSendClientIdCharsMax: 256,
  mailSendRecipientsMax: 100,
  /**
   * Sync by mail (docs/protocol.md §21): the largest request message (its size at the IMAP server, checked
   * before it is downloaded); the requests one pick-up answers (the rest wait for the next, which the
   * pick-up's own removals bring about); the Inbox messages whose subject holds the marker one pick-up
   * reads the envelope of (a subject that holds it but does not begin with it is no request); the looks one
   * pick-up takes while each is full of such messages and holds no request; the wait before a failed
   * pick-up is tried again (doubled after each failure in a row, up to mailWatchBackoffMaxMs).
   */
  mailSyncRequestBytesMax: 4 * 1024 * 1024,
  mailSyncRequestsPerPickupMax: 20,
  mailSyncLookMax: 100,
  mailSyncLooksPerPickupMax: 10,
  mailSyncPickupRetryMs: 5000,
  /** `syncpoint migrate` (docs/operations.md § Moving from SQLite): rows and bytes of one batch, each copied in one PostgreSQL transaction. */
  migrateBatchRows: 500,
  migrateBatchBytesMax: 8 * 1024 * 1024,
  /** Distinct statement texts the PostgreSQL store prepares once per connection (src/store/postgres/sql.ts); any beyond are parsed at each run. */
  postgresPreparedStatementsMax: 1000,
} as const;

/** The per-account limits a server may set (config.ts); the defaults above apply where it does not. */
export const accountLimitNames = ['appPasswordsPerAccountMax', 'collectionsPerAccountMax', 'devicesPerAccountMax', 'pushChannelsPerAccountMax', 'pollMailboxesPerAccountMax'] as const;
export type AccountLimits = Record<(typeof accountLimitNames)[number], number>;

assert(limits.itemBytesMax <= limits.requestBytesMax, 'an item must fit in a request');
assert(limits.itemsPerRequestMax <= limits.commandsPerCollectionMax, 'a request of one collection may carry all it may');
assert(limits.signInBodyBytesMax <= limits.gzipInflatedBytesFree, 'a sign-in body never needs the gzip ratio');
assert(Math.max(limits.commandsPerCollectionMax, limits.tokenRangesMax, limits.collectionsPerRequestMax) <= limits.bodyListItemsMax, 'every protocol list fits the body scan');
assert((limits.mailSendBytesMax * 4) / 3 + 64 * 1024 <= limits.requestBytesMax, 'a message of the largest size fits a send request with its attachments in base64');
assert(limits.mailSyncRequestsPerPickupMax <= limits.mailSyncLookMax, 'a pick-up looks at as many messages as it may answer');
assert(limits.mailSyncRequestBytesMax <= limits.requestBytesMax, 'a sync request by mail is no larger than one over HTTP');
assert(limits.pollMailboxesPerAccountMax <= limits.pushChannelsPerAccountMax, 'mailboxes are push channels');
assert(limits.headersMs < limits.requestMs, 'headers arrive before the request ends');
assert(limits.itemLineBytesMax <= limits.itemBytesMax, 'a line must fit in an item');
assert(limits.windowItemsDefault <= limits.windowItemsMax, 'default window within max');
assert(limits.ruleStepsBase <= limits.ruleStepsRequestMax, 'a small request gets its whole base');
assert(limits.recurrenceDatesMax * limits.recurrenceDateSteps <= limits.ruleStepsBase, 'an item with the most dates fits a request of its own');
assert(limits.itemBytesMax <= limits.syncResponseBytesMax, 'an item must fit in a sync response');
assert(limits.reinitLoopCount >= 2, 'a loop needs at least two re-initializations');
assert(limits.itemBytesMax <= limits.upstreamResponseBytesMax, 'one upstream item fits an answer');
assert(limits.mailWatchKeepaliveMs < limits.upstreamRequestMs, 'a quiet watching connection speaks before its socket times out');
assert(limits.versionBlobBytesMin <= limits.itemBytesMax && limits.itemBytesMax <= limits.blobBytesMax, 'a large item body fits a blob');
assert(limits.upstreamMembersMax * 256 <= limits.upstreamResponseBytesMax, 'a listing of the most upstream members (an href and an etag, about 200 bytes each) fits an answer');
{
  // The largest mail item the caps allow (3 UTF-8 bytes per UTF-16 unit, JSON escapes of the text, 100 bytes of keys per entry) is an item.
  const l = limits;
  const addresses = 6 * l.mailAddressesPerFieldMax * (3 * (l.mailAddressCharsMax + l.mailDisplayNameCharsMax) + 100);
  const ids = (l.mailReferencesMax + 2) * (3 * l.mailIdCharsMax + 100);
  const attachments = l.mailAttachmentsMax * (3 * (2 * l.mailFileNameCharsMax + l.mailIdCharsMax + l.mailPartCharsMax) + 100);
  const rest = 3 * l.mailSubjectCharsMax + l.mailFlagsMax * (l.mailFlagCharsMax + 4) + 3 * l.mailPreviewCharsMax + 2 * l.mailBodyBytesMax + 1000;
  assert(addresses + ids + attachments + rest <= l.itemBytesMax, 'the largest mail item fits itemBytesMax');
}
