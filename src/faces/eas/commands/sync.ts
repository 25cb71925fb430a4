import { carried } from '../folders.js';
import { randomUUID } from 'node:crypto';
import { limits } from '../../../core/limits.js';
import type { CollectionKind } from '../../../protocol/collections.js';
import type { ClientCommand, CollectionResponse } from '../../../protocol/sync.js';
import type { ExchangeFaceState, HubCollectionRequest, HubSyncRequest } from '../../../hub/sync.js';
import type { HubClientCommand } from '../../../hub/commands.js';
import { protocolVersion } from '../../../protocol/version.js';
import type { CollectionRow } from '../../../hub/records.js';
import type { EasContext } from '../context.js';
import { memoryStateKey, type DeviceMemory } from '../device-memory.js';
import type { ItemMapper } from '../mapping/item-mapper.js';
import { OccurrenceEdits } from '../mapping/calendar.js';
import { mapperFor } from '../mapping/mappers.js';
import { withReadableBody } from '../mapping/body.js';
import { itemStatusOf, syncStatus } from '../status.js';
import { decodeWbxml, encodeWbxml } from '../wbxml/codec.js';
import { child, children, el, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { commandFingerprint, commandIdentities, type CommandIdentity } from './sync-identities.js';
import { noteRepeat, quarantine, quarantined } from './sync-loops.js';
import { readOptions, type CollectionOptions } from './sync-options.js';
import { completePartial, holdOf, holdSync } from './sync-hold.js';
import { deletesAsMoves, movedInDeletes, movesToTrash, softDeletes, trashFor, wholeBodies } from './sync-mail.js';
import { draftCommand, draftsFolder, isDraftCommand } from './sync-drafts.js';

/**
 * Sync (MS-ASCMD 2.2.1.21) on top of the hub's sync exchange, which has the same design (docs/design.md § Sync keys,
 * § The sync message): the ActiveSync SyncKey is the hub's integer key, so a retry with the previous key is answered
 * with the same response again, and an Add sent twice lands on one item (the hub's ledger of client
 * ids). Key 0 starts a collection: the answer carries only the new key (GetChanges is not allowed with
 * it), and items come with the next request. Every collection of one request is one hub transaction.
 */
const as = namespace('AirSync');

/** MS-ASCMD caps WindowSize at 512. */
export const windowMax = 512;
const windowDefault = 100;

interface Plan {
  element: WbxmlElement;
  collectionId: string;
  /** Set when the collection is refused before reaching the hub. */
  status?: number;
  collection?: CollectionRow;
  mapper?: ItemMapper;
  key?: number;
  options?: CollectionOptions;
  /** Commands for the hub, and for each the client's commands it came from (several edits of one item are one change). */
  commands: HubClientCommand[];
  origins: Origin[][];
  /** Client commands answered here without reaching the hub (their data could not be converted). */
  local: Array<{ position: number; element: WbxmlElement }>;
  window: number;
  /** The window is cut because the device keeps repeating this key (sync-loops.ts). */
  narrowReplay: boolean;
  /** The device keeps failing on this answer even at a window of one item (sync-loops.ts). */
  stuck: boolean;
  /** Messages the device deleted that went to Deleted Items (sync-mail.ts): the hub's delete of them is not sent back. */
  moved: Set<string>;
  /** Drafts an Add with Send made and sent (sync-drafts.ts): gone from Drafts, the answer deletes them. */
  sentDrafts: Set<string>;
}

export async function sync(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement | undefined> {
  // An empty request repeats the last full one (MS-ASCMD 2.2.1.21.1.1), a Partial one completes it
  // (sync-hold.ts); without one, ask for it in full.
  const sent = body ?? (ctx.memory.lastSync && decodeWbxml(ctx.memory.lastSync));
  const request = sent && completePartial(sent, ctx.memory.lastSync);
  if (!request) return as('Sync', as('Status', String(syncStatus.incompleteRequest)));
  const hold = holdOf(request);
  if (hold.refusal) return hold.refusal;
  const elements = children(child(request, 'Collections'), 'Collection');
  if (elements.length === 0) return as('Sync', as('Status', String(syncStatus.incompleteRequest)));
  if (elements.length > limits.collectionsPerRequestMax) {
    return as('Sync', as('Status', String(syncStatus.tooManyCollections)), as('Limit', String(limits.collectionsPerRequestMax)));
  }
  // The Adds and Changes of one Sync, all collections together, are limited before any is read (MS-ASCMD 3.1.5.10: Status 4).
  const items = elements.reduce((n, e) => n + commandsOf(e).filter((c) => c.name === 'Add' || c.name === 'Change').length, 0);
  if (items > limits.itemsPerRequestMax) return as('Sync', as('Status', String(syncStatus.protocolError)));
  const globalWindow = windowOf(text(child(request, 'WindowSize')));
  const collections = new Map(carried(await ctx.hub.accounts.listCollections(ctx.point.accountId)).map((c) => [c.id, c]));
  // Every refusal that needs no state comes first, so the work below is done once per collection.
  const seen = new Set<string>();
  const accepted = elements.map((element) => {
    const refused = refusal(element, collections);
    const id = text(child(element, 'CollectionId')) ?? '';
    if (refused !== undefined) return { element, refused };
    // The hub takes each collection once per exchange; a second mention is a protocol error here.
    if (seen.has(id)) return { element, refused: syncStatus.protocolError };
    seen.add(id);
    return { element, refused: undefined };
  });
  // A held Sync whose time ran out with nothing new gets an empty answer (MS-ASCMD 2.2.3.198).
  if (hold.seconds !== undefined && accepted.every((a) => a.refused === undefined) && !(await holdSync(ctx, elements, hold.seconds))) return undefined;
  const planned = accepted.filter((a) => a.refused === undefined).map((a) => a.element);
  const restarting = planned.filter((e) => text(child(e, 'SyncKey')) === '0').map((e) => text(child(e, 'CollectionId')) ?? '');
  const blocked = await quarantined(ctx, restarting);
  // The device's per-collection state is read and written once for the whole request, not once per collection.
  const settings = await settingsAfter(ctx, planned, collections);
  const fingerprints = new Map(planned.flatMap((e) => commandsOf(e).flatMap((c) => fingerprintOf(text(child(e, 'CollectionId')) ?? '', c) ?? []).map((f) => [f.command, f.fingerprint] as const)));
  const identities = await commandIdentities(ctx, [...fingerprints.values()]);
  // Each Fetch reads a whole item (up to 1 MiB): past easSyncFetchesMax in one request, a Fetch is not
  // read but answered Status 16 (retry), so a small request cannot make the store read a gigabyte.
  const deferred = new Set(planned.flatMap((e) => commandsOf(e).filter((c) => c.name === 'Fetch')).slice(limits.easSyncFetchesMax));
  const budget = { fetchedBytes: 0 };

  const plans = await Promise.all(
    accepted.map(({ element, refused }) => {
      const collectionId = text(child(element, 'CollectionId')) ?? '';
      if (refused !== undefined) return { ...emptyPlan(element, collectionId), status: refused };
      return plan(ctx, element, collections.get(collectionId) as CollectionRow, settings.get(collectionId), { fingerprints, identities, deferred }, globalWindow);
    }),
  );
  const toHub = plans.filter((p) => p.status === undefined).map(hubRequest);
  const hubRequestBody: HubSyncRequest = { version: protocolVersion, device: { id: ctx.point.device.id }, collections: toHub };
  // What an empty Sync repeats next follows from the keys this exchange issues, and is written with
  // them, with the loop counters, in the exchange's transaction (device-memory.ts).
  const before = ctx.memory.lastSync;
  let remembered: ReturnType<DeviceMemory['update']>;
  const memory: ExchangeFaceState = {
    key: memoryStateKey,
    update(collections, stored) {
      ctx.memory.lastSync = forNextTime(request, plans, collections, before);
      remembered = ctx.memory.update();
      return remembered ? remembered.apply(stored) : stored;
    },
  };
  const answers = toHub.length === 0 ? [] : (await ctx.hub.sync(ctx.point.accountId, 'eas', hubRequestBody, ctx.principal.tokenId, memory)).collections;
  remembered?.saved();
  const byId = new Map(answers.map((a) => [a.collectionId, a]));

  const out: WbxmlElement[] = [];
  for (const p of plans) {
    const answer = p.status === undefined ? byId.get(p.collectionId) : undefined;
    if (!answer) {
      out.push(as('Collection', as('SyncKey', '0'), as('CollectionId', p.collectionId), as('Status', String(p.status ?? syncStatus.serverError))));
      continue;
    }
    out.push(await respond(ctx, p, answer, blocked.get(p.collectionId) ?? new Map(), budget));
  }
  return as('Sync', as('Collections', ...out));
}

/**
 * What an empty Sync repeats: each of the account's collections this request named, at the key just
 * issued, with only what this server reads of it (GetChanges, WindowSize, FilterType, the first
 * BodyPreference and BodyPartPreference; and the request's Wait or HeartbeatInterval), so repeating it asks for what is new since, not for this answer again. Commands
 * (already applied), Supported (kept with the key 0 that sent it) and anything else are left out, and
 * the whole is kept as WBXML of at most `easDeviceMemoryBytesMax`: a few hundred bytes a collection,
 * whatever the request carried. Undefined (nothing to repeat) if it would be larger. Only collections
 * answered Status 1 (the hub answered them 'ok') count; when none was, what an empty Sync repeats stays as it was (`before`).
 */
function forNextTime(request: WbxmlElement, plans: readonly Plan[], answers: readonly CollectionResponse[], before: Uint8Array | undefined): Uint8Array | undefined {
  const byId = new Map(answers.map((a) => [a.collectionId, a]));
  const collections = plans.flatMap((p) => {
    // A refused collection (a stale copy of an old request gets Status 3) does not move what the device holds.
    const answer = p.status === undefined ? byId.get(p.collectionId) : undefined;
    if (!p.collection || answer?.status !== 'ok') return [];
    const options = child(p.element, 'Options');
    const preference = children(options, 'BodyPreference', 'AirSyncBase')[0];
    const partPreference = children(options, 'BodyPartPreference', 'AirSyncBase')[0];
    return [
      as(
        'Collection',
        as('SyncKey', String(answer.syncKey)),
        as('CollectionId', p.collectionId),
        small(child(p.element, 'GetChanges')),
        small(child(p.element, 'WindowSize')),
        options &&
          as(
            'Options',
            small(child(options, 'FilterType')),
            preference && el('AirSyncBase', 'BodyPreference', small(child(preference, 'Type')), small(child(preference, 'TruncationSize'))),
            partPreference && el('AirSyncBase', 'BodyPartPreference', small(child(partPreference, 'Type')), small(child(partPreference, 'TruncationSize'))),
          ),
      ),
    ];
  });
  if (collections.length === 0) return before;
  const bytes = encodeWbxml(as('Sync', as('Collections', ...collections), small(child(request, 'Wait')), small(child(request, 'HeartbeatInterval')), small(child(request, 'WindowSize'))));
  return bytes.length <= limits.easDeviceMemoryBytesMax ? bytes : undefined;
}

/** A copy of a value element whose text is a number or flag; anything longer is not worth repeating. */
function small(e: WbxmlElement | undefined): WbxmlElement | undefined {
  const value = text(e);
  return e && value !== undefined && value.length <= 16 ? el(e.ns, e.name, value) : undefined;
}

/** A WindowSize element's value: 0 means the most, 512 (MS-ASCMD 2.2.3.199); absent or garbage, undefined. */
function windowOf(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,6}$/.test(value)) return undefined;
  return Number(value) === 0 ? windowMax : Number(value);
}

