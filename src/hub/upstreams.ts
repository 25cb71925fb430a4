import { createHash } from 'node:crypto';
import { limits } from '../core/limits.js';
import type { ServerSyncPoint } from '../protocol/server-point.js';
import { collectionNamePattern, type CollectionKind } from '../protocol/collections.js';
import { limitReached, ProtocolError } from '../protocol/errors.js';
import { nameProblem } from '../protocol/names.js';
import type { CollectionRow, ItemRow, Store, StoreTx, UpstreamCollectionRow, UpstreamRow } from '../store/store.js';
import { createCollectionIn, tasksPartsOf } from './accounts.js';
import { accountLimit, type HubPorts } from './ports.js';
import type { MailGateway } from './mail.js';
import { runServerDrivenSync } from './server-driven.js';
import { openSecret, sealedKeyId, sealSecret, type SecretKey } from './sealed-secrets.js';

/**
 * The stored configuration of upstream servers (docs/operations.md § Upstream servers): an account's
 * CardDAV/CalDAV accounts elsewhere, each a server-driven sync point (server-driven.ts) known by a device
 * of its own, whose priority it has. Adding one discovers its address books and calendars through a
 * connector the caller hands in (the hub reaches no network itself) and maps each to a collection, made
 * for it unless the caller names one; the password is sealed with the server's secret key, bound to its
 * row. Removing one forgets it, its mappings and its device, never the collections or their items.
 */

/** The protocol of an upstream's device, by the upstream's kind: what the devices page shows, and what its sync run reports as. */

/** The name an upstream's runs hold (Store.tryExclusive): one process runs it at a time, and what must not interleave with a run holds it too (hub/mail.ts saveDraft). */
export const upstreamRunName = (upstreamId: string) => `upstream ${upstreamId}`;
export const upstreamProtocols = { dav: 'dav-upstream', imap: 'imap-upstream' } as const;

/** What an upstream is: a CardDAV/CalDAV account, or an IMAP account (with SMTP submission for sending). */
export type UpstreamKind = keyof typeof upstreamProtocols;
export const isUpstreamKind = (kind: string): kind is UpstreamKind => Object.hasOwn(upstreamProtocols, kind);

/** An address book, calendar or mail folder a connector found (connectors/dav/discovery.ts, connectors/imap/discovery.ts). */
export interface DiscoveredCollection {
  url: string;
  type: 'addressbook' | 'calendar' | 'mailbox';
  displayName?: string | undefined;
  /** The kinds it can feed. */
  kinds: readonly CollectionKind[];
}

/** One mapping of an upstream, as its sync point needs it. */
export interface UpstreamMapping {
  url: string;
  collectionId: string;
  kind: CollectionKind;
}

/** One run's reach into an upstream: a sync point per mapping, and what the run closes when it ends (an IMAP connection). */
export interface UpstreamSession {
  points: ServerSyncPoint[];
  close(): Promise<void>;
}

/** Reaches upstream servers of one kind for the hub. `discover` throws a ProtocolError whose message says what went wrong (refused credentials, unreachable, not a DAV or IMAP server). */
export interface UpstreamConnector {
  discover(url: string, account: { username: string; password: string }): Promise<DiscoveredCollection[]>;
  /** The sync points of a run, one per mapping, signed in as the upstream's user, known as the upstream's device. */
  open(upstream: { url: string; username: string; password: string; deviceId: string; name: string }, mappings: readonly UpstreamMapping[]): UpstreamSession;
  /** How long the upstream asked to be left alone, if `failure` says so (a 503 or 429 with Retry-After), in ms; and a message a person can act on. */
  explain(failure: unknown): { message: string; retryAfterMs?: number };
}

/** What the hub needs to run upstreams: a connector per kind it reaches, and the secret keys their passwords may be sealed with (the first seals). */
export interface UpstreamAccess {
  connectors: Partial<Record<UpstreamKind, UpstreamConnector>>;
  keys(): SecretKey[];
  /**
   * The key a new password is sealed with, for `add`: throws at once (a ProtocolError saying what to
   * configure) when the server has none to seal with; else returns how to read it, which may make its
   * file (server/secret-key.ts), so `add` calls that only once the upstream is sure to be stored.
   */
  sealingKey(): () => SecretKey;
  /** Between runs of each upstream (0: it runs only when asked). */
  intervalMs: number;
  /** What the hub asks of IMAP/SMTP upstreams beyond sync runs (mail.ts); without it, nothing. */
  mail?: MailGateway;
}

