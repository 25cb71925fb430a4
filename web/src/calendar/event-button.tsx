import { timeFormat } from './calendar-range.js';
import { colorOf, type Shown } from './occurrences.js';

/**
 * One occurrence as a button. The title comes first in it, so the button's name starts with the title;
 * CSS may show the time before it.
 */
export function EventButton(props: { shown: Shown; variant: 'chip' | 'block'; style?: Record<string, string>; onOpen: (shown: Shown) => void }) {
  const { shown } = props;
  const { entry } = shown;
  const when = shown.allDay
    ? 'all day'
    : props.variant === 'chip'
      ? timeFormat.format(shown.start)
      : `${timeFormat.format(shown.start)}–${timeFormat.format(shown.end)}`;
  const state = entry.rejected ? ' rejected' : entry.pending ? ' pending' : '';
  const style = { '--event-color': colorOf(shown.collection), ...props.style };
  return (
    <button type="button" class={`event ${props.variant}${shown.allDay ? ' all-day' : ''}${state}`} style={style} onClick={() => props.onOpen(shown)}>
      <span class="event-title">{shown.summary || '(No title)'}</span>
      <span class="event-time">{when}</span>
      {props.variant === 'block' && shown.location && <span class="event-location">{shown.location}</span>}
      <span class="visually-hidden">
        , {shown.collection.displayName || shown.collection.name}
        {shown.series ? ', repeats' : ''}
        {entry.rejected ? `, not saved: ${entry.rejected}` : entry.pending ? ', saving' : ''}
      </span>
    </button>
  );
}
