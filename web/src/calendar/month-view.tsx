import { dayMs, type WallTime } from '../lib/timezone.js';
import { dayLabel, longWeekdayLabel, weekdayLabel, type Range } from './calendar-range.js';
import { EventButton } from './event-button.js';
import { colorOf, onDay, type Shown } from './occurrences.js';

/** Titles shown in a day cell before "+N more" (on wide screens; phones show dots). */
const perCellMax = 3;

export interface ViewProps {
  range: Range;
  today: WallTime;
  shown: Shown[];
  onOpen: (shown: Shown) => void;
  /** A click on empty space: a new event there. */
  onNewAt: (start: WallTime, allDay: boolean) => void;
  onShowDay: (day: WallTime) => void;
}

const count = (n: number) => (n === 0 ? 'no events' : n === 1 ? '1 event' : `${n} events`);

export function MonthView(props: ViewProps & { month: number }) {
  const weeks: WallTime[][] = [];
  for (let i = 0; i < props.range.days.length; i += 7) weeks.push(props.range.days.slice(i, i + 7));
  return (
    <table class="month-view">
      <thead>
        <tr>
          {weeks[0]?.map((day) => (
            <th key={day} scope="col">
              <abbr title={longWeekdayLabel.format(day)}>{weekdayLabel.format(day)}</abbr>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {weeks.map((week) => (
          <tr key={week[0]}>
            {week.map((day) => (
              <MonthCell key={day} day={day} {...props} />
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MonthCell(props: ViewProps & { day: WallTime; month: number }) {
  const { day } = props;
  const events = onDay(props.shown, day, day + dayMs);
  const more = events.length - perCellMax;
  const outside = new Date(day).getUTCMonth() !== props.month;
  const isToday = day === props.today;
  return (
    <td
      class={`${outside ? 'outside' : ''}${isToday ? ' today' : ''}`}
      onClick={(e) => {
        // Empty space only: the buttons inside have their own job. Keyboard users have "New event".
        if (!(e.target as Element).closest('button')) props.onNewAt(day, true);
      }}
    >
      <button
        type="button"
        class="day-number"
        aria-label={`${dayLabel.format(day)}, ${count(events.length)}`}
        aria-current={isToday ? 'date' : undefined}
        onClick={() => props.onShowDay(day)}
      >
        {new Date(day).getUTCDate()}
      </button>
      <ul class="cell-events">
        {events.slice(0, more > 0 ? perCellMax - 1 : perCellMax).map((shown) => (
          <li key={shown.key}>
            <EventButton shown={shown} variant="chip" onOpen={props.onOpen} />
          </li>
        ))}
      </ul>
      {more > 0 && (
        <button type="button" class="more" aria-label={`${more + 1} more on ${dayLabel.format(day)}`} onClick={() => props.onShowDay(day)}>
          +{more + 1} more
        </button>
      )}
      <span class="dots" aria-hidden="true">
        {events.slice(0, 4).map((shown) => (
          <span key={shown.key} class="dot" style={{ background: colorOf(shown.collection) }} />
        ))}
      </span>
    </td>
  );
}
