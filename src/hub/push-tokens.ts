import type { BusMessage, ItemRow, PushChannelRow, PushTicketRow, Store } from '../store/store.js';
import type { Accounts, Credential } from './accounts.js';
import type { Clock } from './ports.js';

/**
 * What push (src/push/push-hub.ts) needs of the store: the commits to fan out, the push tokens they are
 * announced under, the item version a token names, the registry of open channels that every server
 * process shares, and the hints between processes. Push reaches the store only through here
 * (docs/architecture.md § Layers).
 */
export class PushTokens {
  constructor(
    private readonly store: Store,
    private readonly accounts: Accounts,
    private readonly clock: Clock,
    /** This process, as the channel registry names it: a new id at every start. */
    readonly processId: string,
  ) {}

  /** Whether other processes may hold channels (a store with a bus): then the registry is kept, hints go out and catch-ups run. */
  get shared(): boolean {
    return this.store.bus !== undefined;
  }

  now(): number {
    return this.clock.now();
  }

  /** Shows every transaction that wrote items to `fanout`, before and after it commits. */
  observe<P>(fanout: PushFanout<P>): void {
    this.store.observeCommits({
      beforeCommit: (tx, written) =>
        fanout.beforeCommit(
          written,
          async (accountId, issues) => {
            const issued = await tx.issuePushTokens(accountId, issues.map(({ deviceId, changes }) => ({ deviceId, entries: changes })), this.clock.now());
            return issued.map((rows) => rows.map((row) => row.token));
          },
          (accountId, seenSince) => tx.listPushChannels(accountId, seenSince),
        ),
      afterCommit: (prepared) => fanout.afterCommit(prepared as P),
    });
  }

  /**
   * Opens a device's channel in one transaction: checks that `credential` (if any) still holds, reads the
   * account's other registered channels (seen since `seenSince`; undefined when processes do not share
   * the store), records the channel as this process's in the shared registry, then reads the token the
   * device's next notice will carry and hands both to `open`, which may refuse the channel by throwing
   * (the account's limits) and otherwise makes it visible to fan-out before any other commit can issue a
   * token. Undefined, and `open` is not called, when the credential ended. A store that retries a
   * transaction (PostgreSQL, on a serialization failure) calls `open` again with what it then read.
   */
  register(
    channel: { accountId: string; deviceId: string; collections: ReadonlySet<string> | null; mailbox: boolean },
    credential: Credential | undefined,
    seenSince: number,
    open: (nextToken: number, others: PushChannelRow[] | undefined) => void,
  ): Promise<number | undefined> {
    const { accountId, deviceId, collections, mailbox } = channel;
    return this.store.transaction(async (tx) => {
      if (credential !== undefined && !(await this.accounts.holdsIn(tx, credential))) return undefined;
      let others: PushChannelRow[] | undefined;
      if (this.shared) {
        others = (await tx.listPushChannels(accountId, seenSince)).filter((c) => c.deviceId !== deviceId);
        await tx.putPushChannel({ accountId, deviceId, processId: this.processId, mailbox, collections: collections && [...collections], seenAt: this.clock.now() });
      }
      const nextToken = await tx.nextPushToken(accountId, deviceId);
      open(nextToken, others);
      return nextToken;
    });
  }

  /** The account's channels registered by any process and seen since `seenSince`; undefined when processes do not share the store. */
  async registered(accountId: string, seenSince: number): Promise<PushChannelRow[] | undefined> {
    if (!this.shared) return undefined;
    return this.store.transaction((tx) => tx.listPushChannels(accountId, seenSince));
  }

  /** Whether the registry names this process as the holder of the device's channel. */
  async holds(accountId: string, deviceId: string): Promise<boolean> {
    const all = await this.store.transaction((tx) => tx.listPushChannels(accountId, 0));
    return all.some((c) => c.deviceId === deviceId && c.processId === this.processId);
  }

  /** Stores a push ticket's hash with the credential it was issued from (push/tickets.ts). */
  putTicket(row: PushTicketRow, keepMax: number): Promise<void> {
    return this.store.transaction((tx) => tx.putPushTicket(row, this.clock.now(), keepMax));
  }

  /** Takes the ticket with this hash out of the store, expired or not: a ticket is used once. */
  takeTicket(ticketHash: string): Promise<PushTicketRow | undefined> {
    return this.store.transaction((tx) => tx.takePushTicket(ticketHash));
  }

  /**
   * Forgets the device's channel in the registry, if this process still holds it and `stillClosed()`
   * says, inside the transaction, that no newer channel of the device opened here meanwhile.
   */
  async forget(accountId: string, deviceId: string, stillClosed: () => boolean): Promise<void> {
    if (!this.shared) return;
    await this.store.transaction(async (tx) => {
      if (stillClosed()) await tx.deletePushChannel(accountId, deviceId, this.processId);
    });
  }

  /** This process is alive and holds its channels still. */
  async touch(): Promise<void> {
    if (this.shared) await this.store.transaction((tx) => tx.touchPushChannels(this.processId, this.clock.now()));
  }

  /**
   * The device's tokens after `afterToken`, oldest first, each with the item version it names, or 'gone'
   * when the item has changed since (a newer token, or the next sync, brings it).
   */
  after(accountId: string, deviceId: string, afterToken: number, limit: number): Promise<Array<{ token: number; item: ItemRow | 'gone' }>> {
    return this.store.transaction(async (tx) => {
      const out: Array<{ token: number; item: ItemRow | 'gone' }> = [];
      for (const issued of await tx.listPushTokensAfter(accountId, deviceId, afterToken, limit)) {
        const item = await tx.getItem(accountId, issued.collectionId, issued.itemId);
        out.push({ token: issued.token, item: item && item.seq === issued.seq ? item : 'gone' });
      }
      return out;
    });
  }

  publish(message: BusMessage): void {
    this.store.bus?.publish(message);
  }

  subscribe(handler: (message: BusMessage) => void, reconnected: () => void): void {
    this.store.bus?.subscribe(handler, reconnected);
  }

  /**
   * The item a token was issued for, if it is still at the version the token names: undefined when the
   * token is unknown (never issued, or spent), 'gone' when the item changed or was deleted since.
   */
  itemOf(accountId: string, deviceId: string, token: number): Promise<(ItemRow & { data: string }) | 'gone' | undefined> {
    return this.store.transaction(async (tx) => {
      const issued = await tx.getPushToken(accountId, deviceId, token);
      if (!issued) return undefined;
      const item = await tx.getItem(accountId, issued.collectionId, issued.itemId);
      return !item || item.seq !== issued.seq || item.data === null ? 'gone' : { ...item, data: item.data };
    });
  }
}

/** What push does around each commit that wrote items (PushTokens.observe). */
export interface PushFanout<P> {
  /**
   * Inside the committing transaction. `issue` gives each of the account's devices named a token for each
   * of its `changes`, in order, stored in the same transaction, so the token, the change and what it stands
   * for commit together; one call for all of them (each device named once).
   * `registered` lists the account's open channels, whichever process holds them.
   */
  beforeCommit(written: readonly ItemRow[], issue: IssueTokens, registered: RegisteredChannels): Promise<P>;
  /** Once the commit is durable. */
  afterCommit(prepared: P): void;
}

export type IssueTokens = (
  accountId: string,
  issues: ReadonlyArray<{ deviceId: string; changes: ReadonlyArray<{ collectionId: string; itemId: string; seq: number }> }>,
) => Promise<number[][]>;
export type RegisteredChannels = (accountId: string, seenSince: number) => Promise<PushChannelRow[]>;
