import { limits } from '../../core/limits.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';
import { ns } from '../../protocol/dav-xml.js';
import { document, el, propKey, text } from './multistatus.js';
import { readMultistatus, resourceKey, xmlContentType } from './propfind.js';
import type { Transport } from './transport.js';

/**
 * Fetching members' data with addressbook-multiget (RFC 6352 §8.7) or calendar-multiget (RFC 4791 §7.9),
 * limits.upstreamMultigetHrefsMax hrefs a request. A batch whose answer passes the byte bound is split
 * in two and asked again, so one giant member fails alone (`tooLarge`) and the rest arrive.
 */

export interface FetchedMember {
  href: string;
  etag?: string;
  /** The vCard or iCalendar text, with CRLF line ends (XML turns a raw CRLF into LF; RFC 6350 §3.2 and RFC 5545 §3.1 want CRLF). */
  data: string;
}

export interface FetchBatch {
  members: FetchedMember[];
  /** Asked for, not there (deleted since it was listed). */
  missing: string[];
  /** Alone in a request, still past limits.upstreamResponseBytesMax. */
  tooLarge: string[];
}

export async function* fetchMembers(t: Transport, collectionUrl: string, type: 'addressbook' | 'calendar', hrefs: readonly string[]): AsyncGenerator<FetchBatch> {
  const queue: string[][] = [];
  for (let i = 0; i < hrefs.length; i += limits.upstreamMultigetHrefsMax) queue.push(hrefs.slice(i, i + limits.upstreamMultigetHrefsMax));
  while (queue.length > 0) {
    const batch = queue.shift() as string[];
    try {
      yield await multiget(t, collectionUrl, type, batch);
    } catch (err) {
      if (!(err instanceof UpstreamError && err.reason === 'too-large')) throw err;
      if (batch.length === 1) yield { members: [], missing: [], tooLarge: batch };
      else queue.unshift(batch.slice(0, batch.length / 2), batch.slice(batch.length / 2));
    }
  }
}

async function multiget(t: Transport, collectionUrl: string, type: 'addressbook' | 'calendar', hrefs: readonly string[]): Promise<FetchBatch> {
  const [namespace, report, dataProp] = type === 'addressbook' ? [ns.carddav, 'addressbook-multiget', 'address-data'] : [ns.caldav, 'calendar-multiget', 'calendar-data'];
  const body = document(el(namespace, report, el(ns.dav, 'prop', el(ns.dav, 'getetag') + el(namespace, dataProp)) + hrefs.map((h) => el(ns.dav, 'href', text(new URL(h).pathname))).join('')));
  const answer = await t.open({ method: 'REPORT', url: collectionUrl, headers: { depth: '1', 'content-type': xmlContentType }, body });
  const found = new Map<string, FetchedMember>();
  await readMultistatus(answer, (r) => {
    const data = r.props.get(propKey(namespace, dataProp))?.text;
    if (data === undefined || data.trim() === '') return;
    const etag = r.props.get(propKey(ns.dav, 'getetag'))?.text.trim();
    found.set(resourceKey(r.href), { href: r.href, data: data.replace(/\r?\n/g, '\r\n'), ...(etag ? { etag } : {}) });
  });
  const members: FetchedMember[] = [];
  const missing: string[] = [];
  for (const href of hrefs) {
    // The answer's href may be encoded otherwise than ours: matched as the same resource, returned as asked.
    const member = found.get(resourceKey(href));
    if (member) members.push({ ...member, href });
    else missing.push(href);
  }
  return { members, missing, tooLarge: [] };
}
