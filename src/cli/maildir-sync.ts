import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { limits } from '../core/limits.js';
import { rawPart } from '../content/mail/item.js';
import { reapDeleted, recordLocalDelete, recordLocalPut, type LocalItem, type Replica } from '../sdk/replica.js';
import type { SyncClient, SyncSummary } from '../sdk/sync-loop.js';
import { RequestRefusedError, RetryableError, type HttpTransport, type Transport } from '../sdk/transport.js';
import { bindFolder, fileStemOf, type FolderSyncOptions } from './folder-sync.js';

/**
 * Two-way sync of a Maildir with a mail collection (docs/operations.md § Upstream servers, A Maildir).
 *
 * Each message is a file `cur/<unique>:2,<letters>`, its unique part the item's server id (as a file
 * name), its letters its flags (Maildir "info", sorted): D \Draft, F \Flagged, P $Forwarded,
 * R \Answered, S \Seen. T (trashed) stands for no flag: the protocol has no \Deleted (docs/protocol.md
 * §10.5), and a reader that removes a T file is what deletes the message. Letters it does not know (T,
 * Dovecot's keyword letters) are kept on the file as they are; flags without a letter (keywords) are kept
 * on the item as they are.
 *
 * The replica (folder-sync.ts bindFolder) keeps per item, as its appState, the file name last written or
 * seen (`cur/…` or `new/…`). A file is found by its unique part, wherever it is (a reader moves new/ to
 * cur/ and renames as it sets flags): letters that differ from those of that name are the reader's
 * change, sent as the item with those flags; letters that equal them while the item's flags differ are a
 * server change not yet written, done by a rename. A message is written to tmp/ and renamed into cur/
 * (the Maildir delivery rule), and only then recorded, so a crash anywhere leaves a state the next run
 * reconciles: a file written but not recorded is found by its unique part and taken as written.
 */

export interface MaildirSyncReport extends SyncSummary {
  collectionId: string;
  uploaded: { changed: number; deleted: number };
  /** Messages written to the Maildir, files renamed for flags the server changed, files removed. */
  delivered: number;
  renamed: number;
  removed: number;
  /** Files of messages the server does not know, first seen in this run: a message reaches a mail folder by mail. */
  unknown: string[];
  /** Messages that could not be written, and why (the server refused the whole message, or it is gone). */
  failed: Array<{ serverId: string; message: string }>;
}

