import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mailItemJson, type MailItem } from '../content/mail/item.js';
import { limits } from '../core/limits.js';
import { mailKind } from './mail.js';
import { checkItem, kindOf } from './registry.js';

/** A mail item as the builder writes it (content/mail/message-item.ts). */
function mailItem(fields: Partial<MailItem> = {}): MailItem {
  return {
    messageId: '<a1@example.org>',
    subject: 'Lunch',
    from: [{ name: 'Anna', address: 'anna@example.org' }],
    sender: [],
    replyTo: [],
    to: [{ name: null, address: 'carl@example.net' }],
    cc: [],
    bcc: [],
    date: '2026-12-04T10:02:33Z',
    receivedAt: '2026-12-04T10:02:40Z',
    inReplyTo: null,
    references: [],
    threadId: 'AAAAAAAAAAAAAAAAAAAAAA',
    flags: [],
    size: 1234,
    preview: 'Shall we meet?',
    body: { type: 'text/plain', text: 'Shall we meet?\n', complete: true, part: '1', htmlPart: null },
    attachments: [],
    ...fields,
  };
}

const refusal = (data: string) => {
  const check = checkItem('mail', data);
  return check.ok ? 'accepted' : `${check.status}: ${check.message}`;
};

test('the mail kind is registered, on the native and ActiveSync faces (not DAV), and indexes a message by its subject and arrival', () => {
  assert.equal(kindOf('mail'), mailKind);
  assert.deepEqual(Object.keys(mailKind.faces), ['eas']);
  assert.equal(mailKind.faces.eas?.class, 'Email');
  assert.equal(mailKind.contentType, 'application/vnd.syncpoint.mail+json');
  const check = checkItem('mail', mailItemJson(mailItem()));
  assert.ok(check.ok);
  const at = Date.parse('2026-12-04T10:02:40Z');
  assert.deepEqual(check.index, { uid: null, title: 'Lunch', startMs: at, endMs: at, name: null, contactKeys: [] });
  const untitled = checkItem('mail', mailItemJson(mailItem({ subject: '' })));
  assert.equal(untitled.ok && untitled.index.title, '(no subject)');
  assert.equal(mailKind.areTwins({ uid: null, name: null, contactKeys: [] }, { uid: null, name: null, contactKeys: [] }), false, 'two copies of one message are two messages');
});

