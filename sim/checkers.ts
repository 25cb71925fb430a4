import type { LocalItem } from '../src/sdk/replica.js';
import type { Causality } from './causality.js';
import type { History } from './history.js';
import type { ServerTruth } from './server.js';
import { describeVersion, simIdOf } from './workload.js';

/**
 * The properties every run must end with, once all devices have synced without faults. Each checker
 * returns what it found wrong, as sentences naming records, devices and server ids.
 */

export interface CheckFailure {
  check: CheckName;
  detail: string;
}

export type CheckName =
  /** The run itself: no device failed for good, and the quiet phase settled. */
  | 'run-completes'
  | 'devices-match-truth'
  | 'no-duplicates'
  | 'nothing-pending'
  | 'deletes-stay-deleted'
  | 'acknowledged-changes-kept'
  | 'records-stay-apart'
  | 'upstream-matches-truth';

export const checkNames: readonly CheckName[] = [
  'run-completes',
  'devices-match-truth',
  'no-duplicates',
  'nothing-pending',
  'deletes-stay-deleted',
  'acknowledged-changes-kept',
  'records-stay-apart',
  'upstream-matches-truth',
];

export interface DeviceEnd {
  id: string;
  /** Its items in every collection. */
  items: LocalItem[];
  /** Collection id -> the sync key it holds. */
  syncKeys: Map<string, number>;
  /**
   * The truth as this device must hold it, when it holds items in other terms than the server's: an
   * ActiveSync phone's calendar, each item as its view (eas-device.ts). Absent: the server's items as they are.
   */
  truth?: Map<string, string>;
}

export interface EndState {
  truth: ServerTruth;
  /** What a new device, syncing without faults after the run, received. */
  freshDevice: Map<string, string>;
  devices: DeviceEnd[];
  /** Who saw which version when writing (causality.ts). */
  causality: Causality;
  /** Upstream servers (dav-upstream.ts): what each holds, and the truth of the collection it feeds. */
  upstreams: UpstreamEnd[];
}

export interface UpstreamEnd {
  id: string;
  /** Data by member URL. */
  members: Map<string, string>;
  /** The items of the collection it is mapped to: data by server id. */
  truth: Map<string, string>;
}

export function runCheckers(end: EndState, history: History): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const fail = (check: CheckName) => (detail: string) => failures.push({ check, detail });
  devicesMatchTruth(end, fail('devices-match-truth'));
  noDuplicates(end, history, fail('no-duplicates'));
  nothingPending(end, history, fail('nothing-pending'));
  deletesStayDeleted(end, history, fail('deletes-stay-deleted'));
  acknowledgedChangesKept(end, history, fail('acknowledged-changes-kept'));
  recordsStayApart(history, fail('records-stay-apart'));
  upstreamsMatchTruth(end, fail('upstream-matches-truth'));
  // A replayed reply acknowledges the same thing again; say each finding once.
  return failures.filter((f, i) => failures.findIndex((g) => g.check === f.check && g.detail === f.detail) === i);
}

type Report = (detail: string) => void;

/** 1. Every device, and a device that starts from nothing, holds exactly the server's items. */
function devicesMatchTruth(end: EndState, report: Report): void {
  compareWithTruth('a fresh device', end.freshDevice, end.truth.items, report);
  for (const device of end.devices) {
    const held = new Map<string, string>();
    for (const item of device.items) {
      if (item.data === null) continue;
      if (item.serverId === null) continue; // an unsent add: nothing-pending reports it
      if (held.has(item.serverId)) report(`${device.id} holds server item ${item.serverId} twice (local ${item.localId} among them)`);
      held.set(item.serverId, item.data);
    }
    compareWithTruth(device.id, held, device.truth ?? end.truth.items, report);
  }
}

