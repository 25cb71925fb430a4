import { dayMs, startOfDay, wallFromInstant, type WallTime } from '../lib/timezone.js';

/** What each view shows around the day it is anchored on; all in wall times of the user's zone. */
export type ViewName = 'month' | 'week' | 'day';

export interface Range {
  start: WallTime;
  /** Exclusive. */
  end: WallTime;
  days: WallTime[];
}

export function today(zone: string): WallTime {
  return startOfDay(wallFromInstant(Date.now(), zone));
}

/** First day of the week for the user's locale (0 = Sunday … 6 = Saturday), Monday where unknown. */
export function firstWeekday(): number {
  try {
    const locale = new Intl.Locale(navigator.language) as Intl.Locale & {
      getWeekInfo?: () => { firstDay: number };
      weekInfo?: { firstDay: number };
    };
    const info = locale.getWeekInfo?.() ?? locale.weekInfo;
    if (info) return info.firstDay % 7;
  } catch {
    // No locale data: fall through to ISO 8601.
  }
  return 1;
}

export function addDays(day: WallTime, days: number): WallTime {
  return day + days * dayMs;
}

function startOfWeek(day: WallTime, weekStart: number): WallTime {
  const weekday = new Date(day).getUTCDay();
  return addDays(startOfDay(day), -((weekday - weekStart + 7) % 7));
}

function daysFrom(start: WallTime, count: number): WallTime[] {
  return Array.from({ length: count }, (_, i) => addDays(start, i));
}

export function rangeOf(view: ViewName, anchor: WallTime, weekStart: number): Range {
  if (view === 'day') {
    const start = startOfDay(anchor);
    return { start, end: addDays(start, 1), days: [start] };
  }
  if (view === 'week') {
    const start = startOfWeek(anchor, weekStart);
    return { start, end: addDays(start, 7), days: daysFrom(start, 7) };
  }
  // Whole weeks from the one holding the 1st to the one holding the last day.
  const date = new Date(anchor);
  const first = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
  const last = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0);
  const start = startOfWeek(first, weekStart);
  const end = addDays(startOfWeek(last, weekStart), 7);
  return { start, end, days: daysFrom(start, Math.round((end - start) / dayMs)) };
}

/** The anchor one step back (-1) or forward (+1) in the view. */
export function step(view: ViewName, anchor: WallTime, direction: -1 | 1): WallTime {
  if (view === 'day') return addDays(anchor, direction);
  if (view === 'week') return addDays(anchor, 7 * direction);
  const date = new Date(anchor);
  // The 1st, so 31 January steps to February rather than to 3 March.
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + direction, 1);
}

/** Wall times are formatted as UTC: they already are the user's local date and time. */
function format(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: 'UTC' });
}

const monthTitle = format({ month: 'long', year: 'numeric' });
const dayTitle = format({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const weekTitle = format({ day: 'numeric', month: 'short', year: 'numeric' });
export const timeFormat = format({ hour: 'numeric', minute: '2-digit' });
export const dayLabel = format({ weekday: 'long', day: 'numeric', month: 'long' });
export const shortDayLabel = format({ weekday: 'short', day: 'numeric' });
export const weekdayLabel = format({ weekday: 'short' });
export const longWeekdayLabel = format({ weekday: 'long' });

export function titleOf(view: ViewName, range: Range, anchor: WallTime): string {
  if (view === 'month') return monthTitle.format(anchor);
  if (view === 'day') return dayTitle.format(range.start);
  return weekTitle.formatRange(range.start, addDays(range.end, -1));
}
