import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { invitationIcs } from '../../test/support/invitation.js';
import { answeredEvent, eventUid, invitedAddress, itipReply, ItipRefusal } from './itip.js';

const o = {
  uid: 'series-7@example.org',
  organizer: { name: 'Olga', address: 'olga@example.org' },
  attendees: [{ name: 'Ann', address: 'Ann@Example.net' }, { name: 'Ben', address: 'ben@example.net' }],
  summary: 'Review',
  extra: ['RRULE:FREQ=WEEKLY;COUNT=3', 'SEQUENCE:2'],
};
const ics = invitationIcs(o);
const ann = new Set(['ann@example.net']);
const read = (text: string) => new ICAL.Component(ICAL.parse(text));
const partstat = (vevent: ICAL.Component, who: string) =>
  vevent.getAllProperties('attendee').find((p) => String(p.getFirstValue()).toLowerCase() === `mailto:${who}`)?.getParameter('partstat');

test('invitedAddress: the attendee among the addresses (any letter case); the organizer or no attendee is refused', () => {
  assert.equal(eventUid(ics), 'series-7@example.org');
  assert.equal(invitedAddress(ics, ann), 'ann@example.net');
  assert.throws(() => invitedAddress(ics, new Set(['olga@example.org'])), (e) => e instanceof ItipRefusal && /you organize/.test(e.message));
  assert.throws(() => invitedAddress(ics, new Set(['cat@example.net'])), (e) => e instanceof ItipRefusal && /cat@example\.net/.test(e.message));
  assert.throws(() => invitedAddress('not a calendar', ann), ItipRefusal);
});

test('answeredEvent: no METHOD, the PARTSTAT set, RSVP dropped, others untouched; the version the calendar holds, or a later one, keeps its content', () => {
  const accepted = read(answeredEvent(ics, undefined, 'ann@example.net', 'ACCEPTED'));
  assert.equal(accepted.getFirstPropertyValue('method'), null);
  const vevent = accepted.getFirstSubcomponent('vevent') as ICAL.Component;
  assert.equal(partstat(vevent, 'ann@example.net'), 'ACCEPTED');
  assert.equal(partstat(vevent, 'ben@example.net'), 'NEEDS-ACTION');
  const own = vevent.getAllProperties('attendee').find((p) => /ann@/i.test(String(p.getFirstValue())));
  assert.equal(own?.getParameter('rsvp'), undefined);
  assert.equal(vevent.getFirstPropertyValue('x-microsoft-cdo-busystatus'), null);

  const tentative = read(answeredEvent(ics, undefined, 'ann@example.net', 'TENTATIVE')).getFirstSubcomponent('vevent') as ICAL.Component;
  assert.equal(tentative.getFirstPropertyValue('x-microsoft-cdo-busystatus'), 'TENTATIVE');
  // Accepted after a tentative answer: no longer tentative busy time.
  const after = read(answeredEvent(answeredEvent(ics, undefined, 'ann@example.net', 'TENTATIVE'), undefined, 'ann@example.net', 'ACCEPTED')).getFirstSubcomponent('vevent') as ICAL.Component;
  assert.equal(after.getFirstPropertyValue('x-microsoft-cdo-busystatus'), null);

  const newer = invitationIcs({ ...o, summary: 'Review (moved)', extra: ['RRULE:FREQ=WEEKLY;COUNT=3', 'SEQUENCE:3'] }).replace('METHOD:REQUEST\r\n', '');
  const kept = read(answeredEvent(ics, newer, 'ann@example.net', 'ACCEPTED')).getFirstSubcomponent('vevent') as ICAL.Component;
  assert.equal(kept.getFirstPropertyValue('summary'), 'Review (moved)', 'the later version stays');
  assert.equal(partstat(kept, 'ann@example.net'), 'ACCEPTED');
  const alarmed = answeredEvent(ics, undefined, 'ann@example.net', 'TENTATIVE').replace('END:VEVENT', 'BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:Review\r\nEND:VALARM\r\nEND:VEVENT');
  const again = read(answeredEvent(ics, alarmed, 'ann@example.net', 'ACCEPTED')).getFirstSubcomponent('vevent') as ICAL.Component;
  assert.equal(again.getAllSubcomponents('valarm').length, 1, 'the same version answered again keeps what the calendar gave it');
  assert.equal(partstat(again, 'ann@example.net'), 'ACCEPTED');
  const older = invitationIcs({ ...o, summary: 'Review (old)', extra: ['SEQUENCE:1'] });
  assert.equal(read(answeredEvent(ics, older, 'ann@example.net', 'ACCEPTED')).getFirstSubcomponent('vevent')?.getFirstPropertyValue('summary'), 'Review', 'an older one is replaced');
});

