import { etagOf } from '../../src/content/etag.js';
import { cardText, editableBy, parseCard, type Card } from './cards.js';
import { sleep } from './device.js';
import { monotonicMicros, type AckLedger } from './ledger.js';
import type { WireLog } from './wire-log.js';

/**
 * A CardDAV client of the fault run (faults.ts) that syncs the contacts collection the SDK devices use,
 * through the load balancer, the way DAVx5 does (docs/dav.md): it keeps a local copy (resource name →
 * etag and card), uploads its dirty cards first (PUT with If-Match, a new card with If-None-Match: *,
 * DELETE with If-Match), then asks sync-collection for what changed since its token (an empty token the
 * first time) and fetches the changed cards with an addressbook-multiget.
 *
 * - 412 on a precondition: another client changed (or made) the card; the client fetches it and applies
 *   its edit (a new NICKNAME, cards.ts) to the fresh copy, or finds its own version already there: a
 *   write whose answer was lost and that committed.
 * - 404 on an If-Match write: the card was deleted meanwhile; the edit is dropped with it.
 * - No answer, or a 5xx from the balancer: the same request again, later.
 * - 403 valid-sync-token: a full resync from an empty token.
 *
 * A PUT answered 201 or 204 with an ETag (the server stores the bytes as sent, so it must be their etag)
 * and a DELETE answered 204 go into the ack ledger; the check finds the item by the resource's name
 * (dav_names, or `ID.vcf` for an item another kind of client made).
 */

export interface DavDeviceOptions {
  id: string;
  baseUrl: string;
  user: string;
  password: string;
  random: () => number;
  ledger: AckLedger;
  wireLog: WireLog;
  problem(problem: string): void;
}

export interface DavStats {
  syncsSucceeded: number;
  /** Requests that got no answer or a 5xx. */
  requestsFailed: number;
  /** 412 answers: another client's write came first, or a lost answer's write had committed. */
  preconditionsFailed: number;
  /** 403 valid-sync-token: a full resync. */
  fullResyncs: number;
}

interface LocalCard {
  /** The etag of the server's version this copy is based on; null for a card not yet on the server. */
  etag: string | null;
  /** The card as the client holds it (its own edit, when dirty); null: deleted locally, not yet on the server. */
  data: string | null;
  dirty: boolean;
}

const liveItemsTarget = 60;
const editsPerRoundMax = 3;
const requestTimeoutMs = 5_000;
const pauseAfterSyncMsMax = 200;
const pauseAfterFailureMsBase = 100;
const pauseAfterFailureMsMax = 2_000;
const multigetHrefsMax = 200;
const syncRequest = (token: string) =>
  `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
const multigetRequest = (hrefs: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>${hrefs.map((h) => `<d:href>${h}</d:href>`).join('')}</card:addressbook-multiget>`;

export class DavDevice {
  readonly stats: DavStats = { syncsSucceeded: 0, requestsFailed: 0, preconditionsFailed: 0, fullResyncs: 0 };
  /** By resource name (`NAME.vcf`). */
  readonly local = new Map<string, LocalCard>();
  private token = '';
  private itemsCreated = 0;
  private versionsWritten = 0;
  private failuresInARow = 0;
  private readonly path: string;
  private readonly authorization: string;
  private running: Promise<void> = Promise.resolve();
  private keepGoing = false;

  constructor(private readonly o: DavDeviceOptions) {
    this.path = `/dav/users/${encodeURIComponent(o.user)}/contacts/`;
    this.authorization = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
  }

  get id(): string {
    return this.o.id;
  }

  get unsent(): number {
    return [...this.local.values()].filter((c) => c.dirty).length;
  }

  start(): void {
    this.keepGoing = true;
    // A client that throws stops, and says why; the run goes on to its checks.
    this.running = this.run().catch((err: Error) => this.o.problem(`DAV client ${this.id} stopped: ${err.stack ?? String(err)}`));
  }

  async stop(): Promise<void> {
    this.keepGoing = false;
    await this.running;
  }

