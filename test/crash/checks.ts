import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { databaseFile } from '../../src/server/open-store.js';
import type { LocalItem } from '../../src/sdk/replica.js';
import { openDatabase } from '../../src/sqlite/open.js';
import { parseCard } from './cards.js';
import type { Ack, AckLedger } from './ledger.js';

/**
 * Reading what the server left on disk, and the checks on it. Each check is a pure function of that
 * image and of what the ledger recorded, and returns the problems it found as sentences (none: all well).
 */

export interface ServerRow {
  id: string;
  data: string | null;
  etag: string;
  deletedAt: number | null;
  /** Null for a version the server wrote itself (a merge of two devices' edits). */
  originDevice: string | null;
}

export interface DatabaseImage {
  /** The lines of PRAGMA integrity_check: exactly ['ok'] for a sound file. */
  integrity: string[];
  /** The collection's items, tombstones included, by server id. */
  rows: Map<string, ServerRow>;
}

/** Opens a database file the project's way, reads what the checks need, and closes it. */
export function readDatabase(file: string, collectionId: string): DatabaseImage {
  const { db, prepare } = openDatabase(file);
  try {
    const integrity = prepare<[], { integrity_check: string }>('PRAGMA integrity_check')
      .all()
      .map((r) => r.integrity_check);
    const rows = prepare<[string], { id: string; data: string | null; etag: string; deleted_at: number | null; origin_device: string | null }>(
      'SELECT id, data, etag, deleted_at, origin_device FROM items WHERE collection_id = ?',
    ).all(collectionId);
    const toRow = (r: (typeof rows)[number]): ServerRow => ({ id: r.id, data: r.data, etag: r.etag, deletedAt: r.deleted_at, originDevice: r.origin_device });
    return { integrity, rows: new Map(rows.map((r) => [r.id, toRow(r)])) };
  } finally {
    db.close();
  }
}

/**
 * Reads a copy of a dead server's files (the database and its WAL, as the kill left them). Opening the
 * copy runs SQLite's crash recovery there and checkpoints on close, while the server's own directory
 * stays untouched, so the restarted server still recovers from exactly what the kill left.
 */
