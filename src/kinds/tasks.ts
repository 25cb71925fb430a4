import { areTwins } from '../core/twins.js';
import type { Kind } from './kind.js';
import { icalendarFormat } from './vcard-icalendar.js';

/** Tasks: one iCalendar object per item (a VTODO); a twin shares the UID. */
export const tasksKind: Kind = {
  name: 'tasks',
  format: icalendarFormat,
  contentType: 'text/calendar; charset=utf-8',
  fileExtension: '.ics',
  areTwins,
  faces: { dav: { collection: 'calendar', component: 'VTODO' }, eas: { class: 'Tasks', defaultFolderType: 7, userFolderType: 15 } },
};
