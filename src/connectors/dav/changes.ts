import { limits } from '../../core/limits.js';
import { parseXml } from '../../protocol/xml.js';
import { UpstreamError } from '../../protocol/upstream-errors.js';
import { ns } from '../../protocol/dav-xml.js';
import { descendants, document, el, propKey, text, type MemberResponse } from './multistatus.js';
import { propfind, readMultistatus, sameResource, xmlContentType } from './propfind.js';
import type { Transport } from './transport.js';

/**
 * What changed in an upstream collection since the caller last looked (docs/architecture.md §
 * Connectors): the sync-collection REPORT of RFC 6578 from a stored token, following 507 paging; or, for
 * servers without it, getctag and a Depth 1 etag listing compared with the etags the caller holds. Only
 * hrefs and etags: the caller fetches the members it wants with fetchMembers (multiget.ts), and stores
 * the new token or ctag only once it has applied them.
 */

export interface KnownState {
  /** The sync-token the last applied listing ended with; none for an initial sync. */
  syncToken?: string;
  /** The ctag and the members' etags (by href, as this module gave them) after the last applied etag listing. */
  ctag?: string;
  etags?: ReadonlyMap<string, string>;
}

export interface MemberChange {
  /** Absolute URL, as the server encoded it. */
  href: string;
  etag?: string;
}

export interface ChangeList {
  method: 'sync-collection' | 'etag-listing';
  /**
   * The list names every member, not changes: there was no token (or known etags), or the server refused
   * the one given (`restarted`). The caller must match members to what it holds by UID, not duplicate
   * them, and treat what it holds and the list does not name as deleted upstream.
   */
  initial: boolean;
  /** Why a token given was not used: the server named it invalid (403/409 `DAV:valid-sync-token`), or refused it otherwise (a 403/409 without that precondition, or a 5xx twice: Xandikos answers 500). */
  restarted?: 'invalid-token' | 'token-refused';
  /** sync-collection: the token to store once the changes are applied. */
  syncToken?: string;
  /** etag-listing: the ctag to store once the changes are applied (none when the server has no getctag). */
  ctag?: string;
  /** Members added or changed since (all members, when initial). */
  changed: MemberChange[];
  /** Members removed since (never when initial). */
  removed: string[];
}

export interface ListOptions {
  /** sync-collection (the default; a server that refuses it without a token is listed by etags instead, from the ctag and etags known), or etag-listing. */
  method?: 'sync-collection' | 'etag-listing';
}

export async function listChanges(t: Transport, collectionUrl: string, known: KnownState, options: ListOptions = {}): Promise<ChangeList> {
  if (options.method === 'etag-listing') return listByEtags(t, collectionUrl, known);
  const token = known.syncToken ?? '';
  if (token !== '') {
    const first = await syncCollection(t, collectionUrl, token);
    if (first.outcome === 'listed') return first.list;
    // A 5xx may be a passing failure: the same token is asked once more before it is given up.
    const second = first.outcome === 'server-error' ? await syncCollection(t, collectionUrl, token) : first;
    if (second.outcome === 'listed') return second.list;
    // Asked again from no token: if that fails too (a 5xx), the server is down, not the token, and that error is thrown.
    const restarted = second.outcome === 'invalid-token' ? 'invalid-token' : 'token-refused';
    const fresh = await syncCollection(t, collectionUrl, '');
    if (fresh.outcome === 'listed') return { ...fresh.list, restarted };
    throw fresh.error;
  }
  const fresh = await syncCollection(t, collectionUrl, '');
  if (fresh.outcome === 'listed') return fresh.list;
  // The etags of an earlier etag listing still hold: only what changed since is named.
  if (fresh.outcome === 'unsupported') return listByEtags(t, collectionUrl, known);
  throw fresh.error;
}

type Attempt =
  | { outcome: 'listed'; list: ChangeList }
  | { outcome: 'invalid-token' | 'token-refused' | 'server-error' | 'unsupported'; error: UpstreamError };

