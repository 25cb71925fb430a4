import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits } from '../../core/limits.js';
import type { Hub } from '../../hub/hub.js';
import { noMetrics, type Metrics } from '../../hub/metrics.js';
import { credentialOf } from '../../hub/accounts.js';
import type { Logger } from '../../hub/ports.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { Principal } from '../../http/principal.js';
import { readBody } from '../../http/body.js';
import { folderCreate, folderDelete, folderUpdate } from './commands/folder-edit.js';
import { folderSync } from './commands/folder-sync.js';
import { getItemEstimate } from './commands/get-item-estimate.js';
import { itemOperations } from './commands/item-operations.js';
import { meetingResponse } from './commands/meeting-response.js';
import { moveItems } from './commands/move-items.js';
import { ping } from './commands/ping.js';
import { provision } from './commands/provision.js';
import { search } from './commands/search.js';
import { sendMail, smartForward, smartReply } from './commands/send-mail.js';
import { settings } from './commands/settings.js';
import { sync } from './commands/sync.js';
import { HeldAnswer, type Command, type PingRegistry } from './context.js';
import { Holds, type Holder } from './holds.js';
import { DeviceMemory, memoryStateKey, saveMemory } from './device-memory.js';
import { EasRequestError, parseEasRequest, supportedVersions } from './request.js';
import { child, decodeWbxml, el, encodeWbxml, text, WbxmlError, type WbxmlElement } from './wbxml/codec.js';

/**
 * Exchange ActiveSync (MS-ASHTTP): `OPTIONS` says which versions and commands we speak; `POST` carries
 * one WBXML command. Each device is a sync point of the hub (`eas-<DeviceId>`), so its changes reach
 * every other face and theirs reach it.
 */
export const easPath = '/microsoft-server-activesync';

const commands: Record<string, Command> = {
  Sync: sync,
  FolderSync: folderSync,
  FolderCreate: folderCreate,
  FolderUpdate: folderUpdate,
  FolderDelete: folderDelete,
  GetItemEstimate: getItemEstimate,
  Ping: ping,
  ItemOperations: itemOperations,
  MoveItems: moveItems,
  Settings: settings,
  Provision: provision,
  SendMail: sendMail,
  SmartReply: smartReply,
  SmartForward: smartForward,
  Search: search,
  MeetingResponse: meetingResponse,
};

/**
 * The namespace of each command's answer, whose top-level Status carries a common status code
 * (MS-ASCMD 2.2.2). MoveItems and MeetingResponse have no top-level Status; they are answered in HTTP.
 */
const answerNamespaces: Record<string, string> = {
  Sync: 'AirSync',
  FolderSync: 'FolderHierarchy',
  FolderCreate: 'FolderHierarchy',
  FolderUpdate: 'FolderHierarchy',
  FolderDelete: 'FolderHierarchy',
  GetItemEstimate: 'GetItemEstimate',
  Ping: 'Ping',
  ItemOperations: 'ItemOperations',
  Settings: 'Settings',
  Provision: 'Provision',
  SendMail: 'ComposeMail',
  SmartReply: 'ComposeMail',
  SmartForward: 'ComposeMail',
  Search: 'Search',
};

/** Common status MaximumDevicesReached (MS-ASCMD 2.2.2): the account has as many devices as it may. */
const maximumDevicesReached = 177;
/** Common status ServerErrorRetryLater (MS-ASCMD 2.2.2): a Ping past the account's limit of held channels. */
const serverErrorRetryLater = 111;

const wbxmlType = 'application/vnd.ms-sync.wbxml';
const serverVersion = '16.1';

/** The headers OPTIONS answers with; also sent on 401 so a client can discover us before it has a password. */
const optionsHeaders = {
  allow: 'OPTIONS,POST',
  'ms-server-activesync': serverVersion,
  'ms-asprotocolversions': supportedVersions.join(','),
  'ms-asprotocolcommands': Object.keys(commands).join(','),
};

export class EasFace {
  /** The requests held until a folder changes (Ping, Sync with Wait). */
  private readonly holds: Holds;
  /** The last answer of a held Ping, its Status and its encoding (heldAnswer). */
  private lastHeld: { answerOf: HeldAnswer['answerOf']; key: string; status: string; body: string } | undefined;

  constructor(
    private readonly hub: Hub,
    pings: PingRegistry,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** ActiveSync devices one account may have (config `easDevicesMax`). */
    private readonly devicesMax: number,
    private readonly metrics: Metrics = noMetrics,
  ) {
    this.holds = new Holds(hub, pings, logger);
  }

  options(res: ServerResponse): void {
    res.writeHead(200, { ...optionsHeaders, 'content-length': 0 });
    res.end();
  }

