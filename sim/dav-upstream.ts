import type { Fetch } from '../src/connectors/dav/transport.js';
import type { Hub } from '../src/hub/hub.js';
import type { UpstreamAccess } from '../src/hub/upstreams.js';
import { secretKey } from '../src/hub/sealed-secrets.js';
import { declarations, ns } from '../src/protocol/dav-xml.js';
import type { ServerSyncPoint } from '../src/protocol/server-point.js';
import type { SyncRequest, SyncResponse } from '../src/protocol/sync.js';
import { escapeText, parseXml, type XmlElement } from '../src/protocol/xml.js';
import { davConnector } from '../src/server/upstream-connector.js';
import type { Causality } from './causality.js';
import type { History } from './history.js';
import type { Rng } from './random.js';
import { describeRequest, describeResponse, type Trace } from './trace.js';
import { describeVersion, firstNames, lastNames, property, render, simIdOf, type Workload } from './workload.js';
import { wrapPoint } from './wrap-point.js';

/**
 * An upstream CardDAV server inside the simulation (sim/README.md § The upstream): one address book in
 * memory (path -> data and etag), answering the real connector (src/connectors/dav/) through the `fetch`
 * the hub's Transport is handed, with `Response` objects built in memory. It keeps a change log for RFC
 * 6578 sync tokens, pages a sync-collection with 507 once more than `pageMax` changes are due, and
 * answers PROPFIND, GET, addressbook-multiget, PUT with If-Match / If-None-Match (412 when they fail) and
 * DELETE with If-Match.
 *
 * It misbehaves on its seeded schedule, before or after serving a request:
 *   - another client of it (its own user) edits, adds or deletes a contact, between runs and in the
 *     middle of one (so the hub's If-Match meets a version it never read: a 412);
 *   - it restarts and forgets its sync tokens and deletions (a token given then answers 403
 *     DAV:valid-sync-token, as Radicale does), or is busy (503 with Retry-After);
 *   - a request is lost before it arrives, or its answer after it was applied (the connector sees a
 *     network error either way);
 *   - the hub's server crashes while the run waits for an answer (`onHubCrash`).
 */

export const upstreamOrigin = 'https://upstream.sim';
const collectionPath = '/dav/contacts/';
export const upstreamAccount = { username: 'sim', password: 'upstream-password' };
/** The server's secret key in the simulation: the upstream's password is sealed with it (sealed-secrets.ts). */
const simKey = secretKey(Buffer.alloc(32, 7));

/** Per request, the chance of each misbehaviour (drawn whether or not faults are on, so the quiet phase draws alike). */
export interface UpstreamRates {
  edit: number;
  restart: number;
  busy: number;
  lostRequest: number;
  lostAnswer: number;
  hubCrash: number;
}

interface Member {
  data: string;
  etag: string;
  /** Its place in the change log. */
  rev: number;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

const xmlHeaders = { 'content-type': 'application/xml; charset=utf-8' };

export class SimUpstream {
  readonly collectionUrl = `${upstreamOrigin}${collectionPath}`;
  /** `acknowledged`: applies of the hub's actions that acknowledged them (the quiet phase ends only after one). */
  readonly counts = { requests: 0, edits: 0, restarts: 0, busy: 0, lostRequests: 0, lostAnswers: 0, hubCrashes: 0, conflicts: 0, tokenRefusals: 0, pages: 0, writes: 0, acknowledged: 0 };
  /** Off in the quiet phase: no faults, and its user no longer edits. */
  faultsOn = true;
  /** The hub's server dies now, in the middle of the run (world.ts: SimServer.dies). */
  onHubCrash: () => void = () => undefined;
  private readonly members = new Map<string, Member>();
  /** Deleted members, by path: the change log's deletions since the last restart. */
  private readonly removedAt = new Map<string, number>();
  /** Last change's place in the log; tokens name a place, in an epoch that a restart ends. */
  private rev = 0;
  private epoch = 0;
  private oldestRev = 0;
  private etags = 0;
  private names = 0;
  /** By member URL: the version its user deleted (what the hub's delete of it knew: history.noteDelete). */
  private readonly deleted = new Map<string, string>();
  private readonly authorization = `Basic ${Buffer.from(`${upstreamAccount.username}:${upstreamAccount.password}`).toString('base64')}`;

  /** Its name in the trace. */
  readonly id = 'upstream';

  constructor(
    private readonly rng: Rng,
    private readonly rates: UpstreamRates,
    private readonly pageMax: number,
    private readonly workload: Workload,
    private readonly causality: Causality,
    private readonly trace: Trace | undefined,
  ) {}

  /** The address book as it stands: data by member URL. */
  contents(): Map<string, string> {
    return new Map([...this.members].map(([path, m]) => [`${upstreamOrigin}${path}`, m.data]));
  }

