import { collectionNamePattern, collectionNameRule, type CollectionKind, type CreateCollection } from '../protocol/collections.js';
import { nameProblem } from '../protocol/names.js';
import { emailAddressProblem } from '../protocol/account.js';
import { limitReached, ProtocolError } from '../protocol/errors.js';
import type { AccountRow, AppTokenRow, AuthFailureRow, CollectionRow, Store, StoreTx, WebSessionRow } from '../store/store.js';
import { findKind } from '../kinds/registry.js';
import { accountLimit, type HubPorts } from './ports.js';
import { hashSecret, newAppToken } from './secrets.js';

/** Accounts, app tokens and collections: the records around the truth store. */

const defaultCollections: ReadonlyArray<{ name: string; kind: CollectionKind; displayName: string }> = [
  { name: 'contacts', kind: 'contacts', displayName: 'Contacts' },
  { name: 'calendar', kind: 'events', displayName: 'Calendar' },
  { name: 'tasks', kind: 'tasks', displayName: 'Tasks' },
  { name: 'notes', kind: 'notes', displayName: 'Notes' },
];

const tokenUseResolutionMs = 60_000;
/** Known clients (docs/operations.md § The web app, Password throttling): the most kept per account, and for how long. */
const knownClientsPerAccountMax = 32;
const knownClientLifetimeMs = 90 * 24 * 3600 * 1000;

const accountNamePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/**
 * Every face creates and renames through here, so the naming rules hold whatever face a name came in by
 * (docs/protocol.md § Names); faces that can say which field failed check first with the same rules.
 */
function checkCollectionFields(fields: { name?: string; displayName?: string; description?: string | null }): void {
  if (fields.name !== undefined && !collectionNamePattern.test(fields.name)) throw new ProtocolError('invalidRequest', collectionNameRule);
  const problem = (fields.displayName === undefined ? undefined : nameProblem(fields.displayName)) ?? (fields.description ? nameProblem(fields.description, true) : undefined);
  if (problem !== undefined) throw new ProtocolError('invalidRequest', problem);
}

/**
 * What a request authenticated with, kept by whatever outlives the request (push tickets and channels,
 * a held ActiveSync Ping) so it can be checked again: it ends when its credential does.
 */
export interface Credential {
  accountId: string;
  /** The app token used; revoking it ends what it opened. Password changes leave app tokens alone. */
  tokenId?: string | undefined;
  /** The web session's id hash; signing out (or a password change) ends what it opened. */
  sessionIdHash?: string | undefined;
  /** The account's credential epoch when its password (or session) was checked; a password change raises it. */
  epoch: number;
}

/** The credential of an authenticated principal (http/principal.ts Principal). */
export const credentialOf = (p: { accountId: string; tokenId?: string | undefined; session?: { idHash: string } | undefined; epoch: number }): Credential => ({
  accountId: p.accountId,
  tokenId: p.tokenId,
  sessionIdHash: p.session?.idHash,
  epoch: p.epoch,
});

export class Accounts {
  private readonly revocationListeners: Array<(tokenId: string) => void> = [];
  private readonly sessionEndListeners: Array<(idHash: string) => void> = [];
  private readonly passwordListeners: Array<(accountId: string) => void> = [];
  private readonly collectionDeletedListeners: Array<(accountId: string, collectionIds: readonly string[]) => void> = [];

  constructor(
    private readonly store: Store,
    private readonly ports: HubPorts,
  ) {}

  /** Creates the account with one default collection of each kind. */
  async create(name: string, passwordHash: string, email: string | null = null): Promise<AccountRow> {
    if (!accountNamePattern.test(name)) {
      throw new ProtocolError('invalidRequest', 'account names are 1-128 letters, digits, ".", "_", "@" or "-"');
    }
    if (email !== null) checkEmail(email);
    return this.store.transaction(async (tx) => {
      if (await tx.findAccountByName(name)) throw new ProtocolError('conflict', `account ${name} already exists`);
      const now = this.ports.clock.now();
      const account: AccountRow = { id: this.ports.random.id(), name, passwordHash, createdAt: now, credentialEpoch: 0, email };
      await tx.createAccount(account);
      for (const c of defaultCollections) {
        await tx.createCollection({ id: this.ports.random.id(), accountId: account.id, color: null, description: null, createdAt: now, calendarId: null, ...c });
      }
      return account;
    });
  }