  private async run(): Promise<void> {
    while (this.keepGoing) {
      this.editRandomly();
      const synced = (await this.sync()) !== null;
      this.failuresInARow = synced ? 0 : this.failuresInARow + 1;
      await sleep(this.o.random() * (synced ? pauseAfterSyncMsMax : Math.min(pauseAfterFailureMsMax, pauseAfterFailureMsBase * 2 ** this.failuresInARow)));
    }
  }

  /** Uploads, then sync-collection and multiget: what moved (writes sent plus changes received), or null when a request failed. */
  async sync(): Promise<number | null> {
    let moved = 0;
    for (const [name, card] of [...this.local]) {
      if (!card.dirty) continue;
      const sent = await this.upload(name, card);
      if (sent === null) return null;
      moved += sent;
    }
    const received = await this.pull();
    if (received === null) return null;
    this.stats.syncsSucceeded++;
    return moved + received;
  }

  /** One dirty card to the server; 1 when it is settled, null when it got no answer (it stays dirty). */
  private async upload(name: string, card: LocalCard): Promise<number | null> {
    const url = this.path + encodeURIComponent(name);
    const precondition: Record<string, string> = card.etag === null ? { 'if-none-match': '*' } : { 'if-match': `"${card.etag}"` };
    const sentAt = monotonicMicros();
    if (card.data !== null) this.o.ledger.noteVersionSent(parseCard(card.data), etagOf(card.data), sentAt);
    const res = card.data === null ? await this.request('DELETE', url, { headers: precondition }) : await this.request('PUT', url, { headers: { ...precondition, 'content-type': 'text/vcard' }, body: card.data });
    if (res === null) return null;
    const at = monotonicMicros();
    this.o.wireLog.write({ dav: this.id, [card.data === null ? 'delete' : 'put']: name, version: card.data && parseCard(card.data).version, status: res.status });
    if (card.data === null) {
      if (res.status === 204) {
        this.local.delete(name);
        this.o.ledger.noteAcknowledged({ deviceId: this.id, serverId: '', davName: name, sentAt, deleted: true });
        return 1;
      }
      if (res.status === 404) {
        this.local.delete(name);
        return 1;
      }
    } else if (res.status === 201 || res.status === 204) {
      const etag = unquote(res.headers.get('etag') ?? '');
      const card2 = parseCard(card.data);
      if (etag !== etagOf(card.data)) this.o.problem(`DAV client ${this.id}: PUT ${name} answered ETag ${etag}, but the bytes sent have etag ${etagOf(card.data)}`);
      this.o.ledger.noteVersionSeen(card2, etag, at);
      const sentFirst = this.o.ledger.versions.get(etag)?.sentAt ?? sentAt;
      this.o.ledger.noteAcknowledged({ deviceId: this.id, serverId: '', davName: name, sentAt: sentFirst, deleted: false, crashId: card2.crashId, version: card2.version, etag });
      this.local.set(name, { etag, data: card.data, dirty: false });
      return 1;
    } else if (res.status === 404) {
      this.local.delete(name);
      return 1;
    }
    if (res.status !== 412) {
      this.o.problem(`DAV client ${this.id}: ${card.data === null ? 'DELETE' : 'PUT'} ${name} answered ${res.status} ${res.text.slice(0, 300)}`);
      return null;
    }
    // Someone else's write came first (or this one's, whose answer was lost): fetch the truth and decide.
    this.stats.preconditionsFailed++;
    const fresh = await this.request('GET', url, {});
    if (fresh === null) return null;
    if (fresh.status === 404) {
      // Gone: deleted meanwhile, and the edit goes with it. Even a new card is not sent again: its first
      // PUT may have committed and another client deleted it since, and a PUT now would bring it back.
      this.local.delete(name);
      return 1;
    }
    if (fresh.status !== 200) {
      this.o.problem(`DAV client ${this.id}: GET ${name} answered ${fresh.status}`);
      return null;
    }
    const etag = unquote(fresh.headers.get('etag') ?? '');
    if (card.data !== null && fresh.text === card.data) {
      // The lost answer's write committed: the server holds this very version.
      this.o.wireLog.write({ dav: this.id, put: name, found: 'its own version: the write whose answer was lost committed' });
      this.o.ledger.noteVersionSeen(parseCard(card.data), etag, at);
      this.local.set(name, { etag, data: card.data, dirty: false });
      return 1;
    }
    const theirs = parseCard(fresh.text);
    if (card.data === null) this.local.set(name, { etag, data: null, dirty: editableBy(theirs, this.id) });
    else if (!editableBy(theirs, this.id)) this.local.set(name, { etag, data: fresh.text, dirty: false });
    else this.local.set(name, { etag, data: cardText({ ...theirs, version: parseCard(card.data).version }), dirty: true });
    if (!this.local.get(name)?.dirty) this.o.ledger.noteVersionSeen(theirs, etag, at);
    return 1;
  }

