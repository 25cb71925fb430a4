import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits } from '../../core/limits.js';
import type { Checkpoint } from '../../core/sync-key.js';
import type { CollectionView, Hub } from '../../hub/hub.js';
import { ResourceError, type Member, type Resource, type ResourceClient } from '../../hub/resources.js';
import type { CollectionKind } from '../../protocol/collections.js';
import { ProtocolError } from '../../protocol/errors.js';
import { nameProblem, withoutControls } from '../../protocol/names.js';
import { escapeText, parseXml, XmlDecodeError, type XmlElement } from '../../protocol/xml.js';
import type { CollectionRow } from '../../hub/records.js';
import { findKind, kindOf } from '../../kinds/registry.js';
import type { Principal } from '../../http/principal.js';
import { readBody } from '../../http/body.js';
import { readCalendarData, type CalendarDataTransform } from './calendar-data.js';
import { deleteCollection } from './collection-delete.js';
import { FilterError, indexedRange, matchesCalendar, matchesCard, readCalendarQuery, readCardQuery } from './filters.js';
import { FreeBusy } from './free-busy.js';
import { allowedMethods, allowHeader } from './methods.js';
import { ReadBudget, readTimeRange } from './time-range.js';
import { element, ns, type PropName } from '../../protocol/dav-xml.js';
import { dav, errorBody, href, hrefAsSent, Multistatus, propstat, responseTemplate, statusResponse, xmlDocument } from './multistatus.js';
import { MultistatusStream } from './multistatus-stream.js';

/**
 * CardDAV and CalDAV (RFC 4918, 6352, 4791, 6578, 6764). The layout:
 *   /.well-known/carddav, /.well-known/caldav   -> redirect to /dav/
 *   /dav/                                       the root: names the current user's principal
 *   /dav/principals/USER/                       the principal: names the home
 *   /dav/users/USER/                            the home: one member per collection of the account
 *   /dav/users/USER/COLLECTION/                 an address book (contacts) or a calendar (events, tasks, notes)
 *   /dav/users/USER/COLLECTION/NAME             one vCard or iCalendar object
 * Every DAV client is a sync point of the hub (one per app password), so its writes reach every
 * other device and theirs reach it through the collection's change sequence.
 */
export const davPrefix = '/dav/';
export const wellKnown = ['/.well-known/carddav', '/.well-known/caldav'];

type Target =
  /** `at`: the server's own root, where clients given only the server's address send their first PROPFIND. */
  | { kind: 'root'; at?: '/' }
  | { kind: 'principals' }
  | { kind: 'principal'; user: string }
  | { kind: 'home'; user: string }
  | { kind: 'collection'; user: string; collection: string }
  | { kind: 'item'; user: string; collection: string; name: string };

const homeOf = (user: string) => `/dav/users/${user}/`;
const principalOf = (user: string) => `/dav/principals/${user}/`;

/** The path a target names, of decoded names (multistatus.ts href encodes it). */
function pathOf(target: Target): string {
  switch (target.kind) {
    case 'root':
      return target.at ?? davPrefix;
    case 'principals':
      return '/dav/principals/';
    case 'principal':
      return principalOf(target.user);
    case 'home':
      return homeOf(target.user);
    case 'collection':
      return `${homeOf(target.user)}${target.collection}/`;
    case 'item':
      return `${homeOf(target.user)}${target.collection}/${target.name}`;
  }
}

/** What a request path names. Each segment is percent-decoded here and nowhere else (docs/dav.md § Names in URLs). */
function parseTarget(path: string): Target | undefined {
  if (path === '/') return { kind: 'root', at: '/' };
  const parts = path.slice(davPrefix.length).split('/').map(decodeSegment);
  if (parts.some((p) => p === undefined)) return undefined;
  const [a, b, c, d] = parts as string[];
  if (parts.length === 1 && a === '') return { kind: 'root' };
  if (a === 'principals' && (b === '' || b === undefined) && parts.length <= 2) return { kind: 'principals' };
  if (a === 'principals' && b && (c === '' || c === undefined) && parts.length <= 3) return { kind: 'principal', user: b };
  if (a !== 'users' || !b) return undefined;
  if ((c === '' || c === undefined) && parts.length <= 3) return { kind: 'home', user: b };
  if (c && (d === '' || d === undefined) && parts.length <= 4) return { kind: 'collection', user: b, collection: c };
  if (c && d && parts.length === 4) return { kind: 'item', user: b, collection: c, name: d };
  return undefined;
}

function decodeSegment(segment: string): string | undefined {
  try {
    const decoded = decodeURIComponent(segment);
    return decoded.includes('/') || decoded === '.' || decoded === '..' || decoded.length > limits.clientIdCharsMax ? undefined : decoded;
  } catch {
    return undefined;
  }
}

class DavError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly condition?: PropName,
  ) {
    super(message);
  }
}

interface Request {
  hub: Hub;
  principal: Principal;
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
}

