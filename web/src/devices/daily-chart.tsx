import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { DailyActivityInfo } from '../../../src/protocol/devices.js';
import { SelectField } from '../ui/field.js';
import { axisMax, describeSeries } from './chart-scale.js';

const height = 200;
const margin = { top: 12, right: 8, bottom: 28, left: 40 };
const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

/**
 * Changes synced per day as an inline SVG bar chart, for the account or one device. The SVG is one image
 * with a spoken summary; the numbers themselves are in a table that only assistive technology sees.
 */
export function DailyChart({ stats }: { stats: DailyActivityInfo }) {
  const [deviceId, setDeviceId] = useState('');
  const headingId = useId();
  const device = stats.devices.find((d) => d.id === deviceId);
  const seriesName = device ? device.name : 'whole account';
  const counts = device ? device.counts : stats.total;
  const options = [{ value: '', label: 'Whole account' }, ...stats.devices.map((d) => ({ value: d.id, label: d.name }))];

  return (
    <section class="daily-chart" aria-labelledby={headingId}>
      <div class="chart-header">
        <h2 id={headingId}>Changes per day</h2>
        <SelectField label="Device" class="chart-device" value={device ? device.id : ''} onValue={setDeviceId} options={options} />
      </div>
      <Bars days={stats.days} counts={counts} label={describeSeries(seriesName, stats.days, counts)} />
      {/* A table keeps its content width whatever its own width says, so the wrapper is what is hidden. */}
      <div class="visually-hidden">
        <table>
          <caption>Changes per day, {seriesName}</caption>
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              <th scope="col">Changes</th>
            </tr>
          </thead>
          <tbody>
            {stats.days.map((day, i) => (
              <tr key={day}>
                <th scope="row">{day}</th>
                <td>{counts[i] ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Bars({ days, counts, label }: { days: string[]; counts: number[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const max = axisMax(counts);
  const plotWidth = Math.max(0, width - margin.left - margin.right);
  const plotHeight = height - margin.top - margin.bottom;
  const band = days.length > 0 ? plotWidth / days.length : 0;
  const y = (n: number) => margin.top + plotHeight - (n / max) * plotHeight;
  // A label every week keeps them apart at phone width; the last day is always labelled.
  const labelled = (i: number) => (days.length - 1 - i) % 7 === 0;

  return (
    <div ref={box} class="chart-box">
      {width > 0 && (
        <svg role="img" aria-label={label} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
          {[0, max / 2, max].map((tick) => (
            <g key={tick} class="chart-grid">
              <line x1={margin.left} x2={width - margin.right} y1={y(tick)} y2={y(tick)} />
              <text x={margin.left - 6} y={y(tick)} dy="0.32em" text-anchor="end">
                {Number.isInteger(tick) ? tick : tick.toFixed(1)}
              </text>
            </g>
          ))}
          {days.map((day, i) => {
            const n = counts[i] ?? 0;
            const x = margin.left + i * band;
            return (
              <g key={day}>
                {n > 0 && (
                  <rect class="chart-bar" x={x + band * 0.15} width={Math.max(1, band * 0.7)} y={y(n)} height={y(0) - y(n)}>
                    <title>
                      {day}: {n}
                    </title>
                  </rect>
                )}
                {labelled(i) && (
                  // The last label ends at the plot's edge rather than running past it.
                  <text class="chart-day" x={i === days.length - 1 ? x + band : x + band / 2} y={height - 8} text-anchor={i === days.length - 1 ? 'end' : 'middle'}>
                    {dayLabel.format(new Date(`${day}T00:00:00Z`))}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      )}
    </div>
  );
}

/** The element's content width, kept current, so the SVG draws at real pixels and its text stays legible. */
function useWidth(ref: { current: HTMLElement | null }): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry?.contentRect.width ?? 0)));
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}
