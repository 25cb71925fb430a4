import type pg from 'pg';
import { noStoreOptions, StoreUnavailable, type CommitObserver, type ItemRow, type Store, type StoreOptions, type StoreTx, type TransactionTimer } from '../store.js';
import { gatedTx } from './account-gate.js';
import { PostgresBus } from './bus.js';
import { AccountCounters, accountTx } from './accounts-tx.js';
import { deviceTx } from './devices-tx.js';
import { itemTx } from './items-tx.js';
import { recordTx } from './records-tx.js';
import { pointRecordTx } from './point-records-tx.js';
import { upstreamTx } from './upstreams-tx.js';
import { mailPartTx } from './mail-parts-tx.js';
import { mailSendTx } from './mail-sends-tx.js';
import { migrations } from './schema.js';
import { openPool, sqlOn, writingTogether, type PoolOptions } from './sql.js';

/**
 * The PostgreSQL backend, for several server processes on one database (docs/operations.md § PostgreSQL).
 * The hub sees the same one-at-a-time world as on SQLite for each account: a transaction that names an
 * account runs alone among that account's transactions, on every process (account-gate.ts), at REPEATABLE
 * READ from a snapshot taken after its turn came. Transactions of different accounts run side by side; they
 * share no rows but the registry of push channels and what names no account. SERIALIZABLE was tried: with
 * forty devices of twenty accounts syncing at once its predicate locks failed transactions of different
 * accounts ("read/write dependencies") past every retry. One that PostgreSQL aborts as a serialization
 * failure (a concurrent update of a row) or a deadlock (nothing of it was written) runs again from the
 * start, a few times.
 * A transaction whose connection dies is not run again: its COMMIT may have landed, and only the client,
 * retrying with its sync key, can tell (docs/protocol.md §5.3).
 */
export interface PostgresOptions extends PoolOptions, StoreOptions {
  /** How many times a transaction runs at most before its serialization failure is thrown. */
  attempts: number;
  /** Waits before a retry: given the attempt that failed (1, 2, …), in ms. Randomized by the caller. */
  retryDelayMs(attempt: number): number;
  /** Told how long each run of a transaction held its connection (docs/operations.md § Metrics). */
  timer?: TransactionTimer;
}

export const postgresDefaults: PostgresOptions = {
  ...noStoreOptions,
  max: 10,
  statementTimeoutMs: 30_000,
  attempts: 8,
  retryDelayMs: (attempt) => Math.random() * 5 * 2 ** attempt,
};

/** The first key of every account's advisory lock (account-gate.ts); the second is a hash of its id. */
const accountLockSpace = 0x53594e43;

/** SQLSTATEs of a transaction PostgreSQL rolled back whole, which is safe to run again. */
const retryable = new Set(['40001', '40P01']);

/**
 * Whether `err` says the database is out of reach rather than that the transaction failed: no connection
 * could be made, or the one in use broke (SQLSTATE class 08; 57P01–57P03, the server shutting down,
 * crashed or starting; the socket's own errors). Such a transaction is never run again (see above).
 */
function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || /^57P0[123]$/.test(code) || /^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH)$/.test(code))) return true;
  return err instanceof Error && /^Connection terminated/.test(err.message);
}

export interface PostgresStore extends Store {
  /** The pool, for what lives beside the store on the same database (push's LISTEN/NOTIFY). */
  readonly pool: pg.Pool;
  /** Transactions run again after a serialization failure or deadlock, since open. */
  retries(): number;
}

