import { recordLocalDelete, recordLocalPut, type LocalItem, type Replica } from '../src/sdk/replica.js';
import type { Causality } from './causality.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';

/**
 * What the users do: adds (with and without UID), edits and deletes on their devices, whether the
 * device is online or not, in three collections: contacts, events (weekly series with an excluded date,
 * some with an overridden occurrence) and tasks. Every object carries X-SIM-ID, the record it belongs
 * to, and an edit sets one of two properties (NOTE or TITLE on a card, DESCRIPTION or LOCATION on an
 * event or task) to a version number no other edit uses, so any stored text tells which edits wrote it.
 * Edits of different properties on two devices are what the hub's property merge combines.
 *
 * Names collide on purpose: contacts draw first and last names from a small pool, so several records
 * are "John Smith", each with its own email address and phone number; only a UID, or the same name
 * with a shared address or number, makes two cards one contact.
 *
 * The same record reaches several devices on purpose: it is edited on several devices before they
 * sync, and the same record is added again on another device, matched by the server through its UID
 * or (for contacts without one) its name and email address or phone number.
 *
 * Every edit is reported to the causal model (causality.ts): the version the device held when the
 * user made it.
 */

export interface UserDevice {
  id: string;
  replica: Replica;
  /** A new local id (the Add's clientId), unique on this device. */
  newLocalId(): string;
}

export type Kind = 'contacts' | 'events' | 'tasks';

export interface SimCollection {
  id: string;
  kind: Kind;
}

export type Operation = 'add' | 'addWithoutUid' | 'addSameRecordElsewhere' | 'edit' | 'editOnSeveralDevices' | 'delete';

const operations: ReadonlyArray<[Operation, number]> = [
  ['add', 16],
  ['addWithoutUid', 14],
  ['addSameRecordElsewhere', 8],
  ['edit', 32],
  ['editOnSeveralDevices', 14],
  ['delete', 16],
];
const weightTotal = operations.reduce((sum, [, weight]) => sum + weight, 0);

/** Contacts are half the records; events and tasks a quarter each. */
const kindWeights: ReadonlyArray<[Kind, number]> = [
  ['contacts', 2],
  ['events', 1],
  ['tasks', 1],
];

/** Contacts' names (the simulated upstream's user draws from them too: dav-upstream.ts). */
export const firstNames = ['John', 'Mary', 'Ana', 'Li'];
export const lastNames = ['Smith', 'Jones', 'Müller'];

/** Who a record is: what stays the same through every edit. */
interface Identity {
  simId: string;
  kind: Kind;
  uid: string | null;
  /** Contacts: the full name, shared with other records. */
  name: string;
  email: string | null;
  phone: string | null;
  /** Events: an overridden occurrence travels with the series (the object then has two components). */
  override: boolean;
}

/** What an edit changes: `note` always holds a version, `title` once some edit has set it. */
interface Versions {
  note: string;
  title: string | null;
}

/** The two properties edits set, per kind. */
export const editable: Record<Kind, { note: string; title: string }> = {
  contacts: { note: 'NOTE', title: 'TITLE' },
  events: { note: 'DESCRIPTION', title: 'LOCATION' },
  tasks: { note: 'DESCRIPTION', title: 'LOCATION' },
};

const crlf = (lines: readonly string[]) => lines.map((l) => `${l}\r\n`).join('');

export function render(who: Identity, versions: Versions): string {
  const { note, title } = editable[who.kind];
  const edits = [...(versions.title === null ? [] : [`${title}:${versions.title}`]), `${note}:${versions.note}`];
  if (who.kind === 'contacts') {
    const [first, last] = who.name.split(' ') as [string, string];
    return crlf([
      'BEGIN:VCARD',
      'VERSION:3.0',
      ...(who.uid === null ? [] : [`UID:${who.uid}`]),
      `X-SIM-ID:${who.simId}`,
      `FN:${who.name}`,
      `N:${last};${first};;;`,
      ...(who.email === null ? [] : [`EMAIL:${who.email}`]),
      ...(who.phone === null ? [] : [`TEL:${who.phone}`]),
      ...edits,
      'END:VCARD',
    ]);
  }
  const n = Number(who.simId.slice(1));
  const day = String((n % 28) + 1).padStart(2, '0');
  if (who.kind === 'tasks') {
    // Every other task repeats monthly, six times (a recurring VTODO needs a DTSTART).
    return crlf([
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//syncpoint//sim//EN',
      'BEGIN:VTODO',
      `UID:${who.uid}`,
      `X-SIM-ID:${who.simId}`,
      'DTSTAMP:20260101T000000Z',
      ...(n % 2 === 0 ? [`DTSTART:202602${day}T090000Z`, 'RRULE:FREQ=MONTHLY;COUNT=6'] : []),
      `DUE:202602${day}T170000Z`,
      `SUMMARY:Task ${who.simId}`,
      ...edits,
      'END:VTODO',
      'END:VCALENDAR',
    ]);
  }
  // A weekly series of ten, the second occurrence excluded; with an override, the third moved an hour.
  const start = `202602${day}T090000Z`;
  const third = `202602${String((n % 28) + 15).padStart(2, '0')}`;
  return crlf([
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//syncpoint//sim//EN',
    'BEGIN:VEVENT',
    `UID:${who.uid}`,
    `X-SIM-ID:${who.simId}`,
    'DTSTAMP:20260101T000000Z',
    `DTSTART:${start}`,
    'DURATION:PT1H',
    'RRULE:FREQ=WEEKLY;COUNT=10',
    `EXDATE:202602${String((n % 28) + 8).padStart(2, '0')}T090000Z`,
    `SUMMARY:Meeting ${who.simId}`,
    ...edits,
    'END:VEVENT',
    ...(who.override
      ? [
          'BEGIN:VEVENT',
          `UID:${who.uid}`,
          'DTSTAMP:20260101T000000Z',
          `RECURRENCE-ID:${third}T090000Z`,
          `DTSTART:${third}T100000Z`,
          'DURATION:PT1H',
          `SUMMARY:Meeting ${who.simId}, moved`,
          'END:VEVENT',
        ]
      : []),
    'END:VCALENDAR',
  ]);
}

