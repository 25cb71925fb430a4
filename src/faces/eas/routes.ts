import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits } from '../../core/limits.js';
import type { Hub } from '../../hub/hub.js';
import { noMetrics, type Metrics } from '../../hub/metrics.js';
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
import type { Command, PingRegistry } from './context.js';
import { DeviceMemory, memoryStateKey, saveMemory } from './device-memory.js';
import { EasRequestError, parseEasRequest, supportedVersions } from './request.js';
import { child, decodeWbxml, el, encodeWbxml, text, WbxmlError } from './wbxml/codec.js';

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
  constructor(
    private readonly hub: Hub,
    private readonly pings: PingRegistry,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** ActiveSync devices one account may have (config `easDevicesMax`). */
    private readonly devicesMax: number,
    private readonly metrics: Metrics = noMetrics,
  ) {}

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
    // A client that hung up while the body was read gets no answer; a held Ping must not wait for it.
    const hungUp = res.destroyed ? Promise.resolve() : new Promise<void>((resolve) => res.once('close', () => resolve()));
    if (request.command === 'Ping') this.metrics.held(res);
    const context = { hub: this.hub, pings: this.pings, principal, request, point, memory, logger: this.logger, now: this.now, hungUp };
    const answer = await command(context, decoded);
    // What the command changed and has not written with its own transaction (Sync writes with its exchange).
    await saveMemory(context);
    if (res.destroyed) return;
    this.metrics.easCommand(request.command, text(child(answer, 'Status')) ?? '');
    wbxml(res, answer ? encodeWbxml(answer) : new Uint8Array());
  }
}

function wbxml(res: ServerResponse, bytes: Uint8Array): void {
  res.writeHead(200, {
    'content-type': wbxmlType,
    'content-length': bytes.length,
    'ms-server-activesync': serverVersion,
    'cache-control': 'private',
  });
  res.end(bytes);
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
