import { limits } from '../../core/limits.js';
import { ns } from '../../protocol/dav-xml.js';
import { document, el, MultistatusReader, type MemberResponse } from './multistatus.js';
import type { DavRequest, OpenAnswer, Transport } from './transport.js';

/** A PROPFIND, and reading any multistatus answer, for the connector's other modules. */

export const xmlContentType = 'application/xml; charset=utf-8';

/** Reads an opened 207 answer to its end, handing each response on; returns the top-level sync-token, if any. */
export async function readMultistatus(answer: OpenAnswer, onResponse: (r: MemberResponse) => void): Promise<{ syncToken?: string }> {
  const reader = new MultistatusReader(answer.url, onResponse);
  await answer.read(limits.upstreamResponseBytesMax, (chunk) => reader.write(chunk));
  return reader.close();
}

/** Sends a request whose answer is a multistatus and collects its responses; an accepted status other than 207 gives none. */
export async function multistatus(t: Transport, request: DavRequest): Promise<{ responses: MemberResponse[]; syncToken?: string }> {
  const answer = await t.open(request);
  const responses: MemberResponse[] = [];
  if (answer.status !== 207) {
    await answer.discard();
    return { responses };
  }
  const end = await readMultistatus(answer, (r) => responses.push(r));
  return { responses, ...end };
}

/** PROPFIND `url` for these properties ([namespace, name] pairs) at Depth 0 or 1. */
export function propfind(t: Transport, url: string, depth: 0 | 1, props: ReadonlyArray<readonly [string, string]>, accept?: readonly number[]): Promise<{ responses: MemberResponse[] }> {
  const body = document(el(ns.dav, 'propfind', el(ns.dav, 'prop', props.map(([n, name]) => el(n, name)).join(''))));
  return multistatus(t, { method: 'PROPFIND', url, headers: { depth: String(depth), 'content-type': xmlContentType }, body, ...(accept ? { accept } : {}) });
}

/** A URL as a key that two spellings of one resource share (a trailing slash, or how the server percent-encoded a character, aside). */
export function resourceKey(url: string): string {
  const parsed = new URL(url);
  let path = parsed.pathname.replace(/\/+$/, '');
  try {
    path = decodeURIComponent(path);
  } catch {
    // Left as sent: a malformed escape compares as written.
  }
  return `${parsed.origin}${path}`;
}

export const sameResource = (a: string, b: string) => resourceKey(a) === resourceKey(b);
