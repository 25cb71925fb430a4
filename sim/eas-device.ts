import { calendarMapper } from '../src/faces/eas/mapping/calendar.js';
import type { EasVersion } from '../src/faces/eas/mapping/item-mapper.js';
import { child, children, decodeWbxml, el, encodeWbxml, text, type WbxmlElement } from '../src/faces/eas/wbxml/codec.js';
import type { LocalItem, Pending } from '../src/sdk/replica.js';
import { RetryableError } from '../src/sdk/transport.js';
import type { Causality } from './causality.js';
import type { EasReply, SimEasServer } from './eas-server.js';
import type { History } from './history.js';
import type { SimNetwork } from './network.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';
import type { Workload } from './workload.js';

/**
 * A scripted ActiveSync phone, beside the SDK devices: it speaks WBXML to the real ActiveSync face
 * (eas-server.ts) across the same faulty network, and syncs the calendar, as a phone on EAS 14.1 or 16.1
 * does: FolderSync, Sync with a small WindowSize (MoreAvailable pages), Adds with ClientId, Changes,
 * Deletes, occurrence edits and deletes, an empty Sync now and then (it repeats the last full one), and
 * Ping. A request whose answer was lost is sent again byte for byte, with the same SyncKey, and must be
 * answered as the first one was.
 *
 * Its user adds weekly series (ten occurrences, the second deleted, half with the third moved), edits
 * the body or the location (each edit writes a version no other edit uses, as the SDK devices' users do:
 * the body becomes the item's DESCRIPTION, the location its LOCATION), moves or deletes single
 * occurrences, and deletes series. On 14.1 every Change carries the whole item, occurrences included as
 * Exceptions; on 16.1 an occurrence is edited or deleted by its InstanceId.
 *
 * The phone keeps items in ActiveSync's terms. The checkers compare what it holds with the truth seen
 * through the same face: `view` renders an item as the few lines that matter (record, body, location,
 * times, recurrence, each exception's times and subject), for the phone's copy and for the truth
 * converted by the calendar mapper alike. An exception's other fields are left out of the view.
 */

/** Requests a phone makes that can be switched off, to tell which one a finding needs. */
export interface EasWorkloadSwitches {
  /** A 16.1 Change carries only the fields the user changed (absent means unchanged in 16.x; issue 13 D1). */
  changedFieldsOnly: boolean;
  /** Several occurrence edits or deletes of one series, and a Change beside them, go in one Sync (issue 13 D2). */
  severalEditsPerSeries: boolean;
  /**
   * 16.1 edits the face completes from the phone's version of the item (occurrence edits, and Changes
   * of only the changed fields) go out in the first request of a sync, before the phone has received
   * what changed on the server. Off, they wait until the phone has caught up. The face applies them to
   * the version the phone holds, or, when the hub cannot name it, to a stand-in whose result it sends
   * back (see sim/README.md). Undefined: the seed decides for each phone.
   */
  editsBeforeCatchingUp: boolean | undefined;
}

export const defaultEasSwitches: EasWorkloadSwitches = { changedFieldsOnly: true, severalEditsPerSeries: true, editsBeforeCatchingUp: undefined };

interface Occurrence {
  /** The occurrence's original start, compact UTC (20260208T090000Z). */
  key: string;
  deleted: boolean;
  subject?: string;
  start?: string;
  end?: string;
  /** Every other field of the exception, sent back as it came. */
  rest: WbxmlElement[];
}

interface EasEvent {
  uid?: string;
  subject?: string;
  body?: string;
  location?: string;
  start?: string;
  end?: string;
  recurrence?: WbxmlElement;
  exceptions: Occurrence[];
  /** Every other field (Timezone, DtStamp, AllDayEvent, BusyStatus, ...), sent back as it came. */
  rest: WbxmlElement[];
}

type Field = 'body' | 'location';

interface Held {
  localId: string;
  serverId: string | null;
  event: EasEvent;
  pending: Pending;
  /** 16.1, changed fields only: what the pending Change carries. */
  changed: Set<Field>;
  /** 16.1: occurrence edits and deletes waiting to be sent by InstanceId, in order. */
  occurrences: Array<{ key: string; deleted: boolean }>;
  rejected: string | null;
  /** The view the user deleted, for a pending delete. */
  deletedView?: string;
}

