import type { Hub } from '../../hub/hub.js';
import type { DevicePoint } from '../../hub/device-items.js';
import type { Logger } from '../../hub/ports.js';
import type { Credential } from '../../hub/accounts.js';
import type { Channel } from '../../hub/push-channel.js';
import type { Principal } from '../../http/principal.js';
import type { EasRequest } from './request.js';
import type { WbxmlElement } from './wbxml/element.js';

/** What the push hub does for Ping: a held Ping is one of its channels. */
export interface PingRegistry {
  /** `credential`: what the Ping authenticated with; the Ping ends when it does (a password change, a revocation). */
  register(channel: Channel, credential: Credential): Promise<number>;
  unregister(channel: Channel): void;
}

/**
 * What a device's requests left for later ones, kept in memory: an empty Sync or Ping repeats the last
 * full one (MS-ASCMD 2.2.1.21, 2.2.1.13), and loop detection counts repeated sync keys. A restart
 * forgets it; the client then sends its request in full (Status 13 asks for that). Every part is
 * bounded (device-memory.ts counts it): no commands or item data are ever kept.
 */
export interface DeviceMemory {
  /** The compact part of the last Sync an empty one repeats, as WBXML (sync.ts `forNextTime`); at most `easDeviceMemoryBytesMax`. */
  lastSync?: Uint8Array;
  /** Folder ids are the account's own (checked before they are kept), at most Ping's `foldersMax`. */
  lastPing?: { heartbeatSeconds: number; folders: string[] };
  /** Per collection synced lately (at most `collectionsPerRequestMax`): the key the device keeps repeating, how often, and the window it is now given. */
  repeats: Map<string, { key: string; count: number; window: number }>;
}

export interface EasContext {
  hub: Hub;
  pings: PingRegistry;
  principal: Principal;
  request: EasRequest;
  /** The device as a sync point of the hub: `eas-<DeviceId>`. */
  point: DevicePoint;
  memory: DeviceMemory;
  logger: Logger;
  now(): number;
  /** Resolves when the client hangs up, so a held Ping can stop waiting. */
  hungUp: Promise<void>;
}

/** A command: the request's decoded body (undefined when empty) in, the response body out (undefined: an empty 200). */
export type Command = (ctx: EasContext, body: WbxmlElement | undefined) => Promise<WbxmlElement | undefined>;
