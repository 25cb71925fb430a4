import type { PushMessage } from '../protocol/push.js';

/**
 * What follows the token in a change notice's JSON, kept per command object. A commit's fan-out hands every
 * device told of one version the same command (push-hub.ts beforeCommit), and their notices differ only in
 * the token, so the rest is encoded once however many devices hear of it.
 */
const tails = new WeakMap<object, { collectionId: string; seq: number; tail: string }>();

/** A push message as JSON: the very text JSON.stringify gives. */
export function encodePushMessage(message: PushMessage): string {
  if (message.type !== 'change') return JSON.stringify(message);
  const { token, collectionId, seq, command } = message;
  let known = tails.get(command);
  if (known?.collectionId !== collectionId || known.seq !== seq) {
    known = { collectionId, seq, tail: JSON.stringify({ collectionId, seq, command }).slice(1) };
    tails.set(command, known);
  }
  return `{"type":"change","token":${JSON.stringify(token)},${known.tail}`;
}
