import type { PointRecord } from '../protocol/server-point.js';
import type { CollectionKind } from '../protocol/collections.js';
import type { Checkpoint, RecordedResult } from '../core/sync-key.js';

/**
 * The hub's storage contract. Every backend (SQLite now, PostgreSQL next) implements it and runs the
 * shared suite in conformance.ts.
 *
 * - `transaction(fn)` runs `fn` serializably: nothing it wrote is visible to anyone, nor durable, until
 *   the promise it returns resolves; if `fn` throws, the promise rejects with its error and nothing it
 *   wrote survives, the sequence numbers it took included (the next transaction takes them again). A
 *   transaction whose connection dies rejects the same way (a backend may first retry it, running `fn`
 *   again). Either way the store carries on. Methods are async so a networked backend fits the same
 *   shape; the SQLite backend serializes transactions in-process.
 * - Every read and write names its account, and backends put that account in every query, so no id a
 *   client sends can reach another account's rows.
 * - Each account has its own change sequence, at 0 when the account is made. `nextSeq(account)` returns
 *   `currentSeq + 1` and moves `currentSeq` there, inside the transaction. A reader never sees a change
 *   before one of a lower number that later commits: once it has seen number n, every change numbered
 *   below n is visible to it or never will be (a global sequence that transactions take numbers from and
 *   then commit in any order breaks this; a per-account counter bumped inside the transaction keeps it).
 */
export interface Store {
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Messages between the server processes on this store; absent where one process is all there is (SQLite). */
  readonly bus?: ProcessBus;
  /** Every transaction that wrote items is shown to the observer (see CommitObserver). */
  observeCommits(observer: CommitObserver): void;
  /**
   * Runs `fn` unless a run under the same name is under way, in this process or in any other process
   * on the same database: true when it ran, false when it was skipped. For periodic jobs that one process
   * at a time does (the tombstone purge; docs/operations.md § PostgreSQL). `fn` is not a transaction; it
   * opens its own. A process that dies mid-run gives the name up with its connection.
   */
  tryExclusive(name: string, fn: () => Promise<void>): Promise<boolean>;
  close(): Promise<void>;
}

/** What every backend takes when it opens. */
export interface StoreOptions {
  /**
   * The least push token the store gives any device from now on (nextPushToken, issuePushTokens); a device
   * whose counter is below it jumps to it. The server passes a floor above every token it could have issued
   * before it started, so that a database restored from a backup, whose counters went back, never gives a
   * number twice (docs/operations.md § Backups). 1: no floor.
   */
  pushTokenFloor: number;
  /**
   * SQLite: transactions queued back to back give the event loop a turn once they have kept it this many
   * ms, so that a burst of requests (thousands of phones reconnecting) does not leave sockets unread and
   * timers late until the whole queue is done. Absent: no turns (the simulator replays exactly).
   */
  turnAfterMs?: number;
}

export const noStoreOptions: StoreOptions = { pushTokenFloor: 1 };

/**
 * Hints between server processes sharing a store (docs/operations.md § PostgreSQL). A message may be lost
 * (a process restarting, a connection breaking): it only says where to look, and what it points at is in
 * the store, so a receiver that missed some looks again on `reconnected` and on a timer.
 */
export interface ProcessBus {
  publish(message: BusMessage): void;
  subscribe(handler: (message: BusMessage) => void, reconnected: () => void): void;
  close(): Promise<void>;
}

/** `from`: the process that sent it (a server's process id); the database itself sends `credentials`. */
export type BusMessage =
  /** The device has tokens its channel has not been sent: they came from another process's commit. */
  | { type: 'push'; accountId: string; deviceId: string; from: string }
  /** The device should sync (a commit too large to announce item by item, a deleted collection). */
  | { type: 'sync'; accountId: string; deviceId: string; from: string }
  /** The device's channel is now held by `from`: any other process closes its own. */
  | { type: 'replaced'; accountId: string; deviceId: string; from: string }
  /** An app password, a session or the password of the account ended: channels opened with it close. */
  | { type: 'credentials'; accountId: string };