test('what is wrong with a mail item is said precisely, caps included', () => {
  const json = (fields: Partial<MailItem>) => mailItemJson(mailItem(fields));
  assert.equal(refusal('BEGIN:VCARD'), 'invalidItem: a mail item is a JSON object');
  const { subject: _dropped, ...noSubject } = mailItem();
  assert.match(refusal(JSON.stringify(noSubject)), /^invalidItem: subject: /);
  assert.match(refusal(JSON.stringify({ ...mailItem(), extra: 1 })), /^invalidItem: .*extra/);
  assert.equal(refusal(json({ flags: ['\\Seen', '$Forwarded'] })), 'invalidItem: flags: flags are sorted by code point, without duplicates');
  assert.equal(refusal(json({ flags: ['\\Deleted'] })), 'invalidItem: flags: flags never hold \\Deleted or \\Recent');
  assert.equal(refusal(json({ flags: ['two words'] })), 'invalidItem: flags.0: a flag is an IMAP flag or keyword');
  const many = Array.from({ length: limits.mailFlagsMax + 1 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  assert.equal(refusal(json({ flags: many })), `invalidItem: flags: at most ${limits.mailFlagsMax} flags`);
  const refs = Array.from({ length: limits.mailReferencesMax + 1 }, (_, i) => `<r${i}@x>`);
  assert.equal(refusal(json({ references: refs })), `invalidItem: references: at most ${limits.mailReferencesMax} references`);
  const to = Array.from({ length: limits.mailAddressesPerFieldMax + 1 }, (_, i) => ({ name: null, address: `u${i}@x` }));
  assert.equal(refusal(json({ to })), `invalidItem: to: at most ${limits.mailAddressesPerFieldMax} addresses per field`);
  const attachments = Array.from({ length: limits.mailAttachmentsMax + 1 }, (_, i) => ({ part: `${i + 2}`, name: null, type: 'image/png', size: 1, inline: false, contentId: null }));
  assert.equal(refusal(json({ attachments })), `invalidItem: attachments: at most ${limits.mailAttachmentsMax} attachments`);
  assert.equal(refusal(json({ preview: 'x'.repeat(limits.mailPreviewCharsMax + 1) })), `invalidItem: preview: the preview is longer than ${limits.mailPreviewCharsMax} characters`);
  const body = { type: 'text/plain' as const, text: 'é'.repeat(limits.mailBodyBytesMax / 2 + 1), complete: false, part: '1', htmlPart: null };
  assert.equal(refusal(json({ body })), `invalidItem: body.text: the body text is longer than ${limits.mailBodyBytesMax} bytes`);
  assert.equal(refusal(json({ receivedAt: '4 Dec 2026' })), 'invalidItem: receivedAt: receivedAt is not an RFC 3339 UTC time');
  assert.equal(refusal(json({ threadId: 'short' })), 'invalidItem: threadId: threadId is 22 characters of A-Z a-z 0-9 - _');
  assert.equal(refusal(json({ subject: 'bell\u0007' })), 'invalidItem: subject: the subject holds control characters or characters XML cannot carry');
});

test('merge: flags as sets, each side\'s additions and removals kept; other fields the side\'s that changed them; never a conflict', () => {
  const base = mailItemJson(mailItem({ flags: ['$Forwarded', 'Later'] }));
  const device = mailItemJson(mailItem({ flags: ['$Forwarded', '\\Seen'] }));
  const truth = mailItemJson(mailItem({ flags: ['$Forwarded', 'Later', '\\Flagged'], preview: 'rebuilt by the server' }));
  assert.equal(mailKind.format.merge(base, device, truth), mailItemJson(mailItem({ flags: ['$Forwarded', '\\Flagged', '\\Seen'], preview: 'rebuilt by the server' })));
  // Both remove the same flag, one adds one the other also added.
  const both = mailKind.format.merge(mailItemJson(mailItem({ flags: ['\\Flagged'] })), mailItemJson(mailItem({ flags: ['\\Seen'] })), mailItemJson(mailItem({ flags: ['\\Seen'] })));
  assert.equal(both, mailItemJson(mailItem({ flags: ['\\Seen'] })));
  // The source read the message again while a device changed flags: its fields and both flag edits.
  const reread = mailKind.format.merge(mailItemJson(mailItem()), mailItemJson(mailItem({ preview: 'read again', flags: ['\\Answered'] })), mailItemJson(mailItem({ flags: ['\\Seen'] })));
  assert.equal(reread, mailItemJson(mailItem({ preview: 'read again', flags: ['\\Answered', '\\Seen'] })));
});

test('same: one item written with its keys in another order is the same version', () => {
  const item = mailItem({ flags: ['\\Seen'] });
  const reordered = JSON.stringify(Object.fromEntries(Object.entries(item).reverse()));
  assert.ok(mailKind.format.same(mailItemJson(item), reordered));
  assert.ok(!mailKind.format.same(mailItemJson(item), mailItemJson(mailItem())));
});

test('a device may change only the flags; it may add nothing', () => {
  const rules = mailKind.deviceWrites;
  assert.equal(rules?.addRefused, 'a message reaches a mail folder by mail');
  const current = mailItemJson(mailItem());
  assert.equal(rules?.changeRefused?.(current, mailItemJson(mailItem({ flags: ['\\Seen'] }))), null);
  assert.equal(rules?.changeRefused?.(current, JSON.stringify(Object.fromEntries(Object.entries(mailItem({ flags: ['\\Seen'] })).reverse()))), null, 'key order is no change');
  assert.equal(rules?.changeRefused?.(current, mailItemJson(mailItem({ subject: 'Dinner' }))), 'only the flags of a mail item change');
  assert.equal(rules?.changeRefused?.(current, mailItemJson(mailItem({ flags: ['\\Seen'], body: null }))), 'only the flags of a mail item change');
});
