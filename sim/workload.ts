import { recordLocalDelete, recordLocalPut, type LocalItem, type Replica } from '../src/sdk/replica.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';

/**
 * What the users do: adds (with and without UID), edits and deletes on their devices, whether the
 * device is online or not. Every card carries X-SIM-ID, the record it belongs to, and an edit sets
 * NOTE or TITLE to a version number no other edit uses, so any stored text tells which edits wrote
 * it. Edits of different properties on two devices are what the hub's property merge combines.
 *
 * The same record reaches several devices on purpose: it is edited on several devices before they
 * sync, and the same contact is added again on another device, matched by the server through its UID
 * or (for half of the contacts without one) its name and email address.
 */

export interface UserDevice {
  id: string;
  replica: Replica;
  /** A new local id (the Add's clientId), unique on this device. */
  newLocalId(): string;
}

export type Operation = 'add' | 'addWithoutUid' | 'addSameContactElsewhere' | 'edit' | 'editOnSeveralDevices' | 'delete';

const operations: ReadonlyArray<[Operation, number]> = [
  ['add', 16],
  ['addWithoutUid', 14],
  ['addSameContactElsewhere', 8],
  ['edit', 32],
  ['editOnSeveralDevices', 14],
  ['delete', 16],
];
const weightTotal = operations.reduce((sum, [, weight]) => sum + weight, 0);

/** Who a card is: what stays the same through every edit. */
interface Identity {
  simId: string;
  uid: string | null;
  email: string | null;
}

/** What an edit changes: NOTE always holds a version, TITLE once some edit has set it. */
interface Versions {
  note: string;
  title: string | null;
}

export function card(who: Identity, versions: Versions): string {
  const lines = [
    'BEGIN:VCARD',
    'VERSION:3.0',
    ...(who.uid === null ? [] : [`UID:${who.uid}`]),
    `X-SIM-ID:${who.simId}`,
    `FN:Person ${who.simId}`,
    ...(who.email === null ? [] : [`EMAIL:${who.email}`]),
    ...(versions.title === null ? [] : [`TITLE:${versions.title}`]),
    `NOTE:${versions.note}`,
    'END:VCARD',
  ];
  return lines.map((l) => `${l}\r\n`).join('');
}

const properties = {
  'X-SIM-ID': /^X-SIM-ID:(.*)\r$/m,
  UID: /^UID:(.*)\r$/m,
  EMAIL: /^EMAIL:(.*)\r$/m,
  TITLE: /^TITLE:(.*)\r$/m,
  NOTE: /^NOTE:(.*)\r$/m,
};
const property = (data: string, name: keyof typeof properties): string | null => properties[name].exec(data)?.[1] ?? null;

export const simIdOf = (data: string): string | null => property(data, 'X-SIM-ID');

/** A version for messages: the record, its NOTE version and any TITLE version, e.g. "r12@v40" or "r12@v40/v43". */
export const describeVersion = (data: string | null): string => {
  if (data === null) return 'deleted';
  const title = property(data, 'TITLE');
  return `${simIdOf(data) ?? '?'}@${property(data, 'NOTE') ?? '?'}${title === null ? '' : `/${title}`}`;
};

export class Workload {
  readonly counts: Record<Operation, number> = { add: 0, addWithoutUid: 0, addSameContactElsewhere: 0, edit: 0, editOnSeveralDevices: 0, delete: 0 };
  private records = 0;
  private versions = 0;
  /** Records the server can match (UID, or name and email): the contacts a user may add again elsewhere. */
  private readonly matchable: Identity[] = [];

  constructor(
    private readonly rng: Rng,
    private readonly collectionId: string,
    private readonly trace: Trace | undefined,
  ) {}

  /** One user action on `device`; `everyDevice` is where the same user may edit the same record too. */
  act(device: UserDevice, everyDevice: readonly UserDevice[]): void {
    const operation = this.pickOperation();
    const c = this.collectionId;
    const live = (d: UserDevice) => d.replica.transaction((tx) => tx.all(c)).filter((i): i is LocalItem & { data: string } => i.data !== null);
    const items = live(device);
    // With nothing to edit, a user can only add.
    const chosen = items.length === 0 && (operation === 'edit' || operation === 'editOnSeveralDevices' || operation === 'delete') ? 'add' : operation;
    this.counts[chosen]++;
    switch (chosen) {
      case 'add':
      case 'addWithoutUid': {
        const simId = `r${this.records++}`;
        const uid = chosen === 'add' ? `uid-${simId}` : null;
        const who: Identity = { simId, uid, email: uid === null && this.rng.chance(0.5) ? `${simId}@example.com` : null };
        if (who.uid !== null || who.email !== null) this.matchable.push(who);
        this.put(device, device.newLocalId(), who, { note: this.newVersion(), title: null });
        return;
      }
      case 'addSameContactElsewhere': {
        // Only a device that does not show the contact would have its user type it in again.
        const shown = new Set(items.map((i) => simIdOf(i.data)));
        const candidates = this.matchable.filter((r) => !shown.has(r.simId));
        if (candidates.length === 0) return;
        this.put(device, device.newLocalId(), this.rng.pick(candidates), { note: this.newVersion(), title: null });
        return;
      }
      case 'edit':
        this.edit(device, this.rng.pick(items));
        return;
      case 'editOnSeveralDevices': {
        const item = this.rng.pick(items);
        this.edit(device, item);
        if (item.serverId === null) return;
        for (const other of everyDevice) {
          if (other === device || !this.rng.chance(0.7)) continue;
          const copy = live(other).find((i) => i.serverId === item.serverId);
          if (copy) this.edit(other, copy);
        }
        return;
      }
      case 'delete': {
        const item = this.rng.pick(items);
        this.trace?.(`${device.id} user: delete ${describeVersion(item.data)} (local ${item.localId}, server item ${item.serverId ?? 'none yet'})`);
        device.replica.transaction((tx) => recordLocalDelete(tx, c, item.localId));
        return;
      }
    }
  }

  private pickOperation(): Operation {
    let roll = this.rng.float() * weightTotal;
    for (const [operation, weight] of operations) {
      if ((roll -= weight) < 0) return operation;
    }
    return 'edit';
  }

  private newVersion(): string {
    return `v${this.versions++}`;
  }

  /** A new version of one property; the card keeps everything else it had. */
  private edit(device: UserDevice, item: LocalItem & { data: string }): void {
    const who: Identity = { simId: simIdOf(item.data) ?? '?', uid: property(item.data, 'UID'), email: property(item.data, 'EMAIL') };
    const before: Versions = { note: property(item.data, 'NOTE') ?? '?', title: property(item.data, 'TITLE') };
    const after = this.rng.chance(0.65) ? { ...before, note: this.newVersion() } : { ...before, title: this.newVersion() };
    this.put(device, item.localId, who, after);
  }

  private put(device: UserDevice, localId: string, who: Identity, versions: Versions): void {
    const data = card(who, versions);
    const matchedBy = who.uid !== null ? 'UID' : who.email !== null ? 'name and email' : 'no UID';
    this.trace?.(`${device.id} user: ${describeVersion(data)} (${matchedBy}, local ${localId})`);
    device.replica.transaction((tx) => recordLocalPut(tx, this.collectionId, localId, data));
  }
}