/** A command of the request being sent and what it is about. */
interface Sent {
  held: Held;
  kind: 'add' | 'change' | 'delete' | 'occurrence';
  key?: string;
}

const as = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('AirSync', name, ...kids);
const cal = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Calendar', name, ...kids);
const asb = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('AirSyncBase', name, ...kids);
const fh = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('FolderHierarchy', name, ...kids);
const pingEl = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Ping', name, ...kids);

const elements = (e: WbxmlElement | undefined) => (e?.children ?? []).filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));

/** Compact UTC (20260208T090000Z) of an ActiveSync date in either spelling. */
const compact = (value: string) => value.replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const compactOf = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const msOf = (value: string) => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(compact(value));
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
};
const hourMs = 3_600_000;
const weekMs = 7 * 24 * hourMs;

/** An ApplicationData element in the phone's terms. */
export function parseEvent(data: WbxmlElement): EasEvent {
  const event: EasEvent = { exceptions: [], rest: [] };
  for (const e of elements(data)) {
    const key = `${e.ns}:${e.name}`;
    if (key === 'Calendar:UID') event.uid = text(e);
    else if (key === 'Calendar:Subject') event.subject = text(e);
    else if (key === 'AirSyncBase:Body') event.body = text(child(e, 'Data', 'AirSyncBase')) ?? '';
    else if (key === 'AirSyncBase:Location') event.location = text(child(e, 'DisplayName', 'AirSyncBase')) ?? '';
    else if (key === 'Calendar:Location') event.location = text(e);
    else if (key === 'Calendar:StartTime') event.start = compact(text(e));
    else if (key === 'Calendar:EndTime') event.end = compact(text(e));
    else if (key === 'Calendar:Recurrence') event.recurrence = e;
    else if (key === 'Calendar:Exceptions') event.exceptions = children(e, 'Exception', 'Calendar').map(parseOccurrence);
    else event.rest.push(e);
  }
  return event;
}

function parseOccurrence(x: WbxmlElement): Occurrence {
  const o: Occurrence = { key: '', deleted: false, rest: [] };
  for (const e of elements(x)) {
    const key = `${e.ns}:${e.name}`;
    if (key === 'Calendar:ExceptionStartTime' || key === 'AirSyncBase:InstanceId') o.key = compact(text(e));
    else if (key === 'Calendar:Deleted') o.deleted = text(e) === '1';
    else if (key === 'Calendar:Subject') o.subject = text(e);
    else if (key === 'Calendar:StartTime') o.start = compact(text(e));
    else if (key === 'Calendar:EndTime') o.end = compact(text(e));
    else o.rest.push(e);
  }
  return o;
}

/**
 * What the checkers compare: the record (from its UID, uid-rN), the edit versions in the body and the
 * location, times, the recurrence rule, and each exception (deleted, or its times and subject).
 */
export function view(e: EasEvent): string {
  const rule = elements(e.recurrence)
    .filter((r) => !['FirstDayOfWeek', 'CalendarType', 'IsLeapMonth'].includes(r.name))
    .map((r) => `${r.name}=${text(r)}`)
    .sort()
    .join(';');
  const exceptions = [...e.exceptions]
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .map((x) => `EXCEPTION:${x.key}${x.deleted ? ' deleted' : ` ${x.start ?? e.start ?? ''}/${x.end ?? e.end ?? ''} ${x.subject ?? e.subject ?? ''}`}`);
  const simId = /^uid-(r\d+)$/.exec(e.uid ?? '')?.[1] ?? `?${e.uid ?? ''}`;
  const lines = [
    `X-SIM-ID:${simId}`,
    `SUMMARY:${e.subject ?? ''}`,
    ...(e.location ? [`LOCATION:${e.location}`] : []),
    ...(e.body ? [`DESCRIPTION:${e.body}`] : []),
    `TIMES:${e.start ?? ''}/${e.end ?? ''}`,
    ...(rule ? [`RULE:${rule}`] : []),
    ...exceptions,
  ];
  return lines.map((l) => `${l}\r\n`).join('');
}

