import assert from 'node:assert/strict';
import ICAL from 'ical.js';

/**
 * CalDAV as a plain client speaks it, for end-to-end tests that edit an item on the DAV side of another
 * face: list a calendar's objects (PROPFIND Depth 1, then GET), create one, replace one with If-Match, and expand a
 * series with the object's own VTIMEZONEs.
 */

export interface CalendarObject {
  path: string;
  etag: string;
  ics: string;
}

export interface DavUser {
  accountName: string;
  authorization: string;
}

async function request(baseUrl: string, user: DavUser, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: user.authorization, ...headers }, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
}

/** Every object of the calendar collection `name`, with its ETag and text. */
export async function calendarObjects(baseUrl: string, user: DavUser, name = 'calendar'): Promise<CalendarObject[]> {
  const collection = `/dav/users/${user.accountName}/${name}/`;
  const listing = await request(baseUrl, user, 'PROPFIND', collection,
    '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
    { depth: '1', 'content-type': 'application/xml; charset=utf-8' });
  assert.equal(listing.status, 207, listing.text);
  const hrefs = [...listing.text.matchAll(/<(?:\w+:)?href>([^<]+)<\/(?:\w+:)?href>/g)].map((m) => m[1] as string).filter((h) => h !== collection);
  const out: CalendarObject[] = [];
  for (const path of hrefs) {
    const res = await request(baseUrl, user, 'GET', path);
    assert.equal(res.status, 200, `GET ${path}: ${res.text}`);
    assert.ok(res.etag, `GET ${path} has an ETag`);
    out.push({ path, etag: res.etag, ics: res.text });
  }
  return out;
}

/** Replaces an object the way a client saves an edit: PUT with If-Match on the ETag it read. */
export async function putCalendarObject(baseUrl: string, user: DavUser, object: CalendarObject, ics: string): Promise<void> {
  const res = await request(baseUrl, user, 'PUT', object.path, ics, { 'if-match': object.etag, 'content-type': 'text/calendar; charset=utf-8' });
  assert.ok(res.status === 200 || res.status === 204, `PUT ${object.path}: ${res.status} ${res.text}`);
}

/** Creates an object named `resource` in the calendar collection `name` (PUT with If-None-Match: *). */
export async function createCalendarObject(baseUrl: string, user: DavUser, resource: string, ics: string, name = 'calendar'): Promise<void> {
  const path = `/dav/users/${user.accountName}/${name}/${resource}`;
  const res = await request(baseUrl, user, 'PUT', path, ics, { 'if-none-match': '*', 'content-type': 'text/calendar; charset=utf-8' });
  assert.equal(res.status, 201, `PUT ${path}: ${res.status} ${res.text}`);
}

/** The series of a one-VEVENT object: DTSTART's TZID, SUMMARY, and each occurrence's start (epoch ms). */
export function seriesOf(ics: string, max = 100): { tzid: string; summary: string; starts: number[] } {
  const calendar = new ICAL.Component(ICAL.parse(ics) as unknown as unknown[]);
  const zones = calendar.getAllSubcomponents('vtimezone');
  for (const v of zones) ICAL.TimezoneService.register(v);
  try {
    const vevents = calendar.getAllSubcomponents('vevent');
    assert.equal(vevents.length, 1, ics);
    const event = new ICAL.Event(vevents[0] as ICAL.Component);
    const tzid = String(event.component.getFirstProperty('dtstart')?.getParameter('tzid') ?? '');
    const starts: number[] = [];
    const it = event.iterator();
    for (let next = it.next(); next && starts.length < max; next = it.next()) starts.push(next.toUnixTime() * 1000);
    return { tzid, summary: event.summary, starts };
  } finally {
    for (const v of zones) ICAL.TimezoneService.remove(String(v.getFirstPropertyValue('tzid')));
  }
}
