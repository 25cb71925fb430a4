import type { CollectionKind } from '../../../protocol/collections.js';
import { calendarMapper } from './calendar.js';
import { contactMapper } from './contact.js';
import { emailMapper } from './email.js';
import type { ItemMapper } from './item-mapper.js';
import { noteMapper } from './note.js';
import { taskMapper } from './task.js';

/** The mapper of each kind this face carries (kinds/kind.ts EasFace), by kind name. */
const mappers: Record<string, ItemMapper | undefined> = {
  contacts: contactMapper,
  events: calendarMapper,
  tasks: taskMapper,
  notes: noteMapper,
  mail: emailMapper,
};

/** The mapper of a collection's kind; only collections this face carries (folders.ts carried) reach here. */
export function mapperFor(kind: CollectionKind): ItemMapper {
  const mapper = mappers[kind];
  if (mapper === undefined) throw new Error(`ActiveSync has no mapper for kind ${kind}`);
  return mapper;
}
