import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { newSecretKey, openSecret, sealedKeyId, sealSecret, secretKey } from './sealed-secrets.js';

const binding = ['account-1', 'upstream-1'];

test('a sealed secret opens with its key and binding, and holds neither the secret nor the key', () => {
  const key = newSecretKey();
  const sealed = sealSecret(key, 'pässword 🔑', binding);
  assert.equal(openSecret([key], sealed, binding), 'pässword 🔑');
  assert.equal(sealedKeyId(sealed), key.id);
  assert.ok(!sealed.includes('pässword') && !sealed.includes(Buffer.from('pässword 🔑').toString('base64url').slice(0, 8)));
  assert.ok(!sealed.includes(key.key.toString('base64url')));
  // A fresh nonce each time: the same secret seals differently.
  assert.notEqual(sealSecret(key, 'pässword 🔑', binding), sealed);
});

test('it does not open under another binding (a row copied to another account), another key, or changed', () => {
  const key = newSecretKey();
  const sealed = sealSecret(key, 'secret', binding);
  assert.throws(() => openSecret([key], sealed, ['account-2', 'upstream-1']), /copied from another row/);
  assert.throws(() => openSecret([key], sealed, ['account-1', 'upstream-2']), /copied from another row/);
  assert.throws(() => openSecret([newSecretKey()], sealed, binding), /sealed with key/);
  // The same id with other key bytes cannot happen by chance; a forged id still fails the tag.
  assert.throws(() => openSecret([{ id: key.id, key: randomBytes(32) }], sealed, binding), /does not open/);
  const parts = sealed.split(':');
  const body = Buffer.from(parts[3] as string, 'base64url');
  body[0] = (body[0] as number) ^ 1;
  assert.throws(() => openSecret([key], [...parts.slice(0, 3), body.toString('base64url')].join(':'), binding), /does not open/);
  assert.throws(() => openSecret([key], 'secret', binding), /not in a form/);
});

test('a key id is a function of the key alone; keys are 32 bytes', () => {
  const bytes = randomBytes(32);
  assert.equal(secretKey(bytes).id, secretKey(Buffer.from(bytes)).id);
  assert.notEqual(secretKey(bytes).id, newSecretKey().id);
  assert.throws(() => secretKey(randomBytes(16)), /32 bytes/);
});
