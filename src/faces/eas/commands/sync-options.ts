import type { CollectionKind } from '../../../protocol/collections.js';
import type { SyncOptions } from '../../../protocol/sync.js';
import type { BodyPreference } from '../mapping/item-mapper.js';
import { child, children, text, type WbxmlElement } from '../wbxml/element.js';

/** Sync Options (MS-ASCMD 2.2.3.125.6): the FilterType time window and the body preference. */
export interface CollectionOptions {
  hub: SyncOptions | undefined;
  bodyPreference: BodyPreference | undefined;
}

const dayMs = 86_400_000;
/** FilterType for calendars (MS-ASCMD 2.2.3.68.2): how far back events are synced; 0 is everything. */
const calendarWindowDays: Record<number, number> = { 1: 1, 2: 3, 3: 7, 4: 14, 5: 31, 6: 92, 7: 183 };
/** Events are synced this far ahead when a window is set (the protocol bounds only the past). */
const futureMs = 10 * 365 * dayMs;

/** `filterType`: the one in force when the request itself names none (the device's key 0 did). */
export function readOptions(collection: WbxmlElement, kind: CollectionKind, now: number, filterType?: string): CollectionOptions {
  const options = child(collection, 'Options');
  const filter = Number(text(child(options, 'FilterType')) ?? filterType ?? 0);
  const days = kind === 'events' ? calendarWindowDays[filter] : undefined;
  const hub: SyncOptions | undefined = days
    ? { timeRange: { start: new Date(now - days * dayMs).toISOString(), end: new Date(now + futureMs).toISOString() } }
    : undefined;
  // The first preference the client lists is the one it wants most (MS-ASAIRS 2.2.2.7).
  const preference = children(options, 'BodyPreference', 'AirSyncBase')[0];
  const type = Number(text(child(preference, 'Type')));
  const truncation = Number(text(child(preference, 'TruncationSize')));
  const bodyPreference = preference && type > 0 ? { type, ...(truncation >= 0 && Number.isFinite(truncation) ? { truncationSize: truncation } : {}) } : undefined;
  return { hub, bodyPreference };
}