  async findByName(name: string): Promise<AccountRow | undefined> {
    return this.store.transaction((tx) => tx.findAccountByName(name));
  }

  async get(accountId: string): Promise<AccountRow | undefined> {
    return this.store.transaction((tx) => tx.getAccount(accountId));
  }

  async list(): Promise<AccountRow[]> {
    return this.store.transaction((tx) => tx.listAccounts());
  }

  /**
   * Changes the password. The store raises the account's credential epoch and ends its web sessions in
   * the same transaction (a trigger, so a change made in a database shell does too); listeners in this
   * process then close what the old password opened.
   */
  async setPassword(accountId: string, passwordHash: string): Promise<void> {
    await this.store.transaction((tx) => tx.setPassword(accountId, passwordHash));
    for (const listener of this.passwordListeners) listener(accountId);
  }

  /** Sets the address ActiveSync reports for the account (null clears it); refuses one that is no address. */
  async setEmail(accountId: string, email: string | null): Promise<void> {
    if (email !== null) checkEmail(email);
    await this.store.transaction((tx) => tx.setEmail(accountId, email));
  }

  /** Called after each password change made in this process. */
  onPasswordChanged(listener: (accountId: string) => void): void {
    this.passwordListeners.push(listener);
  }

  /** Whether the client (a fingerprint without any secret in it) signed in to the account recently. */
  isKnownClient(accountId: string, fingerprint: string): Promise<boolean> {
    const since = this.ports.clock.now() - knownClientLifetimeMs;
    return this.store.transaction((tx) => tx.isKnownClient(accountId, fingerprint, since));
  }

  rememberClient(accountId: string, fingerprint: string): Promise<void> {
    return this.store.transaction((tx) => tx.rememberClient(accountId, fingerprint, this.ports.clock.now(), knownClientsPerAccountMax));
  }

  /**
   * The counters of failed secrets with these key hashes (absent: none counted), and what `decide` makes
   * of them written back, in one transaction: parallel attempts on one counter, from any process, take
   * turns (docs/operations.md § The web app).
   */
  updateFailureCounts<T>(keyHashes: readonly string[], decide: (counted: ReadonlyMap<string, AuthFailureRow>) => { write: AuthFailureRow[]; result: T }): Promise<T> {
    return this.store.transaction(async (tx) => {
      const counted = new Map((await tx.getAuthFailures(keyHashes)).map((row) => [row.keyHash, row]));
      const { write, result } = decide(counted);
      if (write.length > 0) await tx.putAuthFailures(write);
      return result;
    });
  }

  /** Whether a credential still holds: its token not revoked, its session live, its password unchanged. */
  async credentialHolds(credential: Credential): Promise<boolean> {
    const now = this.ports.clock.now();
    return this.store.transaction(async (tx) => holds(tx, credential, now));
  }

  /** `credentialHolds` inside the caller's transaction (push registers a channel and checks it at once). */
  holdsIn(tx: StoreTx, credential: Credential): Promise<boolean> {
    return holds(tx, credential, this.ports.clock.now());
  }

  /** Those of `credentials` that no longer hold, checked in one transaction; equal credentials are read once. */
  async lapsed<C extends Credential>(credentials: Iterable<C>): Promise<C[]> {
    const now = this.ports.clock.now();
    return this.store.transaction(async (tx) => {
      const seen = new Map<string, boolean>();
      const out: C[] = [];
      for (const c of credentials) {
        const key = `${c.accountId}\0${c.tokenId ?? ''}\0${c.sessionIdHash ?? ''}\0${c.epoch}`;
        let held = seen.get(key);
        if (held === undefined) seen.set(key, (held = await holds(tx, c, now)));
        if (!held) out.push(c);
      }
      return out;
    });
  }