  /** sync-collection from the token, then the changed cards by multiget; how many changed, or null. */
  private async pull(): Promise<number | null> {
    const res = await this.request('REPORT', this.path, { headers: { 'content-type': 'application/xml; charset=utf-8', depth: '0' }, body: syncRequest(this.token) });
    if (res === null) return null;
    if (res.status === 403 && res.text.includes('valid-sync-token')) {
      this.stats.fullResyncs++;
      this.o.wireLog.write({ dav: this.id, token: this.token, invalid: true });
      this.o.problem(`DAV client ${this.id}: the server refused its sync token ${this.token}`);
      this.token = '';
      return 1;
    }
    if (res.status !== 207) {
      this.o.problem(`DAV client ${this.id}: sync-collection answered ${res.status} ${res.text.slice(0, 300)}`);
      return null;
    }
    const initial = this.token === '';
    const members = responses(res.text);
    const listed = new Set<string>();
    const changed: string[] = [];
    let moved = 0;
    for (const m of members) {
      const name = nameOf(m.href);
      listed.add(name);
      const mine = this.local.get(name);
      if (/<d:status>HTTP\/1\.1 404 Not Found<\/d:status>/.test(m.raw) && !/<d:propstat>/.test(m.raw)) {
        if (mine && !mine.dirty) {
          this.local.delete(name);
          moved++;
        }
        continue;
      }
      const etag = unquote(decode(/<d:getetag>([^<]*)<\/d:getetag>/.exec(m.raw)?.[1] ?? ''));
      if (mine?.etag !== etag) changed.push(m.href);
    }
    if (initial) {
      // An initial sync lists every live member: what the copy holds beyond them is gone.
      for (const [name, card] of [...this.local]) {
        if (!listed.has(name) && !card.dirty) {
          this.local.delete(name);
          moved++;
        }
      }
    }
    for (let i = 0; i < changed.length; i += multigetHrefsMax) {
      const fetched = await this.multiget(changed.slice(i, i + multigetHrefsMax));
      if (fetched === null) return null;
      moved += fetched;
    }
    this.token = decode(/<d:sync-token>([^<]*)<\/d:sync-token>/.exec(res.text)?.[1] ?? '');
    this.o.wireLog.write({ dav: this.id, token: this.token, members: members.length, changed: changed.length });
    return moved;
  }

