import { nameProblem, nameRule } from '../../protocol/names.js';
import type { EasVersion } from './mapping/item-mapper.js';

/**
 * What an ActiveSync request names in its URI (MS-ASHTTP 2.2.1.1.1): the command, the device and its
 * type, the policy key and the protocol version. Clients send it either as plain query parameters
 * (`?Cmd=Sync&User=u&DeviceId=d&DeviceType=t`, version in the MS-ASProtocolVersion header) or as one
 * base64-encoded byte sequence (`?<base64>`), which also carries the version and the policy key.
 */
export interface EasRequest {
  command: string;
  deviceId: string;
  deviceType: string;
  version: EasVersion;
  user?: string;
  policyKey?: string;
  /** Command parameters of the URI: CollectionId, ItemId, LongId, Occurrence, AttachmentName, SaveInSent… */
  params: Record<string, string>;
}

export class EasRequestError extends Error {
  override name = 'EasRequestError';
}

export const supportedVersions: readonly EasVersion[] = ['14.0', '14.1', '16.0', '16.1'];

/** Commands by their code in the base64 form (MS-ASHTTP 2.2.1.1.1.1.2). */
const commandCodes: Record<number, string> = {
  0: 'Sync', 1: 'SendMail', 2: 'SmartForward', 3: 'SmartReply', 4: 'GetAttachment', 9: 'FolderSync', 10: 'FolderCreate',
  11: 'FolderDelete', 12: 'FolderUpdate', 13: 'MoveItems', 14: 'GetItemEstimate', 15: 'MeetingResponse', 16: 'Search',
  17: 'Settings', 18: 'Ping', 19: 'ItemOperations', 20: 'Provision', 21: 'ResolveRecipients', 22: 'ValidateCert', 23: 'Find',
};

/** Parameter tags of the base64 form (MS-ASHTTP 2.2.1.1.1.1.3). */
const parameterTags: Record<number, string> = {
  0: 'AttachmentName', 1: 'CollectionId', 3: 'ItemId', 4: 'LongId', 6: 'Occurrence', 7: 'Options', 8: 'User',
};

/** DeviceId: letters and digits (MS-ASHTTP 2.2.1.1.1.2.3); 64 leaves room for a 32-byte binary id in hex. */
const deviceIdPattern = /^[A-Za-z0-9]{1,64}$/;
const deviceTypeMax = 64;

export function parseEasRequest(query: string, versionHeader: string | undefined, policyKeyHeader: string | undefined): EasRequest {
  const raw = query.startsWith('?') ? query.slice(1) : query;
  const request = raw.includes('=') && /(^|&)Cmd=/i.test(raw) ? parsePlain(raw, versionHeader) : parseBase64(raw);
  if (!deviceIdPattern.test(request.deviceId)) throw new EasRequestError('DeviceId must be 1-64 letters and digits');
  if (request.deviceType.length === 0 || request.deviceType.length > deviceTypeMax) throw new EasRequestError(`DeviceType must be 1-${deviceTypeMax} characters`);
  // The DeviceType names the device until it names itself (docs/protocol.md § Names).
  if (nameProblem(request.deviceType) !== undefined) throw new EasRequestError(`DeviceType: ${nameRule}`);
  if (request.policyKey === undefined && policyKeyHeader !== undefined) request.policyKey = policyKeyHeader;
  return request;
}

function parsePlain(raw: string, versionHeader: string | undefined): EasRequest {
  const q = new URLSearchParams(raw);
  const get = (name: string) => q.get(name) ?? undefined;
  const command = get('Cmd');
  if (!command) throw new EasRequestError('the Cmd parameter is missing');
  const version = toVersion(versionHeader?.trim());
  const params: Record<string, string> = {};
  for (const name of Object.values(parameterTags)) {
    const value = get(name);
    if (value !== undefined && name !== 'User') params[name] = value;
  }
  const user = get('User');
  return { command, deviceId: get('DeviceId') ?? '', deviceType: get('DeviceType') ?? '', version, ...(user ? { user } : {}), params };
}

function parseBase64(raw: string): EasRequest {
  let bytes: Buffer;
  try {
    bytes = Buffer.from(decodeURIComponent(raw), 'base64');
  } catch {
    throw new EasRequestError('the query is neither Cmd=... parameters nor valid base64');
  }
  let at = 0;
  const byte = () => {
    if (at >= bytes.length) throw new EasRequestError('the base64 query ends early');
    return bytes[at++] as number;
  };
  const chunk = (length: number) => {
    if (at + length > bytes.length) throw new EasRequestError('the base64 query ends early');
    const out = bytes.subarray(at, at + length);
    at += length;
    return out;
  };
  const versionByte = byte();
  const version = toVersion(`${Math.floor(versionByte / 10)}.${versionByte % 10}`);
  const code = byte();
  const command = Object.hasOwn(commandCodes, code) ? commandCodes[code] : undefined;
  if (!command) throw new EasRequestError(`unknown command code ${code}`);
  chunk(2); // locale
  // Letters and digits as they are (Microsoft's own example sends ASCII, the same id a plain query
  // would carry); anything else, such as a GUID's 16 raw bytes, as hex.
  const idBytes = chunk(byte());
  const ascii = idBytes.toString('latin1');
  const deviceId = /^[A-Za-z0-9]+$/.test(ascii) ? ascii : idBytes.toString('hex');
  const policyKeyLength = byte();
  if (policyKeyLength !== 0 && policyKeyLength !== 4) throw new EasRequestError('the policy key must be 0 or 4 bytes');
  const policyKey = policyKeyLength === 4 ? String(chunk(4).readUInt32LE(0)) : undefined;
  const deviceType = chunk(byte()).toString('latin1');
  const params: Record<string, string> = {};
  let user: string | undefined;
  while (at < bytes.length) {
    const tag = byte();
    const value = chunk(byte());
    const name = Object.hasOwn(parameterTags, tag) ? parameterTags[tag] : undefined;
    if (!name) throw new EasRequestError(`unknown parameter tag ${tag}`);
    if (name === 'User') user = value.toString('utf8');
    else params[name] = name === 'Options' ? String(value[0] ?? 0) : value.toString('utf8');
  }
  return { command, deviceId, deviceType, version, ...(user ? { user } : {}), ...(policyKey ? { policyKey } : {}), params };
}

function toVersion(value: string | undefined): EasVersion {
  if (!value) throw new EasRequestError('the MS-ASProtocolVersion header is missing');
  if (!(supportedVersions as readonly string[]).includes(value)) {
    throw new EasRequestError(`protocol version ${value} is not supported; use one of ${supportedVersions.join(', ')}`);
  }
  return value as EasVersion;
}