/** One upstream's run: skipped (another run of it under way, on any process; or not due), or done, with what failed. */
export interface UpstreamRun {
  id: string;
  deviceId: string;
  ran: boolean;
  error: string | null;
  nextRunAt: number | null;
}

export interface AddUpstream {
  /** Default 'dav'. */
  kind?: UpstreamKind | undefined;
  url: string;
  /** An IMAP upstream's SMTP submission server (smtp:// or smtps://), for sending; without one its mail cannot be sent. */
  submissionUrl?: string | undefined;
  username: string;
  password: string;
  /** Map everything that can feed it to this existing collection (and its tasks collection), instead of making collections. */
  collection?: string | undefined;
}

/** What the hub shows of an upstream: never its secret. */
export interface UpstreamView {
  id: string;
  kind: string;
  url: string;
  submissionUrl: string | null;
  username: string;
  deviceId: string;
  /** Its device's priority (0 first), as every sync point has. */
  priority: number | null;
  createdAt: number;
  /** 'new' before its first run, then 'ok' or 'error' by its last run. */
  state: 'new' | 'ok' | 'error';
  lastRunAt: number | null;
  lastError: string | null;
  nextRunAt: number | null;
  failures: number;
  collections: Array<{ url: string; collectionId: string; collectionName: string; kind: CollectionKind }>;
}

/** What a sealed upstream password is bound to: its account and its upstream (sealed-secrets.ts). */
const bindingOf = (row: Pick<UpstreamRow, 'accountId' | 'id'>) => ['upstream', row.accountId, row.id];

/** The upstream's password, opened with whichever of `keys` sealed it (a sync run, or mail fetched on a device's behalf, signs in with it). */
export const openUpstreamPassword = (row: UpstreamRow, keys: readonly SecretKey[]): string => openSecret(keys, row.secret, bindingOf(row));

/** An IMAP upstream as its watcher signs in (server/mail-watchers.ts): never shown, never stored elsewhere. */
export interface WatchedUpstream {
  accountId: string;
  id: string;
  url: string;
  username: string;
  password: string;
  /** Its SMTP submission server, if it has one: answers to sync requests by mail go through it (docs/protocol.md §21). */
  submissionUrl: string | null;
}

