import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mailItemOf } from '../../src/content/mail/message-item.js';
import type { MailItem } from '../../src/content/mail/item.js';
import { memoryPoint } from '../support/memory-point.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { add, change, del, Device } from '../support/sync.js';

/**
 * Mail items (docs/protocol.md §10.5) through a real server: the mail folder's source, a server-driven
 * point standing in for the IMAP connector (it speaks through hub/server-driven.ts as that will), adds
 * and changes them freely; a native device only changes their flags, and flag changes made on both
 * sides at once merge.
 */

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

const message = (id: string, subject: string, day: number) =>
  mailItemOf({
    source: Buffer.from(
      [`From: Anna <anna@example.org>`, 'To: carl@example.net', `Subject: ${subject}`, `Message-ID: <${id}@example.org>`, 'Content-Type: text/plain; charset=utf-8', '', `About ${subject}.`, ''].join('\r\n'),
    ),
    bodyStructure: { type: 'text/plain', parameters: { charset: 'utf-8' }, encoding: '7bit', size: 20 },
    flags: [],
    size: 200,
    internalDate: new Date(Date.UTC(2026, 11, day, 9, 0, 0)),
  });

const withFlags = (data: string, flags: string[]) => JSON.stringify({ ...(JSON.parse(data) as MailItem), flags });
const flagsOf = (data: string | undefined) => (JSON.parse(data ?? '{}') as MailItem).flags;

test('a device cannot add mail or change more than flags; the server-driven source adds and changes freely; concurrent flag changes merge', async () => {
  const user = await server.addUser('mailer');
  // Made as its source (the memory point below, standing in for an IMAP upstream) makes it: a device may not.
  const inbox = (await server.hub.accounts.createCollection(user.accountId, { name: 'INBOX', kind: 'mail', displayName: 'Inbox' }, { bySource: true })).id;
  const phone = new Device(server, user.authorization, 'phone');

  const refusedAdd = await phone.sync(inbox, { commands: [add('draft', message('d1', 'Draft', 1))] });
  assert.deepEqual(
    refusedAdd.results.map((r) => [r.status, r.message]),
    [['invalidItem', 'a message reaches a mail folder by mail']],
  );

  // The folder's source: its adds are the messages of the folder.
  const imap = await memoryPoint(server, user.accountId, 'imap', 'IMAP', inbox);
  imap.edits = [add('uid-1', message('m1', 'Lunch', 3)), add('uid-2', message('m2', 'Invoice', 5))];
  assert.deepEqual((await server.hub.runServerDrivenSync(user.accountId, [imap])).acknowledged, ['imap']);
  assert.equal(imap.records.size, 2);
  await phone.pull(inbox);
  const byId = (subject: string) => [...phone.view(inbox)].find(([, item]) => (JSON.parse(item.data) as MailItem).subject === subject)?.[0] as string;
  const [lunch, invoice] = [byId('Lunch'), byId('Invoice')];
  assert.ok(lunch && invoice);
  const lunchData = () => phone.view(inbox).get(lunch)?.data as string;

  // Anything but flags is the message's own, and refused; the flags change.
  const rewritten = JSON.stringify({ ...(JSON.parse(lunchData()) as MailItem), subject: 'Dinner' });
  const edits = await phone.sync(inbox, { commands: [change(lunch, rewritten), change(invoice, withFlags(phone.view(inbox).get(invoice)?.data as string, ['\\Seen']))] });
  assert.deepEqual(
    edits.results.map((r) => [r.status, r.message]),
    [
      ['invalidItem', 'only the flags of a mail item change'],
      ['ok', undefined],
    ],
  );
  await server.hub.runServerDrivenSync(user.accountId, [imap]);
  assert.deepEqual(flagsOf(imap.records.get(invoice)), ['\\Seen'], 'the flag change reached the source');

  // The source flags the message while the phone, not synced since, marks it read: both flags stay.
  imap.edits = [change(lunch, withFlags(imap.records.get(lunch) as string, ['\\Flagged']))];
  assert.deepEqual((await server.hub.runServerDrivenSync(user.accountId, [imap])).acknowledged, ['imap']);
  const concurrent = await phone.sync(inbox, { commands: [change(lunch, withFlags(lunchData(), ['\\Seen']))] });
  assert.equal(concurrent.results[0]?.status, 'ok');
  await phone.pull(inbox);
  assert.deepEqual(flagsOf(lunchData()), ['\\Flagged', '\\Seen']);
  await server.hub.runServerDrivenSync(user.accountId, [imap]);
  assert.deepEqual(flagsOf(imap.records.get(lunch)), ['\\Flagged', '\\Seen'], 'the merge reached the source');

  // The source may rewrite any field (a message read again); the device deletes.
  const reread = JSON.stringify({ ...(JSON.parse(imap.records.get(invoice) as string) as MailItem), preview: 'About Invoice, read again.' });
  imap.edits = [change(invoice, reread)];
  assert.deepEqual((await server.hub.runServerDrivenSync(user.accountId, [imap])).acknowledged, ['imap']);
  await phone.pull(inbox);
  assert.equal(phone.view(inbox).get(invoice)?.data, reread);
  assert.equal((await phone.sync(inbox, { commands: [del(invoice)] })).results[0]?.status, 'ok');
  await server.hub.runServerDrivenSync(user.accountId, [imap]);
  assert.equal(imap.records.has(invoice), false, 'the delete reached the source');

  // Date-range filters select mail by when it arrived.
  const tablet = new Device(server, user.authorization, 'tablet');
  await tablet.pull(inbox, { options: { timeRange: { start: '2026-12-02T00:00:00Z', end: '2026-12-04T00:00:00Z' } } });
  assert.deepEqual([...tablet.view(inbox).keys()], [lunch]);
});
