import { truncateUtf8 } from '../content/utf8.js';
import { limits, type AccountLimits } from '../core/limits.js';
import type { Accounts, Credential } from '../hub/accounts.js';
import { noMetrics, type Metrics } from '../hub/metrics.js';
import type { Logger } from '../hub/ports.js';
import { channelKinds, type Channel, type ChannelKind } from '../hub/push-channel.js';
import type { PushFanout, PushTokens, IssueTokens, RegisteredChannels } from '../hub/push-tokens.js';
import type { BusMessage, ItemRow } from '../hub/records.js';
import { limitReached } from '../protocol/errors.js';
import { pushCloseCodes, type ChangeNotice, type Remainder } from '../protocol/push.js';
import type { ServerCommand } from '../protocol/sync.js';
import { LongPollChannel } from './long-poll-channel.js';

/**
 * Push (docs/design.md § Push notices). The hub shows every committed change to this fan-out (hub/push-tokens.ts); inside the
 * committing transaction each other connected device of the account gets a token for it (so the
 * token, the change and what the token stands for commit together), and once the commit is durable
 * the change itself goes out on the device's channel. Nothing here reads the database to find
 * changes: channels are woken by the commit.
 *
 * A notice can be lost on the way. That costs nothing: the device echoes the tokens it applied in
 * its next sync, and the sync sends every change whose token did not come back (hub/sync.ts).
 */

interface Delivery {
  channel: Channel;
  /** A change, or (for a commit too large to announce item by item) a request to sync. */
  message: ChangeNotice | { type: 'syncRequest' };
}

/** An account's other channels, as the limits count them (admitAmong). */
interface Others {
  count: number;
  mailboxes(): number;
}

const listed = (rows: ReadonlyArray<{ mailbox: boolean }>): Others => ({ count: rows.length, mailboxes: () => rows.filter((c) => c.mailbox).length });

/** What a commit has for devices: notices for channels here, hints for those another process holds. */
interface Prepared {
  deliveries: Delivery[];
  /** Channels here told which of their collections changed (Channel.changed). */
  changes: Array<{ channel: Channel; collectionIds: string[] }>;
  hints: BusMessage[];
}

/**
 * Registrations whose process has not said it is alive for this long (or ten heartbeats, if longer) are
 * left out of fan-out: its process died (docs/operations.md § PostgreSQL). Long, because a registration
 * left out gets no tokens, and a database that was down for a while stopped every process saying so;
 * one kept too long only costs tokens for a device that will sync them away.
 */
const staleAfterMs = 5 * 60_000;
const staleAfterHeartbeats = 10;
/** Tokens a catch-up reads per transaction. */
const catchUpPage = 100;

export interface PushHubOptions {
  heartbeatMs: number;
  /** Changes larger than this many bytes are split: the notice carries the first portion. */
  portionBytes?: number;
  /** The server's per-account limits on channels and mailboxes; core/limits.ts's defaults where absent. */
  accountLimits?: Pick<AccountLimits, 'pushChannelsPerAccountMax' | 'pollMailboxesPerAccountMax'>;
  /**
   * Changes when another process commits to the store (sqlite-store.ts foreignWrites). Read every
   * `foreignWritesCheckMs`; when it moved (the CLI revoked a token or changed a password), every
   * channel's credential is checked at once instead of at the next heartbeat.
   */
  foreignWrites?: () => number;
  /** Counts the notices and requests to sync handed to channels (docs/operations.md § Metrics). */
  metrics?: Metrics;
}

/** How often the store is asked whether another process wrote to it: the delay before a CLI revocation closes channels. */
export const foreignWritesCheckMs = 500;

export class PushHub implements PushFanout<Prepared> {
  /** accountId -> deviceId -> the device's one active channel. */
  private readonly channels = new Map<string, Map<string, Channel>>();
  /** What each channel was opened with: it closes when that credential ends (hub/accounts.ts Credential). */
  private readonly credentialOf = new WeakMap<Channel, Credential>();
  private readonly portionBytes: number;
  private timer: NodeJS.Timeout | undefined;
  private foreignTimer: NodeJS.Timeout | undefined;
  private foreignSeen = 0;
  private connected = 0;
  /** Channels a catch-up runs for now, and those that heard of more tokens while it ran. */
  private readonly catchingUp = new Set<Channel>();
  private readonly catchUpAgain = new Set<Channel>();
  /**
   * Resumed mailboxes and the last token issued before they registered: once a catch-up has read every
   * token up to it, the mailbox counts as sent up to it, those released or gone included.
   */
  private readonly resumedTo = new WeakMap<Channel, number>();
  private readonly metrics: Metrics;

