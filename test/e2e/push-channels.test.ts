import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import type { ChangeNotice } from '../../src/protocol/push.js';
import { recordLocalPut } from '../../src/sdk/replica.js';
import { eventually, openRawChannel, sdkDevice, subscribe } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { add, newAccount, syncOnce } from '../support/sync.js';

/** The fallback channels (SSE, long-poll), tickets, and changes too large for one notice. */
let server: TestServer;

before(async () => {
  server = await startTestServer({ pushHeartbeatSeconds: 0.5 });
});

after(async () => {
  await server.stop();
});

async function writeCard(account: Awaited<ReturnType<typeof newAccount>>, uid: string, name: string, extra = '') {
  const writer = sdkDevice(server.url, account.accountName, account.password, `writer-${uid}`);
  await writer.client.syncCollection(account.contacts);
  writer.replica.transaction((tx) => recordLocalPut(tx, account.contacts, uid, vcard(uid, name, extra)));
  await writer.client.syncCollection(account.contacts);
  return writer;
}

async function ticketFor(authorization: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/push/ticket`, { method: 'POST', headers: { authorization } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { ticket: string; expiresInMs: number };
  assert.ok(body.expiresInMs > 0 && body.expiresInMs <= 60_000);
  return body.ticket;
}

/** Reads SSE events from a fetch stream into a list. */
function readEvents(body: ReadableStream<Uint8Array>): Array<{ event: string; id?: string; data: any }> {
  const events: Array<{ event: string; id?: string; data: any }> = [];
  let text = '';
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of body) {
      text += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const fields: Record<string, string> = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
        events.push({ event: fields.event ?? '', ...(fields.id ? { id: fields.id } : {}), data: JSON.parse(fields.data ?? 'null') });
      }
    }
  })().catch(() => undefined);
  return events;
}

test('SSE opens with a single-use ticket, not without one, and carries changes and heartbeats', async () => {
  const account = await newAccount(server);
  const anonymous = await fetch(`${server.url}/api/v1/push/events?device=browser`);
  assert.equal(anonymous.status, 401);
  const ticket = await ticketFor(account.authorization);
  const controller = new AbortController();
  const res = await fetch(`${server.url}/api/v1/push/events?device=browser&ticket=${ticket}`, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = readEvents(res.body as ReadableStream<Uint8Array>);
  await eventually(() => events.some((e) => e.event === 'hello'), 'hello');
  const spent = await fetch(`${server.url}/api/v1/push/events?device=browser&ticket=${ticket}`);
  assert.equal(spent.status, 401, 'a ticket opens one channel only');
  const made = await fetch(`${server.url}/api/v1/push/events?device=browser&ticket=made-up`);
  assert.equal(made.status, 401);

  await writeCard(account, 'sse-1', 'Streamed');
  await eventually(() => events.some((e) => e.event === 'change'), 'the change event');
  const change = events.find((e) => e.event === 'change');
  assert.equal(change?.id, String(change?.data.token), 'the event id is the token');
  assert.match(change?.data.command.data, /FN:Streamed/);
  await eventually(() => events.some((e) => e.event === 'heartbeat' && e.data.lastToken === change?.data.token), 'a heartbeat naming the last token');
  controller.abort();
});

test('an event stream that ends says why in a last close event; a WebSocket frame over 4096 bytes closes with 1009', async () => {
  const account = await newAccount(server);
  const res = await fetch(`${server.url}/api/v1/push/events?device=laptop`, { headers: { authorization: account.authorization } });
  const events = readEvents(res.body as ReadableStream<Uint8Array>);
  await eventually(() => events.some((e) => e.event === 'hello'), 'hello');
  const taker = openRawChannel(server.url, { device: 'laptop' }, { authorization: account.authorization });
  await taker.next((m) => m.type === 'hello');
  await eventually(() => events.some((e) => e.event === 'close'), 'the close event');
  assert.deepEqual(events.at(-1), { event: 'close', data: { type: 'close', code: 4001, reason: 'a newer channel for this device took over' } });

  taker.socket.send('x'.repeat(4097));
  assert.equal((await taker.closed).code, 1009);
});

test('long-poll answers when a change commits, keeps notices until acknowledged, and times out empty', async () => {
  const account = await newAccount(server);
  const poll = async (after: number, wait: number) => {
    const res = await fetch(`${server.url}/api/v1/push/poll?device=pager&after=${after}&wait=${wait}`, { headers: { authorization: account.authorization } });
    assert.equal(res.status, 200);
    return (await res.json()) as { messages: ChangeNotice[]; lastToken: number };
  };
  const started = Date.now();
  const empty = await poll(0, 1);
  assert.deepEqual(empty.messages, []);
  assert.ok(Date.now() - started >= 900, 'an empty answer waits for the requested time');

  const waiting = poll(0, 20);
  await new Promise((r) => setTimeout(r, 100));
  await writeCard(account, 'lp-1', 'Polled');
  const first = await waiting;
  assert.equal(first.messages.length, 1);
  const token = (first.messages[0] as ChangeNotice).token;
  assert.match((first.messages[0] as ChangeNotice).command.op === 'add' ? (first.messages[0] as any).command.data : '', /Polled/);
  // The answer was "lost": polling again without acknowledging returns it again.
  assert.deepEqual((await poll(0, 1)).messages.map((m) => m.token), [token]);
  // Acknowledged, it is gone.
  assert.deepEqual((await poll(token, 1)).messages, []);

  const bad = await fetch(`${server.url}/api/v1/push/poll?device=pager&wait=999`, { headers: { authorization: account.authorization } });
  assert.equal(bad.status, 400);
});

test('a change larger than one portion is split: the notice carries the first part, the token fetches the rest', async () => {
  const account = await newAccount(server);
  const photo = `PHOTO;ENCODING=b;TYPE=JPEG:${'QUJD'.repeat(limits.pushPortionBytes / 2)}\r\n`;
  const reader = sdkDevice(server.url, account.accountName, account.password, 'reader');
  await reader.client.syncCollection(account.contacts);
  const raw = openRawChannel(server.url, { device: 'raw-reader' }, { authorization: account.authorization });
  await raw.next((m) => m.type === 'hello');
  const subscriber = subscribe(reader, [account.contacts]);
  await eventually(() => subscriber.stats.syncs > 0, 'the subscriber to connect');

  const writer = await writeCard(account, 'big', 'Big Photo', photo);
  const full = writer.replica.transaction((tx) => tx.get(account.contacts, 'big'))?.data as string;
  const notice = (await raw.next((m) => m.type === 'change')) as ChangeNotice;
  assert.ok(notice.command.op === 'add' && notice.command.truncated === true && notice.command.size === Buffer.byteLength(full));
  assert.ok(Buffer.byteLength(notice.command.data) <= limits.pushPortionBytes);

  // The SDK completes it by token and applies it whole, without a sync.
  await eventually(() => reader.replica.transaction((tx) => tx.all(account.contacts)).some((i) => i.data === full), 'the whole card on the reader');
  assert.equal(subscriber.stats.applied, 1);
  const remainder = await fetch(`${server.url}/api/v1/push/remainder/${notice.token}?device=raw-reader`, { headers: { authorization: account.authorization } });
  assert.equal(remainder.status, 200);
  const rest = (await remainder.json()) as { data: string; offset: number };
  assert.equal(notice.command.data + rest.data, full);
  assert.equal(rest.offset, Buffer.byteLength(notice.command.data));
  const unknown = await fetch(`${server.url}/api/v1/push/remainder/999999?device=raw-reader`, { headers: { authorization: account.authorization } });
  assert.equal(unknown.status, 404);

  // A device that never asked for the remainder gets the whole change from its next sync.
  const other = sdkDevice(server.url, account.accountName, account.password, 'raw-reader');
  await other.client.syncCollection(account.contacts);
  assert.ok(other.replica.transaction((tx) => tx.all(account.contacts)).some((i) => i.data === full));
  await subscriber.stop();
  raw.socket.close();
});

test('another account never hears of this account\'s changes, and cannot read its remainders', async () => {
  const mine = await newAccount(server);
  const theirs = await newAccount(server);
  const spy = openRawChannel(server.url, { device: 'spy' }, { authorization: theirs.authorization });
  await spy.next((m) => m.type === 'hello');
  const victim = openRawChannel(server.url, { device: 'spy' }, { authorization: mine.authorization });
  await victim.next((m) => m.type === 'hello');
  await writeCard(mine, 'private', 'Private Person', `NOTE:${'x'.repeat(limits.pushPortionBytes)}\r\n`);
  const notice = (await victim.next((m) => m.type === 'change')) as ChangeNotice;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(spy.messages.filter((m) => m.type === 'change').length, 0);
  const stolen = await fetch(`${server.url}/api/v1/push/remainder/${notice.token}?device=spy`, { headers: { authorization: theirs.authorization } });
  assert.equal(stolen.status, 404);
  spy.socket.close();
  victim.socket.close();
});

test('an echo of a thousand copies of a full token range is merged before any work: answered at once, nothing resent', async () => {
  const account = await newAccount(server);
  const echoer = account.device('echoer');
  await echoer.sync(account.contacts);
  // Open the echoer's mailbox, then write 1,000 cards from another device in batches.
  const poll = async (after: number) => {
    const res = await fetch(`${server.url}/api/v1/push/poll?device=echoer&after=${after}&wait=0`, { headers: { authorization: account.authorization } });
    assert.equal(res.status, 200);
    return (await res.json()) as { messages: ChangeNotice[]; lastToken: number };
  };
  await poll(0);
  const writer = account.device('writer');
  for (let batch = 0; batch < 10; batch++) {
    await writer.sync(account.contacts, { commands: Array.from({ length: 100 }, (_, i) => add(`w${batch}-${i}`, vcard(`uid-w${batch}-${i}`, `W ${batch} ${i}`))) });
  }
  const { messages } = await poll(0);
  assert.equal(messages.length, 1000, 'every change was pushed');
  // 33 KB of echo: 1,000 copies of the range of every token there is.
  const tokens = Array.from({ length: limits.tokenRangesMax }, () => ({ from: 1, to: Number.MAX_SAFE_INTEGER }));
  const cpu = process.cpuUsage();
  const r = await syncOnce(server, account.authorization, 'echoer', { collectionId: account.contacts, syncKey: echoer.key(account.contacts), tokens } as never);
  const spent = process.cpuUsage(cpu);
  const cpuMs = (spent.user + spent.system) / 1000;
  assert.deepEqual(r.commands, [], 'the echoed versions count as held: nothing is sent again');
  // The unmerged echo took seconds here (a million token rows read); merged it is one pass over 1,000 rows.
  assert.ok(cpuMs < 500, `the echo cost ${cpuMs} ms of CPU`);
});