/**
 * Told of each transaction once it ended: how long it held the database (seconds, from BEGIN to COMMIT
 * or ROLLBACK; each run of a retried one apart) and whether it committed. For the operator's metrics
 * (docs/operations.md § Metrics); it must be cheap and must not throw.
 */
export type TransactionTimer = (seconds: number, committed: boolean) => void;

/**
 * The database could not be reached, or the connection to it broke during the transaction (a restart, a
 * network failure). Nothing of the transaction is visible unless it broke during COMMIT, when whether it
 * committed is unknown; a client retrying with its sync key finds out (docs/protocol.md §5.3).
 */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
}

/**
 * Sees each transaction that wrote items. `beforeCommit` runs inside it, after its body, with the item
 * versions it wrote in order; what it writes commits (or rolls back) with them. `afterCommit` runs once
 * the transaction is durable, in commit order, with what `beforeCommit` returned; it must not throw.
 * This is how push hears of every change, from every face, only after it committed.
 */
export interface CommitObserver<P = unknown> {
  beforeCommit(tx: StoreTx, written: readonly ItemRow[]): Promise<P>;
  afterCommit(prepared: P): void;
}

/**
 * A device's open push channel, as every server process sees it: which process holds it, and which
 * collections it listens to (null: all). Commits issue tokens for every registered device, whichever
 * process holds its channel (docs/operations.md § PostgreSQL). `seenAt`: when its process last said it
 * still holds it.
 */
export interface PushChannelRow {
  accountId: string;
  deviceId: string;
  processId: string;
  /** A long-poll mailbox (the account's limit on those is counted apart), or a channel held open. */
  mailbox: boolean;
  collections: string[] | null;
  seenAt: number;
}

/**
 * A push ticket not yet used (docs/protocol.md §18.2): the hash of the ticket alone, and the credential
 * it was issued from (hub/accounts.ts Credential), which must still hold when it is used.
 */
export interface PushTicketRow {
  ticketHash: string;
  accountId: string;
  tokenId: string | null;
  sessionIdHash: string | null;
  epoch: number;
  expiresAt: number;
}

/**
 * One counter of failed secrets (docs/operations.md § The web app): its key is a hash of what it
 * counts (a client of an account, an address, an account name), never the name or address itself.
 */
export interface AuthFailureRow {
  keyHash: string;
  failures: number;
  lastAt: number;
}

/** What a push token sent to a device stands for: one version of one item. */
export interface PushTokenRow {
  token: number;
  collectionId: string;
  itemId: string;
  seq: number;
}

/** What one device is given tokens for (StoreTx.issuePushTokens). */
export interface PushTokenIssue {
  deviceId: string;
  entries: ReadonlyArray<Omit<PushTokenRow, 'token'>>;
}

export interface AccountRow {
  id: string;
  name: string;
  passwordHash: string;
  createdAt: number;
  /**
   * Raised by the store itself whenever the password hash changes, however it is changed (a database
   * trigger): what was opened with the old password checks it and ends (docs/operations.md § Credentials).
   */
  credentialEpoch: number;
  /** The address ActiveSync reports for the account (Settings UserInformation); null: none set. */
  email: string | null;
}

