import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { accessibilityViolations, launchBrowser, newPage, screenshot, signIn } from '../support/browser.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { deliverOverLmtp, startSubmission, type Submission } from '../support/submission.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';

/**
 * The web app's mail page in Debian's Chromium, against a real server, a real Dovecot and a real SMTP
 * submission server delivering into it: mail delivered to the IMAP account shows by thread; its HTML is
 * shown sanitised, with no script run and no remote image fetched until the user asks (a web server of
 * the test's own counts the requests); flags, moves and deletes made on the page reach the IMAP server,
 * as another mail program sees it; a message written on the page with an attachment arrives, and its
 * copy is in Sent.
 */
let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;
let browser: Browser;
/** Stands in for the web: the remote images and scripts of the test's mail point here. */
let tracker: Server;
let trackerUrl: string;
const requests = new Map<string, number>();
const requested = (path: string) => requests.get(path) ?? 0;

before(async () => {
  [dovecot, server, browser] = await Promise.all([startDovecot({ users: { ann: 'ann-secret', ben: 'ben-secret' } }), startTestServer({ pushHeartbeatSeconds: 1 }), launchBrowser()]);
  submission = await startSubmission({ dovecot });
  tracker = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.set(path, requested(path) + 1);
    // Never cached: every load of the message that shows the image asks again, so a load before the click would count.
    res.writeHead(200, { 'content-type': 'image/gif', 'cache-control': 'no-store' });
    res.end(Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'));
  });
  await new Promise<void>((resolve) => tracker.listen(0, '127.0.0.1', resolve));
  trackerUrl = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}`;
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => tracker?.close(resolve));
  await Promise.all([server?.stop(), submission?.stop()]);
  await dovecot?.stop();
});

const address = (user: string) => `${user}@${dovecot.domain}`;

/** A Syncpoint account named after the IMAP user, with that user's IMAP account (and submission server) as its upstream. */
async function mailAccount(user: 'ann' | 'ben') {
  const account = await server.addUser(user);
  await addUpstream(server, account.accountId, {
    kind: 'imap',
    url: `imap://${dovecot.host}:${dovecot.imapPort}`,
    submissionUrl: `smtp://${submission.host}:${submission.port}`,
    username: user,
    password: `${user}-secret`,
  });
  // What a message written on the page is sent from (docs/protocol.md §19.1).
  const set = await fetch(`${server.url}/api/v1/account/email`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ email: address(user) }) });
  assert.equal(set.status, 200);
  return account;
}

interface Seen {
  subject: string;
  flags: string[];
  messageId: string;
  source: string;
}

/** A folder of `user` as another mail program reads it. */
function folder(user: string, path: string): Promise<Seen[]> {
  return asMailClient(dovecot, user, async (client) => {
    const box = await client.mailboxOpen(path);
    const out: Seen[] = [];
    if (box.exists === 0) return out;
    for await (const m of client.fetch('1:*', { envelope: true, flags: true, source: true })) {
      out.push({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(), messageId: m.envelope?.messageId ?? '', source: m.source?.toString('utf8') ?? '' });
    }
    return out;
  });
}

/**
 * Runs the account's upstream (which takes the page's changes to IMAP) until `check` holds of what
 * another mail program sees; a page change reaches the server a moment after the click.
 */
async function atImap(accountId: string, what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await runUpstreams(server, accountId);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`never seen at the IMAP server: ${what}`);
}

const flagsOf = async (user: string, path: string, messageId: string) => (await folder(user, path)).find((m) => m.messageId === messageId)?.flags;

function htmlMail(): string {
  return [
    `From: Ben <${address('ben')}>`,
    `To: Ann <${address('ann')}>`,
    'Subject: Lunch plans',
    'Message-ID: <lunch-1@example.test>',
    'Date: Mon, 07 Dec 2026 09:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<html><head><style>body { background-image: url(TRACKER/background.gif); }</style></head><body>',
    '<p>Shall we meet at <b>noon</b>?</p>',
    '<img src="TRACKER/pixel.gif" alt="a tracking pixel">',
    '<script>fetch("TRACKER/script"); window.parent.document.title = "scripted";</script>',
    '<img src="missing.gif" onerror="fetch(\'TRACKER/onerror\')" alt="">',
    '</body></html>',
    '',
  ]
    .join('\r\n')
    .replaceAll('TRACKER', trackerUrl);
}

const replyMail = [
  `From: Ann <ann@example.test>`,
  'To: Ben <ben@example.test>',
  'Subject: Re: Lunch plans',
  'Message-ID: <lunch-2@example.test>',
  'In-Reply-To: <lunch-1@example.test>',
  'References: <lunch-1@example.test>',
  'Date: Mon, 07 Dec 2026 09:30:00 +0000',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Noon works.',
  '',
].join('\r\n');

async function openMail(page: Page, user: string, password: string): Promise<void> {
  await signIn(page, user, password);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mail' }).click();
  await page.getByRole('heading', { level: 1, name: 'Mail' }).waitFor();
}

