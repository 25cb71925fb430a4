import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mailItemJson, parseMailItem, type MailItem } from '../../../content/mail/item.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { invitationIcs } from '../../../../test/support/invitation.js';
import { emailMapper, fileReference, readFileReference } from './email.js';
import { decodeTimeZoneBlob } from './timezone-blob.js';

const as = namespace('AirSync');
const e = namespace('Email');
const context = { version: '16.1' as const, newUid: () => 'x', now: 0 };

const item: MailItem = {
  messageId: '<a@example.org>', subject: 'Hi', from: [{ name: 'Carol', address: 'carol@example.org' }], sender: [], replyTo: [],
  to: [{ name: null, address: 'ann@example.org' }], cc: [], bcc: [], date: '2026-01-02T10:00:00Z', receivedAt: '2026-01-02T10:00:05Z',
  inReplyTo: null, references: [], threadId: 'AAAAAAAAAAAAAAAAAAAAAA', flags: ['$Forwarded', 'Work', '\\Flagged'], size: 900, preview: 'Hello there',
  body: { type: 'text/html', text: '<p>Hello <b>there</b></p>', complete: true, part: '1', htmlPart: null },
  attachments: [{ part: '2', name: 'a.pdf', type: 'application/pdf', size: 300, inline: false, contentId: null }],
};
const data = mailItemJson(item);
const flagsOf = (json: string) => (parseMailItem(json) as MailItem).flags;

test('toEas: flags, categories, verbs, HTML-only bodies as text or HTML, attachments by reference', () => {
  const sent = emailMapper.toEas(data, { version: '16.1', item: { collectionId: 'c/1', serverId: 'i:2' } });
  const get = (name: string) => sent.find((x) => x.name === name) as WbxmlElement;
  assert.equal(text(get('Read')), '0');
  assert.equal(text(child(get('Flag'), 'Status')), '2');
  assert.deepEqual(get('Categories').children.map((c) => text(c as WbxmlElement)), ['Work'], '$ keywords and system flags are no categories');
  assert.equal(text(get('LastVerbExecuted')), '3');
  assert.equal(text(child(get('Body'), 'Type')), '1');
  assert.equal(text(child(get('Body'), 'Data')), 'Hello there');
  const html = emailMapper.toEas(data, { version: '16.1', bodyPreference: { type: 2, truncationSize: 5, allOrNone: true } }).find((x) => x.name === 'Body') as WbxmlElement;
  assert.equal(text(child(html, 'Type')), '2');
  assert.equal(text(child(html, 'Truncated')), '1');
  assert.equal(child(html, 'Data'), undefined, 'AllOrNone: no cut Data');
  const reference = text(child(child(get('Attachments'), 'Attachment'), 'FileReference')) as string;
  assert.deepEqual(readFileReference(reference), { collectionId: 'c/1', serverId: 'i:2', part: '2' });
  assert.equal(readFileReference('a:b'), undefined);
  assert.equal(fileReference('a', 'b', 'c'), 'a:b:c');
});

test('fromEas: Read, Flag and Categories change flags only; what is left out stays; a category that is no keyword is refused', () => {
  const read = emailMapper.fromEas(as('ApplicationData', e('Read', '1')), data, context);
  assert.deepEqual(flagsOf(read), ['$Forwarded', 'Work', '\\Flagged', '\\Seen']);
  const unflagged = emailMapper.fromEas(as('ApplicationData', e('Flag')), data, context);
  assert.deepEqual(flagsOf(unflagged), ['$Forwarded', 'Work']);
  const complete = emailMapper.fromEas(as('ApplicationData', e('Flag', e('Status', '1'))), data, context);
  assert.deepEqual(flagsOf(complete), ['$Forwarded', 'Work']);
  const recategorized = emailMapper.fromEas(as('ApplicationData', e('Categories', e('Category', 'Home'))), data, context);
  assert.deepEqual(flagsOf(recategorized), ['$Forwarded', 'Home', '\\Flagged']);
  assert.equal(mailItemJson({ ...(parseMailItem(read) as MailItem), flags: item.flags }), data, 'nothing but the flags changed');
  assert.throws(() => emailMapper.fromEas(as('ApplicationData', e('Categories', e('Category', 'Two words'))), data, context), /cannot be an IMAP keyword/);
  assert.throws(() => emailMapper.fromEas(as('ApplicationData', e('Categories', e('Category', '\\Seen'))), data, context), /cannot be an IMAP keyword/);
  assert.throws(() => emailMapper.fromEas(as('ApplicationData', e('Read', '1')), undefined, context), /by mail/);
});

