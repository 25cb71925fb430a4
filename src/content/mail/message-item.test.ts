import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { limits } from '../../core/limits.js';
import { invitationIcs, invitationMessage } from '../../../test/support/invitation.js';
import { parseMailItem, type MailItem } from './item.js';
import { buildMailItem, mailItemOf, rfc5322Date, type BodyStructure, type MessageFacts } from './message-item.js';

/** A message's source with CRLF line ends, as an IMAP server holds it. */
const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');
const received = new Date('2026-12-07T09:30:15.250Z');

/** Builds the item, checks it is one the mail kind accepts (its schema), and gives it back parsed. */
function build(facts: Partial<MessageFacts> & Pick<MessageFacts, 'source' | 'bodyStructure'>): MailItem {
  const message: MessageFacts = { flags: [], size: facts.source.length, internalDate: received, ...facts };
  const json = mailItemOf(message);
  const parsed = parseMailItem(json);
  assert.ok(typeof parsed !== 'string', String(parsed));
  assert.deepEqual(JSON.parse(json), buildMailItem(message), 'one item, one text');
  return JSON.parse(json) as MailItem;
}

const sha22 = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64url').slice(0, 22);

test('multipart/alternative: the plain version is the body, the HTML one its alternative; flags are kept as §10.5 says', () => {
  const source = crlf([
    'Return-Path: <anna@example.org>',
    'From: Anna Schmidt <anna@example.org>',
    'To: "Berg, Carl" <carl@example.net>, dora@example.net',
    'Cc: Team: eve@example.net, frank@example.net;',
    'Subject: Lunch on Friday?',
    'Date: Fri, 4 Dec 2026 11:02:33 +0100',
    'Message-ID: <20261204100233.GA1234@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="=_alt_42"',
    '',
    'This is a multi-part message in MIME format.',
    '--=_alt_42',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hi Carl,',
    '',
    'shall we   meet at the café at noon?',
    '',
    '-- ',
    'Anna',
    '--=_alt_42',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Hi Carl,</p><p>shall we meet at the caf&eacute; at noon?</p>',
    '--=_alt_42--',
    '',
  ]);
  // The source is UTF-8: write it as bytes.
  const utf8 = Buffer.from(source.toString('latin1'), 'utf8');
  const bodyStructure: BodyStructure = {
    type: 'multipart/alternative',
    parameters: { boundary: '=_alt_42' },
    childNodes: [
      { part: '1', type: 'text/plain', parameters: { charset: 'utf-8' }, encoding: '8bit', size: 70 },
      { part: '2', type: 'text/html', parameters: { charset: 'utf-8' }, encoding: '7bit', size: 66 },
    ],
  };
  const item = build({ source: utf8, bodyStructure, flags: new Set(['\\Recent', '\\seen', '$Forwarded', '\\Deleted', 'NonJunk', 'bad flag']), size: utf8.length });
  assert.equal(item.subject, 'Lunch on Friday?');
  assert.deepEqual(item.from, [{ name: 'Anna Schmidt', address: 'anna@example.org' }]);
  assert.deepEqual(item.to, [
    { name: 'Berg, Carl', address: 'carl@example.net' },
    { name: null, address: 'dora@example.net' },
  ]);
  assert.deepEqual(item.cc, [
    { name: null, address: 'eve@example.net' },
    { name: null, address: 'frank@example.net' },
  ], 'groups flattened');
  assert.deepEqual([item.sender, item.replyTo, item.bcc], [[], [], []]);
  assert.equal(item.date, '2026-12-04T10:02:33Z');
  assert.equal(item.receivedAt, '2026-12-07T09:30:15Z');
  assert.equal(item.messageId, '<20261204100233.GA1234@example.org>');
  assert.equal(item.threadId, sha22('<20261204100233.GA1234@example.org>'), 'a message that starts a thread names it by its own id');
  assert.deepEqual(item.flags, ['$Forwarded', 'NonJunk', '\\Seen']);
  assert.deepEqual(item.body, { type: 'text/plain', text: 'Hi Carl,\n\nshall we   meet at the café at noon?\n\n-- \nAnna', complete: true, part: '1', htmlPart: '2' });
  assert.equal(item.preview, 'Hi Carl, shall we meet at the café at noon? -- Anna');
  assert.deepEqual(item.attachments, [], 'the HTML alternative is no attachment');
  assert.equal(item.size, utf8.length);
});

