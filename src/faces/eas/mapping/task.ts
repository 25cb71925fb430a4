import ICAL from 'ical.js';
import { child, el, text, type WbxmlElement } from '../wbxml/element.js';
import { bodyAfter, bodyFromEas, bodyToEas, type ItemBody } from './body.js';
import {
  categoriesElement, dashedDate, intElement, newCalendar, newDisplayAlarm, parseCategories, parseEasDate, parseItem,
  readBody, readCategories, readSensitivity, reminderAlarms, same, serializeItem, setText, textElement, textProp, writeCategories,
  writeBody, writeSensitivity,
} from './calendar.js';
import type { FromEasContext, ItemMapper, ToEasOptions } from './item-mapper.js';
import {
  easToRrule, parseRecurrence, recurrenceElement, rruleToEas, sameRecurrence, type EasRecurrence, type RecurrenceCodec,
} from './recurrence.js';
import { ianaVtimezone, wallTimeIn } from './timezone-blob.js';

/**
 * Tasks: an iCalendar VTODO ↔ the ActiveSync Tasks class (MS-ASTASK). A Change starts from the hub's item
 * and rewrites only the fields whose value differs from what this mapper sends for it (see calendar.ts);
 * everything ActiveSync cannot carry (DTSTAMP, X- properties, other alarms, RECURRENCE-ID overrides …) is
 * kept as it is.
 *
 * Choices:
 * - Importance ↔ PRIORITY: high (2) ↔ 1 (1-4 read as high), normal (1) ↔ 5 (or none), low (0) ↔ 9 (6-9).
 * - StartDate/DueDate are the local wall time written with a Z (as MS-ASTASK does), UtcStartDate/UtcDueDate
 *   the instant. A DATE DTSTART/DUE is sent as midnight; from the client a local midnight becomes a DATE,
 *   any other time the instant, written in the zone the property had (else UTC).
 * - Complete ↔ STATUS:COMPLETED with COMPLETED (DateCompleted) and PERCENT-COMPLETE:100; un-completing
 *   sets STATUS:NEEDS-ACTION and drops COMPLETED. A completed task without COMPLETED sends its
 *   LAST-MODIFIED (or DTSTAMP) as DateCompleted.
 * - ReminderSet/ReminderTime ↔ the first DISPLAY or AUDIO alarm whose time is known (absolute, or relative
 *   to DTSTART or DUE); a changed time is written as an absolute trigger.
 * - Recurrence uses recurrence.ts with the task's start; Regenerate and DeadOccur are read but not kept
 *   (iCalendar has no equivalent), so they are never sent.
 */

const dashedCodec: RecurrenceCodec = { formatDate: dashedDate, parseDate: parseEasDate };
const taskEl = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Tasks', name, ...kids);

interface TaskDate {
  /** The local wall time as if it were UTC (midnight for a DATE). */
  local: number;
  /** The instant (DATE and floating values read as UTC). */
  utc: number;
}

interface EasTask {
  subject?: string;
  body?: ItemBody;
  importance?: number;
  start?: TaskDate;
  due?: TaskDate;
  categories?: string[];
  complete?: boolean;
  dateCompleted?: number;
  sensitivity?: number;
  reminderSet?: boolean;
  reminderTime?: number;
  recurrence?: EasRecurrence;
}

// ---------------------------------------------------------------------------------------------------
// Times

interface TaskTime {
  time: ICAL.Time;
  /** The zone of a TZID the item or the IANA database defines. */
  tz?: ICAL.Timezone;
  tzid?: string;
  utc: boolean;
}

function fieldsOf(t: ICAL.Time) {
  return { year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second };
}

function zoneFor(calendar: ICAL.Component, tzid: string): ICAL.Timezone | undefined {
  const own = calendar.getAllSubcomponents('vtimezone').find((v) => v.getFirstPropertyValue('tzid') === tzid);
  const component = own ?? ianaVtimezone(tzid);
  return component ? new ICAL.Timezone({ component, tzid }) : undefined;
}

