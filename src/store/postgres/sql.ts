import pg from 'pg';
import { limits } from '../../core/limits.js';

/**
 * SQL as tagged templates over node-postgres: `sql\`SELECT … WHERE id = ${id}\`` sends the values as
 * parameters ($1, $2, …), never as text, and a template used inside another is inlined with its own
 * parameters. A query runs when awaited, and answers its rows with camelCase keys, the rows' shape in
 * src/store/store.ts.
 */
export interface Sql {
  /** `T`: the rows it answers, as an array type (`sql<ItemRow[]>`). */
  <T extends readonly unknown[] = Record<string, unknown>[]>(strings: TemplateStringsArray, ...values: unknown[]): Query<T[number]>;
  /** A value for a JSONB column (node-postgres would send a JavaScript array as a PostgreSQL array). */
  json(value: unknown): string;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

export class Query<T> implements PromiseLike<T[]> {
  constructor(
    private readonly client: Queryable,
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  then<A = T[], B = never>(onValue?: ((rows: T[]) => A | PromiseLike<A>) | null, onError?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.execute().then((r) => r.rows).then(onValue, onError);
  }

  /** Runs the statement; answers how many rows it wrote or read. */
  async run(): Promise<number> {
    return (await this.execute()).count;
  }

  private async execute(): Promise<{ rows: T[]; count: number }> {
    const params: unknown[] = [];
    const text = compile(this, params);
    const result = await this.client.query({ name: statementName(text), text, values: params, rowMode: 'array' });
    const keys = result.fields.map((f) => camel(f.name));
    const rows = (result.rows as unknown[][]).map((cells) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) row[keys[i] as string] = cells[i];
      return row as T;
    });
    return { rows, count: result.rowCount ?? 0 };
  }
}

/**
 * A statement text's name, the same on every connection: node-postgres then sends the text to be parsed
 * and planned once per connection and each later run only binds its values, which is most of what
 * PostgreSQL spends on our short statements (bench/README.md § Profile). The texts come from the
 * templates in this folder, a few hundred at most; past the cap a text runs unnamed, as before.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < limits.postgresPreparedStatementsMax) statementNames.set(text, (name = `syncpoint_${statementNames.size + 1}`));
  return name;
}

function compile(q: Query<unknown>, params: unknown[]): string {
  let text = q.strings[0] as string;
  for (let i = 0; i < q.values.length; i++) {
    const v = q.values[i];
    if (v instanceof Query) text += compile(v, params);
    else {
      params.push(v);
      text += `$${params.length}`;
    }
    text += q.strings[i + 1] as string;
  }
  return text;
}

const camelCache = new Map<string, string>();
function camel(name: string): string {
  let c = camelCache.get(name);
  if (c === undefined) camelCache.set(name, (c = name.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase())));
  return c;
}

/**
 * `client`, with the queries made in one run of the event loop's microtasks leaving in one write: a
 * transaction's lock and BEGIN and first read, or reads started together, cost one packet and one system
 * call instead of one each, on our side and on the server's (writes were a quarter of a server's CPU time
 * in bench:scale, bench/README.md § Profile). The pool pipelines, so each query is written when it is made;
 * node-postgres corks the socket around each, and this holds it corked until the microtasks have run.
 */
export function writingTogether(client: pg.PoolClient): Queryable {
  const socket = (client as unknown as pg.Client).connection.stream;
  let corked = false;
  const query = (...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    return (client.query as (...a: unknown[]) => unknown)(...args);
  };
  return { query } as Queryable;
}

/** The tag bound to a pool (each query on any free connection) or to one connection (a transaction). */
export function sqlOn(client: Queryable): Sql {
  const sql = (strings: TemplateStringsArray, ...values: unknown[]) => new Query(client, strings, values);
  return Object.assign(sql, { json: (value: unknown) => JSON.stringify(value) }) as Sql;
}

/** Connection options: what the store needs from the PostgreSQL server and the driver, in one place. */
export interface PoolOptions {
  /** Connections in this process's pool. */
  max: number;
  /** A statement running longer is cancelled (the server's statement_timeout). */
  statementTimeoutMs: number;
}

/**
 * Opens a pool. BIGINT (times, sequence numbers, counts) is read as a JavaScript number: every such value
 * is an epoch millisecond or a counter far below 2^53. A transaction left idle (its client gone) is ended
 * by the server. An idle connection that breaks (PostgreSQL restarted) is dropped from the pool, and the
 * next query opens a new one.
 */
export function openPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    application_name: 'syncpoint',
    // Queries are written as soon as they are made, not after the answer to the one before: a
    // transaction's lock and BEGIN, or its reads started together, cost one round trip.
    pipeline: true,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  pool.on('error', () => undefined);
  return pool;
}
