import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etagOf } from '../../src/content/etag.js';
import { cardText, parseCard, type Card } from './cards.js';
import { checkAcknowledged, checkClientConvergence, type ServerRow } from './checks.js';
import { AckLedger } from './ledger.js';

/**
 * The checks of the fault run for clients that are not SDK devices (faults.ts): an ActiveSync phone is
 * never told the bytes the server stored, so its acknowledgements name a version by its label (the
 * card's NICKNAME), and it holds only the fields it carries. A check that cannot fail proves nothing.
 */
const card = (version: string, extra: Partial<Card> = {}): Card => ({ crashId: 'x', version, withUid: true, owner: 'e', ...extra });
/** A card as the server writes it from an ActiveSync Add: FN, NICKNAME and a UID of its own, no X-CRASH- lines. */
const fromPhone = (version: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:server-made\r\nFN:Crash x\r\nNICKNAME:${version}\r\nEND:VCARD\r\n`;
const holding = (data: string | null, { deleted = false, originDevice = 'phone' as string | null } = {}): Map<string, ServerRow> =>
  new Map(data === null ? [] : [['s1', { id: 's1', data: deleted ? null : data, etag: etagOf(data), deletedAt: deleted ? 1 : null, originDevice }]]);

test('a card the server wrote from a phone’s fields reads as the phone’s version, X-CRASH-ID and owner taken from FN and the id', () => {
  assert.deepEqual(parseCard(fromPhone('e.1')), { crashId: 'x', version: 'e.1', withUid: true, owner: 'x', uid: 'server-made' });
  const edited = cardText({ ...parseCard(fromPhone('e.1')), version: 'd1.1.4' });
  assert.match(edited, /^UID:server-made\r$/m, 'an edit keeps the UID the card has');
  assert.equal(parseCard(edited).version, 'd1.1.4');
});

test('an ActiveSync acknowledgement is checked by label: the same version in other bytes holds, an older one is a lost change', () => {
  const ledger = new AckLedger();
  let clock = 0;
  // An SDK device's version a.1 was committed (and seen) before the phone sent its change e.1.
  ledger.noteVersionSent(card('a.1'), etagOf(cardText(card('a.1'))), ++clock);
  ledger.noteVersionSeen(card('a.1'), etagOf(cardText(card('a.1'))), ++clock);
  ledger.noteVersionSent(card('e.1'), null, ++clock);
  // b.1 is sent while e.1 is on the wire: either may have committed last.
  ledger.noteVersionSent(card('b.1'), etagOf(cardText(card('b.1'))), ++clock);
  ledger.noteVersionSeen(card('e.1'), null, ++clock);
  const sentAt = ledger.labels.get('e.1')?.sentAt as number;
  ledger.noteAcknowledged({ deviceId: 'e1', serverId: 's1', sentAt, deleted: false, crashId: 'x', version: 'e.1', etag: null });
  ledger.noteVersionSeen(card('b.1'), etagOf(cardText(card('b.1'))), ++clock);
  const problems = (rows: Map<string, ServerRow>) => checkAcknowledged(ledger, rows).problems.join('\n');

  assert.equal(problems(holding(fromPhone('e.1'))), '', 'the bytes the server composed carry the acknowledged label');
  assert.equal(problems(holding(cardText(card('e.1')))), '', 'whatever bytes carry it');
  assert.equal(problems(holding(cardText(card('b.1')))), '', 'a concurrent version');
  assert.equal(problems(holding(fromPhone('e.0'), { deleted: true })), '', 'a delete comes last');
  assert.match(problems(holding(cardText(card('a.1')))), /version e\.1 is lost: the server holds a\.1, committed before/);
  assert.match(problems(holding(fromPhone('e.9'))), /which no device wrote/, 'a label nobody sent, in a row a device wrote');
  assert.equal(problems(holding(fromPhone('e.9'), { originDevice: null })), '', 'a merge the server made and nobody heard of');
  assert.match(problems(holding(cardText(card('e.1', { crashId: 'y' })))), /acknowledged version e\.1 of x, but the server holds y/);
  assert.match(problems(holding(null)), /no such item/);
  assert.equal(ledger.changesAcknowledgedBy.get('e1'), 1);
});

test('a phone or a DAV client converges only on exactly the live items, as its kind shows them, with nothing left to send', () => {
  const rows = new Map<string, ServerRow>([
    ['s1', { id: 's1', data: fromPhone('e.2'), etag: '', deletedAt: null, originDevice: 'p' }],
    ['s2', { id: 's2', data: cardText(card('d.1', { crashId: 'z' })), etag: '', deletedAt: null, originDevice: 'p' }],
    ['s3', { id: 's3', data: null, etag: '', deletedAt: 1, originDevice: 'p' }],
  ]);
  const phone = (held: Array<[string, string]>, unsent = 0) => checkClientConvergence(rows, [{ who: 'phone', held: new Map(held), view: (d) => `${parseCard(d).crashId} ${parseCard(d).version}`, unsent }]);
  assert.deepEqual(phone([['s1', 'x e.2'], ['s2', 'z d.1']]), []);
  assert.match(phone([['s1', 'x e.1'], ['s2', 'z d.1']]).join('\n'), /phone holds s1 as x version e\.1, the server as x version e\.2/);
  assert.match(phone([['s1', 'x e.2']]).join('\n'), /phone lacks the server's live item s2/);
  assert.match(phone([['s1', 'x e.2'], ['s2', 'z d.1'], ['s3', 'w d.7']]).join('\n'), /phone holds s3 .*which the server does not have live/);
  assert.match(phone([['s1', 'x e.2'], ['s2', 'z d.1']], 2).join('\n'), /phone still has 2 edits to send/);
  assert.match(phone([['s1', 'x e.2'], ['s2', 'x e.2']]).join('\n'), /phone holds 2 copies of x/);
  const dav = (held: Array<[string, string]>) => checkClientConvergence(rows, [{ who: 'dav', held: new Map(held), view: (d) => d, unsent: 0 }]);
  assert.deepEqual(dav([['s1', fromPhone('e.2')], ['s2', cardText(card('d.1', { crashId: 'z' }))]]), []);
  assert.match(dav([['s1', cardText(card('e.2'))], ['s2', cardText(card('d.1', { crashId: 'z' }))]]).join('\n'), /dav holds s1 as x version e\.2, the server as x version e\.2/, 'byte for byte');
});
