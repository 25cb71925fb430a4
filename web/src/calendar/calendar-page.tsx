import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { useCollections, useItems, useSyncStatus, type Entry } from '../data/account.js';
import { userTimeZone, wallFromInstant, type WallTime } from '../lib/timezone.js';
import { chooseCollection, rememberCollection } from '../ui/collection-picker.js';
import { StatusMessage } from '../ui/status.js';
import { firstWeekday, rangeOf, step, titleOf, today, type ViewName } from './calendar-range.js';
import { newFields } from './editor-form.js';
import { deleteOpened, openNew, openOccurrence, saveOpened, type Opened } from './event-actions.js';
import { EventEditor } from './event-editor.js';
import { MonthView } from './month-view.js';
import { useOccurrences, type Shown, type Source } from './occurrences.js';
import { TimeGrid } from './time-grid.js';
import './calendar.css';

const views: ReadonlyArray<{ name: ViewName; label: string }> = [
  { name: 'month', label: 'Month' },
  { name: 'week', label: 'Week' },
  { name: 'day', label: 'Day' },
];
const viewKey = 'syncpoint.calendar.view';

function savedView(): ViewName {
  const saved = localStorage.getItem(viewKey);
  return views.find((v) => v.name === saved)?.name ?? 'month';
}

/** Reports one collection's items up: hooks cannot be called once per collection in a changing list. */
function ItemsFeed(props: { collectionId: string; onItems: (collectionId: string, entries: Entry[]) => void }) {
  const entries = useItems(props.collectionId);
  useEffect(() => props.onItems(props.collectionId, entries), [entries]);
  return null;
}

/** The wall time now, moved on every minute (for "today" and the line across the day view). */
function useNow(zone: string): WallTime {
  const [now, setNow] = useState(() => wallFromInstant(Date.now(), zone));
  useEffect(() => {
    const timer = setInterval(() => setNow(wallFromInstant(Date.now(), zone)), 60_000);
    return () => clearInterval(timer);
  }, [zone]);
  return now;
}

export function CalendarPage() {
  const zone = useMemo(userTimeZone, []);
  const weekStart = useMemo(firstWeekday, []);
  const now = useNow(zone);
  const todayWall = today(zone);
  const [view, setView] = useState(savedView);
  const [anchor, setAnchor] = useState(todayWall);
  const [opened, setOpened] = useState<Opened | null>(null);
  const [openError, setOpenError] = useState<string | null>(null);
  const { loaded } = useSyncStatus();

  const calendars = useCollections().filter((c) => c.kind === 'events');
  const [itemsById, setItemsById] = useState<ReadonlyMap<string, Entry[]>>(new Map());
  const onItems = useCallback((id: string, entries: Entry[]) => setItemsById((m) => new Map(m).set(id, entries)), []);
  const sources: Source[] = useMemo(
    () => calendars.map((collection) => ({ collection, entries: itemsById.get(collection.id) ?? [] })),
    [calendars.map((c) => `${c.id}:${c.color}:${c.displayName}`).join(), itemsById],
  );

  const range = useMemo(() => rangeOf(view, anchor, weekStart), [view, anchor, weekStart]);
  const { shown, unreadable } = useOccurrences(sources, range, zone);

  const chooseView = (name: ViewName) => {
    setView(name);
    localStorage.setItem(viewKey, name);
  };
  const showDay = (day: WallTime) => {
    setAnchor(day);
    chooseView('day');
  };
  const defaultCalendar = chooseCollection(calendars, 'events', null);
  const newAt = (start: WallTime, allDay: boolean) => {
    if (defaultCalendar) setOpened(openNew(defaultCalendar.id, newFields(start, allDay)));
  };
  const newEvent = () => {
    // Today: the next whole hour; another day: 09:00.
    const start = anchor === todayWall ? Math.ceil(now / 3_600_000) * 3_600_000 : anchor + 9 * 3_600_000;
    newAt(start, false);
  };
  const open = (item: Shown) => {
    try {
      setOpenError(null);
      setOpened(openOccurrence(item, zone));
    } catch (err) {
      setOpenError(`This event cannot be edited here: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  if (calendars.length === 0) {
    return (
      <section class="calendar-page">
        <h1>Calendar</h1>
        <p>{loaded ? <>There is no calendar yet. Create one on the <a href="#/collections">Collections</a> page.</> : 'Loading…'}</p>
      </section>
    );
  }

  const viewProps = { range, today: todayWall, shown, onOpen: open, onNewAt: newAt, onShowDay: showDay };
  return (
    <section class="calendar-page">
      <div class="calendar-head">
        <div class="calendar-title">
          <h1 class="visually-hidden">Calendar</h1>
          <h2 aria-live="polite">{titleOf(view, range, anchor)}</h2>
          <p class="calendar-zone">Time zone: {zone}</p>
        </div>
        <div class="calendar-toolbar">
          <div class="button-group" role="group" aria-label="Go to">
            <button type="button" class="button" aria-label="Previous" title={`Previous ${view}`} onClick={() => setAnchor(step(view, anchor, -1))}>
              <span aria-hidden="true">‹</span>
            </button>
            <button type="button" class="button" onClick={() => setAnchor(todayWall)}>
              Today
            </button>
            <button type="button" class="button" aria-label="Next" title={`Next ${view}`} onClick={() => setAnchor(step(view, anchor, 1))}>
              <span aria-hidden="true">›</span>
            </button>
          </div>
          <div class="button-group" role="group" aria-label="View">
            {views.map((v) => (
              <button key={v.name} type="button" class="button" aria-pressed={view === v.name} onClick={() => chooseView(v.name)}>
                {v.label}
              </button>
            ))}
          </div>
          <button type="button" class="button primary" onClick={newEvent}>
            New event
          </button>
        </div>
      </div>
      <StatusMessage error={openError} message={unreadable > 0 ? `${unreadable} item${unreadable === 1 ? '' : 's'} could not be read and ${unreadable === 1 ? 'is' : 'are'} not shown.` : null} />
      {view === 'month' ? (
        <MonthView {...viewProps} month={new Date(anchor).getUTCMonth()} />
      ) : (
        <TimeGrid key={view} {...viewProps} now={now} />
      )}
      {calendars.map((c) => (
        <ItemsFeed key={c.id} collectionId={c.id} onItems={onItems} />
      ))}
      {opened && (
        <EventEditor
          initial={opened.initial}
          calendars={calendars}
          collectionId={opened.collectionId}
          series={opened.series}
          single={opened.recurrenceId !== null && !opened.series}
          customRule={opened.customRule}
          onSave={async (fields, collectionId, scope) => {
            await saveOpened(opened, fields, collectionId, scope, zone);
            rememberCollection('events', collectionId);
          }}
          {...(opened.entry ? { onDelete: (scope) => deleteOpened(opened, scope) } : {})}
          onClose={() => setOpened(null)}
        />
      )}
    </section>
  );
}
