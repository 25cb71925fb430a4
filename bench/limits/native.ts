import { limits } from '../../src/core/limits.js';
import { protocolVersion } from '../../src/protocol/version.js';
import { encodeXml } from '../../src/protocol/xml.js';
import { hugeDuration, neverMatching, ordinaryEvent, plainWeekly, zoneFromYearOne } from './icalendar.js';
import { storeBeforeTheRule } from './stored.js';
import { answered, exchange, warmUpRequests, type Face, type LimitCase, type Target } from './wire.js';

/**
 * Native protocol cases of the limits bench, in JSON and in XML (docs/protocol.md §11): costly items
 * in a sync request, a schema error over a large invalid body, and deep XML nesting.
 */
export type Encoding = 'json' | 'xml';

const mediaType: Record<Encoding, string> = { json: 'application/json', xml: 'application/xml' };

interface CollectionCall {
  collectionId: string;
  syncKey: number;
  windowSize?: number;
  commands?: Array<{ op: 'add'; clientId: string; data: string } | { op: 'fetch'; serverId: string }>;
  tokens?: Array<{ from: number; to: number }>;
}

export function syncBody(encoding: Encoding, deviceId: string, collections: CollectionCall[]): string {
  const value = { version: protocolVersion, device: { id: deviceId }, collections };
  return encoding === 'json' ? JSON.stringify(value) : encodeXml('sync', value);
}

export function postSync(target: Target, encoding: Encoding, body: string) {
  return exchange(target, 'POST', '/api/v1/sync', { authorization: target.authorization, 'content-type': mediaType[encoding] }, body);
}

interface CollectionAnswer {
  syncKey: number;
  results: Array<{ status: string; serverId?: string }>;
}

/** One sync of one collection during a case's preparation, answered in full. */
export async function syncOnce(target: Target, deviceId: string, call: CollectionCall): Promise<CollectionAnswer> {
  const res = await fetch(new URL('/api/v1/sync', target.url), {
    method: 'POST',
    headers: { authorization: target.authorization, 'content-type': 'application/json' },
    body: syncBody('json', deviceId, [call]),
    signal: target.signal,
  });
  const answer = (await res.json()) as { collections?: CollectionAnswer[] };
  const collection = answer.collections?.[0];
  if (res.status !== 200 || !collection?.syncKey) throw new Error(`sync answered ${res.status}: ${JSON.stringify(answer).slice(0, 200)}`);
  return collection;
}

/**
 * Adds these items from one device during a case's preparation, in as many syncs as the server's
 * `itemsPerRequestMax` needs (preparation is not measured); returns the key to send next.
 */
export async function addAll(target: Target, deviceId: string, collectionId: string, items: string[]): Promise<number> {
  let syncKey = await firstKey(target, deviceId, collectionId);
  for (let start = 0; start < items.length; start += limits.itemsPerRequestMax) {
    const commands = items.slice(start, start + limits.itemsPerRequestMax).map((data, i) => ({ op: 'add' as const, clientId: `c${start + i}`, data }));
    ({ syncKey } = await syncOnce(target, deviceId, { collectionId, syncKey, commands }));
  }
  return syncKey;
}

/** A device's first sync of a collection (key 0); returns the key to send next. */
export async function firstKey(target: Target, deviceId: string, collectionId: string): Promise<number> {
  return (await syncOnce(target, deviceId, { collectionId, syncKey: 0 })).syncKey;
}

/** A contact of about 1,000,000 bytes: a long NOTE folded into short lines. */
function largeContact(n = 1): string {
  const line = 'x'.repeat(73);
  return `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:large-${n}\r\nFN:Large Person\r\nN:Person;Large;;;\r\nNOTE:${Array.from({ length: 13_000 }, () => line).join('\r\n ')}\r\nEND:VCARD\r\n`;
}

/** Stores one large contact, then asks for it with as many fetch commands as a request may carry. */
function fetchesCase(encoding: Encoding): LimitCase {
  return {
    face: faceOf(encoding),
    case: '1,000 fetches of one 1 MB contact',
    async prepare(target) {
      const collectionId = target.collections.contacts as string;
      const stored = await syncOnce(target, 'bench-native', { collectionId, syncKey: await firstKey(target, 'bench-native', collectionId), commands: [{ op: 'add', clientId: 'large', data: largeContact() }] });
      const serverId = stored.results[0]?.serverId;
      if (!serverId) throw new Error(`storing the contact failed: ${JSON.stringify(stored.results)}`);
      const commands = Array.from({ length: 1000 }, () => ({ op: 'fetch' as const, serverId }));
      const body = syncBody(encoding, 'bench-native', [{ collectionId, syncKey: stored.syncKey, commands }]);
      return { bytes: Buffer.byteLength(body), run: async () => [answered(await postSync(target, encoding, body))] };
    },
  };
}

/** Stores 40 large contacts (40 MB), then a new device's initial sync asks for all of them in one window. */
function windowCase(encoding: Encoding): LimitCase {
  return {
    face: faceOf(encoding),
    case: 'initial sync window of 40 1 MB contacts',
    async prepare(target) {
      const collectionId = target.collections.contacts as string;
      let syncKey = await firstKey(target, 'bench-window-writer', collectionId);
      for (let start = 0; start < 40; start += 10) {
        const commands = Array.from({ length: 10 }, (_, i) => ({ op: 'add' as const, clientId: `w${start + i}`, data: largeContact(100 + start + i) }));
        ({ syncKey } = await syncOnce(target, 'bench-window-writer', { collectionId, syncKey, commands }));
      }
      const body = syncBody(encoding, 'bench-window-reader', [{ collectionId, syncKey: 0, windowSize: 1000 }]);
      return { bytes: Buffer.byteLength(body), run: async () => [answered(await postSync(target, encoding, body))] };
    },
  };
}