const emptyPlan = (element: WbxmlElement, collectionId: string): Plan => ({ element, collectionId, commands: [], origins: [], local: [], window: windowDefault, narrowReplay: false, stuck: false, moved: new Set(), sentDrafts: new Set() });

/** A client command behind a hub command: its position in the collection's Commands, its name, the occurrence it named. */
interface Origin {
  position: number;
  name: string;
  instanceId?: string;
}

/** The version of an item the device holds (hub readHeldItem): its etag when the hub can name it. */
type Held = { data: string; etag?: string };

/**
 * A change made from version `madeFrom`, when the hub can name it; else completed from a stand-in, which
 * the phone does not hold, so the hub writes it as its own and sends it to the phone too (HubClientCommand).
 */
const change = (serverId: string, data: string, madeFrom: string | undefined): HubClientCommand => ({ op: 'change', serverId, data, ...(madeFrom === undefined ? { heldUnknown: true } : { etag: madeFrom }) });

/**
 * Several edits of one item in one Sync (occurrence edits and deletes of one series, partial Changes)
 * apply in the order the client sent them, each to the item as the ones before it left it: the version
 * the device holds for the first (the one the hub last sent it, or its own last write: it made its edit
 * from that one, not from a version written since by another device), then what the last one made.
 * They reach the hub as one change made from the version the device holds, so a concurrent change is
 * merged or decided by priority as any device's is, answered for each of them, so either all of them
 * hold or none does and each answer says so. Occurrence edits in a row work on one parsed series
 * (OccurrenceEdits), so many of them cost one parse. A Delete of the whole item ends the run: an edit
 * after it starts from the held version again and reaches the hub after the delete (which then refuses
 * it). docs/eas.md (Sync) describes it.
 */
