import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { XmlElement } from '../../protocol/xml.js';
import { compileTextMatch, FilterError } from './text-match.js';

const el = (text: string, attrs: Record<string, string> = {}): XmlElement => ({ ns: 'urn:ietf:params:xml:ns:carddav', name: 'text-match', attrs, children: [], text });
const matches = (text: string, attrs: Record<string, string>, value: string, collation = 'i;unicode-casemap') => {
  const tm = compileTextMatch(el(text, attrs), 'urn:ietf:params:xml:ns:carddav', collation);
  return tm.matches(value) !== tm.negate;
};

test('match-types: equals, contains (the default), starts-with, ends-with', () => {
  assert.equal(matches('anna', { 'match-type': 'equals' }, 'Anna'), true);
  assert.equal(matches('anna', { 'match-type': 'equals' }, 'Annabel'), false);
  assert.equal(matches('nab', {}, 'Annabel'), true);
  assert.equal(matches('ann', { 'match-type': 'starts-with' }, 'Annabel'), true);
  assert.equal(matches('bel', { 'match-type': 'starts-with' }, 'Annabel'), false);
  assert.equal(matches('BEL', { 'match-type': 'ends-with' }, 'Annabel'), true);
  assert.equal(matches('ann', { 'match-type': 'ends-with' }, 'Annabel'), false);
});

test('collations: i;octet exact, i;ascii-casemap folds A-Z only, i;unicode-casemap folds after NFKD', () => {
  assert.equal(matches('anna', { collation: 'i;octet' }, 'Anna'), false);
  assert.equal(matches('Anna', { collation: 'i;octet' }, 'Anna'), true);
  assert.equal(matches('anna', { collation: 'i;ascii-casemap' }, 'ANNA'), true);
  assert.equal(matches('müller', { collation: 'i;ascii-casemap' }, 'MÜLLER'), false);
  assert.equal(matches('müller', {}, 'MÜLLER'), true);
  assert.equal(matches('strasse', {}, 'Straße'), true);
  // A composed é and an e with a combining acute meet after decomposition.
  assert.equal(matches('caf\u00e9', { 'match-type': 'equals' }, 'CAFE\u0301'), true);
  // The protocol's default applies without a collation attribute.
  assert.equal(matches('müller', {}, 'MÜLLER', 'i;ascii-casemap'), false);
});

test('negate-condition inverts; the text is trimmed as XML bodies are indented', () => {
  const tm = compileTextMatch(el('  ann\n', { 'negate-condition': 'yes' }), 'urn:ietf:params:xml:ns:carddav', 'i;ascii-casemap');
  assert.equal(tm.negate, true);
  assert.equal(tm.matches('Annabel'), true);
});

test('an unknown collation is refused with supported-collation, an unknown match-type or a long text with supported-filter', () => {
  const refused = (attrs: Record<string, string>, text = 'x') => {
    try {
      compileTextMatch(el(text, attrs), 'urn:ietf:params:xml:ns:caldav', 'i;ascii-casemap');
    } catch (err) {
      assert.ok(err instanceof FilterError);
      assert.equal(err.namespace, 'urn:ietf:params:xml:ns:caldav');
      return err.condition;
    }
    return undefined;
  };
  assert.equal(refused({ collation: 'i;basic' }), 'supported-collation');
  assert.equal(refused({ 'match-type': 'regex' }), 'supported-filter');
  assert.equal(refused({}, 'x'.repeat(257)), 'supported-filter');
  assert.equal(refused({}), undefined);
});