test('mail by thread; HTML shown sanitised, remote content only when asked; read, flag, move and delete reach the IMAP server', async () => {
  const ann = await mailAccount('ann');
  const envelope = { from: address('ben'), to: [address('ann')] };
  await deliverOverLmtp(dovecot, envelope, htmlMail());
  await deliverOverLmtp(dovecot, envelope, replyMail);
  await deliverOverLmtp(dovecot, envelope, [`From: ${address('ben')}`, `To: ${address('ann')}`, 'Subject: Other matter', 'Message-ID: <other@example.test>', 'Date: Mon, 07 Dec 2026 10:00:00 +0000', '', 'Unrelated.', ''].join('\r\n'));
  await runUpstreams(server, ann.accountId);

  const { context, page } = await newPage(browser, server.url);
  try {
    await openMail(page, 'ann', ann.password);
    const folders = page.getByRole('navigation', { name: 'Folders' }).getByRole('button');
    assert.equal(await folders.first().textContent(), 'Inbox', 'the Inbox comes first');
    const threads = page.getByRole('list', { name: 'Conversations in Inbox' }).getByRole('button');
    await threads.filter({ hasText: 'Lunch plans (2)' }).waitFor();
    // Three messages, two threads: the reply is in its original's thread, newest thread first.
    assert.equal(await threads.count(), 2);
    assert.match((await threads.first().textContent()) ?? '', /Other matter/);
    assert.match((await threads.filter({ hasText: 'Lunch plans' }).getAttribute('class')) ?? '', /\bunread\b/);

    await threads.filter({ hasText: 'Lunch plans' }).click();
    // The newest message opens, plain text; the original is one click away.
    const reading = page.getByRole('region', { name: /^Message from/ });
    await reading.getByText('Noon works.').waitFor();
    await page.getByRole('button', { name: 'Open the message from Ben' }).click();
    const frame = page.frameLocator('iframe.mail-frame');
    await frame.getByText('Shall we meet at noon?').waitFor();
    await page.getByRole('button', { name: 'Load remote content' }).waitFor();
    await screenshot(page, 'mail-remote-blocked');
    assert.equal(await frame.locator('script').count(), 0, 'the script is gone from what is shown');
    assert.equal(requested('/pixel.gif') + requested('/background.gif'), 0, 'no remote image was fetched before the user asked');

    await page.getByRole('button', { name: 'Load remote content' }).click();
    for (let i = 0; i < 100 && requested('/pixel.gif') === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await frame.getByText('Shall we meet at noon?').waitFor();
    assert.equal(requested('/pixel.gif'), 1, 'the remote image was fetched once, after the click');
    assert.equal(requested('/script') + requested('/onerror'), 0, 'no script of the message ran');
    assert.equal(await page.title(), 'Mail · Syncpoint');

    // Opening it marked it read; the other mail program sees \Seen.
    await page.getByRole('button', { name: 'Mark unread' }).waitFor();
    await atImap(ann.accountId, '\\Seen on the opened message', async () => (await flagsOf('ann', 'INBOX', '<lunch-1@example.test>'))?.includes('\\Seen') === true);
    await page.getByRole('button', { name: 'Mark unread' }).click();
    await page.getByRole('button', { name: 'Mark read' }).waitFor();
    await atImap(ann.accountId, 'no \\Seen after Mark unread', async () => (await flagsOf('ann', 'INBOX', '<lunch-1@example.test>'))?.includes('\\Seen') === false);
    await page.getByRole('button', { name: 'Flag', exact: true }).click();
    await page.getByRole('button', { name: 'Unflag' }).waitFor();
    await atImap(ann.accountId, '\\Flagged', async () => (await flagsOf('ann', 'INBOX', '<lunch-1@example.test>'))?.includes('\\Flagged') === true);

    // A reply: to the sender, "Re:" once, the original quoted, and threaded by its headers.
    await page.getByRole('button', { name: 'Reply' }).click();
    const reply = page.getByRole('form', { name: 'Reply' });
    assert.equal(await reply.getByLabel('To', { exact: true }).inputValue(), `Ben <${address('ben')}>`);
    assert.equal(await reply.getByLabel('Subject').inputValue(), 'Re: Lunch plans');
    await reply.getByLabel('Message', { exact: true }).press('Control+Home');
    await reply.getByLabel('Message', { exact: true }).pressSequentially('See you then.');
    await reply.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('status').filter({ hasText: 'Sent.' }).waitFor();
    const answers = (await folder('ben', 'INBOX')).filter((m) => m.subject === 'Re: Lunch plans');
    assert.equal(answers.length, 1);
    assert.match(answers[0]?.source ?? '', /^In-Reply-To: <lunch-1@example\.test>\r$/m);
    assert.match(answers[0]?.source ?? '', /^References: <lunch-1@example\.test>\r$/m);
    assert.match(answers[0]?.source ?? '', /See you then\.\r\n\r\n.*wrote:\r\n> Shall we meet at/);
    await threads.filter({ hasText: 'Lunch plans (2)' }).click();
    await page.getByRole('button', { name: 'Open the message from Ben' }).click();

    // Moved to Junk: gone from the INBOX at IMAP, there in Junk, and on the page's Junk folder at once.
    await page.getByLabel('Move to folder').selectOption({ label: 'Junk' });
    await page.getByRole('button', { name: 'Move', exact: true }).click();
    await threads.filter({ hasText: 'Lunch plans (2)' }).waitFor({ state: 'detached' });
    const junk = await folder('ann', 'Junk');
    assert.deepEqual(
      junk.map((m) => [m.messageId, m.flags]),
      [['<lunch-1@example.test>', ['\\Flagged']]],
    );
    assert.deepEqual((await folder('ann', 'INBOX')).map((m) => m.messageId).sort(), ['<lunch-2@example.test>', '<other@example.test>']);
    await page.getByRole('navigation', { name: 'Folders' }).getByRole('button', { name: 'Junk' }).click();
    await page.getByRole('list', { name: 'Conversations in Junk' }).getByRole('button', { name: /Lunch plans/ }).waitFor();

    // Deleted, after the question: expunged at IMAP.
    await page.getByRole('navigation', { name: 'Folders' }).getByRole('button', { name: 'Inbox' }).click();
    await threads.filter({ hasText: 'Re: Lunch plans' }).click();
    await reading.getByText('Noon works.').waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete message' });
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await threads.filter({ hasText: 'Lunch plans' }).waitFor({ state: 'detached' });
    await atImap(ann.accountId, 'the reply expunged from INBOX', async () => (await folder('ann', 'INBOX')).every((m) => m.messageId !== '<lunch-2@example.test>'));
    assert.deepEqual((await folder('ann', 'INBOX')).map((m) => m.messageId), ['<other@example.test>']);
  } finally {
    await context.close();
  }
});

const minutes = Buffer.from('%PDF-1.4\n\u0000\u0001 Item 1: lunch at noon.\n', 'latin1');

test('a message written on the page with an attachment arrives with it, its copy is in Sent; a refused recipient is a clear error; the page passes the accessibility check', async () => {
  const ben = await mailAccount('ben');
  await runUpstreams(server, ben.accountId);
  const { context, page } = await newPage(browser, server.url);
  try {
    await openMail(page, 'ben', ben.password);
    await page.getByRole('button', { name: 'New message' }).click();
    const form = page.getByRole('form', { name: 'New message' });
    await form.getByLabel('To', { exact: true }).fill(`nobody@${dovecot.domain}`);
    await form.getByLabel('Subject').fill('The minutes');
    await form.getByLabel('Message', { exact: true }).fill('Minutes attached.');
    await form.getByLabel('Attachments').setInputFiles({ name: 'minutes.pdf', mimeType: 'application/pdf', buffer: minutes });
    await form.getByRole('list', { name: 'Files to send' }).getByText('minutes.pdf').waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'mail-compose');

    // nobody@ is no user there: the submission server refuses the only recipient, so nothing is sent; the page says why.
    await form.getByRole('button', { name: 'Send' }).click();
    const alert = form.getByRole('alert').filter({ hasText: /\S/ });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /^Not sent: .*nobody@.*550.*\(HTTP 502 upstreamFailed\)$/);
    assert.equal((await folder('ann', 'INBOX')).filter((m) => m.subject === 'The minutes').length, 0);

    await form.getByLabel('To', { exact: true }).fill(`Ann <${address('ann')}>`);
    await form.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('status').filter({ hasText: 'Sent.' }).waitFor();
    const [arrived] = (await folder('ann', 'INBOX')).filter((m) => m.subject === 'The minutes');
    assert.ok(arrived, 'the message is in the recipient’s INBOX');
    assert.match(arrived.source, /Minutes attached\./);
    assert.match(arrived.source, /filename="?minutes\.pdf"?/);
    assert.ok(arrived.source.includes(minutes.toString('base64')), 'the attachment, byte for byte');
    const sent = (await folder('ben', 'Sent')).filter((m) => m.subject === 'The minutes');
    assert.deepEqual(sent.map((m) => m.messageId), [arrived.messageId], 'one copy in Sent, the very message');

    // The copy syncs back: the Sent folder shows it, read.
    await runUpstreams(server, ben.accountId);
    await page.getByRole('navigation', { name: 'Folders' }).getByRole('button', { name: 'Sent' }).click();
    const row = page.getByRole('list', { name: 'Conversations in Sent' }).getByRole('button', { name: /The minutes/ });
    await row.waitFor();
    assert.doesNotMatch((await row.getAttribute('class')) ?? '', /\bunread\b/);
    await row.click();
    // Its attachment downloads with the session, byte for byte.
    const link = page.getByRole('link', { name: 'minutes.pdf' });
    const download = await page.request.get((await link.getAttribute('href')) as string);
    assert.equal(download.status(), 200);
    assert.deepEqual(Buffer.from(await download.body()), minutes);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'mail-reading');
  } finally {
    await context.close();
  }
});