export interface AppTokenRow {
  id: string;
  accountId: string;
  label: string;
  secretHash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface CollectionRow {
  id: string;
  accountId: string;
  name: string;
  kind: CollectionKind;
  displayName: string;
  color: string | null;
  description: string | null;
  createdAt: number;
  /**
   * Set on the tasks collection that holds the tasks of a DAV calendar made without a component set:
   * the id of that calendar (an events collection). Deleting the calendar deletes it (docs/dav.md § Calendars made without a component set).
   */
  calendarId: string | null;
}

/** One item, live or a tombstone (`deletedAt` set, `data` null). */
export interface ItemRow {
  id: string;
  accountId: string;
  collectionId: string;
  uid: string | null;
  data: string | null;
  etag: string;
  /** Account change sequence number of the item's latest change. */
  seq: number;
  /** Sequence number of the change that created the item, and the sync point that made it. */
  createdSeq: number;
  createdBy: string | null;
  /** The sync point whose change produced this version, or null for the server itself. */
  originDevice: string | null;
  deletedAt: number | null;
  title: string;
  startMs: number | null;
  endMs: number | null;
  /** Duplicate detection keys (core/twins.ts). */
  matchName: string | null;
  contactKeys: string[];
}

/**
 * What a sync answer needs of a changed item: its pending action (core/action-table.ts) and what the
 * command carries. An initial sync reads 10,000 of them, so no column more (docs/design.md § Speed).
 */
export type ChangeRow = Pick<ItemRow, 'id' | 'data' | 'etag' | 'seq' | 'createdSeq' | 'createdBy' | 'originDevice' | 'deletedAt'>;

/** A losing version kept when a conflict was resolved, so the user can restore it. */
export interface ConflictRow {
  id: string;
  accountId: string;
  collectionId: string;
  itemId: string;
  data: string;
  /** The sync point whose version lost, and the one whose version won (null: the server). */
  lostBy: string | null;
  wonBy: string | null;
  reason: 'priority' | 'deletedElsewhere' | 'deleteLost' | 'restore';
  createdAt: number;
  restoredAt: number | null;
}

export interface DeviceRow {
  accountId: string;
  id: string;
  name: string;
  protocol: string;
  priority: number;
  createdAt: number;
  lastSeenAt: number;
  /** The app password the device last authenticated with; null for the account password or the server itself. */
  tokenId: string | null;
}

/** A signed-in browser. Only a hash of the cookie's value is stored, like any other secret. */
export interface WebSessionRow {
  idHash: string;
  accountId: string;
  /** Sent back in X-CSRF-Token with every change; the cookie alone never authorizes one. */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export interface DeviceErrorRow {
  at: number;
  status: string;
  message: string;
}

/** Changes synced with one device on one UTC day (YYYY-MM-DD). */
export interface ActivityRow {
  deviceId: string;
  day: string;
  changes: number;
}

export interface SyncStateRow {
  accountId: string;
  deviceId: string;
  collectionId: string;
  syncKey: number;
  checkpoint: Checkpoint;
  /** The key before `syncKey` and its checkpoint, so a retried exchange can be replayed. */
  previous: { syncKey: number; checkpoint: Checkpoint } | null;
  /** The key the client sent in the exchange that issued `syncKey`, and what its commands did. */
  lastSentKey: number;
  lastResults: RecordedResult[];
  /** Times (epoch ms) of recent re-initializations, for loop detection. */
  reinitTimes: number[];
  updatedAt: number;
}

export interface ChangeQuery {
  accountId: string;
  collectionId: string;
  checkpoint: Checkpoint;
  deviceId: string;
  /** Return at most this many rows. */
  limit: number;
  /** Only changes at or before this sequence number (a replay re-sends what its first answer covered). */
  untilSeq?: number;
  timeRange?: { startMs: number; endMs: number };
}

/**
 * One member of a collection as a DAV listing shows it, with no more columns than the request needs:
 * no `data` unless asked for (docs/dav.md § Streaming).
 */
export interface MemberRow {
  id: string;
  /** The name a DAV client gave the item, or null: it is served as its id and the kind's extension. */
  davName: string | null;
  etag: string;
  seq: number;
  deletedAt: number | null;
  /** The item's data when the query asked for it; null otherwise and for a tombstone. */
  data: string | null;
}

/**
 * A page of a collection's live members in id order, after `afterId` ('' for the first page): keyset
 * pagination, so each page is one short indexed read and a listing never holds the whole collection.
 */
export interface MemberQuery {
  accountId: string;
  collectionId: string;
  afterId: string;
  limit: number;
  withData: boolean;
  timeRange?: { startMs: number; endMs: number };
}

/**
 * An upstream account the hub keeps in two-way sync as a server-driven sync point (hub/upstreams.ts,
 * docs/operations.md § Upstream servers). `kind` says which connector speaks to it ('dav' or 'imap'); its
 * priority is its device's (`deviceId`, the devices table), like every sync point's.
 */
export interface UpstreamRow {
  id: string;
  accountId: string;
  kind: string;
  url: string;
  /** Where mail is sent (an IMAP upstream's SMTP submission server, smtp:// or smtps://); null for none. */
  submissionUrl: string | null;
  username: string;
  /** The password sealed with the server's secret key, bound to this account and upstream (hub/sealed-secrets.ts); never the password. */
  secret: string;
  deviceId: string;
  createdAt: number;
  /** The run state the sync run keeps: when it last ran and what failed (null: nothing), when it runs next, failures in a row. */
  lastRunAt: number | null;
  lastError: string | null;
  nextRunAt: number | null;
  failures: number;
}

export type UpstreamRunState = Pick<UpstreamRow, 'lastRunAt' | 'lastError' | 'nextRunAt' | 'failures'>;

/** Which upstream collection feeds which Syncpoint collection (where its sync run left it is its point's cursor). */
export interface UpstreamCollectionRow {
  accountId: string;
  upstreamId: string;
  /** The upstream collection's absolute URL. */
  url: string;
  collectionId: string;
}

/** A decoded mail part kept from IMAP (docs/protocol.md §10.6): the blob of its bytes, named by its item and part token. */
export interface MailPartRow {
  accountId: string;
  collectionId: string;
  itemId: string;
  /** The part token (docs/protocol.md §10.5). */
  part: string;
  /** The message it was read from (`UIDVALIDITY/UID/FOLDER`), so a row of another message is never served for the item. */
  remoteId: string;
  blobHash: string;
  bytes: number;
  /** The Content-Type it is served with, parameters included. */
  contentType: string;
  fetchedAt: number;
}

/**
 * One message an account sent, or tried to, by the client id its device gave (hub/mail.ts, docs/protocol.md
 * §10.7): written before the SMTP transaction begins, so a retried send is answered from it and never sent
 * twice. `sending`: handed to the submission server with no answer recorded (under way, or its outcome
 * unknown); `sent`: the server accepted it (`accepted`, `rejected`: the recipients it took and refused,
 * `response`: its reply); `failed`: refused or never handed over (`error` says why), so it may be tried again.
 */
export interface MailSendRow {
  accountId: string;
  clientId: string;
  state: 'sending' | 'sent' | 'failed';
  upstreamId: string;
  /** The Message-ID sent, angle brackets included. */
  messageId: string;
  /** When the last attempt began, and when the server accepted it. */
  startedAt: number;
  sentAt: number | null;
  accepted: string[];
  rejected: Array<{ address: string; reply: string }>;
  response: string | null;
  error: string | null;
  /** The Sent folder a copy was filed in; null before (or when filing failed). */
  sentFolder: string | null;
}

export interface StoreTx {
  createAccount(row: AccountRow): Promise<void>;
  findAccountByName(name: string): Promise<AccountRow | undefined>;
  getAccount(accountId: string): Promise<AccountRow | undefined>;
  /** By name. */
  listAccounts(): Promise<AccountRow[]>;
  setPassword(accountId: string, passwordHash: string): Promise<void>;
  setEmail(accountId: string, email: string | null): Promise<void>;
  /** Allocates the next number of the account's change sequence (see Store). These three throw for an account that does not exist. */
  nextSeq(accountId: string): Promise<number>;
  currentSeq(accountId: string): Promise<number>;
  /** Highest sequence number whose tombstone has been purged; older checkpoints are expired. */
  tombstoneFloor(accountId: string): Promise<number>;