  constructor(
    private readonly tokens: PushTokens,
    private readonly logger: Logger,
    /** Revocations and password changes made in this process close their channels at once. */
    private readonly accounts: Accounts,
    readonly options: PushHubOptions,
  ) {
    this.portionBytes = options.portionBytes ?? limits.pushPortionBytes;
    this.metrics = options.metrics ?? noMetrics;
    tokens.observe(this);
    accounts.onTokenRevoked((tokenId) => this.closeToken(tokenId));
    accounts.onSessionEnded((idHash) => this.closeSession(idHash));
    accounts.onPasswordChanged((accountId) => void this.closeLapsed((channel) => channel.accountId === accountId));
    accounts.onCollectionDeleted((accountId, collectionIds) =>
      void this.askToSync(accountId, collectionIds).catch((err: unknown) => this.logger.warn({ err }, 'asking devices to sync failed')),
    );
    tokens.subscribe(
      (message) => this.heard(message),
      () => {
        // Listening again after a gap: whatever was announced meanwhile is in the store.
        for (const channel of this.localChannels()) void this.catchUp(channel);
        void this.closeLapsed(() => true);
      },
    );
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.options.heartbeatMs);
    this.timer.unref();
    const foreignWrites = this.options.foreignWrites;
    if (foreignWrites && !this.foreignTimer) {
      this.foreignSeen = foreignWrites();
      this.foreignTimer = setInterval(() => {
        const seen = foreignWrites();
        if (seen === this.foreignSeen) return;
        this.foreignSeen = seen;
        void this.closeLapsed(() => true);
      }, foreignWritesCheckMs);
      this.foreignTimer.unref();
    }
  }

  /** Connected channels right now. */
  get size(): number {
    return this.connected;
  }

  /** Connected channels right now, by what holds them open; counted when asked (a metrics scrape). */
  sizeByKind(): Record<ChannelKind, number> {
    const out = Object.fromEntries(channelKinds.map((kind) => [kind, 0])) as Record<ChannelKind, number>;
    for (const channel of this.localChannels()) out[channel.kind]++;
    return out;
  }

  /**
   * Makes `channel` its device's active channel, closing the one it replaces, and returns the token
   * the next notice will carry. Runs as a store transaction so no commit can issue a token between
   * reading the counter and the channel becoming visible to fan-out. `credential`: what the channel was
   * opened with; it is checked in the same transaction, so a credential that ended while the request
   * was on its way opens nothing. The account's limits are checked in it too, against every process's
   * channels (limitReached). `resumeAfter`: a long-poll's acknowledged token; the new mailbox starts with
   * the device's notices after it that the store still holds (docs/protocol.md §18.4), so a mailbox that
   * moved to this process loses nothing.
   */
  async register(channel: Channel, credential?: Credential, resumeAfter?: number): Promise<number> {
    if (credential !== undefined) this.credentialOf.set(channel, credential);
    const mailbox = channel instanceof LongPollChannel;
    const { accountId, deviceId } = channel;
    const nextToken = await this.tokens.register({ accountId, deviceId, collections: channel.collections, mailbox }, credential, this.seenSince(), (nextToken, others) => {
      // Admitted and added with no await between: concurrent registrations here cannot all pass the count,
      // and on a shared store the account's turn (one transaction at a time) orders those of every process.
      this.admitAmong(others ? listed(others) : this.localBesides(accountId, deviceId), mailbox);
      let devices = this.channels.get(accountId);
      if (!devices) this.channels.set(accountId, (devices = new Map()));
      const old = devices.get(deviceId);
      devices.set(deviceId, channel);
      // A transaction run again (a serialization failure) registers the same channel a second time.
      if (old && old !== channel) old.close(pushCloseCodes.replaced, 'a newer channel for this device took over');
      else if (!old) this.connected++;
      const last = nextToken - 1;
      const resumed = resumeAfter !== undefined && resumeAfter < last;
      channel.lastToken = resumed ? Math.max(resumeAfter, last - limits.pollMailboxMax) : last;
      if (resumed) this.resumedTo.set(channel, last);
    });
    if (nextToken === undefined) throw new CredentialEnded();
    // Another process that held this device's channel closes it.
    if (this.tokens.shared) this.tokens.publish({ type: 'replaced', accountId, deviceId, from: this.tokens.processId });
    if (channel.lastToken < nextToken - 1) await this.catchUp(channel);
    return nextToken;
  }

  /**
   * Throws limitReached unless the account has room for one more channel (a `mailbox` one, if so) for
   * this device: a device's new channel replaces its old one, so it never needs room of its own. Each
   * channel costs a token row per change (beforeCommit), so the limits bound what a commit writes. Asked
   * before a channel is set up, so a refusal is a plain HTTP answer; registration checks again.
   */
  async admit(accountId: string, deviceId: string, mailbox: boolean): Promise<void> {
    const registered = await this.tokens.registered(accountId, this.seenSince());
    const others = registered?.filter((c) => c.deviceId !== deviceId);
    this.admitAmong(others ? listed(others) : this.localBesides(accountId, deviceId), mailbox);
  }

  private admitAmong(others: Others, mailbox: boolean): void {
    const channelsMax = this.options.accountLimits?.pushChannelsPerAccountMax ?? limits.pushChannelsPerAccountMax;
    if (others.count >= channelsMax) throw limitReached('pushChannelsPerAccountMax', channelsMax, 'the account has as many push channels open as it may');
    const mailboxesMax = this.options.accountLimits?.pollMailboxesPerAccountMax ?? limits.pollMailboxesPerAccountMax;
    if (mailbox && others.mailboxes() >= mailboxesMax) {
      throw limitReached('pollMailboxesPerAccountMax', mailboxesMax, 'the account has as many long-poll mailboxes as it may; an unpolled one closes after two minutes');
    }
  }

  /**
   * The account's channels in this process, but for `deviceId`'s; counted without a copy, since a
   * server holding thousands of an account's Pings registers each of them.
   */
  private localBesides(accountId: string, deviceId: string): Others {
    const devices = this.channels.get(accountId) ?? new Map<string, Channel>();
    return {
      count: devices.size - (devices.has(deviceId) ? 1 : 0),
      mailboxes: () => [...devices].filter(([id, c]) => id !== deviceId && c instanceof LongPollChannel).length,
    };
  }

  /** Registrations whose process said it was alive before this are left out (staleAfterMs). */
  private seenSince(): number {
    return this.tokens.now() - Math.max(staleAfterMs, staleAfterHeartbeats * this.options.heartbeatMs);
  }

  /** Forgets the channel if it is still its device's active one, here and in the registry all processes share. */
  unregister(channel: Channel): void {
    if (!this.drop(channel) || !this.tokens.shared) return;
    const { accountId, deviceId } = channel;
    this.tokens.forget(accountId, deviceId, () => this.active(accountId, deviceId) === undefined).catch((err: unknown) => this.logger.warn({ err }, 'forgetting a push channel failed'));
  }

  /** Forgets the channel here only; false if it was not its device's active one. */
  private drop(channel: Channel): boolean {
    const devices = this.channels.get(channel.accountId);
    if (devices?.get(channel.deviceId) !== channel) return false;
    devices.delete(channel.deviceId);
    this.connected--;
    if (devices.size === 0) this.channels.delete(channel.accountId);
    return true;
  }

  active(accountId: string, deviceId: string): Channel | undefined {
    return this.channels.get(accountId)?.get(deviceId);
  }

  /**
   * Asks every connected device of the account to sync now, or only those that subscribed to one of
   * `collectionIds`, whichever process holds its channel; returns how many were asked.
   */
  async askToSync(accountId: string, collectionIds?: readonly string[]): Promise<number> {
    const wanted = (collections: ReadonlySet<string> | null) => !collectionIds || !collections || collectionIds.some((id) => collections.has(id));
    const devices = [...(this.channels.get(accountId)?.values() ?? [])].filter((channel) => wanted(channel.collections));
    for (const channel of devices) this.deliver(channel, { type: 'syncRequest' });
    const me = this.tokens.processId;
    const elsewhere = (await this.tokens.registered(accountId, this.seenSince()))?.filter((c) => c.processId !== me && wanted(c.collections && new Set(c.collections))) ?? [];
    for (const c of elsewhere) this.tokens.publish({ type: 'sync', accountId, deviceId: c.deviceId, from: me });
    return devices.length + elsewhere.length;
  }

  /** Closes the device's channel (the device was forgotten). */
  disconnect(accountId: string, deviceId: string): void {
    const channel = this.active(accountId, deviceId);
    if (!channel) return;
    this.unregister(channel);
    channel.close(pushCloseCodes.revoked, 'the device was revoked');
  }

  /** Closes every channel opened with this app token. */
  closeToken(tokenId: string): void {
    this.closeWhere((channel) => channel.tokenId === tokenId, 'the app token was revoked');
  }

  /** Closes every channel opened from this web session (signed out, or expired). */
  closeSession(idHash: string): void {
    this.closeWhere((channel) => this.credentialOf.get(channel)?.sessionIdHash === idHash, 'the session ended');
  }

  /** Closes the channels `which` selects whose credential no longer holds (checked in one transaction). */
  private async closeLapsed(which: (channel: Channel) => boolean): Promise<void> {
    const checked = new Map<Channel, Credential>();
    for (const devices of this.channels.values()) {
      for (const channel of devices.values()) {
        const credential = this.credentialOf.get(channel);
        if (credential && which(channel)) checked.set(channel, credential);
      }
    }
    if (checked.size === 0) return;
    try {
      const lapsed = new Set(await this.accounts.lapsed(new Set(checked.values())));
      for (const [channel, credential] of checked) {
        if (!lapsed.has(credential) || this.active(channel.accountId, channel.deviceId) !== channel) continue;
        this.unregister(channel);
        channel.close(pushCloseCodes.revoked, 'the credentials it was opened with ended');
      }
    } catch (err) {
      this.logger.warn({ err }, 'checking push channel credentials failed');
    }
  }

  private closeWhere(match: (channel: Channel) => boolean, reason: string): void {
    for (const devices of [...this.channels.values()]) {
      for (const channel of [...devices.values()]) {
        if (!match(channel)) continue;
        this.unregister(channel);
        channel.close(pushCloseCodes.revoked, reason);
      }
    }
  }

  /**
   * Tokens for every device with an open channel, whichever process holds it (the registry, when
   * processes share the store; this process's channels otherwise). Channels here get their notices after
   * the commit; a device whose channel another process holds gets a hint, and that process reads the
   * tokens from the store (catchUp).
   */
  async beforeCommit(written: readonly ItemRow[], issue: IssueTokens, registered: RegisteredChannels): Promise<Prepared> {
    const prepared: Prepared = { deliveries: [], changes: [], hints: [] };
    const me = this.tokens.processId;
    for (const [accountId, rows] of groupByAccount(written)) {
      // The collections a held Ping is told of, by its folder set: the holds watching the same folders share
      // one set (faces/eas/holds.ts), and but for a device that made a change itself all of them hear the same.
      const pingsTold = new Map<ReadonlySet<string> | null, string[]>();
      const local = this.channels.get(accountId);
      const devices = this.tokens.shared
        ? await registered(accountId, this.seenSince())
        : [...(local?.keys() ?? [])].map((deviceId) => ({ deviceId, processId: me, collections: null }));
      // Who is told of what, gathered first: one call issues every device's tokens.
      const told: Array<{ deviceId: string; channel: Channel | undefined; wanted: ItemRow[] }> = [];
      for (const device of devices) {
        // Registered here but closed since: nothing to announce to.
        const channel = device.processId === me ? local?.get(device.deviceId) : undefined;
        if (device.processId === me && !channel) continue;
        // A channel here knows what it listens to; another process's is read from its registration.
        const listens = channel ? channel.collections : device.collections && new Set(device.collections);
        // The device that made a version has it; a version the server made (a merge) goes to everyone.
        const wants = (r: ItemRow) => r.originDevice !== device.deviceId && (listens?.has(r.collectionId) ?? true);
        // A held Ping is told which of its collections changed, whatever the commit's size; it needs no token.
        if (channel?.changed) {
          const shared = !rows.some((r) => r.originDevice === device.deviceId);
          let collectionIds = shared ? pingsTold.get(listens) : undefined;
          if (!collectionIds) collectionIds = [...new Set(rows.filter(wants).map((r) => r.collectionId))];
          if (shared) pingsTold.set(listens, collectionIds);
          if (collectionIds.length > 0) prepared.changes.push({ channel, collectionIds });
          continue;
        }
        const wanted = rows.filter(wants);
        if (wanted.length === 0) continue;
        // A bulk commit is one request to sync, not a notice and a stored token per change per device.
        if (wanted.length > limits.pushNoticesPerCommitMax) {
          if (channel) prepared.deliveries.push({ channel, message: { type: 'syncRequest' } });
          else prepared.hints.push({ type: 'sync', accountId, deviceId: device.deviceId, from: me });
          continue;
        }
        told.push({ deviceId: device.deviceId, channel, wanted });
      }
      if (told.length === 0) continue;
      const issued = await issue(
        accountId,
        told.map(({ deviceId, wanted }) => ({ deviceId, changes: wanted.map((r) => ({ collectionId: r.collectionId, itemId: r.id, seq: r.seq })) })),
      );
      // One command per version, however many devices hear of it, so it is also encoded once (protocol/push.ts encodePushMessage).
      const commands = new Map<ItemRow, ServerCommand>();
      told.forEach(({ deviceId, channel, wanted }, d) => {
        if (!channel) {
          prepared.hints.push({ type: 'push', accountId, deviceId, from: me });
          return;
        }
        wanted.forEach((row, i) => {
          let command = commands.get(row);
          if (!command) commands.set(row, (command = this.commandOf(row)));
          const token = (issued[d] as number[])[i] as number;
          prepared.deliveries.push({ channel, message: { type: 'change', token, collectionId: row.collectionId, seq: row.seq, command } });
        });
      });
    }
    return prepared;
  }

  afterCommit({ deliveries, changes, hints }: Prepared): void {
    for (const { channel, collectionIds } of changes) {
      if (this.active(channel.accountId, channel.deviceId) !== channel) continue;
      channel.changed?.(collectionIds);
      this.metrics.pushNotice();
    }
    for (const { channel, message } of deliveries) {
      // A channel replaced or closed since its tokens were issued: the device learns by syncing.
      if (this.active(channel.accountId, channel.deviceId) !== channel) continue;
      if (message.type === 'change') {
        // A catch-up already sent it.
        if (message.token <= channel.lastToken) continue;
        // Tokens issued before this one have not all been sent yet (another process's commits, or those a
        // resumed mailbox is catching up on): notices go out in token order, so the store's list of them
        // is read instead (it holds this one too).
        if (message.token !== channel.lastToken + 1) {
          void this.catchUp(channel);
          continue;
        }
        channel.lastToken = message.token;
      }
      this.deliver(channel, message);
    }
    for (const hint of hints) this.tokens.publish(hint);
  }

  /** A hint from another process, or from the database. */
  private heard(message: BusMessage): void {
    if (message.type === 'credentials') {
      void this.closeLapsed((channel) => channel.accountId === message.accountId);
      return;
    }
    if (message.from === this.tokens.processId) return;
    const channel = this.active(message.accountId, message.deviceId);
    if (!channel) return;
    if (message.type === 'push') void this.catchUp(channel);
    else if (message.type === 'sync') this.deliver(channel, { type: 'syncRequest' });
    else void this.closeIfReplaced(channel);
  }

  /**
   * Closes the channel unless the registry still names this process as its device's holder: a hint that
   * another process registered the device can arrive after this process registered it again (a long-poll
   * whose polls alternate between processes), and the registration committed last is the one that holds.
   */
  private async closeIfReplaced(channel: Channel): Promise<void> {
    try {
      if (await this.tokens.holds(channel.accountId, channel.deviceId)) return;
    } catch (err) {
      this.logger.warn({ err }, 'reading the push channel registry failed');
    }
    if (this.drop(channel)) channel.close(pushCloseCodes.replaced, 'a newer channel for this device took over');
  }

  /**
   * Sends the channel the notices of every token issued to its device after the last one it was sent: the
   * tokens another process's commits issued, or those a resumed mailbox starts with. One run per channel
   * at a time; a hint during a run runs it again.
   */
  private async catchUp(channel: Channel): Promise<void> {
    if (this.catchingUp.has(channel)) {
      this.catchUpAgain.add(channel);
      return;
    }
    this.catchingUp.add(channel);
    try {
      do {
        this.catchUpAgain.delete(channel);
        for (;;) {
          const page = await this.tokens.after(channel.accountId, channel.deviceId, channel.lastToken, catchUpPage);
          for (const { token, item } of page) {
            if (this.active(channel.accountId, channel.deviceId) !== channel) return;
            if (token <= channel.lastToken) continue;
            channel.lastToken = token;
            // An item changed since its token was issued: a newer token, or the next sync, brings it. A
            // token issued while the device listened to other collections is skipped (the gap makes it sync).
            if (item !== 'gone' && (channel.collections?.has(item.collectionId) ?? true)) this.deliver(channel, this.noticeOf(item, token));
          }
          if (page.length < catchUpPage) break;
        }
        const resumedTo = this.resumedTo.get(channel);
        if (resumedTo !== undefined) {
          this.resumedTo.delete(channel);
          channel.lastToken = Math.max(channel.lastToken, resumedTo);
        }
      } while (this.catchUpAgain.has(channel));
    } catch (err) {
      this.logger.warn({ err }, 'catching a push channel up failed');
    } finally {
      this.catchingUp.delete(channel);
    }
  }

  /** Hands a channel a notice or a request to sync, and counts it (docs/operations.md § Metrics). */
  private deliver(channel: Channel, message: Delivery['message']): void {
    channel.send(message);
    if (message.type === 'change') this.metrics.pushNotice();
    else this.metrics.pushSyncRequest();
  }

  private *localChannels(): Generator<Channel> {
    for (const devices of this.channels.values()) yield* devices.values();
  }

  private noticeOf(row: ItemRow, token: number): ChangeNotice {
    return { type: 'change', token, collectionId: row.collectionId, seq: row.seq, command: this.commandOf(row) };
  }

  /**
   * The rest of a split change, asked for by its token. Undefined when the token is unknown (never
   * issued, or spent), 'gone' when the item has changed since: a newer notice or a sync brings it.
   */
  async remainder(accountId: string, deviceId: string, token: number): Promise<Remainder | 'gone' | undefined> {
    const item = await this.tokens.itemOf(accountId, deviceId, token);
    if (item === undefined || item === 'gone') return item;
    const first = Buffer.byteLength(truncateUtf8(item.data, this.portionBytes), 'utf8');
    return { token, serverId: item.id, etag: item.etag, offset: first, data: Buffer.from(item.data, 'utf8').subarray(first).toString('utf8') };
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.foreignTimer);
    this.timer = this.foreignTimer = undefined;
    for (const devices of this.channels.values()) for (const channel of devices.values()) channel.close(pushCloseCodes.shutdown, 'server shutting down');
    this.channels.clear();
    this.connected = 0;
  }

  private commandOf(row: ItemRow): ServerCommand {
    if (row.data === null) return { op: 'delete', serverId: row.id };
    const op = row.createdSeq === row.seq ? 'add' : 'change';
    const size = Buffer.byteLength(row.data, 'utf8');
    if (size <= this.portionBytes) return { op, serverId: row.id, data: row.data, etag: row.etag };
    return { op, serverId: row.id, data: truncateUtf8(row.data, this.portionBytes), etag: row.etag, truncated: true, size };
  }

  /**
   * Heartbeats every channel, drops dead ones, and closes channels whose credential ended without this
   * process hearing of it (a session expired; a change made elsewhere the foreign-write check missed).
   */
  private async sweep(): Promise<void> {
    for (const devices of [...this.channels.values()]) {
      for (const channel of [...devices.values()]) if (!channel.beat()) this.unregister(channel);
    }
    await this.closeLapsed(() => true);
    if (!this.tokens.shared) return;
    // Alive, and holding these channels still; and a hint lost on the way is made up for here.
    await this.tokens.touch().catch((err: unknown) => this.logger.warn({ err }, 'touching push channels failed'));
    for (const channel of [...this.localChannels()]) await this.catchUp(channel);
  }
}

/** A channel's credential ended before it was registered. */
export class CredentialEnded extends Error {
  constructor() {
    super('the credentials this channel was opened with ended');
  }
}

function groupByAccount(rows: readonly ItemRow[]): Map<string, ItemRow[]> {
  const out = new Map<string, ItemRow[]>();
  for (const row of rows) {
    const list = out.get(row.accountId);
    if (list) list.push(row);
    else out.set(row.accountId, [row]);
  }
  return out;
}