class EditsInOrder {
  private readonly runs = new Map<string, { index: number; data: string; madeFrom?: string; series?: OccurrenceEdits }>();
  /** The version the device holds of each item this request edits, read once. */
  private readonly held = new Map<string, Held | undefined>();

  constructor(
    private readonly plan: Plan,
    private readonly read: (serverId: string) => Promise<Held | undefined>,
  ) {}

  /** The item the next Change of `serverId` applies to: what this request's earlier edits made of it, else the device's version; undefined if it does not exist. */
  async base(serverId: string): Promise<string | undefined> {
    const run = this.runs.get(serverId);
    if (!run) return (await this.heldVersion(serverId))?.data;
    if (run.series) {
      run.data = run.series.toString();
      delete run.series;
    }
    return run.data;
  }

  /**
   * A Change's result, made from `base(serverId)`: it joins the item's change for the hub, or starts
   * one. One that makes the item larger than the hub takes fails alone (the edits before it stand).
   */
  edited(serverId: string, data: string, origin: Origin): void {
    if (Buffer.byteLength(data) > limits.itemBytesMax) throw new Error(`the item would be larger than ${limits.itemBytesMax} bytes`);
    const run = this.join(serverId, origin);
    run.data = data;
    this.plan.commands[run.index] = change(serverId, data, run.madeFrom);
  }