  createToken(row: AppTokenRow): Promise<void>;
  getToken(tokenId: string): Promise<AppTokenRow | undefined>;
  /** Oldest first. */
  listTokens(accountId: string): Promise<AppTokenRow[]>;
  deleteToken(accountId: string, tokenId: string): Promise<boolean>;
  touchToken(accountId: string, tokenId: string, at: number): Promise<void>;

  createCollection(row: CollectionRow): Promise<void>;
  /** Oldest first, then by name. */
  listCollections(accountId: string): Promise<CollectionRow[]>;
  getCollection(accountId: string, collectionId: string): Promise<CollectionRow | undefined>;
  findCollectionByName(accountId: string, name: string): Promise<CollectionRow | undefined>;
  /** Changes a collection's display name, colour and description (its name, kind and calendar never change). */
  updateCollection(row: CollectionRow): Promise<void>;

  getItem(accountId: string, collectionId: string, itemId: string): Promise<ItemRow | undefined>;
  findLiveItemByUid(accountId: string, collectionId: string, uid: string): Promise<ItemRow | undefined>;
  /** Live items that could be twins of a new one: the same UID, or the same normalized name. */
  findTwinCandidates(accountId: string, collectionId: string, uid: string | null, matchName: string | null): Promise<ItemRow[]>;
  /**
   * Inserts or replaces the item with this id; a live version is also kept in the item's history. An id
   * held by another account or collection is an error: it throws and writes nothing.
   */
  putItem(row: ItemRow, writtenAt: number): Promise<void>;
  /**
   * Keeps a version of the item in its history only, at sequence number `seq` (from nextSeq), written by
   * `originDevice`: what a device sent when the hub stored a merge of it instead (hub/commands.ts).
   */
  putItemVersion(itemId: string, seq: number, data: string, etag: string, writtenAt: number, originDevice: string): Promise<void>;
  /** Whether the item ever held the version with this etag (kept while the item or its tombstone is, whatever the history keeps). */
  hadVersion(accountId: string, itemId: string, etag: string): Promise<boolean>;
  /**
   * The latest kept version of the item that is at or before `seq`, or that `deviceId` wrote after
   * `baseSeq` (a device holds its own writes: core/action-table.ts), if still in the history, with its
   * sequence number and writer.
   */
  getVersionHeld(accountId: string, itemId: string, deviceId: string, seq: number, baseSeq: number): Promise<{ data: string; seq: number; originDevice: string | null } | undefined>;
  /** Live items and tombstones changed after the checkpoint, oldest change first (see core/sync-key.ts), with only what a sync answer needs of each. */
  listChanges(query: ChangeQuery): Promise<ChangeRow[]>;
  /** The same rows as listChanges, as their sequence and UTF-8 data size (0 for a tombstone), without reading any data. */
  listChangeSizes(query: ChangeQuery): Promise<Array<{ seq: number; bytes: number }>>;
  /** A page of live members in id order (see MemberQuery). */
  listMembers(query: MemberQuery): Promise<MemberRow[]>;
  /** The rows of listChanges as MemberRows, data only `withData`, the DAV name joined in (no query per row). */
  listMemberChanges(query: ChangeQuery, withData: boolean): Promise<MemberRow[]>;
  /** The UTF-8 size of a live item's data, without reading it; undefined when there is no live item of that id. */
  liveItemBytes(accountId: string, collectionId: string, itemId: string): Promise<number | undefined>;
  /**
   * Drops tombstones deleted before `beforeMs` and raises the account's tombstone floor, drops history
   * versions written before it that are not an item's latest, and the push tokens of sync states the
   * new floor expired (and those issued before it for collections the device never synced); then the
   * kept mail parts of items no longer live in their collection; then the account's blobs that no kept
   * version or mail part names (mark and sweep, docs/design.md § Blobs).
   * Returns the tombstone count.
   */
  purgeTombstones(accountId: string, beforeMs: number): Promise<number>;
  /**
   * Keeps `bytes` in the account's blobs under their SHA-256 (lowercase hex), which it answers; the same
   * bytes again are not stored twice. At most limits.blobBytesMax (else it throws, storing nothing). A
   * blob lives while a row of the account names it: one nothing names is dropped by the next
   * purgeTombstones, so its writer names it in the same transaction (docs/design.md § Blobs).
   */
  putBlob(accountId: string, bytes: Uint8Array): Promise<string>;
  /** The account's blob with this hash, or undefined (another account's is never answered). */
  getBlob(accountId: string, hash: string): Promise<Uint8Array | undefined>;
  /** How many blobs the account holds, and their bytes. */
  blobUsage(accountId: string): Promise<{ count: number; bytes: number }>;