export async function handleDav(hub: Hub, principal: Principal, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const r: Request = { hub, principal, req, res, path };
  const target = parseTarget(path);
  try {
    // Another account's paths are indistinguishable from paths that do not exist.
    if (!target || ('user' in target && target.user !== principal.accountName)) throw new DavError(404, 'not found');
    const method = req.method ?? '';
    // Only a collection's methods depend on whether it exists: a path that names none can only be made.
    const exists = target.kind !== 'collection' || (await servedCollection(r, target.collection)) !== undefined;
    const allowed = allowedMethods(target.kind, exists);
    if (method === 'OPTIONS') return options(r, allowed);
    if (!allowed.includes(method)) throw exists ? new DavError(405, `${method} is not allowed here`) : new DavError(404, 'no such collection');
    switch (method) {
      case 'PROPFIND':
        return await propfind(r, target);
      case 'REPORT':
        return await report(r, target);
      case 'GET':
      case 'HEAD':
        return await get(r, target);
      case 'PUT':
        return await put(r, target);
      case 'DELETE':
        return await remove(r, target);
      case 'MKCOL':
      case 'MKCALENDAR':
        return await mkcol(r, target);
      case 'PROPPATCH':
        return await proppatch(r, target);
    }
  } catch (err) {
    // A streamed answer that fails midway can only be cut short (the server shell logs it and closes the
    // connection): the client sees an incomplete body, never a whole one.
    if (res.headersSent) throw err;
    // A 405 names the methods that would work (RFC 9110 §15.5.6).
    if (err instanceof DavError && err.status === 405 && target) r.res.setHeader('allow', allowHeader(allowedMethods(target.kind)));
    if (err instanceof ResourceError) return sendError(r, resourceErrorToDav(err));
    if (err instanceof ProtocolError) return sendError(r, new DavError(err.status === 'bodyTooLarge' ? 413 : 400, err.message));
    if (err instanceof XmlDecodeError) return sendError(r, new DavError(400, err.message));
    if (err instanceof FilterError) return sendError(r, new DavError(403, err.message, { ns: err.namespace, name: err.condition }));
    if (err instanceof DavError) return sendError(r, err);
    throw err;
  }
}

export function wellKnownRedirect(res: ServerResponse): void {
  // 301 works for PROPFIND too: clients re-issue the same method at the new location.
  res.writeHead(301, { location: davPrefix, 'content-length': 0 });
  res.end();
}

function options({ res, req }: Request, allowed: string[]): void {
  req.resume();
  res.writeHead(200, {
    dav: '1, 3, addressbook, calendar-access, extended-mkcol, sync-collection',
    allow: allowHeader(allowed),
    'content-length': 0,
  });
  res.end();
}