function compareWithTruth(who: string, held: Map<string, string>, truth: Map<string, string>, report: Report): void {
  for (const [serverId, data] of truth) {
    const mine = held.get(serverId);
    if (mine === undefined) report(`${who} lacks ${describeVersion(data)} (server item ${serverId})`);
    else if (mine !== data) report(`${who} holds ${describeVersion(mine)} where the server has ${describeVersion(data)} (server item ${serverId}${differences(mine, data)})`);
  }
  for (const [serverId, data] of held) {
    if (!truth.has(serverId)) report(`${who} holds ${describeVersion(data)} (server item ${serverId}), which the server does not`);
  }
}

/** For versions that differ in more than their edit versions (an ActiveSync view): the lines only one side has. */
function differences(mine: string, truth: string): string {
  if (describeVersion(mine) !== describeVersion(truth)) return '';
  const [a, b] = [mine.split('\r\n'), truth.split('\r\n')];
  const only = (x: string[], y: string[]) => x.filter((l) => l !== '' && !y.includes(l)).join(' | ');
  return `; the device's own lines: ${only(a, b) || 'none'}; the server's own: ${only(b, a) || 'none'}`;
}

/**
 * 2. No record was duplicated by a retry. A record lives twice only where distinct user edits made it
 * so: two devices typing the same person in (records without a UID cannot be matched), or re-adding
 * their edits of a record deleted meanwhile. Each live item of such a record was made (since its last
 * delete, for an item made again under its DAV name) by a version that write was the first to store,
 * whether or not its reply arrived: an add of a version already stored elsewhere is a re-upload. And
 * no add made two of them, whether told so (its acknowledgments) or not (the add that carried each
 * item's first version: an edited retry of an add whose reply was lost must edit what the first
 * attempt made, not make another).
 */
function noDuplicates(end: EndState, history: History, report: Report): void {
  const bySimId = new Map<string, string[]>();
  for (const [serverId, data] of end.truth.items) {
    const simId = simIdOf(data);
    if (simId === null) {
      report(`server item ${serverId} is no record the simulation wrote`);
      continue;
    }
    bySimId.set(simId, [...(bySimId.get(simId) ?? []), serverId]);
  }
  for (const [simId, serverIds] of bySimId) {
    if (serverIds.length < 2) continue;
    // An item deleted and made again under its DAV name is what was written since its last delete.
    const lastDelete = (serverId: string) => history.versionsOf(serverId).reduce((at, v) => (v.data === null ? v.seq : at), 0);
    const madeWith = serverIds.map((serverId) => history.versionsOf(serverId).find((v) => v.data !== null && v.seq > lastDelete(serverId)));
    const reuploaded = serverIds.filter((_, i) => {
      const made = madeWith[i];
      return made?.data == null || made.originDevice === null || history.firstCommitOf(made.data) !== made.seq;
    });
    const addsOf = (serverId: string, i: number) => {
      const made = madeWith[i];
      const carried = made?.data != null && made.originDevice !== null ? history.addOf(made.originDevice, made.data) : undefined;
      const told = history.acks.filter((a) => a.op === 'add' && a.serverId === serverId && (a.seq ?? 0) > lastDelete(serverId)).map((a) => `${a.deviceId}/${a.clientId}`);
      return new Set([...told, ...(carried !== undefined ? [`${made?.originDevice}/${carried}`] : [])]);
    };
    const adds = serverIds.map(addsOf);
    const oneAddTwice = adds.some((mine, i) => adds.some((theirs, j) => j > i && [...mine].some((add) => theirs.has(add))));
    if (reuploaded.length > 0 || oneAddTwice) {
      const why = reuploaded.length > 0 ? `no write of a new version made ${reuploaded.join(', ')}` : 'one add made several';
      report(`record ${simId} is live ${serverIds.length} times (server items ${serverIds.join(', ')}): ${why}`);
    }
  }
}

/**
 * 3. Nothing is left to send, and every device's position in each collection is past the collection's
 * last change. (The account's sequence is shared by its collections, and a replayed answer leaves the
 * position where the answer it replays did: changes of other collections since are none of its business.)
 */