  /** The version its user deleted at this member URL, if the user deleted it. */
  deletedVersion(url: string): string | undefined {
    return this.deleted.get(url);
  }

  /** One action of its other client's user: add a contact, or edit or delete one it holds. */
  act(when = ''): void {
    this.counts.edits++;
    const paths = [...this.members.keys()];
    const roll = this.rng.float();
    if (paths.length > 0 && roll < 0.5) {
      const path = this.rng.pick(paths);
      const before = (this.members.get(path) as Member).data;
      const who = {
        simId: simIdOf(before) ?? '?',
        kind: 'contacts' as const,
        uid: property(before, 'UID'),
        name: property(before, 'FN') ?? '',
        email: property(before, 'EMAIL'),
        phone: property(before, 'TEL'),
        override: false,
      };
      const versions = { note: property(before, 'note') ?? '?', title: property(before, 'title') };
      const data = render(who, this.rng.chance(0.65) ? { ...versions, note: this.workload.newVersion() } : { ...versions, title: this.workload.newVersion() });
      this.causality.recordEdit(data, [before]);
      this.write(path, data);
      this.trace?.(`${this.id} user${when}: ${describeVersion(data)} at ${path}`);
    } else if (paths.length > 0 && roll < 0.7) {
      const path = this.rng.pick(paths);
      const before = (this.members.get(path) as Member).data;
      this.deleted.set(`${upstreamOrigin}${path}`, before);
      this.remove(path);
      this.trace?.(`${this.id} user${when}: delete ${describeVersion(before)} at ${path}`);
    } else {
      const simId = this.workload.newRecord();
      const name = `${this.rng.pick(firstNames)} ${this.rng.pick(lastNames)}`;
      const email = this.rng.chance(0.5) ? `${name.replace(' ', '.').toLowerCase()}.${simId}@example.com` : null;
      const data = render({ simId, kind: 'contacts', uid: `uid-${simId}`, name, email, phone: null, override: false }, { note: this.workload.newVersion(), title: null });
      this.causality.recordEdit(data, []);
      // Named as other clients name what they make: not by its UID.
      const path = `${collectionPath}other-${this.names++}.vcf`;
      this.write(path, data);
      this.trace?.(`${this.id} user${when}: ${describeVersion(data)} (contacts, ${name}, UID) at ${path}`);
    }
  }

