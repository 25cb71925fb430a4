import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import { addCommand, cal, collectionOf, easAccount, easUtc, maybeText, textAt, toXml, all } from '../support/eas-client.js';
import { startTestServer, vevent, type TestServer } from '../support/server.js';
import { add, newAccount, syncOnce } from '../support/sync.js';

/**
 * Calendar content whose evaluation cost ical.js far more than its size (docs/architecture.md, "Calendar
 * content has a cost budget"), sent through every face that writes items: each such item fails alone with
 * a precise error (or, for a rule that only spends the request's budget, is stored as open-ended), the
 * good items beside it are stored, and the server keeps answering. Before the budget, the first two cost
 * seconds of CPU each, the zone that never matches hung the server, and the ActiveSync batch cost 40 s.
 */

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

const calendar = (uid: string, head: string[], ...lines: string[]) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...head, 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
const zone = (rule: string, start: string) =>
  ['BEGIN:VTIMEZONE', 'TZID:X', 'BEGIN:STANDARD', `DTSTART:${start}`, 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0000', `RRULE:${rule}`, 'END:STANDARD', 'END:VTIMEZONE'];

/** The payloads, as bench/limits.bench.ts reuses them. */
const pathological = {
  duration: calendar('cost-duration', [], 'DTSTART:20260101T000000Z', 'DURATION:P1000000000W', 'SUMMARY:Forever'),
  zoneDailyFromYearOne: calendar('cost-zone-daily', zone('FREQ=DAILY', '00010101T000000'), 'DTSTART;TZID=X:20260101T090000'),
  zoneHourlyFromYearOne: calendar('cost-zone-hourly', zone('FREQ=HOURLY', '00010101T000000'), 'DTSTART;TZID=X:20260101T090000'),
  zoneNeverMatching: calendar('cost-zone-never', zone('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', '19700101T000000'), 'DTSTART;TZID=X:20260101T090000'),
  nested: calendar('cost-nested', [], 'DTSTART:20260101T000000Z', ...Array(5000).fill('BEGIN:X-N'), ...Array(5000).fill('END:X-N')),
  exdates: calendar('cost-exdates', [], 'DTSTART:20260101T000000Z', 'RRULE:FREQ=DAILY', ...Array.from({ length: 20_000 }, (_, i) => `EXDATE:${20260102 + (i % 27)}T000000Z`)),
};
const expected: Record<keyof typeof pathological, RegExp> = {
  duration: /DURATION P1000000000W is longer than 36525 days/,
  zoneDailyFromYearOne: /VTIMEZONE observance may only repeat yearly/,
  zoneHourlyFromYearOne: /VTIMEZONE observance may only repeat yearly/,
  zoneNeverMatching: /VTIMEZONE observance may only repeat yearly/,
  nested: /components nest deeper than 8/,
  exdates: /more than 1000 RDATE and EXDATE values/,
};

async function healthy(): Promise<void> {
  const res = await fetch(`${server.url}/health`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

test('native sync: each costly item fails alone with invalidItem and its reason; the good ones around it are stored', async () => {
  const account = await newAccount(server);
  const names = Object.keys(pathological) as Array<keyof typeof pathological>;
  const commands = [add('good-1', vevent('cost-good-1', 'Good one')), ...names.map((n) => add(n, pathological[n])), add('good-2', vevent('cost-good-2', 'Good two'))];
  const answer = syncOnce(server, account.authorization, 'native-1', { collectionId: account.calendar, syncKey: 0, commands });
  // The server answers others while it works (the old code was busy for seconds here, or for ever).
  await healthy();
  const { results } = await answer;
  assert.equal(results.length, commands.length);
  assert.equal(results[0]?.status, 'ok');
  assert.equal(results.at(-1)?.status, 'ok');
  for (const [i, name] of names.entries()) {
    const result = results[i + 1];
    assert.equal(result?.status, 'invalidItem', `${name}: ${JSON.stringify(result)}`);
    assert.match(result?.message ?? '', expected[name], name);
  }
  await healthy();
});

test('CalDAV PUT: a costly item gets 403 valid-calendar-data with its reason; nothing is stored', async () => {
  const account = await newAccount(server);
  const base = `${server.url}/dav/users/${account.accountName}/calendar/`;
  for (const [name, data] of Object.entries(pathological)) {
    const res = await fetch(`${base}${name}.ics`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'text/calendar; charset=utf-8' }, body: data });
    const text = await res.text();
    assert.equal(res.status, 403, `${name}: ${res.status} ${text.slice(0, 300)}`);
    assert.match(text, /valid-calendar-data/);
    assert.match(text, expected[name as keyof typeof pathological], name);
  }
  const good = await fetch(`${base}good.ics`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'text/calendar; charset=utf-8' }, body: vevent('cost-good', 'Good') });
  assert.equal(good.status, 201);
  await healthy();
});

// 1,000 such Adds (82 KB) took 40 s of CPU: every item had 20,000 steps of its own. Now the request has
// one budget; the items it cannot walk are stored as open-ended series, so nothing is refused or lost.
// A Sync may carry at most itemsPerRequestMax Adds and Changes; one more is refused whole (Status 4).
test('ActiveSync: a Sync full of Adds with a rule that never matches shares one budget and all are stored; one Add more is refused before any is read', async () => {
  const account = await easAccount(server);
  const client = account.eas('costeas');
  const key = await client.primeSync(account.calendar);
  const event = (subject: string) => [
    cal('Timezone', Buffer.alloc(172).toString('base64')),
    cal('AllDayEvent', '0'),
    cal('StartTime', easUtc(1)),
    cal('EndTime', easUtc(1, 11)),
    cal('DtStamp', easUtc(0)),
    cal('Subject', subject),
    // Every 30 February: ical.js tests candidate after candidate without ever finding one.
    cal('Recurrence', cal('Type', '5'), cal('Interval', '1'), cal('MonthOfYear', '2'), cal('DayOfMonth', '30')),
  ];
  const tooMany = Array.from({ length: limits.itemsPerRequestMax + 1 }, (_, i) => addCommand(`over-${i}`, ...event(`Over ${i}`)));
  const refusedAnswer = await client.sync({ collectionId: account.calendar, syncKey: key, commands: tooMany });
  assert.match(toXml(refusedAnswer), /<Sync[^>]*><Status>4<\/Status><\/Sync>/);
  const commands = Array.from({ length: limits.itemsPerRequestMax }, (_, i) => addCommand(`never-${i}`, ...event(`Never ${i}`)));
  const started = Date.now();
  const answer = client.sync({ collectionId: account.calendar, syncKey: key, commands });
  await healthy();
  const collection = collectionOf(await answer);
  const elapsedMs = Date.now() - started;
  assert.equal(textAt(collection, 'Status'), '1', toXml(collection).slice(0, 500));
  const statuses = all(collection, 'Responses/Add').map((r) => maybeText(r, 'Status'));
  assert.equal(statuses.length, limits.itemsPerRequestMax);
  assert.ok(statuses.every((s) => s === '1'), `statuses: ${[...new Set(statuses)].join(',')}`);
  // A bound far above what the request now costs and far below the 40 s it cost before.
  assert.ok(elapsedMs < 20_000, `the batch took ${elapsedMs} ms`);
});
