import { decodeWbxml, encodeWbxml, namespace, type WbxmlElement, type WbxmlNode } from '../../src/faces/eas/wbxml/codec.js';
import { toXml } from '../../src/faces/eas/wbxml/xml.js';
import { recordLocalDelete, recordLocalPut } from '../../src/sdk/replica.js';
import { sdkDevice, type SdkDevice } from './push.js';
import { getJson, type TestServer } from './server.js';

/**
 * A small scripted Exchange ActiveSync client for end-to-end tests: real HTTP to
 * `/Microsoft-Server-ActiveSync`, WBXML bodies built and read with the server's own codec. Requests use
 * the plain query form (`?Cmd=…&User=…&DeviceId=…&DeviceType=…`, version in `MS-ASProtocolVersion`) by
 * default and the base64 form (MS-ASHTTP 2.2.1.1.1.1) on demand.
 */

export const as = namespace('AirSync');
export const fh = namespace('FolderHierarchy');
export const contacts = namespace('Contacts');
export const contacts2 = namespace('Contacts2');
export const cal = namespace('Calendar');
export const tasks = namespace('Tasks');
export const notes = namespace('Notes');
export const asb = namespace('AirSyncBase');
export const ping = namespace('Ping');
export const gie = namespace('GetItemEstimate');
export const io = namespace('ItemOperations');
export const mv = namespace('Move');
export const st = namespace('Settings');
export const prov = namespace('Provision');

export interface EasClientOptions {
  baseUrl: string;
  user: string;
  password: string;
  deviceId: string;
  deviceType?: string;
  version?: string;
}

export interface SendOptions {
  /** Send the request line in the base64 form instead of the plain one. */
  base64?: boolean;
  /** URI command parameters (CollectionId, ItemId…). */
  params?: Record<string, string>;
  version?: string;
  policyKey?: string;
  /** An Authorization header to use instead of Basic user:password; null sends none. */
  authorization?: string | null;
  signal?: AbortSignal;
  /** Overrides the DeviceId for this request only. */
  deviceId?: string;
}

export interface EasResponse {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  /** The decoded WBXML body, for a 200 with a WBXML body. */
  body?: WbxmlElement;
  /** The body as UTF-8 text (error messages). */
  text: string;
  /** Milliseconds from sending the request to the full answer. */
  elapsedMs: number;
}

/** Command codes of the base64 form (MS-ASHTTP 2.2.1.1.1.1.2). */
const commandCodes: Record<string, number> = {
  Sync: 0, SendMail: 1, SmartForward: 2, SmartReply: 3, GetAttachment: 4, FolderSync: 9, FolderCreate: 10, FolderDelete: 11,
  FolderUpdate: 12, MoveItems: 13, GetItemEstimate: 14, MeetingResponse: 15, Search: 16, Settings: 17, Ping: 18,
  ItemOperations: 19, Provision: 20, ResolveRecipients: 21, ValidateCert: 22, Find: 23,
};

/** Parameter tags of the base64 form (MS-ASHTTP 2.2.1.1.1.1.3). */
const parameterTags: Record<string, number> = { AttachmentName: 0, CollectionId: 1, ItemId: 3, LongId: 4, Occurrence: 6, Options: 7, User: 8 };