/** The Maildir info letters of IMAP flags, in the order they are written (sorted, as the Maildir rule asks). */
const letters: ReadonlyArray<readonly [string, string]> = [
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['P', '$Forwarded'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
];
const mappedFlags = new Set(letters.map(([, flag]) => flag));
const mappedLetters = new Set(letters.map(([letter]) => letter));

/** A file of the Maildir: where it is, and its unique part and info letters (none for a file without info). */
interface MailFile {
  path: string;
  unique: string;
  letters: string;
}

export function parseMailFileName(dir: 'cur' | 'new', name: string): MailFile {
  const colon = name.indexOf(':');
  const unique = colon < 0 ? name : name.slice(0, colon);
  const info = colon < 0 ? '' : name.slice(colon + 1);
  return { path: `${dir}/${name}`, unique, letters: info.startsWith('2,') ? info.slice(2) : '' };
}

/** The letters of the flags the item holds, with the letters of `kept` it has none for (T, keyword letters), sorted. */
export function lettersOf(flags: readonly string[], kept = ''): string {
  const out = new Set([...kept].filter((l) => !mappedLetters.has(l)));
  for (const [letter, flag] of letters) if (flags.includes(flag)) out.add(letter);
  return [...out].sort().join('');
}

/** The item's flags with those that have a letter as `fileLetters` says: keywords kept, sorted by code point. */
export function flagsOf(flags: readonly string[], fileLetters: string): string[] {
  const out = flags.filter((f) => !mappedFlags.has(f));
  for (const [letter, flag] of letters) if (fileLetters.includes(letter)) out.push(flag);
  return [...new Set(out)].sort();
}

const mappedOnly = (l: string) => [...l].filter((c) => mappedLetters.has(c)).join('');

function listMaildir(dir: string): Map<string, MailFile> {
  const files = new Map<string, MailFile>();
  for (const sub of ['new', 'cur'] as const) {
    for (const name of readdirSync(join(dir, sub))) {
      if (name.startsWith('.')) continue;
      const file = parseMailFileName(sub, name);
      files.set(file.unique, file);
    }
  }
  return files;
}

/**
 * The item's data as an object, and its flags. A change sends the very data with other flags, every field
 * as the server wrote it (docs/protocol.md §10.5), those this program does not know included.
 */
function mailOf(item: LocalItem): { data: Record<string, unknown>; flags: string[] } {
  const data = JSON.parse(item.data as string) as Record<string, unknown>;
  const flags = data.flags;
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string')) throw new Error(`item ${item.serverId}: a mail item without flags`);
  return { data, flags };
}

/** A folder's options, with a transport that fetches messages whole (HttpTransport). */
export type MaildirSyncOptions = FolderSyncOptions & { transport: Transport & Pick<HttpTransport, 'fetchMailPart'> };

/** A Maildir bound to its mail folder, with its replica open (shared by a run and by --watch: maildir-watch.ts). */
export interface OpenMaildir {
  collectionId: string;
  deviceId: string;
  client: SyncClient;
  /** Turns what the reader did to the Maildir into pending edits; notes files of unknown messages. */
  scan(): { uploaded: MaildirSyncReport['uploaded']; unknown: string[] };
  /** Writes new messages, renames files whose flags the server changed, removes what the server deleted. */
  materialize(): Promise<Pick<MaildirSyncReport, 'delivered' | 'renamed' | 'removed' | 'failed'>>;
  close(): void;
}

export async function openMaildir(o: MaildirSyncOptions): Promise<OpenMaildir> {
  const bound = await bindFolder(
    o,
    async () => {
      const found = (await o.transport.listCollections()).find((c) => c.name === o.collectionName);
      if (!found) throw new Error(`the account has no collection ${o.collectionName}; mail folders come from its IMAP upstream (syncpoint upstream add --kind imap)`);
      if (found.kind !== 'mail') throw new Error(`collection ${o.collectionName} holds ${found.kind}, not mail`);
      return found;
    },
    (serverId) => fileStemOf(serverId),
  );
  const { collectionId, deviceId, replica, client } = bound;
  if (bound.kind !== 'mail') {
    replica.close();
    throw new Error(`${o.dir} is bound to collection ${o.collectionName}, which holds ${bound.kind}: sync it without --kind mail`);
  }
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(o.dir, sub), { recursive: true });
  const transport = o.transport;
  return {
    collectionId,
    deviceId,
    client,
    scan: () => scan(o.dir, replica, collectionId),
    materialize: () => materialize(o.dir, replica, collectionId, (serverId) => transport.fetchMailPart(collectionId, serverId, rawPart).then((p) => p.bytes)),
    close: () => replica.close(),
  };
}

export async function syncMaildir(o: MaildirSyncOptions): Promise<MaildirSyncReport> {
  const maildir = await openMaildir(o);
  try {
    const { uploaded, unknown } = maildir.scan();
    const summary = await maildir.client.syncCollection(maildir.collectionId);
    return { ...summary, collectionId: maildir.collectionId, uploaded, unknown, ...(await maildir.materialize()) };
  } finally {
    maildir.close();
  }
}

/** Turns what the reader did to the Maildir since the last run into pending edits; notes files of unknown messages. */
function scan(dir: string, replica: Replica, collectionId: string): { uploaded: MaildirSyncReport['uploaded']; unknown: string[] } {
  const uploaded = { changed: 0, deleted: 0 };
  const files = listMaildir(dir);
  const known = new Set<string>();
  replica.transaction((tx) => {
    for (const item of tx.all(collectionId)) {
      known.add(item.localId);
      if (item.data === null) continue;
      const file = files.get(item.localId);
      if (item.appState === null) {
        // Written, then the run stopped before it was recorded: taken as written.
        if (file) tx.put(collectionId, { ...item, appState: file.path });
        continue;
      }
      if (!file) {
        recordLocalDelete(tx, collectionId, item.localId);
        uploaded.deleted++;
        continue;
      }
      const before = parseMailFileName(item.appState.startsWith('new/') ? 'new' : 'cur', item.appState.slice(4));
      if (mappedOnly(file.letters) !== mappedOnly(before.letters)) {
        const mail = mailOf(item);
        const data = JSON.stringify({ ...mail.data, flags: flagsOf(mail.flags, file.letters) });
        if (data !== item.data) {
          recordLocalPut(tx, collectionId, item.localId, data);
          uploaded.changed++;
        }
      }
      const now = tx.get(collectionId, item.localId);
      if (now) tx.put(collectionId, { ...now, appState: file.path });
    }
  });
  // Reported once: the names reported before are kept beside the replica.
  const reportedFile = join(dir, '.syncpoint', 'unknown.json');
  const reported = new Set<string>(existsSync(reportedFile) ? (JSON.parse(readFileSync(reportedFile, 'utf8')) as string[]) : []);
  const strangers = [...files.values()].filter((f) => !known.has(f.unique)).map((f) => f.path);
  const unknown = strangers.filter((p) => !reported.has(p));
  if (unknown.length > 0 || strangers.length !== reported.size) writeFileSync(reportedFile, JSON.stringify(strangers));
  return { uploaded, unknown };
}

