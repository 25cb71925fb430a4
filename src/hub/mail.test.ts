import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UpstreamError } from '../protocol/upstream-errors.js';
import { mailItemOf } from '../content/mail/message-item.js';
import { limits } from '../core/limits.js';
import { ProtocolError } from '../protocol/errors.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { Accounts } from './accounts.js';
import { Mail, type MailGateway, type MailPartFetch } from './mail.js';
import type { HubPorts } from './ports.js';
import { newSecretKey } from './sealed-secrets.js';
import { Upstreams, type UpstreamAccess } from './upstreams.js';

/**
 * The hub's side of fetching a mail part (docs/protocol.md §10.6) on a real SQLite store, with a gateway
 * that answers what the test says (what Dovecot answers is test/e2e/mail-parts.test.ts's part): what the
 * gateway's answers become, and how many parts of one account are read from IMAP at once.
 */
const dir = mkdtempSync(join(tmpdir(), 'syncpoint-mail-'));
let store: Store;
let n = 0;
const ports: HubPorts = {
  clock: { now: () => 1_765_000_000_000 },
  random: { id: () => `id${++n}` },
  logger: { info: () => undefined, warn: () => undefined, debug: () => undefined },
};
const key = newSecretKey();
/** What the gateway answers next; every call is recorded. */
let answer: () => Promise<MailPartFetch>;
const asked: Array<{ username: string; password: string; remoteId: string; part: string; bytesMax: number }> = [];
const gateway: MailGateway = {
  async fetchPart(upstream, request) {
    asked.push({ username: upstream.username, password: upstream.password, remoteId: request.remoteId, part: request.part, bytesMax: request.bytesMax });
    return answer();
  },
  move: async () => assert.fail('nothing is moved here'),
  submit: async () => assert.fail('nothing is sent here'),
  fileInSent: async () => assert.fail('nothing is sent here'),
  findInSent: async () => assert.fail('nothing is sent here'),
  search: async () => assert.fail('nothing is searched here'),
  fileDraft: async () => assert.fail('no draft is filed here'),
  expunge: async () => assert.fail('nothing is expunged here'),
};
const access: UpstreamAccess = { connectors: {}, keys: () => [key], sealingKey: () => () => key, intervalMs: 0, mail: gateway };
let mail: Mail;
let account: { accountId: string; inbox: string; itemId: string };

const pdfPart = (bytes: Uint8Array, closed: { count: number } = { count: 0 }): MailPartFetch => ({
  found: 'part',
  type: 'application/pdf',
  charset: null,
  bytesAtMost: bytes.length,
  content: (async function* () {
    yield bytes;
  })(),
  close: async () => {
    closed.count++;
  },
});

