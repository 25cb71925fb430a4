import ICAL from 'ical.js';

/**
 * VTODO ⇄ the task form's model. As with contacts, an edit rewrites only what the user changed and
 * keeps every other property of the object (alarms, categories, relations…) as it was. The helpers for
 * "one calendar object with one main component" are shared with the notes page (VJOURNAL).
 */

export interface Task {
  uid: string;
  summary: string;
  description: string;
  /** '' (none), 'YYYY-MM-DD' (a DATE) or 'YYYY-MM-DDTHH:MM' (a DATE-TIME in local time). */
  due: string;
  /** 1 (highest) to 9 (lowest); 0 means none. */
  priority: number;
  completed: boolean;
  /** When it was completed (ISO 8601), if the object says. */
  completedAt: string | null;
}

export const prodId = '-//Syncpoint//Web//EN';

/** The VCALENDAR of one item and its main component (the master, for a recurring one). */
export function openCalendarObject(text: string, name: 'vtodo' | 'vjournal'): { calendar: ICAL.Component; main: ICAL.Component } {
  const calendar = new ICAL.Component(ICAL.parse(text) as unknown as [string, unknown[], unknown[]]);
  const all = calendar.getAllSubcomponents(name);
  const main = all.find((c) => !c.hasProperty('recurrence-id')) ?? all[0];
  if (calendar.name !== 'vcalendar' || !main) throw new Error(`not a VCALENDAR with a ${name.toUpperCase()}`);
  return { calendar, main };
}

export function newCalendarObject(name: 'vtodo' | 'vjournal', uid: string, now: Date): { calendar: ICAL.Component; main: ICAL.Component } {
  const calendar = new ICAL.Component('vcalendar');
  calendar.addPropertyWithValue('version', '2.0');
  calendar.addPropertyWithValue('prodid', prodId);
  const main = new ICAL.Component(name);
  main.addPropertyWithValue('uid', uid);
  main.addPropertyWithValue('created', utc(now));
  calendar.addSubcomponent(main);
  return { calendar, main };
}

/** Marks a component as changed now: DTSTAMP and LAST-MODIFIED, which clients compare. */
export function touch(component: ICAL.Component, now: Date): void {
  component.updatePropertyWithValue('dtstamp', utc(now));
  component.updatePropertyWithValue('last-modified', utc(now));
}

/** Sets a text property, or removes it when the text is empty. */
export function setText(component: ICAL.Component, name: string, value: string): void {
  if (value === '') component.removeAllProperties(name);
  else component.updatePropertyWithValue(name, value);
}

export function textOf(component: ICAL.Component, name: string): string {
  const value = component.getFirstPropertyValue(name);
  return typeof value === 'string' ? value : '';
}

/** The object as iCalendar text, with the CRLF after END:VCALENDAR that ical.js leaves out. */
export function stringifyCalendar(calendar: ICAL.Component): string {
  return `${calendar.toString()}\r\n`;
}

function utc(date: Date): ICAL.Time {
  return ICAL.Time.fromJSDate(date, true);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A DUE for the form: dates as they are, UTC times in local time, floating or zoned times as written. */
function dueOf(value: unknown): string {
  if (!(value instanceof ICAL.Time)) return '';
  if (value.isDate) return `${value.year}-${pad(value.month)}-${pad(value.day)}`;
  if (value.zone === ICAL.Timezone.utcTimezone) {
    const d = value.toJSDate();
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  return `${value.year}-${pad(value.month)}-${pad(value.day)}T${pad(value.hour)}:${pad(value.minute)}`;
}

export function parseTask(text: string): Task {
  return taskOf(openCalendarObject(text, 'vtodo').main);
}

function taskOf(todo: ICAL.Component): Task {
  const completed = todo.getFirstPropertyValue('completed');
  const priority = Number(todo.getFirstPropertyValue('priority') ?? 0);
  return {
    uid: textOf(todo, 'uid'),
    summary: textOf(todo, 'summary'),
    description: textOf(todo, 'description'),
    due: dueOf(todo.getFirstPropertyValue('due')),
    priority: Number.isInteger(priority) && priority >= 0 && priority <= 9 ? priority : 0,
    completed: textOf(todo, 'status').toUpperCase() === 'COMPLETED' || completed instanceof ICAL.Time,
    completedAt: completed instanceof ICAL.Time ? completed.toJSDate().toISOString() : null,
  };
}

export function emptyTask(uid: string): Task {
  return { uid, summary: '', description: '', due: '', priority: 0, completed: false, completedAt: null };
}

/** The VCALENDAR for `task`: `original` with the changed fields rewritten, or a new object. */
export function serializeTask(task: Task, original: string | undefined, now: Date): string {
  const { calendar, main } = original ? openCalendarObject(original, 'vtodo') : newCalendarObject('vtodo', task.uid, now);
  const before = original ? taskOf(main) : emptyTask(task.uid);
  if (task.summary !== before.summary) setText(main, 'summary', task.summary);
  if (task.description !== before.description) setText(main, 'description', task.description);
  if (task.due !== before.due) {
    main.removeAllProperties('due');
    // DUE and DURATION must not both be present (RFC 5545 §3.6.2).
    if (task.due) {
      main.removeAllProperties('duration');
      main.addPropertyWithValue('due', task.due.includes('T') ? ICAL.Time.fromDateTimeString(`${task.due}:00`) : ICAL.Time.fromDateString(task.due));
    }
  }
  if (task.priority !== before.priority) {
    if (task.priority > 0) main.updatePropertyWithValue('priority', task.priority);
    else main.removeAllProperties('priority');
  }
  if (task.completed !== before.completed || !original) setCompletion(main, task.completed, now);
  touch(main, now);
  return stringifyCalendar(calendar);
}

function setCompletion(todo: ICAL.Component, completed: boolean, now: Date): void {
  if (completed) {
    todo.updatePropertyWithValue('status', 'COMPLETED');
    todo.updatePropertyWithValue('completed', utc(now));
    todo.updatePropertyWithValue('percent-complete', 100);
  } else {
    todo.updatePropertyWithValue('status', 'NEEDS-ACTION');
    todo.removeAllProperties('completed');
    todo.removeAllProperties('percent-complete');
  }
}

/** Ticks a task off (or back on), changing nothing else in it. */
export function setTaskCompleted(text: string, completed: boolean, now: Date): string {
  return serializeTask({ ...parseTask(text), completed }, text, now);
}

/** Open tasks first, soonest due first (undated after dated), then completed ones, latest first. */
export function compareTasks(a: Task, b: Task): number {
  if (a.completed !== b.completed) return a.completed ? 1 : -1;
  if (a.completed) return (b.completedAt ?? '').localeCompare(a.completedAt ?? '') || a.summary.localeCompare(b.summary);
  if (a.due !== b.due) return a.due === '' ? 1 : b.due === '' ? -1 : a.due.localeCompare(b.due);
  return (a.priority || 10) - (b.priority || 10) || a.summary.localeCompare(b.summary);
}