  /** An occurrence edit (`app`) or delete of the series `serverId`; false if there is no such item. A bad one throws and changes nothing. */
  async occurrence(serverId: string, instanceId: string, app: WbxmlElement | undefined, origin: Origin): Promise<boolean> {
    let series = this.runs.get(serverId)?.series;
    if (!series) {
      const data = await this.base(serverId);
      if (data === undefined) return false;
      series = new OccurrenceEdits(data);
    }
    series.apply(instanceId, app);
    const run = this.join(serverId, origin);
    run.series = series;
    return true;
  }

  /** The whole item is deleted by a command about to be planned. */
  deleted(serverId: string): void {
    this.runs.delete(serverId);
  }

  /** Writes what occurrence edits made into the hub's commands; called once every command is planned. */
  finish(): void {
    for (const [serverId, run] of this.runs) {
      if (run.series) this.plan.commands[run.index] = change(serverId, run.series.toString(), run.madeFrom);
    }
  }

  private async heldVersion(serverId: string): Promise<Held | undefined> {
    if (!this.held.has(serverId)) this.held.set(serverId, await this.read(serverId));
    return this.held.get(serverId);
  }

  /** Called after `base(serverId)` found the item, so its held version is known. */
  private join(serverId: string, origin: Origin): { index: number; data: string; madeFrom?: string; series?: OccurrenceEdits } {
    let run = this.runs.get(serverId);
    if (run) {
      this.plan.origins[run.index]?.push(origin);
      return run;
    }
    run = { index: this.plan.commands.length, data: '', madeFrom: this.held.get(serverId)?.etag };
    this.runs.set(serverId, run);
    this.plan.commands.push({ op: 'change', serverId, data: '' });
    this.plan.origins.push([origin]);
    return run;
  }
}

/** The elements of a collection's Commands. */
const commandsOf = (element: WbxmlElement) => child(element, 'Commands')?.children.filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array)) ?? [];

/**
 * Why a collection of the request is refused before anything is read or converted for it, if it is:
 * an unknown folder (the device's hierarchy is out of date: it should FolderSync), a key that is no
 * number, commands with key 0 or more than `commandsPerCollectionMax` of them, a FilterType that is not
 * one digit (MS-ASCMD 2.2.3.68; it is stored), or a Supported list longer than `easSupportedMax`.
 */
function refusal(element: WbxmlElement, collections: ReadonlyMap<string, CollectionRow>): number | undefined {
  if (!collections.has(text(child(element, 'CollectionId')) ?? '')) return syncStatus.hierarchyChanged;
  const sent = text(child(element, 'SyncKey')) ?? '';
  if (!/^\d{1,15}$/.test(sent)) return syncStatus.invalidSyncKey;
  const commands = commandsOf(element).length;
  if ((Number(sent) === 0 && commands > 0) || commands > limits.commandsPerCollectionMax) return syncStatus.protocolError;
  const filter = text(child(child(element, 'Options'), 'FilterType'));
  if (filter !== undefined && !/^\d$/.test(filter)) return syncStatus.protocolError;
  const supported = child(element, 'Supported');
  if (supported && supported.children.length > limits.easSupportedMax) return syncStatus.protocolError;
  return undefined;
}

/** The fingerprint of an Add or Change that carries data (sync-identities.ts). */
function fingerprintOf(collectionId: string, c: WbxmlElement): { command: WbxmlElement; fingerprint: string } | undefined {
  const data = child(c, 'ApplicationData');
  if (!data || (c.name !== 'Add' && c.name !== 'Change')) return undefined;
  return { command: c, fingerprint: commandFingerprint(collectionId, c.name, text(child(c, c.name === 'Add' ? 'ClientId' : 'ServerId')) ?? '', data) };
}