function readTime(calendar: ICAL.Component, c: ICAL.Component, name: string): TaskTime | undefined {
  const prop = c.getFirstProperty(name);
  const v = prop?.getFirstValue();
  if (!prop || !(v instanceof ICAL.Time)) return undefined;
  if (v.isDate) return { time: v, utc: false };
  if (v.zone === ICAL.Timezone.utcTimezone) return { time: v, utc: true };
  const tzid = prop.getParameter('tzid');
  if (typeof tzid === 'string' && tzid !== '') {
    const tz = zoneFor(calendar, tzid);
    return { time: ICAL.Time.fromData(fieldsOf(v), tz), tz, tzid, utc: false };
  }
  return { time: ICAL.Time.fromData(fieldsOf(v)), utc: false };
}

function taskDate(t: TaskTime): TaskDate {
  const f = t.time;
  const local = Date.UTC(f.year, f.month - 1, f.day, f.isDate ? 0 : f.hour, f.isDate ? 0 : f.minute, f.isDate ? 0 : f.second);
  return { local, utc: t.tz && !f.isDate ? f.toUnixTime() * 1000 : local };
}

function utcTime(ms: number): ICAL.Time {
  return ICAL.Time.fromJSDate(new Date(Math.floor(ms / 1000) * 1000), true);
}

function isMidnight(ms: number): boolean {
  return ms % 86_400_000 === 0;
}

/** Writes DTSTART or DUE: a local midnight as a DATE, else the instant in the property's former zone, else UTC. */
function writeTime(c: ICAL.Component, name: string, value: TaskDate | undefined, former: TaskTime | undefined): void {
  c.removeAllProperties(name);
  if (!value) return;
  const prop = new ICAL.Property(name, c);
  if (isMidnight(value.local)) {
    const d = new Date(value.local);
    prop.setValue(ICAL.Time.fromData({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), isDate: true }));
  } else if (former?.tz && former.tzid) {
    prop.setValue(wallTimeIn(value.utc, former.tz));
    prop.setParameter('tzid', former.tzid);
  } else {
    prop.setValue(utcTime(value.utc));
  }
  c.addProperty(prop);
}

// ---------------------------------------------------------------------------------------------------
// Reading a VTODO

function importanceOf(priority: unknown): number | undefined {
  const p = typeof priority === 'number' ? priority : Number(priority);
  if (!Number.isInteger(p) || p <= 0) return 1;
  if (p <= 4) return 2;
  return p === 5 ? 1 : 0;
}

function isComplete(c: ICAL.Component): boolean {
  const status = textProp(c, 'status')?.toUpperCase();
  return status === 'COMPLETED' || (status === undefined && c.hasProperty('completed'));
}

function instantOfProp(calendar: ICAL.Component, c: ICAL.Component, name: string): number | undefined {
  const t = readTime(calendar, c, name);
  return t ? taskDate(t).utc : undefined;
}

/** The first DISPLAY or AUDIO alarm whose time can be told, and that time. */
function findReminder(calendar: ICAL.Component, c: ICAL.Component): { alarm: ICAL.Component; time: number } | undefined {
  for (const alarm of reminderAlarms(c)) {
    const trigger = alarm.getFirstProperty('trigger');
    const v = trigger?.getFirstValue();
    if (!trigger) continue;
    if (v instanceof ICAL.Time) return { alarm, time: v.toUnixTime() * 1000 };
    if (!(v instanceof ICAL.Duration)) continue;
    const related = String(trigger.getParameter('related') ?? 'START').toUpperCase();
    const anchor = instantOfProp(calendar, c, related === 'END' ? 'due' : 'dtstart');
    if (anchor !== undefined) return { alarm, time: anchor + v.toSeconds() * 1000 };
  }
  return undefined;
}

interface TaskView {
  calendar: ICAL.Component;
  todo: ICAL.Component;
  start?: TaskTime;
  due?: TaskTime;
  task: EasTask;
}

function untilKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function viewTask(calendar: ICAL.Component): TaskView {
  const todos = calendar.getAllSubcomponents('vtodo');
  const todo = todos.find((t) => !t.hasProperty('recurrence-id')) ?? todos[0];
  if (!todo) throw new Error('the item holds no VTODO');
  const start = readTime(calendar, todo, 'dtstart');
  let due = readTime(calendar, todo, 'due');
  const duration = todo.getFirstPropertyValue('duration');
  let dueDate = due && taskDate(due);
  if (!due && start && duration instanceof ICAL.Duration) {
    const t = start.time.clone();
    t.addDuration(duration);
    due = { ...start, time: t };
    dueDate = taskDate(due);
  }
  const complete = isComplete(todo);
  let dateCompleted: number | undefined;
  if (complete) {
    dateCompleted = instantOfProp(calendar, todo, 'completed') ?? instantOfProp(calendar, todo, 'last-modified') ??
      instantOfProp(calendar, todo, 'dtstamp');
  }
  const reminder = findReminder(calendar, todo);
  const task: EasTask = {
    subject: textProp(todo, 'summary'),
    body: readBody(todo),
    importance: importanceOf(todo.getFirstPropertyValue('priority')),
    start: start && taskDate(start),
    due: dueDate,
    categories: readCategories(todo),
    complete,
    dateCompleted,
    sensitivity: readSensitivity(todo),
    reminderSet: reminder !== undefined,
    reminderTime: reminder?.time,
  };
  const rule = todo.getFirstPropertyValue('rrule');
  if (start && rule instanceof ICAL.Recur) {
    const untilToEas = (until: ICAL.Time) => {
      if (until.isDate || start.time.isDate) return Date.UTC(until.year, until.month - 1, until.day);
      const wall = until.zone === ICAL.Timezone.utcTimezone && start.tz ? wallTimeIn(until.toUnixTime() * 1000, start.tz) : until;
      return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
    };
    const r = rruleToEas(rule, start.time, untilToEas);
    if (r) task.recurrence = { ...r.recurrence, start: taskDate(start).local };
  }
  return { calendar, todo, start, due: readTime(calendar, todo, 'due'), task };
}

// ---------------------------------------------------------------------------------------------------
// toEas

function taskElements(task: EasTask, options: ToEasOptions): WbxmlElement[] {
  const firstDayOfWeek = !['12.0', '12.1', '14.0'].includes(options.version);
  const out: Array<WbxmlElement | undefined | false> = [
    bodyToEas(task.body, options.bodyPreference),
    task.subject !== undefined && taskEl('Subject', task.subject),
    task.importance !== undefined && taskEl('Importance', String(task.importance)),
    task.start && taskEl('UtcStartDate', dashedDate(task.start.utc)),
    task.start && taskEl('StartDate', dashedDate(task.start.local)),
    task.due && taskEl('UtcDueDate', dashedDate(task.due.utc)),
    task.due && taskEl('DueDate', dashedDate(task.due.local)),
    task.categories && task.categories.length > 0 && categoriesElement('Tasks', task.categories),
    task.recurrence && recurrenceElement(task.recurrence, 'Tasks', dashedCodec, { firstDayOfWeek }),
    taskEl('Complete', task.complete ? '1' : '0'),
    task.complete && task.dateCompleted !== undefined && taskEl('DateCompleted', dashedDate(task.dateCompleted)),
    task.sensitivity !== undefined && taskEl('Sensitivity', String(task.sensitivity)),
    task.reminderSet && task.reminderTime !== undefined && taskEl('ReminderTime', dashedDate(task.reminderTime)),
    taskEl('ReminderSet', task.reminderSet ? '1' : '0'),
  ];
  return out.filter((e): e is WbxmlElement => e !== undefined && e !== false);
}

// ---------------------------------------------------------------------------------------------------
// fromEas

function dateElement(parent: WbxmlElement, name: string): number | undefined {
  const v = text(child(parent, name, 'Tasks'));
  return v === undefined || v.trim() === '' ? undefined : parseEasDate(v, name);
}

function pairOf(utc: number | undefined, local: number | undefined): TaskDate | undefined {
  if (utc === undefined && local === undefined) return undefined;
  return { local: local ?? (utc as number), utc: utc ?? (local as number) };
}

