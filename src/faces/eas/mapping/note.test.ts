import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapperHarness, throwsClearly } from './mapper-harness.js';
import fc from 'fast-check';
import { checkItem } from '../../../kinds/registry.js';
import { namespace, text, type WbxmlElement, type WbxmlNode } from '../wbxml/element.js';
import type { FromEasContext, ToEasOptions } from './item-mapper.js';
import { noteMapper } from './note.js';

const as = namespace('AirSync');
const asb = namespace('AirSyncBase');
const n = namespace('Notes');

const options: ToEasOptions = { version: '14.1' };
const now = Date.UTC(2024, 0, 2, 3, 4, 5);
const context: FromEasContext = { version: '14.1', newUid: () => 'note-uid-from-server', now };
const ad = (...children: WbxmlElement[]) => as('ApplicationData', ...children);
const ics = (...lines: string[]) => [...lines, ''].join('\r\n');

/** ApplicationData children as name → text (Body: its Data; Categories: items joined by |). */
function fields(elements: WbxmlElement[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of elements) {
    assert.equal(out[e.name], undefined, `${e.name} sent twice`);
    const kids = e.children.filter((k): k is WbxmlElement => typeof k === 'object' && !(k instanceof Uint8Array));
    if (e.name === 'Body') out[e.name] = text(kids.find((k) => k.name === 'Data')) ?? '';
    else if (e.name === 'Categories') out[e.name] = kids.map((k) => text(k)).join('|');
    else out[e.name] = text(e);
    assert.equal(e.ns, e.name === 'Body' ? 'AirSyncBase' : 'Notes');
  }
  return out;
}

function element(name: string, value: string): WbxmlElement {
  if (name === 'Body') return asb('Body', asb('Type', '1'), asb('Data', value));
  if (name === 'Categories') return n('Categories', ...value.split('|').map((v) => n('Category', v)));
  return n(name, value);
}

function valid(data: string): string {
  const check = checkItem('notes', data);
  assert.ok(check.ok, check.ok ? '' : check.message);
  return data;
}

const toEas = (data: string) => fields(noteMapper.toEas(data, options));
const fromEas = (children: WbxmlElement[], existing?: string, at = now) => valid(noteMapper.fromEas(ad(...children), existing, { ...context, now: at }));
const send = (f: Record<string, string>) => Object.entries(f).map(([k, v]) => element(k, v));
const unfolded = (data: string) => data.replace(/\r\n[ \t]/g, '').split('\r\n');

const rich = ics(
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Example Corp//Notes 1.0//EN',
  'X-WR-CALNAME:Notes',
  'BEGIN:VJOURNAL',
  'UID:journal-1@example.com',
  'DTSTAMP:20230101T100000Z',
  'CREATED:20230101T090000Z',
  'LAST-MODIFIED:20230105T120000Z',
  'SUMMARY;LANGUAGE=en:Groceries\\, weekly',
  'DESCRIPTION:Milk\\nEggs\\; large\\nBread',
  'DESCRIPTION:A second description ActiveSync cannot carry',
  'CATEGORIES:Home,Shopping',
  'CATEGORIES:Errands',
  'CLASS:PRIVATE',
  'STATUS:FINAL',
  'ORGANIZER;CN=Alice:mailto:alice@example.com',
  'ATTACH;FMTTYPE=text/plain:https://example.com/list.txt',
  'X-APPLE-COLOR:#FF0000',
  'X-CUSTOM;X-P="a;b":keep\\, me',
  'END:VJOURNAL',
  'END:VCALENDAR',
);

const UNCARRIED = [
  'VERSION:2.0', 'PRODID:-//Example Corp//Notes 1.0//EN', 'X-WR-CALNAME:Notes', 'UID:journal-1@example.com', 'CREATED:20230101T090000Z',
  'DESCRIPTION:A second description ActiveSync cannot carry', 'CLASS:PRIVATE', 'STATUS:FINAL', 'ORGANIZER;CN=Alice:mailto:alice@example.com',
  'ATTACH;FMTTYPE=text/plain:https://example.com/list.txt', 'X-APPLE-COLOR:#FF0000', 'X-CUSTOM;X-P="a;b":keep\\, me',
];

test('every field: client → hub → client gives the same value', () => {
  const values: Record<string, string> = { Subject: 'Ideas; more, later', Body: 'One\r\nTwo\\three', Categories: 'A|B, c|D' };
  for (const [name, value] of Object.entries(values)) {
    const seen = toEas(fromEas([element(name, value)]));
    assert.equal(seen[name], value, name);
  }
  const seen = toEas(fromEas(send(values)));
  assert.deepEqual(seen, { ...values, MessageClass: 'IPM.StickyNote', LastModifiedDate: '20240102T030405Z' });
});