export class Upstreams {
  /** Told after this process added or removed an upstream (the watchers follow at once; other processes' changes at their next look). */
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly ports: HubPorts,
    private readonly access?: UpstreamAccess,
  ) {}

  /**
   * Runs the account's upstreams (one, with `upstreamId`) now, each on one process at a time
   * (Store.tryExclusive): an upstream whose run is under way elsewhere is skipped. `due`: only those
   * whose next run time has come, checked again once the run is this process's (the scheduler).
   */
  async run(accountId: string, options: { upstreamId?: string; due?: boolean } = {}): Promise<UpstreamRun[]> {
    const rows = await this.store.transaction(async (tx) => {
      if (options.upstreamId === undefined) return tx.listUpstreams(accountId);
      const row = await tx.getUpstream(accountId, options.upstreamId);
      if (!row) throw new ProtocolError('notFound', `no upstream ${options.upstreamId}`);
      return [row];
    });
    const runs: UpstreamRun[] = [];
    for (const row of rows) {
      let done: UpstreamRun = { id: row.id, deviceId: row.deviceId, ran: false, error: null, nextRunAt: row.nextRunAt };
      await this.store.tryExclusive(upstreamRunName(row.id), async () => {
        done = await this.runOne(accountId, row.id, options.due === true);
      });
      runs.push(done);
    }
    return runs;
  }

  /** Every account's upstreams whose next run time has come, at most `max`, one after the other (the scheduler's tick). */
  async runDue(max: number): Promise<UpstreamRun[]> {
    const due = await this.store.transaction((tx) => tx.listDueUpstreams(this.ports.clock.now(), max));
    const runs: UpstreamRun[] = [];
    for (const { accountId, id } of due) runs.push(...(await this.run(accountId, { upstreamId: id, due: true })));
    return runs;
  }

  /** One run of one upstream, under its exclusive name: rounds of the two-stage process until nothing more is to be had, then its run state. */
  private async runOne(accountId: string, upstreamId: string, onlyIfDue: boolean): Promise<UpstreamRun> {
    const access = this.access;
    if (!access) throw new Error('this hub reaches no upstream servers');
    const loaded = await this.store.transaction(async (tx) => {
      const row = await tx.getUpstream(accountId, upstreamId);
      if (!row) return undefined;
      const [mappings, collections, device] = [await tx.listUpstreamCollections(accountId, upstreamId), await tx.listCollections(accountId), await tx.getDevice(accountId, row.deviceId)];
      const kinds = new Map(collections.map((c) => [c.id, c.kind]));
      return { row, device, mappings: mappings.flatMap((m) => (kinds.has(m.collectionId) ? [{ url: m.url, collectionId: m.collectionId, kind: kinds.get(m.collectionId) as CollectionKind }] : [])) };
    });
    if (!loaded) return { id: upstreamId, deviceId: '', ran: false, error: null, nextRunAt: null };
    const { row } = loaded;
    const now = this.ports.clock.now();
    if (onlyIfDue && row.nextRunAt !== null && row.nextRunAt > now) return { id: row.id, deviceId: row.deviceId, ran: false, error: null, nextRunAt: row.nextRunAt };
    const connector = connectorOf(access, row.kind);
    let failure: unknown;
    let session: UpstreamSession | undefined;
    try {
      const password = this.password(row, access.keys());
      session = connector.open({ url: row.url, username: row.username, password, deviceId: row.deviceId, name: loaded.device?.name ?? row.url }, loaded.mappings);
      let points = session.points;
      let stalled = 0;
      for (let round = 0; points.length > 0 && round < limits.upstreamRunRoundsMax; round++) {
        const report = await runServerDrivenSync(this.store, this.ports, accountId, points);
        failure ??= report.failures[0];
        // A round that failed, or a second one in a row in which no point got through (a conflict is read and
        // decided in the round after the one that met it), ends the run: the next one takes it up.
        stalled = report.acknowledged.length === 0 ? stalled + 1 : 0;
        if (report.failures.length > 0 || stalled >= 2) break;
        // Another round for the points with more to give or to take; one that did not acknowledge waits for the next run.
        points = report.again;
      }
    } catch (err) {
      failure = err;
    } finally {
      await session?.close();
    }
    const explained = failure === undefined ? undefined : connector.explain(failure);
    const failures = explained ? row.failures + 1 : 0;
    const state = { lastRunAt: now, lastError: explained?.message ?? null, failures, nextRunAt: nextRunAt(row.id, this.ports.clock.now(), access.intervalMs, failures, explained?.retryAfterMs) };
    await this.store.transaction((tx) => tx.setUpstreamRunState(accountId, row.id, state));
    if (explained) this.ports.logger.warn({ accountId, upstream: row.id, failures, error: explained.message }, 'upstream run failed');
    return { id: row.id, deviceId: row.deviceId, ran: true, error: state.lastError, nextRunAt: state.nextRunAt };
  }

  /**
   * Discovers the upstream's collections with `connector`, then stores it, its device, its collections
   * and its mappings in one transaction. Nothing is stored when discovery fails or finds nothing; `key`
   * (the server's secret key, which may make its file: server/secret-key.ts) is asked for only after.
   * Without `access`, the hub's own (UpstreamAccess.sealingKey), which refuses before anything is asked
   * when the server has no key to seal with.
   */
  async add(accountId: string, input: AddUpstream, access: { connector: Pick<UpstreamConnector, 'discover'>; key: () => SecretKey } = this.addAccess(input.kind ?? 'dav')): Promise<UpstreamView> {
    const kind = input.kind ?? 'dav';
    const url = checkInput(input);
    const submissionUrl = checkSubmission(kind, input.submissionUrl);
    // What can be refused without asking the upstream is refused first.
    await this.store.transaction(async (tx) => {
      await checkRoom(tx, accountId, url.href, input.username);
      if (input.collection !== undefined && !(await tx.findCollectionByName(accountId, input.collection))) throw new ProtocolError('notFound', `no collection ${input.collection}`);
    });
    const found = await access.connector.discover(url.href, { username: input.username, password: input.password });
    if (found.length === 0) throw new ProtocolError('invalidRequest', kind === 'imap' ? `found no mail folder at ${url.href}` : `found no address book or calendar at ${url.href}`);
    const key = access.key();
    const view = await this.store.transaction(async (tx) => {
      await checkRoom(tx, accountId, url.href, input.username);
      const now = this.ports.clock.now();
      const id = this.ports.random.id();
      const deviceId = `upstream-${id}`;
      const devices = await tx.listDevices(accountId);
      const devicesMax = accountLimit(this.ports, 'devicesPerAccountMax');
      if (devices.length >= devicesMax) throw limitReached('devicesPerAccountMax', devicesMax, 'the account has as many sync points as it may, and an upstream is one; revoke one first');
      const mappings = input.collection === undefined ? await this.makeCollections(tx, accountId, found) : await mapToExisting(tx, accountId, input.collection, found, url.href);
      if (mappings.length > limits.upstreamCollectionsMax) {
        throw limitReached('upstreamCollectionsMax', limits.upstreamCollectionsMax, `${url.href} has ${mappings.length} collections to map, more than one upstream may`);
      }
      await tx.putDevice({ accountId, id: deviceId, name: `${url.host} (${input.username})`, protocol: upstreamProtocols[kind], priority: devices.length, createdAt: now, lastSeenAt: now, tokenId: null });
      const row: UpstreamRow = {
        id,
        accountId,
        kind,
        url: url.href,
        submissionUrl,
        username: input.username,
        secret: sealSecret(key, input.password, bindingOf({ accountId, id })),
        deviceId,
        createdAt: now,
        lastRunAt: null,
        lastError: null,
        nextRunAt: null,
        failures: 0,
      };
      await tx.createUpstream(row);
      for (const m of mappings) await tx.putUpstreamCollection({ accountId, upstreamId: id, url: m.url, collectionId: m.collectionId });
      this.ports.logger.info({ accountId, upstream: id, url: url.href, collections: mappings.length }, 'upstream added');
      return viewOf(row, await tx.listUpstreamCollections(accountId, id), await tx.listCollections(accountId), await tx.listDevices(accountId));
    });
    this.told();
    return view;
  }

  private addAccess(kind: UpstreamKind): { connector: UpstreamConnector; key: () => SecretKey } {
    if (!this.access) throw new Error('this hub reaches no upstream servers');
    return { connector: connectorOf(this.access, kind), key: this.access.sealingKey() };
  }

  /** The account's upstreams, oldest first, with their state and mapped collections. */
  list(accountId: string): Promise<UpstreamView[]> {
    return this.store.transaction(async (tx) => {
      const [collections, devices] = [await tx.listCollections(accountId), await tx.listDevices(accountId)];
      const out: UpstreamView[] = [];
      for (const row of await tx.listUpstreams(accountId)) out.push(viewOf(row, await tx.listUpstreamCollections(accountId, row.id), collections, devices));
      return out;
    });
  }

  /** Forgets the upstream, its mappings and its device (its sync keys with it); the collections and their items stay. */
  async remove(accountId: string, upstreamId: string): Promise<Pick<UpstreamRow, 'id' | 'url' | 'deviceId'>> {
    const row = await this.store.transaction(async (tx) => {
      const found = await tx.getUpstream(accountId, upstreamId);
      if (!found) throw new ProtocolError('notFound', `no upstream ${upstreamId}`);
      await tx.deleteUpstream(accountId, upstreamId);
      await tx.deleteDevice(accountId, found.deviceId);
      return { id: found.id, url: found.url, deviceId: found.deviceId };
    });
    this.ports.logger.info({ accountId, upstream: upstreamId }, 'upstream removed');
    this.told();
    return row;
  }

  /**
   * Calls `due` after every commit in which a device wrote an item of a collection an upstream is the
   * source of (the upstream's own runs aside): that write should reach the upstream soon, a flag set on
   * a phone seen by the other mail programs, not at the next scheduled run. Commits that no device wrote
   * in cost nothing; the others one query of the account's upstreams (docs/operations.md § Upstream servers).
   */
  followDeviceWrites(due: (accountId: string, upstreamId: string) => void): void {
    this.store.observeCommits({
      beforeCommit: async (tx, written) => {
        const byAccount = new Map<string, ItemRow[]>();
        for (const row of written) {
          if (row.originDevice === null) continue;
          const rows = byAccount.get(row.accountId);
          if (rows) rows.push(row);
          else byAccount.set(row.accountId, [row]);
        }
        const found: Array<{ accountId: string; upstreamId: string }> = [];
        for (const [accountId, rows] of byAccount) {
          for (const upstream of await tx.listUpstreams(accountId)) {
            const others = rows.filter((r) => r.originDevice !== upstream.deviceId);
            if (others.length === 0) continue;
            const sourced = new Set((await tx.listUpstreamCollections(accountId, upstream.id)).map((m) => m.collectionId));
            if (others.some((r) => sourced.has(r.collectionId))) found.push({ accountId, upstreamId: upstream.id });
          }
        }
        return found;
      },
      afterCommit: (found) => {
        for (const { accountId, upstreamId } of found as Array<{ accountId: string; upstreamId: string }>) due(accountId, upstreamId);
      },
    });
  }

  /** `listener` is called after every add and remove of this process. */
  observe(listener: () => void): void {
    this.#listeners.add(listener);
  }

  private told(): void {
    for (const listener of this.#listeners) listener();
  }

  /**
   * Every account's IMAP upstreams, oldest account first, at most `max`, with their passwords opened: what
   * the server's watchers sign in with. One whose password cannot be opened is logged and left out (its
   * runs report the same).
   */
  async watchable(max: number): Promise<WatchedUpstream[]> {
    const rows = await this.store.transaction((tx) => tx.listUpstreamsOfKind('imap', max));
    if (rows.length === 0 || !this.access) return [];
    const keys = this.access.keys();
    return rows.flatMap((row) => {
      try {
        return [{ accountId: row.accountId, id: row.id, url: row.url, username: row.username, password: this.password(row, keys), submissionUrl: row.submissionUrl }];
      } catch (err) {
        this.ports.logger.warn({ accountId: row.accountId, upstream: row.id, err: String(err) }, 'cannot watch upstream: its password cannot be opened');
        return [];
      }
    });
  }

  /**
   * Runs `fn` if no process runs it for this store now (Store.tryExclusive): the one process that
   * watches the store's upstreams. False, at once, when another does.
   */
  leadWatching(fn: () => Promise<void>): Promise<boolean> {
    return this.store.tryExclusive('upstream watchers', fn);
  }

  /** The upstream's password, opened with whichever of `keys` sealed it (the sync run signs in with it). */
  password(row: UpstreamRow, keys: readonly SecretKey[]): string {
    return openUpstreamPassword(row, keys);
  }

  /**
   * Re-seals every upstream password sealed with `oldKey` under `newKey`, one transaction per account:
   * interrupted, it is run again, and skips what it already re-sealed. A password sealed with a third key
   * stops it (that account's transaction writes nothing). Returns how many it re-sealed, and how many were
   * already under the new key.
   */
  async rotateKey(oldKey: SecretKey, newKey: SecretKey): Promise<{ resealed: number; already: number }> {
    let resealed = 0;
    let already = 0;
    for (const account of await this.store.transaction((tx) => tx.listAccounts())) {
      const counts = await this.store.transaction(async (tx) => {
        let done = 0;
        let skipped = 0;
        for (const row of await tx.listUpstreams(account.id)) {
          if (sealedKeyId(row.secret) === newKey.id) {
            skipped++;
            continue;
          }
          await tx.setUpstreamSecret(account.id, row.id, sealSecret(newKey, this.password(row, [oldKey]), bindingOf(row)));
          done++;
        }
        return { done, skipped };
      });
      resealed += counts.done;
      already += counts.skipped;
    }
    return { resealed, already };
  }

  /**
   * A collection for each discovered one: an address book to contacts; a calendar to an events collection
   * (with its tasks collection when it takes tasks too, as Syncpoint's own DAV calendars are), or a tasks
   * or notes collection when those are all it takes, and a notes collection beside for journals. Named
   * after the upstream collection's last path segment, made unique with -2, -3, … (all of one calendar's
   * collections alike: calendar-2, calendar-2.tasks, calendar-2.notes).
   */
  private async makeCollections(tx: StoreTx, accountId: string, found: readonly DiscoveredCollection[]): Promise<Array<{ url: string; collectionId: string }>> {
    const mappings: Array<{ url: string; collectionId: string }> = [];
    for (const c of found) {
      const base = baseName(c);
      const displayName = c.displayName !== undefined && c.displayName.length <= limits.nameCharsMax && nameProblem(c.displayName) === undefined ? c.displayName : undefined;
      const plan: Array<{ kind: CollectionKind; withTasks: boolean; suffix: string }> = [];
      if (c.kinds.includes('contacts')) plan.push({ kind: 'contacts', withTasks: false, suffix: '' });
      if (c.kinds.includes('events')) plan.push({ kind: 'events', withTasks: c.kinds.includes('tasks'), suffix: '' });
      else if (c.kinds.includes('tasks')) plan.push({ kind: 'tasks', withTasks: false, suffix: '' });
      if (c.kinds.includes('notes')) plan.push({ kind: 'notes', withTasks: false, suffix: plan.length > 0 ? '.notes' : '' });
      if (c.kinds.includes('mail')) plan.push({ kind: 'mail', withTasks: false, suffix: '' });
      const name = await freeName(tx, accountId, base, plan.flatMap((p) => (p.withTasks ? [p.suffix, `${p.suffix}.tasks`] : [p.suffix])));
      for (const p of plan) {
        const made = await createCollectionIn(tx, this.ports, accountId, { name: `${name}${p.suffix}`, kind: p.kind, ...(displayName ? { displayName: `${displayName}${p.suffix}` } : {}) }, p.withTasks);
        for (const row of made) mappings.push({ url: c.url, collectionId: row.id });
      }
    }
    return mappings;
  }
}

