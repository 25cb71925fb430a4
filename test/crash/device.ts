import { reapDeleted, recordLocalDelete, recordLocalPut, type LocalItem, type Replica, type ReplicaTx } from '../../src/sdk/replica.js';
import { SyncClient, type SyncSummary } from '../../src/sdk/sync-loop.js';
import { HttpTransport, RetryableError, type Credentials } from '../../src/sdk/transport.js';
import { cardText, editableBy, parseCard } from './cards.js';
import { RecordingTransport, type ExchangeReporter } from './recording-transport.js';

/**
 * One device of the crash run: an SDK client with its own SQLite replica that keeps editing contacts
 * and syncing, whether or not the server is up, the way an app on a phone does. It runs in a process of
 * its own (device-child.ts), which the run kills and starts again; `life` counts those starts.
 */

export interface DeviceStats {
  syncsSucceeded: number;
  syncsFailed: number;
  edits: number;
  conflicts: number;
}

export interface DeviceReporter extends ExchangeReporter {
  /** Anything a healthy server should never cause (a refused item, a forgotten sync key). */
  problem(problem: string): void;
  count(stat: keyof DeviceStats, n: number): void;
}

export interface DeviceOptions {
  id: string;
  /** 1 for the device's first process, 2 after its first kill, and so on: keeps names unique across lives. */
  life: number;
  replica: Replica;
  baseUrl: string;
  credentials: Credentials;
  collectionId: string;
  reporter: DeviceReporter;
  random: () => number;
}

/** Around this many live items the devices stop favouring adds, so the collection stays a workable size. */
const liveItemsTarget = 60;
const editsPerRoundMax = 3;
/**
 * Pauses between rounds (full jitter). After failed syncs the pause grows, as an app backs off while
 * offline: up to base × 2^(failures in a row), capped.
 */
const pauseAfterSyncMsMax = 30;
const pauseAfterFailureMsBase = 100;
const pauseAfterFailureMsMax = 2_000;

export class CrashDevice {
  readonly id: string;
  private readonly life: number;
  private readonly replica: Replica;
  private readonly client: SyncClient;
  private readonly collectionId: string;
  private readonly random: () => number;
  private readonly reporter: DeviceReporter;
  private itemsCreated = 0;
  private versionsWritten = 0;
  private failuresInARow = 0;

  constructor(o: DeviceOptions) {
    this.id = o.id;
    this.life = o.life;
    this.collectionId = o.collectionId;
    this.random = o.random;
    this.reporter = o.reporter;
    this.replica = o.replica;
    // A short timeout and few quick retries: during an outage a sync gives up fast and the device goes
    // on editing, so its next sync carries edits made since the failed one (the retried sync key then
    // meets new commands).
    const transport = new RecordingTransport(new HttpTransport({ baseUrl: o.baseUrl, credentials: o.credentials, timeoutMs: 5_000 }), o.reporter);
    this.client = new SyncClient({
      transport,
      replica: this.replica,
      device: { id: o.id, name: `crash device ${o.id}` },
      // Small windows and batches: one sync spans several exchanges, so kills land between them too.
      windowSize: 25,
      commandsMax: 8,
      retry: { attemptsMax: 3, delayMsBase: 15, delayMsMax: 120 },
      random: o.random,
    });
  }

  /** Edit, sync, pause, until told to stop. */
  async run(keepGoing: () => boolean): Promise<void> {
    while (keepGoing()) {
      this.editRandomly();
      const synced = await this.sync();
      this.failuresInARow = synced ? 0 : this.failuresInARow + 1;
      const pauseMsMax = synced ? pauseAfterSyncMsMax : Math.min(pauseAfterFailureMsMax, pauseAfterFailureMsBase * 2 ** this.failuresInARow);
      await sleep(this.random() * pauseMsMax);
    }
  }

  /** One syncCollection(); null when the server could not be reached (or was refused: see DeviceReporter.problem). */
  async sync(): Promise<SyncSummary | null> {
    try {
      const summary = await this.client.syncCollection(this.collectionId);
      this.reporter.count('syncsSucceeded', 1);
      // Concurrent edits of one item are the server's to settle (device priority); the loser is kept there.
      this.reporter.count('conflicts', summary.conflicts.length);
      // Server deletes are applied by the app, as the CLI removes the files.
      this.replica.transaction((tx) => reapDeleted(tx, this.collectionId));
      for (const r of summary.rejected) this.reporter.problem(`device ${this.id}: the server refused ${r.localId}: ${r.status} ${r.message}`);
      // A server that forgets an issued sync key has lost committed state.
      if (summary.reinitialized) this.reporter.problem(`device ${this.id}: the server no longer knew the device's sync key`);
      return summary;
    } catch (err) {
      if (err instanceof RetryableError) {
        this.reporter.count('syncsFailed', 1);
        return null;
      }
      this.reporter.problem(`device ${this.id}: sync failed: ${(err as Error).stack ?? String(err)}`);
      return null;
    }
  }

  private editRandomly(): void {
    const edits = 1 + Math.floor(this.random() * editsPerRoundMax);
    for (let i = 0; i < edits; i++) this.replica.transaction((tx) => this.editOnce(tx));
    this.reporter.count('edits', edits);
  }

  /** An add, a change or a delete. Deletes also hit items whose Add is not acknowledged yet. */
  private editOnce(tx: ReplicaTx): void {
    const live = tx.all(this.collectionId).filter((i) => i.data !== null);
    const editable = live.filter((i) => editableBy(parseCard(i.data as string), this.id));
    const addShare = live.length < liveItemsTarget ? 0.5 : 0.1;
    const roll = this.random();
    if (roll < addShare || editable.length === 0) return this.add(tx);
    const item = editable[Math.floor(this.random() * editable.length)] as LocalItem;
    if (roll < addShare + (1 - addShare) * 0.7) this.change(tx, item);
    else this.delete(tx, item);
  }

  private add(tx: ReplicaTx): void {
    const crashId = `${this.id}-${this.life}-${++this.itemsCreated}`;
    const card = { crashId, version: this.nextVersion(), withUid: this.random() < 0.5, owner: this.id };
    this.logEdit('add', `local-${crashId}`, null, card.version);
    recordLocalPut(tx, this.collectionId, `local-${crashId}`, cardText(card));
  }

  private change(tx: ReplicaTx, item: LocalItem): void {
    const card = { ...parseCard(item.data as string), version: this.nextVersion() };
    this.logEdit('change', item.localId, item, card.version);
    recordLocalPut(tx, this.collectionId, item.localId, cardText(card));
  }

  private delete(tx: ReplicaTx, item: LocalItem): void {
    this.logEdit('delete', item.localId, item, null);
    recordLocalDelete(tx, this.collectionId, item.localId);
  }

  private logEdit(op: string, localId: string, item: LocalItem | null, version: string | null): void {
    const was = item ? ` (server id ${item.serverId ?? 'none'}, pending ${item.pending ?? 'nothing'})` : '';
    this.reporter.wire({ edit: `${op} ${localId}${version ? ` ${version}` : ''}${was}` });
  }

  private nextVersion(): string {
    return `${this.id}.${this.life}.${++this.versionsWritten}`;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