test('multipart/mixed: the body inside its alternative, a PDF and an inline image as attachments', () => {
  const pdf = Buffer.alloc(300, 7).toString('base64');
  const source = crlf([
    'From: reports@example.com',
    'To: anna@example.org',
    'Subject: Monthly report',
    'Message-ID: <r-11@example.com>',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: multipart/alternative; boundary="inner"',
    '',
    '--inner',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'The report is attached.',
    '--inner',
    'Content-Type: multipart/related; boundary="rel"',
    '',
    '--rel',
    'Content-Type: text/html; charset=us-ascii',
    '',
    '<p>The report is attached.<img src="cid:logo@example.com"></p>',
    '--rel',
    'Content-Type: image/png',
    'Content-ID: <logo@example.com>',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--rel--',
    '--inner--',
    '--outer',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="Report November.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    pdf,
    '--outer--',
  ]);
  const bodyStructure: BodyStructure = {
    type: 'multipart/mixed',
    parameters: { boundary: 'outer' },
    childNodes: [
      {
        part: '1',
        type: 'multipart/alternative',
        parameters: { boundary: 'inner' },
        childNodes: [
          { part: '1.1', type: 'text/plain', parameters: { charset: 'us-ascii' }, encoding: '7bit', size: 23 },
          {
            part: '1.2',
            type: 'multipart/related',
            parameters: { boundary: 'rel' },
            childNodes: [
              { part: '1.2.1', type: 'text/html', parameters: { charset: 'us-ascii' }, encoding: '7bit', size: 62 },
              { part: '1.2.2', type: 'image/png', id: '<logo@example.com>', encoding: 'base64', size: 12 },
            ],
          },
        ],
      },
      { part: '2', type: 'application/pdf', parameters: { name: 'report.pdf' }, disposition: 'attachment', dispositionParameters: { filename: 'Report November.pdf' }, encoding: 'base64', size: pdf.length },
    ],
  };
  const item = build({ source, bodyStructure });
  assert.deepEqual(item.body, { type: 'text/plain', text: 'The report is attached.', complete: true, part: '1.1', htmlPart: '1.2.1' });
  assert.deepEqual(item.attachments, [
    { part: '1.2.2', name: null, type: 'image/png', size: 12, inline: true, contentId: '<logo@example.com>' },
    { part: '2', name: 'Report November.pdf', type: 'application/pdf', size: pdf.length, inline: false, contentId: null },
  ]);
});

test('ISO-8859-1 quoted-printable text, and encoded words in the subject and names, are decoded to UTF-8', () => {
  const source = crlf([
    'From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@example.de>',
    'To: =?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.fr>',
    'Subject: =?ISO-8859-1?Q?=C4nderung_der_Termine?= =?UTF-8?Q?_f=C3=BCr_M=C3=A4rz?=',
    'Date: Mon, 7 Dec 26 08:15 EST',
    'Message-ID: <x1@example.de>',
    'Content-Type: text/plain; charset=ISO-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Sehr geehrte Frau D=FCrr,=20',
    'die Gr=FC=DFe aus K=F6ln: ein sehr langer Satz, der weich umbrochen w=',
    'ird.',
    '',
  ]);
  const item = build({ source, bodyStructure: { type: 'text/plain', parameters: { charset: 'ISO-8859-1' }, encoding: 'quoted-printable', size: 120 } });
  assert.equal(item.subject, 'Änderung der Termine für März');
  assert.deepEqual(item.from, [{ name: 'Jürgen Müller', address: 'jm@example.de' }]);
  assert.deepEqual(item.to, [{ name: 'Élodie', address: 'elodie@example.fr' }]);
  assert.equal(item.date, '2026-12-07T13:15:00Z', 'two-digit year, no seconds, an obsolete zone name');
  assert.equal(item.body?.text, 'Sehr geehrte Frau Dürr, \ndie Grüße aus Köln: ein sehr langer Satz, der weich umbrochen wird.\n');
  assert.equal(item.body?.part, '1', "a single-part message's body is section 1");
  assert.equal(item.body?.complete, true);
});