function parseTask(app: WbxmlElement): EasTask {
  const importance = intElement(app, 'Importance', 'Tasks');
  const sensitivity = intElement(app, 'Sensitivity', 'Tasks');
  const recurrence = child(app, 'Recurrence', 'Tasks');
  return {
    subject: textElement(app, 'Subject', 'Tasks'),
    body: bodyFromEas(app),
    importance: importance === undefined ? undefined : importance >= 0 && importance <= 2 ? importance : 1,
    start: pairOf(dateElement(app, 'UtcStartDate'), dateElement(app, 'StartDate')),
    due: pairOf(dateElement(app, 'UtcDueDate'), dateElement(app, 'DueDate')),
    categories: parseCategories(app, 'Tasks'),
    complete: (intElement(app, 'Complete', 'Tasks') ?? 0) !== 0,
    dateCompleted: dateElement(app, 'DateCompleted'),
    sensitivity: sensitivity === undefined ? undefined : sensitivity >= 0 && sensitivity <= 3 ? sensitivity : 2,
    reminderSet: (intElement(app, 'ReminderSet', 'Tasks') ?? 0) !== 0,
    reminderTime: dateElement(app, 'ReminderTime'),
    recurrence: recurrence ? parseRecurrence(recurrence, 'Tasks', dashedCodec) : undefined,
  };
}

/** Whether the client's date says the same as the one sent (a side the client left out is not compared). */
function sameDate(prev: TaskDate | undefined, next: TaskDate | undefined, sentBoth: boolean): boolean {
  if (!prev || !next) return prev === next;
  if (!sentBoth) return prev.local === next.local || prev.utc === next.utc;
  return prev.local === next.local && prev.utc === next.utc;
}

function writeImportance(c: ICAL.Component, importance: number | undefined): void {
  if (importance === undefined) c.removeAllProperties('priority');
  else c.updatePropertyWithValue('priority', importance === 2 ? 1 : importance === 0 ? 9 : 5);
}

function writeCompletion(c: ICAL.Component, complete: boolean, at: number): void {
  const status = textProp(c, 'status')?.toUpperCase();
  if (complete) {
    setText(c, 'status', 'COMPLETED');
    c.removeAllProperties('completed');
    c.addPropertyWithValue('completed', utcTime(at));
    c.updatePropertyWithValue('percent-complete', 100);
    return;
  }
  if (status === 'COMPLETED') setText(c, 'status', 'NEEDS-ACTION');
  c.removeAllProperties('completed');
  if (Number(c.getFirstPropertyValue('percent-complete')) === 100) c.removeAllProperties('percent-complete');
}

/** Sets the reminder alarm found before the change began (its anchor may be gone by now) to `time`. */
function writeReminder(c: ICAL.Component, alarm: ICAL.Component | undefined, time: number | undefined): void {
  if (time === undefined) {
    if (alarm) c.removeSubcomponent(alarm);
    return;
  }
  if (!alarm) {
    c.addSubcomponent(newDisplayAlarm(utcTime(time)));
    return;
  }
  alarm.removeAllProperties('trigger');
  alarm.addPropertyWithValue('trigger', utcTime(time));
}

