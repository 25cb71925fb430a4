import type { Hub } from '../../hub/hub.js';
import type { DevicePoint } from '../../hub/device-items.js';
import type { Logger } from '../../hub/ports.js';
import type { Credential } from '../../hub/accounts.js';
import type { Channel } from '../../hub/push-channel.js';
import type { Principal } from '../../http/principal.js';
import type { DeviceMemory } from './device-memory.js';
import type { EasRequest } from './request.js';
import type { WbxmlElement } from './wbxml/element.js';

/** What the push hub does for Ping: a held Ping is one of its channels. */
export interface PingRegistry {
  /** `credential`: what the Ping authenticated with; the Ping ends when it does (a password change, a revocation). */
  register(channel: Channel, credential: Credential): Promise<number>;
  unregister(channel: Channel): void;
}

export interface EasContext {
  hub: Hub;
  pings: PingRegistry;
  principal: Principal;
  request: EasRequest;
  /** The device as a sync point of the hub: `eas-<DeviceId>`. */
  point: DevicePoint;
  /** What the device's earlier requests left (device-memory.ts), read from the store at the start of this one. */
  memory: DeviceMemory;
  logger: Logger;
  now(): number;
  /** Resolves when the client hangs up, so a held Ping can stop waiting. */
  hungUp: Promise<void>;
}

/** A command: the request's decoded body (undefined when empty) in, the response body out (undefined: an empty 200). */
export type Command = (ctx: EasContext, body: WbxmlElement | undefined) => Promise<WbxmlElement | undefined>;
