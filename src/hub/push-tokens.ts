import type { ItemRow, Store } from '../store/store.js';
import type { Accounts, Credential } from './accounts.js';
import type { Clock } from './ports.js';

/**
 * What push (src/push/push-hub.ts) needs of the store: the commits to fan out, the push tokens they are
 * announced under, and the item version a token names. Push reaches the store only through here
 * (docs/architecture.md § Layers).
 */
export class PushTokens {
  constructor(
    private readonly store: Store,
    private readonly accounts: Accounts,
    private readonly clock: Clock,
  ) {}

  /** Shows every transaction that wrote items to `fanout`, before and after it commits. */
  observe<P>(fanout: PushFanout<P>): void {
    this.store.observeCommits({
      beforeCommit: (tx, written) =>
        fanout.beforeCommit(written, async (accountId, deviceId, changes) => {
          const issued = await tx.issuePushTokens(accountId, deviceId, changes, this.clock.now());
          return issued.map((row) => row.token);
        }),
      afterCommit: (prepared) => fanout.afterCommit(prepared as P),
    });
  }

  /**
   * Opens a device's channel in one transaction: checks that `credential` (if any) still holds, then
   * reads the token the device's next notice will carry and hands it to `open`, which makes the channel
   * visible to fan-out before any other commit can issue a token. Undefined, and `open` is not called,
   * when the credential ended. A store that retries a transaction (PostgreSQL, on a serialization
   * failure) calls `open` again with the token it then read.
   */
  register(accountId: string, deviceId: string, credential: Credential | undefined, open: (nextToken: number) => void): Promise<number | undefined> {
    return this.store.transaction(async (tx) => {
      if (credential !== undefined && !(await this.accounts.holdsIn(tx, credential))) return undefined;
      const nextToken = await tx.nextPushToken(accountId, deviceId);
      open(nextToken);
      return nextToken;
    });
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
   * Inside the committing transaction. `issue` gives one device a token for each of `changes`, in order,
   * stored in the same transaction, so the token, the change and what it stands for commit together.
   */
  beforeCommit(written: readonly ItemRow[], issue: IssueTokens): Promise<P>;
  /** Once the commit is durable. */
  afterCommit(prepared: P): void;
}

export type IssueTokens = (accountId: string, deviceId: string, changes: ReadonlyArray<{ collectionId: string; itemId: string; seq: number }>) => Promise<number[]>;
