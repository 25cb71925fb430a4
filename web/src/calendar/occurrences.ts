import type ICAL from 'ical.js';
import { useMemo, useRef } from 'preact/hooks';
import type { Collection } from '../../../src/protocol/collections.js';
import type { Entry } from '../data/account.js';
import { parseCalendar } from '../lib/ical-event.js';
import { expandOccurrences, type Occurrence } from '../lib/recurrence.js';
import type { Range } from './calendar-range.js';

export interface Source {
  collection: Collection;
  entries: Entry[];
}

/** An occurrence with the item and calendar it comes from. */
export interface Shown extends Occurrence {
  key: string;
  entry: Entry;
  collection: Collection;
}

export const defaultColor = '#1d5bb8';

export function colorOf(collection: Collection): string {
  return collection.color?.slice(0, 7) ?? defaultColor;
}

function byTime(a: Shown, b: Shown): number {
  return Number(b.allDay) - Number(a.allDay) || a.start - b.start || b.end - a.end || a.summary.localeCompare(b.summary);
}

/**
 * Every occurrence in the range, in order of time. Items are parsed once per version of their text:
 * the cache is rebuilt from the current items on each run, so edited and deleted ones drop out of it.
 */
export function useOccurrences(sources: Source[], range: Range, zone: string): { shown: Shown[]; unreadable: number } {
  const cache = useRef(new Map<string, ICAL.Component | null>());
  return useMemo(() => {
    const previous = cache.current;
    const next = new Map<string, ICAL.Component | null>();
    const shown: Shown[] = [];
    let unreadable = 0;
    for (const { collection, entries } of sources) {
      for (const entry of entries) {
        let calendar = next.get(entry.data) ?? previous.get(entry.data);
        if (calendar === undefined) {
          try {
            calendar = parseCalendar(entry.data);
          } catch {
            // Another client's broken item: counted, not shown, never rewritten.
            calendar = null;
          }
        }
        next.set(entry.data, calendar);
        let occurrences: Occurrence[] | null = null;
        try {
          occurrences = calendar && expandOccurrences(calendar, range.start, range.end, zone);
        } catch {
          // A VEVENT without a start, or a time ical.js cannot read: counted with the unparseable ones.
        }
        if (!occurrences) {
          unreadable++;
          continue;
        }
        for (const occurrence of occurrences) {
          const key = `${collection.id}/${entry.id}/${occurrence.recurrenceId ?? ''}`;
          shown.push({ ...occurrence, key, entry, collection });
        }
      }
    }
    cache.current = next;
    return { shown: shown.sort(byTime), unreadable };
  }, [sources, range.start, range.end, zone]);
}

/** The part of each occurrence that falls on `day` ([day, day + 1 day)). */
export function onDay(shown: Shown[], day: number, nextDay: number): Shown[] {
  return shown.filter((o) => o.start < nextDay && (o.end > day || (o.start === o.end && o.start >= day)));
}