  async handle(principal: Principal, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      return plain(res, 405, 'ActiveSync takes OPTIONS and POST', { allow: 'OPTIONS,POST' });
    }
    let body: Buffer;
    try {
      body = await readBody(req, limits.requestBytesMax);
    } catch (err) {
      if (err instanceof ProtocolError) return plain(res, err.status === 'bodyTooLarge' ? 413 : 400, err.message);
      throw err;
    }
    let request;
    try {
      request = parseEasRequest(url.search, header(req, 'ms-asprotocolversion'), header(req, 'x-ms-policykey'));
    } catch (err) {
      if (err instanceof EasRequestError) return plain(res, 400, err.message);
      throw err;
    }
    const command = Object.hasOwn(commands, request.command) ? commands[request.command] : undefined;
    if (!command) return plain(res, 501, `command ${request.command} is not supported`);
    let decoded;
    try {
      decoded = body.length === 0 ? undefined : decodeWbxml(body);
    } catch (err) {
      if (err instanceof WbxmlError) return plain(res, 400, `malformed WBXML: ${err.message}`);
      throw err;
    }
    const deviceId = `eas-${request.deviceId}`;
    const point = { accountId: principal.accountId, device: { id: deviceId, defaultName: request.deviceType, tokenId: principal.tokenId }, protocol: 'eas' };
    // A new DeviceId past the account's limit is told so, and nothing of it is kept.
    // An admitted device's memory (device-memory.ts) is read in the same transaction.
    const admitted = await this.hub.admitDevice(point, this.devicesMax, memoryStateKey);
    if (!admitted) {
      const ns = answerNamespaces[request.command];
      const message = `this account already has ${this.devicesMax} ActiveSync devices; remove one on the devices page first`;
      if (!ns) return plain(res, 403, message);
      this.metrics.easCommand(request.command, String(maximumDevicesReached));
      return wbxml(res, encodeWbxml(el(ns, request.command, el(ns, 'Status', String(maximumDevicesReached)))));
    }
    const memory = new DeviceMemory(admitted.state);
    if (request.command === 'Ping') this.metrics.held(res);
    const holder: Holder = { accountId: principal.accountId, deviceId, tokenId: principal.tokenId, credential: credentialOf(principal) };
    const wait = (folders: readonly string[], waitMs: number) => this.wait(holder, res, folders, waitMs);
    const context = { hub: this.hub, principal, request, point, memory, logger: this.logger, now: this.now, wait };
    const answer = await command(context, decoded);
    // What the command changed and has not written with its own transaction (Sync writes with its exchange).
    await saveMemory(context);
    if (answer instanceof HeldAnswer) return this.hold(holder, res, request.command, answer);
    this.answer(res, request.command, statusOf(answer), answer ? encodeWbxml(answer) : new Uint8Array());
  }

  /** A Sync's wait (commands/sync-hold.ts): the request stays as it is meanwhile. */
  private wait(holder: Holder, res: ServerResponse, folders: readonly string[], waitMs: number): Promise<readonly string[]> {
    return new Promise((resolve, reject) => this.holds.hold(holder, folders, waitMs, res, resolve).catch(reject));
  }

  /**
   * Holds a Ping's response, and nothing else of its request: the answer is made once woken (in a
   * method of its own, so that what waits keeps only what it names).
   */
  private async hold(holder: Holder, res: ServerResponse, command: string, held: HeldAnswer): Promise<void> {
    const answerOf = held.answerOf;
    try {
      await this.holds.hold(holder, held.folders, held.waitMs, res, (changed) => {
        const { status, body } = this.heldAnswer(answerOf, changed);
        this.answer(res, command, status, body);
      });
    } catch (err) {
      // The account holds as many channels as it may: a status the device understands, to try again later.
      if (!(err instanceof ProtocolError) || err.status !== 'limitReached') throw err;
      const ns = answerNamespaces[command] as string;
      const answer = el(ns, command, el(ns, 'Status', String(serverErrorRetryLater)));
      this.answer(res, command, statusOf(answer), encodeWbxml(answer));
    }
  }

  /** A held answer's Status and encoding (as wbxml sends it fastest), made once for the Pings one commit wakes with the same folders. */
  private heldAnswer(answerOf: HeldAnswer['answerOf'], changed: readonly string[]): { status: string; body: string } {
    const key = changed.length === 1 ? (changed[0] as string) : changed.join('\n');
    const last = this.lastHeld;
    if (last?.answerOf === answerOf && last.key === key) return last;
    const answer = answerOf(changed);
    this.lastHeld = { answerOf, key, status: statusOf(answer), body: Buffer.from(encodeWbxml(answer)).toString('latin1') };
    return this.lastHeld;
  }

  private answer(res: ServerResponse, command: string, status: string, body: Uint8Array | string): void {
    if (res.destroyed) return;
    this.metrics.easCommand(command, status);
    wbxml(res, body);
  }
}

/** The top-level Status an answer carries, as the metrics count it ('' when it has none). */
const statusOf = (answer: WbxmlElement | undefined) => text(child(answer, 'Status')) ?? '';

/**
 * Sends a WBXML answer. `body` as a latin1 string (one character a byte) lets Node write the head and
 * the body as one string, one write of one buffer: what the thousands of Pings one commit wakes take.
 */
function wbxml(res: ServerResponse, body: Uint8Array | string): void {
  res.writeHead(200, {
    'content-type': wbxmlType,
    'content-length': body.length,
    'ms-server-activesync': serverVersion,
    'cache-control': 'private',
  });
  if (typeof body === 'string') res.end(body, 'latin1');
  else res.end(body);
}

/** An ActiveSync client that fails authentication still learns what we speak (MS-ASHTTP 3.2.5.1). */
export function easUnauthorized(res: ServerResponse): void {
  res.writeHead(401, { ...optionsHeaders, 'www-authenticate': 'Basic realm="Syncpoint ActiveSync", charset="UTF-8"', 'content-length': 0 });
  res.end();
}

/**
 * Phones send the user as `DOMAIN\user` when the account has a domain field; our accounts have no
 * domain, so the part before the backslash is dropped.
 */
export function withoutDomain(authorization: string): string {
  const [scheme, value] = authorization.split(' ', 2) as [string, string | undefined];
  if (scheme.toLowerCase() !== 'basic' || !value) return authorization;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const slash = user.lastIndexOf('\\');
  if (slash < 0) return authorization;
  return `Basic ${Buffer.from(decoded.slice(slash + 1)).toString('base64')}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function plain(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(message, 'utf8');
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, ...headers });
  res.end(body);
}
