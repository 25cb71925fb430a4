import { protocolVersion } from '../../src/protocol/version.js';
import { encodeXml } from '../../src/protocol/xml.js';
import { hugeDuration, neverMatching, zoneFromYearOne } from './icalendar.js';
import { answered, exchange, type Face, type LimitCase, type Target } from './wire.js';

/**
 * Native protocol cases of the limits bench, in JSON and in XML (docs/protocol.md §11): costly items
 * in a sync request, a schema error over a large invalid body, and deep XML nesting.
 */
export type Encoding = 'json' | 'xml';

const mediaType: Record<Encoding, string> = { json: 'application/json', xml: 'application/xml' };

interface CollectionCall {
  collectionId: string;
  syncKey: number;
  commands?: Array<{ op: 'add'; clientId: string; data: string }>;
  tokens?: Array<{ from: number; to: number }>;
}

export function syncBody(encoding: Encoding, deviceId: string, collections: CollectionCall[]): string {
  const value = { version: protocolVersion, device: { id: deviceId }, collections };
  return encoding === 'json' ? JSON.stringify(value) : encodeXml('sync', value);
}

export function postSync(target: Target, encoding: Encoding, body: string) {
  return exchange(target, 'POST', '/api/v1/sync', { authorization: target.authorization, 'content-type': mediaType[encoding] }, body);
}

/** A device's first sync of a collection (key 0); returns the key to send next. */
export async function firstKey(target: Target, deviceId: string, collectionId: string): Promise<number> {
  const res = await fetch(new URL('/api/v1/sync', target.url), {
    method: 'POST',
    headers: { authorization: target.authorization, 'content-type': 'application/json' },
    body: syncBody('json', deviceId, [{ collectionId, syncKey: 0 }]),
    signal: target.signal,
  });
  const answer = (await res.json()) as { collections?: Array<{ syncKey: number }> };
  const key = answer.collections?.[0]?.syncKey;
  if (res.status !== 200 || !key) throw new Error(`first sync answered ${res.status}: ${JSON.stringify(answer).slice(0, 200)}`);
  return key;
}

const faceOf = (encoding: Encoding): Face => (encoding === 'json' ? 'native-json' : 'native-xml');

/** One sync request adding `items` to the account's calendar. */
function addsCase(encoding: Encoding, name: string, items: (i: number) => string, count = 1): LimitCase {
  return {
    face: faceOf(encoding),
    case: name,
    async prepare(target) {
      const collectionId = target.collections.calendar as string;
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
  addsCase('json', '1,000 adds of a never-matching rule', (i) => neverMatching(`never-${i}`), 1000),
  bodyCase('json', '1 MB invalid collections array', () => invalidCollections('json', MB)),
  bodyCase('xml', '1 MB invalid collections array', () => invalidCollections('xml', MB)),
  bodyCase('json', '12 MB invalid collections array', () => invalidCollections('json', 12 * MB)),
  bodyCase('xml', '1 MB nested elements', () => `<?xml version="1.0" encoding="UTF-8"?><sync>${'<a>'.repeat(Math.floor(MB / 3))}`),
];