  /** What the connector's Transport calls: an answer built in memory, or a network error. */
  readonly fetch: Fetch = async (url, init) => {
    this.counts.requests++;
    const method = init.method ?? 'GET';
    const path = new URL(url).pathname;
    const draws = { edit: this.rng.chance(this.rates.edit), restart: this.rng.chance(this.rates.restart), crash: this.rng.chance(this.rates.hubCrash) };
    const [busy, lostRequest, lostAnswer] = [this.rng.chance(this.rates.busy), this.rng.chance(this.rates.lostRequest), this.rng.chance(this.rates.lostAnswer)];
    if (this.faultsOn) {
      if (draws.restart) this.restart();
      if (draws.edit) this.act(' while the hub runs');
      if (draws.crash) {
        this.counts.hubCrashes++;
        this.trace?.(`${this.id}: the hub's server crashes while it waits for ${method} ${path}`);
        this.onHubCrash();
      }
      if (lostRequest) {
        this.counts.lostRequests++;
        this.trace?.(`${this.id}: ${method} ${path} is lost on its way`);
        throw new TypeError('fetch failed: connection reset');
      }
      if (busy) {
        this.counts.busy++;
        this.trace?.(`${this.id}: ${method} ${path} answered 503, retry after 120 s`);
        return new Response(null, { status: 503, headers: { 'retry-after': '120' } });
      }
    }
    const headers = new Headers(init.headers as Record<string, string>);
    const answer = headers.get('authorization') === this.authorization ? this.serve(method, path, headers, typeof init.body === 'string' ? init.body : '') : { status: 401 };
    if (this.faultsOn && lostAnswer) {
      this.counts.lostAnswers++;
      this.trace?.(`${this.id}: ${method} ${path} applied, its answer ${answer.status} lost`);
      throw new TypeError('fetch failed: connection reset');
    }
    return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers ?? {} });
  };

  private restart(): void {
    this.counts.restarts++;
    this.epoch++;
    this.oldestRev = this.rev;
    this.removedAt.clear();
    this.trace?.(`${this.id} restarts: its sync tokens are forgotten`);
  }

  private write(path: string, data: string): Member {
    const member = { data, etag: `"e${++this.etags}"`, rev: ++this.rev };
    this.members.set(path, member);
    this.removedAt.delete(path);
    return member;
  }

  private remove(path: string): void {
    this.members.delete(path);
    this.removedAt.set(path, ++this.rev);
  }

  private token(rev: number): string {
    return `${upstreamOrigin}/sync/${this.epoch}-${rev}`;
  }

  private serve(method: string, path: string, headers: Headers, body: string): Answer {
    const isMember = path.startsWith(collectionPath) && path.length > collectionPath.length && !path.slice(collectionPath.length).includes('/');
    switch (method) {
      case 'PROPFIND':
        if (path === collectionPath) return this.propfindCollection(headers.get('depth') === '1');
        if (!isMember) return { status: 404 };
        return this.members.has(path) ? multistatus([response(path, this.members.get(path) as Member, false)]) : { status: 404 };
      case 'REPORT': {
        if (path !== collectionPath) return { status: 404 };
        const root = parseXml(body, 16, true);
        if (root.ns === ns.dav && root.name === 'sync-collection') return this.syncCollection(child(root, 'sync-token')?.text.trim() ?? '');
        if (root.ns === ns.carddav && root.name === 'addressbook-multiget') return this.multiget(root.children.filter((c) => c.ns === ns.dav && c.name === 'href').map((c) => c.text.trim()));
        return { status: 400 };
      }
      case 'GET': {
        const member = isMember ? this.members.get(path) : undefined;
        return member ? { status: 200, headers: { 'content-type': 'text/vcard; charset=utf-8', etag: member.etag }, body: member.data } : { status: 404 };
      }
      case 'PUT':
        return isMember ? this.put(path, headers, body) : { status: 405 };
      case 'DELETE':
        return isMember ? this.delete(path, headers) : { status: 405 };
      default:
        return { status: 405 };
    }
  }

  private propfindCollection(withMembers: boolean): Answer {
    const self =
      `<d:response><d:href>${collectionPath}</d:href><d:propstat><d:prop>` +
      `<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><cs:getctag>"${this.epoch}-${this.rev}"</cs:getctag><d:sync-token>${escapeText(this.token(this.rev))}</d:sync-token>` +
      `</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`;
    return multistatus([self, ...(withMembers ? [...this.members].map(([path, m]) => response(path, m, false)) : [])]);
  }

  /** RFC 6578: the changes since the token (every member, for none), oldest first, at most pageMax a page. */
  private syncCollection(token: string): Answer {
    let from = 0;
    // A page of a listing of every member goes on with a token of its own, valid for the epoch: it names
    // what was deleted since the page before (those are all known since the restart).
    let initial = token === '';
    if (token !== '') {
      const place = /^https:\/\/upstream\.sim\/sync\/(\d+)-(\d+)(-i)?$/.exec(token);
      const [epoch, rev] = place ? [Number(place[1]), Number(place[2])] : [-1, -1];
      initial = place?.[3] !== undefined;
      if (epoch !== this.epoch || (rev < this.oldestRev && !initial) || rev > this.rev) {
        this.counts.tokenRefusals++;
        this.trace?.(`${this.id}: sync token ${token} refused (403 valid-sync-token)`);
        return { status: 403, headers: xmlHeaders, body: `<?xml version="1.0" encoding="utf-8"?><d:error ${declarations}><d:valid-sync-token/></d:error>` };
      }
      from = rev;
    }
    const changes: Array<{ path: string; rev: number; member?: Member }> = [];
    for (const [path, member] of this.members) if (member.rev > from) changes.push({ path, rev: member.rev, member });
    if (token !== '') for (const [path, rev] of this.removedAt) if (rev > from) changes.push({ path, rev });
    changes.sort((a, b) => a.rev - b.rev);
    const page = changes.slice(0, this.pageMax);
    const truncated = page.length < changes.length;
    if (truncated) this.counts.pages++;
    const parts = page.map((c) => (c.member ? response(c.path, c.member, false) : `<d:response><d:href>${c.path}</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`));
    if (truncated) parts.push(`<d:response><d:href>${collectionPath}</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status><d:error><d:number-of-matches-within-limits/></d:error></d:response>`);
    return multistatus(parts, truncated ? `${this.token((page.at(-1) as { rev: number }).rev)}${initial ? '-i' : ''}` : this.token(this.rev));
  }

  private multiget(hrefs: readonly string[]): Answer {
    return multistatus(
      hrefs.map((href) => {
        const path = new URL(href, upstreamOrigin).pathname;
        const member = this.members.get(path);
        return member ? response(path, member, true) : `<d:response><d:href>${path}</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`;
      }),
    );
  }

  private put(path: string, headers: Headers, body: string): Answer {
    const existing = this.members.get(path);
    const ifMatch = headers.get('if-match');
    if ((headers.get('if-none-match') === '*' && existing) || (ifMatch !== null && existing?.etag !== ifMatch)) return this.refuse('PUT', path);
    const member = this.write(path, body);
    this.counts.writes++;
    // Now and then without an ETag, as some servers answer: the connector reads the member for it.
    const etag: Record<string, string> = this.rng.chance(0.2) ? {} : { etag: member.etag };
    return { status: existing ? 204 : 201, headers: etag };
  }

  private delete(path: string, headers: Headers): Answer {
    const existing = this.members.get(path);
    if (!existing) return { status: 404 };
    const ifMatch = headers.get('if-match');
    if (ifMatch !== null && ifMatch !== existing.etag) return this.refuse('DELETE', path);
    this.remove(path);
    this.counts.writes++;
    return { status: 204 };
  }

  private refuse(method: string, path: string): Answer {
    this.counts.conflicts++;
    this.trace?.(`${this.id}: ${method} ${path} refused, 412`);
    return { status: 412 };
  }
}

