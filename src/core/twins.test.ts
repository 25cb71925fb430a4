import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveByPriority } from './conflict.js';
import { areTwins, normalizeEmail, normalizeName, normalizePhone } from './twins.js';

test('names compare without case, accents, punctuation or extra spaces', () => {
  assert.equal(normalizeName('  José  Álvarez-Pérez '), 'jose alvarez perez');
  assert.equal(normalizeName('JOSE ALVAREZ PEREZ'), 'jose alvarez perez');
  assert.equal(normalizeName('---'), null);
});

test('emails compare case-insensitively; phones on their last nine digits', () => {
  assert.equal(normalizeEmail('mailto:Ann@Example.ORG'), 'email:ann@example.org');
  assert.equal(normalizeEmail('not an address'), null);
  assert.equal(normalizePhone('+44 20 7946 0958'), normalizePhone('020 7946 0958'));
  assert.notEqual(normalizePhone('+44 20 7946 0958'), normalizePhone('+44 20 7946 0959'));
  assert.equal(normalizePhone('12'), null, 'too short to identify anyone');
});

test('twins: the same UID, or for contacts the same name plus a shared email or phone', () => {
  const ann = { uid: null, name: 'ann smith', contactKeys: ['email:ann@example.org', 'tel:079460958'] };
  assert.ok(areTwins({ uid: 'x', name: null, contactKeys: [] }, { uid: 'x', name: 'other', contactKeys: [] }));
  assert.ok(areTwins({ uid: null, name: 'ann smith', contactKeys: ['tel:079460958'] }, ann));
  assert.ok(!areTwins({ uid: null, name: 'ann smith', contactKeys: ['email:ann@work.example'] }, ann), 'same name, nothing shared');
  assert.ok(!areTwins({ uid: null, name: 'ann smyth', contactKeys: ['email:ann@example.org'] }, ann), 'shared email, another name');
  assert.ok(!areTwins({ uid: 'a', name: null, contactKeys: [] }, { uid: 'b', name: null, contactKeys: [] }));
});

test('priority: the lower number wins; an unknown writer ranks last; a tie goes to the incoming change', () => {
  assert.equal(resolveByPriority({ deviceId: 'a', priority: 0 }, { deviceId: 'b', priority: 1 }), 'incoming');
  assert.equal(resolveByPriority({ deviceId: 'b', priority: 1 }, { deviceId: 'a', priority: 0 }), 'truth');
  assert.equal(resolveByPriority({ deviceId: 'b', priority: 5 }, { deviceId: null, priority: undefined }), 'incoming');
  assert.equal(resolveByPriority({ deviceId: 'a', priority: 2 }, { deviceId: 'a', priority: 2 }), 'incoming');
});
