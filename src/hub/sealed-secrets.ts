import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';

/**
 * Secrets the hub must give back, not only check (an upstream server's password), sealed at rest with
 * AES-256-GCM under the server's secret key, which lives in a file apart from the database
 * (docs/operations.md § Upstream servers). Stored form:
 *   v1:<key id>:<nonce base64url>:<ciphertext and tag base64url>
 * The key id names the key that sealed it (a hash of the key, which says nothing of the key), so a
 * rotation can tell which secrets it has re-sealed. The additional data binds the ciphertext to its row
 * (`boundTo`: the account and the upstream): copied into another account's row, it does not open.
 */

export const secretKeyBytes = 32;
const nonceBytes = 12;
const tagBytes = 16;

export interface SecretKey {
  id: string;
  key: Buffer;
}

/** The key of 32 bytes, with its id. */
export function secretKey(key: Buffer): SecretKey {
  if (key.length !== secretKeyBytes) throw new Error(`a secret key is ${secretKeyBytes} bytes, not ${key.length}`);
  return { id: createHash('sha256').update('syncpoint secret key id\0').update(key).digest('base64url').slice(0, 11), key };
}

export const newSecretKey = (): SecretKey => secretKey(randomBytes(secretKeyBytes));

/** What a sealed secret belongs to: any change of it makes the secret unreadable. */
export type SealBinding = readonly string[];

const additionalData = (boundTo: SealBinding) => Buffer.from(['syncpoint sealed secret', ...boundTo].join('\0'), 'utf8');

export function sealSecret(key: SecretKey, plaintext: string, boundTo: SealBinding): string {
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce);
  cipher.setAAD(additionalData(boundTo));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return ['v1', key.id, nonce.toString('base64url'), sealed.toString('base64url')].join(':');
}

/** The id of the key that sealed it. */
export function sealedKeyId(sealed: string): string | undefined {
  const parts = sealed.split(':');
  return parts.length === 4 && parts[0] === 'v1' ? parts[1] : undefined;
}

/**
 * Opens a sealed secret with whichever of `keys` sealed it. Throws a `serverError` that names the key id
 * when none of them did, or when it does not open (another key of the same id is impossible; a changed
 * row or binding is not).
 */
export function openSecret(keys: readonly SecretKey[], sealed: string, boundTo: SealBinding): string {
  const parts = sealed.split(':');
  const key = keys.find((k) => k.id === parts[1]);
  if (parts.length !== 4 || parts[0] !== 'v1') throw new ProtocolError('serverError', 'a stored secret is not in a form this server reads');
  if (!key) throw new ProtocolError('serverError', `a stored secret was sealed with key ${parts[1]}, and the server's secret key is ${keys.map((k) => k.id).join(', ') || 'not set'} (docs/operations.md § Upstream servers)`);
  const nonce = Buffer.from(parts[2] as string, 'base64url');
  const body = Buffer.from(parts[3] as string, 'base64url');
  if (nonce.length !== nonceBytes || body.length < tagBytes) throw new ProtocolError('serverError', 'a stored secret is damaged');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce);
    decipher.setAAD(additionalData(boundTo));
    decipher.setAuthTag(body.subarray(body.length - tagBytes));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - tagBytes)), decipher.final()]).toString('utf8');
  } catch {
    throw new ProtocolError('serverError', 'a stored secret does not open: it was changed, or copied from another row');
  }
}