async function plan(
  ctx: EasContext,
  element: WbxmlElement,
  collection: CollectionRow,
  settings: CollectionSettings | undefined,
  known: { fingerprints: ReadonlyMap<WbxmlElement, string>; identities: ReadonlyMap<string, CommandIdentity>; deferred: ReadonlySet<WbxmlElement> },
  globalWindow: number | undefined,
): Promise<Plan> {
  const collectionId = collection.id;
  const p = emptyPlan(element, collectionId);
  const sent = text(child(element, 'SyncKey')) ?? '';
  const mapper = mapperFor(collection.kind);
  Object.assign(p, { collection, mapper, key: Number(sent) });
  const commands = commandsOf(element);
  const filterGiven = text(child(child(element, 'Options'), 'FilterType'));
  // A new FilterType under a key its items already came under would never bring the older events it
  // now asks for: the device must start the collection over (as Exchange makes it). A request naming
  // none keeps the one in force.
  if (p.key !== 0 && settings?.filter !== undefined && filterGiven !== undefined && filterGiven !== settings.filter && (collection.kind === 'events' || collection.kind === 'mail')) {
    return { ...p, status: syncStatus.invalidSyncKey };
  }
  p.options = readOptions(element, collection.kind, ctx.now(), settings?.filter);
  const supported = settings?.supported && new Set(settings.supported);
  const context = (c: WbxmlElement) => {
    const identity: CommandIdentity | undefined = known.identities.get(known.fingerprints.get(c) ?? '');
    return { version: ctx.request.version, newUid: () => identity?.uid ?? randomUUID(), now: identity?.now ?? ctx.now() };
  };
  // A mail Delete moves the message to Deleted Items unless the device says otherwise (sync-mail.ts); only
  // under a key the hub takes: a stale copy of an old request gets Status 3, and must move nothing.
  const moves = collection.kind === 'mail' && deletesAsMoves(element) && commands.some((c) => c.name === 'Delete');
  const trash = moves && (await ctx.hub.syncKeyKind(ctx.point.accountId, ctx.point.device.id, collectionId, p.key as number)) !== 'invalid' ? await trashFor(ctx, collectionId) : undefined;
  const deleted = commands.flatMap((c) => (c.name === 'Delete' ? [text(child(c, 'ServerId')) ?? ''] : [])).filter((id) => id !== '');
  const trashed = trash === undefined ? new Map<string, 'moved' | 'delete' | number>() : await movesToTrash(ctx, collectionId, deleted, trash);
  const edits = new EditsInOrder(p, (serverId) => ctx.hub.readHeldItem(ctx.point.accountId, ctx.point.device.id, collectionId, p.key as number, serverId));
  // ActiveSync 16 drafts: Adds and edits in the Drafts folder are messages filed (and sent) at the mail
  // servers (sync-drafts.ts); as for moves, only under a key the hub takes.
  const drafting =
    collection.kind === 'mail' &&
    commands.some((c) => isDraftCommand(ctx, c)) &&
    (await draftsFolder(ctx)) === collectionId &&
    (await ctx.hub.syncKeyKind(ctx.point.accountId, ctx.point.device.id, collectionId, p.key as number)) !== 'invalid';
  for (const [position, command] of commands.entries()) {
    const serverId = text(child(command, 'ServerId'));
    // An RTF body becomes text; one that cannot be read is kept as sent (or, too large, left out), the item kept, and shown among the device's errors.
    const readable = child(command, 'ApplicationData') && withReadableBody(child(command, 'ApplicationData') as WbxmlElement);
    const applicationData = readable?.data;
    if (readable?.problem) {
      const which = serverId !== undefined ? `item ${serverId}` : `new item ${text(child(command, 'ClientId')) ?? ''}`;
      await ctx.hub.reportDeviceError(ctx.point.accountId, ctx.point.device.id, 'conversionError', `${which} in ${collection.displayName}: ${readable.problem.slice(0, 600)}`);
    }
    const push = (c: ClientCommand) => {
      p.commands.push(c);
      p.origins.push([{ position, name: command.name }]);
    };
    // ActiveSync 16 edits or deletes one occurrence of a series by naming it (InstanceId).
    const instanceId = ctx.request.version.startsWith('16') && collection.kind === 'events' ? text(child(command, 'InstanceId', 'AirSyncBase')) : undefined;
    const notFound = () => p.local.push({ position, element: as(command.name, as('ServerId', serverId ?? ''), instanceId !== undefined && el('AirSyncBase', 'InstanceId', instanceId), as('Status', String(syncStatus.notFound))) });
    try {
      if (drafting && isDraftCommand(ctx, command)) {
        const outcome = await draftCommand(ctx, collectionId, p.key as number, command, applicationData);
        if (outcome.response) p.local.push({ position, element: outcome.response });
        if (outcome.sent !== undefined) p.sentDrafts.add(outcome.sent);
      } else if (command.name === 'Add' && applicationData) {
        push({ op: 'add', clientId: text(child(command, 'ClientId')) ?? '', data: mapper.fromEas(applicationData, undefined, context(command)) });
      } else if (instanceId !== undefined && serverId && (command.name === 'Delete' || (command.name === 'Change' && applicationData))) {
        if (!(await edits.occurrence(serverId, instanceId, command.name === 'Change' ? applicationData : undefined, { position, name: command.name, instanceId }))) notFound();
      } else if (command.name === 'Change' && serverId && applicationData) {
        const existing = await edits.base(serverId);
        if (existing === undefined) notFound();
        else edits.edited(serverId, mapper.fromEas(withGhosts(applicationData, mapper, collection.kind, existing, ctx, supported), existing, context(command)), { position, name: command.name });
      } else if (command.name === 'Delete' && serverId) {
        edits.deleted(serverId);
        const moved = trashed.get(serverId) ?? 'delete';
        if (moved === 'delete') push({ op: 'delete', serverId });
        else if (moved === 'moved') p.moved.add(serverId);
        else p.local.push({ position, element: as('Delete', as('ServerId', serverId), as('Status', String(moved))) });
      }
      else if (command.name === 'Fetch' && serverId && known.deferred.has(command)) p.local.push({ position, element: as('Fetch', as('ServerId', serverId), as('Status', String(syncStatus.retry))) });
      else if (command.name === 'Fetch' && serverId) push({ op: 'fetch', serverId });
      else p.local.push({ position, element: as(command.name, serverId !== undefined && as('ServerId', serverId), as('Status', String(syncStatus.protocolError))) });
    } catch (err) {
      // One item the client sent that cannot become a vCard or iCalendar item fails alone.
      const clientId = text(child(command, 'ClientId'));
      ctx.logger.info({ deviceId: ctx.point.device.id, collectionId, err: (err as Error).message }, 'ActiveSync item not converted');
      await ctx.hub.reportDeviceError(ctx.point.accountId, ctx.point.device.id, 'conversionError', `${command.name} in ${collection.displayName} refused (Status 6): ${(err as Error).message.slice(0, 300)}`);
      p.local.push({
        position,
        element: as(
          command.name,
          clientId !== undefined && as('ClientId', clientId),
          serverId !== undefined && as('ServerId', serverId),
          instanceId !== undefined && el('AirSyncBase', 'InstanceId', instanceId),
          as('Status', String(syncStatus.conversionError)),
        ),
      });
    }
  }
  edits.finish();
  const requested = windowOf(text(child(element, 'WindowSize'))) ?? globalWindow ?? windowDefault;
  const repeat = noteRepeat(ctx.memory, collectionId, sent);
  p.window = Math.max(1, Math.min(requested, windowMax, repeat.window));
  p.narrowReplay = repeat.narrowed;
  p.stuck = repeat.stuck;
  return p;
}