/** The truth as a phone of this version would receive it, in view form. */
export function viewOfTruth(data: string, version: EasVersion): string {
  try {
    return view(parseEvent(el('AirSync', 'ApplicationData', ...calendarMapper.toEas(data, { version }))));
  } catch (err) {
    return `X-SIM-ID:?\r\nUNCONVERTIBLE:${(err as Error).message}\r\n`;
  }
}

export interface EasDeviceOptions {
  /** The phone's DeviceId; its sync point is eas-<id>. */
  deviceId: string;
  version: EasVersion;
  windowSize: number;
  commandsMax: number;
  attemptsMax: number;
  switches: EasWorkloadSwitches;
}

/** The phone failed in a way no retry fixes (an HTTP error, a status it cannot act on). */
export class EasDeviceError extends Error {}

/** Exchanges one sync may take before the phone is taken to be looping. */
const exchangesMax = 400;

export class EasDevice {
  /** The sync point's id on the hub. */
  readonly id: string;
  offlineUntil = 0;
  syncKey = 0;
  folderKey = 0;
  calendarId: string | null = null;
  readonly items: Held[] = [];
  readonly counts = { syncs: 0, pings: 0, pingChanges: 0, reinitializations: 0, emptySyncs: 0 };
  private locals = 0;
  /** The last Sync was answered in full: an empty one may repeat it. */
  private canSendEmpty = false;
  /** This sync has received everything the server had for the phone (no MoreAvailable). */
  private caughtUp = false;
  /**
   * The items of a Sync whose answer never came. The next Sync, at the same key, carries their commands
   * first, as a phone sends a request again; an Add whose item the user deleted meanwhile is left out
   * (the server withdraws it, docs/protocol.md §5.3).
   */
  private unanswered: readonly Held[] = [];

  constructor(
    private readonly options: EasDeviceOptions,
    private readonly rng: Rng,
    private readonly face: SimEasServer,
    private readonly network: SimNetwork,
    private readonly history: History,
    private readonly causality: Causality,
    private readonly workload: Workload,
    private readonly advanceClock: (ms: number) => void,
    private readonly trace: Trace | undefined,
  ) {
    this.id = `eas-${options.deviceId}`;
  }

  get version(): EasVersion {
    return this.options.version;
  }

  /** What the checkers read: each item as a local item whose data is its view. */
  end(): { items: LocalItem[]; syncKeys: Map<string, number> } {
    return {
      items: this.items.map((h) => ({
        localId: h.localId,
        serverId: h.serverId,
        data: h.pending === 'delete' ? null : view(h.event),
        etag: null,
        pending: h.pending ?? (h.occurrences.length > 0 ? 'change' : null),
        rejected: h.rejected,
        stale: false,
        appState: null,
      })),
      syncKeys: new Map(this.calendarId === null ? [] : [[this.calendarId, this.syncKey]]),
    };
  }

  hasPending(): boolean {
    return this.items.some((h) => (h.pending !== null || h.occurrences.length > 0) && h.rejected === null);
  }

  // ------------------------------------------------------------------------------------------------
  // What the user does

  act(): void {
    const live = this.items.filter((h) => h.pending !== 'delete');
    const roll = this.rng.float();
    if (live.length === 0 || roll < 0.25) return this.addSeries();
    const item = this.rng.pick(live);
    const recurring = item.event.recurrence !== undefined && item.event.start !== undefined;
    if (roll < 0.5) return this.editField(item, 'body');
    if (roll < 0.65) return this.editField(item, 'location');
    if (roll < 0.9 && recurring) {
      // Now and then the user reschedules or cancels two meetings of one series at once.
      const edits = this.rng.chance(0.3) ? 2 : 1;
      for (let i = 0; i < edits; i++) this.editOccurrence(item, this.rng.chance(0.35));
      return;
    }
    return this.deleteSeries(item);
  }