test('itipReply: METHOD:REPLY with UID, SEQUENCE, ORGANIZER and only the replying ATTENDEE, per VEVENT (an occurrence by its RECURRENCE-ID)', () => {
  const occurrence = ics.replace(
    'END:VCALENDAR',
    'BEGIN:VEVENT\r\nUID:series-7@example.org\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261217T100000\r\nDTSTAMP:20261201T080000Z\r\nDTSTART;TZID=Europe/Berlin:20261217T120000\r\nSUMMARY:Review (later)\r\nSEQUENCE:2\r\nORGANIZER:mailto:olga@example.org\r\nATTENDEE;CN=Ann;RSVP=TRUE:mailto:Ann@Example.net\r\nEND:VEVENT\r\nEND:VCALENDAR',
  );
  const reply = itipReply(occurrence, 'ann@example.net', 'DECLINED', Date.UTC(2026, 11, 2, 9, 30, 15, 500), '-//Test//EN');
  assert.deepEqual(reply.organizer, { name: 'Olga', address: 'olga@example.org' });
  assert.deepEqual(reply.attendee, { name: 'Ann', address: 'ann@example.net' });
  assert.equal(reply.summary, 'Review');
  const calendar = read(reply.text);
  assert.equal(calendar.getFirstPropertyValue('method'), 'REPLY');
  const [series, instance] = calendar.getAllSubcomponents('vevent') as [ICAL.Component, ICAL.Component];
  for (const v of [series, instance]) {
    assert.equal(v.getFirstPropertyValue('uid'), 'series-7@example.org');
    assert.equal(v.getFirstPropertyValue('sequence'), 2);
    assert.equal(v.getAllProperties('attendee').length, 1, 'only the replying attendee');
    assert.equal(partstat(v, 'ann@example.net'), 'DECLINED');
    assert.equal(v.getFirstProperty('attendee')?.getParameter('rsvp'), undefined);
    assert.equal(String(v.getFirstPropertyValue('dtstamp')), '2026-12-02T09:30:15Z');
  }
  assert.equal(series.getFirstProperty('recurrence-id'), null);
  assert.equal(instance.getFirstProperty('recurrence-id')?.getParameter('tzid'), 'Europe/Berlin');
  assert.equal(instance.getFirstPropertyValue('summary'), 'Review (later)');
  // What it answers: the same for the same meeting whenever and whoever answers; another SEQUENCE or occurrence is another.
  assert.equal(itipReply(occurrence, 'ann@example.net', 'ACCEPTED', 0, '-//Other//EN').answers, reply.answers);
  assert.notEqual(itipReply(occurrence.replaceAll('SEQUENCE:2', 'SEQUENCE:3'), 'ann@example.net', 'DECLINED', 0, '-//Test//EN').answers, reply.answers);
  assert.notEqual(itipReply(occurrence, 'ann@example.net', 'DECLINED', 0, '-//Test//EN', (v) => v.getFirstProperty('recurrence-id') !== null).answers, reply.answers);
  assert.throws(() => itipReply(ics.replace(/ORGANIZER[^\r]*\r\n/, ''), 'ann@example.net', 'ACCEPTED', 0, '-//Test//EN'), ItipRefusal);
});
