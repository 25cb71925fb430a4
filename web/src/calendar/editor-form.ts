import { weekdays, type EventFields, type Frequency, type Repeat, type Weekday } from '../lib/ical-event.js';
import { dayMs, parseWall, startOfDay, wallDate, wallDateTime } from '../lib/timezone.js';

/** The editor's inputs, as the user sees them: an all-day event's end is its last day, not the day after. */
export interface EventForm {
  summary: string;
  location: string;
  description: string;
  allDay: boolean;
  /** A date input's value all day, a datetime-local input's otherwise. */
  start: string;
  end: string;
  freq: Frequency | 'NONE';
  interval: string;
  ends: 'never' | 'until' | 'count';
  until: string;
  count: string;
  /** Weekly days; null until the user picks some, meaning the weekday of the start. */
  byday: Weekday[] | null;
}

const formatOf = (allDay: boolean) => (allDay ? wallDate : wallDateTime);

export function formOf(fields: EventFields): EventForm {
  const repeat = fields.rrule;
  const end = fields.allDay ? wallDate(Math.max(parseWall(fields.end) - dayMs, parseWall(fields.start))) : fields.end;
  return {
    summary: fields.summary,
    location: fields.location,
    description: fields.description,
    allDay: fields.allDay,
    start: fields.start,
    end,
    freq: repeat?.freq ?? 'NONE',
    interval: String(repeat?.interval ?? 1),
    ends: repeat?.count ? 'count' : repeat?.until ? 'until' : 'never',
    until: repeat?.until ?? '',
    count: String(repeat?.count ?? 10),
    byday: repeat?.byday.length ? repeat.byday : null,
  };
}

/** A new event from `start` for `minutes` (0 and a date: all day). */
export function newFields(start: number, allDay: boolean, minutes = 60): EventFields {
  const format = formatOf(allDay);
  return {
    summary: '', location: '', description: '', allDay,
    start: format(start), end: format(allDay ? start + dayMs : start + minutes * 60_000), rrule: null,
  };
}

export function weekdayOf(value: string): Weekday {
  return weekdays[(new Date(parseWall(value)).getUTCDay() + 6) % 7] as Weekday;
}

/** All day on: the same days; off: 09:00–10:00 on them, a sensible start for the user to adjust. */
export function withAllDay(form: EventForm, allDay: boolean): EventForm {
  const startDay = form.start.slice(0, 10);
  const endDay = form.end.slice(0, 10);
  if (allDay) return { ...form, allDay, start: startDay, end: endDay };
  return { ...form, allDay, start: `${startDay}T09:00`, end: `${endDay}T10:00` };
}

/** Moving the start moves the end with it, so the event keeps its length. */
export function withStart(form: EventForm, start: string): EventForm {
  const delta = parseWall(start) - parseWall(form.start);
  const end = parseWall(form.end) + delta;
  if (Number.isNaN(end)) return { ...form, start };
  return { ...form, start, end: formatOf(form.allDay)(end) };
}

const wholeNumber = (text: string, max: number) => /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= max;

/** Why the form cannot be saved, or null. */
export function formProblem(form: EventForm): string | null {
  const start = parseWall(form.start);
  const end = parseWall(form.end);
  if (Number.isNaN(start)) return 'Enter a start.';
  if (Number.isNaN(end)) return 'Enter an end.';
  if (end < start) return 'The end cannot be before the start.';
  if (form.freq === 'NONE') return null;
  if (!wholeNumber(form.interval, 999)) return 'Repeat every: enter a whole number from 1 to 999.';
  if (form.ends === 'count' && !wholeNumber(form.count, 9999)) return 'Enter how many times, from 1 to 9999.';
  if (form.ends === 'until' && !(parseWall(form.until) >= startOfDay(start))) return 'Choose a last date on or after the start.';
  if (form.freq === 'WEEKLY' && form.byday?.length === 0) return 'Choose at least one weekday.';
  return null;
}

function repeatOf(form: EventForm): Repeat | null {
  if (form.freq === 'NONE') return null;
  return {
    freq: form.freq,
    interval: Number(form.interval),
    count: form.ends === 'count' ? Number(form.count) : null,
    until: form.ends === 'until' ? form.until : null,
    byday: form.freq === 'WEEKLY' ? (form.byday ?? []) : [],
  };
}

export function repeatChanged(form: EventForm, initial: EventForm): boolean {
  return form.freq !== initial.freq || (form.freq !== 'NONE' && (
    form.interval !== initial.interval || form.ends !== initial.ends || form.until !== initial.until
    || form.count !== initial.count || String(form.byday) !== String(initial.byday)));
}

/**
 * The fields to save. What the user left alone is passed on exactly as it was read, so the item keeps
 * it byte for byte: a rule the editor only shows in part, the seconds of a time.
 */
export function fieldsOf(form: EventForm, initialForm: EventForm, initial: EventFields): EventFields {
  const timesKept = form.allDay === initialForm.allDay && form.start === initialForm.start && form.end === initialForm.end;
  return {
    summary: form.summary,
    location: form.location,
    description: form.description,
    allDay: form.allDay,
    start: timesKept ? initial.start : form.start,
    end: timesKept ? initial.end : form.allDay ? wallDate(parseWall(form.end) + dayMs) : form.end,
    rrule: repeatChanged(form, initialForm) ? repeatOf(form) : initial.rrule,
  };
}

/**
 * "All events" after editing one occurrence: the series moves by as much as the occurrence was moved
 * and takes its new length; the rest of what was edited applies as it is.
 */
export function seriesFields(edited: EventFields, shown: EventFields, series: EventFields): EventFields {
  // An occurrence with its own title keeps it out of the series unless the user typed a new one.
  const text = (name: 'summary' | 'location' | 'description') => (edited[name] === shown[name] ? series[name] : edited[name]);
  const result = { ...edited, summary: text('summary'), location: text('location'), description: text('description') };
  if (edited.allDay === shown.allDay && edited.start === shown.start && edited.end === shown.end) {
    return { ...result, start: series.start, end: series.end };
  }
  const moved = parseWall(series.start) + parseWall(edited.start) - parseWall(shown.start);
  const start = edited.allDay ? startOfDay(moved) : moved;
  const format = formatOf(edited.allDay);
  return { ...result, start: format(start), end: format(start + parseWall(edited.end) - parseWall(edited.start)) };
}