/**
 * Which elements a Change leaves out mean "unchanged" (ghosting), the one rule for every class:
 * - the Body, always: clients are sent bodies cut to what they asked for and leave out one they did not
 *   edit (MS-ASAIRS);
 * - calendar items in protocol 16.x: every top-level element (MS-ASCAL 3.1.5.3), except Exceptions,
 *   which 16.x clients may not send: the calendar mapper keeps the item's exceptions unless the pattern
 *   or the series' times changed (MS-ASCAL 2.2.2.22);
 * - otherwise (14.x calendars, contacts, tasks, notes), when the device sent a `Supported` list with its
 *   key 0, every element it did not list (MS-ASCMD 2.2.3.179; an empty list ghosts them all).
 * Every other element a Change leaves out is removed, as MS-ASCMD says. docs/eas.md (Sync) describes it.
 */
function leftOutMeansUnchanged(key: string, kind: CollectionKind, version: string, supported: ReadonlySet<string> | undefined): boolean {
  if (key === 'AirSyncBase:Body') return true;
  if (kind === 'events' && version.startsWith('16')) return key !== 'Calendar:Exceptions';
  return supported !== undefined && !supported.has(key);
}

/** The client's ApplicationData with what it left out and means unchanged filled in from the item as this server would send it. */
function withGhosts(applicationData: WbxmlElement, mapper: ItemMapper, kind: CollectionKind, existing: string, ctx: EasContext, supported: ReadonlySet<string> | undefined): WbxmlElement {
  const version = ctx.request.version;
  const sent = new Set(applicationData.children.flatMap((c) => (typeof c === 'object' && !(c instanceof Uint8Array) ? [`${c.ns}:${c.name}`] : [])));
  const kept = mapper.toEas(existing, { version }).filter((e) => {
    const key = `${e.ns}:${e.name}`;
    return !sent.has(key) && leftOutMeansUnchanged(key, kind, version, supported);
  });
  return kept.length === 0 ? applicationData : { ...applicationData, children: [...applicationData.children, ...kept] };
}

const settingsStateKey = 'eas.collections';

/**
 * What the device set up a collection with: the properties it supports (ghosting; sent with key 0) and
 * the FilterType its items come under (fixed by the first request that names one: clients such as
 * TbSync send none with key 0, which brings no items anyway).
 */
interface CollectionSettings {
  supported?: string[];
  filter?: string;
}

/**
 * Each collection's settings once this request is taken into account, in one transaction (one read
 * when nothing changes): a key 0 records its FilterType and Supported list; a later key naming the
 * first FilterType of a collection set up without one fixes it. The record holds the account's live
 * collections only, each with a one-digit filter and at most the class's own property names, so it
 * stays a few kilobytes a collection.
 */