/**
 * When an upstream runs next: every `intervalMs`, with up to a fifth more, so that
 * upstreams added together spread out (the spread is drawn from the upstream's id and the time, so a
 * simulated run replays it); after failures in a row, twice as long each time up to
 * limits.upstreamBackoffMaxMs; and never before the upstream's own Retry-After. A run asked for (Sync
 * now, `upstream sync`) goes ahead whatever the time.
 */
export function nextRunAt(upstreamId: string, now: number, intervalMs: number, failures: number, retryAfterMs?: number): number | null {
  // Without a schedule it runs when asked; a Retry-After is still kept, for the record.
  if (intervalMs === 0) return retryAfterMs === undefined ? null : now + retryAfterMs;
  const interval = Math.min(intervalMs * 2 ** Math.min(failures, 30), Math.max(intervalMs, limits.upstreamBackoffMaxMs));
  const spread = Math.floor(interval / 5);
  const draw = createHash('sha256').update(`${upstreamId}:${now}`).digest().readUInt32BE(0);
  return now + Math.max(interval + (draw % (spread + 1)), retryAfterMs ?? 0);
}

/** The access's connector for upstreams of that kind; a kind it has none for is told, not a crash. */
function connectorOf(access: UpstreamAccess, kind: string): UpstreamConnector {
  const connector = isUpstreamKind(kind) ? access.connectors[kind] : undefined;
  if (!connector) throw new ProtocolError('invalidRequest', `this server reaches no ${kind} upstreams`);
  return connector;
}