  /** Makes a new app token; `token` is the secret the user is shown once: only its hash is stored. */
  async addToken(accountId: string, label: string): Promise<{ row: AppTokenRow; token: string }> {
    const problem = nameProblem(label);
    if (problem !== undefined) throw new ProtocolError('invalidRequest', `app-password labels: ${problem}`);
    const fresh = newAppToken();
    const secretHash = await hashSecret(fresh.secret);
    const row: AppTokenRow = { id: fresh.id, accountId, label, secretHash, createdAt: this.ports.clock.now(), lastUsedAt: null };
    const max = accountLimit(this.ports, 'appPasswordsPerAccountMax');
    await this.store.transaction(async (tx) => {
      if ((await tx.listTokens(accountId)).length >= max) throw limitReached('appPasswordsPerAccountMax', max, 'the account has as many app passwords as it may; revoke one first');
      await tx.createToken(row);
    });
    return { row, token: fresh.token };
  }

  async getToken(tokenId: string): Promise<AppTokenRow | undefined> {
    return this.store.transaction((tx) => tx.getToken(tokenId));
  }

  /** Records that a token was used, at most once a minute per token so authentication stays read-mostly. */
  async noteTokenUse(row: AppTokenRow): Promise<void> {
    const now = this.ports.clock.now();
    if (row.lastUsedAt !== null && now - row.lastUsedAt < tokenUseResolutionMs) return;
    await this.store.transaction((tx) => tx.touchToken(row.accountId, row.id, now));
  }

  openSession(row: WebSessionRow): Promise<void> {
    return this.store.transaction((tx) => tx.createWebSession(row));
  }

  findSession(idHash: string): Promise<WebSessionRow | undefined> {
    return this.store.transaction((tx) => tx.getWebSession(idHash, this.ports.clock.now()));
  }

  async endSession(idHash: string): Promise<void> {
    await this.store.transaction((tx) => tx.deleteWebSession(idHash));
    for (const listener of this.sessionEndListeners) listener(idHash);
  }

  /** Called after each sign-out in this process (push closes the channels the session opened). */
  onSessionEnded(listener: (idHash: string) => void): void {
    this.sessionEndListeners.push(listener);
  }

  async listTokens(accountId: string): Promise<AppTokenRow[]> {
    return this.store.transaction((tx) => tx.listTokens(accountId));
  }

  async revokeToken(accountId: string, tokenId: string): Promise<boolean> {
    const revoked = await this.store.transaction((tx) => tx.deleteToken(accountId, tokenId));
    if (revoked) for (const listener of this.revocationListeners) listener(tokenId);
    return revoked;
  }

  /** Called after each revocation in this process (push closes the token's channels). */
  onTokenRevoked(listener: (tokenId: string) => void): void {
    this.revocationListeners.push(listener);
  }

  /** Changes what the patch names of a collection's display name, colour and description; a calendar's tasks collection follows it (docs/dav.md § Calendars made without a component set). */
  async updateCollection(accountId: string, collectionId: string, patch: Partial<Pick<CollectionRow, 'displayName' | 'color' | 'description'>>): Promise<CollectionRow> {
    checkCollectionFields(patch);
    return this.store.transaction(async (tx) => {
      const row = await tx.getCollection(accountId, collectionId);
      if (!row) throw new ProtocolError('notFound', 'no such collection');
      const updated = { ...row, ...patch };
      await tx.updateCollection(updated);
      for (const part of tasksPartsOf(await tx.listCollections(accountId), row)) await tx.updateCollection({ ...part, ...patch });
      return updated;
    });
  }

  /**
   * Deletes a collection with everything in it. Devices that sync it are answered `notFound` from
   * then on, and DAV clients see it gone from the home set.
   */
  async deleteCollection(accountId: string, collectionId: string): Promise<void> {
    const deleted = await this.store.transaction(async (tx) => {
      const row = await tx.getCollection(accountId, collectionId);
      if (!row) return null;
      // A calendar's tasks collection goes with it (by the store's cascade), so its devices are told too.
      const ids = [row.id, ...tasksPartsOf(await tx.listCollections(accountId), row).map((part) => part.id)];
      return (await tx.deleteCollection(accountId, collectionId)) ? ids : null;
    });
    if (!deleted) throw new ProtocolError('notFound', 'no such collection');
    for (const listener of this.collectionDeletedListeners) listener(accountId, deleted);
  }

  /**
   * Called after each collection deletion made in this process: the items go by the store's cascade,
   * without change rows, so push tells connected devices to sync (docs/protocol.md §18.5).
   */
  onCollectionDeleted(listener: (accountId: string, collectionIds: readonly string[]) => void): void {
    this.collectionDeletedListeners.push(listener);
  }