function nothingPending(end: EndState, history: History, report: Report): void {
  for (const device of end.devices) {
    for (const item of device.items) {
      if (item.pending === null) continue;
      const refused = item.rejected ? `, refused: ${item.rejected}` : '';
      report(`${device.id} still has a pending ${item.pending} of ${describeVersion(item.data)} (local ${item.localId}${refused})`);
    }
    for (const [collectionId, syncKey] of device.syncKeys) {
      const state = end.truth.syncStates.get(`${device.id}/${collectionId}`);
      const where = `${device.id} in collection ${collectionId}`;
      if (!state) report(`${where} has no sync state on the server`);
      else {
        if (state.syncKey !== syncKey) report(`${where} holds sync key ${syncKey}, the server issued ${state.syncKey}`);
        const last = history.lastCommitIn(collectionId);
        if (state.checkpointSeq < last || state.checkpointSeq > end.truth.currentSeq) {
          report(`${where} has its checkpoint at ${state.checkpointSeq}; the collection's last change is at ${last}, the account at ${end.truth.currentSeq}`);
        }
      }
    }
  }
}

/**
 * 4. A delete the server acknowledged stays: neither the deleted item nor an item created after the
 * delete for the same record is live at the end, unless it holds an edit the delete did not see (an
 * edit beats a delete, and may reach the server later as a re-add): a version the server first
 * committed after the delete, or one carrying an edit its user had not seen when deleting (a DAV
 * client whose upload's reply was lost, finding the item deleted, uploads its edit again). An old
 * version the deleting user had seen, sent again, does not count. Other live items of the record (a
 * record without a UID that two devices re-added separately) were not touched by this delete.
 */
function deletesStayDeleted(end: EndState, history: History, report: Report): void {
  const live = [...end.truth.items].map(([serverId, data]) => ({ serverId, simId: simIdOf(data), versions: history.versionsOf(serverId) }));
  for (const del of history.acks.filter((a) => a.op === 'delete')) {
    if (del.seq === null) {
      report(`${del.deviceId} was told server item ${del.serverId} is deleted, but the server never committed its delete`);
      continue;
    }
    const deletedAt = del.seq;
    const tombstone = history.versionsOf(del.serverId).find((v) => v.seq === deletedAt && v.data === null);
    const deleted = tombstone && history.deletedVersion(tombstone);
    const unseenByDelete = (data: string) => (history.firstCommitOf(data) ?? -1) > deletedAt || (deleted !== undefined && !end.causality.knew(deleted, data));
    const back = live.filter((t) => t.serverId === del.serverId || (t.simId === del.simId && (t.versions[0]?.seq ?? 0) > deletedAt));
    for (const { serverId, versions } of back) {
      if (!versions.some((v) => v.data !== null && v.seq > deletedAt && unseenByDelete(v.data))) {
        report(
          `record ${del.simId} is live again as server item ${serverId} after ${del.deviceId}'s acknowledged delete of ${del.serverId} ` +
            `at seq ${deletedAt}, and it holds no edit that delete had not seen`,
        );
      }
    }
  }
}

/**
 * 5. No acknowledged version is lost. Each is, at the end: in the truth; or replaced by a later write of
 * the item whose author had seen it (causality.ts: the edit was made on a device holding that version or
 * one made knowing it; a delete, by a user who deleted it or a version made knowing it), where that
 * later version is in turn accounted for the same way or is a delete; or kept as a conflict record.
 * A later write made without seeing it, with no conflict record, is a lost update. And every version
 * answered `conflict` was kept as the conflict record that answer promised.
 */
const keptAsConflict = (end: EndState, serverId: string, data: string) => end.truth.conflictRecords.some((c) => c.serverId === serverId && c.data === data);

