import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { recordLocalPut } from '../../src/sdk/replica.js';
import { makeDavCollection, startRadicale } from '../support/dav-servers.js';
import { accessibilityViolations, launchBrowser, newPage, screenshot, signIn } from '../support/browser.js';
import { EasClient, st, textAt } from '../support/eas-client.js';
import { sdkDevice, type SdkDevice } from '../support/push.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';

/**
 * The web app in Debian's Chromium against a real server: a person signs in, edits, and watches
 * devices' edits arrive; the devices are real SDK clients syncing over HTTP and push.
 */
let server: TestServer;
let browser: Browser;

before(async () => {
  server = await startTestServer({ pushHeartbeatSeconds: 1 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function account(name: string) {
  const user = await server.addUser(name);
  const collections = (await (await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: user.authorization } })).json()) as {
    collections: Array<{ id: string; name: string }>;
  };
  const id = (n: string) => (collections.collections.find((c) => c.name === n) as { id: string }).id;
  return { ...user, contacts: id('contacts'), calendar: id('calendar') };
}

const dataOf = (device: SdkDevice, collectionId: string) => device.replica.transaction((tx) => tx.all(collectionId)).map((i) => i.data ?? '');

async function devicesByPriority(authorization: string): Promise<string[]> {
  const res = await fetch(`${server.url}/api/v1/devices`, { headers: { authorization } });
  return ((await res.json()) as { devices: Array<{ id: string }> }).devices.map((d) => d.id);
}

async function browserPage(viewport: 'phone' | 'desktop' = 'desktop'): Promise<{ page: Page; close(): Promise<void> }> {
  const { context, page } = await newPage(browser, server.url, viewport);
  return { page, close: () => context.close() };
}

test('sign-in refuses a wrong password, then a contact made on the page reaches a device, and the device edit shows without a reload', async () => {
  const alice = await account('alice');
  const { page, close } = await browserPage();
  try {
    await page.goto('/');
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
    await signIn(page, 'alice', alice.password);
    await screenshot(page, 'signed-in');

    await page.getByRole('button', { name: 'New contact' }).click();
    await page.getByLabel('Full name').fill('Grace Hopper');
    await page.getByLabel('Email 1', { exact: true }).fill('grace@example.org');
    await page.getByRole('button', { name: 'Add email' }).click();
    await page.getByLabel('Email 2', { exact: true }).fill('hopper@navy.example');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('list', { name: 'Contacts' }).getByRole('button', { name: /Grace Hopper/ }).waitFor();
    await screenshot(page, 'contact-created');

    const laptop = sdkDevice(server.url, 'alice', alice.password, 'laptop');
    await laptop.client.syncCollection(alice.contacts);
    const card = dataOf(laptop, alice.contacts).find((d) => d.includes('FN:Grace Hopper'));
    assert.ok(card, 'the contact reached the SDK device');
    assert.match(card, /grace@example\.org/);
    assert.match(card, /hopper@navy\.example/);

    const localId = laptop.replica.transaction((tx) => tx.all(alice.contacts))[0]?.localId as string;
    laptop.replica.transaction((tx) => recordLocalPut(tx, alice.contacts, localId, card.replace('FN:Grace Hopper', 'FN:Rear Admiral Grace Hopper')));
    await laptop.client.syncCollection(alice.contacts);
    // Push brings the change; nothing reloads the page.
    await page.getByRole('list', { name: 'Contacts' }).getByRole('button', { name: /Rear Admiral Grace Hopper/ }).waitFor({ timeout: 15_000 });
    await screenshot(page, 'contact-changed-by-device');
  } finally {
    await close();
  }
});

test('a weekly event made on the page repeats in the views and on devices, and one occurrence is edited alone', async () => {
  const erin = await account('erin');
  const { page, close } = await browserPage();
  try {
    await signIn(page, 'erin', erin.password);
    await page.getByRole('link', { name: 'Calendar' }).click();
    await page.getByRole('button', { name: 'New event' }).click();
    const editor = page.getByRole('dialog', { name: 'Event', exact: true });
    await editor.getByLabel('Title').fill('Team standup');
    await editor.getByLabel('Repeat', { exact: true }).selectOption({ label: 'Weekly' });
    await editor.getByRole('button', { name: 'Save' }).click();
    await editor.waitFor({ state: 'hidden' });

    const phone = sdkDevice(server.url, 'erin', erin.password, 'phone');
    await phone.client.syncCollection(erin.calendar);
    const [event] = dataOf(phone, erin.calendar);
    assert.match(event ?? '', /SUMMARY:Team standup/);
    assert.match(event ?? '', /RRULE:FREQ=WEEKLY/);
    assert.match(event ?? '', /DTSTART;TZID=Europe\/Berlin:/, 'written in the browser time zone, with its VTIMEZONE');
    assert.match(event ?? '', /BEGIN:VTIMEZONE/);

    // Next month lies wholly inside the series: four or five weeks, one occurrence each.
    await page.getByRole('button', { name: 'Next' }).click();
    const occurrences = page.getByRole('button', { name: /^Team standup \d/ });
    await occurrences.first().waitFor();
    assert.ok((await occurrences.count()) >= 4, `expected at least 4 occurrences, got ${await occurrences.count()}`);
    await screenshot(page, 'calendar-recurring');

    await occurrences.nth(1).click();
    await editor.getByLabel('Title').fill('Team standup (moved)');
    await editor.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'This event' }).click();
    await page.getByRole('button', { name: /^Team standup \(moved\)/ }).waitFor();
    assert.ok((await occurrences.count()) >= 3, 'the other occurrences keep their title');
    await phone.client.syncCollection(erin.calendar);
    const edited = dataOf(phone, erin.calendar)[0] ?? '';
    assert.match(edited, /RECURRENCE-ID/, 'one occurrence became an override in the same item');
    assert.match(edited, /SUMMARY:Team standup \(moved\)/);
    assert.equal(edited.match(/RRULE:FREQ=WEEKLY/g)?.length, 1, "the series rule is not copied into the override");
    await screenshot(page, 'calendar-occurrence-edited');
  } finally {
    await close();
  }
});