  getDevice(accountId: string, deviceId: string): Promise<DeviceRow | undefined>;
  /** Adds the device, or updates a known one's name, protocol, priority, lastSeenAt and tokenId (its createdAt stays). */
  putDevice(row: DeviceRow): Promise<void>;
  /** By priority (0 first), then oldest first. */
  listDevices(accountId: string): Promise<DeviceRow[]>;
  /** How many devices the account has, by protocol (absent: none); a new device's admission reads no rows. */
  countDevices(accountId: string): Promise<Record<string, number>>;

  /** Gives the devices priorities 0, 1, … in this order. */
  setDevicePriorities(accountId: string, orderedDeviceIds: readonly string[]): Promise<void>;
  /**
   * Forgets a device: its row, sync states, push tokens, errors and face state. Its push counter stays, so a device
   * that comes back under the same id never reuses a token number it may still hold.
   */
  deleteDevice(accountId: string, deviceId: string): Promise<boolean>;
  /** By collection id. */
  listSyncStates(accountId: string, deviceId: string): Promise<SyncStateRow[]>;
  /** How many rows listChanges would return, counting at most `query.limit`. */
  countChanges(query: ChangeQuery): Promise<number>;
  /** Records an error and keeps only the device's `keep` most recent ones. */
  addDeviceError(accountId: string, deviceId: string, error: DeviceErrorRow, keep: number): Promise<void>;
  /** Newest first. */
  listDeviceErrors(accountId: string, deviceId: string): Promise<DeviceErrorRow[]>;
  addActivity(accountId: string, deviceId: string, day: string, changes: number): Promise<void>;
  /** The account's activity on days >= `fromDay`, by day, then device. */
  listActivity(accountId: string, fromDay: string): Promise<ActivityRow[]>;
  purgeActivity(accountId: string, beforeDay: string): Promise<void>;