async function settingsAfter(ctx: EasContext, elements: readonly WbxmlElement[], collections: ReadonlyMap<string, CollectionRow>): Promise<Map<string, CollectionSettings>> {
  const read = (raw: string | undefined) => new Map(Object.entries(raw ? (JSON.parse(raw) as Record<string, CollectionSettings>) : {}));
  const apply = (all: Map<string, CollectionSettings>): boolean => {
    let changed = false;
    for (const e of elements) {
      const id = text(child(e, 'CollectionId')) ?? '';
      const kind = (collections.get(id) as CollectionRow).kind;
      const filter = text(child(child(e, 'Options'), 'FilterType'));
      const supported = child(e, 'Supported');
      const before = all.get(id);
      if (text(child(e, 'SyncKey')) === '0') all.set(id, { ...(filter !== undefined ? { filter } : {}), ...(supported ? { supported: supportedNames(supported, kind) } : {}) });
      else if (before && before.filter === undefined && filter !== undefined) all.set(id, { ...before, filter });
      changed ||= all.get(id) !== before;
    }
    return changed;
  };
  const current = read(await ctx.hub.readFaceState(ctx.point.accountId, ctx.point.device.id, settingsStateKey));
  if (!apply(new Map(current))) return current;
  return ctx.hub.withFaceState(ctx.point, settingsStateKey, (live, raw) => {
    const all = read(raw);
    apply(all);
    const kept = live.filter((c) => all.has(c.id)).map((c) => [c.id, all.get(c.id)]);
    return { state: JSON.stringify(Object.fromEntries(kept)), result: all };
  });
}

/** The namespaces whose properties a folder's items have (MS-ASCMD 2.2.3.179 Supported lists them). */
const propertyNamespaces: Record<string, readonly string[] | undefined> = {
  contacts: ['Contacts', 'Contacts2'],
  events: ['Calendar'],
  tasks: ['Tasks'],
  notes: ['Notes'],
};

/**
 * The properties a device lists as Supported, as `ns:name`: only those of the folder's class (the
 * decoder already refused names its code pages do not define), each once, so the list can never be
 * longer than the class's own code pages.
 */
function supportedNames(supported: WbxmlElement, kind: CollectionKind): string[] {
  const names = new Set<string>();
  for (const c of supported.children) {
    if (typeof c === 'object' && !(c instanceof Uint8Array) && (propertyNamespaces[kind] ?? []).includes(c.ns)) names.add(`${c.ns}:${c.name}`);
  }
  return [...names];
}

function hubRequest(p: Plan): HubCollectionRequest {
  const key = p.key as number;
  const getChanges = key !== 0 && text(child(p.element, 'GetChanges')) !== '0';
  return {
    collectionId: p.collectionId,
    syncKey: key,
    windowSize: p.window,
    ...(p.narrowReplay ? { narrowReplay: true } : {}),
    getChanges,
    ...(p.commands.length > 0 ? { commands: p.commands } : {}),
    ...(p.options?.hub ? { options: p.options.hub } : {}),
  };
}