/** The query string of the base64 form: version, command, locale, device id, policy key, device type, parameters. */
export function base64Query(o: { version: string; command: string; deviceId: string; deviceType: string; policyKey?: string; user?: string; params?: Record<string, string> }): string {
  const code = commandCodes[o.command];
  if (code === undefined) throw new Error(`no base64 code for command ${o.command}`);
  const [major, minor] = o.version.split('.').map(Number) as [number, number];
  const bytes: number[] = [major * 10 + minor, code, 0x09, 0x04]; // locale 0x0409 (en-US), little-endian
  const lengthPrefixed = (data: Buffer) => {
    if (data.length > 255) throw new Error('a base64-form field is at most 255 bytes');
    bytes.push(data.length, ...data);
  };
  lengthPrefixed(Buffer.from(o.deviceId, 'latin1'));
  if (o.policyKey === undefined) bytes.push(0);
  else {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(Number(o.policyKey));
    bytes.push(4, ...key);
  }
  lengthPrefixed(Buffer.from(o.deviceType, 'latin1'));
  const params = { ...(o.user !== undefined ? { User: o.user } : {}), ...o.params };
  for (const [name, value] of Object.entries(params)) {
    const tag = parameterTags[name];
    if (tag === undefined) throw new Error(`no base64 tag for parameter ${name}`);
    bytes.push(tag);
    lengthPrefixed(name === 'Options' ? Buffer.of(Number(value)) : Buffer.from(value, 'utf8'));
  }
  return encodeURIComponent(Buffer.from(bytes).toString('base64'));
}

export class EasClient {
  readonly deviceId: string;
  readonly deviceType: string;
  version: string;
  policyKey: string | undefined;

  constructor(readonly o: EasClientOptions) {
    this.deviceId = o.deviceId;
    this.deviceType = o.deviceType ?? 'SmartPhone';
    this.version = o.version ?? '14.1';
  }

  get authorization(): string {
    return basic(this.o.user, this.o.password);
  }

  url(command: string, options: SendOptions = {}): string {
    const deviceId = options.deviceId ?? this.deviceId;
    const policyKey = options.policyKey ?? this.policyKey;
    if (options.base64) {
      const query = base64Query({
        version: options.version ?? this.version,
        command,
        deviceId,
        deviceType: this.deviceType,
        user: this.o.user,
        ...(policyKey !== undefined ? { policyKey } : {}),
        ...(options.params ? { params: options.params } : {}),
      });
      return `${this.o.baseUrl}/Microsoft-Server-ActiveSync?${query}`;
    }
    const query = new URLSearchParams({ Cmd: command, User: this.o.user, DeviceId: deviceId, DeviceType: this.deviceType, ...options.params });
    return `${this.o.baseUrl}/Microsoft-Server-ActiveSync?${query}`;
  }