  private async multiget(hrefs: string[]): Promise<number | null> {
    const res = await this.request('REPORT', this.path, { headers: { 'content-type': 'application/xml; charset=utf-8', depth: '0' }, body: multigetRequest(hrefs) });
    if (res === null) return null;
    if (res.status !== 207) {
      this.o.problem(`DAV client ${this.id}: multiget answered ${res.status} ${res.text.slice(0, 300)}`);
      return null;
    }
    const at = monotonicMicros();
    let moved = 0;
    for (const m of responses(res.text)) {
      const name = nameOf(m.href);
      const mine = this.local.get(name);
      const data = /<[\w-]*:?address-data[^>]*>([\s\S]*?)<\/[\w-]*:?address-data>/.exec(m.raw)?.[1];
      if (data === undefined) {
        // Deleted since the sync-collection answer; the next one says so.
        if (mine && !mine.dirty) this.local.delete(name);
        continue;
      }
      const text = decode(data);
      const etag = unquote(decode(/<d:getetag>([^<]*)<\/d:getetag>/.exec(m.raw)?.[1] ?? ''));
      if (etag !== etagOf(text)) this.o.problem(`DAV client ${this.id}: multiget gave ${name} with etag ${etag}, but its bytes have etag ${etagOf(text)}`);
      this.o.ledger.noteVersionSeen(parseCard(text), etag, at);
      if (mine?.dirty) {
        // A local edit waits: it goes up with If-Match on the etag it was based on, and meets the 412 then.
        continue;
      }
      this.local.set(name, { etag, data: text, dirty: false });
      moved++;
    }
    return moved;
  }

  /** A request with a timeout; null when it got no answer or a 5xx from the balancer (to be sent again). */
  private async request(method: string, url: string, o: { headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Headers; text: string } | null> {
    try {
      const res = await fetch(`${this.o.baseUrl}${url}`, {
        method,
        headers: { authorization: this.authorization, ...o.headers },
        signal: AbortSignal.timeout(requestTimeoutMs),
        ...(o.body !== undefined ? { body: o.body } : {}),
      });
      const text = await res.text();
      if (res.status < 500) return { status: res.status, headers: res.headers, text };
      this.o.wireLog.write({ dav: this.id, [method]: url, status: res.status });
    } catch (err) {
      this.o.wireLog.write({ dav: this.id, [method]: url, failed: (err as Error).message });
    }
    this.stats.requestsFailed++;
    return null;
  }

  private editRandomly(): void {
    const edits = 1 + Math.floor(this.o.random() * editsPerRoundMax);
    for (let i = 0; i < edits; i++) this.editOnce();
  }

  /** An add, a change or a delete of a clean card (a dirty one waits for its upload). */
  private editOnce(): void {
    const live = [...this.local].filter(([, c]) => c.data !== null);
    const editable = live.filter(([, c]) => !c.dirty && editableBy(parseCard(c.data as string), this.id));
    const addShare = live.length < liveItemsTarget ? 0.5 : 0.1;
    const roll = this.o.random();
    if (roll < addShare || editable.length === 0) {
      const crashId = `${this.id}-${++this.itemsCreated}`;
      const card: Card = { crashId, version: this.nextVersion(), withUid: this.o.random() < 0.5, owner: this.id };
      this.local.set(`${crashId}.vcf`, { etag: null, data: cardText(card), dirty: true });
      return;
    }
    const [name, local] = editable[Math.floor(this.o.random() * editable.length)] as [string, LocalCard];
    if (roll < addShare + (1 - addShare) * 0.8) {
      this.local.set(name, { ...local, data: cardText({ ...parseCard(local.data as string), version: this.nextVersion() }), dirty: true });
    } else this.local.set(name, { ...local, data: null, dirty: true });
  }

  private nextVersion(): string {
    return `${this.id}.${++this.versionsWritten}`;
  }
}

/** Each `<d:response>` of a multistatus: its href and its inner XML. */
const responses = (xml: string) =>
  [...xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)].map((m) => ({ href: decode(/<d:href>([^<]*)<\/d:href>/.exec(m[1] as string)?.[1] ?? ''), raw: m[1] as string }));

/** The resource name of an href: its last segment, percent-decoded once (docs/dav.md § Names in URLs). */
const nameOf = (href: string) => decodeURIComponent(href.slice(href.lastIndexOf('/') + 1));

const unquote = (etag: string) => etag.replace(/^W\//, '').replace(/^"|"$/g, '');

/** XML character data to text: the five entities and character references. */
function decode(xml: string): string {
  return xml.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e] as string;
  });
}
