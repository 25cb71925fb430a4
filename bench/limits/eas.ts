import { limits } from '../../src/core/limits.js';
import { encodeWbxml, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { addCommand, all, as, cal, collectionOf, contacts, EasClient, has, maybeText, syncBody } from '../../test/support/eas-client.js';
import { hugeDuration } from './icalendar.js';
import { storeBeforeTheRule } from './stored.js';
import { statusCounts, warmUpRequests, type LimitCase, type Target } from './wire.js';

/**
 * ActiveSync cases of the limits bench (WBXML over real HTTP, with the tests' EAS client): an event of
 * a billion weeks sent down to a phone, calendar Adds of a rule that never matches, a large Sync
 * request that each device's memory keeps, and a large `Supported` list that the server stores.
 */

const client = (target: Target, deviceId: string) => new EasClient({ baseUrl: target.url, user: target.user, password: target.password, deviceId });

/** Sync with key 0: the key to go on with. */
async function primed(eas: EasClient, collectionId: string, signal: AbortSignal): Promise<string> {
  const answer = collectionOf(await eas.sync({ collectionId, syncKey: '0' }, { signal }));
  const key = maybeText(answer, 'SyncKey');
  if (!key || key === '0') throw new Error(`priming ${collectionId} failed`);
  return key;
}

async function sendSync(eas: EasClient, body: WbxmlElement | Uint8Array, signal: AbortSignal) {
  const res = await eas.send('Sync', body, { signal });
  // A Sync refused whole (Status 4 past itemsPerRequestMax) has no Collection.
  const collection = res.body && has(res.body, 'Collections/Collection') ? collectionOf(res.body) : undefined;
  return {
    status: res.status,
    easStatus: res.body ? (maybeText(collection, 'Status') ?? maybeText(res.body, 'Status')) : undefined,
    adds: all(collection, 'Commands/Add').length,
  };
}

const note = (r: { status: number; easStatus: string | undefined }) => `HTTP ${r.status}${r.easStatus ? `, Sync Status ${r.easStatus}` : ''}`;

/** MS-ASDTYPE TimeZone for UTC: 172 zero bytes. */
const utcZone = Buffer.alloc(172).toString('base64');

/** The floor for `neverMatchingEvent`: a weekly series of ten Saturdays (MS-ASCMD Recurrence Type 1). */
const plainWeeklyEvent = (i: number) => [
  cal('Timezone', utcZone),
  cal('StartTime', '20260110T100000Z'),
  cal('EndTime', '20260110T110000Z'),
  cal('Subject', `weekly ${i}`),
  cal('Recurrence', cal('Type', '1'), cal('Occurrences', '10'), cal('DayOfWeek', '64')),
];

/**
 * Ordinary events for warming the server up (wire.ts), the shapes of icalendar.ts's ordinaryEvent: weekly,
 * the second Tuesday of each month, every weekday, a yearly date (a birthday), single.
 */
const ordinaryEvent = (i: number) => {
  const recurrence = [
    [cal('Type', '1'), cal('Occurrences', '10'), cal('DayOfWeek', '64')],
    [cal('Type', '3'), cal('Occurrences', '12'), cal('WeekOfMonth', '2'), cal('DayOfWeek', '4')],
    [cal('Type', '1'), cal('Until', '20261231T000000Z'), cal('DayOfWeek', '62')],
    [cal('Type', '5'), cal('MonthOfYear', '3'), cal('DayOfMonth', '1')],
    undefined,
  ][i % 5];
  return [
    cal('Timezone', utcZone),
    cal('StartTime', '20260113T090000Z'),
    cal('EndTime', '20260113T093000Z'),
    cal('Subject', `ordinary ${i}`),
    ...(recurrence ? [cal('Recurrence', ...recurrence)] : []),
  ];
};

/** A yearly series on 30 February (MS-ASCMD Recurrence Type 5): it never has an instance. */
const neverMatchingEvent = (i: number) => [
  cal('Timezone', utcZone),
  cal('StartTime', '20260110T100000Z'),
  cal('EndTime', '20260110T110000Z'),
  cal('Subject', `never ${i}`),
  cal('Recurrence', cal('Type', '5'), cal('MonthOfYear', '2'), cal('DayOfMonth', '30')),
];

const bytesOf = (body: WbxmlElement) => encodeWbxml(body).length;

/** One Sync adding `count` events to the calendar. */
function calendarAdds(name: string, event: (i: number) => WbxmlElement[], count = 1000): LimitCase {
  return {
    face: 'eas',
    case: name,
    async prepare(target) {
      const eas = client(target, 'benchphone');
      const calendar = target.collections.calendar as string;
      let key = await primed(eas, calendar, target.signal);
      for (let round = 0; round < warmUpRequests; round++) {
        const commands = Array.from({ length: limits.itemsPerRequestMax }, (_, i) => addCommand(`o${round}-${i}`, ...ordinaryEvent(i)));
        const answer = collectionOf(await eas.sync({ collectionId: calendar, syncKey: key, getChanges: false, commands }, { signal: target.signal }));
        key = maybeText(answer, 'SyncKey') ?? key;
      }
      const body = syncBody([{ collectionId: calendar, syncKey: key, getChanges: false, commands: Array.from({ length: count }, (_, i) => addCommand(`c${i}`, ...event(i))) }]);
      return { bytes: bytesOf(body), run: async () => [note(await sendSync(eas, body, target.signal))] };
    },
  };
}

export const easCases: LimitCase[] = [
  {
    face: 'eas',
    case: 'DURATION:P1000000000W event sent to a phone',
    async prepare(target) {
      // Every face now refuses the event (dav.ts, native.ts); one stored before that rule is written into the database.
      await storeBeforeTheRule(target, 'duration-eas', hugeDuration('duration-eas'));
      const eas = client(target, 'benchphone');
      const calendar = target.collections.calendar as string;
      let key = await primed(eas, calendar, target.signal);
      for (let round = 0; round < warmUpRequests; round++) {
        const commands = Array.from({ length: limits.itemsPerRequestMax }, (_, i) => addCommand(`o${round}-${i}`, ...ordinaryEvent(i)));
        const answer = collectionOf(await eas.sync({ collectionId: calendar, syncKey: key, getChanges: false, commands }, { signal: target.signal }));
        key = maybeText(answer, 'SyncKey') ?? key;
      }
      const body = syncBody([{ collectionId: calendar, syncKey: key, windowSize: 10 }]);
      return {
        bytes: bytesOf(body),
        async run() {
          const r = await sendSync(eas, body, target.signal);
          return [note(r), `${r.adds} Add${r.adds === 1 ? '' : 's'} sent`];
        },
      };
    },
  },
  calendarAdds('1,000 calendar Adds of a plain weekly event', plainWeeklyEvent),
  { ...calendarAdds('1,000 calendar Adds of a never-matching rule', neverMatchingEvent), floor: '1,000 calendar Adds of a plain weekly event' },
  // The most one Sync may carry (itemsPerRequestMax): the 1,000 above get Status 4 before any is read.
  calendarAdds(`${limits.itemsPerRequestMax} calendar Adds of a plain weekly event, the most a Sync may carry`, plainWeeklyEvent, limits.itemsPerRequestMax),
  calendarAdds(`${limits.itemsPerRequestMax} calendar Adds of a never-matching rule, the most a Sync may carry`, neverMatchingEvent, limits.itemsPerRequestMax),
  {
    face: 'eas',
    case: '400 KB Sync request from each of 10 DeviceIds',
    async prepare(target) {
      // Empty elements are one byte each on the wire; the server keeps the request as a tree (an empty Sync repeats it).
      const collection = as('Collection', as('SyncKey', '0'), as('CollectionId', target.collections.contacts as string));
      // Built in place: spreading 400,000 arguments would overflow the stack.
      for (let i = 0; i < 400 * 1024; i++) collection.children.push(as('DeletesAsMoves'));
      const body = as('Sync', as('Collections', collection));
      const wire = encodeWbxml(body);
      const devices = Array.from({ length: 10 }, (_, i) => client(target, `benchphone${i}`));
      return {
        bytes: wire.length * devices.length,
        requests: devices.length,
        async run() {
          const results = [];
          for (const eas of devices) results.push(await sendSync(eas, wire, target.signal));
          return [statusCounts(results.map(note))];
        },
      };
    },
  },
  {
    face: 'eas',
    case: '800 KB Supported list',
    async prepare(target) {
      const supported = as('Supported');
      // Each property name is one byte on the wire and a string in the stored settings.
      for (let i = 0; i < 800 * 1024; i++) supported.children.push(contacts('FirstName'));
      const body = as('Sync', as('Collections', as('Collection', as('SyncKey', '0'), as('CollectionId', target.collections.contacts as string), supported)));
      const wire = encodeWbxml(body);
      const eas = client(target, 'benchphone');
      return { bytes: wire.length, run: async () => [note(await sendSync(eas, wire, target.signal))] };
    },
  },
];