const child = (el: XmlElement, name: string) => el.children.find((c) => c.ns === ns.dav && c.name === name);

function response(path: string, member: Member, withData: boolean): string {
  const data = withData ? `<card:address-data>${escapeText(member.data)}</card:address-data>` : '';
  return `<d:response><d:href>${path}</d:href><d:propstat><d:prop><d:getetag>${escapeText(member.etag)}</d:getetag><d:resourcetype/>${data}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`;
}

function multistatus(responses: readonly string[], token?: string): Answer {
  const end = token === undefined ? '' : `<d:sync-token>${escapeText(token)}</d:sync-token>`;
  return { status: 207, headers: xmlHeaders, body: `<?xml version="1.0" encoding="utf-8"?><d:multistatus ${declarations}>${responses.join('')}${end}</d:multistatus>` };
}

/**
 * How the hub reaches the simulated upstream: the real connector (server/upstream-connector.ts) over its
 * `fetch`, each point watched as world.ts watches the devices' requests: a report's adds and deletes are
 * noted for the history (which add made an item, what a delete knew), and the hub's answer to it,
 * handed to the point with its actions once committed, is recorded as a delivered reply (its
 * acknowledgements and conflicts), so the checkers hold the hub to the upstream's changes as to any
 * device's. `alter` is a planted bug's point.
 */
export function simUpstreamAccess(upstream: () => SimUpstream, clock: { now(): number }, history: History, trace: Trace | undefined, alter?: (point: ServerSyncPoint) => ServerSyncPoint, reportItemsMax?: number): UpstreamAccess {
  const real = davConnector((url, init) => upstream().fetch(url, init), clock, reportItemsMax);
  const watched = (point: ServerSyncPoint): ServerSyncPoint => {
    let reported: SyncRequest | undefined;
    return wrapPoint(point, {
      async report(memory, cursor) {
        const report = await point.report(memory, cursor);
        reported = { device: { id: point.id }, collections: [{ collectionId: point.collectionId, syncKey: 0, commands: report.commands }] } as SyncRequest;
        history.noteAdds(reported);
        report.commands.forEach((command, i) => {
          const deleted = command.op === 'delete' ? upstream().deletedVersion(report.remotes[i]?.remoteId ?? '') : undefined;
          if (command.op === 'delete' && deleted !== undefined) history.noteDelete(point.id, command.serverId, deleted);
        });
        trace?.(`${point.id} reports from ${cursor ?? 'nothing'}: ${describeRequest(reported)}${report.more ? ' (more)' : ''}`);
        return report;
      },
      async apply(outcome, memory) {
        const answer = { collections: [outcome] } as SyncResponse;
        if (reported) history.recordDelivery(reported, answer);
        trace?.(`${point.id} is answered ${describeResponse(answer)}`);
        const applied = await point.apply(outcome, memory);
        if (applied.acknowledged) upstream().counts.acknowledged++;
        return applied;
      },
    });
  };
  return {
    connectors: {
      dav: {
        ...real,
        open: (u, mappings) => {
          const session = real.open(u, mappings);
          return { ...session, points: session.points.map((p) => watched(alter ? alter(p) : p)) };
        },
      },
    },
    keys: () => [simKey],
    sealingKey: () => () => simKey,
    intervalMs: 30 * 60_000,
  };
}

/** Adds the simulated upstream to the account, its address book mapped to the contacts collection `collection` (by name). */
export async function addSimUpstream(hub: Hub, accountId: string, collection: string, upstream: SimUpstream): Promise<string> {
  const discovered = [{ url: upstream.collectionUrl, type: 'addressbook' as const, kinds: ['contacts' as const] }];
  const view = await hub.upstreams.add(accountId, { url: `${upstreamOrigin}/dav/`, ...upstreamAccount, collection }, { connector: { discover: async () => discovered }, key: () => simKey });
  return view.deviceId;
}
