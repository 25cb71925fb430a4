import { limits } from '../../core/limits.js';
import { ns } from '../../protocol/dav-xml.js';
import { propKey } from './multistatus.js';
import { propfind } from './propfind.js';
import type { Transport } from './transport.js';

/**
 * Writing one upstream member under an ETag precondition (RFC 9110 §13.1): an update sends `If-Match`
 * with the etag the caller last saw, a create `If-None-Match: *`, a delete `If-Match`. A 412 means the
 * member changed (or exists) upstream: a conflict the caller resolves by fetching it and merging, not an
 * error (docs/architecture.md § Connectors).
 */

/** `etag` null: unknown (read with the member's data later): the server did not say, and the member no longer holds what was written (another client wrote since). */
export type PutResult = { outcome: 'written'; href: string; etag: string | null } | { outcome: 'conflict'; href: string };
export type DeleteResult = { outcome: 'deleted' | 'gone' | 'conflict'; href: string };

/** `precondition`: the etag of the version this one replaces, or 'create'. */
export async function putMember(t: Transport, href: string, data: string, type: 'addressbook' | 'calendar', precondition: { etag: string } | 'create'): Promise<PutResult> {
  const condition: Record<string, string> = precondition === 'create' ? { 'if-none-match': '*' } : { 'if-match': precondition.etag };
  const contentType = type === 'addressbook' ? 'text/vcard; charset=utf-8' : 'text/calendar; charset=utf-8';
  const answer = await t.open({ method: 'PUT', url: href, headers: { 'content-type': contentType, ...condition }, body: data, accept: [412] });
  await answer.discard();
  if (answer.status === 412) return { outcome: 'conflict', href };
  // Only a strong ETag can be sent back in If-Match; a server that sends none (or a weak one) is asked.
  const etag = strongEtag(answer.headers);
  return { outcome: 'written', href, etag: etag ?? (await etagIfHolds(t, href, data)) };
}

const strongEtag = (headers: Headers) => {
  const etag = headers.get('etag');
  return etag !== null && !etag.startsWith('W/') ? etag : undefined;
};

/**
 * The member's etag, if it holds `data`: asked for alone, the etag could be of another client's write
 * since, whose edit would then never be read (sim seed 11100535 with --upstreams 1).
 */
async function etagIfHolds(t: Transport, href: string, data: string): Promise<string | null> {
  const answer = await t.open({ method: 'GET', url: href, accept: [404] });
  if (answer.status === 404) {
    await answer.discard();
    return null;
  }
  let held = '';
  await answer.read(limits.upstreamResponseBytesMax, (chunk) => (held += chunk));
  return held === data ? (strongEtag(answer.headers) ?? null) : null;
}

export async function deleteMember(t: Transport, href: string, etag: string): Promise<DeleteResult> {
  const answer = await t.open({ method: 'DELETE', url: href, headers: { 'if-match': etag }, accept: [404, 410, 412] });
  await answer.discard();
  return { outcome: answer.status === 412 ? 'conflict' : answer.status === 404 || answer.status === 410 ? 'gone' : 'deleted', href };
}

/** The member's etag; undefined when it is not there (404), or the server gives none. */
export async function memberEtag(t: Transport, href: string): Promise<string | undefined> {
  const { responses } = await propfind(t, href, 0, [[ns.dav, 'getetag']], [404]);
  return responses[0]?.props.get(propKey(ns.dav, 'getetag'))?.text.trim() || undefined;
}