  createWebSession(row: WebSessionRow): Promise<void>;
  /** The session with this hash, if it has not expired at `now` (expiresAt > now). */
  getWebSession(idHash: string, now: number): Promise<WebSessionRow | undefined>;
  deleteWebSession(idHash: string): Promise<void>;
  /** Drops every session expired at `now`; returns how many. */
  purgeWebSessions(now: number): Promise<number>;
  /** Whether the client (a fingerprint, no secret) succeeded for the account at or after `since`. */
  isKnownClient(accountId: string, fingerprint: string, since: number): Promise<boolean>;
  /** Records a success of the client, keeping only the account's `keep` most recent ones. */
  rememberClient(accountId: string, fingerprint: string, at: number, keep: number): Promise<void>;
  /** Deletes it with its items, their history and DAV names, and its sync states, push tokens and conflicts. */
  deleteCollection(accountId: string, collectionId: string): Promise<boolean>;

  /** A face's own state for a device (ActiveSync's folder hierarchy, say), as the face wrote it. */
  getFaceState(accountId: string, deviceId: string, key: string): Promise<string | undefined>;
  /** Stores it, or forgets it for `undefined`. */
  putFaceState(accountId: string, deviceId: string, key: string, value: string | undefined): Promise<void>;

  addConflict(row: ConflictRow): Promise<void>;
  /** Newest first. */
  listConflicts(accountId: string): Promise<ConflictRow[]>;
  getConflict(accountId: string, conflictId: string): Promise<ConflictRow | undefined>;
  markConflictRestored(accountId: string, conflictId: string, at: number): Promise<void>;

  /** The item an earlier Add of this client id with this content landed on, if any, and whether it lost to that item's version (answered `conflict`). */
  findLedgerAdd(accountId: string, deviceId: string, collectionId: string, clientId: string, dataEtag: string): Promise<{ itemId: string; lost: boolean } | undefined>;
  recordLedgerAdd(accountId: string, deviceId: string, collectionId: string, clientId: string, dataEtag: string, itemId: string, lost: boolean): Promise<void>;
  /** The etag of the version an item whose tombstone was purged last held (kept for good, as the add ledger is). */
  purgedEtag(accountId: string, collectionId: string, itemId: string): Promise<string | undefined>;

