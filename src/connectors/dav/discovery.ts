import type { CollectionKind } from '../../protocol/collections.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';
import { ns } from '../../protocol/dav-xml.js';
import { descendants, propKey, type MemberResponse } from './multistatus.js';
import { propfind, sameResource } from './propfind.js';
import type { Transport } from './transport.js';

/**
 * Finding an account's address books and calendars from a URL and credentials (docs/architecture.md §
 * Connectors): the URL itself, or the well-known URLs of RFC 6764 §5 (tried first when the URL names
 * no path), for `current-user-principal` (RFC 5397); the principal's `addressbook-home-set` (RFC 6352
 * §7.1.1) and `calendar-home-set` (RFC 4791 §6.2.1); then each home's members, with what a caller needs
 * to map each to a Syncpoint collection.
 */

export interface UpstreamCollection {
  /** Absolute URL of the collection, ending in '/'. */
  url: string;
  type: 'addressbook' | 'calendar';
  displayName?: string;
  /** The calendar components it takes (supported-calendar-component-set); empty when the server does not say, which means any (RFC 4791 §5.2.3). */
  components: string[];
  /** The Syncpoint kinds it can feed: contacts for an address book; events, tasks, notes for a calendar's VEVENT, VTODO, VJOURNAL. */
  kinds: CollectionKind[];
  /** CalendarServer's getctag, and the RFC 6578 sync-token: both change whenever a member does. */
  ctag?: string;
  syncToken?: string;
  /** Whether it names the sync-collection REPORT among its supported reports (else: pull by etag listing). */
  syncCollection: boolean;
}

export interface Discovery {
  /** The principal's URL; the URL given when the server has no current-user-principal. */
  principal: string;
  homes: { addressbook: string[]; calendar: string[] };
  collections: UpstreamCollection[];
}

/** Statuses a URL that is not a DAV resource may answer a PROPFIND with: the next candidate is tried. */
const notHere = [400, 403, 404, 405, 501] as const;

const collectionProps = [
  [ns.dav, 'displayname'],
  [ns.dav, 'resourcetype'],
  [ns.caldav, 'supported-calendar-component-set'],
  [ns.cs, 'getctag'],
  [ns.dav, 'sync-token'],
  [ns.dav, 'supported-report-set'],
] as const;

export async function discover(t: Transport, url: string): Promise<Discovery> {
  const given = new URL(url);
  const wellKnown = ['carddav', 'caldav'].map((service) => new URL(`/.well-known/${service}`, given).href);
  const candidates = given.pathname === '/' ? [...wellKnown, given.href] : [given.href, ...wellKnown];
  let principal: string | undefined;
  for (const candidate of candidates) {
    const { responses } = await propfind(t, candidate, 0, [[ns.dav, 'current-user-principal']], notHere).catch((err: unknown) => {
      // A candidate that answers something other than a multistatus (a web page) is not the one.
      if (err instanceof UpstreamError && err.reason === 'protocol' && err.details.status === undefined) return { responses: [] };
      throw err;
    });
    const href = hrefsIn(responses[0], ns.dav, 'current-user-principal')[0];
    if (href !== undefined) {
      principal = href;
      break;
    }
  }
  principal ??= given.href;

  const { responses } = await propfind(t, principal, 0, [
    [ns.carddav, 'addressbook-home-set'],
    [ns.caldav, 'calendar-home-set'],
  ]);
  const home = (namespace: string, name: string) => hrefsIn(responses[0], namespace, name);
  const homes = { addressbook: home(ns.carddav, 'addressbook-home-set'), calendar: home(ns.caldav, 'calendar-home-set') };
  // A server without home sets (or a URL that names a home, or one collection) is listed where it was given.
  const listed = homes.addressbook.length + homes.calendar.length === 0 ? [principal] : [...homes.addressbook, ...homes.calendar];

  const collections: UpstreamCollection[] = [];
  for (const at of listed) {
    if (listed.indexOf(at) !== listed.findIndex((other) => sameResource(other, at))) continue;
    const { responses: members } = await propfind(t, at, 1, collectionProps);
    for (const member of members) {
      const collection = describe(member);
      if (collection && !collections.some((c) => sameResource(c.url, collection.url))) collections.push(collection);
    }
  }
  return { principal, homes, collections };
}

/** What a home's member is, if it is an address book or a calendar. */
function describe(r: MemberResponse): UpstreamCollection | undefined {
  const types = r.props.get(propKey(ns.dav, 'resourcetype'))?.children ?? [];
  const type = types.some((c) => c.ns === ns.carddav && c.name === 'addressbook') ? 'addressbook' : types.some((c) => c.ns === ns.caldav && c.name === 'calendar') ? 'calendar' : undefined;
  if (type === undefined) return undefined;
  const prop = (namespace: string, name: string) => r.props.get(propKey(namespace, name))?.text.trim() || undefined;
  const compSet = r.props.get(propKey(ns.caldav, 'supported-calendar-component-set'));
  const components = type === 'calendar' && compSet ? compSet.children.filter((c) => c.ns === ns.caldav && c.name === 'comp').map((c) => (c.attrs.name ?? '').toUpperCase()) : [];
  const reports = r.props.get(propKey(ns.dav, 'supported-report-set'));
  const out: UpstreamCollection = {
    url: r.href.endsWith('/') ? r.href : `${r.href}/`,
    type,
    components,
    kinds: type === 'addressbook' ? ['contacts'] : kindsOf(components),
    syncCollection: reports !== undefined && descendants(reports, ns.dav, 'sync-collection').length > 0,
  };
  const displayName = prop(ns.dav, 'displayname');
  const ctag = prop(ns.cs, 'getctag');
  const syncToken = prop(ns.dav, 'sync-token');
  if (displayName !== undefined) out.displayName = displayName;
  if (ctag !== undefined) out.ctag = ctag;
  if (syncToken !== undefined) out.syncToken = syncToken;
  return out;
}

const componentKinds: ReadonlyArray<readonly [string, CollectionKind]> = [
  ['VEVENT', 'events'],
  ['VTODO', 'tasks'],
  ['VJOURNAL', 'notes'],
];

/** A calendar that does not say which components it takes is offered for events and tasks, as Syncpoint's own DAV face makes one (docs/dav.md). */
function kindsOf(components: readonly string[]): CollectionKind[] {
  if (components.length === 0) return ['events', 'tasks'];
  return componentKinds.filter(([c]) => components.includes(c)).map(([, kind]) => kind);
}

/** The `<href>`s inside a found property, resolved against the response's own URL. */
function hrefsIn(r: MemberResponse | undefined, namespace: string, name: string): string[] {
  const prop = r?.props.get(propKey(namespace, name));
  if (!r || !prop) return [];
  return prop.children.filter((c) => c.ns === ns.dav && c.name === 'href' && c.text.trim() !== '').map((c) => new URL(c.text.trim(), r.href).href);
}