  async findCollection(accountId: string, name: string): Promise<CollectionRow | undefined> {
    return this.store.transaction((tx) => tx.findCollectionByName(accountId, name));
  }

  async listCollections(accountId: string): Promise<CollectionRow[]> {
    return this.store.transaction((tx) => tx.listCollections(accountId));
  }

  /**
   * `withTasks`: an events collection that also holds tasks, as a DAV calendar made without a component
   * set does: its tasks go to a tasks collection named NAME.tasks that names it (docs/dav.md § Calendars made without a component set).
   * Returns the collection made (the events one).
   */
  /**
   * A collection a device or person asks for, or (`bySource`) one a server-driven source of items fills:
   * an upstream makes its own in its transaction (hub/upstreams.ts); a test's sync point stands in for one.
   * A kind whose items only their source makes (Kind.deviceWrites: mail) has collections only a source
   * makes: one a device made would be a folder nothing can ever fill.
   */
  async createCollection(accountId: string, input: CreateCollection, options: { withTasks?: boolean; bySource?: boolean } = {}): Promise<CollectionRow> {
    const sourceOnly = findKind(input.kind)?.deviceWrites?.addRefused;
    if (sourceOnly !== undefined && options.bySource !== true) throw new ProtocolError('invalidRequest', `a ${input.kind} collection comes from its source, not from a device: ${sourceOnly}`);
    return this.store.transaction(async (tx) => (await createCollectionIn(tx, this.ports, accountId, input, options.withTasks === true))[0]);
  }
}

/**
 * Accounts.createCollection inside the caller's transaction (an upstream made with its collections,
 * hub/upstreams.ts): the collection, then its tasks collection when `withTasks`.
 */
export async function createCollectionIn(tx: StoreTx, ports: HubPorts, accountId: string, input: CreateCollection, withTasks: boolean): Promise<[CollectionRow, ...CollectionRow[]]> {
  checkCollectionFields(input);
  if (findKind(input.kind) === undefined) throw new ProtocolError('invalidRequest', `this server holds no kind named ${input.kind}`);
  const tasks = withTasks && input.kind === 'events';
  const names = tasks ? [input.name, tasksPartName(input.name)] : [input.name];
  for (const name of names) {
    if (await tx.findCollectionByName(accountId, name)) throw new ProtocolError('conflict', `a collection named ${name} already exists`);
  }
  const max = accountLimit(ports, 'collectionsPerAccountMax');
  if ((await tx.listCollections(accountId)).length + names.length > max) throw limitReached('collectionsPerAccountMax', max, 'the account has as many collections as it may; delete one first');
  const row: CollectionRow = {
    id: ports.random.id(),
    accountId,
    name: input.name,
    kind: input.kind,
    displayName: input.displayName ?? input.name,
    color: input.color ?? null,
    description: input.description ?? null,
    createdAt: ports.clock.now(),
    calendarId: null,
  };
  await tx.createCollection(row);
  if (!tasks) return [row];
  const part: CollectionRow = { ...row, id: ports.random.id(), name: tasksPartName(input.name), kind: 'tasks', calendarId: row.id };
  await tx.createCollection(part);
  return [row, part];
}

/** The name of the tasks collection of a calendar that holds events and tasks. */
export const tasksPartName = (calendarName: string) => `${calendarName}.tasks`;

/** The collections that hold the tasks of `calendar` (none, or one). */
export const tasksPartsOf = (collections: readonly CollectionRow[], calendar: CollectionRow) => collections.filter((c) => c.calendarId === calendar.id);

async function holds(tx: StoreTx, c: Credential, now: number): Promise<boolean> {
  if (c.tokenId !== undefined) {
    const token = await tx.getToken(c.tokenId);
    return token !== undefined && token.accountId === c.accountId;
  }
  const account = await tx.getAccount(c.accountId);
  if (!account || account.credentialEpoch !== c.epoch) return false;
  return c.sessionIdHash === undefined || (await tx.getWebSession(c.sessionIdHash, now)) !== undefined;
}

function checkEmail(email: string): void {
  const problem = emailAddressProblem(email);
  if (problem) throw new ProtocolError('invalidRequest', problem);
}