  /** The sync key a server-driven sync point last acknowledged (0: none yet). */
  getPointKey(accountId: string, deviceId: string, collectionId: string): Promise<number>;
  setPointKey(accountId: string, deviceId: string, collectionId: string, syncKey: number): Promise<void>;
  /** The point's position at its source (protocol/server-point.ts), null before its first complete report. */
  getPointCursor(accountId: string, deviceId: string, collectionId: string): Promise<string | null>;
  setPointCursor(accountId: string, deviceId: string, collectionId: string, cursor: string): Promise<void>;
  /** The point's records of these items in the collection. */
  pointRecordsByServer(accountId: string, deviceId: string, collectionId: string, serverIds: readonly string[]): Promise<PointRecord[]>;
  /** The point's records of these remote ids, in any of its collections. */
  pointRecordsByRemote(accountId: string, deviceId: string, remoteIds: readonly string[]): Promise<Array<PointRecord & { collectionId: string }>>;
  /** The collection's records, at most `max`, by remote id: all of them, those with no remote etag (`stale`), or the displaced ones (protocol/server-point.ts `displacedId`). */
  listPointRecords(accountId: string, deviceId: string, collectionId: string, which: 'all' | 'stale' | 'displaced', max: number): Promise<PointRecord[]>;
  /** Remembers the records in order, each replacing the point's record of the same item or of the same remote id (an earlier one of the list too). */
  putPointRecords(accountId: string, deviceId: string, collectionId: string, records: readonly PointRecord[]): Promise<void>;
  deletePointRecord(accountId: string, deviceId: string, remoteId: string): Promise<void>;

  getSyncState(accountId: string, deviceId: string, collectionId: string): Promise<SyncStateRow | undefined>;
  putSyncState(row: SyncStateRow): Promise<void>;

  /** The sequence number of the collection's latest change (0 if it never had an item). */
  collectionSeq(accountId: string, collectionId: string): Promise<number>;
  /** The item a DAV client named `name` in this collection, if any. */
  findDavName(accountId: string, collectionId: string, name: string): Promise<string | undefined>;
  davNameOf(accountId: string, itemId: string): Promise<string | undefined>;
  setDavName(accountId: string, collectionId: string, name: string, itemId: string): Promise<void>;

  /** The token the device's next notification will carry: its counter, at least the store's pushTokenFloor (StoreOptions). */
  nextPushToken(accountId: string, deviceId: string): Promise<number>;
  /**
   * Gives each entry of each device the device's next token (from nextPushToken on), in order, records
   * what it stands for, and returns each device's tokens, in the order of `issues`. One call for every
   * device a commit tells (push/push-hub.ts beforeCommit): on PostgreSQL a few statements, not a round
   * trip per device.
   */
  issuePushTokens(accountId: string, issues: ReadonlyArray<PushTokenIssue>, issuedAt: number): Promise<PushTokenRow[][]>;
  getPushToken(accountId: string, deviceId: string, token: number): Promise<PushTokenRow | undefined>;
  /** The recorded tokens of this device and collection inside the ranges (sorted and disjoint: protocol/push.ts mergeRanges); unknown tokens are skipped. */
  findPushTokens(accountId: string, deviceId: string, collectionId: string, ranges: ReadonlyArray<{ from: number; to: number }>): Promise<PushTokenRow[]>;
  /** Forgets the device's tokens for changes at or before `seq`, except those in `keep`. */
  releasePushTokens(accountId: string, deviceId: string, collectionId: string, seq: number, keep: readonly number[]): Promise<void>;
  /** The device's tokens after `afterToken`, oldest first, at most `limit`: what a process sends a channel that another process's commit announced. */
  listPushTokensAfter(accountId: string, deviceId: string, afterToken: number, limit: number): Promise<PushTokenRow[]>;

