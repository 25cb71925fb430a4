import ICAL from 'ical.js';
import { newCalendarObject, openCalendarObject, setText, stringifyCalendar, textOf, touch } from '../lib/todo.js';

/** A note is a VJOURNAL: a title (SUMMARY) and text (DESCRIPTION); the rest of the object is kept. */
export interface Note {
  summary: string;
  description: string;
  /** Last change (LAST-MODIFIED, else DTSTAMP), ISO 8601; '' if the object says nothing. */
  modified: string;
}

export function parseNote(text: string): Note {
  const { main } = openCalendarObject(text, 'vjournal');
  const stamp = main.getFirstPropertyValue('last-modified') ?? main.getFirstPropertyValue('dtstamp');
  return {
    summary: textOf(main, 'summary'),
    description: textOf(main, 'description'),
    modified: stamp instanceof ICAL.Time ? stamp.toJSDate().toISOString() : '',
  };
}

/** `original` with the new title and text, or a new note dated today. */
export function serializeNote(note: { summary: string; description: string }, original: string | undefined, uid: string, now: Date): string {
  const { calendar, main } = original ? openCalendarObject(original, 'vjournal') : newCalendarObject('vjournal', uid, now);
  if (!original) {
    main.addPropertyWithValue('dtstart', ICAL.Time.fromData({ year: now.getFullYear(), month: now.getMonth() + 1, day: now.getDate(), isDate: true }));
  }
  setText(main, 'summary', note.summary);
  setText(main, 'description', note.description);
  touch(main, now);
  return stringifyCalendar(calendar);
}
