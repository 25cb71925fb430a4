import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { namespace, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import type { Dovecot } from '../support/dovecot.js';
import { all, as, asb, at, collectionOf, commandsOf, maybeText, textAt, type EasAccount, type EasClient } from '../support/eas-client.js';
import { invitationMessage, type InvitationOptions } from '../support/invitation.js';
import { sendChecked } from '../support/libwbxml.js';
import type { TestServer } from '../support/server.js';
import { deliverOverLmtp, type Submission } from '../support/submission.js';
import { runUpstreams } from '../support/upstreams.js';
import { easMailAccount, easMailWorld } from '../support/eas-mail-world.js';

/**
 * Meeting invitations by mail over ActiveSync (docs/eas.md § Meeting invitations), for 14.1 and 16.1,
 * through a real Syncpoint server, Dovecot and an SMTP submission server: an invitation delivered over
 * LMTP is a meeting request on Sync with its MeetingRequest; accepting puts the event into the calendar
 * with the user's PARTSTAT, where a native device and the phone's own calendar Sync find it; in 16.1 with
 * SendResponse exactly one iTIP REPLY goes to the organizer, also when the request is sent again, and in
 * 14.1 none (the phone sends its own); declining removes the event; what is no meeting request, or is
 * another account's, gets Status 2. Every request and answer body is read by libwbxml too.
 */
const mr = namespace('MeetingResponse');
const srch = namespace('Search');
const versions = ['14.1', '16.1'] as const;
const organizer = { name: 'Olga Organizer', address: 'olga@example.org' };

let dovecot: Dovecot;
let submission: Submission;
let server: TestServer;
const world = easMailWorld({ ann: 'ann-secret', ben: 'ben-secret' }, (w) => void ({ dovecot, server, submission } = w));

const address = (user: string) => `${user}@${dovecot.domain}`;

interface MailAccount {
  account: EasAccount;
  inbox: string;
}

/** An ActiveSync account whose mail is Dovecot's `user`, with the submission server, its address set. */
async function mailAccount(user: string): Promise<MailAccount> {
  const { account, folder } = await easMailAccount(world, user);
  return { account, inbox: folder('INBOX') };
}

let invitations = 0;
/** Delivers an invitation from Olga to `user` (and Ben) over LMTP, runs the upstream; its subject and UID. */
async function invite(ann: MailAccount, user: string, o: Partial<InvitationOptions> = {}): Promise<{ subject: string; uid: string }> {
  const n = ++invitations;
  const invitation = {
    uid: `meeting-${n}@example.org`,
    organizer,
    attendees: [{ name: 'Ann', address: address(user) }, { name: 'Ben', address: address('ben') }],
    summary: `Planning ${n}`,
    location: 'Room 4',
    messageId: `<invitation-${n}@example.org>`,
    ...o,
  };
  await deliverOverLmtp(dovecot, { from: organizer.address, to: [address(user)] }, invitationMessage(invitation));
  await runUpstreams(server, ann.account.accountId);
  return { subject: invitation.summary, uid: invitation.uid };
}

const send = sendChecked;

/** The phone's Inbox from key 0: the Adds by subject, with their ServerId and ApplicationData. */
async function inboxAdds(phone: EasClient, inbox: string): Promise<Map<string, { serverId: string; data: WbxmlElement }>> {
  const key = await phone.primeSync(inbox);
  const answer = collectionOf((await send(phone, 'Sync', as('Sync', as('Collections', as('Collection', as('SyncKey', key), as('CollectionId', inbox), as('WindowSize', '100')))))).body as WbxmlElement);
  const out = new Map<string, { serverId: string; data: WbxmlElement }>();
  for (const add of commandsOf(answer, 'Add')) out.set(textAt(add, 'ApplicationData/Subject'), { serverId: textAt(add, 'ServerId'), data: at(add, 'ApplicationData') as WbxmlElement });
  return out;
}

const request = (userResponse: string, collectionId: string, requestId: string, ...extra: WbxmlElement[]) =>
  mr('Request', mr('UserResponse', userResponse), mr('CollectionId', collectionId), mr('RequestId', requestId), ...extra);

/** One MeetingResponse of one Request: its Result's RequestId, Status and CalendarId. */
async function respond(phone: EasClient, req: WbxmlElement): Promise<{ requestId: string; status: string; calendarId: string | undefined }> {
  const res = await send(phone, 'MeetingResponse', mr('MeetingResponse', req));
  assert.equal(res.body?.name, 'MeetingResponse');
  const result = at(res.body, 'Result');
  return { requestId: textAt(result, 'RequestId'), status: textAt(result, 'Status'), calendarId: maybeText(result, 'CalendarId') };
}

/** The calendar's events with that UID, as a native device reads them. */
async function eventsWithUid(ann: MailAccount, uid: string): Promise<Array<{ serverId: string; vevent: ICAL.Component }>> {
  const items = await ann.account.native(`reader${Math.random().toString(36).slice(2, 8)}`).items(ann.account.calendar);
  const out: Array<{ serverId: string; vevent: ICAL.Component }> = [];
  for (const [serverId, item] of items) {
    const vevent = new ICAL.Component(ICAL.parse(item.data)).getFirstSubcomponent('vevent');
    if (vevent?.getFirstPropertyValue('uid') === uid) out.push({ serverId, vevent });
  }
  return out;
}

const partstatOf = (vevent: ICAL.Component, who: string) =>
  vevent.getAllProperties('attendee').find((p) => String(p.getFirstValue()).toLowerCase() === `mailto:${who}`)?.getParameter('partstat');

const repliesTo = (uid: string) => submission.accepted.filter((m) => m.raw.toString('utf8').includes('METHOD:REPLY') && m.raw.toString('utf8').replace(/\r\n /g, '').includes(`UID:${uid}`));

/** The REPLY a submitted message carries, read with ical.js from its text/calendar part. */
function replyOf(raw: Buffer): ICAL.Component {
  const text = raw.toString('utf8');
  const start = text.indexOf('BEGIN:VCALENDAR');
  const end = text.indexOf('END:VCALENDAR');
  assert.ok(start !== -1 && end !== -1, 'the reply carries its iCalendar object as text');
  return new ICAL.Component(ICAL.parse(text.slice(start, end + 'END:VCALENDAR'.length)));
}

for (const version of versions) {
  const v = version.replace('.', '');
  const v16 = version.startsWith('16');

  test(`${version}: an invitation is a meeting request; accepting puts it into the calendar with PARTSTAT=ACCEPTED, ${v16 ? 'and SendResponse sends one REPLY, never two' : 'and sends nothing (the phone replies by SendMail)'}`, async () => {
    const ann = await mailAccount('ann');
    const { subject, uid } = await invite(ann, 'ann', { extra: ['RRULE:FREQ=WEEKLY;COUNT=4'] });
    const phone = ann.account.eas(`Meet${v}`, { version });
    const adds = await inboxAdds(phone, ann.inbox);
    const message = adds.get(subject);
    assert.ok(message, 'the invitation reaches the phone');
    assert.equal(textAt(message.data, 'MessageClass'), 'IPM.Schedule.Meeting.Request');
    const meeting = at(message.data, 'MeetingRequest') as WbxmlElement;
    assert.ok(meeting, 'with its MeetingRequest');
    // 10:00 to 11:30 in Berlin on 10 December is 09:00 to 10:30 UTC.
    assert.equal(textAt(meeting, 'StartTime'), '2026-12-10T09:00:00.000Z');
    assert.equal(textAt(meeting, 'EndTime'), '2026-12-10T10:30:00.000Z');
    assert.equal(textAt(meeting, 'DtStamp'), '2026-12-01T08:00:00.000Z');
    assert.equal(textAt(meeting, 'AllDayEvent'), '0');
    assert.equal(textAt(meeting, 'InstanceType'), '1', 'a weekly series');
    assert.equal(textAt(meeting, 'Organizer'), `"${organizer.name}" <${organizer.address}>`);
    assert.equal(textAt(meeting, 'ResponseRequested'), '1');
    assert.equal(textAt(meeting, 'Recurrences/Recurrence/Type'), '1');
    assert.equal(textAt(meeting, 'Recurrences/Recurrence/Occurrences'), '4');
    assert.ok(maybeText(meeting, 'TimeZone'), 'the zone blob');
    if (v16) {
      assert.equal(textAt(meeting, 'UID'), uid);
      assert.equal(textAt(meeting, 'Location/DisplayName'), 'Room 4');
      assert.equal(maybeText(meeting, 'GlobalObjId'), undefined);
    } else {
      assert.equal(textAt(meeting, 'Location'), 'Room 4');
      assert.ok(Buffer.from(textAt(meeting, 'GlobalObjId'), 'base64').includes(Buffer.from(`vCal-Uid\u0001\u0000\u0000\u0000${uid}\u0000`, 'latin1')));
    }
    assert.equal(textAt(meeting, 'MeetingMessageType'), '1');

    const sentBefore = submission.accepted.length;
    const accept = request('1', ann.inbox, message.serverId, ...(v16 ? [mr('SendResponse', asb('Body', asb('Type', '1'), asb('Data', 'Glad to come.')))] : []));
    const first = await respond(phone, accept);
    assert.deepEqual([first.requestId, first.status], [message.serverId, '1']);
    assert.ok(first.calendarId, 'CalendarId names the event');
    const events = await eventsWithUid(ann, uid);
    assert.equal(events.length, 1, 'the event is in the default calendar once');
    assert.equal(events[0]?.serverId, first.calendarId);
    assert.equal(partstatOf(events[0]?.vevent as ICAL.Component, address('ann')), 'ACCEPTED');
    assert.equal(partstatOf(events[0]?.vevent as ICAL.Component, address('ben')), 'NEEDS-ACTION', "another attendee's status stays");

    // The phone's own calendar Sync brings it: the write is the server's, not the phone's.
    const calendarKey = await phone.primeSync(ann.account.calendar);
    const calendarAdds = commandsOf(collectionOf(await phone.sync({ collectionId: ann.account.calendar, syncKey: calendarKey })), 'Add');
    assert.deepEqual(calendarAdds.map((a) => textAt(a, 'ServerId')), [first.calendarId]);
    assert.equal(textAt(calendarAdds[0], 'ApplicationData/UID'), uid);

    if (v16) {
      const replies = repliesTo(uid);
      assert.equal(replies.length, 1, 'one REPLY');
      const sent = replies[0] as (typeof replies)[number];
      assert.deepEqual([sent.from, sent.to], [address('ann'), [organizer.address]]);
      const raw = sent.raw.toString('utf8');
      assert.match(raw, /^Subject: Accepted: Planning \d+\r$/m);
      assert.match(raw, /Content-Type: text\/calendar; charset=utf-8; method=REPLY/i);
      assert.match(raw, /In-Reply-To: <invitation-\d+@example\.org>/);
      assert.ok(raw.includes('Glad to come.'), "the phone's text");
      const reply = replyOf(sent.raw);
      assert.equal(reply.getFirstPropertyValue('method'), 'REPLY');
      const vevent = reply.getFirstSubcomponent('vevent') as ICAL.Component;
      assert.equal(vevent.getFirstPropertyValue('uid'), uid);
      assert.equal(vevent.getAllProperties('attendee').length, 1, 'only the replying attendee');
      assert.equal(partstatOf(vevent, address('ann')), 'ACCEPTED');
      assert.equal(String(vevent.getFirstPropertyValue('organizer')).toLowerCase(), `mailto:${organizer.address}`);
    } else {
      assert.equal(submission.accepted.length, sentBefore, '14.1: the server sends no reply');
    }

    // The answer was lost: the phone sends the request again. The same event, and no second reply.
    const again = await respond(phone, accept);
    assert.deepEqual([again.status, again.calendarId], ['1', first.calendarId]);
    assert.equal((await eventsWithUid(ann, uid)).length, 1);
    assert.equal(repliesTo(uid).length, v16 ? 1 : 0, 'nothing sent twice');
  });

  test(`${version}: tentative, then decline, then tentative again: the event is tentative, gone, tentative${v16 ? '; the organizer is told each change once' : ''}`, async () => {
    const ann = await mailAccount('ann');
    const { subject, uid } = await invite(ann, 'ann');
    const phone = ann.account.eas(`Decline${v}`, { version });
    const message = (await inboxAdds(phone, ann.inbox)).get(subject);
    assert.ok(message);
    const sendResponse = v16 ? [mr('SendResponse')] : [];
    const tentative = await respond(phone, request('2', ann.inbox, message.serverId, ...sendResponse));
    assert.equal(tentative.status, '1');
    const [event] = await eventsWithUid(ann, uid);
    assert.equal(partstatOf(event?.vevent as ICAL.Component, address('ann')), 'TENTATIVE');
    assert.equal(event?.vevent.getFirstPropertyValue('x-microsoft-cdo-busystatus'), 'TENTATIVE');

    const declined = await respond(phone, request('3', ann.inbox, message.serverId, ...sendResponse));
    assert.deepEqual([declined.status, declined.calendarId], ['1', undefined], 'a decline names no calendar item');
    assert.deepEqual(await eventsWithUid(ann, uid), [], 'a declined meeting leaves the calendar');
    const answers = () => repliesTo(uid).map((m) => partstatOf(replyOf(m.raw).getFirstSubcomponent('vevent') as ICAL.Component, address('ann')));
    assert.deepEqual(answers(), v16 ? ['TENTATIVE', 'DECLINED'] : []);

    // Tentative again: the organizer's latest word is the decline, so it is told; the same request once more tells nothing new.
    assert.equal((await respond(phone, request('2', ann.inbox, message.serverId, ...sendResponse))).status, '1');
    assert.equal((await respond(phone, request('2', ann.inbox, message.serverId, ...sendResponse))).status, '1');
    assert.deepEqual(answers(), v16 ? ['TENTATIVE', 'DECLINED', 'TENTATIVE'] : []);
  });
}

test('16.1: the same answer to a meeting from another message of it (delivered again, or moved) sends no second REPLY; an update of the meeting is replied to (sim --mail seeds 67, 109)', async () => {
  const ann = await mailAccount('ann');
  const first = await invite(ann, 'ann');
  const again = await invite(ann, 'ann', { uid: first.uid, summary: `${first.subject} again` });
  const update = await invite(ann, 'ann', { uid: first.uid, summary: `${first.subject} later`, extra: ['SEQUENCE:1'] });
  const phone = ann.account.eas('Twice161', { version: '16.1' });
  const adds = await inboxAdds(phone, ann.inbox);
  const accept = async (subject: string) => {
    const message = adds.get(subject);
    assert.ok(message, subject);
    assert.equal((await respond(phone, request('1', ann.inbox, message.serverId, mr('SendResponse')))).status, '1');
  };
  await accept(first.subject);
  assert.equal(repliesTo(first.uid).length, 1);
  await accept(again.subject);
  assert.equal(repliesTo(first.uid).length, 1, 'the same meeting, the same answer: no second REPLY');
  await accept(update.subject);
  const replies = repliesTo(first.uid).map((m) => (replyOf(m.raw).getFirstSubcomponent('vevent') as ICAL.Component).getFirstPropertyValue('sequence') ?? 0);
  assert.deepEqual(replies, [0, 1], 'the update (SEQUENCE 1) is replied to');
});

test('16.1: without SendResponse nothing is sent; an event in the calendar is answered in place; an invitation past a long HTML version is one too', async () => {
  const ann = await mailAccount('ann');
  // The text/calendar part lies past the first 32 KiB the upstream reads of a message: it is fetched apart.
  const { subject, uid } = await invite(ann, 'ann', { htmlPadding: 48 * 1024 });
  const phone = ann.account.eas('Quiet161', { version: '16.1' });
  const message = (await inboxAdds(phone, ann.inbox)).get(subject);
  assert.ok(message);
  assert.equal(textAt(message.data, 'MessageClass'), 'IPM.Schedule.Meeting.Request', 'a meeting request, its calendar part read apart');
  assert.equal(textAt(message.data, 'MeetingRequest/UID'), uid);
  const accepted = await respond(phone, request('1', ann.inbox, message.serverId));
  assert.equal(accepted.status, '1');
  assert.equal(repliesTo(uid).length, 0, 'no SendResponse, no reply');
  // Answered again from the calendar folder: the event there changes.
  const inCalendar = await respond(phone, request('2', ann.account.calendar, accepted.calendarId as string));
  assert.deepEqual([inCalendar.status, inCalendar.calendarId], ['1', accepted.calendarId]);
  const [event] = await eventsWithUid(ann, uid);
  assert.equal(partstatOf(event?.vevent as ICAL.Component, address('ann')), 'TENTATIVE');
  // One occurrence of an event that does not recur; an InstanceId that is no date-time.
  assert.equal((await respond(phone, request('1', ann.account.calendar, accepted.calendarId as string, mr('InstanceId', '2026-12-10T09:00:00.000Z')))).status, '146');
  assert.equal((await respond(phone, request('1', ann.account.calendar, accepted.calendarId as string, mr('InstanceId', 'next week')))).status, '104');
});

test('16.1: one occurrence of a series answered by InstanceId in the calendar: tentative in its override, declined out of the series, each replied for that occurrence alone', async () => {
  const ann = await mailAccount('ann');
  const { subject, uid } = await invite(ann, 'ann', { extra: ['RRULE:FREQ=WEEKLY;COUNT=4'] });
  const phone = ann.account.eas('Occurrence161', { version: '16.1' });
  const message = (await inboxAdds(phone, ann.inbox)).get(subject);
  assert.ok(message);
  const accepted = await respond(phone, request('1', ann.inbox, message.serverId));
  assert.equal(accepted.status, '1');
  const eventId = accepted.calendarId as string;
  // The second occurrence, 17 December 10:00 in Berlin, is 09:00 UTC.
  const tentative = await send(phone, 'MeetingResponse', mr('MeetingResponse', request('2', ann.account.calendar, eventId, mr('InstanceId', '2026-12-17T09:00:00.000Z'), mr('SendResponse'))));
  assert.deepEqual([textAt(tentative.body, 'Result/Status'), textAt(tentative.body, 'Result/CalendarId'), textAt(tentative.body, 'Result/InstanceId')], ['1', eventId, '2026-12-17T09:00:00.000Z']);
  const declined = await respond(phone, request('3', ann.account.calendar, eventId, mr('InstanceId', '2026-12-24T09:00:00.000Z'), mr('SendResponse')));
  assert.deepEqual([declined.status, declined.calendarId], ['1', undefined]);

  const [event, ...more] = await eventsWithUid(ann, uid);
  assert.ok(event && more.length === 0, 'still one event');
  const calendar = event.vevent.parent as ICAL.Component;
  const [series, override, ...others] = calendar.getAllSubcomponents('vevent') as ICAL.Component[];
  assert.ok(series && override && others.length === 0, calendar.toString());
  assert.equal(partstatOf(series, address('ann')), 'ACCEPTED', 'the series stays accepted');
  assert.equal(override.getFirstProperty('recurrence-id')?.toICALString(), 'RECURRENCE-ID;TZID=Europe/Berlin:20261217T100000');
  assert.equal(partstatOf(override, address('ann')), 'TENTATIVE');
  assert.deepEqual(series.getAllProperties('exdate').map((p) => p.toICALString()), ['EXDATE;TZID=Europe/Berlin:20261224T100000'], 'the declined occurrence leaves the series');

  const replies = repliesTo(uid).map((m) => replyOf(m.raw).getFirstSubcomponent('vevent') as ICAL.Component);
  assert.deepEqual(
    replies.map((v) => [v.getFirstProperty('recurrence-id')?.toICALString(), partstatOf(v, address('ann'))]),
    [
      ['RECURRENCE-ID;TZID=Europe/Berlin:20261217T100000', 'TENTATIVE'],
      ['RECURRENCE-ID;TZID=Europe/Berlin:20261224T100000', 'DECLINED'],
    ],
  );
});

test('Status 2: a message that is no meeting request, an item of another account, an unknown UserResponse, an InstanceId; nothing is written or sent', async () => {
  const ann = await mailAccount('ann');
  const ben = await mailAccount('ben');
  await deliverOverLmtp(dovecot, { from: organizer.address, to: [address('ann')] }, `From: ${organizer.address}\r\nTo: ${address('ann')}\r\nSubject: Just mail\r\nMessage-ID: <plain-1@example.org>\r\n\r\nNo meeting here.\r\n`);
  await runUpstreams(server, ann.account.accountId);
  const { subject, uid } = await invite(ben, 'ben');
  const annPhone = ann.account.eas('Errors161', { version: '16.1' });
  const benPhone = ben.account.eas('Ben161', { version: '16.1' });
  const plain = (await inboxAdds(annPhone, ann.inbox)).get('Just mail');
  const bens = (await inboxAdds(benPhone, ben.inbox)).get(subject);
  assert.ok(plain && bens);
  assert.equal(textAt(plain.data, 'MessageClass'), 'IPM.Note');
  const sentBefore = submission.accepted.length;
  const reply = [mr('SendResponse')];
  assert.deepEqual(await respond(annPhone, request('1', ann.inbox, plain.serverId, ...reply)), { requestId: plain.serverId, status: '2', calendarId: undefined }, 'no meeting request');
  assert.equal((await respond(annPhone, request('1', ben.inbox, bens.serverId, ...reply))).status, '2', "another account's folder");
  assert.equal((await respond(annPhone, request('1', ann.inbox, bens.serverId, ...reply))).status, '2', "another account's item");
  assert.equal((await respond(benPhone, request('4', ben.inbox, bens.serverId, ...reply))).status, '2', 'UserResponse 4');
  assert.equal((await respond(benPhone, request('1', ben.inbox, bens.serverId, mr('InstanceId', '2026-12-10T09:00:00.000Z')))).status, '2', 'InstanceId of a meeting request');
  assert.equal(submission.accepted.length, sentBefore, 'nothing sent');
  assert.deepEqual(await eventsWithUid(ben, uid), [], 'nothing written');
  // MS-ASCMD's example request (4.17.1), two occurrences named by CollectionId and RequestId, and by LongId:
  // neither names anything of this account. Each gets its Result; the LongId one has no RequestId to repeat.
  const example = mr('MeetingResponse',
    mr('Request', mr('UserResponse', '2'), mr('CollectionId', '19'), mr('RequestId', '19:39'), mr('InstanceId', '20090907T07:00:00.000Z')),
    mr('Request', mr('UserResponse', '1'), srch('LongId', 'RgAAAju…  …ALS8pQAARL'), mr('InstanceId', '20091210T17:30:00.000Z')));
  const answer = (await send(annPhone, 'MeetingResponse', example)).body;
  assert.deepEqual(all(answer, 'Result').map((r) => [maybeText(r, 'RequestId'), textAt(r, 'Status'), maybeText(r, 'InstanceId')]), [
    ['19:39', '2', '20090907T07:00:00.000Z'],
    [undefined, '2', '20091210T17:30:00.000Z'],
  ]);
  const options = await annPhone.options(null);
  assert.ok((options.headers.get('ms-asprotocolcommands') ?? '').split(',').includes('MeetingResponse'), 'OPTIONS names MeetingResponse');
  // Ann is no attendee of an invitation only for Ben: forwarded to her, it cannot be answered by her.
  const forwarded = await invite(ann, 'ann', { attendees: [{ name: 'Ben', address: address('ben') }] });
  const fwd = (await inboxAdds(annPhone, ann.inbox)).get(forwarded.subject);
  assert.ok(fwd);
  assert.equal((await respond(annPhone, request('1', ann.inbox, fwd.serverId))).status, '2', 'not among the attendees');
});