test('MIME: sent for MIMESupport 2, or 1 and S/MIME; cut at a character boundary; bytes that are not UTF-8 go opaque; else the next preference', () => {
  const bodyOf = (json: string, pref: Parameters<typeof emailMapper.toEas>[1]['bodyPreference'], bytes?: Uint8Array) =>
    emailMapper.toEas(json, { version: '14.1', ...(pref ? { bodyPreference: pref } : {}), ...(bytes ? { wholeBody: { type: 'message/rfc822' as const, bytes } } : {}) }).find((x) => x.name === 'Body') as WbxmlElement;
  const raw = Buffer.from('Subject: é\r\n\r\nbody\r\n', 'utf8');
  const mime = (support: number, rest: object = {}) => ({ type: 4, ...rest, mime: { support, otherwise: { type: 2 } } });
  const all = bodyOf(data, mime(2), raw);
  assert.deepEqual([text(child(all, 'Type')), text(child(all, 'EstimatedDataSize')), text(child(all, 'Data'))], ['4', String(raw.length), raw.toString('utf8')]);
  // 10 bytes would end inside "é" (bytes 9 and 10): cut before it.
  const cut = bodyOf(data, mime(2, { truncationSize: 10 }), raw);
  assert.deepEqual([text(child(cut, 'Truncated')), text(child(cut, 'Data'))], ['1', 'Subject: ']);
  const latin1 = Buffer.from('Subject: \xe9\r\n\r\n', 'latin1');
  assert.deepEqual(child(bodyOf(data, mime(2), latin1), 'Data')?.children[0], Uint8Array.from(latin1));
  // Not S/MIME: MIMESupport 1 and 0 get the next preference (HTML here); fetched or not.
  for (const support of [0, 1]) assert.equal(text(child(bodyOf(data, mime(support), raw), 'Type')), '2');
  const smime = mailItemJson({ ...item, attachments: [{ part: '2', name: 'smime.p7m', type: 'application/pkcs7-mime', size: 300, inline: false, contentId: null }] });
  assert.equal(text(child(bodyOf(smime, mime(1), raw), 'Type')), '4');
  // MIME wanted but not fetched (the cost rule): the text at hand.
  assert.equal(text(child(bodyOf(data, { type: 4, mime: { support: 2, otherwise: undefined } }), 'Type')), '1');
});

test('toEas: a message with an invitation is a meeting request with its MeetingRequest; a cancellation is canceled; 14.1 has a GlobalObjId, 16.1 the UID', () => {
  const o = { uid: 'weekly-1@example.org', organizer: { name: 'Olga', address: 'olga@example.org' }, attendees: [{ name: 'Ann', address: 'ann@example.org' }], summary: 'Weekly', location: 'Room 4', extra: ['RRULE:FREQ=WEEKLY;COUNT=5', 'SEQUENCE:0'] };
  const invited = mailItemJson({ ...item, invitation: { method: 'REQUEST', part: '3', text: invitationIcs(o) } });
  const request = (version: '14.1' | '16.1') => {
    const sent = emailMapper.toEas(invited, { version });
    assert.equal(text(sent.find((x) => x.name === 'MessageClass')), 'IPM.Schedule.Meeting.Request');
    const meeting = sent.find((x) => x.name === 'MeetingRequest') as WbxmlElement;
    assert.ok(meeting, 'a MeetingRequest element');
    const get = (name: string, ns = 'Email') => text(child(meeting, name, ns));
    assert.deepEqual(meeting.children.map((c) => (c as WbxmlElement).name).slice(0, 5), ['AllDayEvent', 'StartTime', 'DtStamp', 'EndTime', 'InstanceType'], 'in MS-ASEMAIL order');
    // 10:00 in Berlin in December is 09:00 UTC.
    assert.deepEqual([get('AllDayEvent'), get('StartTime'), get('EndTime'), get('DtStamp')], ['0', '2026-12-10T09:00:00.000Z', '2026-12-10T10:30:00.000Z', '2026-12-01T08:00:00.000Z']);
    assert.equal(get('InstanceType'), '1', 'a series');
    assert.equal(get('Organizer'), '"Olga" <olga@example.org>');
    assert.equal(get('ResponseRequested'), '1');
    const recurrence = child(child(meeting, 'Recurrences', 'Email'), 'Recurrence', 'Email');
    assert.deepEqual([text(child(recurrence, 'Type', 'Email')), text(child(recurrence, 'Occurrences', 'Email'))], ['1', '5']);
    assert.equal(decodeTimeZoneBlob(get('TimeZone') as string).bias, -60, 'the Berlin blob');
    assert.equal(text(child(meeting, 'MeetingMessageType', 'Email2')), '1', 'the first request');
    return { meeting, get };
  };
  const old = request('14.1');
  assert.equal(old.get('Location'), 'Room 4');
  const id = Buffer.from(old.get('GlobalObjId') as string, 'base64');
  assert.equal(id.subarray(0, 16).toString('hex').toUpperCase(), '040000008200E00074C5B7101A82E008');
  assert.ok(id.includes(Buffer.from('vCal-Uid\x01\x00\x00\x00weekly-1@example.org\x00', 'latin1')), 'a vCal-Uid of the UID');
  assert.equal(child(old.meeting, 'UID', 'Calendar'), undefined);
  const v16 = request('16.1');
  assert.equal(text(child(child(v16.meeting, 'Location', 'AirSyncBase'), 'DisplayName', 'AirSyncBase')), 'Room 4');
  assert.equal(text(child(v16.meeting, 'UID', 'Calendar')), 'weekly-1@example.org');
  assert.equal(v16.get('GlobalObjId'), undefined);

  const canceled = emailMapper.toEas(mailItemJson({ ...item, invitation: { method: 'CANCEL', part: '3', text: invitationIcs({ ...o, method: 'CANCEL' }) } }), { version: '16.1' });
  assert.equal(text(canceled.find((x) => x.name === 'MessageClass')), 'IPM.Schedule.Meeting.Canceled');
  assert.equal(text(child(canceled.find((x) => x.name === 'MeetingRequest'), 'ResponseRequested', 'Email')), '0');
  const unreadable = emailMapper.toEas(mailItemJson({ ...item, invitation: { method: 'REQUEST', part: '3', text: 'BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n' } }), { version: '16.1' });
  assert.equal(text(unreadable.find((x) => x.name === 'MessageClass')), 'IPM.Note', 'an invitation the mapper cannot read is plain mail');
  assert.equal(unreadable.find((x) => x.name === 'MeetingRequest'), undefined);
});
