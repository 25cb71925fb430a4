import { limits } from '../../../core/limits.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { EasContext } from '../context.js';
import { carried } from '../folders.js';
import { emailMapper, longId } from '../mapping/email.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { readOptions } from './sync-options.js';

/**
 * Search (MS-ASCMD 2.2.1.16) of the Mailbox store (docs/eas.md § Searching mail): a Query of FreeText,
 * optionally with Class Email and the CollectionIds to search (all mail folders when none), in an And or
 * alone; DeepTraversal adds the folders under those named. The words are searched for at the IMAP server
 * (hub.mail.search), so a message is found by any word of its subject, addresses or body, not only by the
 * portion the hub holds. Results are the newest first; Range picks among the first 100 (MS-ASCMD's most for
 * a mailbox); each carries a LongId (ItemOperations fetches the message by it), the CollectionId, and the
 * Email properties with the body as the item holds it, after the BodyPreference of the Options: nothing is
 * fetched from the mail server for a result, so a search costs one IMAP SEARCH per word and folder.
 * RebuildResults is taken and changes nothing: no result set is kept between searches. A GAL search
 * answers no entries: this server keeps no global address list.
 */
const s = namespace('Search');
const as = namespace('AirSync');

/** Store Status values (MS-ASCMD 2.2.3.177.13). */
export const searchStatus = { success: 1, invalidRequest: 2, serverError: 3, tooComplex: 8, folderSyncRequired: 11, endOfRange: 12 } as const;

class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function search(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const store = child(body, 'Store');
  let answer: WbxmlElement[];
  try {
    const name = text(child(store, 'Name'))?.trim().toLowerCase();
    if (!store || name === undefined) throw new Refused(searchStatus.invalidRequest, 'Search: a Store with a Name');
    if (name === 'gal') answer = [s('Status', String(searchStatus.success)), s('Result'), s('Total', '0')];
    else if (name !== 'mailbox') throw new Refused(searchStatus.invalidRequest, `Search: no store ${name.slice(0, 40)} here`);
    else answer = await searchMailbox(ctx, store);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    ctx.logger.info({ deviceId: ctx.point.device.id, status: err.status, reason: err.message }, 'ActiveSync Search refused');
    answer = [s('Status', String(err.status))];
  }
  return s('Search', s('Status', String(searchStatus.success)), s('Response', s('Store', ...answer)));
}

/** The criteria of a mailbox Query: its words, and the folders it names. Anything else is more than this server searches by (Status 8). */
function readQuery(query: WbxmlElement | undefined): { words: string[]; collectionIds: string[] } {
  const elements = (e: WbxmlElement | undefined) => (e?.children ?? []).filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));
  const top = elements(query);
  const and = top.length === 1 && top[0]?.name === 'And' ? top[0] : undefined;
  const criteria = and ? elements(and) : top;
  let freeText: string | undefined;
  const collectionIds: string[] = [];
  for (const c of criteria) {
    const value = text(c)?.trim() ?? '';
    if (c.name === 'FreeText' && c.ns === 'Search' && freeText === undefined) freeText = value;
    else if (c.name === 'CollectionId' && c.ns === 'AirSync') collectionIds.push(value);
    else if (c.name === 'Class' && c.ns === 'AirSync' && value === 'Email') continue;
    else throw new Refused(searchStatus.tooComplex, `Search: ${c.ns}:${c.name} ${c.name === 'Class' ? value.slice(0, 20) : ''} is not searched by here; a mailbox is searched by FreeText, Class Email and CollectionId`);
  }
  if (freeText === undefined || freeText === '') throw new Refused(searchStatus.invalidRequest, 'Search: a Query with the FreeText to look for');
  if (freeText.length > limits.mailSearchTextCharsMax) throw new Refused(searchStatus.invalidRequest, `Search: FreeText of more than ${limits.mailSearchTextCharsMax} characters`);
  const words = [...new Set(freeText.split(/\s+/).filter((w) => w !== ''))];
  if (words.length > limits.mailSearchWordsMax) throw new Refused(searchStatus.tooComplex, `Search: more than ${limits.mailSearchWordsMax} words`);
  return { words, collectionIds };
}

/** Range `m-n` (MS-ASCMD 2.2.3.143.3): absent, 0-99; n past the 100th result, Status 12. */
function readRange(options: WbxmlElement | undefined): { start: number; end: number } {
  const range = text(child(options, 'Range'));
  if (range === undefined) return { start: 0, end: limits.easSearchResultsMax - 1 };
  const m = /^(\d{1,9})-(\d{1,9})$/.exec(range.trim());
  const [start, end] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(start <= end)) throw new Refused(searchStatus.invalidRequest, `Search: Range ${JSON.stringify(range.slice(0, 40))} is not m-n with m ≤ n`);
  if (end >= limits.easSearchResultsMax) throw new Refused(searchStatus.endOfRange, `Search: Range past the first ${limits.easSearchResultsMax} results`);
  return { start, end };
}

async function searchMailbox(ctx: EasContext, store: WbxmlElement): Promise<WbxmlElement[]> {
  const { words, collectionIds } = readQuery(child(store, 'Query'));
  const options = child(store, 'Options');
  const { start, end } = readRange(options);
  const mail = carried(await ctx.hub.accounts.listCollections(ctx.point.accountId)).filter((c) => c.kind === 'mail');
  let folders = mail;
  if (collectionIds.length > 0) {
    const named = collectionIds.map((id) => mail.find((c) => c.id === id));
    if (named.some((c) => c === undefined)) throw new Refused(searchStatus.folderSyncRequired, 'Search: a CollectionId that is no mail folder of the account');
    const deep = child(options, 'DeepTraversal') !== undefined;
    const names = named.map((c) => `${c?.displayName}/`);
    folders = mail.filter((c) => collectionIds.includes(c.id) || (deep && names.some((n) => c.displayName.startsWith(n))));
  }
  if (folders.length > limits.mailSearchFoldersMax) throw new Refused(searchStatus.tooComplex, `Search: ${folders.length} folders, more than ${limits.mailSearchFoldersMax} searched at once; name a folder`);
  let found;
  try {
    found = await ctx.hub.mail.search(ctx.point.accountId, folders.map((c) => c.id), words, end + 1);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    if (err.status === 'notFound') throw new Refused(searchStatus.folderSyncRequired, err.message);
    if (err.status === 'limitReached') throw new Refused(searchStatus.tooComplex, err.message);
    throw new Refused(searchStatus.serverError, err.message);
  }
  const { bodyPreference, bodyPartPreference } = readOptions(store, 'mail', ctx.now());
  const results: WbxmlElement[] = [];
  for (const item of found.items.slice(start, end + 1)) {
    let properties: WbxmlElement[];
    try {
      properties = emailMapper.toEas(item.data, { version: ctx.request.version, item: { collectionId: item.collectionId, serverId: item.itemId }, ...(bodyPreference ? { bodyPreference } : {}), ...(bodyPartPreference ? { bodyPartPreference } : {}) });
    } catch {
      continue;
    }
    results.push(s('Result', as('Class', 'Email'), s('LongId', longId(item.collectionId, item.itemId)), as('CollectionId', item.collectionId), s('Properties', ...properties)));
  }
  return [
    s('Status', String(searchStatus.success)),
    ...(results.length > 0 ? results : [s('Result')]),
    results.length > 0 && s('Range', `${start}-${start + results.length - 1}`),
    s('Total', String(found.total)),
  ].filter((e): e is WbxmlElement => e !== false);
}