test('device priority is reordered by drag and drop, and the server keeps the new order', async () => {
  const bob = await account('bob');
  for (const id of ['laptop', 'phone']) await sdkDevice(server.url, 'bob', bob.password, id).client.syncCollection(bob.contacts);
  const { page, close } = await browserPage();
  try {
    await signIn(page, 'bob', bob.password);
    await page.getByRole('link', { name: 'Devices' }).click();
    const table = page.getByRole('table', { name: 'Devices' });
    await table.getByText('phone').first().waitFor();
    const before = await devicesByPriority(bob.authorization);
    assert.deepEqual(before.slice(0, 2), ['laptop', 'phone']);
    await page.getByLabel('Drag phone').dragTo(page.getByLabel('Drag laptop'));
    const deadline = Date.now() + 10_000;
    let order = before;
    while (Date.now() < deadline && order[0] !== 'phone') {
      await new Promise((r) => setTimeout(r, 100));
      order = await devicesByPriority(bob.authorization);
    }
    assert.equal(order[0], 'phone', `phone moved first; order is ${order.join(', ')}`);
    assert.equal(order[1], 'laptop');
    await screenshot(page, 'devices-reordered');
  } finally {
    await close();
  }
});

test('the password is changed on the devices page: this page stays signed in, another browser and the old password are out', async () => {
  const frank = await account('frank');
  const mine = await browserPage();
  const other = await browserPage();
  try {
    await signIn(other.page, 'frank', frank.password);
    await signIn(mine.page, 'frank', frank.password);
    await mine.page.getByRole('link', { name: 'Devices' }).click();
    const form = mine.page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill('not the password');
    await form.getByLabel('New password', { exact: true }).fill('frank-new-password');
    await form.getByLabel('Repeat new password').fill('frank-new-password');
    await form.getByRole('button', { name: 'Change password' }).click();
    await mine.page.getByRole('alert').filter({ hasText: 'current password is wrong' }).waitFor();
    await form.getByLabel('Current password').fill(frank.password);
    await form.getByRole('button', { name: 'Change password' }).click();
    await mine.page.getByRole('status').filter({ hasText: 'Password changed' }).waitFor();
    await screenshot(mine.page, 'password-changed');
    const basic = (password: string) => `Basic ${Buffer.from(`frank:${password}`).toString('base64')}`;
    assert.equal((await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: basic(frank.password) } })).status, 401);
    assert.equal((await fetch(`${server.url}/api/v1/collections`, { headers: { authorization: basic('frank-new-password') } })).status, 200);
    // This page goes on with its fresh session (a change needs its new CSRF token); the other browser is signed out.
    await mine.page.getByRole('button', { name: 'Create app password' }).waitFor();
    await mine.page.getByLabel('Label').fill('after-change');
    await mine.page.getByRole('button', { name: 'Create app password' }).click();
    await mine.page.getByRole('heading', { name: 'App password for “after-change”' }).waitFor();
    await other.page.reload();
    await other.page.getByRole('button', { name: 'Sign in' }).waitFor();
  } finally {
    await mine.close();
    await other.close();
  }
});