/** The key under which causality also files a delete by the server item it was of (world.ts reads it when the local row changed). */
export const serverKey = (serverId: string) => `@${serverId}`;

const line = (name: string) => new RegExp(`^${name}:(.*)\\r$`, 'm');
const properties = {
  'X-SIM-ID': line('X-SIM-ID'),
  UID: line('UID'),
  FN: line('FN'),
  EMAIL: line('EMAIL'),
  TEL: line('TEL'),
  note: line('(?:NOTE|DESCRIPTION)'),
  title: line('(?:TITLE|LOCATION)'),
};
export const property = (data: string, name: keyof typeof properties): string | null => properties[name].exec(data)?.[1] ?? null;

/** The record: X-SIM-ID, or for a record an ActiveSync phone added (it cannot carry X- properties), its UID uid-rN. */
export const simIdOf = (data: string): string | null => property(data, 'X-SIM-ID') ?? /^uid-(r\d+)$/.exec(property(data, 'UID') ?? '')?.[1] ?? null;

/** The edit versions a stored object carries (each names the user edit that introduced it). */
export const versionTokensOf = (data: string): string[] => [property(data, 'note'), property(data, 'title')].filter((t): t is string => t !== null);

/** A version for messages: the record, its note version and any title version, e.g. "r12@v40" or "r12@v40/v43". */
export const describeVersion = (data: string | null): string => {
  if (data === null) return 'deleted';
  const title = property(data, 'title');
  return `${simIdOf(data) ?? '?'}@${property(data, 'note') ?? '?'}${title === null ? '' : `/${title}`}`;
};

export class Workload {
  readonly counts: Record<Operation, number> = { add: 0, addWithoutUid: 0, addSameRecordElsewhere: 0, edit: 0, editOnSeveralDevices: 0, delete: 0 };
  private records = 0;
  private versions = 0;
  /** Records the server can match (UID, or name and email or phone): those a user may add again elsewhere. */
  private readonly matchable: Identity[] = [];
  /** Per device, the last version of each record the user saw there (found on each visit). */
  private readonly lastSeen = new Map<string, Map<string, string>>();

  constructor(
    private readonly rng: Rng,
    private readonly collections: readonly SimCollection[],
    private readonly causality: Causality,
    private readonly trace: Trace | undefined,
  ) {}