  private addSeries(): void {
    const simId = this.workload.newRecord();
    const n = Number(simId.slice(1));
    const start = Date.UTC(2026, 1, 1 + (n % 28), 9);
    const moved = this.rng.chance(0.5);
    const weekday = new Date(start).getUTCDay();
    const event: EasEvent = {
      uid: `uid-${simId}`,
      subject: `Meeting ${simId}`,
      body: this.workload.newVersion(),
      start: compactOf(start),
      end: compactOf(start + hourMs),
      recurrence: cal('Recurrence', cal('Type', '1'), cal('Occurrences', '10'), cal('Interval', '1'), cal('DayOfWeek', String(1 << weekday))),
      exceptions: [
        { key: compactOf(start + weekMs), deleted: true, rest: [] },
        ...(moved ? [{ key: compactOf(start + 2 * weekMs), deleted: false, subject: `Meeting ${simId}, moved`, start: compactOf(start + 2 * weekMs + hourMs), end: compactOf(start + 2 * weekMs + 2 * hourMs), rest: [] }] : []),
      ],
      rest: [cal('AllDayEvent', '0'), cal('BusyStatus', '2')],
    };
    const held: Held = { localId: `${this.id}-${this.locals++}`, serverId: null, event, pending: 'add', changed: new Set(), occurrences: [], rejected: null };
    this.items.push(held);
    const after = view(event);
    this.trace?.(`${this.id} user: adds ${simId} (a weekly series${moved ? ', third occurrence moved' : ''}), local ${held.localId}`);
    this.causality.recordEdit(after, []);
  }

  private editField(item: Held, field: Field): void {
    const before = view(item.event);
    item.event[field] = this.workload.newVersion();
    this.changed(item, before, `sets the ${field} to ${item.event[field]}`);
    if (item.pending === null) item.pending = 'change';
    item.changed.add(field);
    item.rejected = null;
  }

  /** Moves an occurrence by an hour and renames it, or deletes it. */
  private editOccurrence(item: Held, deleted: boolean): void {
    const e = item.event;
    const first = msOf(e.start as string);
    // A deleted occurrence is no longer shown: the user picks one that is.
    const shown = [2, 3, 4, 5, 6, 7, 8, 9].filter((i) => !e.exceptions.some((x) => x.deleted && x.key === compactOf(first + i * weekMs)));
    if (shown.length === 0) return;
    const index = this.rng.pick(shown);
    const key = compactOf(first + index * weekMs);
    const before = view(e);
    const others = e.exceptions.filter((x) => x.key !== key);
    const subject = `${e.subject ?? ''}, moved`;
    const duration = msOf(e.end ?? e.start ?? '') - first;
    const occurrence: Occurrence = deleted
      ? { key, deleted: true, rest: [] }
      : { key, deleted: false, subject, start: compactOf(first + index * weekMs + hourMs), end: compactOf(first + index * weekMs + hourMs + duration), rest: [] };
    e.exceptions = [...others, occurrence];
    this.changed(item, before, `${deleted ? 'deletes' : 'moves'} the occurrence ${key}`);
    item.rejected = null;
    if (item.pending === 'add') return;
    // On 16.1 an occurrence is edited by its InstanceId; on 14.1 the whole series goes with its Exceptions.
    if (this.version.startsWith('16')) item.occurrences = [...item.occurrences.filter((o) => o.key !== key), { key, deleted }];
    else item.pending = 'change';
  }

  private deleteSeries(item: Held): void {
    const before = view(item.event);
    this.trace?.(`${this.id} user: deletes ${this.describe(item)}`);
    this.causality.recordDelete(this.id, item.localId, before);
    if (item.serverId === null) {
      this.items.splice(this.items.indexOf(item), 1);
      return;
    }
    item.pending = 'delete';
    item.deletedView = before;
    item.occurrences = [];
    item.rejected = null;
  }

  private changed(item: Held, before: string, what: string): void {
    const after = view(item.event);
    this.trace?.(`${this.id} user: ${what} of ${this.describe(item)}`);
    this.causality.recordEdit(after, [before]);
  }

  private describe(item: Held): string {
    return `${/^uid-(r\d+)$/.exec(item.event.uid ?? '')?.[1] ?? '?'} (local ${item.localId}, server item ${item.serverId ?? 'none yet'})`;
  }

  // ------------------------------------------------------------------------------------------------
  // Exchanges

