import { dayMs, type WallTime } from '../lib/timezone.js';

export interface Placed<T> {
  item: T;
  /** Fractions of the day, 0 to 1. */
  top: number;
  bottom: number;
  column: number;
  columns: number;
}

/** Events shorter than this are drawn (and laid out) this tall, so their title fits. */
const shortestMs = 25 * 60_000;

/**
 * Side-by-side columns for one day's timed events: each group of events that overlap one another
 * shares the width, and each event takes the first column free at its start.
 */
export function placeDay<T extends { start: WallTime; end: WallTime }>(items: T[], day: WallTime): Array<Placed<T>> {
  const segments = items
    .map((item) => {
      const from = Math.max(item.start, day) - day;
      const to = Math.min(Math.max(item.end, item.start + shortestMs), day + dayMs) - day;
      return { item, from, to: Math.max(to, Math.min(from + shortestMs, dayMs)) };
    })
    .sort((a, b) => a.from - b.from || b.to - a.to);
  const placed: Array<Placed<T>> = [];
  let group: Array<Placed<T>> = [];
  let columnEnds: number[] = [];
  let groupEnd = -1;
  const closeGroup = () => {
    for (const p of group) p.columns = columnEnds.length;
    group = [];
    columnEnds = [];
  };
  for (const { item, from, to } of segments) {
    if (from >= groupEnd) closeGroup();
    let column = columnEnds.findIndex((end) => end <= from);
    if (column < 0) column = columnEnds.push(to) - 1;
    else columnEnds[column] = to;
    const p = { item, top: from / dayMs, bottom: to / dayMs, column, columns: 1 };
    group.push(p);
    placed.push(p);
    groupEnd = Math.max(groupEnd, to);
  }
  closeGroup();
  return placed;
}