  /** One user action on `device`; `everyDevice` is where the same user may edit the same record too. */
  act(device: UserDevice, everyDevice: readonly UserDevice[]): void {
    const kind = this.pickKind();
    const collection = this.collections.find((c) => c.kind === kind) as SimCollection;
    const c = collection.id;
    const operation = this.pickOperation();
    const live = (d: UserDevice) => d.replica.transaction((tx) => tx.all(c)).filter((i): i is LocalItem & { data: string } => i.data !== null);
    const items = live(device);
    const seen = this.lastSeen.get(device.id) ?? new Map<string, string>();
    this.lastSeen.set(device.id, seen);
    for (const item of items) seen.set(simIdOf(item.data) ?? '?', item.data);
    // With nothing to edit, a user can only add; only cards may lack a UID.
    const editing = operation === 'edit' || operation === 'editOnSeveralDevices' || operation === 'delete';
    const chosen = items.length === 0 && editing ? 'add' : operation === 'addWithoutUid' && kind !== 'contacts' ? 'add' : operation;
    this.counts[chosen]++;
    switch (chosen) {
      case 'add':
      case 'addWithoutUid': {
        const n = this.records++;
        const simId = `r${n}`;
        const uid = chosen === 'add' ? `uid-${simId}` : null;
        const name = `${this.rng.pick(firstNames)} ${this.rng.pick(lastNames)}`;
        const contact = kind === 'contacts';
        const email = contact && this.rng.chance(0.5) ? `${name.replace(' ', '.').toLowerCase()}.${simId}@example.com` : null;
        // Unique in the last nine digits, which is what the server compares.
        const phone = contact && this.rng.chance(0.4) ? `+44 20 7${String(n).padStart(6, '0')}` : null;
        const who: Identity = { simId, kind, uid, name, email, phone, override: kind === 'events' && this.rng.chance(0.5) };
        if (who.uid !== null || who.email !== null || who.phone !== null) this.matchable.push(who);
        this.put(device, c, device.newLocalId(), who, { note: this.newVersion(), title: null }, []);
        return;
      }
      case 'addSameRecordElsewhere': {
        // Only a device that does not show the record would have its user type it in again.
        const shown = new Set(items.map((i) => simIdOf(i.data)));
        const candidates = this.matchable.filter((r) => r.kind === kind && !shown.has(r.simId));
        if (candidates.length === 0) return;
        const who = this.rng.pick(candidates);
        // What the user saw of it here before (then deleted, or lost to a delete elsewhere) they knew.
        const before = seen.get(who.simId);
        this.put(device, c, device.newLocalId(), who, { note: this.newVersion(), title: null }, before === undefined ? [] : [before]);
        return;
      }
      case 'edit':
        this.edit(device, collection, this.rng.pick(items));
        return;
      case 'editOnSeveralDevices': {
        const item = this.rng.pick(items);
        this.edit(device, collection, item);
        if (item.serverId === null) return;
        for (const other of everyDevice) {
          if (other === device || !this.rng.chance(0.7)) continue;
          const copy = live(other).find((i) => i.serverId === item.serverId);
          if (copy) this.edit(other, collection, copy);
        }
        return;
      }
      case 'delete': {
        const item = this.rng.pick(items);
        this.trace?.(`${device.id} user: delete ${describeVersion(item.data)} (local ${item.localId}, server item ${item.serverId ?? 'none yet'})`);
        this.causality.recordDelete(device.id, item.localId, item.data);
        // The replica may move the pending delete onto another local row that answers to the same server
        // item (its own add of the record, answered after the user deleted the copy it had received).
        if (item.serverId !== null) this.causality.recordDelete(device.id, serverKey(item.serverId), item.data);
        device.replica.transaction((tx) => recordLocalDelete(tx, c, item.localId));
        return;
      }
    }
  }

  private pickKind(): Kind {
    let roll = this.rng.float() * kindWeights.reduce((sum, [, w]) => sum + w, 0);
    for (const [kind, weight] of kindWeights) {
      if ((roll -= weight) < 0) return kind;
    }
    return 'contacts';
  }

  private pickOperation(): Operation {
    let roll = this.rng.float() * weightTotal;
    for (const [operation, weight] of operations) {
      if ((roll -= weight) < 0) return operation;
    }
    return 'edit';
  }

  /** A version number no other edit uses (the EAS phones' users take theirs from here too). */
  newVersion(): string {
    return `v${this.versions++}`;
  }

  /** A new record's id, for a record added on an ActiveSync phone. */
  newRecord(): string {
    return `r${this.records++}`;
  }

  /** A new version of one property; the object keeps everything else it had. */
  private edit(device: UserDevice, collection: SimCollection, item: LocalItem & { data: string }): void {
    const who: Identity = {
      simId: simIdOf(item.data) ?? '?',
      kind: collection.kind,
      uid: property(item.data, 'UID'),
      name: property(item.data, 'FN') ?? '',
      email: property(item.data, 'EMAIL'),
      phone: property(item.data, 'TEL'),
      override: item.data.includes('RECURRENCE-ID:'),
    };
    const before: Versions = { note: property(item.data, 'note') ?? '?', title: property(item.data, 'title') };
    const after = this.rng.chance(0.65) ? { ...before, note: this.newVersion() } : { ...before, title: this.newVersion() };
    this.put(device, collection.id, item.localId, who, after, [item.data]);
  }

  private put(device: UserDevice, collectionId: string, localId: string, who: Identity, versions: Versions, seen: readonly string[]): void {
    const data = render(who, versions);
    const matchedBy = who.uid !== null ? 'UID' : who.email !== null || who.phone !== null ? 'name and email or phone' : 'no UID';
    this.trace?.(`${device.id} user: ${describeVersion(data)} (${who.kind}, ${who.name ? `${who.name}, ` : ''}${matchedBy}, local ${localId})`);
    this.causality.recordEdit(data, seen);
    device.replica.transaction((tx) => recordLocalPut(tx, collectionId, localId, data));
  }
}