function fromEas(app: WbxmlElement, existing: string | undefined, ctx: FromEasContext): string {
  const next = parseTask(app);
  const calendar = existing === undefined ? newCalendar() : parseItem(existing, 'task');
  let view: TaskView | undefined;
  if (existing !== undefined) {
    view = viewTask(calendar);
  } else {
    const todo = new ICAL.Component('vtodo');
    todo.addPropertyWithValue('uid', ctx.newUid());
    todo.addPropertyWithValue('dtstamp', utcTime(ctx.now));
    calendar.addSubcomponent(todo);
  }
  const todo = view?.todo ?? (calendar.getFirstSubcomponent('vtodo') as ICAL.Component);
  const prev: EasTask = view?.task ?? {};
  const reminderAlarm = findReminder(calendar, todo)?.alarm;

  if (!same(prev.subject, next.subject || undefined)) setText(todo, 'summary', next.subject);
  const body = bodyAfter(prev.body, next.body);
  if (body !== prev.body) writeBody(todo, body);
  if ((prev.importance ?? 1) !== (next.importance ?? 1) || (view && next.importance === undefined && todo.hasProperty('priority'))) {
    writeImportance(todo, next.importance);
  }
  const sentBoth = (field: 'Start' | 'Due') => child(app, `Utc${field}Date`, 'Tasks') !== undefined && child(app, `${field}Date`, 'Tasks') !== undefined;
  let timesWritten = false;
  if (!sameDate(prev.start, next.start, sentBoth('Start'))) {
    writeTime(todo, 'dtstart', next.start, view?.start);
    timesWritten = true;
  }
  if (!sameDate(prev.due, next.due, sentBoth('Due'))) {
    todo.removeAllProperties('duration');
    writeTime(todo, 'due', next.due, view?.due);
    timesWritten = true;
  }
  if (timesWritten) matchValueTypes(todo);

  const completion = (t: EasTask) => ({ complete: !!t.complete, at: t.complete ? t.dateCompleted : undefined });
  const nextCompletion = completion(next);
  if (nextCompletion.complete && nextCompletion.at === undefined) nextCompletion.at = prev.complete ? prev.dateCompleted : undefined;
  if (!same(completion(prev), nextCompletion)) writeCompletion(todo, nextCompletion.complete, nextCompletion.at ?? ctx.now);

  if (!same(prev.categories ?? [], next.categories ?? [])) writeCategories(todo, next.categories);
  if ((prev.sensitivity ?? 0) !== (next.sensitivity ?? 0)) writeSensitivity(todo, next.sensitivity);

  const reminder = (t: EasTask) => (t.reminderSet ? t.reminderTime ?? prev.reminderTime : undefined);
  if (!same(reminder(prev), reminder(next))) writeReminder(todo, reminderAlarm, reminder(next));

  // Recurrence, on the task's start (the Recurrence's Start gives one to a task without).
  if (next.recurrence && !todo.hasProperty('dtstart') && next.recurrence.start !== undefined) {
    writeTime(todo, 'dtstart', { local: next.recurrence.start, utc: next.recurrence.start }, undefined);
    matchValueTypes(todo);
  }
  const recurrenceSame = prev.recurrence && next.recurrence
    ? sameRecurrence(prev.recurrence, next.recurrence, untilKey)
    : !prev.recurrence && !next.recurrence;
  if (!recurrenceSame) {
    todo.removeAllProperties('rrule');
    todo.removeAllProperties('rdate');
    todo.removeAllProperties('exrule');
    const start = readTime(calendar, todo, 'dtstart');
    if (next.recurrence && start) {
      const s = start.time;
      const rule = easToRrule(next.recurrence, s, (ms) => {
        const d = new Date(ms);
        const date = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
        if (s.isDate) return ICAL.Time.fromData({ ...date, isDate: true });
        const wall = ICAL.Time.fromData({ ...date, hour: s.hour, minute: s.minute, second: s.second }, start.tz);
        if (start.tz) return utcTime(wall.toUnixTime() * 1000);
        return start.utc ? utcTime(Date.UTC(date.year, date.month - 1, date.day, s.hour, s.minute, s.second)) : wall;
      });
      todo.addPropertyWithValue('rrule', rule);
    }
  }
  return serializeItem(calendar);
}

/** DUE must have DTSTART's value type (RFC 5545): a DATE beside a DATE-TIME becomes midnight UTC. */
function matchValueTypes(todo: ICAL.Component): void {
  const start = todo.getFirstProperty('dtstart');
  const due = todo.getFirstProperty('due');
  const s = start?.getFirstValue();
  const d = due?.getFirstValue();
  if (!start || !due || !(s instanceof ICAL.Time) || !(d instanceof ICAL.Time) || s.isDate === d.isDate) return;
  const [prop, value] = s.isDate ? [start, s] : [due, d];
  prop.removeParameter('value');
  prop.resetType('date-time');
  prop.setValue(utcTime(Date.UTC(value.year, value.month - 1, value.day)));
}

export const taskMapper: ItemMapper = {
  toEas(data: string, options: ToEasOptions): WbxmlElement[] {
    return taskElements(viewTask(parseItem(data, 'task')).task, options);
  },
  fromEas,
};
