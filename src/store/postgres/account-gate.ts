import type { StoreTx } from '../store.js';

/**
 * Two rules every PostgreSQL transaction object follows, wrapped around the SQL of the other modules:
 *
 * - **One writer per account per process.** Two transactions of one account in one process would both
 *   raise the account's sequence row, and at SERIALIZABLE isolation the second would fail and start over,
 *   again and again under load. So the first call that names an account waits until no other
 *   transaction of this process holds that account, before it sends any statement: the transaction's
 *   snapshot is taken after the wait, and it sees what the previous one committed. Transactions of other
 *   processes still conflict, and are retried (postgres-store.ts).
 * - **Text never holds NUL.** PostgreSQL cannot store U+0000 in text, and a statement that sends one fails
 *   and aborts the transaction. No stored name or id can hold one, so a lookup with one finds nothing,
 *   without asking; a write with one is refused before it is sent.
 */
export class AccountGate {
  private readonly held = new Map<string, Promise<void>>();

  /** Waits for `accountId`, and returns what lets it go. */
  async enter(accountId: string): Promise<() => void> {
    const before = this.held.get(accountId) ?? Promise.resolve();
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const tail = before.then(() => mine);
    this.held.set(accountId, tail);
    await before;
    return () => {
      leave();
      if (this.held.get(accountId) === tail) this.held.delete(accountId);
    };
  }
}

/** Methods whose first argument is a row, with the account in `accountId` (createAccount: in `id`). */
const rowFirst = new Set(['createToken', 'createCollection', 'updateCollection', 'putItem', 'putDevice', 'putSyncState', 'addConflict', 'createWebSession']);
/** Methods that name no account: by a secret's hash, an item id alone, or every account. */
const noAccount = new Set(['touchPushChannels', 'findAccountByName', 'getToken', 'putItemVersion', 'getWebSession', 'deleteWebSession', 'purgeWebSessions', 'listAccounts', 'createAccount']);

const holdsNul = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes('\u0000') : Array.isArray(v) ? v.some(holdsNul) : v !== null && typeof v === 'object' ? Object.values(v).some(holdsNul) : false;

/** What a read answers when it cannot match anything. */
function nothing(method: string): unknown {
  if (method.startsWith('list') || method === 'findTwinCandidates' || method === 'findPushTokens') return [];
  if (method.startsWith('is') || method.startsWith('had')) return false;
  if (method === 'countChanges') return 0;
  return undefined;
}
const isRead = (method: string) => /^(get|find|list|is|had|davNameOf|purgedEtag|liveItemBytes|count|collectionSeq|currentSeq|tombstoneFloor|nextPushToken)/.test(method);

/**
 * `tx` with the rules above; `release()` lets go of the account it entered (call it once the
 * transaction has ended, committed or not).
 */
export function gatedTx(tx: StoreTx, gate: AccountGate): { tx: StoreTx; release(): void } {
  let entered: Promise<() => void> | undefined;
  const wrapped = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [method, fn] of Object.entries(tx) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[method] = async (...args: unknown[]) => {
      if (holdsNul(args)) {
        if (isRead(method)) return nothing(method);
        throw new Error(`${method}: text holding U+0000 cannot be stored`);
      }
      if (!entered && !noAccount.has(method)) {
        const account = rowFirst.has(method) ? (args[0] as { accountId: string }).accountId : args[0];
        if (typeof account === 'string') entered = gate.enter(account);
      }
      if (entered) await entered;
      return fn(...args);
    };
  }
  return {
    tx: wrapped as unknown as StoreTx,
    release() {
      void entered?.then((leave) => leave());
    },
  };
}