/** `onError`: what the process-hint bus reports (a broken listening connection, being replaced). */
export async function openPostgresStore(url: string, options: PostgresOptions = postgresDefaults, onError: (err: Error) => void = () => undefined): Promise<PostgresStore> {
  const pool = openPool(url, options);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const observers: CommitObserver[] = [];
  let retries = 0;
  let closed = false;

  /** One run of `fn` in a transaction of its own on one connection of the pool. */
  const attempt = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<{ result: T; prepared: unknown[] }> => {
    const client = await pool.connect();
    const queries = writingTogether(client);
    // A connection that breaks while checked out reports it here as well as to the query in flight.
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    let locked: string | undefined;
    let begun = false;
    const began = performance.now();
    let committed = false;
    // The lock, BEGIN, and later COMMIT with the unlock, go out together (the pool pipelines, sql.ts):
    // the server still runs each after the one before, each in its own protocol sync, so a failed lock
    // does not stop BEGIN, and whatever began is rolled back below.
    const start = async (accountId: string | undefined) => {
      const locking = accountId === undefined ? undefined : queries.query({ name: 'syncpoint_lock', text: 'SELECT pg_advisory_lock($1, hashtext($2))', values: [accountLockSpace, accountId] });
      const beginning = queries.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const [lock, begin] = await Promise.allSettled([locking, beginning]);
      if (begin.status === 'fulfilled') begun = true;
      if (lock.status === 'rejected') throw lock.reason;
      locked = accountId;
      if (begin.status === 'rejected') throw begin.reason;
    };
    let unlocking: Promise<unknown> | undefined;
    // A session lock outlives the transaction; a broken connection takes it with it.
    const unlock = () => {
      if (locked === undefined || broken) return;
      unlocking = queries.query({ name: 'syncpoint_unlock', text: 'SELECT pg_advisory_unlock($1, hashtext($2))', values: [accountLockSpace, locked] }).catch((e: Error) => (broken = e));
      locked = undefined;
    };
    try {
      const written: ItemRow[] = [];
      const tx = gatedTx(postgresTx(queries, written, options), start);
      const result = await fn(tx);
      const changes = written.splice(0);
      const prepared = changes.length === 0 ? [] : await Promise.all(observers.map((o) => o.beforeCommit(tx, changes)));
      if (begun) {
        const committing = queries.query('COMMIT');
        unlock();
        await committing;
      }
      committed = true;
      return { result, prepared };
    } catch (err) {
      // A connection that cannot even roll back is dropped from the pool (so is one that reported an error).
      if (begun && !broken) await queries.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      options.timer?.((performance.now() - began) / 1000, committed);
      unlock();
      await unlocking;
      client.off('error', onError);
      client.release(broken);
    }
  };

  const bus = new PostgresBus(url, pool, onError);
  return {
    pool,
    bus,
    retries: () => retries,
    async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      if (closed) throw new Error('store is closed');
      for (let n = 1; ; n++) {
        try {
          const { result, prepared } = await attempt(fn);
          // Committed: what observers do now cannot undo it.
          prepared.forEach((p, i) => observers[i]?.afterCommit(p));
          return result;
        } catch (err) {
          if (connectionLost(err)) throw new StoreUnavailable(`the database is unavailable: ${(err as Error).message}`, { cause: err });
          if (n >= options.attempts || !retryable.has((err as { code?: string }).code ?? '')) throw err;
          retries++;
          await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs(n)));
        }
      }
    },
    observeCommits(observer) {
      observers.push(observer);
    },
    async tryExclusive(name, fn) {
      if (closed) throw new Error('store is closed');
      // A session advisory lock on a connection of its own, held while `fn` runs (its transactions take
      // other connections). The two-key form never meets migrate's one-key lock. If the connection dies,
      // PostgreSQL drops the lock with it, and another process may start a run beside this one: the jobs
      // run under it are idempotent, each step a transaction.
      const client = await pool.connect();
      const key = ['syncpoint lease', name];
      // A connection that failed a query, or could not unlock, is dropped, which unlocks.
      let broken: Error | undefined;
      const onError = (err: Error) => (broken = err);
      client.on('error', onError);
      try {
        const { rows } = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS held', key).catch((err: Error) => {
          broken = err;
          throw err;
        });
        if (rows[0]?.held !== true) return false;
        try {
          await fn();
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key).catch((err: Error) => (broken = err));
        }
        return true;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async close() {
      closed = true;
      await bus.close();
      await pool.end();
    },
  };
}

function postgresTx(client: Pick<pg.ClientBase, 'query'>, written: ItemRow[], options: StoreOptions): StoreTx {
  const sql = sqlOn(client);
  const counters = new AccountCounters(sql);
  // Object.assign, not spread: V8 took 250 µs to spread these four objects of methods into one, twice per
  // exchange (bench/README.md § Profile); assign takes 12.
  return Object.assign({}, accountTx(sql, counters), itemTx(sql, written, counters), deviceTx(sql), recordTx(sql, options), upstreamTx(sql), pointRecordTx(sql), mailPartTx(sql), mailSendTx(sql));
}

/** Runs the migrations not yet run, in one transaction, one process at a time (an advisory lock). */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('syncpoint schema'))`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
    const done = Number((await client.query<{ done: number }>('SELECT coalesce(max(version), 0)::int AS done FROM schema_migrations')).rows[0]?.done ?? 0);
    for (let i = done; i < migrations.length; i++) {
      await client.query(migrations[i] as string);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
