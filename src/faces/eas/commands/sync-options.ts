import type { CollectionKind } from '../../../protocol/collections.js';
import type { SyncOptions } from '../../../protocol/sync.js';
import type { BodyPreference } from '../mapping/item-mapper.js';
import { child, children, text, type WbxmlElement } from '../wbxml/element.js';

/** Sync Options (MS-ASCMD 2.2.3.125.6): the FilterType time window and the body preference. */
export interface CollectionOptions {
  hub: SyncOptions | undefined;
  bodyPreference: BodyPreference | undefined;
  /** The BodyPartPreference of Type 2, the only one (MS-ASAIRS 2.2.2.41.3): the device wants the message part too. */
  bodyPartPreference: BodyPreference | undefined;
}

const dayMs = 86_400_000;
/**
 * FilterType (MS-ASCMD 2.2.3.68.2): how far back events, or mail by when it arrived, are synced; 0 is
 * everything. MS-ASCMD gives mail 1 to 5; 6 and 7 (three and six months) are taken for mail too.
 */
export const windowDays: Record<number, number> = { 1: 1, 2: 3, 3: 7, 4: 14, 5: 31, 6: 92, 7: 183 };
/** Events are synced this far ahead when a window is set (the protocol bounds only the past). */
const futureMs = 10 * 365 * dayMs;

/** `filterType`: the one in force when the request itself names none (the device's key 0 did). */
export function readOptions(collection: WbxmlElement, kind: CollectionKind, now: number, filterType?: string): CollectionOptions {
  const options = child(collection, 'Options');
  const filter = Number(text(child(options, 'FilterType')) ?? filterType ?? 0);
  const days = kind === 'events' || kind === 'mail' ? windowDays[filter] : undefined;
  const hub: SyncOptions | undefined = days
    ? { timeRange: { start: new Date(now - days * dayMs).toISOString(), end: new Date(now + futureMs).toISOString() } }
    : undefined;
  // The first preference the client lists is the one it wants most (MS-ASAIRS 2.2.2.7); after a Type 4
  // one, the next is what a message it does not get as MIME is sent as (MIMESupport 1: all but S/MIME).
  const preferences = children(options, 'BodyPreference', 'AirSyncBase').map(preferenceOf);
  const first = preferences[0];
  const mimeSupport = Number(text(child(options, 'MIMESupport')) ?? 0);
  const bodyPreference =
    first?.type === 4 ? { ...first, mime: { support: mimeSupport === 1 || mimeSupport === 2 ? mimeSupport : 0, otherwise: preferences.slice(1).find((p) => p && p.type !== 4) } } : first;
  const bodyPartPreference = children(options, 'BodyPartPreference', 'AirSyncBase').map(preferenceOf).find((p) => p?.type === 2);
  return { hub, bodyPreference, bodyPartPreference };
}

/** One BodyPreference or BodyPartPreference (MS-ASAIRS 2.2.2.7, 2.2.2.11): Type, TruncationSize, AllOrNone, Preview; undefined without a Type. */
function preferenceOf(preference: WbxmlElement): BodyPreference | undefined {
  const type = Number(text(child(preference, 'Type')));
  const truncation = Number(text(child(preference, 'TruncationSize')));
  const preview = Number(text(child(preference, 'Preview')));
  if (!(type > 0)) return undefined;
  return {
    type,
    ...(truncation >= 0 && Number.isFinite(truncation) ? { truncationSize: truncation } : {}),
    ...(text(child(preference, 'AllOrNone')) === '1' ? { allOrNone: true } : {}),
    ...(preview > 0 && Number.isFinite(preview) ? { preview } : {}),
  };
}
