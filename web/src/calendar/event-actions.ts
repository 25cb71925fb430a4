import { newUid } from '../data/ids.js';
import { deleteItem, saveItem, type Entry } from '../data/account.js';
import { createEvent, readEvent, type EventFields } from '../lib/ical-event.js';
import { deleteOccurrence, readOccurrence, updateOccurrence, updateSeries } from '../lib/recurrence.js';
import { seriesFields } from './editor-form.js';
import type { Shown } from './occurrences.js';
import type { Scope } from './scope-dialog.js';

/** What the editor was opened on, and what it showed at first. */
export interface Opened {
  /** Null for a new event. */
  entry: Entry | null;
  collectionId: string;
  /** The clicked occurrence when it is one of a series, or an override travelling without one. */
  recurrenceId: string | null;
  series: boolean;
  initial: EventFields;
  /** The master as read, for "all events" after opening one occurrence. */
  master: EventFields | null;
  customRule: boolean;
}

export function openNew(collectionId: string, initial: EventFields): Opened {
  return { entry: null, collectionId, recurrenceId: null, series: false, initial, master: null, customRule: false };
}

export function openOccurrence(shown: Shown, zone: string): Opened {
  const { entry, recurrenceId, series } = shown;
  const { summary, location, description, allDay, start, end, rrule, repeatCustom } = readEvent(entry.data, zone);
  const master: EventFields = { summary, location, description, allDay, start, end, rrule };
  const base = { entry, collectionId: entry.collectionId, recurrenceId, series, customRule: repeatCustom };
  if (!recurrenceId) return { ...base, initial: master, master };
  // The occurrence as it is (its override, or the master moved to its date), with the series' rule to edit.
  const occurrence = readOccurrence(entry.data, recurrenceId, zone);
  return { ...base, initial: { ...occurrence, rrule: series ? master.rrule : null }, master: series ? master : null };
}

/** Writes an item, into another calendar if it moved (added there first, so a failure loses nothing). */
async function put(entry: Entry, text: string, collectionId: string): Promise<void> {
  if (collectionId === entry.collectionId) {
    await saveItem(collectionId, entry.id, text, entry.data);
    return;
  }
  await saveItem(collectionId, undefined, text);
  await deleteItem(entry.collectionId, entry.id);
}

export async function saveOpened(opened: Opened, fields: EventFields, collectionId: string, scope: Scope | null, zone: string): Promise<void> {
  const { entry, recurrenceId } = opened;
  if (!entry) {
    await saveItem(collectionId, undefined, createEvent(fields, zone, newUid()));
    return;
  }
  if (recurrenceId && (scope === 'this' || !opened.series)) {
    await put(entry, updateOccurrence(entry.data, recurrenceId, fields, zone), collectionId);
    return;
  }
  // The master (of a series or a lone event), with the series' EXDATEs and overrides kept on its occurrences.
  const master = opened.master ? seriesFields(fields, opened.initial, opened.master) : fields;
  await put(entry, updateSeries(entry.data, master, zone), collectionId);
}

export async function deleteOpened(opened: Opened, scope: Scope | null): Promise<void> {
  const { entry, recurrenceId } = opened;
  if (!entry) return;
  if (recurrenceId && (scope === 'this' || !opened.series)) {
    const rest = deleteOccurrence(entry.data, recurrenceId);
    if (rest) {
      await saveItem(entry.collectionId, entry.id, rest, entry.data);
      return;
    }
  }
  await deleteItem(entry.collectionId, entry.id);
}