test('a cut source gives what it holds of the text, without a half character, marked incomplete', () => {
  const words = 'Grüße aus dem schönen Köln. '.repeat(800);
  const encoded = Buffer.from(words, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  const whole = crlf(['From: a@example.org', 'Subject: Long', 'Message-ID: <long@example.org>', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', encoded, '']);
  const structure: BodyStructure = { type: 'text/plain', parameters: { charset: 'utf-8' }, encoding: 'base64', size: encoded.length };
  for (const cut of [3001, 3002, 3003, 3004, 5000]) {
    const item = build({ source: whole.subarray(0, cut), bodyStructure: structure, size: whole.length });
    const text = item.body?.text as string;
    assert.equal(item.body?.complete, false);
    assert.ok(words.startsWith(text), `cut at ${cut}: the text is a start of the message's (${text.slice(-10)})`);
    assert.ok(text.length > 1000);
  }
  // The whole source, but a text longer than the first portion: cut at a character boundary.
  const item = build({ source: whole, bodyStructure: structure });
  const text = item.body?.text as string;
  assert.equal(item.body?.complete, false);
  assert.ok(Buffer.byteLength(text, 'utf8') <= limits.mailBodyBytesMax && Buffer.byteLength(text, 'utf8') > limits.mailBodyBytesMax - 4);
  assert.ok(words.startsWith(text));
  assert.equal(item.preview.length, limits.mailPreviewCharsMax);

  // Cut inside a quoted-printable escape, and inside the header block.
  const qp = crlf(['From: b@example.org', 'Subject: QP', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', 'Caf=E9 cr=E8me br=FBl=E9e']);
  const cutQp = build({ source: qp.subarray(0, qp.length - 2), bodyStructure: { type: 'text/plain', parameters: { charset: 'iso-8859-1' }, encoding: 'quoted-printable', size: 30 }, size: qp.length });
  assert.deepEqual([cutQp.body?.text, cutQp.body?.complete], ['Café crème brûl', false]);
  const cutHeaders = build({ source: qp.subarray(0, 28), bodyStructure: { type: 'text/plain' }, size: qp.length });
  assert.deepEqual([cutHeaders.from, cutHeaders.subject, cutHeaders.body], [[{ name: null, address: 'b@example.org' }], '', { type: 'text/plain', text: '', complete: false, part: '1', htmlPart: null }], 'the cut last header line is left out');
});

test('a message without Message-ID has a thread of its own, named from when it arrived, its size and subject', () => {
  const source = crlf(['From: cron@example.org', 'Subject: Backup done', 'Content-Type: text/plain', '', 'ok', '']);
  const item = build({ source, bodyStructure: { type: 'text/plain', size: 4 }, size: 1234 });
  assert.equal(item.messageId, null);
  assert.equal(item.threadId, sha22('2026-12-07T09:30:15Z\n1234\nBackup done'));
  assert.equal(item.date, null);
});

test('HTML-only mail: the body is the HTML, the preview its text', () => {
  const source = crlf([
    'From: News <news@example.com>',
    'Subject: This week',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<!DOCTYPE html><html><head><title>Newsletter</title><style>p { color: red }</style></head>',
    '<body><header>Top</header><!-- tracking --><p>Fish &amp; chips &lt;3&nbsp;&#8364;5 &#x263A;</p><script>alert(1)</script></body></html>',
  ]);
  const item = build({ source, bodyStructure: { type: 'text/html', parameters: { charset: 'utf-8' }, size: 200 } });
  assert.equal(item.body?.type, 'text/html');
  assert.equal(item.body?.htmlPart, null);
  assert.match(item.body?.text ?? '', /^<!DOCTYPE html>/);
  assert.equal(item.preview, 'Top Fish & chips <3 €5 ☺');
  assert.deepEqual(item.attachments, []);
});

test('a reply: its thread is named by the first of its References, which keeps the last 50', () => {
  const refs = Array.from({ length: 60 }, (_, i) => `<m${i}@example.org>`);
  const source = crlf([
    'From: carl@example.net',
    'Subject: Re: Lunch on Friday?',
    'Message-ID: <reply@example.net>',
    'In-Reply-To: <m59@example.org> (Anna\'s message)',
    `References: ${refs.slice(0, 30).join(' ')}`,
    `\t${refs.slice(30).join('\r\n ')}`,
    'Content-Type: text/plain',
    '',
    'Yes!',
  ]);
  const item = build({ source, bodyStructure: { type: 'text/plain', size: 4 } });
  assert.equal(item.inReplyTo, '<m59@example.org>');
  assert.deepEqual(item.references, refs.slice(10));
  assert.equal(item.threadId, sha22('<m0@example.org>'));
  const inReplyOnly = build({ source: crlf(['Subject: Re: x', 'In-Reply-To: <m0@example.org>', '', 'y']), bodyStructure: { type: 'text/plain' } });
  assert.equal(inReplyOnly.threadId, item.threadId, 'a reply naming only its parent joins the same thread');
});

test('the Date field is read alike on every server, or not at all', () => {
  assert.equal(rfc5322Date('Fri, 4 Dec 2026 11:02:33 +0100'), '2026-12-04T10:02:33Z');
  assert.equal(rfc5322Date('4 Dec 2026 11:02:33'), '2026-12-04T11:02:33Z', 'no zone: UTC, never the server\'s local time');
  assert.equal(rfc5322Date('Thu, 01 Jan 1998 23:59:60 -0330 (Newfoundland)'), '1998-01-02T03:29:59Z');
  assert.equal(rfc5322Date('31 Feb 2026 10:00 +0000'), null);
  assert.equal(rfc5322Date('yesterday'), null);
});

test('a cut multipart: the text part cut short, or not reached at all, is marked incomplete; attachments still come from the structure', () => {
  const text = 'Line of the message body.\r\n'.repeat(200);
  const source = crlf([
    'From: a@example.org',
    'Subject: Photos',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: image/jpeg; name="first.jpg"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.alloc(3000, 1).toString('base64'),
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    text,
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'From: b@example.org',
    'Subject: forwarded',
    '',
    'inner text',
    '--b1--',
  ]);
  const bodyStructure: BodyStructure = {
    type: 'multipart/mixed',
    parameters: { boundary: 'b1' },
    childNodes: [
      { part: '1', type: 'image/jpeg', parameters: { name: 'first.jpg' }, encoding: 'base64', size: 4000 },
      { part: '2', type: 'text/plain', parameters: { charset: 'utf-8' }, size: text.length },
      { part: '3', type: 'message/rfc822', size: 52, childNodes: [{ part: '3', type: 'text/plain', size: 10 }] },
    ],
  };
  const attachments = [
    { part: '1', name: 'first.jpg', type: 'image/jpeg', size: 4000, inline: false, contentId: null },
    { part: '3', name: null, type: 'message/rfc822', size: 52, inline: false, contentId: null },
  ];
  const whole = build({ source, bodyStructure });
  assert.deepEqual([whole.body?.part, whole.body?.complete, whole.body?.text], ['2', true, text.replace(/\r\n/g, '\n')]);
  assert.deepEqual(whole.attachments, attachments, 'an attached message is one attachment; its text is not the body');
  const inside = build({ source: source.subarray(0, source.indexOf('--b1\r\nContent-Type: message')  - 2000), bodyStructure, size: source.length });
  assert.equal(inside.body?.complete, false);
  assert.ok(inside.body !== null && inside.body.text.length > 1000 && text.replace(/\r\n/g, '\n').startsWith(inside.body.text));
  const before = build({ source: source.subarray(0, 2000), bodyStructure, size: source.length });
  assert.deepEqual([before.body?.text, before.body?.complete, before.preview], ['', false, '']);
  assert.deepEqual(before.attachments, attachments);
});

test('a message that is only an attachment has no body, and lists itself as section 1', () => {
  const source = crlf(['From: scanner@example.org', 'Subject: Scan', 'Content-Type: application/pdf', 'Content-Disposition: attachment; filename=scan.pdf', 'Content-Transfer-Encoding: base64', '', 'JVBERi0xLjQK', '']);
  const item = build({ source, bodyStructure: { type: 'application/pdf', disposition: 'attachment', dispositionParameters: { filename: 'scan.pdf' }, encoding: 'base64', size: 14 } });
  assert.equal(item.body, null);
  assert.equal(item.preview, '');
  assert.deepEqual(item.attachments, [{ part: '1', name: 'scan.pdf', type: 'application/pdf', size: 14, inline: false, contentId: null }]);
});

test('a long plain body gives the same first portion however it is encoded, whether its start fills the portion or not', () => {
  const expected = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    let cut = limits.mailBodyBytesMax;
    while (((bytes[cut] as number) & 0xc0) === 0x80) cut--;
    return bytes.subarray(0, cut).toString('utf8');
  };
  // Quoted-printable: bytes outside printable ASCII escaped, lines kept under 76 by soft breaks between escapes.
  const qp = (text: string) =>
    text
      .split('\n')
      .map((line) => {
        const tokens = [...Buffer.from(line, 'utf8')].map((b) => (b >= 0x20 && b <= 0x7e && b !== 0x3d ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`));
        const out: string[] = [];
        let current = '';
        for (const t of tokens) {
          if (current.length + t.length > 72) {
            out.push(current);
            current = '';
          }
          current += t;
        }
        out.push(current);
        return out.join('=\r\n');
      })
      .join('\r\n');
  const texts = {
    ascii: 'The quarterly figures are in; the team would like your thoughts.\n'.repeat(400),
    // Mostly escapes: its start decodes to less than the portion, so the whole part is decoded.
    accented: 'Grüße, Ärger, Öl und Übermut; €€€ ëëë ñññ.\n'.repeat(400),
  };
  for (const [name, text] of Object.entries(texts)) {
    for (const encoding of ['quoted-printable', 'base64', '8bit']) {
      const body = encoding === 'quoted-printable' ? qp(text) : encoding === 'base64' ? Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n') : Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8').toString('latin1');
      const source = crlf(['From: a@example.org', 'Subject: Long', 'Content-Type: text/plain; charset=utf-8', `Content-Transfer-Encoding: ${encoding}`, '', body, '']);
      const item = build({ source, bodyStructure: { type: 'text/plain', parameters: { charset: 'utf-8' }, encoding, size: body.length } });
      assert.equal(item.body?.text, expected(text), `${name}, ${encoding}`);
      assert.equal(item.body?.complete, false, `${name}, ${encoding}`);
    }
  }
});

test('an invitation (iMIP): its text/calendar part is kept whole with its METHOD; cut, too large, without a METHOD or unreadable, it is not', () => {
  const o = { uid: 'meet-1@example.org', organizer: { name: 'Olga', address: 'olga@example.org' }, attendees: [{ name: 'Ann', address: 'ann@example.net' }], summary: 'Planning', messageId: '<inv1@example.org>' };
  const source = Buffer.from(invitationMessage(o), 'utf8');
  const ics = invitationIcs(o);
  const encoded = Buffer.from(ics).toString('base64').match(/.{1,76}/g)?.join('\r\n').length ?? 0;
  const structure = (type = 'text/calendar', size = encoded): BodyStructure => ({
    type: 'multipart/alternative',
    parameters: { boundary: 'inv-b1' },
    childNodes: [
      { part: '1', type: 'text/plain', parameters: { charset: 'utf-8' }, size: 30 },
      { part: '2', type: 'text/html', parameters: { charset: 'utf-8' }, size: 40 },
      { part: '3', type, parameters: { charset: 'utf-8', method: 'REQUEST' }, encoding: 'base64', size },
    ],
  });
  const item = build({ source, bodyStructure: structure() });
  assert.deepEqual(item.invitation, { method: 'REQUEST', part: '3', text: ics });
  assert.equal(item.body?.part, '1', 'the text is still the body');
  assert.deepEqual(item.attachments.map((a) => [a.part, a.type]), [['3', 'text/calendar']], 'and the calendar part still an attachment');

  const cut = build({ source: source.subarray(0, source.length - 200), bodyStructure: structure(), size: source.length });
  assert.equal(cut.invitation, undefined, 'a part the source does not hold whole is no invitation');
  // Unless the IMAP connector fetched it apart: in its transfer encoding, or decoded (FETCH BINARY).
  const encodedPart = Buffer.from(Buffer.from(ics).toString('base64').match(/.{1,76}/g)?.join('\r\n') ?? '', 'latin1');
  for (const invitationPart of [{ bytes: encodedPart, decoded: false }, { bytes: Buffer.from(ics), decoded: true }]) {
    const apart = build({ source: source.subarray(0, 400), bodyStructure: structure(), size: source.length, invitationPart });
    assert.deepEqual(apart.invitation, { method: 'REQUEST', part: '3', text: ics }, `fetched apart, decoded: ${invitationPart.decoded}`);
  }
  assert.equal(build({ source, bodyStructure: structure('text/calendar', limits.mailInvitationBytesMax * 2) }).invitation, undefined, 'a part too large is not read');
  assert.equal(build({ source, bodyStructure: structure('application/octet-stream') }).invitation, undefined);
  const plainJson = mailItemOf({ source, bodyStructure: structure('application/octet-stream'), flags: [], size: source.length, internalDate: received });
  assert.ok(!plainJson.includes('"invitation"'), 'a message without one has no invitation field at all');

  for (const [what, text] of [
    ['without a METHOD', ics.replace('METHOD:REQUEST\r\n', '')],
    ['without a VEVENT', ics.replace(/BEGIN:VEVENT[\s\S]*END:VEVENT\r\n/, '')],
    ['not iCalendar', 'Hello, this is not a calendar.\r\n'],
  ] as const) {
    const other = Buffer.from(source.toString('utf8').replace(Buffer.from(ics).toString('base64').match(/.{1,76}/g)?.join('\r\n') ?? '', Buffer.from(text).toString('base64')), 'utf8');
    assert.equal(build({ source: other, bodyStructure: structure('text/calendar', 100) }).invitation, undefined, what);
  }
});
