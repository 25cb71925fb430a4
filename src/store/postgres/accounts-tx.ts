import type { AccountRow, AppTokenRow, CollectionRow, StoreTx, WebSessionRow } from '../store.js';
import type { Sql } from './sql.js';

/** Accounts, app passwords, collections, browser sessions and known clients. */
export type AccountTx = Pick<
  StoreTx,
  | 'createAccount'
  | 'findAccountByName'
  | 'getAccount'
  | 'listAccounts'
  | 'setPassword'
  | 'setEmail'
  | 'nextSeq'
  | 'currentSeq'
  | 'tombstoneFloor'
  | 'createToken'
  | 'getToken'
  | 'listTokens'
  | 'deleteToken'
  | 'touchToken'
  | 'createCollection'
  | 'listCollections'
  | 'getCollection'
  | 'findCollectionByName'
  | 'updateCollection'
  | 'deleteCollection'
  | 'createWebSession'
  | 'getWebSession'
  | 'deleteWebSession'
  | 'purgeWebSessions'
  | 'isKnownClient'
  | 'rememberClient'
>;

const accountColumns = (sql: Sql) => sql`id, name, password_hash, created_at, credential_epoch, email`;
const collectionColumns = (sql: Sql) => sql`id, account_id, name, kind, display_name, color, description, created_at, calendar_id`;

/**
 * An account's sequence and tombstone floor, read once per transaction: at REPEATABLE READ a row reads
 * the same until the transaction itself writes it, and the two writes that do (nextSeq here, the floor's
 * raise in items-tx.ts) tell this. The hub asks for them several times in an exchange, a round trip each.
 */
export class AccountCounters {
  private readonly read = new Map<string, Promise<{ seq: number; tombstoneFloor: number }>>();
  constructor(private readonly sql: Sql) {}

  get(id: string): Promise<{ seq: number; tombstoneFloor: number }> {
    let r = this.read.get(id);
    if (r === undefined) {
      r = this.sql<{ seq: number; tombstoneFloor: number }[]>`SELECT seq, tombstone_floor FROM accounts WHERE id = ${id}`.then(([row]) => {
        if (!row) throw new Error(`no account ${id}`);
        return row;
      });
      // A failed read is not kept (the transaction is over anyway, but nothing should answer from it).
      r.catch(() => this.read.delete(id));
      this.read.set(id, r);
    }
    return r;
  }

  /** The transaction raised the sequence to `seq`. */
  sequenced(id: string, seq: number): void {
    const r = this.read.get(id);
    if (r !== undefined) this.read.set(id, r.then((row) => ({ ...row, seq })));
  }

  /** The transaction wrote the row otherwise: read it again when asked. */
  forget(id: string): void {
    this.read.delete(id);
  }
}