  /** Ping the calendar; true when the server says it changed. */
  async ping(): Promise<boolean> {
    if (this.calendarId === null) return false;
    this.counts.pings++;
    // A repeated Ping may leave everything out (MS-ASCMD 2.2.1.13); the server asks again in full if it forgot.
    const full = pingEl('Ping', pingEl('HeartbeatInterval', '480'), pingEl('Folders', pingEl('Folder', pingEl('Id', this.calendarId), pingEl('Class', 'Calendar'))));
    let reply = await this.send('Ping', this.rng.chance(0.3) ? undefined : full);
    if (reply === undefined) return false;
    if (!reply.hungUp && text(child(decode(reply), 'Status')) === '3') reply = await this.send('Ping', full);
    if (reply === undefined || reply.hungUp) return false;
    const status = text(child(decode(reply), 'Status'));
    if (status === '2') this.counts.pingChanges++;
    else if (status !== '1') throw new EasDeviceError(`${this.id}: Ping answered Status ${status}`);
    return status === '2';
  }

  /** A sync of the calendar: FolderSync first if the phone has no folders, then Syncs until nothing is left. */
  async sync(): Promise<void> {
    this.counts.syncs++;
    this.trace?.(`${this.id} syncs (ActiveSync ${this.version})`);
    this.caughtUp = false;
    if (this.calendarId === null || this.rng.chance(0.1)) {
      if (!(await this.folderSync())) return;
    }
    for (let exchange = 0; exchange < exchangesMax; exchange++) {
      const step = await this.syncOnce();
      if (step === 'gaveUp' || step === 'done') return;
    }
    throw new EasDeviceError(`${this.id} had not settled after ${exchangesMax} exchanges`);
  }

  private async folderSync(): Promise<boolean> {
    const reply = await this.send('FolderSync', fh('FolderSync', fh('SyncKey', String(this.folderKey))));
    if (!reply) return false;
    const body = decode(reply);
    const status = text(child(body, 'Status'));
    if (status === '9') {
      this.folderKey = 0;
      return this.folderSync();
    }
    if (status !== '1') throw new EasDeviceError(`${this.id}: FolderSync answered Status ${status}`);
    this.folderKey = Number(text(child(body, 'SyncKey')));
    for (const add of children(child(body, 'Changes'), 'Add')) {
      if (text(child(add, 'Type')) === '8') this.calendarId = text(child(add, 'ServerId')) ?? null;
    }
    if (this.calendarId === null) throw new EasDeviceError(`${this.id}: FolderSync brought no calendar`);
    return true;
  }

  /** One Sync request and its answer: 'more' to go on, 'done', or 'gaveUp' when the network kept failing. */
  private async syncOnce(): Promise<'more' | 'done' | 'gaveUp'> {
    const sent = this.syncKey === 0 ? [] : this.commandsToSend();
    const empty = sent.length === 0 && this.canSendEmpty && this.rng.chance(0.3);
    const full = this.syncRequest(sent);
    if (empty) this.counts.emptySyncs++;
    for (const s of sent) if (s.kind === 'delete' && s.held.serverId !== null && s.held.deletedView !== undefined) this.history.noteDelete(this.id, s.held.serverId, s.held.deletedView);
    // An empty Sync whose answer was lost is sent again in full: the server takes an empty one to
    // repeat the last one at the key it issued since, which the phone never received. The network's
    // second copies of it are that full request too (network.ts).
    this.unanswered = sent.map((s) => s.held);
    let reply = await this.send('Sync', empty ? undefined : full, sent, full);
    this.canSendEmpty = false;
    if (!reply) return 'gaveUp';
    let body = decode(reply);
    // An empty Sync the server cannot repeat (it kept nothing to repeat) is asked for in full, as phones do.
    if (empty && text(child(body, 'Status')) === '13') {
      reply = await this.send('Sync', full, sent);
      if (!reply) return 'gaveUp';
      body = decode(reply);
    }
    this.unanswered = [];
    const collection = child(child(body, 'Collections'), 'Collection');
    const status = text(child(collection, 'Status')) ?? text(child(body, 'Status'));
    if (status === '3') {
      // The key is no longer known (expired): the phone starts the calendar over, as phones do, and
      // what it had not sent is gone with the rest.
      this.trace?.(`${this.id} starts the calendar over (Status 3)`);
      this.counts.reinitializations++;
      this.syncKey = 0;
      this.items.splice(0);
      return 'more';
    }
    if (status === '12') {
      this.calendarId = null;
      return (await this.folderSync()) ? 'more' : 'gaveUp';
    }
    if (status !== '1' || !collection) throw new EasDeviceError(`${this.id}: Sync answered Status ${status ?? '(none)'}`);
    const key = Number(text(child(collection, 'SyncKey')));
    const first = this.syncKey === 0;
    this.syncKey = key;
    this.applyResponses(sent, child(collection, 'Responses'));
    for (const command of elements(child(collection, 'Commands'))) this.applyServerCommand(command);
    this.canSendEmpty = true;
    const more = child(collection, 'MoreAvailable') !== undefined;
    this.caughtUp = !first && !more;
    return first || more || this.commandsToSend().length > 0 ? 'more' : 'done';
  }

