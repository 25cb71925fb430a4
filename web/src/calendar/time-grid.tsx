import { useEffect, useRef } from 'preact/hooks';
import { dayMs, type WallTime } from '../lib/timezone.js';
import { dayLabel, shortDayLabel, timeFormat } from './calendar-range.js';
import { placeDay } from './day-layout.js';
import { EventButton } from './event-button.js';
import type { ViewProps } from './month-view.js';
import { onDay, type Shown } from './occurrences.js';

const hours = Array.from({ length: 24 }, (_, h) => h);
/** Where the grid opens scrolled to: the working day, not midnight. */
const firstHourShown = 7;
/** A click on the grid snaps to this. */
const slotMinutes = 30;

/** The week and day views: an all-day row, then the hours of each day with its timed events. */
export function TimeGrid(props: ViewProps & { now: WallTime }) {
  const { days } = props.range;
  const body = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = body.current;
    if (el) el.scrollTop = (el.scrollHeight / 24) * firstHourShown;
  }, []);
  const single = days.length === 1;
  return (
    <div class={`time-grid${single ? ' single' : ''}`} style={{ '--days': String(days.length) }}>
      <div class="tg-row tg-head">
        <div class="tg-gutter" />
        {days.map((day) => (
          <div key={day} class={`tg-dayhead${day === props.today ? ' today' : ''}`}>
            {single ? (
              <span>{dayLabel.format(day)}</span>
            ) : (
              <button
                type="button"
                class="day-link"
                aria-label={dayLabel.format(day)}
                aria-current={day === props.today ? 'date' : undefined}
                onClick={() => props.onShowDay(day)}
              >
                {shortDayLabel.format(day)}
              </button>
            )}
          </div>
        ))}
      </div>
      <div class="tg-row tg-allday">
        <div class="tg-gutter">All day</div>
        {days.map((day) => (
          <div
            key={day}
            class="tg-allday-cell"
            onClick={(e) => !(e.target as Element).closest('button') && props.onNewAt(day, true)}
          >
            {onDay(props.shown, day, day + dayMs)
              .filter((shown) => shown.allDay)
              .map((shown) => (
                <EventButton key={shown.key} shown={shown} variant="chip" onOpen={props.onOpen} />
              ))}
          </div>
        ))}
      </div>
      <div class="tg-body" ref={body}>
        <div class="tg-hours" aria-hidden="true">
          {hours.map((h) => (
            <div key={h} class="tg-hour">
              {h > 0 && timeFormat.format(h * 3_600_000)}
            </div>
          ))}
        </div>
        {days.map((day) => (
          <DayColumn key={day} day={day} {...props} />
        ))}
      </div>
    </div>
  );
}

function DayColumn(props: ViewProps & { day: WallTime; now: WallTime }) {
  const { day } = props;
  const timed = onDay(props.shown, day, day + dayMs).filter((shown: Shown) => !shown.allDay);
  const percent = (fraction: number) => `${(fraction * 100).toFixed(3)}%`;
  return (
    <div
      class="tg-day"
      onClick={(e) => {
        // Empty grid only; keyboard users have "New event".
        if (e.target !== e.currentTarget) return;
        const rect = e.currentTarget.getBoundingClientRect();
        const slot = Math.floor(((e.clientY - rect.top) / rect.height) * ((24 * 60) / slotMinutes));
        props.onNewAt(day + slot * slotMinutes * 60_000, false);
      }}
    >
      {placeDay(timed, day).map((p) => (
        <EventButton
          key={p.item.key}
          shown={p.item}
          variant="block"
          onOpen={props.onOpen}
          style={{
            top: percent(p.top),
            height: percent(p.bottom - p.top),
            left: percent(p.column / p.columns),
            width: percent(1 / p.columns),
          }}
        />
      ))}
      {props.now >= day && props.now < day + dayMs && <div class="now-line" style={{ top: percent((props.now - day) / dayMs) }} aria-hidden="true" />}
    </div>
  );
}
