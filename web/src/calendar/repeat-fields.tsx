import { useId } from 'preact/hooks';
import { frequencies, weekdays, type Frequency, type Weekday } from '../lib/ical-event.js';
import { dayMs, parseWall, startOfDay, wallDate } from '../lib/timezone.js';
import { SelectField } from '../ui/field.js';
import { weekdayLabel } from './calendar-range.js';
import { weekdayOf, type EventForm } from './editor-form.js';

const repeatOptions: ReadonlyArray<{ value: Frequency | 'NONE'; label: string }> = [
  { value: 'NONE', label: 'None' },
  ...frequencies.map((value) => ({ value, label: value.charAt(0) + value.slice(1).toLowerCase() })),
];

/** "Ends on date" starts four weeks after the start, for the user to adjust. */
const untilDefaultDays = 28;

const units: Record<Frequency, [string, string]> = {
  DAILY: ['day', 'days'], WEEKLY: ['week', 'weeks'], MONTHLY: ['month', 'months'], YEARLY: ['year', 'years'],
};

/** 1 January 2024 was a Monday: the weekdays' short names in the user's language, Monday first. */
const weekdayNames = weekdays.map((_, i) => weekdayLabel.format(Date.UTC(2024, 0, 1 + i)));

export function RepeatFields(props: { form: EventForm; onChange: (patch: Partial<EventForm>) => void; customRule: boolean }) {
  const { form, onChange } = props;
  const id = useId();
  const days = form.byday ?? [weekdayOf(form.start)];
  const toggleDay = (day: Weekday) => {
    const next = days.includes(day) ? days.filter((d) => d !== day) : [...days, day];
    onChange({ byday: weekdays.filter((d) => next.includes(d)) });
  };
  return (
    <>
      <SelectField
        label="Repeat"
        value={form.freq}
        onValue={(freq) => onChange({ freq })}
        options={repeatOptions}
        {...(props.customRule ? { hint: 'This event repeats by a rule with more detail than shown here; it is kept unless you change the repeat settings.' } : {})}
      />
      {form.freq !== 'NONE' && (
        <>
          {/* Not a .field: its inputs take the full width, and this one sits before its unit. */}
          <div class="repeat-every">
            <label for={`${id}-interval`}>Repeat every</label>
            <span class="inline-input">
              <input
                id={`${id}-interval`}
                type="number"
                min={1}
                max={999}
                inputMode="numeric"
                value={form.interval}
                aria-describedby={`${id}-unit`}
                onInput={(e) => onChange({ interval: e.currentTarget.value })}
              />
              <span id={`${id}-unit`}>{units[form.freq][form.interval === '1' ? 0 : 1]}</span>
            </span>
          </div>
          {form.freq === 'WEEKLY' && (
            <fieldset class="weekday-picker">
              <legend>On</legend>
              {weekdays.map((day, i) => (
                <label key={day} class="check">
                  <input type="checkbox" checked={days.includes(day)} onChange={() => toggleDay(day)} />
                  {weekdayNames[i]}
                </label>
              ))}
            </fieldset>
          )}
          <fieldset class="repeat-ends">
            <legend>Ends</legend>
            <label class="check">
              <input type="radio" name={`${id}-ends`} checked={form.ends === 'never'} onChange={() => onChange({ ends: 'never' })} />
              Never
            </label>
            <span class="check">
              <label class="check">
                <input
                  type="radio"
                  name={`${id}-ends`}
                  checked={form.ends === 'until'}
                  onChange={() => onChange({ ends: 'until', until: form.until || wallDate(startOfDay(parseWall(form.start)) + untilDefaultDays * dayMs) })}
                />
                On date
              </label>
              <label class="visually-hidden" for={`${id}-until`}>
                Last date
              </label>
              <input
                id={`${id}-until`}
                type="date"
                value={form.until}
                min={form.start.slice(0, 10)}
                onInput={(e) => onChange({ ends: 'until', until: e.currentTarget.value })}
              />
            </span>
            <span class="check">
              <label class="check">
                <input type="radio" name={`${id}-ends`} checked={form.ends === 'count'} onChange={() => onChange({ ends: 'count' })} />
                After
              </label>
              <label class="visually-hidden" for={`${id}-count`}>
                Number of times
              </label>
              <input
                id={`${id}-count`}
                class="count"
                type="number"
                min={1}
                max={9999}
                inputMode="numeric"
                value={form.count}
                onInput={(e) => onChange({ ends: 'count', count: e.currentTarget.value })}
              />
              <span aria-hidden="true">times</span>
            </span>
          </fieldset>
        </>
      )}
    </>
  );
}
