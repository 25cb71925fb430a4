import postgres from 'postgres';

/** A connection pool or a transaction: every query in this backend is written against this shape. */
export type Sql = postgres.Sql;

/** Connection options: what the store needs from the PostgreSQL server and the driver, in one place. */
export interface PoolOptions {
  /** Connections in this process's pool. */
  max: number;
  /** A statement running longer is cancelled (the server's statement_timeout). */
  statementTimeoutMs: number;
}

/**
 * Opens a pool. BIGINT (times, sequence numbers, counts) is read as a JavaScript number: every such value
 * is an epoch millisecond or a counter far below 2^53. Columns come back in camelCase, the rows' shape in
 * src/store/store.ts. A transaction left idle (its client gone) is ended by the server.
 */
export function openPool(url: string, options: PoolOptions): Sql {
  return postgres(url, {
    max: options.max,
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    transform: { column: { from: postgres.toCamel } },
    connection: {
      application_name: 'syncpoint',
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    },
    onnotice: () => undefined,
  }) as unknown as Sql;
}

/**
 * A result as a plain array: the driver's row list carries the statement and its columns besides, and
 * callers compare and serialize what the store returns as they would SQLite's.
 */
export async function rows<T>(query: PromiseLike<readonly T[]>): Promise<T[]> {
  return Array.from(await query);
}
