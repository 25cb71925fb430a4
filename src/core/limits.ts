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
  /**
   * Candidate dates ical.js may test (recurrence rules, time zone transitions) for one request, shared by
   * all its items: the base, plus this many per KiB of item data, up to the cap. About 2 µs each.
   * See docs/architecture.md, "Calendar content has a cost budget".
   */
  ruleStepsBase: 10_000,
  ruleStepsPerKiB: 40,
  ruleStepsRequestMax: 100_000,
  /** Steps charged for one RDATE or EXDATE value (ical.js sorts and converts them outside the rule loop), and per instance walked. */
  recurrenceDateSteps: 10,
  recurrenceInstanceSteps: 4,
  /** RDATE and EXDATE values in one item, VTIMEZONE observances included. */
  recurrenceDatesMax: 1000,
  /** RRULE and EXRULE properties in one component, and BY* values in one rule. */
  recurrenceRulesMax: 8,
  ruleByValuesMax: 400,
  /** Longest DURATION, TRIGGER or period duration in an item: 100 years (ical.js adds them month by month). */
  durationSecondsMax: 36_525 * 86_400,
  /** Deepest nesting of components in an item (VCALENDAR > VEVENT > VALARM is 3). */
  componentDepthMax: 8,
  /**
   * A VTIMEZONE observance with an RRULE is expanded by ical.js from its DTSTART to five years past the
   * latest year the item uses: the years of all such observances of one item, summed, are at most this.
   */
  timezoneRuleYearsMax: 1000,
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
} as const;

assert(limits.itemBytesMax <= limits.requestBytesMax, 'an item must fit in a request');
assert(limits.itemLineBytesMax <= limits.itemBytesMax, 'a line must fit in an item');
assert(limits.windowItemsDefault <= limits.windowItemsMax, 'default window within max');
assert(limits.ruleStepsBase <= limits.ruleStepsRequestMax, 'a small request gets its whole base');
assert(limits.recurrenceDatesMax * limits.recurrenceDateSteps <= limits.ruleStepsBase, 'an item with the most dates fits a request of its own');
assert(limits.reinitLoopCount >= 2, 'a loop needs at least two re-initializations');
