import type { PushMessage } from '../protocol/push.js';

/*
 * The contract between push (src/push/push-hub.ts, which fans changes out to channels) and whatever
 * holds a channel open: push's own WebSocket, SSE and long-poll channels, and a held ActiveSync Ping
 * (src/faces/eas/commands/ping.ts). It lives in the hub so that a face need not import push
 * (docs/architecture.md § Layers).
 */

/** One device's live connection: a WebSocket, an SSE stream, a long-poll mailbox or a held ActiveSync Ping. */
export interface Channel {
  /** What holds it open, for the operator's count of open channels (docs/operations.md § Metrics). */
  readonly kind: ChannelKind;
  readonly accountId: string;
  readonly deviceId: string;
  /** The app token the channel was opened with, if any: revoking it closes the channel. */
  readonly tokenId: string | undefined;
  /** Collections the device wants notices for; null for all of the account's. */
  readonly collections: ReadonlySet<string> | null;
  /** The last token sent on this channel (0: none yet). */
  lastToken: number;
  /** Queues a message; must not throw. A channel too far behind may drop it: the device finds the gap. */
  send(message: PushMessage): void;
  /**
   * Present on a channel that only needs to know which of its collections changed (a held ActiveSync
   * Ping, which never syncs by token): a commit in this process tells it so, once, with no token issued
   * and no notice made for it. Must not throw. Commits of other processes still reach it by `send`.
   */
  changed?(collectionIds: readonly string[]): void;
  /** Called every heartbeat period; returns false when the peer is dead and the channel was closed. */
  beat(): boolean;
  close(code: number, reason: string): void;
}

/** A WebSocket, an SSE stream, a long-poll mailbox, a held ActiveSync Ping. */
export const channelKinds = ['websocket', 'sse', 'long-poll', 'eas-ping'] as const;
export type ChannelKind = (typeof channelKinds)[number];