test('the email address is set on the devices page, and ActiveSync phones are told it', async () => {
  const grace = await account('grace');
  const mine = await browserPage();
  try {
    await signIn(mine.page, 'grace', grace.password);
    await mine.page.getByRole('link', { name: 'Devices' }).click();
    const form = mine.page.getByRole('form', { name: 'Email address' });
    await form.getByLabel('Email address').fill('grace at example');
    await form.getByRole('button', { name: 'Save address' }).click();
    await mine.page.getByRole('alert').filter({ hasText: 'not an email address' }).waitFor();
    await form.getByLabel('Email address').fill('grace@example.com');
    await form.getByRole('button', { name: 'Save address' }).click();
    await mine.page.getByRole('status').filter({ hasText: 'Phones will see grace@example.com' }).waitFor();
    const phone = new EasClient({ baseUrl: server.url, user: 'grace', password: grace.password, deviceId: 'WebPhone1', version: '16.1' });
    const answer = await phone.command('Settings', st('Settings', st('UserInformation', st('Get'))));
    assert.equal(textAt(answer, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), 'grace@example.com');
    await mine.page.reload();
    const field = mine.page.getByRole('form', { name: 'Email address' }).getByLabel('Email address');
    let shown = '';
    for (let i = 0; i < 50 && shown !== 'grace@example.com'; i++) {
      shown = await field.inputValue();
      if (shown !== 'grace@example.com') await mine.page.waitForTimeout(100);
    }
    assert.equal(shown, 'grace@example.com', 'the page shows the stored address');
  } finally {
    await mine.close();
  }
});

test('a losing version is shown beside the current one and restored from the conflicts page', async () => {
  const carol = await account('carol');
  const laptop = sdkDevice(server.url, 'carol', carol.password, 'laptop');
  const phone = sdkDevice(server.url, 'carol', carol.password, 'phone');
  laptop.replica.transaction((tx) => recordLocalPut(tx, carol.contacts, 'ada', vcard('ada', 'Ada Lovelace', 'TEL:+44 1\r\n')));
  await laptop.client.syncCollection(carol.contacts);
  await phone.client.syncCollection(carol.contacts);
  // Both change the same property without seeing each other: the laptop (first, so higher priority) wins.
  const phoneCopy = phone.replica.transaction((tx) => tx.all(carol.contacts))[0];
  assert.ok(phoneCopy?.data);
  laptop.replica.transaction((tx) => recordLocalPut(tx, carol.contacts, 'ada', vcard('ada', 'Ada Lovelace', 'TEL:+44 2222\r\n')));
  await laptop.client.syncCollection(carol.contacts);
  phone.replica.transaction((tx) => recordLocalPut(tx, carol.contacts, phoneCopy.localId, vcard('ada', 'Ada Lovelace', 'TEL:+44 3333\r\n')));
  await phone.client.syncCollection(carol.contacts);

  const { page, close } = await browserPage();
  try {
    await signIn(page, 'carol', carol.password);
    await page.getByRole('link', { name: 'Conflicts' }).click();
    const record = page.getByRole('article', { name: /Conflict in Ada Lovelace/ }).first();
    await record.getByText('+44 3333').first().waitFor();
    await record.getByText('+44 2222').first().waitFor();
    await screenshot(page, 'conflict-side-by-side');
    await record.getByRole('button', { name: 'Restore this version' }).click();
    // The restored record leaves the open ones; the version it replaced becomes an open record itself.
    await page.getByRole('radio', { name: 'Restored' }).check();
    await page.getByRole('article', { name: /Conflict in Ada Lovelace/ }).getByText(/Restored/).first().waitFor();
    await laptop.client.syncCollection(carol.contacts);
    assert.match(dataOf(laptop, carol.contacts)[0] ?? '', /TEL:\+44 3333/, 'the restored version is the truth again');
    await screenshot(page, 'conflict-restored');
  } finally {
    await close();
  }
});