/** `budget` counts the fetched item data of the whole answer (at most easFetchedBytesMax). */
async function respond(ctx: EasContext, p: Plan, answer: CollectionResponse, blocked: ReadonlyMap<string, string>, budget: { fetchedBytes: number }): Promise<WbxmlElement> {
  const head = [as('SyncKey', String(answer.syncKey)), as('CollectionId', p.collectionId)];
  if (answer.status === 'invalidSyncKey') return as('Collection', as('SyncKey', '0'), as('CollectionId', p.collectionId), as('Status', String(syncStatus.invalidSyncKey)));
  if (answer.status !== 'ok') return as('Collection', ...head, as('Status', String(syncStatus.hierarchyChanged)));
  const mapper = p.mapper as ItemMapper;
  const toEas = { version: ctx.request.version, ...(p.options?.bodyPreference ? { bodyPreference: p.options.bodyPreference } : {}), ...(p.options?.bodyPartPreference ? { bodyPartPreference: p.options.bodyPartPreference } : {}) };
  const isMail = p.collection?.kind === 'mail';
  // Mail: bodies the device wants more of than the items hold, fetched whole within the cost rule (sync-mail.ts).
  const whole = isMail
    ? await wholeBodies(ctx, p.collectionId, [...answer.commands.flatMap((c) => (c.op === 'delete' ? [] : [c])), ...answer.fetched], p.options?.bodyPreference)
    : new Map();
  const optionsFor = (serverId: string) => ({ ...toEas, item: { collectionId: p.collectionId, serverId }, ...(whole.has(serverId) ? { wholeBody: whole.get(serverId) } : {}) });
  let commands: Array<{ serverId: string; element: WbxmlElement }> = [];
  const sent: Array<{ serverId: string; etag: string }> = [];
  /** A server Add or Change, or undefined (reported) if the item cannot be converted. */
  const serverCommand = async (name: 'Add' | 'Change', serverId: string, data: string): Promise<WbxmlElement | undefined> => {
    try {
      return as(name, as('ServerId', serverId), as('ApplicationData', ...mapper.toEas(data, optionsFor(serverId))));
    } catch (err) {
      await ctx.hub.reportDeviceError(ctx.point.accountId, ctx.point.device.id, 'conversionError', `item ${serverId} could not be converted for ActiveSync: ${(err as Error).message}`);
      return undefined;
    }
  };
  for (const command of answer.commands) {
    if (command.op === 'delete') {
      if (p.moved.has(command.serverId)) continue;
      commands.push({ serverId: command.serverId, element: as('Delete', as('ServerId', command.serverId)) });
      continue;
    }
    // The version the device choked on stays out; a later version of the item is tried again.
    if (blocked.get(command.serverId) === command.etag) continue;
    const element = await serverCommand(command.op === 'add' ? 'Add' : 'Change', command.serverId, command.data);
    if (!element) continue;
    commands.push({ serverId: command.serverId, element });
    sent.push({ serverId: command.serverId, etag: command.etag });
  }
  // The device keeps asking for the same answer and is down to one item: that item is what it cannot take.
  const culprit = sent[0];
  if (p.stuck && sent.length === 1 && culprit) {
    await quarantine(ctx, p.collectionId, culprit.serverId, culprit.etag);
    commands = commands.filter((c) => c.serverId !== culprit.serverId);
  }
  const fetched = new Map(answer.fetched.map((f) => [f.serverId, f]));
  const responses: Array<{ position: number; element: WbxmlElement }> = [...p.local];
  for (const r of answer.results) {
    const origins = p.origins[r.index] ?? [];
    const position = origins[0]?.position ?? r.index;
    const status = String(itemStatusOf(r.status));
    if (r.op === 'add') {
      // An Add that met an item it duplicates and lost to it there became that item: the phone takes its
      // ServerId, and the item's current version follows as a server command. Status 7 would leave the
      // phone a row it can neither send again nor match (docs/eas.md § Sync; sim seed 9100038).
      const became = r.serverId !== undefined && (r.status === 'ok' || r.status === 'conflict');
      responses.push({ position, element: as('Add', r.clientId !== undefined && as('ClientId', r.clientId), became && as('ServerId', r.serverId), as('Status', became ? String(syncStatus.success) : status)) });
    } else if (r.op === 'fetch') {
      const item = r.serverId !== undefined ? fetched.get(r.serverId) : undefined;
      let data: WbxmlElement | undefined;
      let fetchStatus = status;
      const size = item ? Buffer.byteLength(item.data) : 0;
      if (budget.fetchedBytes + size > limits.easFetchedBytesMax) fetchStatus = String(syncStatus.retry);
      else {
        budget.fetchedBytes += size;
        try {
          data = item && as('ApplicationData', ...mapper.toEas(item.data, optionsFor(item.serverId)));
        } catch {
          fetchStatus = String(syncStatus.conversionError);
        }
      }
      responses.push({ position, element: as('Fetch', r.serverId !== undefined && as('ServerId', r.serverId), as('Status', fetchStatus), data) });
    } else if (r.status !== 'ok') {
      // Successful changes and deletes are not echoed (MS-ASCMD 2.2.3.24.3); failures are, under the
      // client's own command name (a deleted occurrence went to the hub as a change of its series).
      for (const o of origins) {
        responses.push({ position: o.position, element: as(o.name, as('ServerId', r.serverId ?? ''), o.instanceId !== undefined && el('AirSyncBase', 'InstanceId', o.instanceId), as('Status', status)) });
      }
    }
  }
  responses.sort((a, b) => a.position - b.position);
  // Drafts an Add with Send made and sent: gone from Drafts, deleted on the device unless the hub's changes say so already.
  for (const id of p.sentDrafts) if (!commands.some((c) => c.serverId === id && c.element.name === 'Delete')) commands.push({ serverId: id, element: as('Delete', as('ServerId', id)) });
  // Mail the device moved here and filed under DstMsgId that is gone from here since (sync-mail.ts).
  if (isMail) {
    const told = new Set([...answer.commands.map((c) => c.serverId), ...p.moved, ...p.commands.flatMap((c) => (c.op === 'delete' ? [c.serverId] : []))]);
    const covered = hubRequest(p).getChanges === true && answer.moreAvailable !== true;
    for (const id of await movedInDeletes(ctx, p.collectionId, p.key as number, told, covered)) commands.push({ serverId: id, element: as('Delete', as('ServerId', id)) });
  }
  // Mail that left the FilterType window since the device's last answer (sync-mail.ts); never one this answer deletes or sends.
  if (isMail && answer.syncKey !== 0) {
    const start = p.options?.hub?.timeRange && Date.parse(p.options.hub.timeRange.start);
    const told = new Set(commands.map((c) => c.serverId));
    for (const id of await softDeletes(ctx, p.collectionId, p.key as number, start, limits.easSoftDeletesMax)) {
      if (!told.has(id)) commands.push({ serverId: id, element: as('SoftDelete', as('ServerId', id)) });
    }
  }
  return as(
    'Collection',
    ...head,
    as('Status', String(syncStatus.success)),
    answer.moreAvailable && as('MoreAvailable'),
    commands.length > 0 && as('Commands', ...commands.map((c) => c.element)),
    responses.length > 0 && as('Responses', ...responses.map((r) => r.element)),
  );
}