  private syncRequest(sent: readonly Sent[]): WbxmlElement {
    const commands = sent.map((s) => this.commandElement(s));
    return as(
      'Sync',
      as(
        'Collections',
        as(
          'Collection',
          as('SyncKey', String(this.syncKey)),
          as('CollectionId', this.calendarId as string),
          this.syncKey !== 0 && as('GetChanges', '1'),
          this.syncKey !== 0 && as('WindowSize', String(this.options.windowSize)),
          as('Options', as('FilterType', '0'), asb('BodyPreference', asb('Type', '1'))),
          commands.length > 0 && as('Commands', ...commands),
        ),
      ),
    );
  }

  /**
   * What goes in the next request, in the order the user made it: adds, changes, deletes, and on 16.1
   * occurrence edits, at most `commandsMax`. Unless switched on (D2), one command per series.
   */
  private commandsToSend(): Sent[] {
    const out: Sent[] = [];
    for (const held of new Set([...this.unanswered.filter((h) => this.items.includes(h)), ...this.items])) {
      if (held.rejected !== null) continue;
      const mine: Sent[] = [];
      if (held.pending === 'add') mine.push({ held, kind: 'add' });
      else if (held.pending === 'delete') mine.push({ held, kind: 'delete' });
      else if (held.serverId !== null) {
        const completedByServer = this.version.startsWith('16') && this.options.switches.changedFieldsOnly;
        const now = this.caughtUp || this.options.switches.editsBeforeCatchingUp;
        if (held.pending === 'change' && (now || !completedByServer)) mine.push({ held, kind: 'change' });
        if (now) for (const o of held.occurrences) mine.push({ held, kind: 'occurrence', key: o.key });
      }
      out.push(...(this.options.switches.severalEditsPerSeries ? mine : mine.slice(0, 1)));
      if (out.length >= this.options.commandsMax) break;
    }
    return out.slice(0, this.options.commandsMax);
  }

  private commandElement(s: Sent): WbxmlElement {
    const { held } = s;
    const serverId = held.serverId as string;
    switch (s.kind) {
      case 'add':
        return as('Add', as('ClientId', held.localId), as('ApplicationData', ...this.whole(held.event, true)));
      case 'delete':
        return as('Delete', as('ServerId', serverId));
      case 'change': {
        const partial = this.version.startsWith('16') && this.options.switches.changedFieldsOnly;
        return as('Change', as('ServerId', serverId), as('ApplicationData', ...(partial ? this.fields(held.event, held.changed) : this.whole(held.event, false))));
      }
      case 'occurrence': {
        const edit = held.occurrences.find((o) => o.key === s.key) as { key: string; deleted: boolean };
        const instance = asb('InstanceId', edit.key);
        if (edit.deleted) return as('Delete', as('ServerId', serverId), instance);
        const x = held.event.exceptions.find((o) => o.key === edit.key) as Occurrence;
        return as('Change', as('ServerId', serverId), instance, as('ApplicationData', cal('StartTime', x.start), cal('EndTime', x.end), cal('Subject', x.subject)));
      }
    }
  }

