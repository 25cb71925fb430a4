import { createHash, randomUUID } from 'node:crypto';
import type { EasContext } from '../context.js';
import { encodeWbxml } from '../wbxml/codec.js';
import type { WbxmlElement } from '../wbxml/element.js';

/**
 * A new item from an ActiveSync Add needs a UID and a timestamp the client did not send, and a Change
 * stamps the time (DTSTAMP, LAST-MODIFIED). A retried Add or Change must become byte for byte what its
 * first attempt made: the hub recognizes a repeated command by its content (an Add also by its client
 * id, in its ledger), so a different UID or time would write the item again, or, after a
 * re-initialization, make a second one. So the UID and time chosen for a command are kept per
 * (collection, command, ClientId or ServerId, ApplicationData) and used again when it comes back.
 */
export interface CommandIdentity {
  uid: string;
  now: number;
}

const stateKey = 'eas.commands';
/** Remembered commands per device; the oldest are forgotten first (a retry comes soon after its first attempt). */
const commandsKept = 2000;

export function commandFingerprint(collectionId: string, command: 'Add' | 'Change', id: string, applicationData: WbxmlElement): string {
  return createHash('sha256').update(`${collectionId}\0${command}\0${id}\0`).update(encodeWbxml(applicationData)).digest('base64url');
}

/** The identity of each command, the same as last time for one seen before. */
export function commandIdentities(ctx: EasContext, fingerprints: readonly string[]): Promise<Map<string, CommandIdentity>> {
  if (fingerprints.length === 0) return Promise.resolve(new Map());
  return ctx.hub.withFaceState(ctx.point, stateKey, (_, raw) => {
    const kept = new Map<string, CommandIdentity>(raw ? (JSON.parse(raw) as Array<[string, CommandIdentity]>) : []);
    const out = new Map<string, CommandIdentity>();
    for (const f of fingerprints) {
      const identity = kept.get(f) ?? { uid: randomUUID(), now: ctx.now() };
      kept.delete(f);
      kept.set(f, identity);
      out.set(f, identity);
    }
    const entries = [...kept].slice(-commandsKept);
    return { state: JSON.stringify(entries), result: out };
  });
}