export function accountTx(sql: Sql, counters: AccountCounters): AccountTx {
  return {
    async createAccount(r) {
      await sql`INSERT INTO accounts (id, name, password_hash, created_at, email) VALUES (${r.id}, ${r.name}, ${r.passwordHash}, ${r.createdAt}, ${r.email})`;
    },
    async findAccountByName(name) {
      const [r] = await sql<AccountRow[]>`SELECT ${accountColumns(sql)} FROM accounts WHERE name = ${name}`;
      return r;
    },
    async getAccount(id) {
      const [r] = await sql<AccountRow[]>`SELECT ${accountColumns(sql)} FROM accounts WHERE id = ${id}`;
      return r;
    },
    async listAccounts() {
      return sql<AccountRow[]>`SELECT ${accountColumns(sql)} FROM accounts ORDER BY name`;
    },
    async setPassword(id, hash) {
      await sql`UPDATE accounts SET password_hash = ${hash} WHERE id = ${id}`;
    },
    async setEmail(id, email) {
      await sql`UPDATE accounts SET email = ${email} WHERE id = ${id}`;
    },
    async nextSeq(id) {
      // The row lock this takes is held to the transaction's end: the account's next writer waits, so
      // numbers become visible in order (docs/operations.md § PostgreSQL).
      const [r] = await sql<{ seq: number }[]>`UPDATE accounts SET seq = seq + 1 WHERE id = ${id} RETURNING seq`;
      if (!r) throw new Error(`no account ${id}`);
      counters.sequenced(id, r.seq);
      return r.seq;
    },
    async currentSeq(id) {
      return (await counters.get(id)).seq;
    },
    async tombstoneFloor(id) {
      return (await counters.get(id)).tombstoneFloor;
    },

    async createToken(r) {
      await sql`INSERT INTO app_tokens (id, account_id, label, secret_hash, created_at, last_used_at) VALUES (${r.id}, ${r.accountId}, ${r.label}, ${r.secretHash}, ${r.createdAt}, ${r.lastUsedAt})`;
    },
    async getToken(id) {
      const [r] = await sql<AppTokenRow[]>`SELECT id, account_id, label, secret_hash, created_at, last_used_at FROM app_tokens WHERE id = ${id}`;
      return r;
    },
    async listTokens(accountId) {
      return sql<AppTokenRow[]>`SELECT id, account_id, label, secret_hash, created_at, last_used_at FROM app_tokens WHERE account_id = ${accountId} ORDER BY created_at, id`;
    },
    async deleteToken(accountId, id) {
      return await sql`DELETE FROM app_tokens WHERE account_id = ${accountId} AND id = ${id}`.run() > 0;
    },
    async touchToken(accountId, id, at) {
      await sql`UPDATE app_tokens SET last_used_at = ${at} WHERE account_id = ${accountId} AND id = ${id}`;
    },

    async createCollection(r) {
      await sql`INSERT INTO collections (id, account_id, name, kind, display_name, color, description, created_at, calendar_id)
        VALUES (${r.id}, ${r.accountId}, ${r.name}, ${r.kind}, ${r.displayName}, ${r.color}, ${r.description}, ${r.createdAt}, ${r.calendarId})`;
    },
    async updateCollection(r) {
      await sql`UPDATE collections SET display_name = ${r.displayName}, color = ${r.color}, description = ${r.description} WHERE account_id = ${r.accountId} AND id = ${r.id}`;
    },
    async deleteCollection(accountId, id) {
      // Items, their history, sync states, push tokens, DAV names and conflict records go with it (ON DELETE CASCADE).
      return await sql`DELETE FROM collections WHERE account_id = ${accountId} AND id = ${id}`.run() > 0;
    },
    async listCollections(accountId) {
      return sql<CollectionRow[]>`SELECT ${collectionColumns(sql)} FROM collections WHERE account_id = ${accountId} ORDER BY created_at, name`;
    },
    async getCollection(accountId, id) {
      const [r] = await sql<CollectionRow[]>`SELECT ${collectionColumns(sql)} FROM collections WHERE account_id = ${accountId} AND id = ${id}`;
      return r;
    },
    async findCollectionByName(accountId, name) {
      const [r] = await sql<CollectionRow[]>`SELECT ${collectionColumns(sql)} FROM collections WHERE account_id = ${accountId} AND name = ${name}`;
      return r;
    },

    async createWebSession(r) {
      await sql`INSERT INTO web_sessions (id_hash, account_id, csrf, created_at, expires_at) VALUES (${r.idHash}, ${r.accountId}, ${r.csrf}, ${r.createdAt}, ${r.expiresAt})`;
    },
    async getWebSession(idHash, now) {
      const [r] = await sql<WebSessionRow[]>`SELECT id_hash, account_id, csrf, created_at, expires_at FROM web_sessions WHERE id_hash = ${idHash} AND expires_at > ${now}`;
      return r;
    },
    async deleteWebSession(idHash) {
      await sql`DELETE FROM web_sessions WHERE id_hash = ${idHash}`;
    },
    async purgeWebSessions(now) {
      return await sql`DELETE FROM web_sessions WHERE expires_at <= ${now}`.run();
    },
    async isKnownClient(accountId, fingerprint, since) {
      return (await sql`SELECT 1 FROM known_clients WHERE account_id = ${accountId} AND fingerprint = ${fingerprint} AND last_success_at >= ${since}`).length > 0;
    },
    async rememberClient(accountId, fingerprint, at, keep) {
      await sql`INSERT INTO known_clients (account_id, fingerprint, last_success_at) VALUES (${accountId}, ${fingerprint}, ${at})
        ON CONFLICT (account_id, fingerprint) DO UPDATE SET last_success_at = excluded.last_success_at`;
      await sql`DELETE FROM known_clients WHERE account_id = ${accountId} AND fingerprint NOT IN
        (SELECT fingerprint FROM known_clients WHERE account_id = ${accountId} ORDER BY last_success_at DESC LIMIT ${keep})`;
    },
  };
}
