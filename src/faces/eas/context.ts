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
  principal: Principal;
  request: EasRequest;
  /** The device as a sync point of the hub: `eas-<DeviceId>`. */
  point: DevicePoint;
  /** What the device's earlier requests left (device-memory.ts), read from the store at the start of this one. */
  memory: DeviceMemory;
  logger: Logger;
  now(): number;
  /**
   * Holds the request until one of `folders` changes (holds.ts), and resolves with those that did; with
   * none once `waitMs` passes, the client hangs up, a newer request of the device takes over or its
   * credential ends.
   */
  wait(folders: readonly string[], waitMs: number): Promise<readonly string[]>;
}

/**
 * An answer that waits for a change (a Ping): the face holds the response (holds.ts) and lets the
 * request go; `answerOf` makes the answer from the folders that changed (none: the time ran out). It
 * depends on them alone, so the Pings one commit wakes share one encoded answer.
 */
export class HeldAnswer {
  constructor(
    readonly folders: readonly string[],
    readonly waitMs: number,
    readonly answerOf: (changed: readonly string[]) => WbxmlElement,
  ) {}
}

/**
 * A command: the request's decoded body (undefined when empty) in, the response body out (undefined: an
 * empty 200), or a HeldAnswer.
 */
export type Command = (ctx: EasContext, body: WbxmlElement | undefined) => Promise<WbxmlElement | undefined | HeldAnswer>;
