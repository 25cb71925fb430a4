import { assert } from './assert.js';

/**
 * Every bound the server enforces, in one place. Units and qualifiers come last in each name.
 * The relations between them are checked when this module loads, so a bad edit fails at start-up.
 */
export const limits = {
  /** Largest request body, before and after gzip decoding. */
  requestBytesMax: 16 * 1024 * 1024,
  /** Largest single vCard or iCalendar object. */
  itemBytesMax: 1024 * 1024,
  /** Longest physical line inside an item, before unfolding (an unfolded PHOTO line is the usual giant). */
  itemLineBytesMax: 512 * 1024,
  /** Deepest XML element nesting accepted in a request. */
  xmlDepthMax: 16,
  /** Most items a server may send for one collection in one response. */
  windowItemsMax: 1000,
  /** Window used when the client does not send one. */
  windowItemsDefault: 100,
  /** Most client commands (add/change/delete/fetch) per collection per request. */
  commandsPerCollectionMax: 1000,
  /** Most push-token ranges a device may echo per collection in one sync request. */
  tokenRangesMax: 1000,
  /** Changes larger than this are pushed in two portions: the first, and the rest on request by token. */
  pushPortionBytes: 16 * 1024,
  /** Notifications a long-poll mailbox holds for a device between polls; beyond it the device must sync. */
  pollMailboxMax: 1000,
  /** Most collections in one sync request. */
  collectionsPerRequestMax: 64,
  /** Most recurrence instances expanded while indexing one event; beyond it the series counts as unbounded. */
  recurrenceInstancesMax: 5000,
  /** Deleted items are remembered this long so devices can learn of the delete; older sync keys must re-initialize. */
  tombstoneRetentionMs: 90 * 24 * 3600 * 1000,
  /** This many re-initializations of one (device, collection) inside the window below is reported as a loop. */
  reinitLoopCount: 3,
  reinitLoopWindowMs: 3600 * 1000,
  /** Ids sent by clients. */
  idCharsMax: 128,
  clientIdCharsMax: 256,
  /** Collection names, display names and colours. */
  nameCharsMax: 200,
  /** Largest body of a sign-in or password change, after gzip decoding: read before anyone is authenticated. */
  credentialsBodyBytesMax: 16 * 1024,
} as const;

assert(limits.itemBytesMax <= limits.requestBytesMax, 'an item must fit in a request');
assert(limits.itemLineBytesMax <= limits.itemBytesMax, 'a line must fit in an item');
assert(limits.windowItemsDefault <= limits.windowItemsMax, 'default window within max');
assert(limits.reinitLoopCount >= 2, 'a loop needs at least two re-initializations');