const faceOf = (encoding: Encoding): Face => (encoding === 'json' ? 'native-json' : 'native-xml');

/** One sync request adding `items` to the account's calendar. */
function addsCase(encoding: Encoding, name: string, items: (i: number) => string, count = 1): LimitCase {
  return {
    face: faceOf(encoding),
    case: name,
    async prepare(target) {
      const collectionId = target.collections.calendar as string;
      const ordinary = Array.from({ length: warmUpRequests * limits.itemsPerRequestMax }, (_, i) => ordinaryEvent(`ordinary-${i}`, i));
      await addAll(target, 'bench-warm-up', collectionId, ordinary);
      const syncKey = await firstKey(target, 'bench-native', collectionId);
      const commands = Array.from({ length: count }, (_, i) => ({ op: 'add' as const, clientId: `c${i}`, data: items(i) }));
      const body = syncBody(encoding, 'bench-native', [{ collectionId, syncKey, commands }]);
      return { bytes: Buffer.byteLength(body), run: async () => [answered(await postSync(target, encoding, body))] };
    },
  };
}

/** A sync request whose `collections` are `count` empty (invalid) entries: every one is a schema error. */
export function invalidCollections(encoding: Encoding, bytes: number): string {
  if (encoding === 'json') {
    const head = `{"version":${protocolVersion},"device":{"id":"bench"},"collections":[`;
    const count = Math.floor((bytes - head.length - 2) / 3);
    return `${head}${'{},'.repeat(count - 1)}{}]}`;
  }
  const head = `<?xml version="1.0" encoding="UTF-8"?><sync><version>${protocolVersion}</version><device><id>bench</id></device>`;
  return `${head}${'<collections/>'.repeat(Math.floor((bytes - head.length - 7) / 14))}</sync>`;
}

/** An event every face now refuses, stored before that rule (stored.ts); a new device's initial sync then downloads it. */
function storedCase(encoding: Encoding, name: string, data: string): LimitCase {
  return {
    face: faceOf(encoding),
    case: name,
    async prepare(target) {
      await storeBeforeTheRule(target, 'stored-duration', data);
      const body = syncBody(encoding, 'bench-stored-reader', [{ collectionId: target.collections.calendar as string, syncKey: 0, windowSize: 100 }]);
      return { bytes: Buffer.byteLength(body), run: async () => [answered(await postSync(target, encoding, body))] };
    },
  };
}

function bodyCase(encoding: Encoding, name: string, body: () => string): LimitCase {
  return {
    face: faceOf(encoding),
    case: name,
    async prepare(target) {
      const payload = body();
      return { bytes: Buffer.byteLength(payload), run: async () => [answered(await postSync(target, encoding, payload))] };
    },
  };
}

const MB = 1024 * 1024;

export const nativeCases: LimitCase[] = [
  addsCase('json', 'DURATION:P1000000000W event', (i) => hugeDuration(`duration-${i}`)),
  addsCase('xml', 'DURATION:P1000000000W event', (i) => hugeDuration(`duration-${i}`)),
  addsCase('json', 'VTIMEZONE RRULE from year 1, daily', (i) => zoneFromYearOne(`zone-${i}`, 'DAILY')),
  addsCase('xml', 'VTIMEZONE RRULE from year 1, daily', (i) => zoneFromYearOne(`zone-${i}`, 'DAILY')),
  addsCase('json', 'VTIMEZONE RRULE from year 1, hourly', (i) => zoneFromYearOne(`zone-${i}`, 'HOURLY')),
  addsCase('json', '1,000 adds of a plain weekly event', (i) => plainWeekly(`weekly-${i}`), 1000),
  { ...addsCase('json', '1,000 adds of a never-matching rule', (i) => neverMatching(`never-${i}`), 1000), floor: '1,000 adds of a plain weekly event' },
  // The most one request may carry (itemsPerRequestMax): the 1,000 above are refused before any is read.
  addsCase('json', `${limits.itemsPerRequestMax} adds of a plain weekly event, the most a request may carry`, (i) => plainWeekly(`weekly-${i}`), limits.itemsPerRequestMax),
  addsCase('json', `${limits.itemsPerRequestMax} adds of a never-matching rule, the most a request may carry`, (i) => neverMatching(`never-${i}`), limits.itemsPerRequestMax),
  storedCase('json', 'stored DURATION:P1000000000W event sent to a device', hugeDuration('stored-duration')),
  bodyCase('json', '1 MB invalid collections array', () => invalidCollections('json', MB)),
  bodyCase('xml', '1 MB invalid collections array', () => invalidCollections('xml', MB)),
  bodyCase('json', '12 MB invalid collections array', () => invalidCollections('json', 12 * MB)),
  fetchesCase('json'),
  windowCase('json'),
  windowCase('xml'),
  bodyCase('xml', '1 MB nested elements', () => `<?xml version="1.0" encoding="UTF-8"?><sync>${'<a>'.repeat(Math.floor(MB / 3))}`),
];