/** One sync-collection from `token`, its 507 pages followed (each asked again from the token the page ended with). */
async function syncCollection(t: Transport, collectionUrl: string, token: string): Promise<Attempt> {
  const changes = new Map<string, MemberChange | 'removed'>();
  let at = token;
  for (let page = 0; ; page++) {
    if (page >= limits.upstreamSyncPagesMax) throw new UpstreamError('too-large', `sync-collection of ${collectionUrl} still truncated after ${page} pages`, { url: collectionUrl });
    const body = document(el(ns.dav, 'sync-collection', el(ns.dav, 'sync-token', text(at)) + el(ns.dav, 'sync-level', '1') + el(ns.dav, 'prop', el(ns.dav, 'getetag'))));
    // Never a DAV:limit: Xandikos 0.2.8 cuts its answer there yet returns the newest token, losing the rest.
    const answer = await t.open({
      method: 'REPORT',
      url: collectionUrl,
      headers: { depth: '1', 'content-type': xmlContentType },
      body,
      accept: page === 0 ? [400, 403, 405, 409, 500, 501] : [],
    });
    if (answer.status !== 207) {
      const refusal = await refusalOf(answer.status, answer, token, collectionUrl);
      if (refusal) return refusal;
      throw new UpstreamError('protocol', `sync-collection of ${collectionUrl}: unexpected status ${answer.status}`, { status: answer.status });
    }
    let truncated = false;
    const end = await readMultistatus(answer, (r: MemberResponse) => {
      if (sameResource(r.href, collectionUrl)) {
        // RFC 6578 §3.6: the collection's own response with 507 says the answer stops here.
        if (r.status === 507 || (r.error !== undefined && descendants(r.error, ns.dav, 'number-of-matches-within-limits').length > 0)) truncated = true;
        return;
      }
      if (r.status === 404) changes.set(r.href, 'removed');
      else if (r.status === undefined || (r.status >= 200 && r.status < 300)) {
        const etag = r.props.get(propKey(ns.dav, 'getetag'))?.text.trim();
        changes.set(r.href, etag ? { href: r.href, etag } : { href: r.href });
      }
      if (changes.size > limits.upstreamMembersMax) throw new UpstreamError('too-large', `sync-collection of ${collectionUrl} names more than ${limits.upstreamMembersMax} members`);
    });
    if (end.syncToken === undefined || end.syncToken === '') throw new UpstreamError('protocol', `sync-collection of ${collectionUrl} answered without a sync-token`);
    if (truncated && end.syncToken === at) throw new UpstreamError('protocol', `sync-collection of ${collectionUrl} is truncated yet its token does not move`);
    at = end.syncToken;
    if (truncated) continue;
    const changed: MemberChange[] = [];
    const removed: string[] = [];
    for (const [href, change] of changes) {
      if (change !== 'removed') changed.push(change);
      else if (token !== '') removed.push(href);
    }
    return { outcome: 'listed', list: { method: 'sync-collection', initial: token === '', syncToken: at, changed, removed } };
  }
}

/** What a first page's error status means: for no token, whether the server lacks sync-collection; for a token, whether it refuses that token (the error body is read for its precondition, within limits.upstreamErrorBodyBytesMax). */
async function refusalOf(status: number, answer: Awaited<ReturnType<Transport['open']>>, token: string, url: string): Promise<Attempt | undefined> {
  let body = '';
  await answer.read(limits.upstreamErrorBodyBytesMax, (chunk) => (body += chunk)).catch(() => undefined);
  const error = new UpstreamError(status >= 500 ? 'transient' : 'protocol', `sync-collection of ${url}: ${status}`, { status, url });
  if (token === '') return [400, 403, 405, 501].includes(status) ? { outcome: 'unsupported', error } : { outcome: 'server-error', error };
  if (status >= 500) return { outcome: 'server-error', error };
  if (status === 403 || status === 409) return { outcome: namesValidSyncToken(body) ? 'invalid-token' : 'token-refused', error };
  return undefined;
}

/** Whether an error body names the `DAV:valid-sync-token` precondition (RFC 6578 §3.2). */
function namesValidSyncToken(body: string): boolean {
  try {
    const root = parseXml(body, limits.xmlDepthMax, true, limits.davXmlElementsMax);
    return (root.ns === ns.dav && root.name === 'valid-sync-token') || descendants(root, ns.dav, 'valid-sync-token').length > 0;
  } catch {
    return false;
  }
}

/** getctag first (an unchanged one means nothing changed), then every member's etag against those known. */
async function listByEtags(t: Transport, collectionUrl: string, known: KnownState): Promise<ChangeList> {
  const { responses: self } = await propfind(t, collectionUrl, 0, [[ns.cs, 'getctag']]);
  const ctag = self[0]?.props.get(propKey(ns.cs, 'getctag'))?.text.trim() || undefined;
  const initial = known.etags === undefined;
  const base = { method: 'etag-listing' as const, initial, ...(ctag === undefined ? {} : { ctag }) };
  if (!initial && ctag !== undefined && ctag === known.ctag) return { ...base, changed: [], removed: [] };
  const { responses } = await propfind(t, collectionUrl, 1, [
    [ns.dav, 'getetag'],
    [ns.dav, 'resourcetype'],
  ]);
  const changed: MemberChange[] = [];
  const present = new Set<string>();
  for (const r of responses) {
    const isCollection = (r.props.get(propKey(ns.dav, 'resourcetype'))?.children ?? []).some((c) => c.ns === ns.dav && c.name === 'collection');
    if (isCollection || sameResource(r.href, collectionUrl)) continue;
    present.add(r.href);
    const etag = r.props.get(propKey(ns.dav, 'getetag'))?.text.trim();
    if (etag === undefined || etag === '' || known.etags?.get(r.href) !== etag) changed.push(etag ? { href: r.href, etag } : { href: r.href });
  }
  const removed = initial ? [] : [...(known.etags?.keys() ?? [])].filter((href) => !present.has(href));
  return { ...base, changed, removed };
}