  /** POSTs one command; `body` is a WBXML tree, raw bytes, or nothing (an empty request). */
  async send(command: string, body?: WbxmlElement | Uint8Array, options: SendOptions = {}): Promise<EasResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/vnd.ms-sync.wbxml', 'user-agent': 'syncpoint-eas-test/1.0' };
    if (!options.base64) headers['ms-asprotocolversion'] = options.version ?? this.version;
    if (!options.base64 && (options.policyKey ?? this.policyKey) !== undefined) headers['x-ms-policykey'] = (options.policyKey ?? this.policyKey) as string;
    const authorization = options.authorization === undefined ? this.authorization : options.authorization;
    if (authorization !== null) headers.authorization = authorization;
    const payload = body === undefined ? undefined : body instanceof Uint8Array ? body : encodeWbxml(body);
    const started = performance.now();
    const res = await fetch(this.url(command, options), {
      method: 'POST',
      headers,
      ...(payload ? { body: new Uint8Array(payload) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const elapsedMs = performance.now() - started;
    const isWbxml = (res.headers.get('content-type') ?? '').startsWith('application/vnd.ms-sync.wbxml');
    const decoded = res.status === 200 && isWbxml && bytes.length > 0 ? decodeWbxml(bytes) : undefined;
    return { status: res.status, headers: res.headers, bytes, ...(decoded ? { body: decoded } : {}), text: Buffer.from(bytes).toString('utf8'), elapsedMs };
  }

  /** Like `send`, but insists on HTTP 200 with a WBXML body and returns that body. */
  async command(command: string, body?: WbxmlElement | Uint8Array, options: SendOptions = {}): Promise<WbxmlElement> {
    const res = await this.send(command, body, options);
    if (res.status !== 200 || !res.body) throw new Error(`${command}: HTTP ${res.status} ${res.text}`);
    return res.body;
  }

  async options(authorization: string | null = null): Promise<Response> {
    return fetch(`${this.o.baseUrl}/Microsoft-Server-ActiveSync`, { method: 'OPTIONS', headers: authorization ? { authorization } : {} });
  }

  // Commands as a client usually sends them.

  folderSync(key: string, options?: SendOptions): Promise<WbxmlElement> {
    return this.command('FolderSync', fh('FolderSync', fh('SyncKey', key)), options);
  }

  /** FolderSync from key 0: the folders by ServerId. */
  async folders(): Promise<{ key: string; folders: Array<{ id: string; name: string; type: number; parentId: string }> }> {
    const answer = await this.folderSync('0');
    return { key: textAt(answer, 'SyncKey'), folders: folderEntries(answer, 'Add') };
  }

  /** One Sync of one collection. */
  sync(collection: SyncCollection, options?: SendOptions): Promise<WbxmlElement> {
    return this.command('Sync', syncBody([collection]), options);
  }

  /** Sync with key 0, then the returned key: the collection's first key with items to come. */
  async primeSync(collectionId: string, extra: Omit<SyncCollection, 'collectionId' | 'syncKey'> = {}): Promise<string> {
    const answer = collectionOf(await this.sync({ collectionId, syncKey: '0', ...extra }));
    const key = textAt(answer, 'SyncKey');
    if (textAt(answer, 'Status') !== '1' || key === '0') throw new Error(`priming ${collectionId} failed: ${toXml(answer)}`);
    return key;
  }

  /** Follows MoreAvailable from `key` until the collection is in step; returns every answer and the last key. */
  async pull(collectionId: string, key: string, extra: Omit<SyncCollection, 'collectionId' | 'syncKey' | 'commands'> = {}): Promise<{ key: string; answers: WbxmlElement[] }> {
    const answers: WbxmlElement[] = [];
    for (;;) {
      const answer = collectionOf(await this.sync({ collectionId, syncKey: key, ...extra }));
      if (textAt(answer, 'Status') !== '1') throw new Error(`pull of ${collectionId}: ${toXml(answer)}`);
      answers.push(answer);
      key = textAt(answer, 'SyncKey');
      if (!has(answer, 'MoreAvailable')) return { key, answers };
      if (answers.length > 10_000) throw new Error('MoreAvailable never ends');
    }
  }
}

export interface SyncCollection {
  collectionId: string;
  syncKey: string;
  windowSize?: number;
  getChanges?: boolean;
  /** Children of Options (FilterType, AirSyncBase BodyPreference…). */
  options?: WbxmlElement[];
  /** Add/Change/Delete/Fetch elements. */
  commands?: WbxmlElement[];
}

export function syncBody(collections: SyncCollection[], windowSize?: number): WbxmlElement {
  return as(
    'Sync',
    as(
      'Collections',
      ...collections.map((c) =>
        as(
          'Collection',
          as('SyncKey', c.syncKey),
          as('CollectionId', c.collectionId),
          c.getChanges !== undefined ? as('GetChanges', c.getChanges ? '1' : '0') : c.syncKey !== '0' && as('GetChanges'),
          c.windowSize !== undefined && as('WindowSize', String(c.windowSize)),
          c.options && c.options.length > 0 && as('Options', ...c.options),
          c.commands && c.commands.length > 0 && as('Commands', ...c.commands),
        ),
      ),
    ),
    windowSize !== undefined && as('WindowSize', String(windowSize)),
  );
}

export const addCommand = (clientId: string, ...data: WbxmlElement[]) => as('Add', as('ClientId', clientId), as('ApplicationData', ...data));
export const changeCommand = (serverId: string, ...data: WbxmlElement[]) => as('Change', as('ServerId', serverId), as('ApplicationData', ...data));
export const deleteCommand = (serverId: string) => as('Delete', as('ServerId', serverId));
export const fetchCommand = (serverId: string) => as('Fetch', as('ServerId', serverId));

/** A contact's ApplicationData: FileAs, first and last name, and any extra fields. */
export function contactData(first: string, last: string, ...extra: WbxmlElement[]): WbxmlElement[] {
  return [contacts('FileAs', `${last}, ${first}`), contacts('FirstName', first), contacts('LastName', last), ...extra];
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

// Reading answers.

const isElement = (n: WbxmlNode): n is WbxmlElement => typeof n === 'object' && !(n instanceof Uint8Array);

/** The element at a path of child names below `e` ('Collections/Collection/SyncKey'); the first match at each step. */
export function at(e: WbxmlElement | undefined, path: string): WbxmlElement | undefined {
  let current = e;
  for (const name of path.split('/')) {
    if (!current) return undefined;
    current = current.children.find((c): c is WbxmlElement => isElement(c) && c.name === name);
  }
  return current;
}

/** Every element at a path (all matches at the last step, first match before). */
export function all(e: WbxmlElement | undefined, path: string): WbxmlElement[] {
  const parts = path.split('/');
  const last = parts.pop() as string;
  const parent = parts.length > 0 ? at(e, parts.join('/')) : e;
  return parent ? parent.children.filter((c): c is WbxmlElement => isElement(c) && c.name === last) : [];
}

/** The text at a path; throws if the element is absent, so a missing element fails the test loudly. */
export function textAt(e: WbxmlElement | undefined, path: string): string {
  const found = at(e, path);
  if (!found) throw new Error(`no <${path}> in ${e ? toXml(e) : 'nothing'}`);
  return found.children.filter((c): c is string => typeof c === 'string').join('');
}

export function maybeText(e: WbxmlElement | undefined, path: string): string | undefined {
  const found = at(e, path);
  return found && found.children.filter((c): c is string => typeof c === 'string').join('');
}

export const has = (e: WbxmlElement | undefined, path: string) => at(e, path) !== undefined;

/** The single Collection of a Sync answer (the first one when there are several). */
export function collectionOf(syncAnswer: WbxmlElement): WbxmlElement {
  const found = at(syncAnswer, 'Collections/Collection');
  if (!found) throw new Error(`no Collection in ${toXml(syncAnswer)}`);
  return found;
}

/** The Sync answer's Collection for this id. */
export function collectionById(syncAnswer: WbxmlElement, id: string): WbxmlElement {
  const found = all(syncAnswer, 'Collections/Collection').find((c) => maybeText(c, 'CollectionId') === id);
  if (!found) throw new Error(`no Collection ${id} in ${toXml(syncAnswer)}`);
  return found;
}

/** Server commands of a Sync collection answer, by kind. */
export function commandsOf(collection: WbxmlElement, kind: 'Add' | 'Change' | 'Delete'): WbxmlElement[] {
  return all(collection, `Commands/${kind}`);
}

export function folderEntries(answer: WbxmlElement, kind: 'Add' | 'Update' | 'Delete'): Array<{ id: string; name: string; type: number; parentId: string }> {
  return all(answer, `Changes/${kind}`).map((f) => ({
    id: textAt(f, 'ServerId'),
    name: maybeText(f, 'DisplayName') ?? '',
    type: Number(maybeText(f, 'Type') ?? 0),
    parentId: maybeText(f, 'ParentId') ?? '',
  }));
}

export { toXml };

// Accounts and native devices around an ActiveSync client.

/** A native SDK device that writes and reads items the way an app would (one sync per call). */
export class NativeDevice {
  readonly device: SdkDevice;

  constructor(baseUrl: string, user: string, password: string, id: string) {
    this.device = sdkDevice(baseUrl, user, password, id);
  }

  /** Creates or edits the item `localId` and syncs it up. */
  async put(collectionId: string, localId: string, data: string): Promise<string> {
    await this.device.client.syncCollection(collectionId);
    this.device.replica.transaction((tx) => recordLocalPut(tx, collectionId, localId, data));
    const summary = await this.device.client.syncCollection(collectionId);
    if (summary.rejected.length > 0) throw new Error(`the server refused ${JSON.stringify(summary.rejected)}`);
    const serverId = this.device.replica.transaction((tx) => tx.get(collectionId, localId)?.serverId);
    if (!serverId) throw new Error(`${localId} has no server id after syncing`);
    return serverId;
  }

  async remove(collectionId: string, localId: string): Promise<void> {
    await this.device.client.syncCollection(collectionId);
    this.device.replica.transaction((tx) => recordLocalDelete(tx, collectionId, localId));
    await this.device.client.syncCollection(collectionId);
  }

  /** Syncs and returns the live items by server id. */
  async items(collectionId: string): Promise<Map<string, { localId: string; data: string }>> {
    await this.device.client.syncCollection(collectionId);
    const items = this.device.replica.transaction((tx) => tx.all(collectionId));
    return new Map(items.filter((i) => i.data !== null && i.serverId !== null).map((i) => [i.serverId as string, { localId: i.localId, data: i.data as string }]));
  }
}

export interface EasAccount {
  accountId: string;
  accountName: string;
  password: string;
  authorization: string;
  contacts: string;
  calendar: string;
  tasks: string;
  notes: string;
  eas(deviceId: string, options?: Partial<EasClientOptions>): EasClient;
  native(id: string): NativeDevice;
}

let easAccounts = 0;

/** A fresh account on the test server with its default collections' ids. */
export async function easAccount(server: TestServer, name = `eas${++easAccounts}`): Promise<EasAccount> {
  const user = await server.addUser(name);
  const res = await getJson(`${server.url}/api/v1/collections`, user.authorization);
  if (res.status !== 200) throw new Error(`collections: ${res.status}`);
  const ids = Object.fromEntries((res.body.collections as Array<{ name: string; id: string }>).map((c) => [c.name, c.id]));
  const [contacts, calendar, tasks, notes] = [ids.contacts, ids.calendar, ids.tasks, ids.notes];
  if (!contacts || !calendar || !tasks || !notes) throw new Error('a new account has four default collections');
  return {
    ...user,
    contacts,
    calendar,
    tasks,
    notes,
    eas: (deviceId, options = {}) => new EasClient({ baseUrl: server.url, user: user.accountName, password: user.password, deviceId, ...options }),
    native: (id) => new NativeDevice(server.url, user.accountName, user.password, id),
  };
}

export function vtodo(uid: string, summary: string, extra = ''): string {
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:${summary}\r\n${extra}END:VTODO\r\nEND:VCALENDAR\r\n`;
}

export function vjournal(uid: string, summary: string, description = ''): string {
  const body = description ? `DESCRIPTION:${description}\r\n` : '';
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:${summary}\r\n${body}END:VJOURNAL\r\nEND:VCALENDAR\r\n`;
}

/** An iCalendar UTC date-time `days` from now at the given hour (20260110T100000Z form). */
export function icalUtc(days: number, hour = 10): string {
  const d = new Date(Date.now() + days * 86_400_000);
  d.setUTCHours(hour, 0, 0, 0);
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** An ActiveSync compact UTC date-time (20260110T100000Z), as Calendar StartTime carries it. */
export const easUtc = icalUtc;

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Ping.

export const pingBody = (heartbeat: number | undefined, folders: Array<[string, string]>) =>
  ping(
    'Ping',
    heartbeat !== undefined && ping('HeartbeatInterval', String(heartbeat)),
    folders.length > 0 && ping('Folders', ...folders.map(([id, cls]) => ping('Folder', ping('Id', id), ping('Class', cls)))),
  );

export interface HeldPing {
  settled: () => boolean;
  result: Promise<EasResponse>;
  abort(): void;
}

/** Sends a Ping without waiting for its answer (a held Ping answers when something changes). */
export function startPing(client: EasClient, body: WbxmlElement | undefined): HeldPing {
  const controller = new AbortController();
  let done = false;
  const result = client.send('Ping', body, { signal: controller.signal });
  result.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done, result, abort: () => controller.abort() };
}

/** The folders a Ping answer names. */
export const folderIds = (answer: WbxmlElement) => all(answer, 'Folders/Folder').map((f) => f.children.join(''));