test('a new note is a VCALENDAR with a VJOURNAL holding UID, CREATED, DTSTAMP and LAST-MODIFIED, and no DTSTART', () => {
  const stored = fromEas([n('Subject', 'S'), asb('Body', asb('Type', '1'), asb('Data', 'B')), n('MessageClass', 'IPM.StickyNote')]);
  assert.equal(
    stored,
    ics(
      'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Syncpoint//ActiveSync//EN', 'BEGIN:VJOURNAL', 'UID:note-uid-from-server',
      'CREATED:20240102T030405Z', 'DTSTAMP:20240102T030405Z', 'LAST-MODIFIED:20240102T030405Z', 'SUMMARY:S', 'DESCRIPTION:B',
      'END:VJOURNAL', 'END:VCALENDAR',
    ),
  );
});

test('a rich note → client → hub keeps every line but the two stamps, which take the time of the write', () => {
  const seen = toEas(rich);
  assert.deepEqual(seen, {
    Subject: 'Groceries, weekly', Body: 'Milk\r\nEggs; large\r\nBread', MessageClass: 'IPM.StickyNote', LastModifiedDate: '20230105T120000Z',
    Categories: 'Home|Shopping|Errands',
  });
  const stored = fromEas(send(seen), rich);
  assert.equal(stored, rich.replace('DTSTAMP:20230101T100000Z', 'DTSTAMP:20240102T030405Z').replace('LAST-MODIFIED:20230105T120000Z', 'LAST-MODIFIED:20240102T030405Z'));
});

test('LastModifiedDate from the client is ignored: the write sets it', () => {
  const stored = fromEas([n('Subject', 'x'), n('LastModifiedDate', '19990101T000000Z')], rich);
  assert.equal(toEas(stored)['LastModifiedDate'], '20240102T030405Z');
  assert.equal(toEas(fromEas([n('LastModifiedDate', 'garbage')]))['LastModifiedDate'], '20240102T030405Z');
});

test('LastModifiedDate comes from LAST-MODIFIED, else DTSTAMP, else is left out', () => {
  const note = (...props: string[]) => ics('BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x', 'BEGIN:VJOURNAL', 'UID:u', ...props, 'END:VJOURNAL', 'END:VCALENDAR');
  assert.equal(toEas(note('DTSTAMP:20200101T000000Z'))['LastModifiedDate'], '20200101T000000Z');
  assert.deepEqual(toEas(note()), { MessageClass: 'IPM.StickyNote' });
});

test('a field the client leaves out is removed, and nothing else changes', () => {
  const seen = toEas(rich);
  for (const name of ['Subject', 'Body', 'Categories']) {
    const { [name]: dropped, ...rest } = seen;
    const stored = fromEas(send(rest), rich);
    const after = toEas(stored);
    assert.notEqual(after[name], dropped, name);
    if (name !== 'Body') assert.equal(after[name], undefined, name);
    for (const other of ['Subject', 'Body', 'Categories']) if (other !== name) assert.equal(after[other], seen[other]);
    const lines = unfolded(stored);
    for (const line of UNCARRIED) assert.ok(lines.includes(line), `${line} lost when ${name} was left out`);
  }
  // The second DESCRIPTION (which the client never saw) becomes the body once the first is gone.
  const { Body: _body, ...rest } = seen;
  assert.equal(toEas(fromEas(send(rest), rich))['Body'], 'A second description ActiveSync cannot carry');
});

test('a changed value is rewritten in place with its parameters', () => {
  const stored = fromEas(send({ ...toEas(rich), Subject: 'New subject', Categories: 'Only' }), rich);
  const lines = unfolded(stored);
  assert.equal(lines.indexOf('SUMMARY;LANGUAGE=en:New subject'), unfolded(rich).indexOf('SUMMARY;LANGUAGE=en:Groceries\\, weekly'));
  assert.deepEqual(lines.filter((l) => l.startsWith('CATEGORIES')), ['CATEGORIES:Only']);
});

test('a recurring journal: the master is edited, its overrides and time zones are kept', () => {
  const series = ics(
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x',
    'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin', 'BEGIN:STANDARD', 'DTSTART:19701025T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100',
    'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'END:STANDARD', 'END:VTIMEZONE',
    'BEGIN:VJOURNAL', 'UID:r', 'RECURRENCE-ID;TZID=Europe/Berlin:20240108T090000', 'DTSTART;TZID=Europe/Berlin:20240108T090000', 'SUMMARY:Override', 'END:VJOURNAL',
    'BEGIN:VJOURNAL', 'UID:r', 'DTSTAMP:20240101T000000Z', 'DTSTART;TZID=Europe/Berlin:20240101T090000', 'RRULE:FREQ=WEEKLY;COUNT=4', 'SUMMARY:Weekly', 'END:VJOURNAL',
    'END:VCALENDAR',
  );
  assert.equal(toEas(series)['Subject'], 'Weekly');
  const stored = fromEas([n('Subject', 'Weekly notes')], series);
  assert.equal(
    stored,
    series
      .replace('DTSTAMP:20240101T000000Z', 'DTSTAMP:20240102T030405Z')
      .replace('SUMMARY:Weekly\r\n', 'SUMMARY:Weekly notes\r\nLAST-MODIFIED:20240102T030405Z\r\n'),
  );
});