  /** The item as a whole, for an Add or a 14.1-style Change. */
  private whole(e: EasEvent, adding: boolean): WbxmlElement[] {
    const sixteen = this.version.startsWith('16');
    const uid = e.uid === undefined ? undefined : adding && sixteen ? cal('ClientUid', e.uid) : !sixteen ? cal('UID', e.uid) : undefined;
    return [
      ...e.rest,
      uid,
      e.subject !== undefined && cal('Subject', e.subject),
      e.start !== undefined && cal('StartTime', e.start),
      e.end !== undefined && cal('EndTime', e.end),
      ...this.fields(e, new Set(['body', 'location'])),
      e.recurrence,
      e.exceptions.length > 0 &&
        cal(
          'Exceptions',
          ...e.exceptions.map((x) =>
            cal(
              'Exception',
              sixteen ? asb('InstanceId', x.key) : cal('ExceptionStartTime', x.key),
              x.deleted && cal('Deleted', '1'),
              ...(x.deleted ? [] : [x.subject !== undefined && cal('Subject', x.subject), x.start !== undefined && cal('StartTime', x.start), x.end !== undefined && cal('EndTime', x.end), ...x.rest]),
            ),
          ),
        ),
    ].filter((c): c is WbxmlElement => c !== undefined && c !== false);
  }

  private fields(e: EasEvent, which: ReadonlySet<Field>): WbxmlElement[] {
    const out: WbxmlElement[] = [];
    if (which.has('body') && e.body !== undefined) out.push(asb('Body', asb('Type', '1'), asb('Data', e.body)));
    if (which.has('location') && e.location !== undefined) {
      out.push(this.version.startsWith('16') ? asb('Location', asb('DisplayName', e.location)) : cal('Location', e.location));
    }
    return out;
  }

  /** The answers to the phone's own commands (a successful Change or Delete is not echoed). */
  private applyResponses(sent: readonly Sent[], responses: WbxmlElement | undefined): void {
    const answers = elements(responses);
    for (const s of sent) {
      const { held } = s;
      const name = s.kind === 'add' ? 'Add' : s.kind === 'delete' || held.occurrences.find((o) => o.key === s.key)?.deleted ? 'Delete' : 'Change';
      const at = answers.findIndex((a) => a.name === name && (name === 'Add' ? text(child(a, 'ClientId')) === held.localId : text(child(a, 'ServerId')) === held.serverId));
      const answer = at >= 0 ? answers.splice(at, 1)[0] : undefined;
      const status = answer ? text(child(answer, 'Status')) : '1';
      if (s.kind === 'add') {
        if (status === '1') {
          held.serverId = text(child(answer, 'ServerId')) ?? null;
          held.pending = null;
          // Occurrence edits made while the add was on its way went with it as Exceptions.
          held.occurrences = [];
        } else held.rejected = `Add answered Status ${status}`;
        continue;
      }
      if (status === '8') {
        // Deleted on the server meanwhile: the phone lets it go (the same answer's Delete may have already).
        this.forget(held);
        continue;
      }
      if (status !== '1' && status !== '7') {
        held.rejected = `${s.kind} answered Status ${status}`;
        continue;
      }
      if (s.kind === 'delete') this.forget(held);
      else if (s.kind === 'change') {
        held.pending = null;
        held.changed.clear();
        // A whole item carried every occurrence edit made so far.
        if (!(this.version.startsWith('16') && this.options.switches.changedFieldsOnly)) held.occurrences = [];
      } else held.occurrences = held.occurrences.filter((o) => o.key !== s.key);
    }
  }

  /** Drops an item the phone holds; one already dropped stays dropped (splice(-1) would drop another). */
  private forget(held: Held): void {
    const index = this.items.indexOf(held);
    if (index >= 0) this.items.splice(index, 1);
  }

  /** An Add, Change or Delete from the server; it wins over what the phone has not sent yet. */
  private applyServerCommand(command: WbxmlElement): void {
    const serverId = text(child(command, 'ServerId')) ?? '';
    const index = this.items.findIndex((h) => h.serverId === serverId);
    if (command.name === 'Delete') {
      if (index >= 0) this.items.splice(index, 1);
      return;
    }
    const data = child(command, 'ApplicationData');
    if (!data) throw new EasDeviceError(`${this.id}: the server's ${command.name} of ${serverId} has no ApplicationData`);
    const event = parseEvent(data);
    const held: Held = { localId: `${this.id}-${this.locals++}`, serverId, event, pending: null, changed: new Set(), occurrences: [], rejected: null };
    if (index >= 0) this.items[index] = { ...held, localId: (this.items[index] as Held).localId };
    else this.items.push(held);
  }