before(async () => {
  store = openSqliteStore(join(dir, 'syncpoint.db'));
  mail = new Mail(store, ports, access);
  const { id: accountId } = await new Accounts(store, ports).create('mail', 'hash');
  const view = await new Upstreams(store, ports, access).add(
    accountId,
    { kind: 'imap', url: 'imap://mail.example/', username: 'ann', password: 'ann-secret' },
    { connector: { discover: async () => [{ url: 'imap://mail.example/INBOX', type: 'mailbox', kinds: ['mail'], displayName: 'INBOX' }] }, key: () => key },
  );
  const inbox = view.collections[0]?.collectionId as string;
  const data = mailItemOf({
    source: Buffer.from('Subject: Parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b--\r\n'),
    bodyStructure: { type: 'multipart/mixed', childNodes: [
      { part: '1', type: 'text/plain', size: 7 },
      ...['2', '3', '4'].map((part) => ({ part, type: 'application/pdf', encoding: 'base64', size: 400, disposition: 'attachment' })),
    ] },
    flags: [],
    size: 300,
    internalDate: new Date(1_765_000_000_000),
  });
  await store.transaction(async (tx) => {
    const seq = await tx.nextSeq(accountId);
    const row = { id: 'item-1', accountId, collectionId: inbox, uid: null, data, etag: 'e1', seq, createdSeq: seq, createdBy: view.deviceId, originDevice: view.deviceId, deletedAt: null, title: 'Parts', startMs: null, endMs: null, matchName: null, contactKeys: [] };
    await tx.putItem(row, 1_765_000_000_000);
    await tx.putPointRecords(accountId, view.deviceId, inbox, [{ serverId: 'item-1', remoteId: '42/7', remoteEtag: '3', heldEtag: 'e1' }]);
  });
  account = { accountId, inbox, itemId: 'item-1' };
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const status = (code: string, pattern: RegExp) => (err: unknown) => err instanceof ProtocolError && err.status === code && pattern.test(err.message);
const fetchPart = (part: string) => mail.fetchPart(account.accountId, account.inbox, account.itemId, part);

test('the gateway is asked for the message the point record names, signed in with the opened password, bounded by mailPartBytesMax; its answers become statuses', async () => {
  answer = async () => ({ found: 'gone' });
  await assert.rejects(fetchPart('2'), status('notFound', /no longer on the mail server/));
  assert.deepEqual(asked.at(-1), { username: 'ann', password: 'ann-secret', remoteId: '42/7', part: '2', bytesMax: limits.mailPartBytesMax });
  answer = async () => ({ found: 'tooLarge', bytesAtMost: limits.mailPartBytesMax + 1 });
  await assert.rejects(fetchPart('2'), (err) => err instanceof ProtocolError && err.status === 'limitReached' && err.extra.limit === 'mailPartBytesMax');
  answer = async () => {
    throw new UpstreamError('transient', 'cannot reach mail.example: ECONNREFUSED');
  };
  await assert.rejects(fetchPart('1'), (err) => err instanceof ProtocolError && err.status === 'unavailable' && err.extra.upstreamError === 'transient');
  // A token the item does not name never reaches the gateway.
  const before = asked.length;
  await assert.rejects(fetchPart('9'), status('notFound', /has no part 9/));
  assert.equal(asked.length, before);
});

test('a part that fits a blob is kept and served from the store after; the connection is closed once it is read', async () => {
  const closed = { count: 0 };
  const bytes = Uint8Array.from([37, 80, 68, 70, 0, 255]);
  answer = async () => pdfPart(bytes, closed);
  const first = await fetchPart('2');
  assert.deepEqual([first.kept, first.contentType, first.attachment, 'bytes' in first.body && Buffer.from(first.body.bytes).equals(bytes)], [false, 'application/pdf', { name: null, inline: false }, true]);
  assert.equal(closed.count, 1);
  answer = async () => assert.fail('a kept part is not asked for again');
  const again = await fetchPart('2');
  assert.equal(again.kept, true);
  assert.ok('bytes' in again.body && Buffer.from(again.body.bytes).equals(bytes));
});

test('at most mailPartFetchesPerAccountMax parts of an account are read from IMAP at once: the next is 429 until one is done', async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  answer = async () => {
    await held;
    return pdfPart(Uint8Array.from([1]));
  };
  // Part 3 is not kept yet: each of these is a fetch from IMAP.
  const under = Array.from({ length: limits.mailPartFetchesPerAccountMax }, () => fetchPart('3'));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(fetchPart('3'), status('rateLimited', /being read from its mail server already/));
  release();
  await Promise.all(under);
  // Every way a fetch from IMAP ends counts it out: failures past the bound leave room for the next.
  for (let i = 0; i <= limits.mailPartFetchesPerAccountMax; i++) {
    answer = async () => (i % 2 === 0 ? { found: 'gone' } : { found: 'tooLarge', bytesAtMost: limits.mailPartBytesMax + 1 });
    await assert.rejects(fetchPart('4'));
    answer = async () => {
      throw new UpstreamError('auth', 'mail.example refused the user name and password');
    };
    await assert.rejects(fetchPart('4'), status('unavailable', /refused/));
  }
  answer = async () => pdfPart(Uint8Array.from([2]));
  assert.equal((await fetchPart('4')).kept, false);
});