/** Writes new messages, renames files whose flags the server changed, removes what the server deleted. */
async function materialize(
  dir: string,
  replica: Replica,
  collectionId: string,
  fetchRaw: (serverId: string) => Promise<Uint8Array>,
): Promise<Pick<MaildirSyncReport, 'delivered' | 'renamed' | 'removed' | 'failed'>> {
  const out = { delivered: 0, renamed: 0, removed: 0, failed: [] as MaildirSyncReport['failed'] };
  const files = listMaildir(dir);
  // A write that stopped between tmp/ and cur/ left its file in tmp/; it is written again below.
  for (const name of readdirSync(join(dir, 'tmp'))) if (name.endsWith('.syncpoint')) rmSync(join(dir, 'tmp', name), { force: true });
  const record = (localId: string, path: string) =>
    replica.transaction((tx) => {
      const now = tx.get(collectionId, localId);
      if (now) tx.put(collectionId, { ...now, appState: path });
    });
  const deliveries: Array<{ localId: string; serverId: string; name: string }> = [];
  for (const item of replica.transaction((tx) => tx.all(collectionId))) {
    const file = files.get(item.localId);
    if (item.serverId === null && item.pending === 'add') {
      // Its flags changed here, and the message was deleted there meanwhile: the SDK keeps such an edit as a
      // new item, but a message reaches a folder only by mail, so the delete wins (docs/protocol.md §10.5).
      if (file) rmSync(join(dir, file.path), { force: true });
      replica.transaction((tx) => tx.remove(collectionId, item.localId));
      out.removed++;
      continue;
    }
    if (item.data === null || item.serverId === null) continue;
    const want = lettersOf(mailOf(item).flags, file?.letters);
    const name = `${item.localId}:2,${want}`;
    if (!file) {
      if (item.appState === null) deliveries.push({ localId: item.localId, serverId: item.serverId, name }); // else removed by the reader: its delete is pending
    } else if (mappedOnly(file.letters) !== mappedOnly(want) && item.pending === null) {
      renameSync(join(dir, file.path), join(dir, 'cur', name));
      record(item.localId, `cur/${name}`);
      out.renamed++;
    }
  }
  // Fetched a few at once (each is an IMAP connection of the server's): one fewer than the server allows
  // an account (limits.mailPartFetchesPerAccountMax), so a mail program reading a message meanwhile is not refused.
  const deliver = async (d: (typeof deliveries)[number]) => {
    let bytes: Uint8Array;
    try {
      bytes = await fetchRaw(d.serverId);
    } catch (err) {
      // Refused (gone, too large) or out of reach: the others are written all the same; this one is tried again next run.
      if (!(err instanceof RequestRefusedError || err instanceof RetryableError)) throw err;
      out.failed.push({ serverId: d.serverId, message: err instanceof RequestRefusedError ? `${err.status}: ${err.message}` : err.message });
      return;
    }
    const temp = join(dir, 'tmp', `${d.localId}.${process.pid}.syncpoint`);
    writeFileSync(temp, bytes, { flush: true });
    renameSync(temp, join(dir, 'cur', d.name));
    record(d.localId, `cur/${d.name}`);
    out.delivered++;
  };
  const workers = Array.from({ length: Math.max(1, limits.mailPartFetchesPerAccountMax - 1) }, async () => {
    for (let d = deliveries.shift(); d !== undefined; d = deliveries.shift()) await deliver(d);
  });
  await Promise.all(workers);
  const gone = replica.transaction((tx) => tx.all(collectionId).filter((i) => i.data === null && i.pending === null));
  for (const item of gone) {
    const file = files.get(item.localId);
    if (file) rmSync(join(dir, file.path), { force: true });
  }
  out.removed = replica.transaction((tx) => reapDeleted(tx, collectionId)).length;
  return out;
}