const schemesOf: Record<UpstreamKind, readonly string[]> = { dav: ['http:', 'https:'], imap: ['imap:', 'imaps:'] };

/** The submission URL an IMAP upstream may have (smtps:// or smtp://, STARTTLS on the latter when offered); a DAV upstream has none. */
function checkSubmission(kind: UpstreamKind, given: string | undefined): string | null {
  if (given === undefined) return null;
  if (kind !== 'imap') throw new ProtocolError('invalidRequest', 'only an IMAP upstream has a submission server');
  const url = parseUrl(given, 'smtps://mail.example.com:465');
  if (url.protocol !== 'smtps:' && url.protocol !== 'smtp:') throw new ProtocolError('invalidRequest', `a submission URL is smtps:// or smtp://, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new ProtocolError('invalidRequest', 'give the user name and password apart, not in the URL');
  return url.href;
}

function parseUrl(given: string, example: string): URL {
  if (given.length > limits.upstreamUrlCharsMax) throw new ProtocolError('invalidRequest', `an upstream URL has at most ${limits.upstreamUrlCharsMax} characters`);
  try {
    return new URL(given);
  } catch {
    throw new ProtocolError('invalidRequest', `${given} is not a URL; give one such as ${example}`);
  }
}

function checkInput(input: AddUpstream): URL {
  const kind = input.kind ?? 'dav';
  if (!isUpstreamKind(kind)) throw new ProtocolError('invalidRequest', `an upstream is dav or imap, not ${String(kind)}`);
  const url = parseUrl(input.url, kind === 'imap' ? 'imaps://mail.example.com:993' : 'https://dav.example.com/');
  const schemes = schemesOf[kind];
  if (!schemes.includes(url.protocol)) throw new ProtocolError('invalidRequest', `an upstream URL of kind ${kind} is ${schemes.map((s) => `${s}//`).join(' or ')}, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new ProtocolError('invalidRequest', 'give the user name and password apart, not in the URL');
  url.hash = '';
  for (const [what, value] of [
    ['user name', input.username],
    ['password', input.password],
  ] as const) {
    if (value.length === 0 || value.length > limits.upstreamCredentialCharsMax) throw new ProtocolError('invalidRequest', `the upstream ${what} has 1 to ${limits.upstreamCredentialCharsMax} characters`);
  }
  // HTTP Basic (RFC 7617 §2) cannot carry a user name with a colon, nor either with a control character.
  if (input.username.includes(':') || /[\u0000-\u001f\u007f]/.test(input.username + input.password)) {
    throw new ProtocolError('invalidRequest', 'the upstream user name may not hold ":", nor either a control character');
  }
  return url;
}

/** Refuses an upstream the account may not add: one too many, or the same URL and user name again. */
async function checkRoom(tx: StoreTx, accountId: string, url: string, username: string): Promise<void> {
  const existing = await tx.listUpstreams(accountId);
  const same = existing.find((u) => u.url === url && u.username === username);
  if (same) throw new ProtocolError('conflict', `${username} at ${url} is already upstream ${same.id}`);
  if (existing.length >= limits.upstreamsPerAccountMax) throw limitReached('upstreamsPerAccountMax', limits.upstreamsPerAccountMax, 'the account has as many upstreams as it may; remove one first');
}

/** With `--collection`: every discovered collection that can feed the named one (or its tasks collection) maps to it. */
async function mapToExisting(tx: StoreTx, accountId: string, name: string, found: readonly DiscoveredCollection[], url: string): Promise<Array<{ url: string; collectionId: string }>> {
  const target = await tx.findCollectionByName(accountId, name);
  if (!target) throw new ProtocolError('notFound', `no collection ${name}`);
  const parts = [target, ...tasksPartsOf(await tx.listCollections(accountId), target)];
  const mappings = found.flatMap((c) => parts.filter((p) => c.kinds.includes(p.kind)).map((p) => ({ url: c.url, collectionId: p.id })));
  if (mappings.length === 0) throw new ProtocolError('invalidRequest', `none of the ${found.length} address books and calendars at ${url} holds ${target.kind}, which collection ${name} holds`);
  return mappings;
}

/** The upstream collection's last path segment as a collection name (without what a name may not hold), or what it holds when nothing is left. */
function baseName(c: DiscoveredCollection): string {
  const segment = new URL(c.url).pathname.split('/').filter((s) => s !== '').pop() ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    decoded = segment;
  }
  // A mail folder's segment is its whole path (Archive/2024): its levels are kept apart by dots.
  const name = (c.type === 'mailbox' ? decoded.replaceAll('/', '.') : decoded).replace(/[/\u0000-\u001f\u007f-\u009f]/g, '').slice(0, 100);
  return collectionNamePattern.test(name) ? name : c.type === 'addressbook' ? 'contacts' : c.type === 'calendar' ? 'calendar' : 'mail';
}