function acknowledgedChangesKept(end: EndState, history: History, report: Report): void {
  const memo = new Map<string, boolean>();
  const accounted = (serverId: string, data: string, seq: number): boolean => {
    const key = `${serverId}\n${seq}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, false);
    const kept =
      end.truth.items.get(serverId) === data ||
      keptAsConflict(end, serverId, data) ||
      history.versionsOf(serverId).some((later) => {
        if (later.seq <= seq) return false;
        if (later.data !== null) return end.causality.knew(later.data, data) && accounted(serverId, later.data, later.seq);
        const deleted = history.deletedVersion(later);
        return deleted !== undefined && end.causality.knew(deleted, data);
      });
    memo.set(key, kept);
    return kept;
  };
  for (const ack of history.acks) {
    if (ack.data === null) continue;
    if (ack.seq === null) {
      report(`${ack.deviceId}'s ${ack.op} of ${describeVersion(ack.data)} (server item ${ack.serverId}) was acknowledged, but the server never stored it`);
      continue;
    }
    if (accounted(ack.serverId, ack.data, ack.seq)) continue;
    const later = history
      .versionsOf(ack.serverId)
      .filter((w) => w.seq > (ack.seq as number))
      .map((w) => `${describeVersion(w.data)} by ${w.originDevice ?? 'the server'} at seq ${w.seq}`);
    report(
      `${ack.deviceId}'s acknowledged ${ack.op} of ${describeVersion(ack.data)} (server item ${ack.serverId}, seq ${ack.seq}) is lost: ` +
        `the server holds ${describeVersion(end.truth.items.get(ack.serverId) ?? null)}, no conflict record keeps it, and no later write ` +
        `made knowing it accounts for it (later writes: ${later.length > 0 ? later.join(', ') : 'none'})`,
    );
  }
  for (const lost of history.conflicted) {
    if (lost.data !== null && !keptAsConflict(end, lost.serverId, lost.data)) {
      const what = `${lost.deviceId}'s ${lost.op} of ${describeVersion(lost.data)} (server item ${lost.serverId})`;
      report(`${what} was answered "conflict", but no conflict record keeps it`);
    }
  }
}

/**
 * 6. Records stay apart: every version a server item ever held is of one record. Two records that only
 * share a name (two "John Smith"s with different addresses and numbers) are two contacts, and a match
 * by UID, or by name and a shared address or number, only ever joins copies of the same record.
 */
function recordsStayApart(history: History, report: Report): void {
  for (const [serverId, versions] of history.items()) {
    const records = [...new Set(versions.filter((v) => v.data !== null).map((v) => simIdOf(v.data as string) ?? '?'))];
    if (records.length > 1) report(`server item ${serverId} held records ${records.join(' and ')}: they were joined as one`);
  }
}

/**
 * 7. Every upstream holds exactly the items of the collection it feeds: each once, with the server's
 * data, and nothing else. Compared by content, not through the hub's records of which member is which
 * item: those are the code under test.
 */
function upstreamsMatchTruth(end: EndState, report: Report): void {
  for (const upstream of end.upstreams) {
    const byData = new Map<string, string[]>();
    for (const [url, data] of upstream.members) byData.set(data, [...(byData.get(data) ?? []), url]);
    const wanted = new Map<string, number>();
    for (const data of upstream.truth.values()) wanted.set(data, (wanted.get(data) ?? 0) + 1);
    for (const [serverId, data] of upstream.truth) {
      const urls = byData.get(data) ?? [];
      if (urls.length === 0) report(`${upstream.id} lacks ${describeVersion(data)} (server item ${serverId})${whatItHolds(upstream, data)}`);
      else if (urls.length > (wanted.get(data) ?? 0)) report(`${upstream.id} holds ${describeVersion(data)} (server item ${serverId}) ${urls.length} times: ${urls.join(', ')}`);
    }
    for (const [data, urls] of byData) {
      if (!wanted.has(data)) report(`${upstream.id} holds ${describeVersion(data)} at ${urls.join(', ')}, which the server does not`);
    }
  }
}

/** What the upstream holds of the record instead, for a message. */
function whatItHolds(upstream: UpstreamEnd, data: string): string {
  const simId = simIdOf(data);
  const held = [...upstream.members].filter(([, d]) => simIdOf(d) === simId).map(([url, d]) => `${describeVersion(d)} at ${url}`);
  return held.length > 0 ? `; it holds ${held.join(', ')}` : '';
}
