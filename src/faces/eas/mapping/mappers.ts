import type { CollectionKind } from '../../../protocol/collections.js';
import { calendarMapper } from './calendar.js';
import { contactMapper } from './contact.js';
import type { ItemMapper } from './item-mapper.js';
import { noteMapper } from './note.js';
import { taskMapper } from './task.js';

export const mapperFor: Record<CollectionKind, ItemMapper> = {
  contacts: contactMapper,
  events: calendarMapper,
  tasks: taskMapper,
  notes: noteMapper,
};