  /**
   * One request over the network, sent again as it was when its answer is lost, until it gets one or
   * the attempts run out (undefined: the phone tries again later).
   */
  private async send(command: string, body: WbxmlElement | undefined, sent: readonly Sent[] = [], retryBody = body): Promise<EasReply | undefined> {
    let bytes = body === undefined ? new Uint8Array() : encodeWbxml(body);
    // What the phone sends when it sends this request again: an empty Sync goes in full then.
    const resent = retryBody === body ? bytes : encodeWbxml(retryBody as WbxmlElement);
    const line = { deviceId: this.options.deviceId, version: this.version, command };
    const commands = sent.map((s) => `${s.kind}${s.key ? ` ${s.key}` : ''} ${s.held.serverId ?? s.held.localId} ${describeView(view(s.held.event))}`);
    let what = `${this.id} ${command}${body === undefined ? ' (empty)' : ''}${command === 'Sync' ? ` key ${this.syncKey} [${commands.join('; ')}]` : ''}`;
    for (let attempt = 1; ; attempt++) {
      try {
        const sending = bytes;
        const reply = await this.network.httpExchange(
          this.id,
          what,
          async (note, copy) => {
            const r = await this.face.serve(line, copy ? resent : sending);
            for (const x of r.hubExchanges) this.history.noteAdds(x.request);
            this.trace?.(`#${this.network.exchanges} ${copy && resent !== sending ? what.replace(' (empty)', '') : what} -> ${describeReply(r)}${note ? ` (${note})` : ''}`);
            return r;
          },
          (r) => {
            for (const x of r.hubExchanges) this.history.recordDelivery(x.request, x.response);
          },
        );
        if (!reply.hungUp && reply.status !== 200) throw new EasDeviceError(`${this.id}: ${command} answered HTTP ${reply.status}: ${Buffer.from(reply.body).toString('utf8')}`);
        return reply;
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        if (attempt >= this.options.attemptsMax) {
          this.trace?.(`${this.id} gives up on ${command} until later: ${err.message}`);
          return undefined;
        }
        this.advanceClock(Math.min(8000, 250 * 2 ** attempt));
        if (bytes !== resent) {
          bytes = resent;
          what = what.replace(' (empty)', '');
        }
      }
    }
  }
}

function decode(reply: EasReply): WbxmlElement {
  return reply.body.length === 0 ? el('AirSync', 'Empty') : decodeWbxml(reply.body);
}

function describeReply(r: EasReply): string {
  if (r.hungUp) return 'no answer yet, the phone hangs up';
  if (r.status !== 200) return `HTTP ${r.status}`;
  const body = decode(r);
  const collection = child(child(body, 'Collections'), 'Collection');
  const status = text(child(collection, 'Status')) ?? text(child(body, 'Status'));
  const parts = [`Status ${status}`];
  if (collection) {
    parts.push(`key ${text(child(collection, 'SyncKey'))}`);
    if (child(collection, 'MoreAvailable')) parts.push('(more)');
    const commands = elements(child(collection, 'Commands')).map((c) => {
      const data = child(c, 'ApplicationData');
      return `${c.name} ${text(child(c, 'ServerId'))}${data ? ` ${describeView(view(parseEvent(data)))}` : ''}`;
    });
    const responses = elements(child(collection, 'Responses')).map((c) => `${c.name} ${text(child(c, 'ClientId')) ?? text(child(c, 'ServerId'))} ${text(child(c, 'Status'))}`);
    parts.push(`changes [${commands.join('; ')}] results [${responses.join('; ')}]`);
  }
  return parts.join(' ');
}

const describeView = (v: string) => {
  const get = (name: string) => new RegExp(`^${name}:(.*)\\r$`, 'm').exec(v)?.[1];
  return `${get('X-SIM-ID')}@${get('DESCRIPTION') ?? '?'}${get('LOCATION') ? `/${get('LOCATION')}` : ''}`;
};
