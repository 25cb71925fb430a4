import type { StoreTx } from '../store.js';

/**
 * Two rules every PostgreSQL transaction object follows, wrapped around the SQL of the other modules
 * (docs/operations.md § PostgreSQL):
 *
 * - **One writer per account at a time, whatever the process, locked before the snapshot.** Two
 *   transactions of one account would both raise the account's sequence row, and at REPEATABLE READ the
 *   second would fail and start over, again and again under load; and the hub reads, decides and writes as
 *   if alone, which only a turn of its own makes true. So the transaction begins only at
 *   its first call: if that call names an account, the connection first takes a session advisory lock on
 *   it (waiting for whoever holds it, on any process), and only then BEGIN, so the snapshot is
 *   taken after the wait and sees what the previous holder committed. `start` sends both at once (the
 *   server runs them in order, so one round trip does); a read is sent right behind them.
 * - **Text never holds NUL.** PostgreSQL cannot store U+0000 in text, and a statement that sends one fails
 *   and aborts the transaction. No stored name or id can hold one, so a lookup with one finds nothing,
 *   without asking; a write with one is refused before it is sent.
 */
/** Methods whose first argument is a row, with the account in `accountId` (createAccount: in `id`). */
const rowFirst = new Set(['putPushTicket', 'createToken', 'createCollection', 'updateCollection', 'putItem', 'putDevice', 'putSyncState', 'addConflict', 'createWebSession', 'createUpstream', 'putUpstreamCollection']);
/** Methods that name no account: by a secret's hash, an item id alone, or every account. */
const noAccount = new Set(['touchPushChannels', 'takePushTicket', 'purgePushTickets', 'getAuthFailures', 'putAuthFailures', 'purgeAuthFailures', 'findAccountByName', 'getToken', 'putItemVersion', 'getWebSession', 'deleteWebSession', 'purgeWebSessions', 'listAccounts', 'listDueUpstreams', 'listUpstreamsOfKind', 'createAccount']);

const holdsNul = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes('\u0000') : Array.isArray(v) ? v.some(holdsNul) : v !== null && typeof v === 'object' ? Object.values(v).some(holdsNul) : false;

/** What a read answers when it cannot match anything. */
function nothing(method: string): unknown {
  if (method.startsWith('list') || method.startsWith('pointRecordsBy') || method === 'findTwinCandidates' || method === 'findPushTokens') return [];
  if (method.startsWith('is') || method.startsWith('had')) return false;
  if (method === 'countChanges') return 0;
  return undefined;
}
const isRead = (method: string) => /^(get|find|list|pointRecordsBy|is[A-Z]|had|davNameOf|purgedEtag|liveItemBytes|count|collectionSeq|currentSeq|tombstoneFloor|nextPushToken)/.test(method);

/** `tx` with the rules above: `start(account)` runs once, before the first statement (the account its first call names, if any). */
export function gatedTx(tx: StoreTx, start: (accountId: string | undefined) => Promise<void>): StoreTx {
  let started: Promise<void> | undefined;
  const wrapped = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [method, fn] of Object.entries(tx) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[method] = async (...args: unknown[]) => {
      if (holdsNul(args)) {
        if (isRead(method)) return nothing(method);
        throw new Error(`${method}: text holding U+0000 cannot be stored`);
      }
      if (!started) {
        const account = noAccount.has(method) ? undefined : rowFirst.has(method) ? (args[0] as { accountId: string }).accountId : args[0];
        started = start(typeof account === 'string' ? account : undefined);
      }
      if (isRead(method)) {
        // Sent at once, queued behind the lock and BEGIN on the connection: the server runs it after
        // both, in the transaction's snapshot, a round trip sooner. A write waits for BEGIN's answer, so
        // none can ever run outside the transaction.
        const answer = fn(...args);
        answer.catch(() => undefined); // if the turn or BEGIN failed, that is the error to report
        await started;
        return answer;
      }
      await started;
      return fn(...args);
    };
  }
  return wrapped as unknown as StoreTx;
}
