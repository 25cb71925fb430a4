import { exactTime, relativeTime } from './relative-time.js';

/** A past moment in words, with the exact local time as a tooltip and the ISO time for machines. */
export function TimeAgo({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {relativeTime(iso, Date.now())}
    </time>
  );
}
