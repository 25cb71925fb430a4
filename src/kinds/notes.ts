import { areTwins } from '../core/twins.js';
import type { Kind } from './kind.js';
import { icalendarFormat } from './vcard-icalendar.js';

/** Notes: one iCalendar object per item (a VJOURNAL); a twin shares the UID. */
export const notesKind: Kind = {
  name: 'notes',
  format: icalendarFormat,
  contentType: 'text/calendar; charset=utf-8',
  fileExtension: '.ics',
  areTwins,
  faces: { dav: { collection: 'calendar', component: 'VJOURNAL' }, eas: { class: 'Notes', defaultFolderType: 10, userFolderType: 17 } },
};
