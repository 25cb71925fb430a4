import { z } from 'zod';
import { serverCommandSchema, type TokenRange } from './sync.js';

/**
 * Push (docs/design.md § Push notices; wire format docs/protocol.md § Push). When an item changes, each other connected device of the
 * account is sent the change itself with a token (a version the server made, a merge, goes to every
 * device, its author included). Tokens come from a per-device sequence, so the set a
 * device holds compresses to a few ranges; the device echoes that set (docs/design.md § The echo)
 * in its next sync request, and the server resends every change whose token did not come back.
 */

/** A change sent to one device. `seq` is the change's place in the account's change sequence. */
export const changeNoticeSchema = z.object({
  type: z.literal('change'),
  token: z.number().int().min(1),
  collectionId: z.string(),
  seq: z.number().int().min(1),
  /** The change; a large one carries only its first portion (`truncated`, `size`): see remainder. */
  command: serverCommandSchema,
});
export type ChangeNotice = z.infer<typeof changeNoticeSchema>;

export const pushMessageSchema = z.discriminatedUnion('type', [
  /** First message on every channel: the token the next notification will carry, and the heartbeat period. */
  z.object({ type: z.literal('hello'), deviceId: z.string(), nextToken: z.number().int().min(1), heartbeatMs: z.number().int() }),
  changeNoticeSchema,
  /** Sent every heartbeat period: the last token this channel was sent, so a lost tail shows as a gap. */
  z.object({ type: z.literal('heartbeat'), lastToken: z.number().int().min(0) }),
  /** Sync now: the user asked every device to (the web app's "Sync now"), or a commit was too large to announce change by change. */
  z.object({ type: z.literal('syncRequest') }),
]);
export type PushMessage = z.infer<typeof pushMessageSchema>;

/** The last event of a Server-Sent Events stream: why it ends, as the WebSocket close frame would say (same codes). */
export const streamCloseSchema = z.object({ type: z.literal('close'), code: z.number().int(), reason: z.string() });
export type StreamClose = z.infer<typeof streamCloseSchema>;

/** The rest of a split change, fetched by its token: `data` continues the notice's first portion. */
export const remainderSchema = z.object({ token: z.number().int(), serverId: z.string(), etag: z.string(), offset: z.number().int(), data: z.string() });
export type Remainder = z.infer<typeof remainderSchema>;

export const ticketSchema = z.object({ ticket: z.string(), expiresInMs: z.number().int() });
export type Ticket = z.infer<typeof ticketSchema>;

/** Long-poll answer: the notifications after `after`, possibly none (the wait ran out). */
export const pollResponseSchema = z.object({
  deviceId: z.string(),
  messages: z.array(changeNoticeSchema),
  lastToken: z.number().int().min(0),
  /** Present when the user asked for a sync since the last answer. */
  syncRequested: z.literal(true).optional(),
});
export type PollResponse = z.infer<typeof pollResponseSchema>;

/** WebSocket close codes the server uses. */
export const pushCloseCodes = {
  /** A newer channel for the same device took over. */
  replaced: 4001,
  /** The credentials the channel was opened with are no longer valid (a revoked app token). */
  revoked: 4003,
  /** Sent by a client that gave up on a server that stopped talking (the server drops silent peers without a close frame). */
  dead: 4008,
  /** The account already has as many channels (or long-poll mailboxes) as it may: another server process registered one since this one was admitted. */
  limitReached: 4009,
  /** The server is shutting down. */
  shutdown: 1001,
} as const;

/** A split notice made whole with its remainder; undefined if the remainder is of another version. */
export function joinRemainder(notice: ChangeNotice, rest: Remainder): ChangeNotice | undefined {
  const { command } = notice;
  if (command.op === 'delete' || rest.etag !== command.etag || rest.serverId !== command.serverId) return undefined;
  const { truncated: _truncated, size: _size, ...whole } = command;
  return { ...notice, command: { ...whole, data: command.data + rest.data } };
}

/** Compresses a set of tokens to sorted, disjoint, non-adjacent ranges. Linear after the sort. */
export function toRanges(tokens: Iterable<number>): TokenRange[] {
  const sorted = [...new Set(tokens)].sort((a, b) => a - b);
  const ranges: TokenRange[] = [];
  for (const t of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last.to + 1 === t) last.to = t;
    else ranges.push({ from: t, to: t });
  }
  return ranges;
}

/**
 * An echo as sorted, disjoint, non-adjacent ranges, so each token is looked at once however the
 * client repeated or overlapped its ranges. Linear after the sort; the schema caps the input's length.
 */
export function mergeRanges(ranges: readonly TokenRange[]): TokenRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const merged: TokenRange[] = [];
  for (const { from, to } of sorted) {
    const last = merged[merged.length - 1];
    if (last && from <= last.to + 1) last.to = Math.max(last.to, to);
    else merged.push({ from, to });
  }
  return merged;
}
