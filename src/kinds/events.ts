import { areTwins } from '../core/twins.js';
import type { Kind } from './kind.js';
import { icalendarFormat } from './vcard-icalendar.js';

/** Events: one iCalendar object per item (a VEVENT series with its overrides); a twin shares the UID. */
export const eventsKind: Kind = {
  name: 'events',
  format: icalendarFormat,
  contentType: 'text/calendar; charset=utf-8',
  fileExtension: '.ics',
  areTwins,
  faces: { dav: { collection: 'calendar', component: 'VEVENT' }, eas: { class: 'Calendar', defaultFolderType: 8, userFolderType: 13 } },
};