  /**
   * Records the device's channel as held by `row.processId`, replacing any other registration of the
   * device. Also raises the device's push counter to the store's pushTokenFloor in the store itself, so a process
   * opened with a lower floor (earlier) never issues this device a token below the one its channel was
   * told is next.
   */
  putPushChannel(row: PushChannelRow): Promise<void>;
  /** Forgets the device's channel if `processId` still holds it. */
  deletePushChannel(accountId: string, deviceId: string, processId: string): Promise<void>;
  /** The account's channels whose process was seen at or after `seenSince`, by device id. */
  listPushChannels(accountId: string, seenSince: number): Promise<PushChannelRow[]>;
  /** Every channel `processId` holds was seen at `at` (the process is alive). Names no account: one process's maintenance. */
  touchPushChannels(processId: string, at: number): Promise<void>;

  /**
   * Stores a ticket, after forgetting the account's expired ones and, past `keepMax` live ones, its oldest,
   * so the tickets one account holds stay bounded.
   */
  putPushTicket(row: PushTicketRow, now: number, keepMax: number): Promise<void>;
  /** Takes the ticket with this hash out of the store (a ticket is used once), expired or not. Names no account. */
  takePushTicket(ticketHash: string): Promise<PushTicketRow | undefined>;
  /** Forgets the tickets of every account that expired before `now`. */
  purgePushTickets(now: number): Promise<number>;

  /**
   * The counters with these hashes that exist. On a store several processes share, each is locked until
   * the transaction ends, so parallel attempts on one counter take turns.
   */
  getAuthFailures(keyHashes: readonly string[]): Promise<AuthFailureRow[]>;
  /** Writes the counters; one at 0 failures is forgotten. */
  putAuthFailures(rows: readonly AuthFailureRow[]): Promise<void>;
  /** Forgets counters whose last failure was before `before`. */
  purgeAuthFailures(before: number): Promise<number>;

  /** Adds an upstream (its device must exist; deleting the device or the account deletes it). */
  createUpstream(row: UpstreamRow): Promise<void>;
  /** Oldest first. */
  listUpstreams(accountId: string): Promise<UpstreamRow[]>;
  getUpstream(accountId: string, upstreamId: string): Promise<UpstreamRow | undefined>;
  /** Replaces the sealed secret (a key rotation). */
  setUpstreamSecret(accountId: string, upstreamId: string, secret: string): Promise<boolean>;
  setUpstreamRunState(accountId: string, upstreamId: string, state: UpstreamRunState): Promise<boolean>;
  /** Upstreams of every account whose next run time is at or before `now` (or never set), soonest first, at most `max`. */
  listDueUpstreams(now: number, max: number): Promise<Array<{ accountId: string; id: string }>>;
  /** Upstreams of every account of this kind, oldest first, at most `max` (the IMAP upstreams a server watches). */
  listUpstreamsOfKind(kind: string, max: number): Promise<UpstreamRow[]>;
  /** Forgets the upstream and its mappings (not its device, nor the collections it fed). */
  deleteUpstream(accountId: string, upstreamId: string): Promise<boolean>;
  /** Adds the mapping (again: nothing changes). Deleting the Syncpoint collection deletes it. */
  putUpstreamCollection(row: UpstreamCollectionRow): Promise<void>;
  /** By URL, then collection id. */
  listUpstreamCollections(accountId: string, upstreamId: string): Promise<UpstreamCollectionRow[]>;

  /** The kept part of the item, if any. */
  getMailPart(accountId: string, collectionId: string, itemId: string, part: string): Promise<MailPartRow | undefined>;
  /**
   * Keeps the row (replacing the item's row for the same part); its blob is put in the same transaction.
   * A row for an item the account does not hold in that collection is not written (false). Rows go with
   * their item, and purgeTombstones forgets those of items no longer live there before it sweeps blobs.
   */
  putMailPart(row: MailPartRow): Promise<boolean>;
  /** The account's send with that client id (another account's ids are apart). */
  getMailSend(accountId: string, clientId: string): Promise<MailSendRow | undefined>;
  /** Writes the send (again: replaces it). Deleting the account deletes it. */
  putMailSend(row: MailSendRow): Promise<void>;
}