function sendError({ req, res }: Request, err: DavError): void {
  req.resume();
  const body = err.condition ? errorBody(err.condition, err.message) : err.message;
  res.writeHead(err.status, { 'content-type': err.condition ? 'application/xml; charset=utf-8' : 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendMultistatus({ res }: Request, xml: string): void {
  res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

function resourceErrorToDav(err: ResourceError): DavError {
  switch (err.reason) {
    case 'notFound':
      return new DavError(404, err.message);
    case 'noCollection':
      return new DavError(409, err.message);
    case 'preconditionFailed':
      return new DavError(412, err.message);
    case 'itemTooLarge':
      return new DavError(413, err.message);
    default:
      // Content errors are answered by put(), which knows the collection's protocol.
      return new DavError(403, err.message);
  }
}

/** The condition element for invalid content differs between CardDAV and CalDAV. */
function contentCondition(kind: CollectionKind, reason: ResourceError['reason']): PropName {
  if (kind === 'contacts') return { ns: ns.carddav, name: reason === 'uidConflict' ? 'no-uid-conflict' : reason === 'wrongKind' ? 'supported-address-data' : 'valid-address-data' };
  if (reason === 'uidConflict') return { ns: ns.caldav, name: 'no-uid-conflict' };
  return { ns: ns.caldav, name: reason === 'wrongKind' ? 'supported-calendar-component' : 'valid-calendar-data' };
}

/** The collection a DAV path names, if it is served. A calendar's tasks collection is served as part of the calendar, not on its own (docs/dav.md § Calendars made without a component set). */
async function servedCollection(r: Request, name: string): Promise<CollectionRow | undefined> {
  const found = await r.hub.accounts.findCollection(r.principal.accountId, name);
  return found && isServed(found) ? found : undefined;
}

/** Whether this face serves a collection on its own: one of a kind with a DAV face (kinds/kind.ts DavFace), not a calendar's tasks part. */
const isServed = (c: CollectionRow) => c.calendarId === null && findKind(c.kind)?.faces.dav !== undefined;

async function collectionByName(r: Request, name: string): Promise<CollectionRow> {
  const found = await servedCollection(r, name);
  if (!found) throw new DavError(404, 'no such collection');
  return found;
}

function clientOf(r: Request, kind: CollectionKind): ResourceClient {
  const agent = withoutControls(String(r.req.headers['user-agent'] ?? 'DAV client')).slice(0, 200) || 'DAV client';
  // One sync point per app password; clients that use the account password share one.
  return { accountId: r.principal.accountId, device: { id: `dav-${r.principal.tokenId ?? 'password'}`, name: agent, tokenId: r.principal.tokenId }, protocol: kind === 'contacts' ? 'carddav' : 'caldav' };
}

const collectionPath = (user: string, c: CollectionRow) => `${homeOf(user)}${c.name}/`;
const contentType = (kind: CollectionKind) => kindOf(kind).contentType;
const quoted = (etag: string) => `"${etag}"`;

// ---------------------------------------------------------------------------------------------------
// Sync tokens (RFC 6578): a URI naming the collection and a position in the account's change sequence
// (core/sync-key.ts Checkpoint). A page of an initial sync carries the base it started from.

const tokenPrefix = 'urn:syncpoint:sync:';

function syncToken(collectionId: string, at: Checkpoint): string {
  return at.baseSeq === at.seq ? `${tokenPrefix}${collectionId}:${at.seq}` : `${tokenPrefix}${collectionId}:${at.seq}:${at.baseSeq}`;
}

const invalidToken = (message: string) => new DavError(403, message, { ns: ns.dav, name: 'valid-sync-token' });

async function parseSyncToken(token: string, view: CollectionView): Promise<Checkpoint> {
  const current = await view.seq();
  if (token === '') return { seq: 0, baseSeq: current };
  const m = /^urn:syncpoint:sync:([^:]+):(\d{1,15})(?::(\d{1,15}))?$/.exec(token);
  if (!m || m[1] !== view.collection.id) throw invalidToken('not a sync token of this collection');
  const at = { seq: Number(m[2]), baseSeq: m[3] === undefined ? Number(m[2]) : Number(m[3]) };
  if (at.seq > Math.max(current, at.baseSeq) || at.baseSeq > current) throw invalidToken('this sync token was never issued');
  if ((await view.tombstoneFloor()) > Math.max(at.seq, at.baseSeq)) throw invalidToken('this sync token has expired; sync again from scratch');
  return at;
}

// ---------------------------------------------------------------------------------------------------
// Properties

interface PropContext {
  r: Request;
  target: Target;
  /** For the collection itself. */
  view?: CollectionView;
  /** For a member: its collection, and the member as read (its data only when dataProps asked for it). */
  collection?: CollectionRow;
  resource?: Resource | Member;
  /** What a REPORT's calendar-data asks for (expand, limit-recurrence-set): calendar-data.ts. */
  calendarData?: CalendarDataTransform;
}

type PropValue = string | undefined;
type PropGetter = (ctx: PropContext) => PropValue | Promise<PropValue>;

const key = (p: PropName) => `${p.ns} ${p.name}`;
/** The components a calendar holds, one per part (a calendar made without a component set holds VEVENT and VTODO). */
const componentsOf = (view: CollectionView) =>
  view.parts.flatMap((p) => {
    const face = kindOf(p.kind).faces.dav;
    return face?.collection === 'calendar' ? [face.component] : [];
  });

const getters = new Map<string, PropGetter>([
  [
    key({ ns: ns.dav, name: 'resourcetype' }),
    ({ target, view }) => {
      if (target.kind === 'item') return '';
      if (target.kind === 'principal') return dav('principal') + dav('collection');
      if (target.kind === 'collection' && view) {
        return dav('collection') + (view.collection.kind === 'contacts' ? element({ ns: ns.carddav, name: 'addressbook' }) : element({ ns: ns.caldav, name: 'calendar' }));
      }
      return dav('collection');
    },
  ],
  [
    key({ ns: ns.dav, name: 'displayname' }),
    ({ target, view, r }) => (view && target.kind === 'collection' ? escapeText(view.collection.displayName) : target.kind === 'principal' ? escapeText(r.principal.accountName) : undefined),
  ],
  [key({ ns: ns.dav, name: 'current-user-principal' }), ({ r }) => href(principalOf(r.principal.accountName))],
  [key({ ns: ns.dav, name: 'principal-URL' }), ({ r }) => href(principalOf(r.principal.accountName))],
  [key({ ns: ns.dav, name: 'owner' }), ({ r }) => href(principalOf(r.principal.accountName))],
  [key({ ns: ns.dav, name: 'principal-collection-set' }), () => href('/dav/principals/')],
  // On the root too, as Radicale does: a client given only the server's address finds the homes in one PROPFIND.
  [key({ ns: ns.carddav, name: 'addressbook-home-set' }), ({ r, target }) => (target.kind === 'principal' || target.kind === 'root' ? href(homeOf(r.principal.accountName)) : undefined)],
  [key({ ns: ns.caldav, name: 'calendar-home-set' }), ({ r, target }) => (target.kind === 'principal' || target.kind === 'root' ? href(homeOf(r.principal.accountName)) : undefined)],
  [
    key({ ns: ns.dav, name: 'current-user-privilege-set' }),
    () => ['read', 'write', 'write-properties', 'write-content', 'bind', 'unbind', 'read-current-user-privilege-set'].map((p) => dav('privilege', dav(p))).join(''),
  ],
  [
    key({ ns: ns.dav, name: 'supported-report-set' }),
    ({ target, view }) => {
      // Reports run on collections only; every other resource supports none, and says so.
      if (target.kind !== 'collection' || !view) return '';
      const reports = view.collection.kind === 'contacts' ? [element({ ns: ns.carddav, name: 'addressbook-multiget' }), element({ ns: ns.carddav, name: 'addressbook-query' })] : [element({ ns: ns.caldav, name: 'calendar-multiget' }), element({ ns: ns.caldav, name: 'calendar-query' }), element({ ns: ns.caldav, name: 'free-busy-query' })];
      return [...reports, dav('sync-collection')].map((rep) => dav('supported-report', dav('report', rep))).join('');
    },
  ],
  [
    key({ ns: ns.caldav, name: 'supported-calendar-component-set' }),
    ({ view, target }) => (target.kind === 'collection' && view && view.collection.kind !== 'contacts' ? componentsOf(view).map((c) => `<cal:comp name="${c}"/>`).join('') : undefined),
  ],
  [
    key({ ns: ns.carddav, name: 'supported-address-data' }),
    ({ view, target }) =>
      target.kind === 'collection' && view?.collection.kind === 'contacts' ? '<card:address-data-type content-type="text/vcard" version="3.0"/><card:address-data-type content-type="text/vcard" version="4.0"/>' : undefined,
  ],
  [key({ ns: ns.apple, name: 'calendar-color' }), ({ view, target }) => (target.kind === 'collection' && view?.collection.color ? escapeText(view.collection.color) : undefined)],
  [
    key({ ns: ns.caldav, name: 'calendar-description' }),
    ({ view, target }) => (target.kind === 'collection' && view && view.collection.kind !== 'contacts' && view.collection.description ? escapeText(view.collection.description) : undefined),
  ],
  [
    key({ ns: ns.carddav, name: 'addressbook-description' }),
    ({ view, target }) => (target.kind === 'collection' && view?.collection.kind === 'contacts' && view.collection.description ? escapeText(view.collection.description) : undefined),
  ],
  [key({ ns: ns.cs, name: 'getctag' }), async ({ view, target }) => (target.kind === 'collection' && view ? String(await view.seq()) : undefined)],
  [key({ ns: ns.dav, name: 'sync-token' }), async ({ view, target }) => (target.kind === 'collection' && view ? escapeText(syncToken(view.collection.id, { seq: await view.seq(), baseSeq: await view.seq() })) : undefined)],
  [key({ ns: ns.dav, name: 'getetag' }), ({ resource }) => (resource && resource.item.deletedAt === null ? `&quot;${escapeText(resource.item.etag)}&quot;` : undefined)],
  [key({ ns: ns.dav, name: 'getcontenttype' }), ({ resource, collection }) => (resource && collection ? contentType(collection.kind) : undefined)],
  [key({ ns: ns.dav, name: 'getcontentlength' }), ({ resource }) => (resource?.item.data != null ? String(Buffer.byteLength(resource.item.data)) : undefined)],
  [key({ ns: ns.carddav, name: 'address-data' }), ({ resource, collection }) => (resource?.item.data != null && collection?.kind === 'contacts' ? escapeText(resource.item.data) : undefined)],
  [key({ ns: ns.caldav, name: 'calendar-data' }), ({ resource, collection, calendarData }) =>
      resource?.item.data != null && collection !== undefined && collection.kind !== 'contacts' ? escapeText(calendarData ? calendarData(resource.item.data) : resource.item.data) : undefined],
]);

/** The member properties that need the item's data; a listing reads data only for them (docs/dav.md § Streaming). */
const dataProps = new Set([key({ ns: ns.dav, name: 'getcontentlength' }), key({ ns: ns.carddav, name: 'address-data' }), key({ ns: ns.caldav, name: 'calendar-data' })]);
const needsData = (requested: PropName[]) => requested.some((p) => dataProps.has(key(p)));

/** What `<allprop/>` (or an empty PROPFIND) returns: the live properties, not the item bodies. */
const allprop: PropName[] = [
  { ns: ns.dav, name: 'resourcetype' },
  { ns: ns.dav, name: 'displayname' },
  { ns: ns.dav, name: 'getetag' },
  { ns: ns.dav, name: 'getcontenttype' },
  { ns: ns.dav, name: 'getcontentlength' },
  { ns: ns.dav, name: 'sync-token' },
  { ns: ns.cs, name: 'getctag' },
];

/** Renders `<response>`s of the requested properties; made once per request, as a listing renders thousands (docs/dav.md § Streaming). */
function propRenderer(requested: PropName[]): (path: string, ctx: PropContext) => Promise<string> {
  const getter = requested.map((p) => getters.get(key(p)));
  const template = responseTemplate(requested);
  return async (path, ctx) => {
    const values: PropValue[] = [];
    for (const get of getter) {
      // Most getters answer at once; awaiting only promises spares a turn of the event loop per property.
      const value = get?.(ctx);
      values.push(value instanceof Promise ? await value : value);
    }
    return template(path, values);
  };
}

async function readXml(r: Request): Promise<XmlElement | undefined> {
  const body = (await readBody(r.req, limits.davXmlBodyBytesMax)).toString('utf8');
  return body.trim() === '' ? undefined : parseXml(body, limits.xmlDepthMax, true, limits.davXmlElementsMax);
}

const childOf = (el: XmlElement | undefined, namespace: string, name: string) => el?.children.find((c) => c.ns === namespace && c.name === name);

/**
 * The properties a PROPFIND or REPORT asks for, each once, refused before any work past
 * limits.davPropsMax or with a name or namespace past limits.davPropNameCharsMax: the answer repeats
 * every name for every member, so these bound it (docs/dav.md § Limits).
 */
function propNames(prop: XmlElement | undefined): PropName[] {
  const unique = new Map<string, PropName>();
  for (const c of prop?.children ?? []) {
    const p = checkedPropName(c);
    unique.set(key(p), p);
    if (unique.size > limits.davPropsMax) throw new DavError(413, `more than ${limits.davPropsMax} properties in one request`);
  }
  return [...unique.values()];
}

function checkedPropName(el: XmlElement): PropName {
  if (el.ns.length > limits.davPropNameCharsMax || el.name.length > limits.davPropNameCharsMax) {
    throw new DavError(413, `a property namespace or name is longer than ${limits.davPropNameCharsMax} characters`);
  }
  return { ns: el.ns, name: el.name };
}

// ---------------------------------------------------------------------------------------------------
// Methods

async function propfind(r: Request, target: Target): Promise<void> {
  const body = await readXml(r);
  if (body && !(body.ns === ns.dav && body.name === 'propfind')) throw new DavError(400, 'the body must be a DAV:propfind');
  const prop = childOf(body, ns.dav, 'prop');
  const requested = prop ? propNames(prop) : allprop;
  const depth = String(r.req.headers.depth ?? 'infinity');
  // Depth infinity is treated as 1: the tree is never deeper than home/collection/item.
  const withMembers = depth !== '0';
  const answer = new MultistatusStream(r.res);
  const user = r.principal.accountName;
  const render = propRenderer(requested);
  // Responses are made inside a read and sent after it: waiting for a slow client never holds the store.
  const send = async (response: string | undefined) => {
    if (response !== undefined && !answer.truncated && !(await answer.add(response))) answer.truncate(pathOf(target));
  };
  const respond = async (path: string, ctx: PropContext) => send(await render(path, ctx));
  switch (target.kind) {
    case 'root':
      await respond(pathOf(target), { r, target });
      break;
    case 'principals':
      // The principal collection: each user sees their own principal only.
      await respond('/dav/principals/', { r, target });
      if (withMembers) await respond(principalOf(user), { r, target: { kind: 'principal', user } });
      break;
    case 'principal':
      await respond(principalOf(user), { r, target });
      break;
    case 'home': {
      await respond(homeOf(user), { r, target });
      if (!withMembers) break;
      for (const c of (await r.hub.accounts.listCollections(r.principal.accountId)).filter(isServed)) {
        await send(await r.hub.readCollection(r.principal.accountId, c.id, (view) => render(collectionPath(user, c), { r, target: { kind: 'collection', user, collection: c.name }, view })));
      }
      break;
    }
    case 'collection': {
      const c = await collectionByName(r, target.collection);
      const own = await r.hub.readCollection(r.principal.accountId, c.id, (view) => render(collectionPath(user, c), { r, target, view }));
      if (own === undefined) throw new DavError(404, 'no such collection');
      await send(own);
      if (!withMembers) break;
      // Every live member, a page at a time: the listing Evolution and vdirsyncer poll (up to limits.davMembersMax).
      for await (const page of r.hub.members(r.principal.accountId, c.id, { withData: needsData(requested) })) {
        for (const resource of page) {
          await respond(`${collectionPath(user, c)}${resource.name}`, { r, target: { kind: 'item', user, collection: c.name, name: resource.name }, collection: c, resource });
        }
        if (answer.truncated) break;
      }
      break;
    }
    case 'item': {
      const c = await collectionByName(r, target.collection);
      const response = await r.hub.readCollection(r.principal.accountId, c.id, async (view) => {
        const resource = await view.get(target.name);
        if (!resource || resource.item.deletedAt !== null) return undefined;
        return render(`${collectionPath(user, c)}${resource.name}`, { r, target, collection: c, resource });
      });
      if (response === undefined) throw new DavError(404, 'no such resource');
      await send(response);
      break;
    }
  }
  answer.end();
}

async function get(r: Request, target: Target): Promise<void> {
  if (target.kind !== 'item') throw new DavError(405, 'only items can be fetched with GET');
  const c = await collectionByName(r, target.collection);
  const resource = await r.hub.readCollection(r.principal.accountId, c.id, (view) => view.get(target.name));
  if (!resource || resource.item.data === null) throw new DavError(404, 'no such resource');
  const body = Buffer.from(resource.item.data, 'utf8');
  r.res.writeHead(200, { 'content-type': contentType(c.kind), etag: quoted(resource.item.etag), 'content-length': body.length });
  r.res.end(r.req.method === 'HEAD' ? undefined : body);
}

async function put(r: Request, target: Target): Promise<void> {
  if (target.kind !== 'item') throw new DavError(405, 'PUT creates or replaces an item; collections are made with MKCOL');
  const c = await collectionByName(r, target.collection);
  const data = (await readBody(r.req, limits.itemBytesMax)).toString('utf8');
  try {
    const { created, etag } = await r.hub.putResource(clientOf(r, c.kind), c.id, target.name, data, {
      ifMatch: header(r.req, 'if-match'),
      ifNoneMatch: header(r.req, 'if-none-match'),
    });
    r.res.writeHead(created ? 201 : 204, { etag: quoted(etag), 'content-length': 0 });
    r.res.end();
  } catch (err) {
    if (err instanceof ResourceError && ['invalidItem', 'wrongKind', 'uidConflict'].includes(err.reason)) {
      const condition = contentCondition(c.kind, err.reason);
      const holder = err.holder === undefined ? '' : ` (${collectionPath(r.principal.accountName, c)}${err.holder})`;
      throw new DavError(err.reason === 'uidConflict' ? 409 : 403, `${err.message}${holder}`, condition);
    }
    throw err;
  }
}

async function remove(r: Request, target: Target): Promise<void> {
  if (target.kind === 'collection') {
    r.req.resume();
    if (!(await deleteCollection(r.hub, await collectionByName(r, target.collection)))) throw new DavError(404, 'no such collection');
    r.res.writeHead(204, { 'content-length': 0 });
    r.res.end();
    return;
  }
  if (target.kind !== 'item') throw new DavError(405, 'only collections and items can be deleted');
  const c = await collectionByName(r, target.collection);
  r.req.resume();
  await r.hub.deleteResource(clientOf(r, c.kind), c.id, target.name, { ifMatch: header(r.req, 'if-match') });
  r.res.writeHead(204, { 'content-length': 0 });
  r.res.end();
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/**
 * Extended MKCOL (RFC 5689) and MKCALENDAR (RFC 4791): a new collection in the home. The resource
 * type picks the kind. A calendar made with a supported-calendar-component-set holds the first of
 * VEVENT, VTODO, VJOURNAL it names; one made without holds VEVENT and VTODO, as clients that never send
 * a set expect (docs/dav.md § Calendars made without a component set).
 */
async function mkcol(r: Request, target: Target): Promise<void> {
  if (target.kind !== 'collection') throw new DavError(403, 'collections are made directly in the home');
  const body = await readXml(r);
  const props = childOf(childOf(body, ns.dav, 'set'), ns.dav, 'prop');
  const types = childOf(props, ns.dav, 'resourcetype')?.children ?? [];
  const isAddressbook = types.some((t) => t.ns === ns.carddav && t.name === 'addressbook');
  const isCalendar = r.req.method === 'MKCALENDAR' || types.some((t) => t.ns === ns.caldav && t.name === 'calendar');
  if (isAddressbook === isCalendar) throw new DavError(403, 'make an address book or a calendar', { ns: ns.dav, name: 'valid-resourcetype' });
  const comps = (childOf(props, ns.caldav, 'supported-calendar-component-set')?.children ?? []).map((c) => (c.attrs.name ?? '').toUpperCase());
  const kind: CollectionKind = isAddressbook ? 'contacts' : comps.length === 0 || comps.includes('VEVENT') ? 'events' : comps.includes('VTODO') ? 'tasks' : comps.includes('VJOURNAL') ? 'notes' : 'events';
  if (!isAddressbook && comps.length > 0 && !comps.some((c) => ['VEVENT', 'VTODO', 'VJOURNAL'].includes(c))) {
    throw new DavError(403, 'calendars hold VEVENT, VTODO or VJOURNAL', { ns: ns.caldav, name: 'supported-calendar-component' });
  }
  const text = (namespace: string, name: string) => childOf(props, namespace, name)?.text.trim() || undefined;
  const displayName = text(ns.dav, 'displayname');
  const descriptionName = [{ ns: ns.caldav, name: 'calendar-description' }, { ns: ns.carddav, name: 'addressbook-description' }].find((p) => text(p.ns, p.name) !== undefined);
  const description = descriptionName && text(descriptionName.ns, descriptionName.name);
  const color = normalizeColor(text(ns.apple, 'calendar-color'));
  // A name with control characters is refused as RFC 5689 §3 says: the property fails with 403, nothing is made.
  const refused = [
    ...(displayName !== undefined && nameProblem(displayName) !== undefined ? [{ ns: ns.dav, name: 'displayname' }] : []),
    ...(descriptionName && description !== undefined && nameProblem(description, true) !== undefined ? [descriptionName] : []),
  ];
  if (refused.length > 0) {
    const root = r.req.method === 'MKCALENDAR' ? { ns: ns.caldav, name: 'mkcalendar-response' } : { ns: ns.dav, name: 'mkcol-response' };
    const xml = xmlDocument(root, propstat(refused, 403));
    r.res.writeHead(403, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
    r.res.end(xml);
    return;
  }
  try {
    const input = { name: target.collection, kind, ...(displayName ? { displayName } : {}), ...(color ? { color } : {}), ...(description ? { description } : {}) };
    await r.hub.accounts.createCollection(r.principal.accountId, input, { withTasks: !isAddressbook && comps.length === 0 });
  } catch (err) {
    if (err instanceof ProtocolError && err.status === 'conflict') throw new DavError(405, 'a collection with this name exists');
    // The account holds as many collections as it may (docs/configuration.md): a quota, as RFC 4331 names it.
    if (err instanceof ProtocolError && err.status === 'limitReached') throw new DavError(507, err.message, { ns: ns.dav, name: 'quota-not-exceeded' });
    if (err instanceof ProtocolError) throw new DavError(403, err.message, { ns: ns.dav, name: 'resource-must-be-null' });
    throw err;
  }
  r.res.writeHead(201, { 'content-length': 0 });
  r.res.end();
}

/** Apple clients send #RRGGBBAA or #RRGGBB; anything else is not stored. */
function normalizeColor(value: string | undefined): string | undefined {
  return value !== undefined && /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/.test(value) ? value : undefined;
}

/** PROPPATCH of a collection's displayname, colour and description; every other property is refused. */
async function proppatch(r: Request, target: Target): Promise<void> {
  if (target.kind !== 'collection') throw new DavError(403, 'only collections have writable properties');
  const c = await collectionByName(r, target.collection);
  const body = await readXml(r);
  if (!body || body.ns !== ns.dav || body.name !== 'propertyupdate') throw new DavError(400, 'the body must be a DAV:propertyupdate');
  const patch: { displayName?: string; color?: string | null; description?: string | null } = {};
  const done: PropName[] = [];
  const refused: PropName[] = [];
  for (const op of body.children.filter((e) => e.ns === ns.dav && (e.name === 'set' || e.name === 'remove'))) {
    for (const p of childOf(op, ns.dav, 'prop')?.children ?? []) {
      const value = op.name === 'set' ? p.text.trim() : '';
      const name = checkedPropName(p);
      if (done.length + refused.length >= limits.davPropsMax) throw new DavError(413, `more than ${limits.davPropsMax} properties in one request`);
      // Names with control characters are refused like any property the server will not set (docs/protocol.md § Names).
      // Removing the name, or setting an empty one, gives the collection the name it gets when made without
      // one (its path segment), on every face: the old name must not stay behind (docs/dav.md).
      if (p.ns === ns.dav && p.name === 'displayname' && (value === '' || nameProblem(value) === undefined)) patch.displayName = value === '' ? c.name : value.slice(0, limits.nameCharsMax);
      else if (p.ns === ns.apple && p.name === 'calendar-color' && (value === '' || normalizeColor(value))) patch.color = value === '' ? null : value;
      else if (((p.ns === ns.caldav && p.name === 'calendar-description') || (p.ns === ns.carddav && p.name === 'addressbook-description')) && nameProblem(value, true) === undefined) {
        patch.description = value === '' ? null : value.slice(0, 2000);
      } else {
        refused.push(name);
        continue;
      }
      done.push(name);
    }
  }
  // RFC 4918 §9.2: all or nothing. With a refused property, nothing is changed and the rest fail with 424.
  if (refused.length === 0) await r.hub.accounts.updateCollection(r.principal.accountId, c.id, patch);
  const xml = refused.length === 0 ? propstat(done, 200) : propstat(refused, 403) + propstat(done, 424);
  const answer = new Multistatus();
  answer.add(dav('response', href(collectionPath(r.principal.accountName, c)) + xml));
  sendMultistatus(r, answer.render());
}

// ---------------------------------------------------------------------------------------------------
// REPORT

async function report(r: Request, target: Target): Promise<void> {
  const body = await readXml(r);
  if (!body) throw new DavError(400, 'REPORT needs a body');
  if (target.kind !== 'collection') throw new DavError(403, 'reports run on a collection', { ns: ns.dav, name: 'supported-report' });
  const c = await collectionByName(r, target.collection);
  if (body.ns === ns.caldav && body.name === 'free-busy-query') return freeBusyReport(r, c, body);
  const requested = propNames(childOf(body, ns.dav, 'prop'));
  const withData = needsData(requested);
  const user = r.principal.accountName;
  const base = collectionPath(user, c);
  // Streamed: members are read a page at a time and sent as they are made (docs/dav.md § Streaming).
  const answer = new MultistatusStream(r.res);
  // One recurrence budget for the request's queries and expansions, grown with the data they read (time-range.ts).
  const budget = new ReadBudget();
  const calendarData = readCalendarData(childOf(childOf(body, ns.dav, 'prop'), ns.caldav, 'calendar-data'), budget);
  const renderer = propRenderer(requested);
  const render = (resource: Resource | Member) =>
    renderer(`${base}${resource.name}`, { r, target: { kind: 'item', user, collection: c.name, name: resource.name }, collection: c, resource, ...(calendarData ? { calendarData } : {}) });
  /** Sends a response; false once the answer is full (it is then truncated). */
  const add = async (response: string) => {
    if (await answer.add(response)) return true;
    answer.truncate(base);
    return false;
  };
  if (body.name === 'sync-collection' && body.ns === ns.dav) {
    // Collections hold no collections, so level 1 and infinite list the same members (RFC 6578 §3.3).
    const level = childOf(body, ns.dav, 'sync-level')?.text.trim();
    if (level !== undefined && level !== '1' && level !== 'infinite') throw new DavError(400, 'sync-level must be 1 or infinite');
    const start = await r.hub.readCollection(r.principal.accountId, c.id, async (view) => ({
      from: await parseSyncToken(childOf(body, ns.dav, 'sync-token')?.text.trim() ?? '', view),
      current: await view.seq(),
    }));
    if (!start) throw new DavError(404, 'no such collection');
    const { from, current } = start;
    // Without DAV:limit the whole sync is one answer, up to the bounds of every answer (limits.davMembersMax,
    // davResponseBytesMax): streamed, it costs no more memory than a page (docs/dav.md § Streaming).
    const limitText = childOf(childOf(body, ns.dav, 'limit'), ns.dav, 'nresults')?.text.trim();
    const limit = limitText && /^\d{1,9}$/.test(limitText) && Number(limitText) > 0 ? Number(limitText) : Number.MAX_SAFE_INTEGER;
    // A page that stops early (at `limit`, or full) ends at its last member's change; the next token continues from there.
    let last = from.seq;
    let sent = 0;
    let truncated = false;
    pages: for await (const page of r.hub.memberChanges(r.principal.accountId, c.id, from, current, withData)) {
      // A name deleted and then used again (in another part) is one member: its latest state is reported, in the order of the latest changes.
      const latest = new Map<string, Member>();
      for (const resource of page) {
        latest.delete(resource.name);
        latest.set(resource.name, resource);
      }
      for (const resource of latest.values()) {
        if (resource.item.data !== null) budget.read(resource.item.data.length);
        truncated = sent >= limit || !(await add(resource.item.deletedAt !== null ? statusResponse(href(`${base}${resource.name}`), 404) : await render(resource)));
        if (truncated) break pages;
        sent += 1;
        last = resource.item.seq;
      }
    }
    if (truncated) answer.truncate(base);
    const reached = Math.max(current, from.seq);
    return answer.end(syncToken(c.id, truncated ? { seq: last, baseSeq: from.baseSeq } : { seq: reached, baseSeq: reached }));
  }
  // A report of the other protocol (an addressbook-query on a calendar) is not supported there.
  const forContacts = body.ns === ns.carddav;
  if ((body.ns === ns.carddav || body.ns === ns.caldav) && forContacts !== (c.kind === 'contacts')) {
    throw new DavError(403, `${body.name} does not apply to this collection`, { ns: ns.dav, name: 'supported-report' });
  }
  if (body.name === 'addressbook-multiget' || body.name === 'calendar-multiget') {
    const hrefs = body.children.filter((e) => e.ns === ns.dav && e.name === 'href').map((h) => h.text.trim());
    if (hrefs.length > limits.davHrefsMax) throw new DavError(413, `more than ${limits.davHrefsMax} hrefs in one multiget`);
    // A page of hrefs per read, each answer sent after its read.
    for (let at = 0; at < hrefs.length && !answer.truncated; at += limits.davPageRowsWithData) {
      const responses = await r.hub.readCollection(r.principal.accountId, c.id, async (view) => {
        const out: string[] = [];
        for (const sent of hrefs.slice(at, at + limits.davPageRowsWithData)) {
          const name = memberOf(sent, user, c.name);
          const resource = name === undefined ? undefined : await view.get(name);
          budget.read(resource?.item.data?.length ?? 0);
          out.push(!resource || resource.item.deletedAt !== null ? statusResponse(hrefAsSent(sent), 404) : await render(resource));
        }
        return out;
      });
      if (!responses) throw new DavError(404, 'no such collection');
      for (const response of responses) if (!(await add(response))) break;
    }
    return answer.end();
  }
  if (body.name === 'addressbook-query' || body.name === 'calendar-query') {
    const filter = childOf(body, body.ns, 'filter');
    const cardQuery = body.name === 'addressbook-query' ? readCardQuery(filter) : undefined;
    const calendarQuery = body.name === 'calendar-query' ? readCalendarQuery(filter) : undefined;
    // A query looks at limits.davMembersMax members at most; past them the answer says it is truncated.
    let examined = 0;
    pages: for await (const page of r.hub.members(r.principal.accountId, c.id, { withData: true, timeRange: indexedRange(calendarQuery) })) {
      for (const resource of page) {
        if (++examined > limits.davMembersMax) {
          answer.truncate(base);
          break pages;
        }
        const data = resource.item.data ?? '';
        budget.read(data.length);
        if (!(cardQuery ? matchesCard(cardQuery, data) : matchesCalendar(calendarQuery, data, budget))) continue;
        if (!(await add(await render(resource)))) break pages;
      }
    }
    return answer.end();
  }
  throw new DavError(403, `unsupported report ${body.name}`, { ns: ns.dav, name: 'supported-report' });
}

/** free-busy-query (RFC 4791 §7.10): a VFREEBUSY of the calendar's events in the range (free-busy.ts). */
async function freeBusyReport(r: Request, c: CollectionRow, body: XmlElement): Promise<void> {
  const rangeEl = childOf(body, ns.caldav, 'time-range');
  if (!rangeEl) throw new DavError(400, 'free-busy-query needs a time-range', { ns: ns.caldav, name: 'valid-filter' });
  const range = readTimeRange(rangeEl, ns.caldav);
  if (c.kind === 'contacts') throw new DavError(403, 'free-busy-query does not apply to an address book', { ns: ns.dav, name: 'supported-report' });
  // The indexed span narrows the events read to those whose series meets the range (filters.ts indexedRange).
  const budget = new ReadBudget();
  const busy = new FreeBusy(range, budget);
  let read = 0;
  pages: for await (const page of r.hub.members(r.principal.accountId, c.id, { withData: true, timeRange: range })) {
    for (const m of page) {
      if (read++ >= limits.davMembersMax) break pages;
      if (m.item.data === null) continue;
      budget.read(m.item.data.length);
      busy.add(m.item.data);
    }
  }
  const text = busy.text(r.hub.now());
  r.res.writeHead(200, { 'content-type': 'text/calendar; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  r.res.end(text);
}

/** The member name an href in a multiget names, if it is a member of this collection: decoded exactly once, as a request path is. */
function memberOf(sent: string, user: string, collection: string): string | undefined {
  let path: string;
  try {
    path = new URL(sent, 'http://host').pathname;
  } catch {
    return undefined;
  }
  const target = path.startsWith(davPrefix) ? parseTarget(path) : undefined;
  return target?.kind === 'item' && target.user === user && target.collection === collection ? target.name : undefined;
}