test('a note made only of overrides: the first one is edited', () => {
  const overrides = ics(
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x',
    'BEGIN:VJOURNAL', 'UID:o', 'RECURRENCE-ID:20240108T090000Z', 'SUMMARY:First', 'END:VJOURNAL',
    'BEGIN:VJOURNAL', 'UID:o', 'RECURRENCE-ID:20240115T090000Z', 'SUMMARY:Second', 'END:VJOURNAL',
    'END:VCALENDAR',
  );
  assert.equal(toEas(overrides)['Subject'], 'First');
  assert.ok(fromEas([n('Subject', 'Edited')], overrides).includes('SUMMARY:Edited\r\nDTSTAMP:20240102T030405Z\r\nLAST-MODIFIED:20240102T030405Z\r\nEND:VJOURNAL\r\nBEGIN:VJOURNAL\r\nUID:o\r\nRECURRENCE-ID:20240115T090000Z\r\nSUMMARY:Second'));
});

test('body: truncation and an HTML body from the client', () => {
  const body = noteMapper.toEas(rich, { version: '14.1', bodyPreference: { type: 1, truncationSize: 4 } }).find((e) => e.name === 'Body');
  assert.deepEqual((body?.children as WbxmlElement[]).map((k) => [k.name, text(k)]), [['Type', '1'], ['EstimatedDataSize', '24'], ['Truncated', '1'], ['Data', 'Milk']]);
  const stored = fromEas([asb('Body', asb('Type', '2'), asb('Data', '<p>Hello <i>you</i></p><p>&lt;3</p>'))]);
  assert.equal(toEas(stored)['Body'], 'Hello you\r\n<3');
});

test('malformed client data gives a valid note or a clear Error', () => {
  assert.deepEqual(Object.keys(toEas(fromEas([]))).sort(), ['LastModifiedDate', 'MessageClass']);
  assert.deepEqual(toEas(fromEas([n('Subject'), n('Subject', n('Nested', 'x')), n('Categories', 'no items'), asb('Body'), n('Subject', 'second')])), {
    MessageClass: 'IPM.StickyNote', LastModifiedDate: '20240102T030405Z',
  });
  assert.equal(toEas(fromEas([n('Subject', 'a\u0000b\u001fc\uffff')]))['Subject'], 'abc');
  throwsClearly(() => noteMapper.fromEas(ad(n('Subject', 'x'.repeat(2 * 1024 * 1024))), undefined, context), /not acceptable: item is \d+ bytes/);
  throwsClearly(() => noteMapper.fromEas(ad(asb('Body', asb('Type', '4'), asb('Data', 'x'))), undefined, context), /MIME/);
});

test('malformed existing items are refused with a clear Error', () => {
  const event = ics('BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x', 'BEGIN:VEVENT', 'UID:e', 'DTSTART:20240101T000000Z', 'END:VEVENT', 'END:VCALENDAR');
  throwsClearly(() => noteMapper.fromEas(ad(), event, context), /no VJOURNAL component/);
  throwsClearly(() => noteMapper.toEas(event, options), /no VJOURNAL component/);
  throwsClearly(() => noteMapper.fromEas(ad(), 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n', context), /not a single VCALENDAR/);
  throwsClearly(() => noteMapper.toEas('BEGIN:VCALENDAR\r\n', options), /not a readable iCalendar/);
});

test('fuzz: any ApplicationData gives a valid note or a plain Error', () => {
  const leaf: fc.Arbitrary<WbxmlNode> = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('1', '2', '<b>x</b>'), fc.uint8Array({ maxLength: 8 }));
  const node: fc.Arbitrary<WbxmlElement> = fc.letrec<{ e: WbxmlElement }>((tie) => ({
    e: fc.record({
      ns: fc.constantFrom('Notes', 'AirSyncBase'),
      name: fc.constantFrom('Subject', 'Body', 'Type', 'Data', 'Categories', 'Category', 'MessageClass', 'LastModifiedDate'),
      children: fc.array(fc.oneof({ depthSize: 'small' }, leaf, tie('e')), { maxLength: 3 }),
    }),
  })).e;
  fc.assert(
    fc.property(fc.array(node, { maxLength: 6 }), fc.constantFrom(undefined, rich), (kids, existing) => {
      let out: string;
      try {
        out = noteMapper.fromEas(ad(...kids), existing, context);
      } catch (err) {
        assert.equal((err as Error).constructor, Error, String(err));
        return;
      }
      assert.ok(checkItem('notes', out).ok);
      noteMapper.toEas(out, options);
    }),
    { numRuns: 300 },
  );
});

test('an RTF body the server cannot read is kept as sent in X-SYNCPOINT-EAS-RTF, beside the DESCRIPTION, and sent back to clients that ask for RTF (issue 13 D5)', () => {
  mapperHarness(noteMapper, 'notes', { uid: 'note-uid-from-server', now }).keptRtf([n('Subject', 'Rich')]);
});
