import { openSqliteReplica } from '../../src/sdk/node/sqlite-replica.js';
import { reapDeleted, recordLocalDelete, recordLocalPut, type LocalItem, type Replica, type ReplicaTx } from '../../src/sdk/replica.js';
import { SyncClient, type SyncSummary } from '../../src/sdk/sync-loop.js';
import { HttpTransport, RetryableError, type Credentials } from '../../src/sdk/transport.js';
import { cardText, editableBy, parseCard } from './cards.js';
import { RecordingTransport, type AckLedger } from './ledger.js';
import type { WireLog } from './wire-log.js';

/**
 * One device of the crash run: an SDK client with its own SQLite replica that keeps editing contacts
 * and syncing, whether or not the server is up, the way an app on a phone does.
 */

export interface DeviceOptions {
  id: string;
  replicaFile: string;
  baseUrl: string;
  credentials: Credentials;
  collectionId: string;
  ledger: AckLedger;
  wireLog: WireLog;
  random: () => number;
  /** Told about anything a healthy server should never cause (a refused item, a forgotten sync key). */
  onProblem: (problem: string) => void;
}

/** Around this many live items the devices stop favouring adds, so the collection stays a workable size. */
const liveItemsTarget = 60;
const editsPerRoundMax = 3;
/** Pauses between rounds; longer after a failed sync, as an app backs off while offline. */
const pauseAfterSyncMsMax = 30;
const pauseAfterFailureMsMax = 80;

export class CrashDevice {
  readonly id: string;
  readonly replica: Replica;
  readonly stats = { syncsSucceeded: 0, syncsFailed: 0, edits: 0, conflicts: 0 };
  private readonly client: SyncClient;
  private readonly collectionId: string;
  private readonly random: () => number;
  private readonly onProblem: (problem: string) => void;
  private readonly wireLog: WireLog;
  private itemsCreated = 0;
  private versionsWritten = 0;

  constructor(o: DeviceOptions) {
    this.id = o.id;
    this.collectionId = o.collectionId;
    this.random = o.random;
    this.onProblem = o.onProblem;
    this.wireLog = o.wireLog;
    this.replica = openSqliteReplica(o.replicaFile);
    // A short timeout and few quick retries: during an outage a sync gives up fast and the device goes
    // on editing, so its next sync carries edits made since the failed one (the retried sync key then
    // meets new commands).
    const transport = new RecordingTransport(new HttpTransport({ baseUrl: o.baseUrl, credentials: o.credentials, timeoutMs: 5_000 }), o.ledger, o.wireLog, o.id);
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
      await sleep(this.random() * (synced ? pauseAfterSyncMsMax : pauseAfterFailureMsMax));
    }
  }

  /** One syncCollection(); null when the server could not be reached (or was refused: see onProblem). */
  async sync(): Promise<SyncSummary | null> {
    try {
      const summary = await this.client.syncCollection(this.collectionId);
      this.stats.syncsSucceeded++;
      // Concurrent edits of one item are the server's to settle (device priority); the loser is kept there.
      this.stats.conflicts += summary.conflicts.length;
      // Server deletes are applied by the app, as the CLI removes the files.
      this.replica.transaction((tx) => reapDeleted(tx, this.collectionId));
      for (const r of summary.rejected) this.onProblem(`device ${this.id}: the server refused ${r.localId}: ${r.status} ${r.message}`);
      // A server that forgets an issued sync key has lost committed state.
      if (summary.reinitialized) this.onProblem(`device ${this.id}: the server no longer knew the device's sync key`);
      return summary;
    } catch (err) {
      if (err instanceof RetryableError) {
        this.stats.syncsFailed++;
        return null;
      }
      this.onProblem(`device ${this.id}: sync failed: ${(err as Error).stack ?? String(err)}`);
      return null;
    }
  }

  /** What the replica holds, for the convergence check. */
  items(): LocalItem[] {
    return this.replica.transaction((tx) => tx.all(this.collectionId));
  }

  private editRandomly(): void {
    const edits = 1 + Math.floor(this.random() * editsPerRoundMax);
    for (let i = 0; i < edits; i++) this.replica.transaction((tx) => this.editOnce(tx));
    this.stats.edits += edits;
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
    const crashId = `${this.id}-${++this.itemsCreated}`;
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
    this.wireLog.write({ device: this.id, edit: `${op} ${localId}${version ? ` ${version}` : ''}${was}` });
  }

  private nextVersion(): string {
    return `${this.id}.${++this.versionsWritten}`;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