/** `base`, or `base-2`, `base-3`, …: the first for which every name of `suffixes` ('' for the base itself) is free. */
async function freeName(tx: StoreTx, accountId: string, base: string, suffixes: readonly string[]): Promise<string> {
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    let taken = false;
    for (const suffix of suffixes) taken ||= (await tx.findCollectionByName(accountId, `${name}${suffix}`)) !== undefined;
    if (!taken) return name;
  }
}

function viewOf(row: UpstreamRow, mappings: readonly UpstreamCollectionRow[], collections: readonly CollectionRow[], devices: ReadonlyArray<{ id: string; priority: number }>): UpstreamView {
  const byId = new Map(collections.map((c) => [c.id, c]));
  return {
    id: row.id,
    kind: row.kind,
    url: row.url,
    submissionUrl: row.submissionUrl,
    username: row.username,
    deviceId: row.deviceId,
    priority: devices.find((d) => d.id === row.deviceId)?.priority ?? null,
    createdAt: row.createdAt,
    state: row.lastRunAt === null ? 'new' : row.lastError === null ? 'ok' : 'error',
    lastRunAt: row.lastRunAt,
    lastError: row.lastError,
    nextRunAt: row.nextRunAt,
    failures: row.failures,
    collections: mappings.flatMap((m) => {
      const c = byId.get(m.collectionId);
      return c ? [{ url: m.url, collectionId: c.id, collectionName: c.name, kind: c.kind }] : [];
    }),
  };
}
