import { createHash, randomUUID } from 'node:crypto';
import type { EasContext } from '../context.js';
import { encodeWbxml } from '../wbxml/codec.js';
import type { WbxmlElement } from '../wbxml/element.js';

/**
 * A new item from an ActiveSync Add needs a UID and a timestamp the client did not send, and a retried
 * Add must become byte for byte the same item as its first attempt: the hub recognizes a repeated Add
 * by its client id and content (the ledger), so a different UID or DTSTAMP would rewrite the item, or,
 * after a re-initialization, make a second one. So the UID and time chosen for an Add are kept per
 * (collection, ClientId, ApplicationData) and used again when the same Add comes back.
 */
export interface AddIdentity {
  uid: string;
  now: number;
}

const stateKey = 'eas.adds';
/** Remembered Adds per device; the oldest are forgotten first (a retry comes soon after its first attempt). */
const addsKept = 2000;

export function addFingerprint(collectionId: string, clientId: string, applicationData: WbxmlElement): string {
  return createHash('sha256').update(collectionId).update('\0').update(clientId).update('\0').update(encodeWbxml(applicationData)).digest('base64url');
}

/** The identity of each Add, the same as last time for one seen before. */
export function addIdentities(ctx: EasContext, fingerprints: readonly string[]): Promise<Map<string, AddIdentity>> {
  if (fingerprints.length === 0) return Promise.resolve(new Map());
  return ctx.hub.withFaceState(ctx.point, stateKey, (_, raw) => {
    const kept = new Map<string, AddIdentity>(raw ? (JSON.parse(raw) as Array<[string, AddIdentity]>) : []);
    const out = new Map<string, AddIdentity>();
    for (const f of fingerprints) {
      const identity = kept.get(f) ?? { uid: randomUUID(), now: ctx.now() };
      kept.delete(f);
      kept.set(f, identity);
      out.set(f, identity);
    }
    const entries = [...kept].slice(-addsKept);
    return { state: JSON.stringify(entries), result: out };
  });
}