export function readCrashImage(dataDir: string, scratchDir: string, collectionId: string): DatabaseImage {
  rmSync(scratchDir, { recursive: true, force: true });
  mkdirSync(scratchDir, { recursive: true });
  const file = databaseFile(dataDir);
  const copy = databaseFile(scratchDir);
  copyFileSync(file, copy);
  if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
  try {
    return readDatabase(copy, collectionId);
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

export function checkIntegrity(image: DatabaseImage): string[] {
  return image.integrity.length === 1 && image.integrity[0] === 'ok' ? [] : [`integrity_check: ${image.integrity.slice(0, 5).join('; ')}`];
}

/**
 * Every change a device had acknowledged is still there, or was replaced by a later one. A server item
 * moves through versions and ends, if at all, in a tombstone: a change of a deleted item is refused
 * (conflict or notFound) and an Add matches only live items, so a delete is always the last thing to
 * happen to it. Hence, for each device's last acknowledged change of an item:
 *   - the row must exist (tombstones are kept for 90 days);
 *   - an acknowledged delete must still be a tombstone;
 *   - an acknowledged version must be there, or a tombstone, or another version of the same item that
 *     may have committed after it. A version certainly committed before it (shown committed before our
 *     version was first sent) means the server went back in time: a lost change.
 */
export function checkAcknowledged(ledger: AckLedger, rows: Map<string, ServerRow>, acks: readonly Ack[] = [...ledger.lastAcks.values()]): { checked: number; problems: string[] } {
  const problems: string[] = [];
  for (const ack of acks) {
    const problem = problemWith(ack, rows.get(ack.serverId), ledger);
    if (problem) problems.push(`device ${ack.deviceId}, item ${ack.serverId}: ${problem}`);
  }
  return { checked: acks.length, problems };
}

function problemWith(ack: Ack, row: ServerRow | undefined, ledger: AckLedger): string | null {
  if (!row) return `acknowledged ${ack.deleted ? 'delete' : `version ${ack.version}`}, but the server has no such item`;
  if (ack.deleted) return row.deletedAt === null ? `acknowledged delete, but the item is live again (${summary(row.data as string)})` : null;
  if (row.deletedAt !== null) return null;
  const held = parseCard(row.data as string);
  // An ActiveSync acknowledgement names the version by its label only (ledger.ts).
  if (ack.etag === null ? held.crashId === ack.crashId && held.version === ack.version : row.etag === ack.etag) return null;
  if (held.crashId !== ack.crashId) return `acknowledged version ${ack.version} of ${ack.crashId}, but the server holds ${summary(row.data as string)}`;
  // A version no device saw as bytes (written from an ActiveSync device's fields) is known by its label.
  const record = ledger.versions.get(row.etag) ?? (row.originDevice === null ? undefined : ledger.labels.get(held.version));
  // A merge whose answer never arrived is the one version nobody saw; it was made from acknowledged edits.
  if (!record) return row.originDevice === null ? null : `acknowledged version ${ack.version}, but the server holds ${held.version}, which no device wrote`;
  if (record.committedBy !== null && record.committedBy < ack.sentAt) {
    return `acknowledged version ${ack.version} is lost: the server holds ${held.version}, committed before ${ack.version} was even sent`;
  }
  return null;
}

/** What one device holds once it is quiet. */
export interface DeviceView {
  id: string;
  items: LocalItem[];
}

/** Every replica holds exactly the server's live items, byte for byte, with nothing left to send and no twins. */
export function checkConvergence(rows: Map<string, ServerRow>, devices: DeviceView[]): string[] {
  const problems: string[] = [];
  const live = liveItems(rows);
  problems.push(...twins('the server', live));
  for (const device of devices) {
    const who = `device ${device.id}`;
    const unsettled = device.items.filter((i) => i.pending !== null || i.serverId === null || i.rejected !== null);
    if (unsettled.length > 0) problems.push(`${who} still has ${unsettled.length} unsynced items, e.g. ${describe(unsettled[0] as LocalItem)}`);
    const held = new Map(device.items.filter((i) => i.data !== null && i.serverId !== null).map((i) => [i.serverId as string, i.data as string]));
    problems.push(...sameItems(who, live, held));
  }
  return problems;
}

/**
 * What a client of another kind holds once it is quiet, by server item id: a DAV client the bytes (the
 * check compares them byte for byte), an ActiveSync device only the fields it carries, so there the
 * check compares what those fields say: which item (FileAs ⇄ FN) at which version (NickName ⇄ NICKNAME).
 */
export interface ClientView {
  who: string;
  held: Map<string, string>;
  /** How this kind of client sees a card the server holds; the identity for bytes. */
  view(data: string): string;
  /** Edits it still has to send. */
  unsent: number;
}

/** Every such client holds exactly the server's live items, as its kind shows them, with nothing left to send and no twins. */
export function checkClientConvergence(rows: Map<string, ServerRow>, clients: ClientView[]): string[] {
  const problems: string[] = [];
  const live = liveItems(rows);
  for (const client of clients) {
    if (client.unsent > 0) problems.push(`${client.who} still has ${client.unsent} edits to send`);
    problems.push(...twins(client.who, new Map([...client.held].map(([id, shown]) => [id, cardFromView(shown)]))));
    const seen = new Map([...live].map(([id, data]) => [id, client.view(data)]));
    problems.push(...sameItems(client.who, seen, client.held, (shown) => (shown.startsWith('BEGIN:VCARD') ? summary(shown) : shown.replace(' ', ' version '))));
  }
  return problems;
}

/** The views are either a card's bytes or `CRASH-ID VERSION`; both read back as a card for summaries and twins. */
const cardFromView = (shown: string): string => {
  if (shown.startsWith('BEGIN:VCARD')) return shown;
  const [crashId, version] = shown.split(' ');
  return `FN:Crash ${crashId}\r\nNICKNAME:${version}\r\n`;
};

const liveItems = (rows: Map<string, ServerRow>) => new Map([...rows.values()].filter((r) => r.deletedAt === null).map((r) => [r.id, r.data as string]));

function sameItems(who: string, live: Map<string, string>, held: Map<string, string>, describeHeld: (shown: string) => string = summary): string[] {
  const problems: string[] = [];
  for (const [id, data] of live) {
    const mine = held.get(id);
    if (mine === undefined) problems.push(`${who} lacks the server's live item ${id} (${describeHeld(data)})`);
    else if (mine !== data) problems.push(`${who} holds ${id} as ${describeHeld(mine)}, the server as ${describeHeld(data)}`);
  }
  for (const [id, data] of held) if (!live.has(id)) problems.push(`${who} holds ${id} (${describeHeld(data)}), which the server does not have live`);
  return problems;
}

/** Two live items with one X-CRASH-ID: a change was applied twice, or an Add created a twin. */
function twins(who: string, items: Map<string, string>): string[] {
  const byCrashId = new Map<string, string[]>();
  for (const [id, data] of items) {
    const { crashId } = parseCard(data);
    byCrashId.set(crashId, [...(byCrashId.get(crashId) ?? []), `${id} (${summary(data)})`]);
  }
  return [...byCrashId].filter(([, copies]) => copies.length > 1).map(([crashId, copies]) => `${who} holds ${copies.length} copies of ${crashId}: ${copies.join(', ')}`);
}

const summary = (data: string) => {
  const card = parseCard(data);
  return `${card.crashId} version ${card.version}${card.withUid ? '' : ', no UID'}`;
};

const describe = (item: LocalItem) =>
  `${item.localId} (server id ${item.serverId ?? 'none'}, pending ${item.pending ?? 'nothing'}${item.rejected ? `, refused: ${item.rejected}` : ''})`;
