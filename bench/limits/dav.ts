import { hugeDuration, neverMatching, ordinaryEvent, zoneFromYearOne } from './icalendar.js';
import { addAll } from './native.js';
import { answered, exchange, pool, statusCounts, warmUpRequests, type LimitCase, type Target } from './wire.js';

/**
 * CardDAV/CalDAV cases of the limits bench: costly items by PUT, PROPFIND answers that grow with the
 * request times the members, deep XML nesting, and an addressbook-query of many filters.
 */

const contactsCount = 500;

const vcard = (i: number) =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-${i}\r\nFN:Person ${i}\r\nN:${i};Person;;;\r\nEMAIL;TYPE=work:person${i}@example.org\r\nTEL;TYPE=cell:+44 20 7946 ${String(i).padStart(4, '0')}\r\nORG:Company ${i % 97}\r\nNOTE:bench contact\r\nEND:VCARD\r\n`;

/** Fills the account's address book through the native face (setting up is not measured). */
async function fillContacts(target: Target): Promise<void> {
  await addAll(target, 'bench-filler', target.collections.contacts as string, Array.from({ length: contactsCount }, (_, i) => vcard(i)));
}

const home = (target: Target) => `/dav/users/${encodeURIComponent(target.user)}/`;

const put = (target: Target, name: string, body: string) =>
  exchange(target, 'PUT', `${home(target)}calendar/${name}.ics`, { authorization: target.authorization, 'content-type': 'text/calendar; charset=utf-8' }, body);

function putCase(name: string, items: (i: number) => string, count = 1): LimitCase {
  return {
    face: 'dav',
    case: name,
    async prepare(target) {
      for (let i = 0; i < warmUpRequests; i++) await put(target, `ordinary-${i}`, ordinaryEvent(`ordinary-${i}`, i));
      const bodies = Array.from({ length: count }, (_, i) => items(i));
      return {
        bytes: bodies.reduce((sum, b) => sum + Buffer.byteLength(b), 0),
        requests: count,
        async run() {
          const statuses: number[] = [];
          await pool(bodies, 4, async (body, i) => {
            statuses.push((await put(target, `bench-${i}`, body)).status);
          });
          return [statusCounts(statuses)];
        },
      };
    },
  };
}

/** A DAV request with an XML body on the filled address book. */
function contactsXmlCase(name: string, method: string, depth: string, body: () => string): LimitCase {
  return {
    face: 'dav',
    case: name,
    async prepare(target) {
      await fillContacts(target);
      const payload = body();
      return {
        bytes: Buffer.byteLength(payload),
        async run() {
          const res = await exchange(target, method, `${home(target)}contacts/`, { authorization: target.authorization, depth, 'content-type': 'application/xml; charset=utf-8' }, payload);
          return [answered(res), `${contactsCount} contacts`];
        },
      };
    },
  };
}

const KB = 1024;

/** A PROPFIND asking for `count` distinct unknown properties: each member's answer lists them all. */
function manyProps(bytes: number): string {
  const head = '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:x="urn:bench"><d:prop>';
  const tail = '</d:prop></d:propfind>';
  const props: string[] = [];
  for (let i = 0, size = head.length + tail.length; size < bytes; i++) {
    const p = `<x:p${i}/>`;
    props.push(p);
    size += p.length;
  }
  return head + props.join('') + tail;
}

/** A PROPFIND of a few properties in one very long namespace, which every member's answer repeats. */
function longNamespace(bytes: number): string {
  const props = '<x:a/><x:b/><x:c/><x:d/>';
  const head = '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:x="urn:';
  const rest = `"><d:prop>${props}</d:prop></d:propfind>`;
  return head + 'n'.repeat(bytes - head.length - rest.length) + rest;
}

/** An addressbook-query of `count` prop-filters that match no contact, so every one is tried on every contact. */
function manyFilters(count: number): string {
  const filters = Array.from({ length: count }, (_, i) => `<c:prop-filter name="X-BENCH-${i}"><c:text-match>absent ${i}</c:text-match></c:prop-filter>`);
  return `<?xml version="1.0" encoding="utf-8"?><c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><c:filter test="anyof">${filters.join('')}</c:filter></c:addressbook-query>`;
}

/** An addressbook-multiget naming one member again and again, up to `bytes`: each mention answers the whole vCard. */
function repeatedHref(target: Target, name: string, bytes: number): string {
  const head = '<?xml version="1.0" encoding="utf-8"?><c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>';
  const href = `<d:href>${home(target)}contacts/${name}</d:href>`;
  const tail = '</c:addressbook-multiget>';
  return head + href.repeat(Math.floor((bytes - head.length - tail.length) / href.length)) + tail;
}

export const davCases: LimitCase[] = [
  putCase('PUT DURATION:P1000000000W event', (i) => hugeDuration(`duration-${i}`)),
  putCase('PUT VTIMEZONE RRULE from year 1, daily', (i) => zoneFromYearOne(`zone-${i}`, 'DAILY')),
  putCase('PUT VTIMEZONE RRULE from year 1, hourly', (i) => zoneFromYearOne(`zone-${i}`, 'HOURLY')),
  putCase('1,000 PUTs of a never-matching rule', (i) => neverMatching(`never-${i}`), 1000),
  contactsXmlCase('PROPFIND 429 KB of properties, Depth 1', 'PROPFIND', '1', () => manyProps(429 * KB)),
  contactsXmlCase('PROPFIND with a 112 KB namespace, Depth 1', 'PROPFIND', '1', () => longNamespace(112 * KB)),
  contactsXmlCase('PROPFIND of 64 KB nested elements', 'PROPFIND', '0', () => `<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:">${'<a>'.repeat((64 * KB) / 3)}`),
  contactsXmlCase('addressbook-query of 2,000 prop-filters', 'REPORT', '1', () => manyFilters(2000)),
  {
    face: 'dav',
    case: 'addressbook-multiget of one href repeated over 1 MB',
    async prepare(target) {
      const put = await exchange(target, 'PUT', `${home(target)}contacts/multiget.vcf`, { authorization: target.authorization, 'content-type': 'text/vcard' }, vcard(1));
      if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.head}`);
      const payload = repeatedHref(target, 'multiget.vcf', 1024 * KB);
      return {
        bytes: Buffer.byteLength(payload),
        async run() {
          return [answered(await exchange(target, 'REPORT', `${home(target)}contacts/`, { authorization: target.authorization, depth: '1', 'content-type': 'application/xml; charset=utf-8' }, payload))];
        },
      };
    },
  },
];