test('an upstream is added on the Upstreams page, listed, synced now (its contact arrives) and removed', async () => {
  const heidi = await account('heidi');
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-web-upstream-'));
  const upstreamAccount = { user: 'ann', password: 'ann at the upstream' };
  const radicale = await startRadicale(work, upstreamAccount);
  const { page, close } = await browserPage();
  try {
    const ann = `Basic ${Buffer.from(`${upstreamAccount.user}:${upstreamAccount.password}`).toString('base64')}`;
    await makeDavCollection(`${radicale.base}/ann/book/`, 'addressbook', ann);
    const put = await fetch(`${radicale.base}/ann/book/margaret.vcf`, { method: 'PUT', body: vcard('margaret', 'Margaret Hamilton'), headers: { 'content-type': 'text/vcard', authorization: ann } });
    assert.equal(put.status, 201);

    await signIn(page, 'heidi', heidi.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upstreams' }).click();
    await page.getByText('No upstream yet').waitFor();
    const form = page.getByRole('form', { name: 'Add an upstream' });
    await form.getByLabel('Server URL').fill(`${radicale.base}/`);
    await form.getByLabel('User name').fill('ann');
    await form.getByLabel('Password').fill('not the password');
    await form.getByLabel('Collection').selectOption('contacts');
    await form.getByRole('button', { name: 'Add upstream' }).click();
    await form.getByRole('alert').filter({ hasText: 'refused the user name and password (401)' }).waitFor();
    await form.getByLabel('Password').fill(upstreamAccount.password);
    await form.getByRole('button', { name: 'Add upstream' }).click();
    await form.getByRole('status').filter({ hasText: 'with 1 collection' }).waitFor();

    const name = `${new URL(radicale.base).host} (ann)`;
    const entry = page.getByRole('list', { name: 'Upstreams' }).getByRole('article', { name });
    await entry.getByText('State: Not run yet').waitFor();
    await entry.getByText(`${radicale.base}/ann/book/`).waitFor();
    assert.deepEqual(await accessibilityViolations(page), [], 'Upstreams with an upstream listed');
    await screenshot(page, 'upstream-added');

    await entry.getByRole('button', { name: `Sync now with ${name}` }).click();
    await page.getByRole('status').filter({ hasText: `Synced with ${name}.` }).waitFor({ timeout: 30_000 });
    await entry.getByText('State: OK').waitFor();
    await screenshot(page, 'upstream-synced');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('list', { name: 'Contacts' }).getByRole('button', { name: /Margaret Hamilton/ }).waitFor({ timeout: 15_000 });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upstreams' }).click();
    await entry.getByRole('button', { name: `Remove ${name}` }).click();
    const dialog = page.getByRole('dialog', { name: `Remove ${name}?` });
    await dialog.getByRole('button', { name: 'Remove upstream' }).click();
    await page.getByRole('status').filter({ hasText: `Removed ${name}.` }).waitFor();
    await page.getByText('No upstream yet').waitFor();
    const left = (await (await fetch(`${server.url}/api/v1/upstreams`, { headers: { authorization: heidi.authorization } })).json()) as { upstreams: unknown[] };
    assert.deepEqual(left.upstreams, [], 'the server forgot it');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('list', { name: 'Contacts' }).getByRole('button', { name: /Margaret Hamilton/ }).waitFor();
  } finally {
    await close();
    await radicale.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('every page passes axe (WCAG 2.1 A and AA, serious and critical) at phone and desktop widths', async () => {
  const dave = await account('dave');
  await sdkDevice(server.url, 'dave', dave.password, 'laptop').client.syncCollection(dave.contacts);
  for (const viewport of ['phone', 'desktop'] as const) {
    const { page, close } = await browserPage(viewport);
    try {
      await page.goto('/');
      assert.deepEqual(await accessibilityViolations(page), [], `sign-in page at ${viewport}`);
      await signIn(page, 'dave', dave.password);
      for (const name of ['Contacts', 'Calendar', 'Tasks', 'Notes', 'Collections', 'Devices', 'Upstreams', 'Conflicts']) {
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
        await page.getByRole('heading', { level: 1, name: new RegExp(name) }).first().waitFor();
        assert.deepEqual(await accessibilityViolations(page), [], `${name} at ${viewport}`);
        await screenshot(page, `${name.toLowerCase()}-${viewport}`);
      }
      // Keyboard: after a load, the skip link is the first stop, and it moves focus to the main content.
      await page.reload();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Skip to content');
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement?.closest('main') !== null), true, 'focus is in <main>');
    } finally {
      await close();
    }
  }
});
